"""The package keeps its layers (DESIGN.md): import-linter's contracts in pyproject.toml must hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports() -> list[str]:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.fail("lint-imports is not installed: `pip install -e .[test]` installs import-linter")
    return [exe]


def test_lint_imports_contracts_are_kept() -> None:
    proc = subprocess.run([*_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


def test_a_layer_breach_is_reported_with_the_import(tmp_path: Path) -> None:
    """The contract really bites: a copy of the package where the records import the simulator fails, naming it."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "mailhops", copy / "mailhops", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    journey = copy / "mailhops" / "journey.py"
    journey.write_text(journey.read_text() + "\n\ndef _breach():\n    from .simulate import send\n\n    return send\n")
    proc = subprocess.run([*_lint_imports(), "--no-cache"], cwd=copy, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "mailhops.journey -> mailhops.simulate" in proc.stdout
