"""ipywidgets for the lessons, one module per widget, over plain functions that decide what to show.

Modules, lowest first (each uses only those above it):

- :mod:`~mailhops.widgets.headers`: which header fields a message carries at each step, one sentence per step.
- :mod:`~mailhops.widgets.knobs`: the explorer's knobs (:class:`Knobs`, :func:`apply_knobs`, :func:`run_with`).
- :mod:`~mailhops.widgets.figures`: lesson pictures that are not journeys (:func:`email_vs_xmpp`).
- :mod:`~mailhops.widgets.views`: what every widget shows: :func:`diagram`, :class:`DiagramView`,
  :class:`HeaderView`, success and error sentences.
- :mod:`~mailhops.widgets.export`: :class:`ExportPanel`, SVG and PNG downloads of the diagram shown.
- :mod:`~mailhops.widgets.stepper`: :class:`HopStepper`, a journey one hop at a time.
- :mod:`~mailhops.widgets.mx_lookup`: :class:`MXLookupPanel` and the MX texts it shows.
- :mod:`~mailhops.widgets.builder`: :class:`TopologyBuilder`, a topology built with forms.
- :mod:`~mailhops.widgets.analyzer`: :class:`AnalyzePanel`, the route of a pasted real message.
- :mod:`~mailhops.widgets.explorer`: :class:`ScenarioExplorer`, and :class:`App` / :func:`app` (the
  explorer lesson's tabs).

The widgets may use everything below them in the package (scenarios, the simulator, the live servers,
reading and drawing) but nothing above (lesson checks, the CLI). ``headers`` and ``knobs`` are plain
Python, tested without Jupyter; the widgets only wire them to controls. Widget state is kept in
``.value`` of HTML widgets and in ``.outputs`` of Output widgets, so it can be checked without a kernel.
Notebooks write ``from mailhops import widgets`` and call ``widgets.X``: every name below stays here.
"""

from __future__ import annotations

from .analyzer import AnalyzePanel
from .builder import TopologyBuilder
from .explorer import App, ScenarioExplorer, app
from .export import ExportPanel
from .figures import email_vs_xmpp
from .headers import HeaderLine, header_fields, headers_at, step_caption
from .knobs import (
    FORWARDING_DOMAIN,
    Knobs,
    apply_knobs,
    recipients_of,
    relevant_knobs,
    run_with,
    scenario_defaults,
    with_knobs,
)
from .mx_lookup import MXLookupPanel, live_lookup_text, mx_order_text, topology_dns, zone_text
from .stepper import HopStepper
from .views import FIT_WIDTH_IN, STYLE, Diagram, DiagramView, HeaderView, diagram, fit_width

__all__ = [
    "FIT_WIDTH_IN",
    "FORWARDING_DOMAIN",
    "STYLE",
    "AnalyzePanel",
    "App",
    "Diagram",
    "DiagramView",
    "ExportPanel",
    "HeaderLine",
    "HeaderView",
    "HopStepper",
    "Knobs",
    "MXLookupPanel",
    "ScenarioExplorer",
    "TopologyBuilder",
    "app",
    "apply_knobs",
    "diagram",
    "email_vs_xmpp",
    "fit_width",
    "header_fields",
    "headers_at",
    "live_lookup_text",
    "mx_order_text",
    "recipients_of",
    "relevant_knobs",
    "run_with",
    "scenario_defaults",
    "step_caption",
    "topology_dns",
    "with_knobs",
    "zone_text",
]
