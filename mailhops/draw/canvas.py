"""The machinery every drawing shares: a Digraph under construction with its theme, type sizes and opaque node IDs.

:class:`Canvas` draws a server (:class:`Node`), a styled edge, the legend and the caption; the
topology and journey drawings only decide *what* to draw. Node IDs are opaque (``n0``, ``n1``, ...):
``host:587`` in an ID would be read as a port.

>>> from mailhops.draw.themes import get_theme
>>> cv = Canvas(get_theme("light"), slide=False, name="demo")
>>> cv.new_id(), cv.new_id()
('n0', 'n1')
>>> cv.server_node(Node("n0", "mx.example.net", "mx"), faded=False)
>>> "mx.example.net" in cv.g.source and "role-mx" in cv.g.source
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import graphviz

from ..topology import Server
from .escape import escape_label
from .themes import ROLE_GROUPS, ROLE_SHAPES, EdgeStyle, Theme

__all__ = ["LEGEND_TEXT", "SHAPE_TEXT", "SIZES", "SLIDE_SIZE", "Canvas", "Node", "role_text", "role_words"]

#: A 16:9 slide, in inches (PowerPoint / Keynote / Google Slides widescreen).
SLIDE_SIZE = "13.333,7.5!"

#: Type sizes (points) and wrapping widths, for a notebook picture (``False``) and a slide (``True``).
#: A slide is drawn at these sizes and then scaled to fit 13.333 x 7.5 in (zoom about 0.9 to 1.1 for
#: a journey): names, hop numbers and protocols stay at 18 pt or more on the slide, nothing under 12 pt.
SIZES = {
    False: {"font": 12.0, "small": 9.5, "edge": 10.0, "mono": 9.0, "title": 14.0, "wrap": 64, "header_lines": 8,
            "faded": 12.0},
    True: {"font": 22.0, "small": 15.0, "edge": 21.0, "mono": 15.0, "title": 22.0, "wrap": 88, "header_lines": 12,
           "faded": 22.0},
}

#: What the legend says about each kind of edge, in the order it lists them.
LEGEND_TEXT = {
    "hop": "hand-off (number = order)",
    "rejected": "refused with a 5xx reply",
    "unreachable": "not reached: server down (the next MX is tried at once)",
    "deferred": "deferred with a 4xx reply, retried later",
    "bounce": "bounce: null sender MAIL FROM:<>",
    "loop": "loop: the same hand-off repeated",
    "dns": "DNS lookup of the next server",
}

#: Each line style of the legend written in characters: solid, dashed, dotted, and the loop's double line.
LEGEND_SAMPLES = {"solid": "———", "dashed": "– – –", "dotted": "·······", "double": "═══"}

#: The standard names of the roles (RFC 5598 §2: MUA, MSA, MTA, MDA) next to the shapes mailhops draws.
SHAPE_TEXT = {
    "client": "rounded box: mail program (MUA)",
    "webmail": "tab: webmail (MUA on a server)",
    "submission": "box: submission server (MSA)",
    "relay": "box: relay (MTA)",
    "mx": "hexagon: MX, receiving server (MTA)",
    "filter": "octagon: filter (MTA)",
    "antivirus": "octagon: filter (MTA)",
    "archive": "3-D box: archive (MTA)",
    "alias": "arrow box: alias or forwarder (MTA)",
    "forwarder": "arrow box: alias or forwarder (MTA)",
    "router": "parallelogram: router (MTA)",
    "mailbox": "cylinder: mailbox server (MDA)",
}


@dataclass
class Node:
    """A server as drawn."""

    id: str
    name: str | None
    role: str | None = None  #: a key of mailhops.topology.ROLES
    ip: str | None = None
    down: bool = False
    lit: bool = False
    role_text: str | None = None  #: how the role is written on the node ("MX 10", "filter")
    domain: str | None = None  #: the organisation (mail domain) the server belongs to, when the topology says
    beside: str | None = None  #: for a content filter on loopback: the node of the server it runs on

    def describe(self) -> str:
        """The server in words, for the SVG element title: ``mx.example.net (MX 10)``."""
        role = self.role_text or (role_words(self.role) if self.role else None)
        words = self.name or "unknown host"
        return f"{words} ({role})" if role else words


def role_words(role: str) -> str:
    """How a role is written on a node: ``role_words("mx")`` is ``'MX'``."""
    return {"mx": "MX", "antivirus": "anti-virus"}.get(role, role)


def role_text(server: Server) -> str:
    """The role of ``server`` with its MX preference, if it has one (``MX 10``, ``filter · MX 20``)."""
    if server.mx_preference is not None and server.role == "mx":
        return f"MX {server.mx_preference}"
    if server.mx_preference is not None:
        return f"{role_words(server.role)} · MX {server.mx_preference}"
    return role_words(server.role)


class Canvas:
    """A Digraph under construction with a theme, sizes, and a counter for opaque node IDs."""

    def __init__(self, theme: Theme, slide: bool, name: str, rankdir: str = "LR") -> None:
        self.theme = theme
        self.slide = slide
        self.sz = SIZES[slide]
        self.lanes: dict[str, str] = {}  #: node id -> the cluster (an organisation's lane) it is drawn in
        self.per_row = 2  #: on a slide, the servers a row (set when the route is wrapped)
        self.terse = False  #: a slide of a long route: hand-offs without their delays (the frames' captions say them)
        self._count = 0
        t = theme
        graph_attr = {
            "rankdir": rankdir,
            "bgcolor": t.background,
            "fontname": t.font,
            "fontcolor": t.foreground,
            "fontsize": f"{self.sz['font']:g}",
            "pad": "0.3" if not slide else "0.12",
            "nodesep": "0.35" if not slide else "0.2",
            "ranksep": ("0.5" if rankdir == "LR" else "0.25") if not slide else "0.2",
            "labelloc": "b",
            "labeljust": "l",
            "outputorder": "edgesfirst",
        }
        if slide:
            graph_attr.update({"size": SLIDE_SIZE, "ratio": "fill"})
        # checked on export against 18 pt (names, hop numbers, protocols) and 12 pt (everything else)
        graph_attr["mh_minpt"] = f"{min(self.sz['font'], self.sz['edge']):g}" if slide else "0"
        graph_attr["mh_minsmall"] = f"{min(self.sz['small'], self.sz['mono']):g}" if slide else "0"
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

    def server_node(self, node: Node, *, faded: bool, extra: Sequence[str] = (), slide_titles: bool = False,
                    in_graph: graphviz.Digraph | None = None, group: str | None = None, hidden: bool = False) -> None:
        """Draw ``node``: its name in bold, then its role, IP and ``extra`` lines in the small font."""
        t = self.theme
        name = escape_label(node.name) if node.name else "<I>unknown host</I>"
        title = f"<S>{name}</S>" if node.down else name
        lines: list[str] = []
        role = node.role_text or (role_words(node.role) if node.role else None)
        details = [role] if role else []
        if node.ip and not self.slide:
            details.append(node.ip)
        if details:
            lines.append(escape_label(" · ".join(details)))
        if node.down:
            lines.append("DOWN")
        if not slide_titles:
            lines.extend(escape_label(x) for x in extra)
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
            "tooltip": escape_label(node.describe()),
        }
        if faded:
            attrs.update({"color": t.faded, "fontcolor": t.faded})
        if hidden:  # a build that hides what comes later keeps its place
            attrs["style"] = "invis"
        if node.lit:
            attrs.update({"color": t.highlight, "penwidth": "3"})
        if group:
            attrs["group"] = group
        if self.slide and shape not in ("box", "tab", "box3d", "cds", "cylinder"):
            # dot grows a polygon around its label until the label fits inside; on a slide that costs the room
            # the type needs, so the outline is drawn just around the name (its slanted sides may graze it)
            wide = max(len(node.name or "unknown host") * 0.6 * self.sz["font"],
                       max((len(x) for x in lines), default=0) * 0.52 * self.sz["small"])
            tall = self.sz["font"] * 1.25 + len(lines) * self.sz["small"] * 1.2
            attrs.update({"fixedsize": "shape", "width": f"{(wide * 1.1 + 12) / 72:.2f}",
                          "height": f"{(tall + 14) / 72:.2f}"})
        (in_graph or self.g).node(node.id, **attrs)

    def edge(self, src: str, dst: str, style: EdgeStyle, *, label: str | None, classes: list[str], eid: str,
             faded: bool = False, lit: bool = False, hidden: bool = False, **extra: str) -> None:
        """Draw an edge in ``style``, thicker when ``lit``, in the faded colour when ``faded``."""
        t = self.theme
        attrs = {
            "color": style.color,
            "style": style.style,
            "arrowhead": style.arrowhead,
            "penwidth": f"{style.penwidth:g}",
            "class": " ".join(classes + (["highlight"] if lit else []) + (["faded"] if faded else [])),
            "id": eid,
        }
        if label:  # the same label in every frame of a build, so that nothing moves
            attrs["label"] = f"<{label}>"
        if faded:
            color = t.faded if ":" not in style.color else f"{t.faded}:{t.background}:{t.faded}"
            attrs.update({"color": color, "fontcolor": t.faded})
        if hidden:
            attrs["style"] = "invis"
        if lit:
            attrs["penwidth"] = f"{style.penwidth * 2:g}"  # the arrow keeps its size: the bounding box must not move
        attrs.update(extra)
        self.g.edge(src, dst, **attrs)

    def legend(self, kinds: Iterable[str], roles: Iterable[str] = ()) -> str | None:
        """An HTML-like table with a line sample (colour, dash pattern, bold when thick) and words per kind present,
        then the shapes of the ``roles`` present with their standard names (MUA, MSA, MTA, MDA)."""
        present = set(kinds)
        kinds = [k for k in LEGEND_TEXT if k in present]
        shapes = list(dict.fromkeys(SHAPE_TEXT[r] for r in SHAPE_TEXT if r in set(roles)))
        if not kinds and not shapes:
            return None
        t = self.theme
        small = f'POINT-SIZE="{self.sz["small"]:g}"'
        lines_k: list[list[str]] = [[]]
        chars = [0]  # a line holds kinds up to about as many characters as a line of shapes below
        for kind in kinds:
            style = t.edges[kind]
            color = style.color.split(":")[0]
            # the line drawn in text (HTML-like tables would stretch drawn samples to the caption's width):
            # colour and pattern as on the edges, bold for the thick ones
            glyphs = LEGEND_SAMPLES["double" if kind == "loop" else style.style]
            if style.penwidth >= 1.8:
                glyphs = f"<B>{glyphs}</B>"
            if lines_k[-1] and chars[-1] + len(LEGEND_TEXT[kind]) > 104:
                lines_k.append([])
                chars.append(0)
            chars[-1] += len(LEGEND_TEXT[kind]) + 8
            lines_k[-1].append(f'<FONT {small} COLOR="{color}">{glyphs}</FONT>&#160;'
                               f'<FONT {small} COLOR="{t.muted}">{escape_label(LEGEND_TEXT[kind])}</FONT>')
        rows = "".join(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{"&#160;&#160;&#160; ".join(line)}</TD></TR>'
                       for line in lines_k if line)
        if shapes:
            # characters a line, so the legend is no wider than the drawing (a slide's rows: self.per_row servers)
            width = 60 + 25 * self.per_row if self.slide else 110
            lines: list[list[str]] = [[]]
            for shape in shapes:
                if lines[-1] and len(" · ".join([*lines[-1], shape])) > width:
                    lines.append([])
                lines[-1].append(shape)
            text = "<BR/>".join(escape_label(" · ".join(line)) for line in lines)
            rows += (f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">'
                     f'<FONT POINT-SIZE="{self.sz["small"]:g}" COLOR="{t.muted}">{text}</FONT></TD></TR>')
        return f'<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0">{rows}</TABLE>'

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
