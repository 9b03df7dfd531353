"""Draw topologies and journeys with Graphviz, and export them for notebooks and slides.

:func:`render_topology` and :func:`render_journey` return a :class:`graphviz.Digraph` (no ``dot``
needed to build it); :func:`to_svg`, :func:`export` and :func:`export_frames` run ``dot``. Every
text goes through :func:`mailhops.escape.escape_label`, node IDs are opaque (``n0``, ``n1``, ...),
and colours and fonts come from :mod:`mailhops.themes`.

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

import html
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz

from ..errors import RenderError
from ..journey import Hop, Journey, Lookup
from ..topology import Server, Topology
from .escape import escape_label, wrap_label
from .themes import ROLE_GROUPS, ROLE_SHAPES, EdgeStyle, Theme, get_theme

__all__ = [
    "FORMATS",
    "INSTALL_HINT",
    "SLIDE_DPI",
    "SLIDE_SIZE",
    "export",
    "export_frames",
    "frame_steps",
    "render",
    "render_journey",
    "render_topology",
    "repr_mimebundle",
    "to_svg",
]

#: Output formats :func:`export` writes.
FORMATS = ("svg", "png", "pdf")
#: A 16:9 slide, in inches (PowerPoint / Keynote / Google Slides widescreen).
SLIDE_SIZE = "13.333,7.5!"
#: PNG resolution by default: a 13.333-inch-wide slide becomes 1920 pixels wide.
SLIDE_DPI = 144.0

INSTALL_HINT = (
    "install it with `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`winget install graphviz` or `choco install graphviz` (Windows) or `conda install -c conda-forge graphviz` "
    "(conda), then restart Python"
)

_SIZES = {
    False: {"font": 12.0, "small": 9.5, "edge": 10.0, "mono": 9.0, "title": 14.0, "wrap": 64, "header_lines": 4,
            "faded": 12.0},
    True: {"font": 16.0, "small": 13.0, "edge": 14.0, "mono": 17.0, "title": 20.0, "wrap": 60, "header_lines": 4,
           "faded": 11.0},
}

_LEGEND_TEXT = {
    "hop": "hand-off accepted (number = order)",
    "rejected": "refused with a 5xx reply",
    "unreachable": "not reached: server down, retried later",
    "deferred": "deferred with a 4xx reply, retried later",
    "bounce": "bounce, sent with the null sender MAIL FROM:<>",
    "loop": "loop: the same hand-off repeated",
    "dns": "DNS lookup that chose the next server",
}

_FAILED = ("rejected", "unreachable", "deferred")
#: Journeys through more servers than this are drawn top to bottom.
_LR_MAX_NODES = 6
#: Slide frames of journeys through more servers than this show only the servers near the step.
_SLIDE_MAX_NODES = 7
#: ... those at most this many hand-offs from the step's servers; the rest become "… N more servers".
_SLIDE_REACH = 1


# --------------------------------------------------------------------------------------------- drawing
@dataclass
class _Node:
    id: str
    name: str | None
    role: str | None = None  #: a key of mailhops.topology.ROLES
    ip: str | None = None
    down: bool = False
    lit: bool = False
    role_text: str | None = None  #: how the role is written on the node ("MX 10", "filter")


@dataclass
class _Edge:
    src: str
    dst: str
    kind: str
    hops: list[Hop] = field(default_factory=list)
    steps: list[Any] = field(default_factory=list)  # highlight keys: int for the journey, "B1" for its bounce
    note: str | None = None  #: for a real message: who the sender said it was, when that is news


class _Canvas:
    """A Digraph under construction with a theme, sizes, and a counter for opaque node IDs."""

    def __init__(self, theme: Theme, slide: bool, name: str, rankdir: str = "LR") -> None:
        self.theme = theme
        self.slide = slide
        self.sz = _SIZES[slide]
        self._count = 0
        t = theme
        graph_attr = {
            "rankdir": rankdir,
            "bgcolor": t.background,
            "fontname": t.font,
            "fontcolor": t.foreground,
            "fontsize": f"{self.sz['font']:g}",
            "pad": "0.3",
            "nodesep": "0.35" if not slide else "0.5",
            "ranksep": "0.5" if rankdir == "LR" else "0.25",
            "labelloc": "b",
            "labeljust": "l",
            "outputorder": "edgesfirst",
        }
        if slide:
            graph_attr.update({"size": SLIDE_SIZE, "ratio": "fill"})
        self.g = graphviz.Digraph(
            name=f"mailhops_{name}",
            graph_attr=graph_attr,
            node_attr={
                "fontname": t.font,
                "fontsize": f"{self.sz['font']:g}",
                "fontcolor": t.foreground,
                "color": t.foreground,
                "style": "filled",
                "fillcolor": t.fills["unknown"],
                "penwidth": "1.2",
                "margin": "0.14,0.07",
            },
            edge_attr={
                "fontname": t.font,
                "fontsize": f"{self.sz['edge']:g}",
                "fontcolor": t.foreground,
                "color": t.foreground,
                "arrowsize": "0.8",
            },
        )

    def new_id(self) -> str:
        nid = f"n{self._count}"
        self._count += 1
        return nid

    def small(self, text: str, color: str | None = None) -> str:
        """An already escaped text in the small secondary font."""
        if color == "":
            return f'<FONT POINT-SIZE="{self.sz["small"]:g}">{text}</FONT>'
        return f'<FONT POINT-SIZE="{self.sz["small"]:g}" COLOR="{color or self.theme.muted}">{text}</FONT>'

    def server_node(self, node: _Node, *, faded: bool, extra: Sequence[str] = (), slide_titles: bool = False,
                    in_graph: graphviz.Digraph | None = None, group: str | None = None) -> None:
        t = self.theme
        name = escape_label(node.name) if node.name else "<I>unknown host</I>"
        title = f"<S>{name}</S>" if node.down else name
        lines: list[str] = []
        role_text = node.role_text or (_role_words(node.role) if node.role else None)
        details = [role_text] if role_text else []
        if node.ip and not self.slide:
            details.append(node.ip)
        if details:
            lines.append(escape_label(" · ".join(details)))
        if node.down:
            lines.append("DOWN")
        if not slide_titles:
            lines.extend(escape_label(x) for x in extra)
        compact = faded and self.slide  # a slide frame keeps the type large only where the step is
        if compact:
            lines = []
        muted = t.faded if faded else t.muted
        label = f"<B>{title}</B>" + "".join(f"<BR/>{self.small(line, muted)}" for line in lines)
        shape, style = ROLE_SHAPES.get(node.role or "", ("box", "rounded"))
        group = "down" if node.down else ROLE_GROUPS.get(node.role or "", "unknown")
        styles = ["filled"] + ([style] if style else []) + (["dashed"] if node.down or not node.name else [])
        attrs = {
            "label": f"<{label}>",
            "shape": shape,
            "style": ",".join(styles),
            "fillcolor": t.faded_fill if faded else t.fills[group],
            "class": " ".join(
                ["server", f"role-{node.role or 'unknown'}"]
                + (["down"] if node.down else [])
                + (["highlight"] if node.lit else [])
                + (["faded"] if faded else [])
            ),
            "tooltip": escape_label(node.name or "unknown host"),
        }
        if faded:
            attrs.update({"color": t.faded, "fontcolor": t.faded})
        if compact:
            attrs.update({"fontsize": f"{self.sz['faded']:g}", "margin": "0.08,0.03"})
        if node.lit:
            attrs.update({"color": t.highlight, "penwidth": "3"})
        if group:
            attrs["group"] = group
        (in_graph or self.g).node(node.id, **attrs)

    def edge(self, src: str, dst: str, style: EdgeStyle, *, label: str | None, classes: list[str], eid: str,
             faded: bool = False, lit: bool = False, **extra: str) -> None:
        t = self.theme
        attrs = {
            "color": style.color,
            "style": style.style,
            "arrowhead": style.arrowhead,
            "penwidth": f"{style.penwidth:g}",
            "class": " ".join(classes + (["highlight"] if lit else []) + (["faded"] if faded else [])),
            "id": eid,
        }
        if label:
            # on a slide frame the faded hops' numbers sit beside their edge (xlabel) rather than in
            # a rank of their own: that height goes to the step the slide is about
            attrs["xlabel" if (self.slide and faded) else "label"] = f"<{label}>"
        if faded:
            color = t.faded if ":" not in style.color else f"{t.faded}:{t.background}:{t.faded}"
            attrs.update({"color": color, "fontcolor": t.faded})
            if self.slide:
                attrs["fontsize"] = f"{self.sz['faded']:g}"
        if lit:
            attrs["penwidth"] = f"{style.penwidth * 2:g}"
            attrs["arrowsize"] = "1.1"
        attrs.update(extra)
        self.g.edge(src, dst, **attrs)

    def legend(self, kinds: Iterable[str]) -> str | None:
        """An HTML-like table with a line sample (colour, dash pattern, thickness) and words per kind present."""
        present = set(kinds)
        kinds = [k for k in _LEGEND_TEXT if k in present]
        if not kinds:
            return None
        t = self.theme
        cells: list[list[str]] = [[]]
        per_row = 3 if self.slide else 4
        for kind in kinds:
            style = t.edges[kind]
            color = style.color.split(":")[0]
            border = max(1, round(style.penwidth))
            dash = "" if style.style == "solid" else f' STYLE="{style.style}"'
            if kind == "loop":  # a double line, like the loop edges
                sample = (f'<TD WIDTH="36" HEIGHT="8" FIXEDSIZE="TRUE" BORDER="{border}" SIDES="TB" '
                          f'COLOR="{color}"></TD>')
            else:  # fixed size: HTML tables stretch their columns to the width of the caption
                sample = (f'<TD WIDTH="36" HEIGHT="8" FIXEDSIZE="TRUE" BORDER="{border}" SIDES="B"{dash} '
                          f'COLOR="{color}"></TD>')
            if len(cells[-1]) == 2 * per_row:
                cells.append([])
            words = f'<FONT POINT-SIZE="{self.sz["small"]:g}" COLOR="{t.muted}">{escape_label(_LEGEND_TEXT[kind])}</FONT>'
            cells[-1] += [sample, f'<TD ALIGN="LEFT">{words}</TD>']
        rows = "".join(f"<TR>{''.join(r)}</TR>" for r in cells)
        return f'<TABLE BORDER="0" CELLSPACING="4" CELLPADDING="0">{rows}</TABLE>'

    def caption(self, title: str, panel: str | None = None, legend: str | None = None, subtitle: str = "") -> None:
        """The graph label at the bottom: an optional header panel, the title, then the legend."""
        rows = f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="{self.sz["title"]:g}"><B>{title}</B></FONT></TD></TR>'
        if subtitle:
            rows += f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{subtitle}</TD></TR>'
        if panel:
            rows = f'<TR><TD ALIGN="LEFT">{panel}</TD></TR>' + rows
        if legend:
            rows += f'<TR><TD ALIGN="LEFT">{legend}</TD></TR>'
        self.g.attr(label=f'<<TABLE BORDER="0" CELLPADDING="2" CELLSPACING="4">{rows}</TABLE>>')


# ---------------------------------------------------------------------------------------- topology
def _role_words(role: str) -> str:
    return {"mx": "MX", "antivirus": "anti-virus"}.get(role, role)


def _role_text(server: Server) -> str:
    if server.mx_preference is not None and server.role == "mx":
        return f"MX {server.mx_preference}"
    if server.mx_preference is not None:
        return f"{_role_words(server.role)} · MX {server.mx_preference}"
    return _role_words(server.role)


def render_topology(topology: Topology, *, theme: str | Theme = "light", slide: bool = False) -> graphviz.Digraph:
    """Draw ``topology``: one cluster per domain, one node per server (shape and colour by role),
    configured links as solid arrows, and the DNS MX records the sending side looks up (dotted).

    ``slide=True`` gives a 16:9 picture with titles only (host name and role) in large type.

    >>> t = Topology("demo")
    >>> _ = t.add_domain("example.net")
    >>> _ = t.add_server("mx.example.net", "mx", "198.51.100.25", domain="example.net", mx_preference=10)
    >>> g = render_topology(t)
    >>> "MX 10" in g.source and "cluster_" in g.source
    True
    """
    th = get_theme(theme)
    cv = _Canvas(th, slide, "topology", rankdir="TB" if slide else "LR")
    ids: dict[str, str] = {}
    users_on: dict[str, list[str]] = {}
    for user in topology.users.values():
        if user.client:
            users_on.setdefault(user.client, []).append(f"{user.address} writes here")
        if user.mailbox:
            users_on.setdefault(user.mailbox, []).append(f"mailbox of {user.address}")

    def add(server: Server, sub: graphviz.Digraph) -> None:
        ids[server.name] = cv.new_id()
        extra = []
        if server.role in ("mx", "filter") and server.spam_threshold is not None:
            extra.append(f"spam ≥ {server.spam_threshold:g} → {server.spam_action}")
        extra.extend(users_on.get(server.name, [])[:3])
        node = _Node(ids[server.name], server.name, server.role, server.ip, down=not server.up,
                     role_text=_role_text(server))
        cv.server_node(node, faded=False, extra=extra, slide_titles=slide, in_graph=sub)

    for i, dom in enumerate(topology.domains.values()):
        members = [s for s in topology.servers.values() if s.domain == dom.name]
        with cv.g.subgraph(name=f"cluster_d{i}") as sub:
            lines = [f"<B>{escape_label(dom.name)}</B>"]
            if not slide:
                notes = [f"{u.address} → {u.forward_to} (forward)" for u in topology.users.values()
                         if u.forward_to and u.address.endswith("@" + dom.name)]
                notes += [f"{a} → {b} (alias)" for a, b in dom.aliases.items()]
                if dom.null_mx:
                    notes.append("null MX (0 .): accepts no mail")
                lines += [cv.small(escape_label(n)) for n in notes[:4]]
            sub.attr(label=f"<{'<BR/>'.join(lines)}>", labeljust="l", labelloc="t", style="rounded,filled",
                     fillcolor=th.cluster_fill, color=th.cluster_line, fontcolor=th.foreground,
                     **{"class": "domain"})
            for server in members:
                add(server, sub)
    for server in topology.servers.values():
        if server.name not in ids:
            add(server, cv.g)

    link_style = th.edges["hop"]
    for k, (src, dst) in enumerate(topology.links):
        dst_role = topology.servers[dst].role
        word = {"mailbox": "LMTP", "submission": "port 587, AUTH"}.get(dst_role)
        label = cv.small(escape_label(word), th.foreground) if word else None
        cv.edge(ids[src], ids[dst], link_style, label=label, classes=["link"], eid=f"link-{k}")

    # DNS: the MX records, and which servers look them up (those with no configured next hop)
    records: list[tuple[str, str, Server | None]] = []
    for dom in topology.domains.values():
        if dom.null_mx:
            records.append((dom.name, "MX 0 .", None))
        for pref, server in topology.mx_hosts(dom.name):
            records.append((dom.name, f"MX {pref} {server.name}", server))
    if records:
        dns = cv.new_id()
        rows = [f'<TR><TD COLSPAN="2"><B>{escape_label("DNS")}</B></TD></TR>']
        for r, (dom_name, text, _) in enumerate(records):
            rows.append(f'<TR><TD ALIGN="LEFT">{escape_label(dom_name)}</TD>'
                        f'<TD ALIGN="LEFT" PORT="r{r}">{escape_label(text)}</TD></TR>')
        cv.g.node(dns, label=f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="3">{"".join(rows)}</TABLE>>',
                  shape="note", fillcolor=th.fills["dns"], color=th.muted, **{"class": "dns"})
        dns_style = th.edges["dns"]
        for r, (_, _text, server) in enumerate(records):
            if server is not None:
                cv.edge(f"{dns}:r{r}", ids[server.name], dns_style, label=None, classes=["dns"], eid=f"mx-{r}")
        senders = [s for s in topology.servers.values() if s.role in ("submission", "relay", "forwarder")]
        for k, server in enumerate(senders):
            cv.edge(ids[server.name], dns, dns_style, label=cv.small(escape_label("MX lookup"), th.foreground),
                    classes=["dns", "lookup"], eid=f"lookup-{k}")
    about = "<BR/>".join(wrap_label(topology.description, 120)) if topology.description and not slide else ""
    cv.caption(escape_label(topology.name), subtitle=about)
    return cv.g


# ----------------------------------------------------------------------------------------- journey
def _fmt_delay(seconds: float | None) -> str | None:
    """``0.4 s``, ``12 s``, ``4 min``, ``2 h 05 min``, ``3 d 4 h`` (``None`` stays ``None``)."""
    if seconds is None:
        return None
    s = float(seconds)
    if s < 0:
        return f"−{_fmt_delay(-s)}"
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 86400:
        h, m = divmod(int(round(s / 60)), 60)
        return f"{h} h {m:02d} min"
    d, h = divmod(int(round(s / 3600)), 24)
    return f"{d} d {h} h"


def _clip(lines: list[str], most: int) -> list[str]:
    """At most ``most`` lines, the last one ending in an ellipsis when some were left out."""
    if len(lines) <= most:
        return lines
    return [*lines[: most - 1], lines[most - 1] + " …"]


def _steps_text(numbers: list[str]) -> str:
    if len(numbers) <= 3:
        return ", ".join(numbers)
    return f"{numbers[0]}, {numbers[1]} … {numbers[-1]} ({len(numbers)}×)"


def _scenario_topology(journey: Journey) -> Topology | None:
    """The topology the journey crossed (``None`` for a real message read from its headers)."""
    return journey.topology if isinstance(journey.topology, Topology) else None


def _normalize_highlight(highlight: int | str | None) -> int | str | None:
    if highlight is None or isinstance(highlight, int):
        return highlight
    text = str(highlight).strip()
    if text[:1] in ("B", "b") and text[1:].isdigit():
        return f"B{int(text[1:])}"
    if text.isdigit():
        return int(text)
    raise RenderError(f"Cannot highlight {highlight!r}: give a hop number (1, 2, ...) or a bounce hop (B1, B2, ...).")


class _JourneyDrawing:
    def __init__(self, cv: _Canvas, topology: Topology | None) -> None:
        self.cv = cv
        self.topology = topology
        self.nodes: dict[tuple[str, str], _Node] = {}
        self.order: list[_Node] = []
        self.edges: list[_Edge] = []
        self.lookups: list[tuple[_Node, list[Lookup], str]] = []  # asker, merged lookups, "" or "B"
        self._unknown = 0

    def node(self, name: str | None, ip: str | None = None) -> _Node:
        if not name:
            self._unknown += 1
            key = ("?", str(self._unknown))
        else:
            key = ("host", name.lower())
        found = self.nodes.get(key)
        if found is not None:
            if ip and not found.ip:
                found.ip = ip
            return found
        server = None
        if name and self.topology is not None:
            server = self.topology.servers.get(name.lower())
        node = _Node(self.cv.new_id(), name, role=server.role if server else None,
                     ip=(server.ip if server else None) or ip, down=bool(server and not server.up),
                     role_text=_role_text(server) if server else None)
        self.nodes[key] = node
        self.order.append(node)
        return node

    def add_journey(self, journey: Journey, prefix: str = "") -> None:
        """Nodes and edges for ``journey``'s hops and failed attempts; ``prefix`` "B" marks a bounce."""
        hops = sorted(journey.hops, key=lambda h: h.n)
        analyzed = all(h.from_server is None and h.by_server is None for h in [*hops, *journey.attempts])
        looped = journey.outcome is not None and journey.outcome.kind == "looped"
        groups: dict[tuple[str, str, str], _Edge] = {}
        prev: _Node | None = None
        for hop in journey.timeline():
            failed = hop.status != "accepted"
            # nothing about a sending side ("Received: by HOST id ..."): the server wrote the message itself
            local = not failed and not any((hop.from_server, hop.from_name, hop.helo, hop.rdns, hop.ip))
            if analyzed and prev is not None and not failed:
                src = prev
            elif local:
                src = None
            elif analyzed:
                src = self.node(hop.from_name or hop.helo or hop.rdns, hop.ip)
            else:
                src = self.node(hop.from_server or hop.from_name or hop.helo, hop.ip)
            dst = self.node(hop.by_name if analyzed else (hop.by_server or hop.by_name), hop.by_ip)
            src = dst if src is None else src
            kind = "bounce" if prefix else "hop"
            if failed:
                kind = hop.status if hop.status in _FAILED else "rejected"
                if hop.status == "unreachable":
                    dst.down = True
            note = "written on this server" if src is dst and local else None
            if analyzed and src is prev:
                claimed = hop.from_name or hop.helo or hop.rdns
                if claimed and src.name and claimed.lower() != src.name.lower():
                    note = f"from {claimed}" + (f" [{hop.ip}]" if hop.ip else "")
                elif hop.ip and not src.ip:
                    src.ip = hop.ip
                elif hop.ip and hop.ip != src.ip:
                    note = f"from [{hop.ip}]"
            key = (src.id, dst.id, kind if not failed else f"{kind}-{len(groups)}")
            edge = groups.get(key)
            if edge is None:
                edge = groups[key] = _Edge(src.id, dst.id, kind, note=note)
                self.edges.append(edge)
            edge.hops.append(hop)
            edge.steps.append(f"{prefix}{hop.n}" if prefix else hop.n)
            if not failed:
                prev = dst
        if looped:
            for edge in groups.values():
                if edge.kind == "hop" and len(edge.hops) > 1:
                    edge.kind = "loop"
        merged: dict[tuple[str, str, str], list[Lookup]] = {}
        for lk in journey.lookups:
            merged.setdefault((lk.asked_by.lower(), lk.qname.lower(), lk.rdtype.upper()), []).append(lk)
        for (asked_by, _, _), lks in merged.items():
            self.lookups.append((self.node(asked_by), lks, prefix))


def _hop_label(cv: _Canvas, edge: _Edge, prefix: str, lit: bool, step: int | str | None = None,
               faded: bool = False) -> str:
    hops = edge.hops
    first = hops[0]
    numbers = [f"{prefix}{h.n}" for h in hops]
    number = escape_label(_steps_text(numbers))
    if lit and len(hops) > 1 and step is not None:  # which pass of a repeated hand-off this frame is about
        number = escape_label(f"{step} (one of {_steps_text(numbers)})")
    protos = sorted({h.with_ for h in hops if h.with_})
    parts = [f"<B>{number}</B>"]
    if protos:
        parts.append(escape_label(" / ".join(protos)))
    # a no-break space: SVG viewers collapse the leading space of the next text run ("1ESMTPSA")
    head = "&#160;".join(parts)
    lines: list[str] = []
    if edge.kind in _FAILED:
        word = {"rejected": "refused", "unreachable": "not reached", "deferred": "deferred"}[edge.kind]
        head = f"<B>{escape_label(f'{prefix}{first.n}')}</B>&#160;{escape_label(word)}"
        if first.decision:
            lines.extend(_clip(wrap_label(first.decision, 34 if not cv.slide else 44), 3))
    else:
        if len(hops) == 1:
            delay = _fmt_delay(first.delay_s)
            if delay:
                lines.append(escape_label(delay))
            if edge.note:
                lines.append(escape_label(edge.note))
        if edge.kind == "bounce":
            lines.append(escape_label("MAIL FROM:<>"))
    if cv.slide and faded:  # a slide frame: the other hops keep only their number (and what went wrong)
        return head if edge.kind in _FAILED else f"<B>{number}</B>"
    if cv.slide:  # one line per label on slides: the vertical space is what limits the type size
        if edge.kind not in _FAILED and lines:
            head = f"{head} · {lines[0]}"
        lines = lines[:2] if edge.kind in _FAILED else []
    if lit:
        head = f'<FONT POINT-SIZE="{cv.sz["edge"] * 1.25:g}">{head}</FONT>'
    return head + "".join(f"<BR/>{cv.small(line, '')}" for line in lines) if lines else head


def _header_rows(cv: _Canvas, hop: Hop, prefix: str, muted: str) -> list[str]:
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


def _panel(cv: _Canvas, hops: list[tuple[str, Hop]]) -> str:
    t = cv.theme
    rows: list[str] = []
    for prefix, hop in hops:
        rows.extend(_header_rows(cv, hop, prefix, t.muted))
    return (f'<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" BGCOLOR="{t.panel_fill}" '
            f'COLOR="{t.panel_line}" STYLE="rounded">{"".join(rows)}</TABLE>')


def _title(journey: Journey) -> str:
    parts = []
    if journey.scenario:
        parts.append(journey.scenario)
    if journey.envelope_from is not None or journey.envelope_to:
        parts.append(f"<{journey.envelope_from or ''}> → <{journey.envelope_to or '?'}>")
    if journey.outcome is not None:
        parts.append(f"{journey.outcome.kind} ({journey.outcome.status})" if journey.outcome.status
                     else journey.outcome.kind)
    if not parts or journey.source != "simulated" and not journey.scenario:
        parts.insert(0, "route read from the Received headers" if journey.source != "simulated" else "mail journey")
    return escape_label(" · ".join(parts))


def _outcome_text(journey: Journey) -> tuple[str, list[str], str]:
    """The headline and detail lines of the outcome node, and its tone (good / bad / wait)."""
    o = journey.outcome
    assert o is not None
    tone = {"delivered": "good", "junk": "wait", "deferred": "wait"}.get(o.kind, "bad")
    headline = {
        "delivered": "delivered",
        "junk": "delivered to Junk",
        "rejected": "rejected",
        "bounced": "bounced",
        "dropped": "dropped silently",
        "looped": "stopped: mail loop",
        "deferred": "deferred: waits in a queue",
    }.get(o.kind, o.kind)
    lines = []
    if o.folder or o.mailbox:
        lines.append(" ".join(x for x in (o.folder, f"of {o.mailbox}" if o.mailbox else None) if x))
    if o.kind not in ("delivered", "junk") and (o.reply or o.detail):
        lines.append(o.reply or o.detail)
    return headline, lines, tone


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
    th = get_theme(theme)
    hl = _normalize_highlight(highlight)
    # vertical when header panels sit beside the servers, or on a 16:9 slide (keeps the type large)
    cv = _Canvas(th, slide, "journey", rankdir="TB" if (headers or slide) else "LR")
    drawing = _JourneyDrawing(cv, topology if topology is not None else _scenario_topology(journey))
    drawing.add_journey(journey)
    main_edges = len(drawing.edges)
    if journey.bounce is not None:
        drawing.add_journey(journey.bounce, prefix="B")
    if len(drawing.order) > _LR_MAX_NODES:  # a long path reads better top to bottom than as a thin strip
        cv.g.graph_attr["rankdir"] = "TB"

    # what is lit: the edges holding the highlighted step, their end nodes, the lookups before it
    lit_edges = {id(e) for e in drawing.edges if hl is not None and hl in e.steps}
    lit_nodes = {nid for e in drawing.edges if id(e) in lit_edges for nid in (e.src, e.dst)}
    stand_in = _elide(cv, drawing, lit_nodes) if (slide and lit_nodes) else {}
    for node in drawing.order:
        node.lit = node.id in lit_nodes
        if node.id not in stand_in:  # one group: dot keeps the path straight, panels and notes to the side
            cv.server_node(node, faded=hl is not None and not node.lit, group="path")

    kinds_used: set[str] = set()
    elided_links: set[tuple[str, str]] = set()
    for i, edge in enumerate(drawing.edges):
        if edge.src in stand_in or edge.dst in stand_in:  # one faded arrow to or from the "… more" box
            ends = (stand_in.get(edge.src, edge.src), stand_in.get(edge.dst, edge.dst))
            if ends[0] != ends[1] and ends not in elided_links:
                elided_links.add(ends)
                cv.edge(*ends, th.edges["hop"], label=None, classes=["elided-link"], eid=f"elided-{i}", faded=True)
            continue
        prefix = "B" if i >= main_edges else ""
        lit = id(edge) in lit_edges
        faded = hl is not None and not lit
        kinds_used.add(edge.kind)
        style = th.edges[edge.kind]
        classes = [edge.kind if edge.kind != "hop" else "hop"]
        if edge.kind in _FAILED:
            classes.insert(0, "attempt")
        classes += [f"step-{s}" for s in edge.steps]
        eid = f"{'attempt' if edge.kind in _FAILED else ('bounce' if prefix else 'hop')}-{edge.steps[0]}"
        if edge.kind in _FAILED:
            eid += f"-{i}"
        cv.edge(edge.src, edge.dst, style, label=_hop_label(cv, edge, prefix, lit, hl, faded), classes=classes, eid=eid,
                faded=faded, lit=lit)

    for k, (asker, lks, prefix) in enumerate(drawing.lookups):
        lit = hl is not None and any((f"{prefix}{lk.before_hop}" if prefix else lk.before_hop) == hl for lk in lks)
        faded = hl is not None and not lit
        if slide and (faded or asker.id in stand_in):  # a slide keeps only what the step is about
            continue
        kinds_used.add("dns")
        first = lks[0]
        rows = [f"<B>{escape_label(f'DNS {first.rdtype} {first.qname}?')}</B>"]
        rows += [escape_label(a) for a in first.answers[:4]] or [escape_label("(no answer)")]
        if len(first.answers) > 4:
            rows.append(escape_label(f"… {len(first.answers) - 4} more"))
        if first.conclusion and not slide:
            rows += [cv.small(x, th.faded if faded else th.muted) for x in _clip(wrap_label(first.conclusion, 40), 3)]
        dns = cv.new_id()
        attrs = {"label": f"<{'<BR/>'.join(rows)}>", "shape": "note", "fillcolor": th.fills["dns"],
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

    # the outcome, hung on the server where the journey ended
    if journey.outcome is not None and drawing.edges[:main_edges]:
        last = drawing.edges[main_edges - 1]
        at = last.src if journey.outcome.kind == "deferred" else last.dst
        if journey.outcome.server:
            named = drawing.nodes.get(("host", journey.outcome.server.lower()))
            at = named.id if named is not None else at
        at = stand_in.get(at, at)
        head, rest, tone = _outcome_text(journey)
        lit = hl is not None and hl in last.steps
        faded = hl is not None and not lit
        color = th.faded if faded else th.outcome_colors[tone]
        label = f"<B>{escape_label(head)}</B>" + "".join(
            f"<BR/>{cv.small(x, th.faded if faded else th.muted)}" for line in rest for x in _clip(wrap_label(line, 40), 4))
        oid = cv.new_id()
        cv.g.node(oid, label=f"<{label}>", shape="box", style="rounded,filled,bold", color=color,
                  fontcolor=th.faded if faded else th.foreground, fillcolor=th.faded_fill if faded else th.fills["outcome"],
                  penwidth="2", **{"class": f"outcome outcome-{journey.outcome.kind}" + (" faded" if faded else "")
                                                 + (" highlight" if lit else "")})
        cv.edge(at, oid, th.edges["outcome"], label=None, classes=["outcome-link"], eid="outcome-link", faded=faded)

    # header panels: beside the server that stamped them
    panel_hops: list[tuple[str, Hop, str]] = []
    if headers:
        for i, edge in enumerate(drawing.edges):
            if edge.kind in _FAILED:
                continue
            prefix = "B" if i >= main_edges else ""
            for hop, step in zip(edge.hops, edge.steps, strict=True):
                if hl is None or step == hl:
                    panel_hops.append((prefix, hop, edge.dst))
    caption_panel = None
    if panel_hops and slide and hl is not None:  # a slide frame: the step's lines under the picture, full width
        caption_panel = _panel(cv, [(p, h) for p, h, _ in panel_hops[:2]])
    elif panel_hops:
        by_node: dict[str, list[tuple[str, Hop]]] = {}
        for prefix, hop, dst in panel_hops:
            by_node.setdefault(dst, []).append((prefix, hop))
        for dst, items in by_node.items():
            shown = items[:2]
            pid = cv.new_id()
            table = _panel(cv, shown)
            if len(items) > 2:
                more = escape_label(f"… and {len(items) - 2} more hops into this server")
                table = table.replace("</TABLE>", f'<TR><TD ALIGN="LEFT">{cv.small(more)}</TD></TR></TABLE>')
            with cv.g.subgraph() as same:
                same.attr(rank="same")
                same.node(dst)
                same.node(pid, label=f"<{table}>", shape="plain", style="", **{"class": "panel"})
            cv.g.edge(dst, pid, style="dashed", arrowhead="none", color=th.panel_line, penwidth="1",
                      **{"class": "panel-link"})
    cv.caption(_title(journey), caption_panel, cv.legend(kinds_used))
    return cv.g


def _elide(cv: _Canvas, drawing: _JourneyDrawing, lit: set[str]) -> dict[str, str]:
    """On a slide frame of a long journey, stand one small "… N more servers" box in for each run of
    servers more than :data:`_SLIDE_REACH` hand-offs away from the step, so the step keeps a readable type size.

    Returns {hidden node id: id of the box standing in for it} (empty when the journey is short).
    """
    if len(drawing.order) <= _SLIDE_MAX_NODES:
        return {}
    near: dict[str, set[str]] = {}
    for e in drawing.edges:
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
    hidden = [n for n in drawing.order if distance.get(n.id, 99) > _SLIDE_REACH]
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


# ------------------------------------------------------------------------------------ running dot
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


def to_svg(obj: Any, **kw: Any) -> str:
    """The SVG text of ``obj``'s diagram (keywords as for :func:`render`); needs ``dot``.

    >>> to_svg(Topology("empty")).lstrip().startswith("<?xml")
    True
    """
    return _pipe(render(obj, **kw), "svg").decode("utf-8")


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
    if topology is None:
        topology = _scenario_topology(journey)
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
