"""The MX look-up panel: a scenario's DNS zone, which host a sending server picks from its MX records,
and a clearly marked live look-up of a real domain. The texts it shows come from plain functions.
"""

from __future__ import annotations

import html
import random

import ipywidgets as W

from .. import scenarios as sc
from ..dns import TopologyDNS, live_mx
from ..errors import DNSLookupError, MailhopsError
from ..simulate import dns_for
from ..topology import Topology, domain_of
from .browser_graph import IN_BROWSER
from .views import error_html

__all__ = ["MXLookupPanel", "live_lookup_text", "mx_order_text", "topology_dns", "zone_text"]


def mx_order_text(topology: Topology, domain: str, *, down: tuple[str, ...] | list[str] | None = None,
                  seed: int = 0) -> str:
    """What a sending server concludes from the MX records of ``domain``, and which host takes the mail.

    ``down`` names the servers that do not answer (by default, those that are down in ``topology``).

    >>> print(mx_order_text(sc.get("mx-fallback").build(), "example.net"))
    MX records of example.net:
      example.net. MX 10 mx1.example.net.
      example.net. MX 20 mx2.example.net.
    Conclusion: try mx1.example.net (10), then mx2.example.net (20)
      1. mx1.example.net (preference 10): down - no connection, try the next one
      2. mx2.example.net (preference 20): answers and takes the message
    """
    answer = dns_for(topology).mx_candidates(domain, random.Random(seed))
    lines = [f"MX records of {domain}:"]
    lines += [f"  {r}" for r in answer.records] or ["  (none)"]
    lines.append(f"Conclusion: {answer.conclusion}")
    down_set = set(down) if down is not None else {s.name for s in topology.servers.values() if not s.up}
    taken = False
    for i, (pref, host) in enumerate(answer.candidates, start=1):
        if taken:
            lines.append(f"  {i}. {host} (preference {pref}): not needed")
        elif host in down_set:
            lines.append(f"  {i}. {host} (preference {pref}): down - no connection, try the next one")
        else:
            lines.append(f"  {i}. {host} (preference {pref}): answers and takes the message")
            taken = True
    if answer.candidates and not taken:
        lines.append("  Nobody answers: the message waits in the sender's queue and is retried later (4xx, deferred).")
    return "\n".join(lines)


def zone_text(topology: Topology, domain: str) -> str:
    """The simulated DNS zone of ``domain`` as a zone file, every name written out in full (no $ORIGIN short forms).

    >>> [line for line in zone_text(sc.get("three-hops").build(), "example.net").splitlines() if " MX " in line]
    ['example.net. 3600 IN MX 10 mx.example.net.']
    """
    zone = dns_for(topology).zones.get(domain)
    if zone is None:
        raise DNSLookupError(f"The topology has no DNS zone for {domain}.")
    return zone.to_text(sorted=True, relativize=False)


def live_lookup_text(domain: str, *, timeout: float = 2.0) -> str:
    """Ask the real DNS for ``domain``'s MX records (needs the Internet); always returns a sentence, never raises.

    >>> live_lookup_text("example.invalid", timeout=0.5).startswith("Live look-up failed")
    True
    """
    domain = (domain or "").strip().rstrip(".")
    if not domain:
        return "Type a domain name first, for example gmail.com."
    if IN_BROWSER:  # JupyterLite: no sockets in the page (and no asking other hosts)
        return ("Live look-up failed: asking the real DNS needs a Jupyter server (./dev.sh lab or Binder); "
                "in this browser-only site Python runs inside the page and cannot open a network connection.")
    try:
        records = live_mx(domain, timeout=timeout)
    except DNSLookupError as err:
        return f"Live look-up failed: {err}"
    except MailhopsError as err:
        return f"Live look-up failed: {err}"
    rows = "\n".join(f"  MX {pref:>3} {host or '.'}" for pref, host in records)
    if len(records) == 1 and records[0][1] in ("", "."):
        return f"{domain} publishes a null MX (0 .): it accepts no mail at all (RFC 7505).\n{rows}"
    return f"The real DNS says (lowest preference is tried first):\n{rows}"


class MXLookupPanel(W.VBox):
    """The MX records of a scenario's domains (the simulated DNS zone and what a sender concludes),
    and a clearly marked live look-up of a real domain that fails with a sentence when offline."""

    def __init__(self, scenario: str = "mx-fallback", *, timeout: float = 2.0) -> None:
        self.timeout = timeout
        self._refreshing = False
        self.topology = sc.get(scenario).build()
        self._build_controls(scenario)
        super().__init__(self._lay_out())
        self._wire_callbacks()
        self._load(scenario)

    # -- construction ------------------------------------------------------------------------------
    def _build_controls(self, scenario: str) -> None:
        """Scenario, domain and down servers for the simulated DNS; a domain and a button for the live one."""
        self.scenario = W.Dropdown(options=sc.names(), value=scenario, description="Scenario")
        self.domain = W.Dropdown(description="Domain")
        self.down = W.SelectMultiple(description="Down", rows=3, layout=W.Layout(width="340px"))
        self.zone = W.HTML()
        self.answer = W.HTML()
        self.live_domain = W.Text(value="gmail.com", description="Domain", placeholder="e.g. gmail.com")
        self.live_button = W.Button(description="Ask the real DNS", icon="globe", button_style="warning")
        self.live_result = W.HTML()

    def _lay_out(self) -> list[W.Widget]:
        """The simulated DNS on top (zone file beside the sender's conclusion), the live look-up boxed below."""
        live_box = W.VBox([
            W.HTML('<div style="margin-top:10px"><b>Live look-up &#8212; needs the Internet.</b> '
                   "This asks your real DNS resolver; nothing else leaves the machine. Offline it fails with a "
                   "sentence, and a failure proves nothing about the domain.</div>"),
            W.HBox([self.live_domain, self.live_button]), self.live_result,
        ], layout=W.Layout(border="1px dashed #e69f00", padding="6px"))
        return [W.HBox([self.scenario, self.domain]), self.down, W.HBox([self.zone, self.answer]), live_box]

    def _wire_callbacks(self) -> None:
        """Another scenario loads it; another domain or set of down servers redraws; the button asks the real DNS."""
        self.scenario.observe(lambda c: self._load(c["new"]), "value")
        self.domain.observe(lambda _c: self.refresh(), "value")
        self.down.observe(lambda _c: self.refresh(), "value")
        self.live_button.on_click(lambda _b: self.live_lookup())

    # -- state -------------------------------------------------------------------------------------
    def _load(self, name: str) -> None:
        self.topology = sc.get(name).build()
        domains = sorted(self.topology.domains)
        recipient = domain_of(sc.get(name).recipient)
        self.domain.options = domains
        self.domain.value = recipient if recipient in domains else domains[0]
        self.refresh()

    def refresh(self) -> None:
        domain = self.domain.value
        if not domain:
            return
        if self._refreshing:
            return
        self._refreshing = True
        try:
            hosts = [s.name for _, s in self.topology.mx_hosts(domain)]
            if tuple(self.down.options) != tuple(hosts):  # another domain: start from what the scenario says
                self.down.options = hosts
                self.down.value = tuple(h for h in hosts if not self.topology.servers[h].up)
            else:
                self.down.value = tuple(h for h in self.down.value if h in hosts)
        finally:
            self._refreshing = False
        zone = zone_text(self.topology, domain)
        self.zone.value = (f'<div style="margin-right:16px"><b>Zone file of {html.escape(domain)}</b>'
                           f'<pre style="font-size:12px">{html.escape(zone)}</pre></div>')
        text = mx_order_text(self.topology, domain, down=self.down.value)
        self.answer.value = (f'<div><b>What a sending server does</b><pre style="font-size:12px">'
                             f"{html.escape(text)}</pre></div>")

    def live_lookup(self) -> None:
        """Run the live look-up for the typed domain and show its answer or the reason it failed."""
        text = live_lookup_text(self.live_domain.value, timeout=self.timeout)
        if text.startswith("Live look-up failed") or text.startswith("Type"):
            self.live_result.value = error_html(text)
        else:
            self.live_result.value = f'<pre style="font-size:12px">{html.escape(text)}</pre>'


def topology_dns(topology: Topology) -> TopologyDNS:
    """The simulated DNS of ``topology`` (zones you can print with ``.zone_text(domain)``)."""
    return dns_for(topology)
