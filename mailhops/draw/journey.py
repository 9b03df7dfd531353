"""The journey drawing: the servers a message crossed, its hops numbered in order, failed attempts,
the bounce, loops, DNS lookups, the outcome and (on request) header panels, one frame per step.

:func:`render_journey` reads as the sequence of its steps; the route (which servers, which
hand-offs) comes from :mod:`.route`, the words from :mod:`.labels`, the header panels from :mod:`.panels`.

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

from dataclasses import dataclass, field

import graphviz

from ..errors import RenderError
from ..journey import Journey
from ..topology import Topology
from .canvas import Canvas
from .escape import escape_label
from .labels import hop_label, lookup_label, outcome_label, outcome_text, title
from .panels import draw_header_panels
from .route import FAILED, Edge, Route
from .themes import Theme, get_theme

__all__ = ["render_journey"]

#: Journeys through more servers than this are drawn top to bottom.
_LR_MAX_NODES = 6
#: Slide frames of journeys through more servers than this show only the servers near the step.
_SLIDE_MAX_NODES = 7
#: ... those at most this many hand-offs from the step's servers; the rest become "… N more servers".
_SLIDE_REACH = 1


def render_journey(
    journey: Journey,
    *,
    theme: str | Theme = "light",
    headers: bool = False,
    highlight: int | str | None = None,
    slide: bool = False,
    topology: Topology | None = None,
) -> graphviz.Digraph:
    """Draw the path ``journey`` took: one node per server, hops numbered in order, failed transfers,
    the bounce (null sender), loops and DNS lookups in the styles the legend explains.

    ``headers=True`` adds panels listing the header lines each hop added (with ``highlight``, only
    that hop's). ``highlight=k`` emphasises hop ``k`` (``Hop.n``; ``"B1"`` for the bounce's first
    hop) and fades the rest. ``topology`` (by default the journey's scenario's) names each server's
    role. A journey parsed from a real message, with unknown hosts or missing dates, draws too.

    >>> from mailhops.journey import Hop, Journey
    >>> g = render_journey(Journey(hops=[Hop(1, ip="192.0.2.7", by_name="mx.example.net")]))
    >>> "unknown host" in g.source and "192.0.2.7" in g.source
    True
    """
    step = _normalize_highlight(highlight)
    # vertical when header panels sit beside the servers, or on a 16:9 slide (keeps the type large)
    cv = Canvas(get_theme(theme), slide, "journey", rankdir="TB" if (headers or slide) else "LR")
    route = Route.of(journey, cv, topology)
    if len(route.order) > _LR_MAX_NODES:  # a long path reads better top to bottom than as a thin strip
        cv.g.graph_attr["rankdir"] = "TB"
    focus = _Focus.on(route, step)
    if slide and focus.nodes:
        focus.stand_in = _elide(cv, route, focus.nodes)
    _draw_servers(cv, route, focus)
    kinds_used = _draw_hand_offs(cv, route, focus) | _draw_lookups(cv, route, focus)
    _draw_outcome(cv, route, focus, journey)
    caption_panel = draw_header_panels(cv, route, step) if headers else None
    cv.caption(title(journey), caption_panel, cv.legend(kinds_used))
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


@dataclass
class _Focus:
    """What a frame is about: the highlighted step, the edges holding it and their end nodes, and on a
    slide frame the "… N more servers" boxes standing in for servers far from it."""

    step: int | str | None
    edges: set[int]  #: id() of the lit edges
    nodes: set[str]  #: ids of the lit nodes
    stand_in: dict[str, str] = field(default_factory=dict)  #: {hidden node id: id of the box in its place}

    @classmethod
    def on(cls, route: Route, step: int | str | None) -> _Focus:
        edges = {id(e) for e in route.edges if step is not None and step in e.steps}
        nodes = {nid for e in route.edges if id(e) in edges for nid in (e.src, e.dst)}
        return cls(step, edges, nodes)

    def lit(self, edge: Edge) -> bool:
        return id(edge) in self.edges

    def fades(self, lit: bool) -> bool:
        """Whether something not ``lit`` is faded: only when a step is highlighted."""
        return self.step is not None and not lit


def _elide(cv: Canvas, route: Route, lit: set[str]) -> dict[str, str]:
    """On a slide frame of a long journey, stand one small "… N more servers" box in for each run of
    servers more than :data:`_SLIDE_REACH` hand-offs away from the step, so the step keeps a readable type size.

    Returns {hidden node id: id of the box standing in for it} (empty when the journey is short).
    """
    if len(route.order) <= _SLIDE_MAX_NODES:
        return {}
    near: dict[str, set[str]] = {}
    for e in route.edges:
        near.setdefault(e.src, set()).add(e.dst)
        near.setdefault(e.dst, set()).add(e.src)
    distance = dict.fromkeys(lit, 0)
    todo = list(lit)
    while todo:
        cur = todo.pop(0)
        for nxt in near.get(cur, ()):
            if nxt not in distance:
                distance[nxt] = distance[cur] + 1
                todo.append(nxt)
    hidden = [n for n in route.order if distance.get(n.id, 99) > _SLIDE_REACH]
    stand_in: dict[str, str] = {}
    for node in hidden:  # runs of neighbouring hidden servers share one box
        if node.id in stand_in:
            continue
        box, run, todo = cv.new_id(), [], [node.id]
        while todo:
            cur = todo.pop()
            if cur in stand_in:
                continue
            stand_in[cur] = box
            run.append(cur)
            todo += [n for n in near.get(cur, ()) if distance.get(n, 99) > _SLIDE_REACH and n not in stand_in]
        t = cv.theme
        words = f"… {len(run)} more server{'s' if len(run) > 1 else ''}"
        cv.g.node(box, label=f"<{escape_label(words)}>", shape="box", style="rounded,dashed", color=t.faded,
                  fontcolor=t.faded, fontsize=f"{cv.sz['faded']:g}", **{"class": "elided"})
    return stand_in


def _draw_servers(cv: Canvas, route: Route, focus: _Focus) -> None:
    """Every server not elided, in the order the message met them, lit or faded as the step says."""
    for node in route.order:
        node.lit = node.id in focus.nodes
        if node.id not in focus.stand_in:  # one group: dot keeps the path straight, panels and notes to the side
            cv.server_node(node, faded=focus.fades(node.lit), group="path")


def _draw_hand_offs(cv: Canvas, route: Route, focus: _Focus) -> set[str]:
    """Every edge with its label (one faded arrow to or from an elided box instead); returns the kinds drawn."""
    th = cv.theme
    kinds_used: set[str] = set()
    elided_links: set[tuple[str, str]] = set()
    for i, edge in enumerate(route.edges):
        if edge.src in focus.stand_in or edge.dst in focus.stand_in:  # one faded arrow to or from the "… more" box
            ends = (focus.stand_in.get(edge.src, edge.src), focus.stand_in.get(edge.dst, edge.dst))
            if ends[0] != ends[1] and ends not in elided_links:
                elided_links.add(ends)
                cv.edge(*ends, th.edges["hop"], label=None, classes=["elided-link"], eid=f"elided-{i}", faded=True)
            continue
        lit = focus.lit(edge)
        faded = focus.fades(lit)
        kinds_used.add(edge.kind)
        classes = [edge.kind if edge.kind != "hop" else "hop"]
        if edge.kind in FAILED:
            classes.insert(0, "attempt")
        classes += [f"step-{s}" for s in edge.steps]
        eid = f"{'attempt' if edge.kind in FAILED else ('bounce' if edge.prefix else 'hop')}-{edge.steps[0]}"
        if edge.kind in FAILED:
            eid += f"-{i}"
        cv.edge(edge.src, edge.dst, th.edges[edge.kind], label=hop_label(cv, edge, lit, focus.step, faded),
                classes=classes, eid=eid, faded=faded, lit=lit)
    return kinds_used


def _draw_lookups(cv: Canvas, route: Route, focus: _Focus) -> set[str]:
    """A DNS note per lookup, beside the server that asked; returns {"dns"} when any is drawn."""
    th = cv.theme
    kinds_used: set[str] = set()
    for k, (asker, lks, prefix) in enumerate(route.lookups):
        lit = focus.step is not None and any(
            (f"{prefix}{lk.before_hop}" if prefix else lk.before_hop) == focus.step for lk in lks)
        faded = focus.fades(lit)
        if cv.slide and (faded or asker.id in focus.stand_in):  # a slide keeps only what the step is about
            continue
        kinds_used.add("dns")
        dns = cv.new_id()
        attrs = {"label": f"<{lookup_label(cv, lks, faded)}>", "shape": "note", "fillcolor": th.fills["dns"],
                 "color": th.muted, "fontsize": f"{cv.sz['small']:g}", "class": "dns"}
        if faded:
            attrs.update({"color": th.faded, "fontcolor": th.faded, "fillcolor": th.faded_fill})
        if cv.g.graph_attr.get("rankdir") == "TB":  # beside the server that asks, out of the way of the path
            with cv.g.subgraph() as same:
                same.attr(rank="same")
                same.node(asker.id)
                same.node(dns, **attrs)
        else:
            cv.g.node(dns, **attrs)
        cv.edge(asker.id, dns, th.edges["dns"], label=None, classes=["dns"], eid=f"dns-{k}", faded=faded, lit=lit)
    return kinds_used


def _draw_outcome(cv: Canvas, route: Route, focus: _Focus, journey: Journey) -> None:
    """The outcome, hung on the server where the journey ended (where it waits, when deferred)."""
    main = [e for e in route.edges if not e.prefix]
    if journey.outcome is None or not main:
        return
    th = cv.theme
    last = main[-1]
    at = last.src if journey.outcome.kind == "deferred" else last.dst
    if journey.outcome.server:
        named = route.nodes.get(("host", journey.outcome.server.lower()))
        at = named.id if named is not None else at
    at = focus.stand_in.get(at, at)
    headline, details, tone = outcome_text(journey)
    lit = focus.lit(last)
    faded = focus.fades(lit)
    oid = cv.new_id()
    cv.g.node(oid, label=f"<{outcome_label(cv, headline, details, faded)}>", shape="box",
              style="rounded,filled,bold", color=th.faded if faded else th.outcome_colors[tone],
              fontcolor=th.faded if faded else th.foreground,
              fillcolor=th.faded_fill if faded else th.fills["outcome"], penwidth="2",
              **{"class": f"outcome outcome-{journey.outcome.kind}" + (" faded" if faded else "")
                          + (" highlight" if lit else "")})
    cv.edge(at, oid, th.edges["outcome"], label=None, classes=["outcome-link"], eid="outcome-link", faded=faded)
