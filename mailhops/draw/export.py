"""From a record to a picture: :func:`render` picks the drawing, ``dot`` turns it into SVG, PNG or PDF
(:func:`to_svg`, :func:`export`, :func:`export_frames`), and :func:`repr_mimebundle` is what Jupyter shows.

Without ``dot`` every one of them raises a :class:`~mailhops.errors.RenderError` carrying the DOT
source and the install instructions (:data:`INSTALL_HINT`), never a traceback from a subprocess;
Jupyter then shows that note and the source.

>>> FORMATS
('svg', 'png', 'pdf', 'pptx')
"""

from __future__ import annotations

import html
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import graphviz

from ..errors import RenderError
from ..journey import Journey
from ..topology import Topology
from .canvas import SLIDE_SIZE
from .escape import display_text
from .journey import BUILDS, frame_steps, render_journey
from .themes import Theme
from .topology import render_topology
from .views import VIEWS, render_header_stack, render_sequence

__all__ = [
    "FORMATS",
    "INSTALL_HINT",
    "SLIDE_DPI",
    "SLIDE_SIZE",
    "SlideTooSmall",
    "export",
    "export_frames",
    "frame_steps",
    "render",
    "repr_mimebundle",
    "set_browser_fallback",
    "to_svg",
]

#: Output formats :func:`export` writes (``pptx``: a slide deck, one slide per step, see :mod:`.deck`).
FORMATS = ("svg", "png", "pdf", "pptx")
#: The smallest type (points on a 13.333 x 7.5 in slide) for what the room must read: names, hop numbers.
SLIDE_MIN_PT = 18.0
#: The smallest type (points on the slide) for anything else: roles, legend, header lines.
SLIDE_TEXT_MIN_PT = 12.0


class SlideTooSmall(UserWarning):
    """A slide whose main text comes out under :data:`SLIDE_MIN_PT` once scaled to 16:9 (the CLI prints it)."""
#: PNG resolution by default: a 13.333-inch-wide slide becomes 1920 pixels wide.
SLIDE_DPI = 144.0

INSTALL_HINT = (
    "install it with `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`winget install graphviz` or `choco install graphviz` (Windows) or `conda install -c conda-forge graphviz` "
    "(conda), then restart Python"
)


def render(obj: Any, *, theme: str | Theme = "light", slide: bool = False, headers: bool = False,
           highlight: int | str | None = None, topology: Topology | None = None, build: str = "fade",
           view: str = "journey") -> graphviz.Digraph:
    """The diagram of ``obj``: a :class:`Topology`, a :class:`Journey`, or a Digraph/Source (returned as is).

    A journey is drawn as its route (``view="journey"``), as the SMTP dialogue of each hop
    (``"sequence"``) or as its header stack growing hop by hop (``"headers"``).

    >>> render(Topology("empty")).name
    'mailhops_topology'
    """
    if isinstance(obj, (graphviz.Digraph, graphviz.Graph, graphviz.Source)):
        return obj
    if view not in VIEWS:
        raise RenderError(f"Unknown view {view!r}; choose one of {', '.join(VIEWS)}.")
    if isinstance(obj, Journey):
        if view == "sequence":
            return render_sequence(obj, theme=theme, highlight=highlight, slide=slide, build=build)
        if view == "headers":
            return render_header_stack(obj, theme=theme, highlight=highlight, slide=slide, build=build)
        return render_journey(obj, theme=theme, headers=headers, highlight=highlight, slide=slide, topology=topology,
                              build=build)
    if isinstance(obj, Topology):
        if view != "journey":
            raise RenderError(f"The {view} view draws a journey; a topology has only its own picture.")
        return render_topology(obj, theme=theme, slide=slide)
    raise RenderError(f"Cannot draw a {type(obj).__name__}; give a Topology, a Journey or a graphviz graph.")


# ------------------------------------------------------------------------------------ running dot
def _missing_dot(source: str, why: str = "is not installed or not on PATH") -> RenderError:
    err = RenderError(f"Graphviz `dot` {why}, so the diagram cannot be drawn; {INSTALL_HINT}.")
    err.source = source  # type: ignore[attr-defined]
    err.missing_dot = True  # type: ignore[attr-defined]
    return err


#: Called with the DOT source when ``dot`` cannot run; returns what Jupyter shows instead, or None.
#: :mod:`mailhops.widgets` sets it (a diagram drawn in the browser by WebAssembly Graphviz); drawing
#: itself knows nothing of widgets.
_browser_fallback: Callable[[str], dict[str, Any] | None] | None = None


def set_browser_fallback(fallback: Callable[[str], dict[str, Any] | None] | None) -> None:
    """Show ``fallback(dot_source)`` in Jupyter wherever ``dot`` cannot run (None: the friendly note again)."""
    global _browser_fallback
    _browser_fallback = fallback


def _slide_canvas(graph: Any) -> Any:
    """A copy of a slide graph whose output is exactly 13.333 x 7.5 in, the drawing centred and scaled to fit.

    The DOT source of a slide says ``size="13.333,7.5!"`` and ``ratio=fill``, which any Graphviz
    honours; but dot (2.43) then leaves the picture a little off 16:9 (padding and caption are not
    counted) and mis-scales a ``viewport`` at a dpi other than 72. So for export a first run measures
    the natural size, and the copy drops ``size``/``ratio`` for ``viewport="960,540,zoom"``:
    exactly 16:9 at every dpi, at the largest zoom (at most 2) that fits.
    """
    if isinstance(graph, graphviz.Source) or graph.graph_attr.get("size") != SLIDE_SIZE \
            or "viewport" in graph.graph_attr:
        return graph
    copy = graph.copy()
    for key in ("size", "ratio", "dpi"):
        copy.graph_attr.pop(key, None)
    natural = copy.pipe(format="svg", quiet=True).decode("utf-8")
    match = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', natural)
    width, height = (float(x) * 72 for x in SLIDE_SIZE.rstrip("!").split(","))
    zoom = min(width / float(match.group(1)), height / float(match.group(2)), 2.0) if match else 1.0
    warning = slide_warning(graph.graph_attr, zoom)
    if warning:
        warnings.warn(SlideTooSmall(warning), stacklevel=4)
    copy.graph_attr["viewport"] = f"{width:.0f},{height:.0f},{zoom:.4f}"
    copy.graph_attr["margin"] = "0"  # PDF and PostScript otherwise add half an inch all round
    if "dpi" in graph.graph_attr:
        copy.graph_attr["dpi"] = graph.graph_attr["dpi"]
    return copy


def slide_warning(attrs: dict[str, str], zoom: float) -> str | None:
    """The one line that says a slide's type comes out too small at ``zoom`` (None when it reads well): names,
    hop numbers and protocols under :data:`SLIDE_MIN_PT`, or any text under :data:`SLIDE_TEXT_MIN_PT`.

    >>> slide_warning({"mh_minpt": "21", "mh_minsmall": "15"}, 1.0) is None
    True
    >>> slide_warning({"mh_minpt": "21", "mh_minsmall": "15"}, 0.7)[:46]
    'On this slide the names come out at 14.7 pt an'
    """
    names, small = float(attrs.get("mh_minpt", "0")), float(attrs.get("mh_minsmall", "0"))
    if not names or (names * zoom >= SLIDE_MIN_PT - 0.05 and small * zoom >= SLIDE_TEXT_MIN_PT - 0.05):
        return None
    better = ("a deck (-o deck.pptx) keeps the header lines in its speaker notes, and the slide without --headers "
              "has the room" if attrs.get("mh_headers") == "1" else
              "--frames (one picture per step, with its caption) or a topology with fewer servers reads better")
    return (f"On this slide the names come out at {names * zoom:.1f} pt and the smallest text at {small * zoom:.1f} pt, "
            f"under the {SLIDE_MIN_PT:g} pt and {SLIDE_TEXT_MIN_PT:g} pt a room can read; {better}.")


def _pipe(graph: graphviz.Digraph | graphviz.Graph | graphviz.Source, fmt: str) -> bytes:
    """``graph`` drawn by ``dot`` in ``fmt``; a missing or failing ``dot`` becomes a :class:`RenderError`.

    SVG gets its text alternative (:func:`accessible_svg`)."""
    try:
        data = _slide_canvas(graph).pipe(format=fmt, quiet=True)
        if fmt == "svg" and not isinstance(graph, graphviz.Source):
            return accessible_svg(data.decode("utf-8"), graph.graph_attr).encode("utf-8")
        return data
    except graphviz.ExecutableNotFound:
        raise _missing_dot(graph.source) from None
    except OSError as exc:  # e.g. in the browser (Pyodide): "emscripten does not support processes"
        raise _missing_dot(graph.source, f"cannot run here ({exc.strerror or exc})") from None
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        first = stderr.strip().splitlines()[0] if stderr.strip() else f"exit status {exc.returncode}"
        err = RenderError(f"Graphviz `dot` could not draw the diagram ({first}).")
        err.source = graph.source  # type: ignore[attr-defined]
        raise err from None


_ELEMENT = re.compile(r'(<g id="[^"]*" class="(?:node|edge)[^"]*">\n<title>)([^<]*)(</title>\n<g id="a_[^"]*">'
                      r'<a xlink:title="([^"]*)">)')


def accessible_svg(svg: str, attrs: dict[str, str]) -> str:
    """``svg`` with ``role="img"``, a ``<title>`` and ``<desc>`` (from the graph's ``mh_title``/``mh_desc``)
    that screen readers announce, and each node's and edge's title in words (from its tooltip) instead of
    its opaque ID.

    >>> svg = '<svg width="1pt">' + chr(10) + '<g id="graph0" class="graph">' + chr(10) + '<title>x</title>'
    >>> out = accessible_svg(svg, {"mh_title": "demo: delivered", "mh_desc": "Hop 1: a → b."})
    >>> 'role="img"' in out and '<title id="mh-title">demo: delivered</title>' in out and '<desc' in out
    True
    """
    title = attrs.get("mh_title") or "mailhops diagram"
    desc = attrs.get("mh_desc", "")
    svg = re.sub(r"(<svg [^>]*)>", r'\1 role="img" aria-labelledby="mh-title mh-desc">', svg, count=1)
    head = (f'<title id="mh-title">{html.escape(display_text(title))}</title>\n'
            f'<desc id="mh-desc">{html.escape(display_text(desc))}</desc>\n')
    svg = re.sub(r"(<svg [^>]*>\n)", lambda m: m.group(1) + head, svg, count=1)
    svg = re.sub(r'(<g id="graph0" class="graph"[^>]*>\n)<title>[^<]*</title>\n', r"\1", svg, count=1)
    return _ELEMENT.sub(lambda m: m.group(1) + m.group(4) + m.group(3), svg)


def _with_dpi(graph: Any, dpi: float) -> Any:
    if isinstance(graph, graphviz.Source):
        return graph
    copy = graph.copy()
    copy.graph_attr["dpi"] = f"{dpi:g}"
    return copy


def _format_of(path: Path, format: str | None) -> str:
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise RenderError(f"Cannot tell which picture format to write for {path.name!r}; use a .svg, .png, .pdf "
                          f"or .pptx file name or say --format svg|png|pdf|pptx.")
    return fmt


# ------------------------------------------------------------------------------------------ output
def to_svg(obj: Any, **kw: Any) -> str:
    """The SVG text of ``obj``'s diagram (keywords as for :func:`render`); needs ``dot``.

    >>> to_svg(Topology("empty")).lstrip().startswith("<?xml")
    True
    """
    return _pipe(render(obj, **kw), "svg").decode("utf-8")


def export(obj: Any, path: str | os.PathLike[str], *, format: str | None = None, theme: str | Theme = "light",
           slide: bool = False, dpi: float | None = None, headers: bool = False, highlight: int | str | None = None,
           topology: Topology | None = None, build: str = "fade", view: str = "journey") -> Path:
    """Write ``obj``'s diagram to ``path`` as SVG, PNG or PDF (the suffix decides unless ``format`` says),
    or a journey as a slide deck (``.pptx``, see :func:`mailhops.draw.deck.write_deck`).

    PNG resolution: ``dpi`` (default :data:`SLIDE_DPI`, so a slide-sized picture is 1920 px wide).
    Returns the path written; raises :class:`RenderError` when ``dot`` is missing.

    >>> import tempfile, pathlib
    >>> out = export(Topology("empty"), pathlib.Path(tempfile.mkdtemp()) / "t.svg")
    >>> out.read_text()[:5]
    '<?xml'
    """
    path = Path(path)
    fmt = _format_of(path, format)
    if fmt == "pptx":
        from .deck import write_deck

        if not isinstance(obj, Journey):
            raise RenderError("A slide deck shows a journey step by step; give a scenario or a message, not a topology.")
        return write_deck(obj, path, theme=theme, headers=headers, topology=topology, build=build, view=view)
    graph = render(obj, theme=theme, slide=slide, headers=headers, highlight=highlight, topology=topology,
                   build=build, view=view)
    if fmt == "png":
        graph = _with_dpi(graph, dpi if dpi is not None else SLIDE_DPI)
    data = _pipe(graph, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise RenderError(f"Cannot write the picture to {path}: {err.strerror or err}.") from None
    return path


def frame_name(step: int | str) -> str:
    """The file stem of a step's frame: ``step-03`` for hop 3, ``step-b1`` for the bounce's first hop.

    >>> frame_name(3), frame_name("B1")
    ('step-03', 'step-b1')
    """
    return f"step-{step:02d}" if isinstance(step, int) else f"step-{str(step).lower()}"


def export_frames(journey: Journey, directory: str | os.PathLike[str], *, format: str = "svg",
                  theme: str | Theme = "light", slide: bool = False, dpi: float | None = None,
                  headers: bool = False, topology: Topology | None = None, build: str = "fade",
                  view: str = "journey") -> list[Path]:
    """Write one picture per step into ``directory``: ``step-01.svg`` is about hop 1, ``step-b1.svg`` about
    the bounce's first hop. Every frame has the same layout; later steps are faded (``build="fade"``) or
    absent (``build="hide"``). Returns the paths.
    """
    fmt = _format_of(Path(f"frame.{format}"), format)
    if fmt == "pptx":
        raise RenderError("--frames writes pictures (svg, png or pdf); for a deck write -o deck.pptx.")
    if build not in BUILDS:
        raise RenderError(f"Unknown build {build!r}; choose fade (later steps faded) or hide (later steps absent).")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with warnings.catch_warnings(record=True) as caught:  # one warning for the whole build, not one a frame
        warnings.simplefilter("always", SlideTooSmall)
        for step in frame_steps(journey):
            paths.append(export(journey, out / f"{frame_name(step)}.{fmt}", format=fmt, theme=theme, slide=slide,
                                dpi=dpi, headers=headers, highlight=step, topology=topology, build=build, view=view))
    small = [w for w in caught if issubclass(w.category, SlideTooSmall)]
    if small:
        warnings.warn(small[0].message, stacklevel=2)
    return paths


# ------------------------------------------------------------------------------------------ Jupyter
def repr_mimebundle(obj: Any, include: Any = None, exclude: Any = None, **kw: Any) -> dict[str, str]:
    """What Jupyter shows for ``obj``: the SVG diagram, or without ``dot`` a friendly note and the DOT source.

    >>> sorted(repr_mimebundle(Topology("empty")))
    ['image/svg+xml']
    """
    try:
        return {"image/svg+xml": to_svg(obj, **kw)}
    except RenderError as err:
        source = getattr(err, "source", "")
        if getattr(err, "missing_dot", False) and _browser_fallback is not None:
            shown = _browser_fallback(source)
            if shown:
                return shown
        text = f"{err}\n\nDOT source (paste it into any Graphviz viewer):\n\n{source}"
        page = (f'<div class="mailhops-render-error"><p><b>Cannot draw the diagram.</b> {html.escape(str(err))}</p>'
                f"<details><summary>DOT source</summary><pre>{html.escape(source)}</pre></details></div>")
        return {"text/plain": text, "text/html": page}
