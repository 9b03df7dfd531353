"""Header panels: the header lines each hop added, in a table beside the server that stamped them,
or, on a slide frame, under the picture at full width.

>>> from mailhops.journey import Hop
>>> from mailhops.draw.canvas import Canvas
>>> from mailhops.draw.themes import get_theme
>>> cv = Canvas(get_theme("light"), slide=False, name="demo")
>>> table = panel(cv, [("", Hop(1, added_headers=["Received: by mx.example.net; Mon, 2 Mar 2026 09:00:05 +0000"]))])
>>> "hop 1 added" in table and "<B>Received:</B>" in table
True
"""

from __future__ import annotations

from ..journey import Hop
from .canvas import Canvas
from .escape import escape_label, wrap_label
from .route import FAILED, Route

__all__ = ["draw_header_panels", "panel", "slide_panel"]


def draw_header_panels(cv: Canvas, route: Route, step: int | str | None) -> str | None:
    """Panels with the header lines of every accepted hop (only ``step``'s, when one is highlighted).

    Beside each receiving server (at most two hops each) as a rule; on a slide frame, returns the
    panel for the caption instead (``None`` otherwise).
    """
    stamped = [(edge.prefix, hop, edge.dst) for edge in route.edges if edge.kind not in FAILED
               for hop, s in zip(edge.hops, edge.steps, strict=True) if step is None or s == step]
    by_node: dict[str, list[tuple[str, Hop]]] = {}
    for prefix, hop, dst in stamped:
        by_node.setdefault(dst, []).append((prefix, hop))
    for dst, items in by_node.items():
        _panel_beside(cv, dst, items)
    return None


def slide_panel(cv: Canvas, route: Route, step: int | str | None, padded: bool = True) -> str | None:
    """The one header panel of a slide: the lines ``step``'s hop added, under or beside the picture. Received
    lines stay whole (wrapped, never cut: their with/id/for/date parts are the lesson); other fields keep
    their first two lines. ``padded``: as tall as the tallest step's panel, so no frame of a build jumps.

    One cell of text, left aligned at the top: a taller cell leaves room below, it does not spread the lines.
    """
    t = cv.theme
    items = _slide_items(route, step)
    if not items and not padded:
        return None
    lines = [line for prefix, hop in items for line in _slide_lines(cv, hop, prefix)]
    if padded:
        steps = {k for edge in route.edges for k in edge.steps}
        height = max((_lines_height(cv, [x for p, h in _slide_items(route, k) for x in _slide_lines(cv, h, p)])
                      for k in steps), default=0.0)
    else:
        height = _lines_height(cv, lines)
    width = round(cv.sz["wrap"] * 0.6 * cv.sz["mono"] + 12)  # Liberation Mono: 0.6 em a character
    body = "".join(f"{line}<BR ALIGN=\"LEFT\"/>" for line in lines) or "&#160;"
    return (f'<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="6" BGCOLOR="{t.panel_fill}" '
            f'COLOR="{t.panel_line}" STYLE="rounded"><TR><TD WIDTH="{width}" HEIGHT="{round(height)}" '
            f'VALIGN="TOP" ALIGN="LEFT" BALIGN="LEFT">{body}</TD></TR></TABLE>')


def _slide_items(route: Route, step: int | str | None) -> list[tuple[str, Hop]]:
    """The (prefix, hop) whose header lines a slide about ``step`` shows: that step's accepted hop."""
    return [(edge.prefix, hop) for edge in route.edges if edge.kind not in FAILED
            for hop, k in zip(edge.hops, edge.steps, strict=True) if k == step][:1]


#: Lines of a header field other than Received on a slide (the deck's speaker notes hold them whole).
SLIDE_FIELD_LINES = 1


def _slide_lines(cv: Canvas, hop: Hop, prefix: str) -> list[str]:
    """The lines of a slide panel for ``hop``: a "hop N added" line, then its header lines, wrapped."""
    t = cv.theme
    fields = list(hop.added_headers) or ([f"Received: {hop.raw}"] if hop.raw else ["(no header recorded)"])
    out = [f'<FONT POINT-SIZE="{cv.sz["small"]:g}" COLOR="{t.muted}"><B>{escape_label(f"hop {prefix}{hop.n} added")}'
           f"</B></FONT>"]
    mono = f'<FONT FACE="{t.mono}" POINT-SIZE="{cv.sz["mono"]:g}">'
    for field_text in fields:
        pieces = wrap_label(" ".join(field_text.split()), cv.sz["wrap"])
        if len(pieces) > SLIDE_FIELD_LINES and not field_text.lower().startswith("received:"):
            pieces = [*pieces[:SLIDE_FIELD_LINES - 1], pieces[SLIDE_FIELD_LINES - 1] + " …"]
        name, sep, rest = pieces[0].partition(":")
        pieces[0] = f"<B>{name}{sep}</B>{rest}" if sep and " " not in name else pieces[0]
        out += [f"{mono}{'&#160;' * 4 if i else ''}{piece}</FONT>" for i, piece in enumerate(pieces)]
    return out


def _lines_height(cv: Canvas, lines: list[str]) -> float:
    """Points the ``lines`` of a slide panel take (dot: 1 em a line of Liberation Mono, a little more for the
    sans-serif title line; a margin for rounding, since a cell shorter than its text would grow and jump)."""
    return sum(cv.sz["mono"] * 1.03 if "FACE=" in line else cv.sz["small"] * 1.25 for line in lines) + 4


def _panel_beside(cv: Canvas, dst: str, items: list[tuple[str, Hop]]) -> None:
    """The panel of the first two of ``items`` on the rank of node ``dst``, tied to it by a dashed line."""
    pid = cv.new_id()
    table = panel(cv, items[:2])
    if len(items) > 2:
        more = escape_label(f"… and {len(items) - 2} more hops into this server")
        table = table.replace("</TABLE>", f'<TR><TD ALIGN="LEFT">{cv.small(more)}</TD></TR></TABLE>')
    with cv.g.subgraph() as same:
        same.attr(rank="same")
        same.node(dst)
        same.node(pid, label=f"<{table}>", shape="plain", style="", **{"class": "panel"})
    cv.g.edge(dst, pid, style="dashed", arrowhead="none", color=cv.theme.panel_line, penwidth="1",
              **{"class": "panel-link"})


def panel(cv: Canvas, hops: list[tuple[str, Hop]]) -> str:
    """An HTML-like table with the header lines each of ``hops`` (prefix, hop) added."""
    t = cv.theme
    rows: list[str] = []
    for prefix, hop in hops:
        rows.extend(_header_rows(cv, hop, prefix, t.muted))
    return (f'<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" BGCOLOR="{t.panel_fill}" '
            f'COLOR="{t.panel_line}" STYLE="rounded">{"".join(rows)}</TABLE>')


def _header_rows(cv: Canvas, hop: Hop, prefix: str, muted: str) -> list[str]:
    """A "hop N added" row, then one row per header line, wrapped, the field name in bold."""
    t = cv.theme
    lines = list(hop.added_headers) or ([f"Received: {hop.raw}"] if hop.raw else [])
    if not lines:
        lines = ["(no header recorded)"]
    width, cap = cv.sz["wrap"], cv.sz["header_lines"]
    rows = [f'<TR><TD ALIGN="LEFT"><FONT FACE="{t.font}" POINT-SIZE="{cv.sz["small"]:g}" COLOR="{muted}">'
            f'<B>{escape_label(f"hop {prefix}{hop.n} added")}</B></FONT></TD></TR>']
    for line in lines:
        pieces = wrap_label(line, width)
        if len(pieces) > cap and not line.lower().startswith("received:"):  # Received lines stay whole
            pieces = pieces[:cap]
            pieces[-1] += " …"
        name, sep, rest = pieces[0].partition(":")
        first = f"<B>{name}{sep}</B>{rest}" if sep and " " not in name else pieces[0]
        body = "".join(f"{'&#160;&#160;&#160;&#160;' if i else ''}{p if i else first}<BR ALIGN=\"LEFT\"/>"
                       for i, p in enumerate(pieces))
        rows.append(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT FACE="{t.mono}" POINT-SIZE="{cv.sz["mono"]:g}">'
                    f"{body}</FONT></TD></TR>")
    return rows
