"""The hop stepper: walk a journey one hop at a time, the diagram, the header view and the SMTP
dialogue following along.

>>> from mailhops import scenarios
>>> stepper = HopStepper(scenarios.run("three-hops"))
>>> stepper.slider.value = 2
>>> stepper.highlighted, stepper.shown_hops
(2, [2, 1])
"""

from __future__ import annotations

import html
import re
from typing import Any

import ipywidgets as W

from .. import draw as rd
from ..journey import Journey
from ..topology import Topology
from .export import ExportPanel
from .headers import step_caption, step_hops
from .views import MONO, PAPER, DiagramView, HeaderView, style_widget

__all__ = ["HopStepper"]


def _smtp_html(journey: Journey, step: int | str | None) -> str:
    """The SMTP tab: what the two servers of each transfer at ``step`` said to each other."""
    if step in (None, 0):
        return f'<div style="{PAPER}color:#555">Step to a hop to see what the two servers said to each other.</div>'
    _, hops = step_hops(journey, step)
    blocks = []
    for hop in hops:
        who = f"{hop.from_server or hop.from_name} &#8594; {hop.by_name}"
        rows = []
        for line in hop.smtp:
            color = "#0b5394" if line.side == "C" else "#38761d"
            side = "client" if line.side == "C" else "server"
            rows.append(f'<div style="color:{color}"><b>{line.side}:</b> {html.escape(line.text)}'
                        f'<span style="display:none"> ({side})</span></div>')
        blocks.append(f'<div style="margin-bottom:8px"><div style="font-family:sans-serif;font-weight:bold">{who}'
                      f' <span style="font-weight:normal;color:#666">({html.escape(hop.status)})</span></div>'
                      f'<div style="font-family:{MONO};font-size:12px;white-space:pre-wrap">{"".join(rows)}</div></div>')
    return f'<div style="{PAPER}">' + ("".join(blocks) or "<p>No dialogue at this step.</p>") + "</div>"


def _outcome_html(journey: Journey) -> str:
    """The Outcome & DNS tab: the outcome, notes, copies and every DNS look-up of ``journey``."""
    parts = []
    if journey.outcome is not None:
        o = journey.outcome
        parts.append(f"<p><b>Outcome: {html.escape(o.kind)} ({html.escape(o.status)})</b><br>{html.escape(o.detail)}</p>")
    for note in journey.notes:
        parts.append(f"<p>Note: {html.escape(note)}</p>")
    for copy in journey.copies:
        parts.append(f"<p>Copy: {html.escape(copy)}</p>")
    for lookup in journey.lookups:
        answers = "<br>".join(html.escape(a) for a in lookup.answers) or "(no answer)"
        parts.append(f'<p>DNS before hop {lookup.before_hop}: {html.escape(lookup.asked_by)} asks '
                     f'{lookup.rdtype} {html.escape(lookup.qname)}<br><span style="font-family:{MONO}">{answers}</span>'
                     f"<br>&#8594; {html.escape(lookup.conclusion)}</p>")
    return f'<div style="{PAPER}">' + "".join(parts) + "</div>"


class HopStepper(W.VBox):
    """Walk a journey one hop at a time: the diagram highlights hop k, the header view shows the fields of
    hops 1..k (newest on top, hop k's highlighted), a second tab shows hop k's SMTP dialogue.

    Controls: Back, Step (CSS class ``mailhops-step``), Play and a slider; ``slider.value`` is the step
    (0 = before the first hop; then each hop, failed attempts included, then the bounce's hops).
    """

    def __init__(self, journey: Journey | None = None, *, topology: Topology | None = None, step: int = 0,
                 show_export: bool = True) -> None:
        self.journey: Journey | None = None
        self.topology = topology
        self.steps: list[int | str] = []
        self._quiet = False
        self._generation = 0  # changes with every journey shown: the key of the diagram cache
        self._build_controls()
        super().__init__(self._lay_out(show_export=show_export))
        self._wire_callbacks()
        if journey is not None:
            self.set_journey(journey, topology=topology, step=step)

    # -- construction ------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        """The views (diagram, headers, SMTP dialogue, outcome, caption), the step controls, the export panel."""
        self.diagram = DiagramView()
        self.headers = HeaderView()
        self.smtp = W.HTML()
        self.outcome = W.HTML()
        self.caption = W.HTML()
        self.slider = W.IntSlider(value=0, min=0, max=0, description="hop", continuous_update=False,
                                  layout=W.Layout(width="320px"))
        self.play = W.Play(value=0, min=0, max=0, interval=1500, description="play")
        self.back = W.Button(description="Back", icon="step-backward", layout=W.Layout(width="90px"))
        self.step_button = W.Button(description="Step", icon="step-forward", button_style="primary",
                                    layout=W.Layout(width="110px"), tooltip="send the message one hop further")
        self.step_button.add_class("mailhops-step")
        self.export = ExportPanel(self.diagram)

    def _lay_out(self, *, show_export: bool) -> list[W.Widget]:
        """The step controls, the caption, the diagram above (or beside) the tabs, the export panel."""
        self.tabs = W.Tab(children=[self.headers, self.smtp, self.outcome])
        self.tabs.titles = ("Headers", "SMTP dialogue", "Outcome & DNS")
        controls = W.HBox([self.back, self.step_button, self.play, self.slider],
                          layout=W.Layout(align_items="center", flex_flow="row wrap"))
        self.body = W.Box([self.diagram, self.tabs], layout=W.Layout(width="100%", flex_flow="column"))
        children: list[W.Widget] = [style_widget(), controls, self.caption, self.body]
        if show_export:
            children.append(self.export)
        return children

    def _wire_callbacks(self) -> None:
        """Play moves the slider; Back and Step move it by one; every move of the slider redraws."""
        W.link((self.play, "value"), (self.slider, "value"))
        self.back.on_click(lambda _b: self.step_back())
        self.step_button.on_click(lambda _b: self.step_forward())
        self.slider.observe(self._on_slider, "value")

    # -- state -----------------------------------------------------------------------------------
    @property
    def step(self) -> int | str | None:
        """The step shown: ``None`` before the first hop, else a hop number or ``"B<k>"``."""
        k = self.slider.value
        return self.steps[k - 1] if 0 < k <= len(self.steps) else None

    @property
    def highlighted(self) -> int | str | None:
        """The hop highlighted on the diagram (same as :attr:`step`)."""
        return self.step

    @property
    def shown_hops(self) -> list[int | str]:
        """The hops whose header fields the header view shows, top to bottom."""
        return list(dict.fromkeys(line.hop for line in self.headers.lines if line.kind == "trace"))

    def set_journey(self, journey: Journey, *, topology: Topology | None = None, step: int | str = 0) -> None:
        """Show ``journey``; ``step`` is an index (0..number of steps) or ``"last"``."""
        self.journey = journey
        self.topology = topology
        self._generation += 1
        self.steps = rd.frame_steps(journey)
        self._quiet = True
        try:
            last = len(self.steps)
            index = last if step == "last" else max(0, min(int(step), last))
            self.slider.max = self.play.max = last
            self.slider.value = index
        finally:
            self._quiet = False
        self.export.stem = journey.scenario or "mailhops-journey"
        self.outcome.value = _outcome_html(journey)
        self.refresh()

    @property
    def tall(self) -> bool:
        """Is the diagram taller than wide? Then it stands beside the headers, not above them."""
        m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', self.diagram.svg or "")
        return bool(m) and float(m.group(2)) > float(m.group(1))

    def _arrange(self) -> None:
        tall = self.tall
        flow = "row" if tall else "column"
        if self.body.layout.flex_flow != flow:
            self.body.layout.flex_flow = flow
            self.diagram.layout.width = "45%" if tall else "100%"
            self.tabs.layout.width = "55%" if tall else "100%"

    def step_forward(self) -> None:
        """One hop further (after the last step, start again from the beginning)."""
        self.slider.value = self.slider.value + 1 if self.slider.value < self.slider.max else 0

    def step_back(self) -> None:
        self.slider.value = max(0, self.slider.value - 1)

    def _on_slider(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self.refresh()

    def refresh(self) -> None:
        """Redraw the diagram, the header view, the SMTP tab and the caption for the current step."""
        if self.journey is None:
            return
        step = self.step
        self.diagram.draw(self.journey, highlight=step, topology=self.topology, cache_key=(self._generation, step))
        self.headers.show(self.journey, step)
        self._arrange()
        self.smtp.value = _smtp_html(self.journey, step)
        total = len(self.steps)
        at_end = self.slider.value >= total
        self.step_button.description = "Again" if at_end and total else "Step"
        self.caption.value = (f'<div style="font-size:13px;margin:4px 0"><b>Step {self.slider.value} of {total}.</b> '
                              f"{html.escape(step_caption(self.journey, step))}</div>")
