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

__all__ = ["draw_header_panels", "panel"]


def draw_header_panels(cv: Canvas, route: Route, step: int | str | None) -> str | None:
    """Panels with the header lines of every accepted hop (only ``step``'s, when one is highlighted).

    Beside each receiving server (at most two hops each) as a rule; on a slide frame, returns the
    panel for the caption instead (``None`` otherwise).
    """
    stamped = [(edge.prefix, hop, edge.dst) for edge in route.edges if edge.kind not in FAILED
               for hop, s in zip(edge.hops, edge.steps, strict=True) if step is None or s == step]
    if stamped and cv.slide and step is not None:  # a slide frame: the step's lines under the picture, full width
        return panel(cv, [(p, h) for p, h, _ in stamped[:2]])
    by_node: dict[str, list[tuple[str, Hop]]] = {}
    for prefix, hop, dst in stamped:
        by_node.setdefault(dst, []).append((prefix, hop))
    for dst, items in by_node.items():
        _panel_beside(cv, dst, items)
    return None


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
        if len(pieces) > cap:
            pieces = pieces[:cap]
            pieces[-1] += " …"
        name, sep, rest = pieces[0].partition(":")
        first = f"<B>{name}{sep}</B>{rest}" if sep and " " not in name else pieces[0]
        body = "".join(f"{'&#160;&#160;&#160;&#160;' if i else ''}{p if i else first}<BR ALIGN=\"LEFT\"/>"
                       for i, p in enumerate(pieces))
        rows.append(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT FACE="{t.mono}" POINT-SIZE="{cv.sz["mono"]:g}">'
                    f"{body}</FONT></TD></TR>")
    return rows
