"""Build the lessons as a static JupyterLite site that runs offline: ``./dev.sh site [OUT]`` (default ``_site/``).

Everything third-party comes from the package registries at build time, nothing from the repository:

- **Pyodide** (CPython compiled to WebAssembly): the npm package ``pyodide`` at exactly the version the
  JupyterLite Pyodide kernel names (``jupyterlite_pyodide_kernel.constants.PYODIDE_VERSION``). That package
  holds Pyodide's core only, so the site gets its own ``pyodide-lock.json`` listing just the wheels it serves.
- **Pure-Python wheels** Pyodide's lock names (micropip, packaging, IPython and its dependencies, dnspython,
  traitlets, ...): from PyPI at the lock's exact versions; the site's lock carries the sha256 of the files it
  serves (and the build says how many match Pyodide's own lock).
- **mailhops and what it requires** (followed from the wheels' own ``Requires-Dist``: ipywidgets, anywidget,
  graphviz, dkimpy, pyspf, authheaders, ...): wheels at the versions installed here (built from the sdist
  when PyPI has no wheel, and then they must be pure Python), added to the same lock with their ``imports``
  and ``depends``, so ``import mailhops`` works with no ``%pip`` cell. Live-only and export-only requirements
  (:data:`NOT_SERVED`: aiosmtpd, cryptography, python-pptx) are left out: the simulated path never
  imports them.
- **Graphviz in WebAssembly**: the npm package ``@hpcc-js/wasm-graphviz``, one ES module with the wasm inside,
  copied into ``mailhops/widgets/_vendor/`` (git-ignored) before the mailhops wheel is built, so the wheel
  carries it (see :mod:`mailhops.widgets.browser_graph`).

The JupyterLab front end, the Pyodide kernel and the widget managers come from the Python packages
``jupyterlite-core``, ``jupyterlite-pyodide-kernel``, ``jupyterlab_widgets`` and ``anywidget`` installed in
this environment (``pip install -e .[site]``). PyPI fallback is disabled: the site never asks another host.
``licenses.html`` at the top of the site lists what it bundles and their licences.

Usage::

    python docs/lite/build.py [OUT] [--force]       # build (skipped when OUT was built from the same inputs)
    python docs/lite/build.py [OUT] --serve [--port N]   # build if needed, then serve on 127.0.0.1
    python docs/lite/build.py --vendor-graphviz     # only fetch the WebAssembly Graphviz into the package
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import html
import http.server
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = REPO / "build" / "lite-cache"
DEFAULT_OUT = REPO / "_site"
VENDOR = REPO / "mailhops" / "widgets" / "_vendor"
START_LESSON = "00-start-here.ipynb"
KEY_FILE = ".mailhops-site-key"

#: The WebAssembly Graphviz: one ES module (wasm inlined), Apache-2.0, Graphviz itself EPL-1.0.
GRAPHVIZ_NPM = ("@hpcc-js/wasm-graphviz", "1.29.2")
GRAPHVIZ_FILE = "dist/index.js"
GRAPHVIZ_MODULE = "wasm-graphviz.mjs"

#: Pyodide packages the kernel and the lessons need; their dependencies follow from Pyodide's lock.
PYODIDE_ROOTS = ("micropip", "packaging", "ipython", "jedi")
#: The kernel's wheels (from its labextension) put in the lock, and what loadPyodide loads at start-up, in
#: parallel: the kernel's own needs (so it skips its one-by-one installs) and mailhops with all it requires.
KERNEL_WHEELS = ("piplite", "pyodide_kernel", "ipykernel")
PRELOAD = ("micropip", "piplite", "pyodide-kernel", "ipykernel", "comm", "jedi", "ipython", "mailhops")
#: Requirements deliberately not served, with the reason (anything else unmet stops the build).
NOT_SERVED = {
    "aiosmtpd": "live mode only (real SMTP servers need a Jupyter server)",
    "cryptography": "live mode only (TLS certificates for the real servers)",
    "jupyterlab": "the server; the site is JupyterLab's front end itself",
    "python-pptx": "PowerPoint export from the command line (compiled lxml and Pillow), never imported by the lessons",
    "widgetsnbextension": "front-end part of ipywidgets; the site has JupyterLab's widget manager",
    "jupyterlab-widgets": "front-end part of ipywidgets; the site has JupyterLab's widget manager",
    "ipython-pygments-lexers": "not in Pyodide's lock for IPython; only used for syntax colouring of tracebacks",
}


def say(text: str) -> None:
    print(f"[site] {text}", file=sys.stderr, flush=True)


class BuildError(Exception):
    """A build step failed; the message is one sentence for the user."""


def norm(name: str) -> str:
    """PEP 503 normalised project name.

    >>> norm("Typing_Extensions")
    'typing-extensions'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise BuildError(f"`{' '.join(map(str, argv[:4]))} ...` failed:\n" + "\n".join(tail))
    return proc


# ---------------------------------------------------------------- npm packages
def npm_package(name: str, version: str) -> Path:
    """The unpacked npm package ``name@version`` (``npm pack`` checks its integrity), cached in build/."""
    dest = CACHE / "npm" / f"{name.replace('/', '+')}-{version}"
    if (dest / "package" / "package.json").is_file():
        return dest / "package"
    if shutil.which("npm") is None:
        raise BuildError("npm is needed to fetch the npm packages the site bundles (apt-get install npm)")
    tmp = dest.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    say(f"npm pack {name}@{version}")
    proc = run(["npm", "pack", "--json", f"{name}@{version}"], cwd=tmp)
    tarball = tmp / json.loads(proc.stdout)[0]["filename"]
    with tarfile.open(tarball) as tf:
        tf.extractall(tmp, filter="data") if sys.version_info >= (3, 12) else tf.extractall(tmp)  # noqa: S202
    tarball.unlink()
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest / "package"


def vendor_graphviz() -> Path:
    """Copy the WebAssembly Graphviz ES module (and its licence) into mailhops/widgets/_vendor/."""
    target = VENDOR / GRAPHVIZ_MODULE
    stamp = "{}@{}\n".format(*GRAPHVIZ_NPM)
    if target.is_file() and (VENDOR / "VERSION").is_file() and (VENDOR / "VERSION").read_text() == stamp:
        return target  # already there (no network needed)
    pkg = npm_package(*GRAPHVIZ_NPM)
    VENDOR.mkdir(parents=True, exist_ok=True)
    source = (pkg / GRAPHVIZ_FILE).read_bytes()
    if not target.is_file() or target.read_bytes() != source:
        target.write_bytes(source)
    meta = json.loads((pkg / "package.json").read_text())
    (VENDOR / "LICENSE-wasm-graphviz.txt").write_text(
        f"{meta['name']} {meta['version']} ({meta.get('license')}), from the npm registry; it contains Graphviz "
        f"(Eclipse Public License 1.0, https://graphviz.org/license/).\n\n" + (pkg / "LICENSE").read_text())
    (VENDOR / "VERSION").write_text(f"{meta['name']}@{meta['version']}\n")
    return target


# ---------------------------------------------------------------- wheels
def pyodide_version() -> str:
    from jupyterlite_pyodide_kernel.constants import PYODIDE_VERSION

    return PYODIDE_VERSION


def installed_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        raise BuildError(f"{name} is not installed here: run `pip install -e .[site]` (./dev.sh site does)") from None


def pip_download(pins: list[str], where: Path, python: str) -> None:
    """Pure-Python wheels (``py3-none-any``) of exactly ``pins``, for the browser's Python, into ``where``."""
    missing = [p for p in pins if not _find_wheel(where, *p.split("=="))]
    if not missing:
        return
    say(f"pip download {len(missing)} wheels: {' '.join(missing)}")
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                "--platform", "any", "--implementation", "py", "--abi", "none", "--python-version", python,
                "--dest", str(where)]
    try:
        run([*download, *missing])
    except BuildError:  # one of them has no pure wheel on PyPI: take them one by one
        for pin in missing:
            try:
                run([*download, pin])
            except BuildError:  # only an sdist (e.g. authres): build the wheel, which must be pure Python
                say(f"building a wheel of {pin} from its sdist")
                run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-binary", pin.split("==")[0],
                     "--wheel-dir", str(where), pin])
                built = _find_wheel(where, *pin.split("=="))
                if built is None or not built.name.endswith("-none-any.whl"):
                    raise BuildError(f"{pin} has no pure-Python wheel, so it cannot run in the browser") from None


def _find_wheel(where: Path, name: str, version: str) -> Path | None:
    for path in where.glob("*.whl"):
        dist, ver = path.name.split("-")[:2]
        if norm(dist) == norm(name) and ver == version:
            return path
    return None


def wheel_metadata(path: Path) -> tuple[email.message.Message, list[str], dict[str, str]]:
    """A wheel's METADATA, its top-level import names, and its licence files (name -> text)."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        meta = email.parser.Parser().parsestr(zf.read(f"{info}/METADATA").decode("utf-8", "replace"))
        tops = set()
        for n in names:
            top = n.split("/")[0]
            if top.endswith((".dist-info", ".data")) or top.endswith(".pth"):
                continue
            if "/" in n:
                tops.add(top)
            elif n.endswith(".py"):
                tops.add(n[:-3])
        licences = {n.rsplit("/", 1)[-1]: zf.read(n).decode("utf-8", "replace") for n in names
                    if n.startswith(f"{info}/") and re.search(r"(LICEN[CS]E|COPYING|NOTICE)", n.rsplit("/", 1)[-1], re.I)}
    return meta, sorted(tops), licences


def _requires(meta: email.message.Message, python: str) -> list[str]:
    """Names this wheel needs in the browser (its Requires-Dist whose markers hold on emscripten)."""
    from packaging.requirements import Requirement

    env = {"sys_platform": "emscripten", "platform_system": "Emscripten", "python_version": python,
           "python_full_version": f"{python}.0", "implementation_name": "cpython", "os_name": "posix",
           "platform_machine": "wasm32", "extra": ""}
    out = []
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            out.append(norm(req.name))
    return out


def build_lock(pyodide_dir: Path, wheels: Path) -> tuple[dict, list[dict]]:
    """The site's pyodide-lock.json (only what it serves) and the list of bundled wheels for licences.

    The wheels are the closure of the kernel's needs (:data:`PYODIDE_ROOTS`) and of mailhops' own
    requirements: a package Pyodide's lock names comes at the lock's version, any other at the version
    installed here (the one the tests ran with), always as a pure-Python wheel.
    """
    npm_lock = json.loads((pyodide_dir / "pyodide-lock.json").read_text())
    python = ".".join(npm_lock["info"]["python"].split(".")[:2])
    by_name = {norm(k): v for k, v in npm_lock["packages"].items()}
    packages: dict[str, dict] = {}
    bundled: list[dict] = []
    same = 0

    def add_pyodide(roots: list[str]) -> None:
        nonlocal same
        todo, wanted = list(roots), {}
        while todo:
            name = todo.pop()
            if name in wanted or name in packages:
                continue
            entry = by_name[name]
            if not re.search(r"-none-any\.whl$", entry["file_name"]):
                raise BuildError(f"{name} is compiled in Pyodide ({entry['file_name']}); its build is not on a registry")
            wanted[name] = entry
            todo += [norm(d) for d in entry.get("depends", [])]
        pip_download([f"{e['name']}=={e['version']}" for e in wanted.values()], wheels, python)
        for name, entry in wanted.items():
            path = _find_wheel(wheels, entry["name"], entry["version"])
            digest = sha256(path)
            same += digest == entry["sha256"]
            packages[name] = {**entry, "file_name": path.name, "sha256": digest}
            bundled.append({"path": path, "name": entry["name"], "version": entry["version"]})

    add_pyodide([norm(n) for n in PYODIDE_ROOTS])
    # The kernel's own wheels (piplite, pyodide-kernel, the ipykernel shim) go in the lock too, so that
    # loadPyodide can fetch them with everything else at start-up, in parallel (see PRELOAD).
    todo: list[tuple[str, Path]] = [(norm(p.name.split("-")[0]), p) for p in kernel_wheels()]
    todo.append(("mailhops", build_mailhops_wheel(wheels)))
    seen = {name for name, _ in todo}
    while todo:
        name, path = todo.pop()
        meta, imports, _ = wheel_metadata(path)
        depends = []
        for dep in _requires(meta, python):
            if dep in NOT_SERVED:
                continue
            depends.append(dep)
            if dep in packages or dep in seen:
                continue
            if dep in by_name:
                add_pyodide([dep])
                continue
            seen.add(dep)
            pin = f"{dep}=={installed_version(dep)}"
            pip_download([pin], wheels, python)
            todo.append((dep, _find_wheel(wheels, *pin.split("=="))))
        packages[name] = {
            "name": meta["Name"], "version": meta["Version"], "file_name": path.name, "install_dir": "site",
            "sha256": sha256(path), "package_type": "package", "imports": imports, "depends": sorted(depends),
            "unvendored_tests": False,
        }
        bundled.append({"path": path, "name": meta["Name"], "version": meta["Version"]})
    say(f"{same} of {sum(norm(b['name']) in by_name for b in bundled)} wheels of Pyodide's lock, as PyPI has "
        f"them, are byte-identical to Pyodide's own build (the site's lock has the sha256 of those it serves)")
    return {"info": npm_lock["info"], "packages": packages}, bundled


def kernel_wheels() -> list[Path]:
    """The wheels the JupyterLite Pyodide kernel ships (piplite, pyodide-kernel, the ipykernel shim)."""
    from jupyter_core.paths import jupyter_path

    for base in jupyter_path("labextensions"):
        pypi = Path(base) / "@jupyterlite" / "pyodide-kernel-extension" / "static" / "pypi"
        found = [p for p in sorted(pypi.glob("*.whl")) if p.name.split("-")[0] in KERNEL_WHEELS]
        if found:
            return found
    raise BuildError("the JupyterLite Pyodide kernel's wheels were not found: pip install -e .[site]")


def build_mailhops_wheel(where: Path) -> Path:
    """mailhops' own wheel, built from this tree (with the WebAssembly Graphviz inside)."""
    vendor_graphviz()
    for old in where.glob("mailhops-*.whl"):
        old.unlink()
    say("building the mailhops wheel")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(where), str(REPO)])
    return next(where.glob("mailhops-*.whl"))


# ---------------------------------------------------------------- licences
def _licence_of(meta: email.message.Message) -> str:
    expr = meta.get("License-Expression")
    if expr:
        return expr
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 80:
        return text
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return ", ".join(classifiers) or "see the licence text"


def write_licences(out: Path, pyodide_dir: Path, bundled: list[dict]) -> Path:
    rows, texts = [], []
    pyo = json.loads((pyodide_dir / "package.json").read_text())
    rows.append(("Pyodide", pyo["version"], pyo.get("license", "MPL-2.0"), "npm package pyodide (static/pyodide/)"))
    gv_dir = npm_package(*GRAPHVIZ_NPM)
    gv = json.loads((gv_dir / "package.json").read_text())
    rows.append((gv["name"], gv["version"], f"{gv['license']}; contains Graphviz (EPL-1.0)",
                 "npm, inside the mailhops wheel (mailhops/widgets/_vendor/)"))
    texts.append((f"{gv['name']} {gv['version']}", (gv_dir / "LICENSE").read_text()))
    for item in sorted(bundled, key=lambda b: norm(b["name"])):
        meta, _, licences = wheel_metadata(item["path"])
        rows.append((item["name"], item["version"], _licence_of(meta), f"PyPI wheel {item['path'].name}"))
        for fname, text in licences.items():
            texts.append((f"{item['name']} {item['version']}: {fname}", text))
    from importlib.metadata import version

    for dist in ("jupyterlite-core", "jupyterlite-pyodide-kernel", "jupyterlab_widgets", "anywidget"):
        rows.append((dist, version(dist), "BSD-3-Clause" if dist != "anywidget" else "MIT",
                     "front end; its bundled JavaScript's licences: third-party-licenses.json in build/ and extensions/"))
    template = (HERE / "licenses.html").read_text()
    table = "\n".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td>"
                      f"<td>{html.escape(d)}</td></tr>" for a, b, c, d in rows)
    full = "\n".join(f"<h3>{html.escape(t)}</h3><pre>{html.escape(body)}</pre>" for t, body in texts)
    path = out / "licenses.html"
    path.write_text(template.replace("{{TABLE}}", table).replace("{{TEXTS}}", full))
    return path


# ---------------------------------------------------------------- the build
def input_key() -> str:
    """A digest of everything the site is built from: a site with the same key need not be rebuilt."""
    h = hashlib.sha256()
    files = [REPO / "pyproject.toml", *sorted((REPO / "notebooks").glob("*.ipynb")), *sorted(HERE.glob("*")),
             *sorted(p for p in (REPO / "mailhops").rglob("*") if p.is_file() and "__pycache__" not in p.parts)]
    for path in files:
        if path.is_file():
            h.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    from importlib.metadata import version

    for dist in ("jupyterlite-core", "jupyterlite-pyodide-kernel", "jupyterlab_widgets", "anywidget"):
        h.update(f"{dist}={version(dist)}".encode())
    h.update(repr(GRAPHVIZ_NPM).encode())
    return h.hexdigest()


def build(out: Path, *, force: bool = False) -> Path:
    """Build the site into ``out`` (skipped when ``out`` already holds a build of the same inputs)."""
    out = out.resolve()
    key = input_key()
    if not force and (out / KEY_FILE).is_file() and (out / KEY_FILE).read_text() == key:
        say(f"{out} is up to date (same inputs); --force rebuilds it")
        return out
    started = time.monotonic()
    version = pyodide_version()
    pyodide_pkg = npm_package("pyodide", version)
    work = CACHE / "lite-dir"
    shutil.rmtree(work, ignore_errors=True)
    static = work / "static" / "pyodide"
    static.mkdir(parents=True)
    for item in pyodide_pkg.iterdir():
        if item.suffix != ".map" and item.name not in ("pyodide-lock.json", "README.md") and item.is_file() \
                and not item.name.endswith((".d.ts", ".html")):
            shutil.copy2(item, static / item.name)
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    lock, bundled = build_lock(pyodide_pkg, wheels)
    for item in bundled:
        shutil.copy2(item["path"], static / item["path"].name)
    (static / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True))
    for name in ("jupyter_lite_config.json", "overrides.json"):
        shutil.copy2(HERE / name, work / name)
    config = json.loads((HERE / "jupyter-lite.json").read_text())
    kernel = config["jupyter-config-data"]["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    kernel.setdefault("loadPyodideOptions", {})["packages"] = list(PRELOAD)
    (work / "jupyter-lite.json").write_text(json.dumps(config, indent=2))
    contents = work / "contents"  # the lessons and the files they read (notebooks/data/, ...)
    shutil.copytree(REPO / "notebooks", contents,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc"))

    if out.exists():
        if not ((out / KEY_FILE).is_file() or (out / "jupyter-lite.json").is_file() or not any(out.iterdir())):
            raise BuildError(f"{out} exists and is not a mailhops site: choose another folder or remove it")
        shutil.rmtree(out)
    say(f"jupyter lite build -> {out}")
    run([sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", str(work), "--contents", str(contents),
         "--output-dir", str(out)], cwd=work)
    write_licences(out, pyodide_pkg, bundled)
    (out / KEY_FILE).write_text(key)
    say(f"built {out} in {time.monotonic() - started:.0f} s: {site_size(out) / 1e6:.1f} MB, "
        f"Pyodide {version}, {len(lock['packages'])} wheels; open lab/index.html?path={START_LESSON}")
    return out


def site_size(out: Path) -> int:
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


# ---------------------------------------------------------------- serving
class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
                      ".json": "application/json", ".whl": "application/zip", ".ipynb": "application/json"}

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's name
        pass


def serve(out: Path, port: int = 8000) -> None:
    """Serve ``out`` on 127.0.0.1 until Ctrl-C, printing the start lesson's address."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=str(out)))
    url = f"http://127.0.0.1:{server.server_address[1]}/lab/index.html?path={START_LESSON}"
    print(f"Serving {out} on 127.0.0.1 (Ctrl-C stops it). Start lesson:\n  {url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev.sh site", description="Build the lessons as an offline JupyterLite site.")
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT), help="output folder (default: _site/)")
    parser.add_argument("--serve", action="store_true", help="then serve it on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs did not change")
    parser.add_argument("--vendor-graphviz", action="store_true",
                        help="only fetch the WebAssembly Graphviz into mailhops/widgets/_vendor/")
    args = parser.parse_args(argv)
    try:
        if args.vendor_graphviz:
            say(f"WebAssembly Graphviz: {vendor_graphviz().relative_to(REPO)}")
            return 0
        out = build(Path(args.out), force=args.force)
        if args.serve:
            serve(out, args.port)
    except BuildError as err:
        say(f"error: {err}")
        return 1
    except OSError as err:
        say(f"error: {err.strerror or err}{f' ({err.filename})' if err.filename else ''}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
