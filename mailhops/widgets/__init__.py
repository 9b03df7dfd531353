"""ipywidgets for the lessons, one module per widget, over plain functions that decide what to show.

Modules, lowest first (each uses only those above it):

- :mod:`~mailhops.widgets.headers`: which header fields a message carries at each step, one sentence per step.
- :mod:`~mailhops.widgets.knobs`: the explorer's knobs (:class:`Knobs`, :func:`apply_knobs`, :func:`run_with`).
- :mod:`~mailhops.widgets.figures`: lesson pictures that are not journeys (:func:`email_vs_xmpp`,
  :func:`hop_reasons`).
- :mod:`~mailhops.widgets.views`: what every widget shows: :func:`diagram`, :class:`DiagramView`,
  :class:`HeaderView`, success and error sentences.
- :mod:`~mailhops.widgets.xmpp`: the XMPP contrast, runnable: :func:`send_xmpp` (direct, no queue) against
  :func:`send_smtp_with_retries` (queue and retries), side by side in :class:`ChatVsMail`.
- :mod:`~mailhops.widgets.quiz`: :class:`Quiz`, multiple-choice questions checked as they are answered.
- :mod:`~mailhops.widgets.export`: :class:`ExportPanel`, SVG and PNG downloads of the diagram shown.
- :mod:`~mailhops.widgets.stepper`: :class:`HopStepper`, a journey one hop at a time.
- :mod:`~mailhops.widgets.mx_lookup`: :class:`MXLookupPanel` and the MX texts it shows.
- :mod:`~mailhops.widgets.builder`: :class:`TopologyBuilder`, a topology built with forms.
- :mod:`~mailhops.widgets.analyzer`: :class:`AnalyzePanel`, the route of a pasted real message.
- :mod:`~mailhops.widgets.browser_graph`: :class:`BrowserDiagram`, diagrams drawn in the page by WebAssembly
  Graphviz wherever ``dot`` cannot run (JupyterLite, or Jupyter without Graphviz); importing this package
  makes every diagram fall back to it.
- :mod:`~mailhops.widgets.trust`: :class:`TrustLab` and the plain functions under it (:func:`trust_receipts`,
  :func:`trust_report`): what every receiving server concluded about who sent a message (SPF, DKIM, ARC, DMARC).
- :mod:`~mailhops.widgets.explorer`: :class:`ScenarioExplorer`, and :class:`App` / :func:`app` (the
  explorer lesson's tabs).

The widgets may use everything below them in the package (scenarios, the simulator, the live servers,
reading and drawing) but nothing above (lesson checks, the CLI). ``headers`` and ``knobs`` are plain
Python, tested without Jupyter; the widgets only wire them to controls. Widget state is kept in
``.value`` of HTML widgets and in ``.outputs`` of Output widgets, so it can be checked without a kernel.
Notebooks write ``from mailhops import widgets`` and call ``widgets.X``: every name below stays here.
"""

from __future__ import annotations

from . import browser_graph
from .analyzer import AnalyzePanel
from .browser_graph import IN_BROWSER, NEEDS_SERVER, BrowserDiagram
from .builder import TopologyBuilder
from .explorer import App, ScenarioExplorer, app
from .export import ExportPanel
from .figures import HOP_REASONS, email_vs_xmpp, hop_reasons
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
from .quiz import Quiz
from .stepper import HopStepper
from .trust import (
    Receipt,
    TrustLab,
    TrustSettings,
    run_trust,
    srs_reverse,
    trust_changes,
    trust_defaults,
    trust_receipts,
    trust_report,
    with_trust,
)
from .views import FIT_WIDTH_IN, STYLE, Diagram, DiagramView, HeaderView, diagram, fit_width
from .xmpp import ChatVsMail, compare_text, send_smtp_with_retries, send_xmpp

browser_graph.install()  # records and diagrams shown where dot cannot run are drawn in the browser

__all__ = [
    "FIT_WIDTH_IN",
    "IN_BROWSER",
    "NEEDS_SERVER",
    "FORWARDING_DOMAIN",
    "HOP_REASONS",
    "STYLE",
    "AnalyzePanel",
    "App",
    "BrowserDiagram",
    "ChatVsMail",
    "Diagram",
    "DiagramView",
    "ExportPanel",
    "HeaderLine",
    "HeaderView",
    "HopStepper",
    "Knobs",
    "MXLookupPanel",
    "Quiz",
    "ScenarioExplorer",
    "TopologyBuilder",
    "Receipt",
    "TrustLab",
    "TrustSettings",
    "app",
    "apply_knobs",
    "compare_text",
    "diagram",
    "email_vs_xmpp",
    "fit_width",
    "header_fields",
    "hop_reasons",
    "headers_at",
    "live_lookup_text",
    "mx_order_text",
    "recipients_of",
    "relevant_knobs",
    "run_with",
    "scenario_defaults",
    "send_smtp_with_retries",
    "send_xmpp",
    "step_caption",
    "topology_dns",
    "run_trust",
    "srs_reverse",
    "trust_changes",
    "trust_defaults",
    "trust_receipts",
    "trust_report",
    "with_trust",
    "with_knobs",
    "zone_text",
]
