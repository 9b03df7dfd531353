"""The scenario explorer (pick a scenario, turn its knobs, step through the journey) and :class:`App`,
the explorer lesson's tabs: the explorer and the topology builder (the MX look-up panel lives in the lesson
*Finding the next hop*; ``App(mx_lookup=True)`` adds it as a third tab)."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from .. import scenarios as sc
from ..errors import MailhopsError
from ..journey import Journey
from ..topology import Topology
from .browser_graph import IN_BROWSER, NEEDS_SERVER
from .builder import TopologyBuilder
from .knobs import FORWARDING_DOMAIN, Knobs, run_with, scenario_facts
from .mx_lookup import MXLookupPanel
from .stepper import HopStepper
from .views import error_html, ok_html

__all__ = ["App", "ScenarioExplorer", "app"]


_SPAM_OPTIONS = [
    ("as in the scenario", "scenario"),
    ("off", "off"),
    ("reject during SMTP", "reject"),
    ("accept, then bounce", "bounce"),
    ("accept, then drop silently", "drop"),
    ("deliver to the Junk folder", "junk"),
]


class ScenarioExplorer(W.VBox):
    """Pick a scenario, change what matters (spam filter, primary MX, forwarder, hop limit, recipient) and
    see the journey: the diagram, the headers hop by hop (a :class:`HopStepper`) and the outcome.

    >>> ex = ScenarioExplorer("three-hops")
    >>> ex.mx_down.value = True
    >>> ex.journey.outcome.kind
    'deferred'
    """

    def __init__(self, scenario: str = "three-hops", *, names: list[str] | None = None, seed: int = 0) -> None:
        self.seed = seed
        self._loading = False
        self.journey: Journey | None = None
        self.topology: Topology | None = None
        options = names or sc.names()
        sc.get(scenario)  # an unknown name fails here, before any control is built
        self._build_controls(scenario, options)
        super().__init__(self._lay_out())
        self._wire_callbacks()
        self._load(scenario, step=0)

    # -- construction ------------------------------------------------------------------------------
    def _build_controls(self, scenario: str, options: list[str]) -> None:
        """The scenario picker, the knobs, the transport switch, the stepper and the delivered message."""
        self.picker = W.Dropdown(options=options, value=scenario, description="Scenario",
                                 layout=W.Layout(width="340px"))
        self.summary = W.HTML()
        style = {"description_width": "110px"}
        self._build_knobs(style)
        self.message = W.HTML()
        self.transport = W.ToggleButtons(options=[("simulate", "simulate"), ("real servers", "live")], value="simulate",
                                         description="Run on", style=style,
                                         tooltips=["computed in Python, instantly",
                                                   "real SMTP servers on 127.0.0.1: real sockets, TLS, a real Maildir"])
        self.transport_note = W.HTML()
        if IN_BROWSER:  # JupyterLite: Python runs in the page and cannot listen on a port
            self.transport.disabled = True
            self.transport_note.value = f'<div class="mailhops-needs-server">{html.escape(NEEDS_SERVER)}</div>'
        self.delivered = W.Textarea(disabled=True, layout=W.Layout(width="100%", height="220px"))
        self.delivered_box = W.Accordion(children=[self.delivered], layout=W.Layout(display="none"))
        self.delivered_box.set_title(0, "The delivered message, read back from the Maildir")
        self.stepper = HopStepper()
        # the same journey drawn three ways: its route, the SMTP dialogue of each hop, the header stack
        self.view = W.ToggleButtons(options=[("route", "journey"), ("SMTP dialogue", "sequence"),
                                             ("header stack", "headers")], value="journey", description="Draw",
                                    style=style, tooltips=["the servers and the hand-offs between them",
                                                           "each hop's SMTP commands and replies, in order",
                                                           "the header lines the hops added, newest on top"])

    def _build_knobs(self, style: dict[str, str]) -> None:
        """One control per knob of :class:`~mailhops.widgets.knobs.Knobs`."""
        self.spam = W.Dropdown(options=_SPAM_OPTIONS, value="scenario", description="Spam filter", style=style)
        def auto() -> dict[str, Any]:  # each checkbox its own Layout: one shared Layout would hide them all at once
            return {"indent": False, "layout": W.Layout(width="auto")}
        self.spammy = W.Checkbox(description="the message looks like spam", **auto())
        self.mx_down = W.Checkbox(description="the primary MX is down", **auto())
        self.forwarder = W.Checkbox(description=f"write to a forwarding address (@{FORWARDING_DOMAIN})", **auto())
        self.limit_on = W.Checkbox(description="set the same hop limit on every server", **auto())
        self.hop_limit = W.IntSlider(value=50, min=1, max=100, description="hop limit", disabled=True,
                                     continuous_update=False, style=style)
        self.recipient = W.Dropdown(description="Recipient", style=style, layout=W.Layout(width="340px"))
        self.mta = W.Dropdown(options=[("as in the scenario", None)] + [(m, m) for m in sc.MTA_CHOICES], value=None,
                              description="MTA", style=style)
        # when delivery fails: greylisting at the MX, and the troubles of a laptop delivering by itself
        self.failure_knobs = {
            "greylisting": W.Checkbox(description="Bob's MX greylists (451 4.7.1 to the first attempt)", **auto()),
            "port25_blocked": W.Checkbox(description="the ISP blocks outgoing port 25", **auto()),
            "blocklisted": W.Checkbox(description="the home address is on a DNS blocklist", **auto()),
            "no_rdns": W.Checkbox(description="the home address has no reverse DNS name", **auto()),
            "spf_fails": W.Checkbox(description="example.org's SPF record does not list the laptop", **auto()),
        }

    def _lay_out(self) -> list[W.Widget]:
        """The picker and summary, one row per knob (hidden when it changes nothing), the journey below."""
        self._rows = {
            "spam": self.spam, "spammy": self.spammy, "primary_mx_down": self.mx_down, "forwarder": self.forwarder,
            "hop_limit": W.HBox([self.limit_on, self.hop_limit]), "recipient": self.recipient, **self.failure_knobs,
        }
        knobs_box = W.VBox(list(self._rows.values()), layout=W.Layout(border="1px solid #ddd", padding="6px"))
        return [W.HBox([self.picker, self.mta]), self.summary, knobs_box, self.transport, self.transport_note, self.message,
                self.view, self.stepper, self.delivered_box]

    def _wire_callbacks(self) -> None:
        """Another scenario loads it; any knob or the transport runs the journey again."""
        for control in (self.spam, self.spammy, self.mx_down, self.forwarder, self.limit_on, self.hop_limit,
                        self.recipient, self.mta, *self.failure_knobs.values()):
            control.observe(self._on_knob, "value")
        self.picker.observe(self._on_pick, "value")
        self.transport.observe(self._on_knob, "value")
        self.view.observe(self._on_view, "value")

    def _on_view(self, change: dict[str, Any]) -> None:
        """Draw the journey the other way, at the same step."""
        self.stepper.diagram.view = change["new"]
        self.stepper.refresh()

    # -- state -----------------------------------------------------------------------------------
    @property
    def knobs(self) -> Knobs:
        """The knob values the controls show now."""
        shown = scenario_facts(self.picker.value)[0]
        return Knobs(
            spam=self.spam.value if "spam" in shown else "scenario",
            spammy=self.spammy.value if "spammy" in shown else None,
            primary_mx_down=self.mx_down.value if "primary_mx_down" in shown else None,
            forwarder=self.forwarder.value and "forwarder" in shown,
            hop_limit=self.hop_limit.value if self.limit_on.value else None,
            recipient=self.recipient.value if "recipient" in shown else None,
            mta=self.mta.value,
            **{key: box.value if key in shown else None for key, box in self.failure_knobs.items()},
        )

    def _load(self, name: str, *, step: int | str) -> None:
        scenario = sc.get(name)
        shown, recipients, defaults = scenario_facts(name)
        self._loading = True
        try:
            self.spam.value = "scenario"
            self.spammy.value = bool(defaults.spammy)
            self.mx_down.value = bool(defaults.primary_mx_down)
            self.forwarder.value = False
            self.limit_on.value = False
            self.hop_limit.disabled = True
            self.recipient.options = recipients
            self.recipient.value = recipients[0]
            for key, box in self.failure_knobs.items():
                box.value = bool(getattr(defaults, key))
            for key, row in self._rows.items():
                row.layout.display = "" if key in shown else "none"
        finally:
            self._loading = False
        self.summary.value = (f'<div style="margin:4px 0 6px"><b>{html.escape(scenario.summary)}</b><br>'
                              f'<span style="color:#444">{html.escape(scenario.description)}</span></div>')
        self.update(step=step)

    def _on_pick(self, change: dict[str, Any]) -> None:
        self._load(change["new"], step="last")

    def _on_knob(self, _change: dict[str, Any]) -> None:
        self.hop_limit.disabled = not self.limit_on.value
        if not self._loading:
            self.update(step="last")

    @property
    def live(self) -> bool:
        """True when the journeys run on real servers on 127.0.0.1 rather than in the simulator."""
        return self.transport.value == "live"

    def update(self, *, step: int | str = "last") -> None:
        """Run with the current settings and show the result (an error sentence if it cannot)."""
        live = self.live
        if live:
            self.message.value = ok_html("Starting real servers on 127.0.0.1 and sending the message …")
        try:
            journey, topo = run_with(self.picker.value, self.knobs, seed=self.seed, live=live)
        except MailhopsError as err:
            self.message.value = error_html(str(err))
            return
        self.message.value = (ok_html("This journey crossed real SMTP servers on 127.0.0.1: mailhops' own Python "
                                       "servers, writing their replies and headers in the style of the MTAs they "
                                       "imitate (Postfix, Dovecot, ...). The SMTP tab shows what they really said.")
                              if live else "")
        self.journey, self.topology = journey, topo
        self.stepper.set_journey(journey, topology=topo, step=step)
        shown = live and journey.message is not None and journey.outcome is not None \
            and journey.outcome.kind in ("delivered", "junk")
        self.delivered.value = journey.message.decode("utf-8", "replace").replace("\r\n", "\n") if shown else ""
        self.delivered_box.layout.display = "" if shown else "none"


class App(W.VBox):
    """The explorer lesson's app: tabs for the scenario explorer and the topology builder, and with
    ``mx_lookup=True`` the MX look-up (which the lesson *Finding the next hop* already shows)."""

    def __init__(self, scenario: str = "three-hops", *, mx_lookup: bool = False) -> None:
        self.explorer = ScenarioExplorer(scenario)
        self.builder = TopologyBuilder("three-hops")
        self.mx = MXLookupPanel("mx-fallback") if mx_lookup else None
        self.tabs = W.Tab(children=[self.explorer, self.builder, *([self.mx] if self.mx is not None else [])])
        self.tabs.titles = ("Scenario explorer", "Build your own", *(("MX look-up",) if self.mx is not None else ()))
        title = W.HTML('<div style="font-size:18px;font-weight:bold;margin-bottom:4px">&#9993; mailhops explorer</div>'
                       '<div style="color:#444;margin-bottom:6px">Change the situation, then press Step to follow '
                       "the message hop by hop.</div>")
        super().__init__([title, self.tabs])


def app(scenario: str = "three-hops") -> App:
    """The app-like view of the explorer lesson."""
    return App(scenario)
