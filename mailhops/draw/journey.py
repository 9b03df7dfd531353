"""The journey drawing: the servers a message crossed, its hops numbered in order, failed attempts,
the bounce, loops, DNS lookups, the outcome and (on request) header panels, one frame per step.

:func:`render_journey` reads as the sequence of its steps; the route (which servers, which
hand-offs) comes from :mod:`.route`, the words from :mod:`.labels`, the header panels from :mod:`.panels`.

Every frame of a build (``highlight=1``, ``2``, ...) has the same nodes with the same labels, so dot
lays them all out alike and nothing jumps: only colours change (the current step in the theme's
highlight colour, what comes later faded or, with ``build="hide"``, invisible).

>>> from mailhops.journey import Hop, Journey, Outcome
>>> j = Journey(hops=[Hop(1, from_name="laptop.example.org", by_name="smtp.example.org", with_="ESMTPSA"),
...                   Hop(2, from_name="smtp.example.org", by_name="mx.example.net", with_="ESMTPS")],
...             outcome=Outcome("delivered", "2.0.0", "Delivered"), source="analyzed")
>>> g = render_journey(j, highlight=2)
>>> "smtp.example.org" in g.source and "ESMTPS" in g.source
True
>>> [line.strip() for line in g.body if line.strip().startswith("n0 ")][0][:20]
'n0 [label=<<B>laptop'
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass, field

import graphviz

from ..errors import RenderError
from ..journey import Journey
from ..topology import Topology
from .canvas import Canvas
from .escape import display_text, escape_label, wrap_label
from .labels import hop_label, lookup_label, outcome_label, outcome_text, step_caption, title
from .panels import draw_header_panels, slide_panel
from .route import FAILED, Edge, Route
from .themes import Theme, get_theme

__all__ = ["BUILDS", "all_steps", "frame_steps", "render_journey"]

#: Journeys through more servers than this are drawn top to bottom (not on slides: a slide wraps rows).
_LR_MAX_NODES = 6
#: How a build shows what comes after the current step: faded, or absent (its place kept).
BUILDS = ("fade", "hide")


def all_steps(journey: Journey) -> list[int | str]:
    """Every step that can be highlighted: every hop number (failed attempts included), then the bounce's.

    >>> from mailhops.journey import Hop, Journey
    >>> all_steps(Journey(hops=[Hop(1), Hop(2)], attempts=[Hop(2, status="unreachable")]))
    [1, 2]
    """
    steps: list[int | str] = sorted({h.n for h in [*journey.hops, *journey.attempts]})
    if journey.bounce is not None:
        steps += [f"B{n}" for n in sorted({h.n for h in [*journey.bounce.hops, *journey.bounce.attempts]})]
    return steps


def _repeats(journey: Journey) -> set[int]:
    """The hop numbers of a mail loop's later passes: a hand-off between two servers already made before."""
    if journey.outcome is None or journey.outcome.kind != "looped":
        return set()
    seen: set[tuple[str, str]] = set()
    again: set[int] = set()
    for hop in journey.hops:
        pair = ((hop.from_server or hop.from_name or "").lower(), (hop.by_server or hop.by_name or "").lower())
        if pair in seen:
            again.add(hop.n)
        seen.add(pair)
    return again


def frame_steps(journey: Journey) -> list[int | str]:
    """The steps a step-by-step build shows: every distinct step (a mail loop's first pass stands for its
    repeats, which the loop's label counts), failed attempts included, then the bounce's.

    >>> from mailhops.journey import Hop, Journey
    >>> frame_steps(Journey(hops=[Hop(1), Hop(2)], attempts=[Hop(2, status="unreachable")]))
    [1, 2]
    """
    again = _repeats(journey)
    return [s for s in all_steps(journey) if s not in again]


def render_journey(
    journey: Journey,
    *,
    theme: str | Theme = "light",
    headers: bool = False,
    highlight: int | str | None = None,
    slide: bool = False,
    topology: Topology | None = None,
    build: str = "fade",
) -> graphviz.Digraph:
    """Draw the path ``journey`` took: one node per server, hops numbered in order, failed transfers,
    the bounce (null sender), loops and DNS lookups in the styles the legend explains.

    ``headers=True`` adds panels listing the header lines each hop added (with ``highlight``, only
    that hop's). ``highlight=k`` makes hop ``k`` (``Hop.n``; ``"B1"`` for the bounce's first hop) the
    current step: earlier steps stay as they are, later ones are faded (``build="fade"``) or invisible
    (``build="hide"``). ``topology`` (by default the journey's scenario's) names each server's role.
    A journey parsed from a real message, with unknown hosts or missing dates, draws too.

    >>> from mailhops.journey import Hop, Journey
    >>> g = render_journey(Journey(hops=[Hop(1, ip="192.0.2.7", by_name="mx.example.net")]))
    >>> "unknown host" in g.source and "192.0.2.7" in g.source
    True
    """
    step = _normalize_highlight(highlight)
    if build not in BUILDS:
        raise RenderError(f"Unknown build {build!r}; choose fade (later steps faded) or hide (later steps absent).")
    steps = all_steps(journey)
    if step is not None and step not in steps:
        raise RenderError(f"There is no step {step} in this journey; its steps are {', '.join(map(str, steps))}.")
    layout = _fit(journey, theme, headers, topology, step is not None) if slide else None
    return _draw(journey, theme, headers, step, slide, topology, build, layout)


@dataclass(frozen=True)
class _Layout:
    """How a slide is laid out: servers (columns) a row, and where the header panel goes."""

    per_row: int
    panel: str = "under"  #: "under" the picture or "right" of it
    wrap: int = 88  #: characters a header line of the panel


#: The layout chosen for each journey's slides (every frame of a build shares it, so nothing jumps).
_FITTED: dict[tuple[str, ...], _Layout | None] = {}


def _fit(journey: Journey, theme: str | Theme, headers: bool, topology: Topology | None,
         frames: bool) -> _Layout | None:
    """The slide layout at which the type comes out largest on 13.333 x 7.5 in: each candidate (servers a
    row; the header panel under or beside) laid out by ``dot`` and measured. ``None`` (the estimate of
    :func:`_per_row`) when ``dot`` cannot run, e.g. in the browser."""
    key = (journey.describe(), repr(journey.scenario), str(headers), str(frames), str(id(topology)),
           str(len(journey.hops)), str(journey.bounce is not None))
    if key in _FITTED:
        return _FITTED[key]
    columns = len(_columns(Route.of(journey, Canvas(get_theme(theme), True, "fit"), topology)))
    best: tuple[float, _Layout] | None = None
    try:
        for per_row in range(1 if columns <= 2 else 2, min(columns, 5) + 1):
            for place, wrap in (("under", 88), ("right", 88), ("right", 60)) if headers else (("under", 88),):
                layout = _Layout(per_row, place, wrap)
                graph = _draw(journey, theme, headers, _FIRST if frames else None, True, topology, "fade", layout)
                for attr in ("size", "ratio"):
                    graph.graph_attr.pop(attr, None)
                try:  # dot itself, with a time limit: a layout dot finds hard is no candidate
                    done = subprocess.run(["dot", "-Tsvg"], input=graph.source.encode("utf-8"), capture_output=True,
                                          timeout=_FIT_SECONDS, check=False)
                except subprocess.TimeoutExpired:
                    continue
                match = re.search(rb'<svg width="([\d.]+)pt" height="([\d.]+)pt"', done.stdout)
                if match is None:
                    continue
                zoom = min(960 / float(match.group(1)), 540 / float(match.group(2)))
                if best is None or zoom > best[0] * 1.01:
                    best = (zoom, layout)
    except (OSError, subprocess.SubprocessError):  # no dot here (e.g. in the browser): the estimate
        best = None
    _FITTED[key] = best[1] if best else None
    if len(_FITTED) > 256:
        _FITTED.pop(next(iter(_FITTED)))
    return _FITTED[key]


#: How long one trial layout may take (seconds).
_FIT_SECONDS = 3.0

#: Stands for "some step" while fitting the frames of a build (they all have the same layout).
_FIRST = "first"


def _draw(journey: Journey, theme: str | Theme, headers: bool, step: int | str | None, slide: bool,
          topology: Topology | None, build: str, layout: _Layout | None) -> graphviz.Digraph:
    """:func:`render_journey` once the step is checked and the slide layout chosen."""
    rankdir = "LR" if slide else ("TB" if headers else "LR")
    cv = Canvas(get_theme(theme), slide, "journey", rankdir=rankdir)
    if layout is not None:
        cv.sz = {**cv.sz, "wrap": layout.wrap}
    route = Route.of(journey, cv, topology)
    cv.terse = slide and len(_columns(route)) > 4
    if not slide and len(route.order) > _LR_MAX_NODES:  # a long path reads better top to bottom than a thin strip
        cv.g.graph_attr["rankdir"] = "TB"
    fitting = step == _FIRST
    if fitting:
        step = frame_steps(journey)[0] if all_steps(journey) else None
    focus = _Focus.on(route, step, all_steps(journey), build)
    ranks = _Ranks()
    _draw_servers(cv, route, focus)
    for node in route.order:  # a content filter on loopback sits beside the server it runs on (the same machine);
        if node.beside and not slide:  # on a slide, in the next column (stacked, the two hop labels would overlap)
            ranks.add(node.beside, node.id)
    kinds = _draw_hand_offs(cv, route, focus, ranks) | _draw_lookups(cv, route, focus, ranks, tie=headers or step is not None)
    _draw_outcome(cv, route, focus, journey, ranks)
    panel = None
    if headers and slide:
        panel = slide_panel(cv, route, step if step is not None else _last_step(route), padded=step is not None)
    elif headers:
        draw_header_panels(cv, route, step)
    if slide:
        last_column = _wrap_rows(cv, route, ranks, layout.per_row if layout else None)
        if panel and layout is not None and layout.panel == "right":
            pid = cv.new_id()
            cv.g.node(pid, label=f"<{panel}>", shape="plain", **{"class": "panel"})
            for nid in last_column:
                cv.g.edge(nid, pid, style="invis")
            panel = None
    ranks.emit(cv)
    caption = ""
    if step is not None:  # a caption per step, the same size in every frame
        compact = headers and slide  # the header lines need the room: the caption in the small type
        width = _caption_width(cv, compact)
        lines = max(len(wrap_label(step_caption(route, k), width)) for k in frame_steps(journey))
        caption = _caption_lines(cv, step_caption(route, step), lines=min(lines, 3), compact=compact)
    roles = {n.role for n in route.order if n.role}
    # on a slide the header lines take the legend's place (the slide without them has it): the room must read them
    legend = None if headers and slide else cv.legend(kinds, roles)
    cv.caption(title(journey), panel, legend, subtitle=caption)
    cv.g.graph_attr["mh_headers"] = "1" if headers else "0"
    cv.g.graph_attr["mh_title"] = display_text(_svg_title(journey, step, route))
    cv.g.graph_attr["mh_desc"] = display_text(journey.describe())
    return cv.g


def _normalize_highlight(highlight: int | str | None) -> int | str | None:
    """``3`` or ``"3"`` -> 3, ``"b2"`` -> ``"B2"``; anything else is a :class:`RenderError`."""
    if highlight is None or isinstance(highlight, int):
        return highlight
    text = str(highlight).strip()
    if text[:1] in ("B", "b") and text[1:].isdigit():
        return f"B{int(text[1:])}"
    if text.isdigit():
        return int(text)
    raise RenderError(f"Cannot highlight {highlight!r}: give a hop number (1, 2, ...) or a bounce hop (B1, B2, ...).")


def _last_step(route: Route) -> int | str | None:
    """The last accepted hop of the journey itself: whose header lines a single slide shows."""
    accepted = [s for e in route.edges if e.kind not in FAILED and not e.prefix for s in e.steps]
    return max(accepted, key=lambda s: int(s)) if accepted else None


def _svg_title(journey: Journey, step: int | str | None, route: Route) -> str:
    """The SVG ``<title>``: the scenario and the outcome (and the step, in a frame)."""
    name = journey.scenario or "route read from the Received headers"
    words = f"{name}: {journey.outcome.kind}" if journey.outcome else name
    return f"{words} — {step_caption(route, step)}" if step is not None else words


#: Characters a line of a frame's caption (slide, notebook).
_CAPTION_WIDTH = {True: 70, False: 90}


def _caption_width(cv: Canvas, compact: bool) -> int:
    """Characters a line of a frame's caption: fewer at the slide's large type, more in the small one."""
    return round(_CAPTION_WIDTH[cv.slide] * cv.sz["edge"] / cv.sz["small"]) if compact else _CAPTION_WIDTH[cv.slide]


def _caption_lines(cv: Canvas, text: str, lines: int, compact: bool = False) -> str:
    """``text`` wrapped into exactly ``lines`` lines (blank ones added), so each frame's caption is as tall."""
    width = _caption_width(cv, compact)
    pieces = wrap_label(text, width)
    if len(pieces) > lines:
        pieces = [*pieces[: lines - 1], " ".join(pieces[lines - 1:])]
    pieces += ["&#160;"] * (lines - len(pieces))
    size = cv.sz["small"] if compact else (cv.sz["edge"] if cv.slide else cv.sz["font"])
    text = "<BR ALIGN=\"LEFT\"/>".join(f'<FONT POINT-SIZE="{size:g}">{p}</FONT>' for p in pieces)
    # as wide in every frame (wider than any wrapped line: Liberation Sans is under 0.62 em a character)
    return (f'<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0"><TR><TD WIDTH="{round(width * 0.62 * size)}" '
            f'ALIGN="LEFT" BALIGN="LEFT">{text}<BR ALIGN="LEFT"/></TD></TR></TABLE>')


@dataclass
class _Focus:
    """What a frame is about: the current step, the edges holding it and their end nodes, and which
    edges and nodes come later (faded or hidden)."""

    step: int | str | None
    edges: set[int]  #: id() of the lit edges
    nodes: set[str]  #: ids of the lit nodes
    index: int = -1  #: the step's place among the journey's steps
    order: dict[int | str, int] = field(default_factory=dict)  #: step -> its place
    build: str = "fade"
    node_first: dict[str, int] = field(default_factory=dict)  #: node id -> the place of its first step

    @classmethod
    def on(cls, route: Route, step: int | str | None, steps: list[int | str], build: str = "fade") -> _Focus:
        edges = {id(e) for e in route.edges if step is not None and step in e.steps}
        nodes = {nid for e in route.edges if id(e) in edges for nid in (e.src, e.dst)}
        order = {s: i for i, s in enumerate(steps)}
        focus = cls(step, edges, nodes, order.get(step, -1) if step is not None else -1, order, build)
        for e in route.edges:
            first = min(order.get(s, 0) for s in e.steps)
            for nid in (e.src, e.dst) if e.src != e.dst else (e.dst,):
                start = first if (nid == e.dst or first > 0) else 0
                if nid == e.src and e.prefix == "":  # the sender of a hop is there from its step on
                    start = first
                focus.node_first[nid] = min(focus.node_first.get(nid, start), start)
        if route.edges:  # the very first sender is there from the start
            focus.node_first[route.edges[0].src] = 0
        return focus

    def lit(self, edge: Edge) -> bool:
        return id(edge) in self.edges

    def later(self, steps: list[int | str]) -> bool:
        """Whether every one of ``steps`` comes after the current step (nothing is later without one)."""
        return self.step is not None and min(self.order.get(s, 0) for s in steps) > self.index

    def node_later(self, nid: str) -> bool:
        return self.step is not None and self.node_first.get(nid, 0) > self.index

    def fades(self, later: bool) -> bool:
        return later and self.build == "fade"

    def hides(self, later: bool) -> bool:
        return later and self.build == "hide"


class _Ranks:
    """Nodes that must share a rank (a column left to right, a row top to bottom), emitted at the end."""

    def __init__(self) -> None:
        self.groups: dict[str, list[str]] = {}
        #: boxes that may move to another column (on a slide): (box id, the server it is about, how many
        #: columns away from that server's at most)
        self.floating: list[tuple[str, str, int]] = []

    def add(self, anchor: str, nid: str) -> None:
        for members in self.groups.values():
            if anchor in members:
                members.append(nid)
                return
        self.groups.setdefault(anchor, [anchor]).append(nid)

    def merge(self, ids: list[str]) -> None:
        """Put all of ``ids`` (and whatever already shares a rank with them) in one rank."""
        merged: list[str] = []
        for key in [k for k, members in self.groups.items() if set(members) & set(ids)]:
            merged += self.groups.pop(key)
        merged += [i for i in ids if i not in merged]
        self.groups[ids[0]] = merged

    def emit(self, cv: Canvas) -> None:
        """The rank constraints; a group around a server in an organisation's lane goes into that lane (dot
        would otherwise pull the server out of it)."""
        for members in self.groups.values():
            lane = {cv.lanes.get(nid) for nid in members} - {None}
            if len(lane) == 1:
                with cv.g.subgraph(name=lane.pop()) as inside, inside.subgraph() as same:
                    same.attr(rank="same")
                    for nid in members:
                        same.node(nid)
                continue
            with cv.g.subgraph() as same:
                same.attr(rank="same")
                for nid in members:
                    same.node(nid)


def _draw_servers(cv: Canvas, route: Route, focus: _Focus) -> None:
    """Every server, lit, as it is, faded or hidden as the step says; the servers of one organisation
    (mail domain, from the topology) in a lane of their own, named after it."""
    th = cv.theme
    lanes: dict[str | None, list] = {}
    for node in route.order:
        lanes.setdefault(node.domain if not cv.slide else None, []).append(node)
    for k, (domain, nodes) in enumerate(lanes.items()):
        if domain is None:
            for node in nodes:
                _draw_server(cv, node, focus, cv.g)
            continue
        with cv.g.subgraph(name=f"cluster_lane{k}") as lane:
            lane.attr(label=f"<{cv.small(escape_label(domain), th.muted)}>", labeljust="l", labelloc="t",
                      style="rounded,filled", fillcolor=th.cluster_fill, color=th.cluster_line, penwidth="1",
                      margin="6", **{"class": "lane"})
            for node in nodes:
                _draw_server(cv, node, focus, lane)
                cv.lanes[node.id] = f"cluster_lane{k}"


def _draw_server(cv: Canvas, node, focus: _Focus, graph: graphviz.Digraph) -> None:
    node.lit = node.id in focus.nodes
    later = focus.node_later(node.id)
    cv.server_node(node, faded=focus.fades(later), hidden=focus.hides(later), group="path", in_graph=graph)


def _edge_title(route: Route, edge: Edge) -> str:
    """The element title of an edge: ``hop 2: smtp.example.org → mx.example.net, ESMTPS`` (first three hops)."""
    names = {n.id: n.name or "unknown host" for n in route.order}
    words = []
    for hop, num in list(zip(edge.hops, edge.numbers, strict=True))[:3]:
        what = f"{edge.kind} attempt" if edge.kind in FAILED else ("bounce hop" if edge.prefix else "hop")
        words.append(f"{what} {num}: {names[edge.src]} → {names[edge.dst]}" + (f", {hop.with_}" if hop.with_ else ""))
    if len(edge.hops) > 3:
        words.append(f"… {len(edge.hops)} times in all")
    return "; ".join(words)


def _draw_hand_offs(cv: Canvas, route: Route, focus: _Focus, ranks: _Ranks) -> set[str]:
    """Every edge with its label; a bounce's creation is a badge on its server, not a loop. Returns the kinds."""
    th = cv.theme
    kinds_used: set[str] = set()
    for i, edge in enumerate(route.edges):
        lit = focus.lit(edge)
        later = focus.later(edge.steps)
        kinds_used.add(edge.kind)
        classes = [edge.kind if edge.kind != "hop" else "hop"]
        if edge.kind in FAILED:
            classes.insert(0, "attempt")
        classes += [f"step-{s}" for s in edge.steps]
        eid = f"{'attempt' if edge.kind in FAILED else ('bounce' if edge.prefix else 'hop')}-{edge.steps[0]}"
        if edge.kind in FAILED:
            eid += f"-{i}"
        if edge.prefix and edge.src == edge.dst:  # the bounce is written here: a badge on that server, not a loop
            _bounce_badge(cv, edge, ranks, lit=lit, faded=focus.fades(later), hidden=focus.hides(later), eid=eid,
                          classes=classes, title=_edge_title(route, edge))
            continue
        extra = {"tooltip": escape_label(_edge_title(route, edge))}
        if edge.prefix:
            extra["constraint"] = "false"  # the bounce runs back toward the sender, it does not push the layout
        cv.edge(edge.src, edge.dst, th.edges[edge.kind], label=hop_label(cv, edge, lit, focus.step),
                classes=classes, eid=eid, faded=focus.fades(later), lit=lit, hidden=focus.hides(later), **extra)
    return kinds_used


def _bounce_badge(cv: Canvas, edge: Edge, ranks: _Ranks, *, lit: bool, faded: bool, hidden: bool, eid: str,
                  classes: list[str], title: str) -> None:
    """Where a server writes the bounce (null sender): a small dotted badge beside it, tied by a plain line. On a
    slide the line leaves the server's outer side and comes into the badge's, round the outcome badge stacked
    between them rather than across the hop labels beside it (:func:`_wrap_rows` drops the ports where the
    badge goes to another column)."""
    th = cv.theme
    bid = cv.new_id()
    color = th.faded if faded else th.edges["bounce"].color
    cv.g.node(bid, label=f"<{cv.small(escape_label(f'{edge.numbers[0]}: the bounce starts here'), '')}>",
              shape="box", style="invis" if hidden else "rounded,dotted", color=color,
              fontcolor=th.faded if faded else th.foreground, **{"class": "bounce-start"})
    if cv.slide:
        ranks.floating.append((bid, edge.dst, 1))
    else:
        ranks.add(edge.dst, bid)
    cv.edge(edge.dst, bid, th.edges["bounce"], label=None, classes=classes, eid=eid, faded=faded, lit=lit,
            hidden=hidden, dir="none", tooltip=escape_label(title),
            **({"tailport": "e", "headport": "e"} if cv.slide else {}))


def _draw_lookups(cv: Canvas, route: Route, focus: _Focus, ranks: _Ranks, tie: bool = False) -> set[str]:
    """A DNS note per lookup, beside the server that asked, in every frame; returns {"dns"} when any is drawn.

    On a slide, one note holds every question (a line each, later ones faded), placed in the column with
    the most room (:func:`_wrap_rows`): one box takes less room than several."""
    if cv.slide and route.lookups:
        return _slide_lookups(cv, route, focus, ranks, tie=tie)
    th = cv.theme
    kinds_used: set[str] = set()
    for k, (asker, lks, prefix) in enumerate(route.lookups):
        keys = [f"{prefix}{lk.before_hop}" if prefix else lk.before_hop for lk in lks]
        lit = focus.step is not None and focus.step in keys
        later = focus.later(keys)
        faded, hidden = focus.fades(later), focus.hides(later)
        kinds_used.add("dns")
        dns = cv.new_id()
        attrs = {"label": f"<{lookup_label(cv, lks, faded)}>", "shape": "note", "fillcolor": th.fills["dns"],
                 "color": th.muted, "fontsize": f"{cv.sz['small']:g}", "class": "dns",
                 "tooltip": escape_label(f"DNS lookup by {asker.name}: {lks[0].rdtype} {lks[0].qname}")}
        if faded:
            attrs.update({"color": th.faded, "fontcolor": th.faded, "fillcolor": th.faded_fill})
        if hidden:
            attrs["style"] = "invis"
        cv.g.node(dns, **attrs)
        if cv.g.graph_attr.get("rankdir") == "TB":  # beside the server that asks, out of the path
            ranks.add(asker.id, dns)
        cv.edge(asker.id, dns, th.edges["dns"], label=None, classes=["dns"], eid=f"dns-{k}", faded=faded, lit=lit,
                hidden=hidden)
    return kinds_used


def _slide_lookups(cv: Canvas, route: Route, focus: _Focus, ranks: _Ranks, tie: bool = False) -> set[str]:
    """The one DNS note of a slide: a line per distinct question and its answers, with no lines to the servers
    that asked (the questions name their domains). Returns the edge kinds drawn: none."""
    th = cv.theme
    questions: dict[tuple[str, str], list[int | str]] = {}
    first: dict[tuple[str, str], list] = {}
    for _asker, lks, prefix in route.lookups:
        key = (lks[0].qname.lower().rstrip("."), lks[0].rdtype.upper())
        questions.setdefault(key, []).extend(f"{prefix}{lk.before_hop}" if prefix else lk.before_hop for lk in lks)
        first.setdefault(key, lks)
    all_keys = [k for keys in questions.values() for k in keys]
    later_all = focus.later(all_keys)
    rows = []
    for key, keys in questions.items():
        later = focus.later(keys)
        color = th.faded if focus.fades(later) else (th.fills["dns"] if focus.hides(later) else th.foreground)
        rows.append(f'<FONT COLOR="{color}">{lookup_label(cv, first[key], False, one_line=True)}</FONT>')
    dns = cv.new_id()
    attrs = {"label": "<" + '<BR ALIGN="LEFT"/>'.join(rows) + '<BR ALIGN="LEFT"/>>', "shape": "note",
             "fillcolor": th.fills["dns"], "color": th.muted, "fontsize": f"{cv.sz['small']:g}", "class": "dns",
             "tooltip": escape_label("DNS lookups: " + "; ".join(f"{t} {q}" for q, t in questions))}
    if focus.fades(later_all):
        attrs.update({"color": th.faded, "fillcolor": th.faded_fill})
    if focus.hides(later_all):
        attrs["style"] = "invis"
    cv.g.node(dns, **attrs)
    askers = list(dict.fromkeys(asker.id for asker, _, _ in route.lookups))
    # no line to each server that asked: on a slide those lines ran through names and labels, and each line
    # of the note already names the domain asked about (so the legend has no dotted line to explain either)
    ranks.floating.append((dns, askers[0], 99))
    for asker in askers if tie else ():  # invisible ties keep the note near the servers that asked (frames,
        cv.g.edge(asker, dns, style="invis", constraint="false")  # header slides: that keeps the type large)
    return set()


def _draw_outcome(cv: Canvas, route: Route, focus: _Focus, journey: Journey, ranks: _Ranks) -> None:
    """The outcome as a badge on the server where the journey ended (where it waits, when deferred): tied to it
    by a plain line, not an arrow, since it is no hand-off."""
    main = [e for e in route.edges if not e.prefix]
    if journey.outcome is None or not main:
        return
    th = cv.theme
    last = main[-1]
    at = last.src if journey.outcome.kind == "deferred" or last.kind in FAILED else last.dst
    if journey.outcome.server:
        named = route.nodes.get(("host", journey.outcome.server.lower()))
        at = named.id if named is not None else at
    headline, details, tone = outcome_text(journey)
    lit = focus.lit(last)
    later = focus.later(last.steps)
    faded, hidden = focus.fades(later), focus.hides(later)
    oid = cv.new_id()
    cv.g.node(oid, label=f"<{outcome_label(cv, headline, details, faded)}>", shape="box",
              style="invis" if hidden else "rounded,filled,bold", color=th.faded if faded else th.outcome_colors[tone],
              fontcolor=th.faded if faded else th.foreground,
              fillcolor=th.faded_fill if faded else th.fills["outcome"], penwidth="2.5",
              tooltip=escape_label(f"outcome: {headline}"),
              **{"class": f"outcome outcome-{journey.outcome.kind}" + (" faded" if faded else "")
                          + (" highlight" if lit else "")})
    if cv.slide:  # beside its server, in the neighbouring column when that has more room
        ranks.floating.append((oid, at, 1))
    else:
        ranks.add(at, oid)
    cv.g.edge(at, oid, dir="none", style="invis" if hidden else "solid", penwidth="2",
              color=th.faded if faded else th.outcome_colors[tone], id="outcome-link",
              **{"class": "outcome-link"})


def _columns(route: Route) -> list[list[str]]:
    """The servers of the journey by their distance along its route (a column each); servers only the bounce
    reaches are not in them (:func:`_bounce_only`)."""
    col: dict[str, int] = {}
    for edge in [e for e in route.edges if not e.prefix]:
        if edge.src not in col:
            col[edge.src] = 0 if not col else max(col.values()) + 1
        if edge.dst not in col:
            col[edge.dst] = col[edge.src] + 1
    if not col:
        col = {n.id: 0 for n in route.order[:1]}
    bounce_only = set(_bounce_only(route, col))
    for node in route.order:
        if node.id not in bounce_only:
            col.setdefault(node.id, 0)
    columns: list[list[str]] = [[] for _ in range(max(col.values(), default=-1) + 1)]
    for node in route.order:
        if node.id in col and node.id not in bounce_only:
            columns[col[node.id]].append(node.id)
    return columns


def _bounce_only(route: Route, placed: dict[str, int] | set[str]) -> list[tuple[str, str]]:
    """(server, the server it gets the bounce from) for each server only the bounce reaches, in the bounce's order."""
    seen = set(placed)
    out = []
    for edge in [e for e in route.edges if e.prefix]:
        if edge.dst not in seen:
            seen.add(edge.dst)
            out.append((edge.dst, edge.src))
    return out


def _per_row(cv: Canvas, route: Route, columns: list[list[str]]) -> int:
    """How many columns of servers fit side by side on a 16:9 slide at the largest type: an estimate
    from the longest name and label (Liberation Sans averages about 0.55 em a character)."""
    font, edge = cv.sz["font"], cv.sz["edge"]
    names = max((len(n.name or "unknown host") for n in route.order), default=10)
    node_w = names * 0.62 * font + 60
    labels = max((len(f"{e.numbers[0] if e.numbers else ''} {e.hops[0].with_ or 'refused'} · 0.0 s")
                  for e in route.edges), default=8)
    gap_w = labels * 0.6 * edge + 80
    stack = max((len(c) for c in columns), default=1)
    row_h = (2.6 * font + 30) * (1 + 0.8 * (stack - 1)) + 40
    caption_h = 7 * cv.sz["small"] * 1.3 + 3 * cv.sz["title"]
    best, best_zoom = len(columns), 0.0
    for k in range(1, len(columns) + 1):
        rows = math.ceil(len(columns) / k)
        width = k * node_w + (k - 1) * gap_w
        height = rows * row_h + (rows - 1) * 50 + caption_h
        zoom = min(960 / width, 540 / height)
        if zoom >= best_zoom * 1.02 or (k == len(columns) and zoom >= best_zoom * 0.98):
            best, best_zoom = k, zoom
    return max(1, best)


def _wrap_rows(cv: Canvas, route: Route, ranks: _Ranks, per_row: int | None = None) -> list[str]:
    """On a slide, wrap a long route into rows that read left to right, like lines of text: the columns of
    each row are tied by invisible edges, and the i-th column of every row shares a rank. The DNS notes
    go to the column with the fewest boxes (the one of the server that asked, on a tie)."""
    columns = _columns(route)
    per_row = max(1, min(per_row or _per_row(cv, route, columns), len(columns)))
    cv.per_row = per_row
    if per_row < len(columns):
        for line in cv.g.body[:]:  # the route's own edges no longer decide the ranks
            if "->" in line and "constraint" not in line and "outcome-link" not in line and "[style=invis" not in line:
                cv.g.body[cv.g.body.index(line)] = line.replace(" [", " [constraint=false ", 1)
        for start in range(0, len(columns), per_row):
            row = columns[start:start + per_row]
            for a, b in zip(row, row[1:], strict=False):
                cv.g.edge(a[0], b[0], style="invis", weight="10")
    grid = [[nid for c in columns[pos::per_row] for nid in c] for pos in range(per_row)]
    # the bounce runs back toward the sender: a server only it reaches goes one column left of where it comes from
    for nid, src in _bounce_only(route, {n for c in columns for n in c}):
        at = next((i for i, col in enumerate(grid) if src in col), 0)
        grid[max(at - 1, 0)].append(nid)
    load = [sum(len(ranks_of(ranks, nid)) for nid in col) for col in grid]
    for note, asker, reach in sorted(ranks.floating, key=lambda f: f[2]):  # badges first, then notes
        home = next((i for i, col in enumerate(grid) if asker in col), 0)
        near = [i for i in range(per_row) if abs(i - home) <= reach]
        best = min(near, key=lambda i: (load[i], i != home, abs(i - home)))
        load[best] += 1
        ranks.add(grid[best][0], note)
        if best != home or (home == 0 < per_row - 1):  # a badge's tie (:func:`_bounce_badge`): straight across
            for i, line in enumerate(cv.g.body):  # to another column; round the outer side of the first one
                if f"{asker} -> {note} " in line and "headport=e" in line:
                    ports = "" if best != home else "w"
                    cv.g.body[i] = line.replace(" headport=e", f" headport={ports}" if ports else "").replace(
                        " tailport=e", f" tailport={ports}" if ports else "")
    for same in grid if per_row < len(columns) else [c for c in grid if len(c) > 1]:
        if len(same) > 1:
            ranks.merge(same)
    return grid[-1]


def ranks_of(ranks: _Ranks, nid: str) -> list[str]:
    """``nid`` and the boxes that share its rank (its outcome, its bounce badge)."""
    for members in ranks.groups.values():
        if nid in members:
            return members
    return [nid]
