"""What every widget shows: diagrams that fit their cell, the header view, and success or error sentences.

:func:`diagram` and :class:`DiagramView` draw through :mod:`mailhops.draw`; :class:`HeaderView` shows
what :func:`~mailhops.widgets.headers.headers_at` returns; :func:`error_html` and :func:`ok_html` are
the sentences the widgets write instead of tracebacks.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

import ipywidgets as W

from .. import draw as rd
from ..journey import Journey
from . import browser_graph
from .headers import HeaderLine, headers_at

__all__ = [
    "FIT_WIDTH_IN",
    "MONO",
    "PAPER",
    "STYLE",
    "Diagram",
    "DiagramView",
    "HeaderView",
    "diagram",
    "error_html",
    "fit_width",
    "ok_html",
    "with_alt_text",
    "style_widget",
]

MONO = "'Liberation Mono', 'DejaVu Sans Mono', Menlo, Consolas, monospace"
#: Header and dialogue views look like a sheet of paper, readable in JupyterLab's light and dark themes alike.
PAPER = "background:#ffffff;color:#1f1f1f;padding:6px 8px;border-radius:4px;"


def error_html(message: str) -> str:
    """``message`` as a red warning line (CSS class ``mailhops-error``): what a widget shows instead of a traceback."""
    return (f'<div class="mailhops-error" style="color:#8b1a1a;background:#fdecea;border-left:4px solid #d55e00;'
            f'padding:4px 8px">&#9888; {html.escape(message)}</div>')


def ok_html(message: str) -> str:
    """``message`` as a green line (CSS class ``mailhops-ok``): what a widget shows when an action worked."""
    return (f'<div class="mailhops-ok" style="color:#1d4d2b;background:#e8f5ec;border-left:4px solid #009e73;'
            f'padding:4px 8px">&#10003; {html.escape(message)}</div>')


#: Widest picture Graphviz draws for a widget, in inches (72 pt each); the browser then shrinks it to the
#: cell's width (see :data:`STYLE`), so this only keeps very long journeys from becoming unreadably thin.
FIT_WIDTH_IN = 18.0

#: CSS for the widgets: a diagram shrinks to the width of its cell instead of being cut off at the right edge
#: (JupyterLab shows SVG as an ``<img>`` at its natural size inside widget outputs).
STYLE = """<style>
.mailhops-diagram, .mailhops-diagram .jp-OutputArea, .mailhops-diagram .jp-OutputArea-child,
.mailhops-diagram .jp-OutputArea-output { max-width: 100%; min-width: 0; }
.mailhops-diagram img { max-width: 100%; height: auto; }
</style>"""


def style_widget() -> W.HTML:
    """An invisible HTML widget that carries :data:`STYLE` into the page."""
    return W.HTML(STYLE, layout=W.Layout(display="none"))


def fit_width(graph: Any, width_in: float = FIT_WIDTH_IN) -> Any:
    """A copy of ``graph`` that Graphviz scales down (never up) to at most ``width_in`` inches wide.

    JupyterLab shows an SVG at its natural size inside widgets, so a long journey would be cut off at the
    right edge; slides (a fixed ``size`` already set) are left alone.

    >>> from mailhops.topology import Topology
    >>> fit_width(rd.render(Topology("t"))).graph_attr["size"]
    '18,40'
    """
    import graphviz

    if not isinstance(graph, (graphviz.Digraph, graphviz.Graph)) or graph.graph_attr.get("size"):
        return graph
    copy = graph.copy()
    copy.graph_attr["size"] = f"{width_in:g},40"
    return copy


def with_alt_text(bundle: dict[str, str]) -> dict[str, str]:
    """``bundle`` plus an HTML image whose ``alt`` is the diagram's text alternative: the SVG's ``<title>``
    and ``<desc>`` (for a journey, :meth:`~mailhops.journey.Journey.describe`).

    JupyterLab shows an ``image/svg+xml`` output as an ``<img>`` without ``alt``, so a screen reader hears
    nothing of the title and description inside the SVG; it prefers ``text/html`` when both are there.

    >>> svg = '<svg role="img"><title id="mh-title">demo: delivered</title><desc id="mh-desc">Hop 1: a → b.</desc></svg>'
    >>> with_alt_text({"image/svg+xml": svg})["text/html"].split('alt="')[1].split('"')[0]
    'demo: delivered. Hop 1: a → b.'
    """
    svg = bundle.get("image/svg+xml")
    if not svg:
        return bundle
    found = [re.search(rf'<{tag} id="mh-{tag}">([^<]*)</{tag}>', svg) for tag in ("title", "desc")]
    words = [html.unescape(m.group(1)) for m in found if m and m.group(1)]
    alt = ". ".join(w.rstrip(".") for w in words) + "." if words else "a mailhops diagram"
    img = (f'<img class="mailhops-svg" src="data:image/svg+xml,{quote(svg)}" alt="{html.escape(alt)}" '
           f'style="max-width:100%;height:auto">')
    return {**bundle, "text/html": img}


class Diagram:
    """A diagram for a notebook cell: Jupyter shows it as SVG (or, without Graphviz, a friendly note).

    >>> from mailhops.topology import Topology
    >>> "image/svg+xml" in diagram(Topology("empty"))._repr_mimebundle_()
    True
    """

    def __init__(self, obj: Any, **kw: Any) -> None:
        self.obj, self.kw = obj, kw

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return with_alt_text(rd.repr_mimebundle(fit_width(rd.render(self.obj, **self.kw))))

    def svg(self) -> str:
        return rd.to_svg(fit_width(rd.render(self.obj, **self.kw)))


def diagram(obj: Any, **kw: Any) -> Diagram:
    """Show ``obj`` (a Journey, a Topology or a graphviz graph) as a picture; keywords as :func:`mailhops.draw.render`."""
    return Diagram(obj, **kw)


class DiagramView(W.Output):
    """An Output area that shows one diagram as SVG (CSS class ``mailhops-diagram``).

    The SVG goes in as display data, so JupyterLab renders it as an image; ``.svg`` holds its text.
    """

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("layout", W.Layout(width="100%", overflow="auto"))
        super().__init__(**kw)
        self.add_class("mailhops-diagram")
        self.svg: str | None = None
        self.drawn: tuple[Any, dict[str, Any]] | None = None
        self._cache: dict[Any, dict[str, str]] = {}
        self.browser: browser_graph.BrowserDiagram | None = None  # where dot cannot run: drawn in the page
        #: which drawing of a journey: its route ("journey"), the SMTP dialogue ("sequence") or the header stack
        self.view = "journey"

    def draw(self, obj: Any, *, cache_key: Any = None, **kw: Any) -> None:
        """Replace the picture by the diagram of ``obj`` (keywords as :func:`mailhops.draw.render`).

        Where ``dot`` cannot run, one :class:`~mailhops.widgets.browser_graph.BrowserDiagram` draws it in
        the page instead, and each later call only sends it the new DOT source.
        """
        if isinstance(obj, Journey):
            kw.setdefault("view", self.view)
            if kw["view"] != "journey":
                kw.pop("topology", None)
        if cache_key is not None:
            cache_key = (cache_key, kw.get("view"))
        if browser_graph.draws_in_browser():
            self._draw_in_browser(obj, cache_key, kw)
            return
        bundle = self._cache.get(cache_key) if cache_key is not None else None
        if bundle is None:
            bundle = with_alt_text(rd.repr_mimebundle(fit_width(rd.render(obj, **kw))))
            if cache_key is not None:
                if len(self._cache) > 64:
                    self._cache.clear()
                self._cache[cache_key] = bundle
        data = dict(bundle)
        data.setdefault("text/plain", "(a mailhops diagram)")
        self.svg = data.get("image/svg+xml")
        self.drawn = (obj, kw)
        self.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)

    def _draw_in_browser(self, obj: Any, cache_key: Any, kw: dict[str, Any]) -> None:
        cached = self._cache.get(cache_key) if cache_key is not None else None
        source = cached["text/vnd.graphviz"] if cached else fit_width(rd.render(obj, **kw)).source
        if cache_key is not None and not cached:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[cache_key] = {"text/vnd.graphviz": source}
        self.svg = None
        self.drawn = (obj, kw)
        if self.browser is None:
            self.browser = browser_graph.BrowserDiagram(source)
            self.outputs = ({"output_type": "display_data", "metadata": {},
                             "data": browser_graph.browser_fallback_view(self.browser)},)
        else:
            self.browser.dot = source


_NEW_BG = "#fff3bf"
_NEW_BAR = "#e69f00"


def _header_html(lines: list[HeaderLine], step: int | str | None) -> str:
    rows = []
    shown_original = False
    for line in lines:
        text = html.escape(line.text)
        if line.kind == "original" and not shown_original:
            shown_original = True
            rows.append('<div style="margin:6px 0 2px;color:#666;font-family:sans-serif;font-size:12px">'
                        "&#8595; written by the sender's mail program (the servers' lines above were added on top)</div>")
        if line.kind == "trace":
            tag = f"hop {line.hop}"
            style = (f"background:{_NEW_BG};border-left:4px solid {_NEW_BAR};" if line.new
                     else "border-left:4px solid #d0d0d0;")
            badge = (f'<span style="float:right;font-family:sans-serif;font-size:11px;color:#8a5a00">'
                     f'{"new: " if line.new else ""}{tag}</span>')
            rows.append(f'<div class="mh-field mh-trace{" mh-new" if line.new else ""}" data-hop="{line.hop}" '
                        f'style="{style}padding:2px 6px;margin:1px 0">{badge}{text}</div>')
        else:
            rows.append(f'<div class="mh-field mh-original" style="border-left:4px solid transparent;'
                        f'padding:2px 6px;color:#555">{text}</div>')
    if not any(line.kind == "trace" for line in lines):
        rows.insert(0, '<div style="color:#666;font-family:sans-serif;font-size:12px;margin-bottom:4px">'
                       "No server has handled the message yet, so it has no trace headers.</div>")
    return (f'<div style="{PAPER}font-family:{MONO};font-size:12px;white-space:pre-wrap;line-height:1.35;'
            f'max-height:420px;overflow:auto">{"".join(rows)}</div>')


class HeaderView(W.HTML):
    """The message's header fields, newest on top, the latest hop's lines highlighted (class ``mailhops-headers``)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.add_class("mailhops-headers")
        self.lines: list[HeaderLine] = []

    def show(self, journey: Journey, step: int | str | None) -> None:
        self.lines = headers_at(journey, step)
        self.value = _header_html(self.lines, step)
