"""Benchmark the offline JupyterLite site: its size, lesson 00's first diagram, one widget change in the browser.

Usage::

    python bench/site.py

Builds the site (or reuses ``build/lite-test-site`` when its inputs did not change) and runs the offline
browser test on lesson 00 (``tests/test_site.py``: headless Chromium, every request to another host aborted),
which prints ``site size``, ``first diagram of lesson 00 after page load`` (from ``page.goto`` until the
first diagram drawn by WebAssembly Graphviz, the kernel's start-up included) and ``one widget change``
(from the click on Step to the new diagram in the page, median of three steps). Targets: 60 MB, 20 s, 500 ms.
Needs the test extras (``./dev.sh test`` installs them), npm, and Debian's chromium.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header",
                           "tests/test_site.py", "-k", "lock or 00-start"], cwd=ROOT, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(("site size:", "first diagram", "one widget change")):
            print(line)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
