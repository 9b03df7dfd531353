"""Colour themes for diagrams: ``light``, ``dark`` and ``print``.

Colours come from the Okabe-Ito palette, which stays distinguishable for the common forms of
colour blindness. Colour is never the only signal: every kind of edge also has its own line style
and arrow head (a refused transfer ends in a bar, a bounce is dotted, a loop is a double line), so
the ``print`` theme, which is grayscale only, tells them apart as well. Fonts are named explicitly
(Liberation Sans for text, Liberation Mono for header lines, each followed by fallbacks such as
``Arial, Helvetica, sans-serif``, so a machine without them still draws a sans-serif face); both ship
with Debian (``fonts-liberation``) and Binder images.

``highlight`` marks the *current* step of a build: in every theme it differs from all outcome colours
(delivered, refused, waiting), so the step being explained never reads as an error.

>>> get_theme("dark").background
'#1b1d23'
>>> sorted(THEMES)
['dark', 'light', 'print']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import RenderError

__all__ = ["OKABE_ITO", "ROLE_GROUPS", "ROLE_SHAPES", "THEMES", "EdgeStyle", "Theme", "get_theme"]

#: The Okabe-Ito colour-blind-safe palette.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#e69f00",
    "sky_blue": "#56b4e9",
    "bluish_green": "#009e73",
    "yellow": "#f0e442",
    "blue": "#0072b2",
    "vermillion": "#d55e00",
    "reddish_purple": "#cc79a7",
}

#: Which side of the journey a server role stands on; each group has a fill colour per theme.
ROLE_GROUPS: dict[str, str] = {
    "client": "sender",
    "webmail": "sender",
    "submission": "sender",
    "relay": "sender",
    "mx": "inbound",
    "filter": "inbound",
    "antivirus": "inbound",
    "archive": "inbound",
    "alias": "inbound",
    "router": "inbound",
    "mailbox": "mailbox",
    "forwarder": "forwarder",
}

#: Node shape (and extra style) per role, so roles differ by outline too, not only by colour.
ROLE_SHAPES: dict[str, tuple[str, str]] = {
    "client": ("box", "rounded"),
    "webmail": ("tab", ""),
    "submission": ("box", ""),
    "relay": ("box", ""),
    "mx": ("hexagon", ""),
    "filter": ("octagon", ""),
    "antivirus": ("octagon", ""),
    "archive": ("box3d", ""),
    "alias": ("cds", ""),
    "router": ("parallelogram", ""),
    "mailbox": ("cylinder", ""),
    "forwarder": ("cds", ""),
}


@dataclass(frozen=True)
class EdgeStyle:
    """How one kind of edge looks: colour, Graphviz ``style``, arrow head and pen width."""

    color: str
    style: str = "solid"
    arrowhead: str = "normal"
    penwidth: float = 1.6


@dataclass(frozen=True)
class Theme:
    """Everything a diagram needs to know about colours and fonts."""

    name: str
    background: str
    foreground: str
    muted: str  #: secondary text (roles, IP addresses)
    faded: str  #: lines and text of the hops that are not highlighted
    faded_fill: str
    cluster_fill: str
    cluster_line: str
    panel_fill: str
    panel_line: str
    highlight: str  #: the current step of a build; never one of the outcome colours
    fills: dict[str, str]  #: per role group, plus "unknown", "down", "dns", "outcome"
    edges: dict[str, EdgeStyle]  #: hop, rejected, unreachable, deferred, bounce, loop, dns, outcome
    font: str = "Liberation Sans, Arial, Helvetica, sans-serif"
    mono: str = "Liberation Mono, Courier New, Courier, monospace"
    outcome_colors: dict[str, str] = field(default_factory=dict)


def _edges(hop: str, rejected: str, deferred: str, bounce: str, loop: str, dns: str, outcome: str,
           bg: str) -> dict[str, EdgeStyle]:
    return {
        "hop": EdgeStyle(hop, "solid", "normal", 1.8),
        # refused for good: thick dashes; not reached / deferred (will be retried): thin dashes
        "rejected": EdgeStyle(rejected, "dashed", "tee", 2.6),
        "unreachable": EdgeStyle(deferred, "dashed", "tee", 1.2),
        "deferred": EdgeStyle(deferred, "dashed", "tee", 1.2),
        "bounce": EdgeStyle(bounce, "dotted", "empty", 2.4),
        # a double line: two strokes in the loop colour with the background between them
        "loop": EdgeStyle(f"{loop}:{bg}:{loop}", "solid", "normal", 1.8),
        "dns": EdgeStyle(dns, "dotted", "odot", 1.2),
        "outcome": EdgeStyle(outcome, "solid", "vee", 1.4),
    }


LIGHT = Theme(
    name="light",
    background="#ffffff",
    foreground="#1a1a1a",
    muted="#555555",
    faded="#c4c4c4",
    faded_fill="#f4f4f4",
    cluster_fill="#f6f7f9",
    cluster_line="#c9ced6",
    panel_fill="#fffdf5",
    panel_line="#b8b09a",
    highlight=OKABE_ITO["blue"],
    fills={
        "sender": "#d6e9f8",
        "inbound": "#fbe7c0",
        "mailbox": "#cdeee2",
        "forwarder": "#f4dbe9",
        "unknown": "#eeeeee",
        "down": "#dddddd",
        "dns": "#f3f3f3",
        "outcome": "#ffffff",
    },
    edges=_edges(OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["orange"], OKABE_ITO["reddish_purple"],
                 OKABE_ITO["orange"], "#777777", "#444444", "#ffffff"),
    outcome_colors={"good": OKABE_ITO["bluish_green"], "bad": OKABE_ITO["vermillion"], "wait": OKABE_ITO["orange"]},
)

DARK = Theme(
    name="dark",
    background="#1b1d23",
    foreground="#e8e8e8",
    muted="#a9adb5",
    faded="#4a4e57",
    faded_fill="#23262d",
    cluster_fill="#23262e",
    cluster_line="#4a505c",
    panel_fill="#262a33",
    panel_line="#5b6270",
    highlight=OKABE_ITO["yellow"],
    fills={
        "sender": "#17374f",
        "inbound": "#4a380f",  # muted text on it: 5.0:1 (WCAG AA)
        "mailbox": "#0f4234",
        "forwarder": "#4a2741",
        "unknown": "#33363d",
        "down": "#2b2b2b",
        "dns": "#2a2d34",
        "outcome": "#1b1d23",
    },
    edges=_edges(OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"], OKABE_ITO["orange"], OKABE_ITO["reddish_purple"],
                 OKABE_ITO["orange"], "#a9adb5", "#c8c8c8", "#1b1d23"),
    outcome_colors={"good": OKABE_ITO["bluish_green"], "bad": OKABE_ITO["vermillion"], "wait": OKABE_ITO["orange"]},
)

PRINT = Theme(
    name="print",
    background="#ffffff",
    foreground="#000000",
    muted="#404040",
    faded="#bdbdbd",
    faded_fill="#ffffff",
    cluster_fill="#f7f7f7",
    cluster_line="#808080",
    panel_fill="#ffffff",
    panel_line="#808080",
    highlight="#000000",
    fills={
        "sender": "#ffffff",
        "inbound": "#ebebeb",
        "mailbox": "#d4d4d4",
        "forwarder": "#f5f5f5",
        "unknown": "#ffffff",
        "down": "#bdbdbd",
        "dns": "#ffffff",
        "outcome": "#ffffff",
    },
    edges=_edges("#000000", "#000000", "#444444", "#000000", "#000000", "#555555", "#000000", "#ffffff"),
    outcome_colors={"good": "#555555", "bad": "#555555", "wait": "#555555"},  # the highlight is black
)

THEMES: dict[str, Theme] = {t.name: t for t in (LIGHT, DARK, PRINT)}


def get_theme(theme: str | Theme) -> Theme:
    """The :class:`Theme` called ``theme`` (a :class:`Theme` passes through); unknown names raise RenderError.

    >>> get_theme("print").edges["rejected"].style
    'dashed'
    """
    if isinstance(theme, Theme):
        return theme
    try:
        return THEMES[theme]
    except (KeyError, TypeError):
        raise RenderError(f"Unknown theme {theme!r}; choose one of {', '.join(THEMES)}.") from None
