"""Drawing: journeys and topologies as Graphviz pictures, themes, escaping, export, and text reports.

What lives here: the journey and topology drawings, header panels and slide frames (:mod:`.render`),
the colour themes (:mod:`.themes`), label escaping (:mod:`.escape`), export to SVG/PNG/PDF, and the plain
text report of a journey (:mod:`.text`).

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

from .render import export, export_frames, frame_steps, render, render_journey, render_topology, repr_mimebundle, to_svg

__all__ = ["export", "export_frames", "frame_steps", "render", "render_journey", "render_topology", "repr_mimebundle",
           "to_svg"]
