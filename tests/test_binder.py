"""Binder: the repo2docker set-up in binder/ builds an image that has Graphviz, mailhops and the lessons.

repo2docker is checked without Docker: ``--no-build --no-run --debug`` prints the Dockerfile it would build.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import need
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10 (pytest depends on tomli there)
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"
START = "notebooks/00-start-here.ipynb"


def _repo2docker() -> str:
    here = Path(sys.executable).parent / "jupyter-repo2docker"
    exe = str(here) if here.exists() else shutil.which("jupyter-repo2docker")
    need(exe is not None, "jupyter-repo2docker is not installed: pip install -e '.[test]'")
    return exe


@pytest.fixture(scope="module")
def dockerfile() -> str:
    proc = subprocess.run(
        [_repo2docker(), "--no-build", "--no-run", "--debug", "."],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"repo2docker failed:\n{proc.stderr[-3000:]}"
    assert "FROM " in proc.stdout, f"repo2docker printed no Dockerfile:\n{proc.stdout[-2000:]}"
    return proc.stdout


def _run_blocks(dockerfile: str) -> list[str]:
    """The RUN instructions of a Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    return [line[4:] for line in joined.splitlines() if line.startswith("RUN ")]


def test_image_installs_graphviz_with_apt(dockerfile: str) -> None:
    installs = [b for b in _run_blocks(dockerfile) if "apt-get install" in b]
    assert any(re.search(r"\bgraphviz\b", b) for b in installs), installs


def test_image_installs_the_package_from_the_repository(dockerfile: str) -> None:
    pip = [b for b in _run_blocks(dockerfile) if re.search(r"pip install .*-r \"?binder/requirements.txt", b)]
    assert pip, "the Dockerfile does not pip install binder/requirements.txt"
    # `-e .` in requirements.txt needs the whole repository in the image before that pip install.
    copy_repo = dockerfile.find("COPY --chown=0:0 src/ ${REPO_DIR}/")
    assert 0 <= copy_repo < dockerfile.find(pip[0]), "the repository is copied in only after pip install"
    assert "./binder/postBuild" in dockerfile


def test_requirements_are_pinned_and_end_with_the_package() -> None:
    lines = [ln.strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    assert lines[-1] == "-e .", "binder/requirements.txt must end with `-e .` (install mailhops from the repo)"
    pins = {}
    for line in lines[:-1]:
        req = Requirement(line)
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"not pinned with ==: {line}"
        pins[canonicalize_name(req.name)] = spec[0].version
    # Every runtime dependency of mailhops is pinned, at a version the package accepts.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        req = Requirement(dep)
        name = canonicalize_name(req.name)
        assert name in pins, f"binder/requirements.txt does not pin {req.name}, a dependency in pyproject.toml"
        assert req.specifier.contains(pins[name]), f"{req.name}=={pins[name]} does not satisfy {dep}"


def test_runtime_is_a_supported_python() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-3\.(\d+)", runtime)
    assert m and int(m.group(1)) >= 10, runtime


def test_apt_txt_lists_graphviz() -> None:
    packages = (BINDER / "apt.txt").read_text().split()
    assert "graphviz" in packages


def test_postbuild_turns_off_jupyterlab_news_with_a_real_setting() -> None:
    post = BINDER / "postBuild"
    assert post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "overrides.json" in post.read_text()
    overrides = json.loads((BINDER / "overrides.json").read_text())
    plugin = "@jupyterlab/apputils-extension:notification"
    # The setting must exist in the installed JupyterLab's schema, with "false" as an allowed value.
    schema_path = Path(sys.prefix, "share/jupyter/lab/schemas/@jupyterlab/apputils-extension/notification.json")
    need(schema_path.exists(), f"JupyterLab's schemas are not installed in {sys.prefix}")
    schema = json.loads(schema_path.read_text())["properties"]
    assert overrides[plugin]["fetchNews"] in [c["const"] for c in schema["fetchNews"]["oneOf"]]
    assert overrides[plugin]["fetchNews"] == "false"
    assert set(overrides[plugin]) <= set(schema)


def test_readme_badge_opens_the_start_notebook_in_jupyterlab() -> None:
    readme = (REPO / "README.md").read_text()
    assert "https://mybinder.org/badge_logo.svg" in readme
    urls = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+", readme)
    assert urls, "README.md has no Binder launch link"
    for url in urls:
        query = parse_qs(urlparse(url).query)
        assert query.get("urlpath") == [f"lab/tree/{START}"], url
    assert (REPO / START).is_file(), f"the Binder link opens {START}, which does not exist"
