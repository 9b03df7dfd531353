"""Packaging: ``python -m build`` makes a wheel and an sdist, and the wheel works in a clean virtual environment.

The build runs without build isolation (setuptools and wheel are test extras), so it needs no download.
The clean environment gets the wheel with ``--no-deps --no-index``; the runtime dependencies come from
the test environment through a ``.pth`` line placed *after* the clean environment's own site-packages,
so ``mailhops`` itself can only be imported from the installed wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_JUNK_ANYWHERE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
_JUNK_AT_TOP = {".git", ".venv", "build", "dist", ".pytest_cache", ".ruff_cache", ".hypothesis", "artifacts"}


def _junk(folder: str, names: list[str]) -> set[str]:
    ignored = set(_JUNK_ANYWHERE(folder, names))
    if Path(folder) == REPO:
        ignored |= _JUNK_AT_TOP & set(names)
    if Path(folder) == REPO / "tests":
        ignored |= {"data"} & set(names)  # the real-message corpus stays out of any copy
    return ignored


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist and the wheel from a copy of the source tree (the working tree stays clean)."""
    src = tmp_path_factory.mktemp("src") / "mailhops"
    shutil.copytree(REPO, src, ignore=_junk)
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out), str(src)])
    return out


def _package_files() -> set[str]:
    """Every file of the mailhops package in the source tree (modules and package data)."""
    pkg = REPO / "mailhops"
    return {
        p.relative_to(REPO).as_posix()
        for p in pkg.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    }


def test_build_gives_one_wheel_and_one_sdist(dist: Path) -> None:
    assert len(list(dist.glob("mailhops-*.whl"))) == 1, sorted(p.name for p in dist.iterdir())
    assert len(list(dist.glob("mailhops-*.tar.gz"))) == 1, sorted(p.name for p in dist.iterdir())


def test_wheel_holds_every_module_and_the_command(dist: Path) -> None:
    wheel = next(dist.glob("mailhops-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        missing = _package_files() - names
        assert not missing, f"files of mailhops/ missing from the wheel: {sorted(missing)}"
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "mailhops = mailhops.cli:main" in zf.read(entry_points).decode()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Python: >=3.10" in metadata
    assert not any(n.startswith(("tests/", "notebooks/", "bench/")) for n in names), "the wheel ships non-package files"


def test_sdist_holds_the_sources_and_readme(dist: Path) -> None:
    sdist = next(dist.glob("mailhops-*.tar.gz"))
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"README.md", "pyproject.toml"} <= names
    missing = {f for f in _package_files() if f.endswith(".py")} - names
    assert not missing, f"modules missing from the sdist: {sorted(missing)}"


@pytest.fixture(scope="module")
def clean_env(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with only the wheel installed in it (dependencies reachable via .pth)."""
    env = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", str(env)])
    py = env / "bin" / "python"
    wheel = next(dist.glob("mailhops-*.whl"))
    _run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)])
    inner = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (inner / "zz_mailhops_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env


def test_installed_wheel_imports_from_the_clean_environment(clean_env: Path, tmp_path: Path) -> None:
    proc = _run([str(clean_env / "bin" / "python"), "-c", "import mailhops; print(mailhops.__file__)"], cwd=tmp_path)
    where = Path(proc.stdout.strip())
    assert clean_env in where.parents, f"mailhops was imported from {where}, not from the installed wheel"


def test_installed_command_prints_help(clean_env: Path, tmp_path: Path) -> None:
    proc = _run([str(clean_env / "bin" / "mailhops"), "--help"], cwd=tmp_path)
    assert proc.stdout.startswith("usage: mailhops")
    for command in ("scenarios", "send", "export", "analyze", "serve"):
        assert command in proc.stdout
    proc = _run([str(clean_env / "bin" / "python"), "-m", "mailhops", "--help"], cwd=tmp_path)
    assert "usage: mailhops" in proc.stdout


# ---------------------------------------------------------------- the newcomer commands
def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    assert "./dev.sh lab" in readme and "./dev.sh test" in readme
    commands = [
        ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    assert commands[-1] == "exec ./dev.sh test", commands
    assert not any("pytest" in c for c in commands), "CI must not run its own test command"


def test_dev_script_parses_and_explains_itself(tmp_path: Path) -> None:
    _run(["bash", "-n", str(REPO / "dev.sh")])
    proc = subprocess.run(["bash", str(REPO / "dev.sh")], capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert proc.returncode == 2
    assert "./dev.sh lab" in proc.stderr and "./dev.sh test" in proc.stderr
