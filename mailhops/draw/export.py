"""From a record to a picture: :func:`render` picks the drawing, ``dot`` turns it into SVG, PNG or PDF
(:func:`to_svg`, :func:`export`, :func:`export_frames`), and :func:`repr_mimebundle` is what Jupyter shows.

Without ``dot`` every one of them raises a :class:`~mailhops.errors.RenderError` carrying the DOT
source and the install instructions (:data:`INSTALL_HINT`), never a traceback from a subprocess;
Jupyter then shows that note and the source.

>>> FORMATS
('svg', 'png', 'pdf')
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any

import graphviz

from ..errors import RenderError
from ..journey import Journey
from ..topology import Topology
from .canvas import SLIDE_SIZE
from .journey import render_journey
from .themes import Theme
from .topology import render_topology

__all__ = [
    "FORMATS",
    "INSTALL_HINT",
    "SLIDE_DPI",
    "SLIDE_SIZE",
    "export",
    "export_frames",
    "frame_steps",
    "render",
    "repr_mimebundle",
    "to_svg",
]

#: Output formats :func:`export` writes.
FORMATS = ("svg", "png", "pdf")
#: PNG resolution by default: a 13.333-inch-wide slide becomes 1920 pixels wide.
SLIDE_DPI = 144.0

INSTALL_HINT = (
    "install it with `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`winget install graphviz` or `choco install graphviz` (Windows) or `conda install -c conda-forge graphviz` "
    "(conda), then restart Python"
)


def render(obj: Any, *, theme: str | Theme = "light", slide: bool = False, headers: bool = False,
           highlight: int | str | None = None, topology: Topology | None = None) -> graphviz.Digraph:
    """The diagram of ``obj``: a :class:`Topology`, a :class:`Journey`, or a Digraph/Source (returned as is).

    >>> render(Topology("empty")).name
    'mailhops_topology'
    """
    if isinstance(obj, (graphviz.Digraph, graphviz.Graph, graphviz.Source)):
        return obj
    if isinstance(obj, Journey):
        return render_journey(obj, theme=theme, headers=headers, highlight=highlight, slide=slide, topology=topology)
    if isinstance(obj, Topology):
        return render_topology(obj, theme=theme, slide=slide)
    raise RenderError(f"Cannot draw a {type(obj).__name__}; give a Topology, a Journey or a graphviz graph.")


# ------------------------------------------------------------------------------------ running dot
def _missing_dot(source: str) -> RenderError:
    err = RenderError(f"Graphviz `dot` is not installed or not on PATH, so the diagram cannot be drawn; {INSTALL_HINT}.")
    err.source = source  # type: ignore[attr-defined]
    return err


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
    copy.graph_attr["viewport"] = f"{width:.0f},{height:.0f},{zoom:.4f}"
    copy.graph_attr["margin"] = "0"  # PDF and PostScript otherwise add half an inch all round
    if "dpi" in graph.graph_attr:
        copy.graph_attr["dpi"] = graph.graph_attr["dpi"]
    return copy


def _pipe(graph: graphviz.Digraph | graphviz.Graph | graphviz.Source, fmt: str) -> bytes:
    """``graph`` drawn by ``dot`` in ``fmt``; a missing or failing ``dot`` becomes a :class:`RenderError`."""
    try:
        return _slide_canvas(graph).pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise _missing_dot(graph.source) from None
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        first = stderr.strip().splitlines()[0] if stderr.strip() else f"exit status {exc.returncode}"
        err = RenderError(f"Graphviz `dot` could not draw the diagram ({first}).")
        err.source = graph.source  # type: ignore[attr-defined]
        raise err from None


def _with_dpi(graph: Any, dpi: float) -> Any:
    if isinstance(graph, graphviz.Source):
        return graph
    copy = graph.copy()
    copy.graph_attr["dpi"] = f"{dpi:g}"
    return copy


def _format_of(path: Path, format: str | None) -> str:
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise RenderError(f"Cannot tell which picture format to write for {path.name!r}; use a .svg, .png or .pdf "
                          f"file name or say --format svg|png|pdf.")
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
           topology: Topology | None = None) -> Path:
    """Write ``obj``'s diagram to ``path`` as SVG, PNG or PDF (the suffix decides unless ``format`` says).

    PNG resolution: ``dpi`` (default :data:`SLIDE_DPI`, so a slide-sized picture is 1920 px wide).
    Returns the path written; raises :class:`RenderError` when ``dot`` is missing.

    >>> import tempfile, pathlib
    >>> out = export(Topology("empty"), pathlib.Path(tempfile.mkdtemp()) / "t.svg")
    >>> out.read_text()[:5]
    '<?xml'
    """
    path = Path(path)
    fmt = _format_of(path, format)
    graph = render(obj, theme=theme, slide=slide, headers=headers, highlight=highlight, topology=topology)
    if fmt == "png":
        graph = _with_dpi(graph, dpi if dpi is not None else SLIDE_DPI)
    data = _pipe(graph, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise RenderError(f"Cannot write the picture to {path}: {err.strerror or err}.") from None
    return path


def frame_steps(journey: Journey) -> list[int | str]:
    """The steps a step-by-step build shows: every hop number (failed attempts included), then the bounce's.

    >>> from mailhops.journey import Hop, Journey
    >>> frame_steps(Journey(hops=[Hop(1), Hop(2)], attempts=[Hop(2, status="unreachable")]))
    [1, 2]
    """
    steps: list[int | str] = sorted({h.n for h in [*journey.hops, *journey.attempts]})
    if journey.bounce is not None:
        steps += [f"B{n}" for n in sorted({h.n for h in [*journey.bounce.hops, *journey.bounce.attempts]})]
    return steps


def export_frames(journey: Journey, directory: str | os.PathLike[str], *, format: str = "svg",
                  theme: str | Theme = "light", slide: bool = False, dpi: float | None = None,
                  headers: bool = False, topology: Topology | None = None) -> list[Path]:
    """Write one picture per step into ``directory``: ``hop-01.svg`` highlights hop 1, and so on.

    Frames after the journey's last hop show the bounce's hops (``B1``, ``B2``, ...). Returns the paths.
    """
    fmt = _format_of(Path(f"frame.{format}"), format)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, step in enumerate(frame_steps(journey), start=1):
        paths.append(export(journey, out / f"hop-{i:02d}.{fmt}", format=fmt, theme=theme, slide=slide, dpi=dpi,
                            headers=headers, highlight=step, topology=topology))
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
        text = f"{err}\n\nDOT source (paste it into any Graphviz viewer):\n\n{source}"
        page = (f'<div class="mailhops-render-error"><p><b>Cannot draw the diagram.</b> {html.escape(str(err))}</p>'
                f"<details><summary>DOT source</summary><pre>{html.escape(source)}</pre></details></div>")
        return {"text/plain": text, "text/html": page}
