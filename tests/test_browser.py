"""Real-browser test: every lesson runs in JupyterLab, driven by headless Debian Chromium through Playwright.

For each notebook in notebooks/: open it in JupyterLab, run all cells from the Run menu, wait for the
kernel, then check there is no error output, no broken widget, and at least one diagram on screen
(JupyterLab shows SVG outputs as ``<img src="data:image/svg+xml,...">``). In the lesson with the hop
stepper (an element with the CSS class ``mailhops-step``), stepping must change both the diagram
(``mailhops-diagram``) and the header view (``mailhops-headers``); in the lesson with a quiz (``mailhops-quiz``),
picking an answer must show its verdict. A page without code (the glossary) must render its text and tables. A screenshot of each lesson is saved in
artifacts/screenshots/. A smoke check also serves the lessons with Notebook 7 and asks for its /tree page.

JupyterLab runs on 127.0.0.1 with a token, on a temporary copy of notebooks/, with its own settings,
workspace and runtime folders, and JupyterLab's news pop-up turned off through ``overrides.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import need

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
# MAILHOPS_NOTEBOOKS_DIR points the test at another folder of notebooks (for developing this harness).
NOTEBOOK_DIR = Path(os.environ.get("MAILHOPS_NOTEBOOKS_DIR", REPO / "notebooks"))
NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("MAILHOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
OVERRIDES = {
    # No "fetch Jupyter news?" toast, no update check (no network here, and it hides the lesson).
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # Keep every cell in the DOM, so outputs far down the notebook can be inspected.
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}
SVG_IMG = 'img[src^="data:image/svg+xml"]'
RUN_TIMEOUT_S = 240


# ---------------------------------------------------------------- servers
@dataclass
class Server:
    url: str
    token: str
    root: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _start(app: list[str], tmp: Path, extra: list[str]) -> Iterator[Server]:
    """Start a Jupyter server app on 127.0.0.1 on a temporary copy of the notebooks; stop it afterwards."""
    root = tmp / "notebooks"
    if NOTEBOOK_DIR.is_dir():
        shutil.copytree(NOTEBOOK_DIR, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    else:  # a clone without lessons: the tests below say so
        root.mkdir()
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),
        JUPYTER_PLATFORM_DIRS="1", PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    argv = [
        sys.executable, "-m", *app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        *extra,
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    log = tmp / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    server = Server(f"http://127.0.0.1:{port}", token, root, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"{app[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{server.url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"{app[0]} did not answer in 90 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _shutdown_kernels(server: Server) -> None:
    """Stop the kernels a lesson started, so the next lesson runs on a quiet machine."""
    headers = {"Authorization": f"token {server.token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{server.url}/api/kernels", headers=headers)) as r:
        kernels = json.load(r)
    for kernel in kernels:
        request = urllib.request.Request(f"{server.url}/api/kernels/{kernel['id']}", headers=headers, method="DELETE")
        urllib.request.urlopen(request).close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("jupyterlab")
    app_settings = tmp / "app-settings"
    app_settings.mkdir()
    (app_settings / "overrides.json").write_text(json.dumps(OVERRIDES))
    with _start(
        ["jupyterlab"], tmp,
        [f"--LabApp.app_settings_dir={app_settings}", f"--LabApp.user_settings_dir={tmp / 'user-settings'}",
         f"--LabApp.workspaces_dir={tmp / 'workspaces'}"],
    ) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    need(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: `./dev.sh test` installs Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        # A fresh, temporary profile per launch; Playwright cannot download a browser here: use Debian's.
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


# ---------------------------------------------------------------- driving JupyterLab
_CELL_STATE_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')];
  return cells.map(c => ({
    code: (c.querySelector('.jp-InputArea-editor')?.innerText || '').trim().length > 0,
    prompt: (c.querySelector('.jp-InputArea-prompt')?.innerText || '').trim(),
  }));
}"""

_ERRORS_JS = """() => {
  const out = [];
  for (const e of document.querySelectorAll(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {
    const t = e.innerText;
    if (/Traceback|^\\w*(Error|Exception)\\b/m.test(t)) out.push(t.slice(0, 1500));
  }
  for (const e of document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')) {
    if (/Error displaying widget|Failed to load model class|Javascript Error/.test(e.innerText)) out.push(e.innerText.slice(0, 500));
  }
  return out;
}"""


_KERNEL_STATUS_JS = """() => {
  for (const e of document.querySelectorAll('.jp-StatusBar-TextItem')) {
    const m = /^(.+) \\| (\\w+)$/.exec(e.innerText.trim());
    if (m) return m[2];
  }
  return null;
}"""


def _kernel_status(page) -> str | None:  # noqa: ANN001 - Playwright page
    """The kernel's state as the status bar shows it ("Idle", "Busy", "Connecting", ...)."""
    return page.evaluate(_KERNEL_STATUS_JS)


def _open(lab: Server, page, name: str) -> None:  # noqa: ANN001
    """Open a notebook in a reset workspace; wait until every cell is shown and the kernel is idle."""
    n_cells = len(json.loads((lab.root / name).read_text())["cells"])
    page.goto(f"{lab.url}/lab/tree/{quote(name)}?reset&token={lab.token}")
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
    deadline = time.monotonic() + 90
    while cells.count() < n_cells or _kernel_status(page) != "Idle":
        assert time.monotonic() < deadline, (
            f"{name}: {cells.count()} of {n_cells} cells shown, kernel {_kernel_status(page)!r} after 90 s"
        )
        page.wait_for_timeout(250)


def _run_all(page) -> list[dict]:  # noqa: ANN001
    """Run all cells with the Run menu, as a student would, and wait until the kernel is done."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    steady = 0
    while True:
        cells = page.evaluate(_CELL_STATE_JS)
        busy = any("*" in c["prompt"] for c in cells) or _kernel_status(page) != "Idle"
        started = any(re.fullmatch(r"\[\d+\]:", c["prompt"]) for c in cells if c["code"])
        steady = steady + 1 if (started and not busy) else 0
        if steady >= 3:  # idle for three polls in a row: the run is over
            return cells
        assert time.monotonic() < deadline, f"the notebook was still running after {RUN_TIMEOUT_S} s: {cells}"
        page.wait_for_timeout(400)


def _fingerprint(locator) -> str:  # noqa: ANN001
    return hashlib.sha1(locator.evaluate("e => e.innerHTML").encode()).hexdigest()


def _activate(step) -> None:  # noqa: ANN001
    """Press the step control: a button (or a box holding one), or move a slider one notch right."""
    step.scroll_into_view_if_needed()
    tag = step.evaluate("e => e.tagName.toLowerCase()")
    if tag == "button":
        step.click()
    elif step.locator("button").count():
        step.locator("button").first.click()
    elif step.locator(".noUi-handle").count():
        step.locator(".noUi-handle").first.focus()
        step.page.keyboard.press("ArrowRight")
    elif step.locator("input").count():
        step.locator("input").first.press("ArrowUp")
    else:
        step.click()


def _check_stepper(page, name: str) -> None:  # noqa: ANN001
    step = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mailhops-step").first
    diagram = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mailhops-diagram").first
    headers = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mailhops-headers").first
    assert diagram.count() and headers.count(), (
        f"{name} has a step control (.mailhops-step) but no .mailhops-diagram / .mailhops-headers view"
    )
    assert diagram.locator(SVG_IMG).count() or diagram.locator("svg").count(), f"{name}: the explorer shows no diagram"
    before = (_fingerprint(diagram), headers.inner_text())
    _activate(step)
    deadline = time.monotonic() + 20
    while True:
        after = (_fingerprint(diagram), headers.inner_text())
        if after[0] != before[0] and after[1] != before[1]:
            break
        assert time.monotonic() < deadline, (
            f"{name}: stepping one hop changed "
            f"{'nothing' if after == before else 'the diagram only' if after[0] != before[0] else 'the headers only'}"
        )
        page.wait_for_timeout(250)
    assert diagram.locator(SVG_IMG).count() or diagram.locator("svg").count(), f"{name}: the diagram vanished"
    # The explorer fills the screenshot: its step row near the top, the controls above it still in view.
    step.evaluate(
        "e => { e.scrollIntoView({block: 'start'});"
        " const s = e.closest('.jp-WindowedPanel-outer'); if (s) s.scrollTop -= 140; }"
    )


def _check_quiz(page, name: str) -> None:  # noqa: ANN001
    """Pick the first option of the first quiz question: a verdict (right or not quite) must appear under it."""
    quiz = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mailhops-quiz").first
    quiz.scroll_into_view_if_needed()
    quiz.locator("input[type=radio]").first.check()
    deadline = time.monotonic() + 20
    while not re.search(r"✓ Right|✗ Not quite", quiz.inner_text()):
        assert time.monotonic() < deadline, f"{name}: picking a quiz answer showed no verdict"
        page.wait_for_timeout(250)


def _has_code(name: str) -> bool:
    return any(c["cell_type"] == "code" for c in json.loads((NOTEBOOK_DIR / name).read_text())["cells"])


def _check_page(lab: Server, page, name: str) -> None:  # noqa: ANN001
    """A notebook without code (the glossary): it opens, its markdown renders (headings, tables), no errors."""
    _open(lab, page, name)
    rendered = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell .jp-RenderedMarkdown")
    deadline = time.monotonic() + 30
    while not rendered.count() or not page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown h1").count():
        assert time.monotonic() < deadline, f"{name}: its markdown did not render"
        page.wait_for_timeout(250)
    assert page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown table").count() >= 1, (
        f"{name} shows no table")
    assert not page.evaluate(_ERRORS_JS), f"{name} shows errors"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}.png"))


# ---------------------------------------------------------------- tests
_STEPPER_SEEN: dict[str, bool] = {}  # lesson -> has a step control (filled by the per-lesson test)


@pytest.mark.parametrize("name", NOTEBOOKS or ["(no notebooks)"])
def test_lesson_runs_in_jupyterlab(lab: Server, browser, name: str) -> None:  # noqa: ANN001
    assert NOTEBOOKS, f"{NOTEBOOK_DIR} holds no lessons (*.ipynb): there is nothing to open in the browser"
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page_errors: list[str] = []
    page.on("pageerror", lambda err: page_errors.append(str(err)))
    _STEPPER_SEEN.setdefault(name, False)
    try:
        if not _has_code(name):
            _check_page(lab, page, name)
            return
        _open(lab, page, name)
        page.keyboard.press("Control+b")  # hide the file browser: more room for the lesson
        cells = _run_all(page)
        not_run = [i for i, c in enumerate(cells) if c["code"] and not re.fullmatch(r"\[\d+\]:", c["prompt"])]
        errors = page.evaluate(_ERRORS_JS)
        assert not errors, f"{name} shows errors:\n" + "\n---\n".join(errors)
        assert not not_run, f"{name}: code cells {not_run} did not run (did an earlier cell fail?)"
        assert not page.get_by_text("official Jupyter news").count(), "JupyterLab's news pop-up is showing"

        diagrams = page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output {SVG_IMG}")
        assert diagrams.count() >= 1, f"{name} shows no SVG diagram"
        first = diagrams.first
        first.evaluate("e => e.scrollIntoView({block: 'center'})")
        assert first.is_visible(), f"{name}: the first diagram is not visible"
        box = first.bounding_box()
        assert box and box["width"] > 20 and box["height"] > 20, f"{name}: the first diagram is empty ({box})"

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        has_stepper = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mailhops-step").count() > 0
        _STEPPER_SEEN[name] = has_stepper
        if has_stepper:
            _check_stepper(page, name)
        if page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mailhops-quiz").count():
            _check_quiz(page, name)
        page.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}.png"))
        assert not page.evaluate(_ERRORS_JS), f"{name} shows errors after stepping"
    except Exception:
        if page_errors:
            print("JavaScript errors in the page:", *page_errors, sep="\n")
        print("server log (end):", lab.log.read_text()[-3000:], sep="\n")
        raise
    finally:
        context.close()
        _shutdown_kernels(lab)


def test_some_lesson_has_a_working_hop_stepper(lab: Server, browser) -> None:  # noqa: ANN001
    """The explorer lesson has a step control; the per-lesson test above checks it works."""
    assert NOTEBOOKS, f"{NOTEBOOK_DIR} holds no lessons"
    missed = [n for n in NOTEBOOKS if n not in _STEPPER_SEEN]  # not visited by the per-lesson test
    for name in missed:  # when run on its own (-k), look at the lessons here
        test_lesson_runs_in_jupyterlab(lab, browser, name)
    assert any(_STEPPER_SEEN.values()), "no lesson shows a hop stepper (an element with CSS class mailhops-step)"
    for name in NOTEBOOKS:
        if "explorer" in name:
            assert _STEPPER_SEEN[name], f"the explorer lesson {name} shows no hop stepper (CSS class mailhops-step)"


def test_notebook7_serves_the_lessons(tmp_path: Path) -> None:
    """Smoke check for Notebook 7: its /tree page and a lesson's page answer with HTTP 200."""
    with _start(["notebook"], tmp_path, []) as server:
        with urllib.request.urlopen(f"{server.url}/tree?token={server.token}", timeout=30) as r:
            assert r.status == 200
            body = r.read().decode()
        assert '"appName": "Jupyter Notebook"' in body or "Jupyter Notebook" in body
        if NOTEBOOKS:
            with urllib.request.urlopen(f"{server.url}/notebooks/{quote(NOTEBOOKS[0])}?token={server.token}") as r:
                assert r.status == 200
