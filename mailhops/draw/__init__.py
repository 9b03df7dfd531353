"""Drawing: journeys and topologies as Graphviz pictures, themes, escaping, export, and text reports.

What lives here, one job per module:

- :mod:`.canvas` — the Digraph under construction: theme, type sizes, node IDs, server nodes, edges, legend, caption
- :mod:`.topology` — :func:`render_topology`: domains as clusters, servers, configured links, the DNS MX records
- :mod:`.route` — a journey as nodes and edges: one per server, hand-offs grouped (loops, failed attempts, bounce)
- :mod:`.labels` — the words on a journey drawing: hop numbers, protocols, delays, DNS notes, outcome, title
- :mod:`.panels` — header panels: the header lines each hop added, beside its server or under a slide frame
- :mod:`.journey` — :func:`render_journey`: highlight and fading, elided servers on slides, outcome, in named steps
- :mod:`.export` — :func:`render`; running ``dot``: :func:`to_svg`, :func:`export`, :func:`export_frames`; Jupyter
- :mod:`.themes` — the colour themes (Okabe-Ito), fonts, line styles per kind of edge
- :mod:`.escape` — label escaping and wrapping (every text in an HTML-like label goes through it)
- :mod:`.text` — the plain-text report of a journey

May use: the records only (:mod:`mailhops.journey`, :mod:`mailhops.topology`, :mod:`mailhops.errors`).
A drawing never simulates or parses; composing "run a scenario, then draw it" happens in
:mod:`mailhops.cli` and the widgets.

>>> from mailhops.draw import render_journey
>>> import mailhops
>>> graph = render_journey(mailhops.run_scenario("three-hops"))
>>> "smtp.example.org" in graph.source
True
"""

from __future__ import annotations

from .export import (
    FORMATS,
    INSTALL_HINT,
    SLIDE_DPI,
    SLIDE_SIZE,
    export,
    export_frames,
    frame_steps,
    render,
    repr_mimebundle,
    to_svg,
)
from .journey import render_journey
from .topology import render_topology

__all__ = ["FORMATS", "INSTALL_HINT", "SLIDE_DPI", "SLIDE_SIZE", "export", "export_frames", "frame_steps", "render",
           "render_journey", "render_topology", "repr_mimebundle", "to_svg"]
