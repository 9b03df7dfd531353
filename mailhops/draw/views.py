"""Two more ways to draw a journey: the SMTP dialogue of each hop as a sequence diagram
(:func:`render_sequence`) and the header stack growing hop by hop, newest on top (:func:`render_header_stack`).

Both use the same themes and slide size as the route drawing, and take ``highlight`` for build frames.

>>> from mailhops.journey import Hop, Journey, SmtpLine
>>> hop = Hop(1, from_name="a.example", by_name="b.example", smtp=[SmtpLine("S", "220 b.example ESMTP"),
...           SmtpLine("C", "EHLO a.example"), SmtpLine("S", "250 b.example")])
>>> g = render_sequence(Journey(hops=[hop]))
>>> "EHLO a.example" in g.source and "220 b.example ESMTP" in g.source
True
"""

from __future__ import annotations

import graphviz

from ..errors import RenderError
from ..journey import Hop, Journey, SmtpLine
from .canvas import Canvas
from .escape import display_text, escape_label, wrap_label
from .themes import Theme, get_theme

__all__ = ["VIEWS", "render_header_stack", "render_sequence"]

#: The ways a journey can be drawn: its route, the SMTP dialogue, the header stack.
VIEWS = ("journey", "sequence", "headers")


def _hops(journey: Journey) -> list[tuple[str, Hop]]:
    """(step key, hop) for every hop and failed attempt, then the bounce's."""
    out: list[tuple[str, Hop]] = [(str(h.n), h) for h in journey.timeline()]
    if journey.bounce is not None:
        out += [(f"B{h.n}", h) for h in journey.bounce.timeline()]
    return out


def _step_key(highlight: int | str | None) -> str | None:
    if highlight is None:
        return None
    text = str(highlight).strip().upper()
    if not (text.isdigit() or (text[:1] == "B" and text[1:].isdigit())):
        raise RenderError(f"Cannot highlight {highlight!r}: give a hop number (1, 2, ...) or a bounce hop (B1, ...).")
    return text


def _merged(lines: list[SmtpLine]) -> list[SmtpLine]:
    """A multi-line reply (``250-...`` lines then ``250 ...``) as one line: its first and last line."""
    out: list[SmtpLine] = []
    run: list[SmtpLine] = []
    for line in lines:
        if line.side == "S" and len(line.text) > 3 and line.text[3] == "-":
            run.append(line)
            continue
        if run and line.side == "S":
            out.append(SmtpLine("S", f"{run[0].text[4:] and run[0].text} … {line.text} ({len(run) + 1} lines)"))
            run = []
            continue
        out += run
        run = []
        out.append(line)
    return out + run


def render_sequence(journey: Journey, *, theme: str | Theme = "light", highlight: int | str | None = None,
                    slide: bool = False, build: str = "fade") -> graphviz.Digraph:
    """The SMTP (or LMTP) dialogue of each hop as a sequence diagram: a lifeline per server, the client's
    commands left to right, the server's replies back (2xx, 4xx and 5xx in their colours), in order.

    With ``highlight`` only that step's dialogue is drawn (every server keeps its lifeline and place).
    """
    th = get_theme(theme)
    cv = Canvas(th, slide, "sequence", rankdir="TB")
    cv.g.graph_attr.update({"nodesep": "0.2", "ranksep": "0.08", "splines": "line"})
    key = _step_key(highlight)
    hops = _hops(journey)
    servers: list[str] = []
    for _, hop in hops:
        for name in (hop.from_server or hop.from_name or hop.helo, hop.by_server or hop.by_name):
            if name and name not in servers:
                servers.append(name)
    if not servers:
        servers = ["unknown host"]
    col = {name: i for i, name in enumerate(servers)}
    heads = [f"s{i}" for i in range(len(servers))]
    with cv.g.subgraph() as top:
        top.attr(rank="same")
        for i, name in enumerate(servers):
            top.node(heads[i], label=f"<<B>{escape_label(name)}</B>>", shape="box", style="rounded,filled",
                     fillcolor=th.fills["sender"] if i == 0 else th.fills["inbound"], **{"class": "lifeline-head"})
    for a, b in zip(heads, heads[1:], strict=False):
        cv.g.edge(a, b, style="invis")
    prev = list(heads)
    row = 0
    shown = [(k, h) for k, h in hops if key is None or k == key]
    if key is not None and not shown:
        raise RenderError(f"There is no step {key} in this journey.")
    for k, hop in shown:
        src = col.get(hop.from_server or hop.from_name or hop.helo or "", 0)
        dst = col.get(hop.by_server or hop.by_name or "", 0)
        lines = _merged(hop.smtp) or [SmtpLine("C", f"(no dialogue recorded: {hop.status})")]
        title = f"hop {k}" + (f": {hop.with_}" if hop.with_ else f": {hop.status}")
        lines = [SmtpLine("T", title), *lines]
        for line in lines:
            row += 1
            points = [f"r{row}_{i}" for i in range(len(servers))]
            with cv.g.subgraph() as same:
                same.attr(rank="same")
                for p in points:
                    same.node(p, shape="point", width="0.01", height="0.01", label="", color=th.muted)
            for i, p in enumerate(points):
                cv.g.edge(prev[i], p, dir="none", style="dashed", color=th.faded if not slide else th.muted,
                          weight="100", **{"class": "lifeline"})
            for a, b in zip(points, points[1:], strict=False):
                cv.g.edge(a, b, style="invis")
            prev = points
            text = escape_label(line.text if len(line.text) <= 70 else line.text[:69] + "…")
            if line.side == "T":
                cv.g.node(f"t{row}", label=f"<<B>{escape_label(line.text)}</B>>", shape="plain",
                          **{"class": "sequence-step"})
                with cv.g.subgraph() as same:
                    same.attr(rank="same")
                    same.node(points[0])
                    same.node(f"t{row}")
                continue
            lo, hi = min(src, dst), max(src, dst)
            if lo == hi:
                hi = min(lo + 1, len(servers) - 1)
            code = line.text[:1]
            color = {"2": th.edges["hop"].color, "3": th.edges["hop"].color, "4": th.edges["deferred"].color,
                     "5": th.edges["rejected"].color}.get(code, th.foreground) if line.side == "S" else th.foreground
            color = color.split(":")[0]
            forward = line.side == "C"
            kind = "command" if forward else f"reply reply-{code}xx"
            # the arrow in the reply's colour, its words in the text colour (orange text on white is unreadable)
            cv.g.edge(points[lo], points[hi], label=f"<{text}>", color=color, fontcolor=th.foreground,
                      dir="forward" if forward == (src <= dst) else "back",
                      style="solid" if forward else "dashed", **{"class": kind})
    cv.caption(escape_label(f"{journey.scenario or 'message'} · the SMTP dialogue"
                            + (f" of hop {key}" if key else " of every hop")))
    cv.g.graph_attr["mh_title"] = f"{journey.scenario or 'message'}: SMTP dialogue" + (f" of hop {key}" if key else "")
    cv.g.graph_attr["mh_desc"] = display_text(journey.describe())
    return cv.g


def render_header_stack(journey: Journey, *, theme: str | Theme = "light", highlight: int | str | None = None,
                        slide: bool = False, build: str = "fade") -> graphviz.Digraph:
    """The header lines the hops added, newest on top as in the message, each hop's lines marked with
    its number. With ``highlight=k``: the stack as it was after hop ``k``, its lines lit; later hops' lines
    are faded (``build="fade"``) or blank (``build="hide"``) so the stack keeps its size in every frame.

    >>> from mailhops.journey import Hop, Journey
    >>> j = Journey(hops=[Hop(1, added_headers=["Received: by a.example; Mon, 2 Mar 2026 09:00:00 +0000"])])
    >>> "hop 1" in render_header_stack(j).source
    True
    """
    th = get_theme(theme)
    cv = Canvas(th, slide, "headers", rankdir="TB")
    key = _step_key(highlight)
    hops = [(k, h) for k, h in _hops(journey) if h.status == "accepted"]
    order = [k for k, _ in hops]
    if key is not None and key not in order and key not in {k for k, _ in _hops(journey)}:
        raise RenderError(f"There is no step {key} in this journey.")
    now = order.index(key) if key in order else (len(order) - 1 if key is None else -1)
    width = cv.sz["wrap"] if slide else 90
    rows: list[str] = []
    for i, (k, hop) in reversed(list(enumerate(hops))):  # newest on top
        later = key is not None and i > now
        lit = key is not None and k == key
        color = th.faded if later and build == "fade" else (th.background if later else th.foreground)
        mark = th.highlight if lit else (th.faded if later else th.muted)
        pieces: list[str] = []
        for line in hop.added_headers or ([f"Received: {hop.raw}"] if hop.raw else ["(no header recorded)"]):
            pieces += wrap_label(line, width)
        body = '<BR ALIGN="LEFT"/>'.join(pieces) + '<BR ALIGN="LEFT"/>'
        frame = f' BORDER="2" COLOR="{th.highlight}"' if lit else ""
        rows.append(
            f'<TR><TD ALIGN="LEFT" VALIGN="TOP" BGCOLOR="{mark}"><FONT COLOR="{th.background}"><B>'
            f'{escape_label(f"hop {k}")}</B></FONT></TD>'
            f'<TD ALIGN="LEFT" BALIGN="LEFT"{frame}>'
            f'<FONT FACE="{th.mono}" POINT-SIZE="{cv.sz["mono"]:g}" COLOR="{color}">{body}</FONT></TD></TR>')
    table = (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="4" BGCOLOR="{th.panel_fill}">'
             f'{"".join(rows) or "<TR><TD>(no headers)</TD></TR>"}</TABLE>')
    cv.g.node("stack", label=f"<{table}>", shape="plain", **{"class": "header-stack"})
    cv.caption(escape_label(f"{journey.scenario or 'message'} · the header stack, newest on top"
                            + (f" (after hop {key})" if key else "")))
    cv.g.graph_attr["mh_title"] = f"{journey.scenario or 'message'}: header stack" + (f" after hop {key}" if key else "")
    cv.g.graph_attr["mh_desc"] = display_text(journey.describe())
    return cv.g
