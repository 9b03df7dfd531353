"""Diagrams drawn in the browser, by Graphviz compiled to WebAssembly, wherever ``dot`` cannot run.

In JupyterLite (Python in the page, where ``graphviz`` cannot start ``dot``: "emscripten does not support
processes") and in Jupyter on a machine without Graphviz, :class:`BrowserDiagram` sends the DOT source
mailhops builds (same themes, highlight and step-through) to the page, which draws it with the npm package
``@hpcc-js/wasm-graphviz`` (one ES module, wasm inside).

How the ES module travels: it is not in the repository. ``docs/lite/build.py`` (run by ``./dev.sh``) fetches
it from the npm registry into ``mailhops/widgets/_vendor/`` (git-ignored) and wheels built afterwards carry
it as package data, so the JupyterLite site and a ``pip install`` of such a wheel both have it offline. In
the page it travels once per kernel, in one shared :class:`GraphvizEngine` model; the front end imports and
compiles it once per page (cached by digest), and every diagram widget carries only its DOT source.

:func:`browser_fallback` is what :func:`mailhops.draw.repr_mimebundle` shows when ``dot`` cannot run (set by
:func:`install`, which ``mailhops.widgets`` calls on import).

>>> IN_BROWSER
False
>>> BrowserDiagram("digraph { a -> b }").dot
'digraph { a -> b }'
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from ipywidgets import widget_serialization

__all__ = [
    "IN_BROWSER",
    "NEEDS_SERVER",
    "BrowserDiagram",
    "GraphvizEngine",
    "browser_fallback",
    "browser_fallback_view",
    "draws_in_browser",
    "engine",
    "graphviz_module",
    "install",
]

_HERE = Path(__file__).resolve().parent
#: Where the build puts the WebAssembly Graphviz ES module (fetched from npm, never committed).
MODULE_PATH = _HERE / "_vendor" / "wasm-graphviz.mjs"

#: True when Python itself runs in the browser (JupyterLite's Pyodide kernel).
IN_BROWSER = sys.platform == "emscripten"

#: The sentence lessons and the explorer show where real SMTP servers cannot run.
NEEDS_SERVER = ("Real SMTP servers need a Jupyter server (./dev.sh lab or Binder): in this browser-only site "
                "Python runs inside the page and cannot listen on a port, so this part uses the simulator only.")


@lru_cache(maxsize=1)
def graphviz_module() -> str | None:
    """The WebAssembly Graphviz ES module's text, or None when this installation has none."""
    try:
        return MODULE_PATH.read_text(encoding="utf-8")
    except OSError:
        return None


class GraphvizEngine(anywidget.AnyWidget):
    """The WebAssembly Graphviz, sent to the page once per kernel and shared by every :class:`BrowserDiagram`."""

    _esm = "export default {};"
    source = traitlets.Unicode("").tag(sync=True)
    digest = traitlets.Unicode("").tag(sync=True)


_ENGINE: GraphvizEngine | None = None


def engine() -> GraphvizEngine:
    """The one :class:`GraphvizEngine` of this kernel (made on first use)."""
    global _ENGINE
    if _ENGINE is None or getattr(_ENGINE, "comm", None) is None:
        source = graphviz_module() or ""
        _ENGINE = GraphvizEngine(source=source, digest=hashlib.sha256(source.encode()).hexdigest()[:16])
    return _ENGINE


class BrowserDiagram(anywidget.AnyWidget):
    """A diagram drawn in the page from its DOT source (CSS class ``mailhops-browser-diagram``).

    Setting :attr:`dot` redraws it in place: stepping through a journey sends only the new DOT source.
    """

    _esm = _HERE / "browser_graph.js"
    dot = traitlets.Unicode("").tag(sync=True)
    max_width = traitlets.Unicode("100%").tag(sync=True)
    engine = traitlets.Instance(GraphvizEngine, allow_none=True).tag(sync=True, **widget_serialization)

    def __init__(self, dot: str = "", **kw: Any) -> None:
        kw.setdefault("engine", engine())
        super().__init__(dot=dot, **kw)
        self.add_class("mailhops-browser-diagram")


def draws_in_browser() -> bool:
    """True when diagrams must be drawn in the page: ``dot`` cannot run here and the WebAssembly Graphviz is
    installed (in JupyterLite always; in Jupyter when Graphviz is missing).

    >>> draws_in_browser() == ((IN_BROWSER or shutil.which("dot") is None) and graphviz_module() is not None)
    True
    """
    return (IN_BROWSER or shutil.which("dot") is None) and graphviz_module() is not None


def browser_fallback_view(widget: BrowserDiagram) -> dict[str, Any]:
    """The display data that shows ``widget`` (its widget view, and a line of text for plain front ends)."""
    bundle = widget._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    return {**data, "text/plain": "(a mailhops diagram, drawn in the browser)"}


def browser_fallback(source: str) -> dict[str, Any] | None:
    """What Jupyter shows for DOT ``source`` when ``dot`` cannot run: a :class:`BrowserDiagram`'s view,
    or None when this installation has no WebAssembly Graphviz (then the friendly note stays).

    >>> bundle = browser_fallback("digraph { a }")
    >>> bundle is None or "application/vnd.jupyter.widget-view+json" in bundle
    True
    """
    if graphviz_module() is None:
        return None
    return browser_fallback_view(BrowserDiagram(source))


def install() -> None:
    """Let :func:`mailhops.draw.repr_mimebundle` fall back to :func:`browser_fallback` when ``dot`` cannot run."""
    from ..draw.export import set_browser_fallback

    set_browser_fallback(browser_fallback)
