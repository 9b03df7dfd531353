#!/usr/bin/env bash
# dev.sh — the two newcomer commands of mailhops (see README.md).
#
#   ./dev.sh lab    set up .venv and open the lessons in JupyterLab on 127.0.0.1
#   ./dev.sh test   set up .venv (with the test extras) and run the whole test suite
#   ./dev.sh site   build the lessons as an offline JupyterLite site in _site/ (--serve: then serve it)
#
# Both create an isolated virtual environment in .venv (git-ignored), install mailhops into it
# in editable mode, and install the Debian packages the lessons need when they are missing
# (graphviz for the diagrams, fonts-liberation for their fonts; chromium for the browser test).
# `./dev.sh test` also downloads the development corpus of real messages once, with
# tests/get_dev_corpus.py, into tests/data/corpus/ (git-ignored; never commit it).
# Environment: PYTHON (default python3) chooses the interpreter (3.10 or newer); when it names
# another interpreter than the one .venv was made with, .venv is made anew.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
PYTHON_GIVEN=${PYTHON:-}
PYTHON=${PYTHON:-python3}

say() { printf '[dev.sh] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
    cat >&2 <<'EOF'
usage: ./dev.sh lab     install, then open notebooks/00-start-here.ipynb in JupyterLab on 127.0.0.1
       ./dev.sh test    install, then run the whole test suite (extra arguments go to pytest)
       ./dev.sh site [OUT] [--serve]   build the lessons as a static site that runs in the browser
                        (default _site/); --serve then serves it on 127.0.0.1
EOF
    exit 2
}

# ---------------------------------------------------------------- Debian packages
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else return 1
    fi
}

apt_install() {  # apt_install PACKAGE...   (apt-get update once, then install; warn on failure)
    if ! command -v apt-get >/dev/null; then
        say "please install: $* (no apt-get here; see README.md for macOS, Windows and conda)"
        return 0
    fi
    say "installing Debian packages: $*"
    if [ -z "${APT_UPDATED:-}" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || true
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" \
        || say "could not install $* with apt-get (not root and no sudo?); continuing without them"
}

apt_install_missing() {  # apt_install_missing MODE
    local mode=$1 missing=()
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
    command -v dot >/dev/null || missing+=(graphviz)
    if command -v dpkg >/dev/null && ! dpkg -s fonts-liberation >/dev/null 2>&1; then
        missing+=(fonts-liberation)
    fi
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
    # Separately: a Debian without a chromium package (Ubuntu ships it as a snap) still gets the rest.
    if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
    # npm fetches Pyodide and the WebAssembly Graphviz from the npm registry (the site, and diagrams without dot).
    if ! command -v npm >/dev/null; then apt_install npm; fi
    return 0
}

# ---------------------------------------------------------------- virtual environment
IDENTITY='import sys; print(sys.version, sys.base_prefix)'

check_python() {  # before anything is installed: PYTHON must run and be 3.10 or newer
    command -v "$PYTHON" >/dev/null 2>&1 \
        || die "PYTHON=$PYTHON is not a program here; set PYTHON to a Python 3.10 or newer (e.g. PYTHON=python3)"
    local answer
    answer=$("$PYTHON" -c 'import sys; print("python", *sys.version_info[:2])' 2>/dev/null) || answer=
    case "$answer" in
        "python 3 "*) ;;
        *) die "PYTHON=$PYTHON does not run as a Python 3 interpreter; set PYTHON to a Python 3.10 or newer" ;;
    esac
    [ "${answer#python 3 }" -ge 10 ] \
        || die "mailhops needs Python 3.10 or newer; $PYTHON is $("$PYTHON" --version 2>&1)"
}

setup_venv() {  # setup_venv EXTRAS   (EXTRAS: "" or "[test]")
    local extras=$1 stamp="$VENV/.mailhops-installed" want
    # PYTHON named explicitly and .venv made with another interpreter: make .venv anew.
    if [ -n "${PYTHON_GIVEN:-}" ] && [ -x "$VENV/bin/python" ] \
        && [ "$("$VENV/bin/python" -c "$IDENTITY" 2>/dev/null)" != "$("$PYTHON" -c "$IDENTITY")" ]; then
        say "PYTHON=$PYTHON differs from the interpreter of $VENV: making $VENV anew"
        rm -rf "$VENV"
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating the virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    # Reinstall only when pyproject.toml (the dependency list) or the extras changed.
    want="$(cksum < pyproject.toml) $extras"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    say "installing mailhops$extras into $VENV (editable)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".$extras"
    printf '%s' "$want" > "$stamp"
}

# ---------------------------------------------------------------- development corpus
get_corpus() {  # the development corpus of real messages (tests/get_dev_corpus.py), once
    local out=tests/data/corpus
    [ -f "$out/MANIFEST.tsv" ] && return 0
    say "downloading the development corpus of real messages into $out (about a minute)"
    if ! "$VENV/bin/python" tests/get_dev_corpus.py "$out" >&2; then
        say "the corpus download failed: corpus tests will be skipped"
        rm -rf "$out"
    fi
}

# ---------------------------------------------------------------- commands
lab_settings() {  # JupyterLab settings of this environment: no "fetch news?" pop-up (as on Binder)
    local dir="$VENV/share/jupyter/lab/settings"
    mkdir -p "$dir"
    cp binder/overrides.json "$dir/overrides.json"
}

cmd_lab() {
    check_python
    apt_install_missing lab
    # With test extras already installed keep them (a pip install without them would be a no-op anyway).
    if [ -f "$VENV/.mailhops-installed" ] && grep -q '\[test\]' "$VENV/.mailhops-installed"; then
        setup_venv "[test]"
    else
        setup_venv ""
    fi
    lab_settings
    vendor_graphviz
    # The address JupyterLab prints and opens is the start lesson itself, not the Launcher.
    local args=(--ip 127.0.0.1 --ServerApp.root_dir="$ROOT"
                --LabApp.default_url=/lab/tree/notebooks/00-start-here.ipynb)
    [ "$(id -u)" -eq 0 ] && args+=(--allow-root)
    say "starting JupyterLab on 127.0.0.1 with notebooks/00-start-here.ipynb (Ctrl-C to stop)"
    exec "$VENV/bin/jupyter" lab "${args[@]}" "$@"
}

cmd_test() {
    check_python
    apt_install_missing test
    setup_venv "[test]"
    get_corpus
    vendor_graphviz
    local rc=0
    # pytest's configuration (pyproject.toml) collects the doctests in mailhops/, tests/ and,
    # with nbmake, every notebook in notebooks/.
    "$VENV/bin/python" -m pytest "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then
        say "WARNING: pytest collected no tests (exit 5); nothing was checked"
        rc=0
    fi
    return "$rc"
}

cmd_site() {
    check_python
    apt_install_missing site
    if [ -f "$VENV/.mailhops-installed" ] && grep -q '\[test\]' "$VENV/.mailhops-installed"; then
        setup_venv "[test]"  # the test extras include the site's tools
    else
        setup_venv "[site]"
    fi
    exec "$VENV/bin/python" docs/lite/build.py "$@"
}

vendor_graphviz() {  # the WebAssembly Graphviz, for diagrams where dot cannot run (git-ignored, from npm)
    "$VENV/bin/python" docs/lite/build.py --vendor-graphviz \
        || say "could not fetch the WebAssembly Graphviz from npm: without dot, diagrams show their DOT source"
}

case "${1:-}" in
    lab) shift; cmd_lab "$@" ;;
    test) shift; cmd_test "$@" ;;
    site) shift; cmd_site "$@" ;;
    *) usage ;;
esac
