"""The topology builder: domains, servers, MX records, links and users added with forms, then a
message sent through them and shown in a hop stepper."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import ipywidgets as W

from .. import scenarios as sc
from ..errors import MailhopsError
from ..journey import Journey
from ..simulate import send
from ..topology import MTA_NAMES, ROLES, Topology, check_address
from .stepper import HopStepper
from .views import DiagramView, error_html, ok_html, style_widget

__all__ = ["TopologyBuilder"]


class TopologyBuilder(W.VBox):
    """Build a topology with forms: domains, servers with roles, MX records with preferences, links, users
    and forwarding rules; then send a message through it. Problems appear as a sentence, never a traceback.
    """

    def __init__(self, start: str | None = "three-hops") -> None:
        self.start = start
        self.topology = Topology("my-topology")
        self.journey: Journey | None = None
        self._build_controls(start)
        super().__init__(self._lay_out())
        self._wire_callbacks()
        self.reset(start)

    # -- construction ------------------------------------------------------------------------------
    def _build_controls(self, start: str | None) -> None:
        """Where to start from, the status line, the six forms' fields and buttons, the diagram and stepper."""
        self.status = W.HTML()
        self.status.add_class("mailhops-builder-status")
        self.start_from = W.Dropdown(options=[("an empty topology", "")] + [(n, n) for n in sc.names()],
                                     value=start or "", description="Start from")
        self.reset_button = W.Button(description="Start over", icon="refresh")
        full = W.Layout(width="300px")
        self._build_topology_fields(full)
        # sending
        self.send_from = W.Dropdown(description="From")
        self.send_to = W.Text(description="To", layout=full)
        self.send_button = W.Button(description="Send a message", icon="paper-plane", button_style="primary")
        self.diagram = DiagramView()
        self.stepper = HopStepper(show_export=True)
        self.stepper.layout.display = "none"

    def _build_topology_fields(self, full: W.Layout) -> None:
        """The fields and buttons of the forms 1 to 5: domains, servers, MX records, links, users."""
        # domains
        self.domain_name = W.Text(description="Domain", placeholder="example.com", layout=full)
        self.domain_null = W.Checkbox(description="accepts no mail (null MX)", indent=False,
                                      layout=W.Layout(width="auto"))
        self.domain_button = W.Button(description="Add domain", icon="plus")
        # servers
        self.server_name = W.Text(description="Host name", placeholder="mx.example.com", layout=full)
        self.server_role = W.Dropdown(options=list(ROLES), value="mx", description="Role")
        self.server_ip = W.Text(description="IP address", placeholder="203.0.113.25", layout=full)
        self.server_domain = W.Dropdown(description="Domain")
        self.server_mta = W.Dropdown(options=list(MTA_NAMES), value="postfix", description="Software")
        self.server_down = W.Checkbox(description="this server is down (refuses connections)", indent=False,
                                      layout=W.Layout(width="auto"))
        self.server_button = W.Button(description="Add server", icon="plus")
        # MX records
        self.mx_domain = W.Dropdown(description="Domain")
        self.mx_server = W.Dropdown(description="Server")
        self.mx_pref = W.IntText(value=10, description="Preference")
        self.mx_button = W.Button(description="Set MX record", icon="plus")
        # links
        self.link_from = W.Dropdown(description="From")
        self.link_to = W.Dropdown(description="To")
        self.link_button = W.Button(description="Add link", icon="plus")
        # users and forwarding
        self.user_address = W.Text(description="Address", placeholder="dave@example.com", layout=full)
        self.user_mailbox = W.Dropdown(description="Mailbox on")
        self.user_client = W.Dropdown(description="Writes from")
        self.user_forward = W.Text(description="Forward to", placeholder="(optional) dave@example.net", layout=full)
        self.user_button = W.Button(description="Add user", icon="plus")

    def _lay_out(self) -> list[W.Widget]:
        """Start-from row, status line, the six forms as numbered accordion sections, the diagram, the stepper."""
        forms = W.Accordion(children=[
            W.VBox([self.domain_name, self.domain_null, self.domain_button]),
            W.VBox([self.server_name, self.server_role, self.server_ip, self.server_domain, self.server_mta,
                    self.server_down, self.server_button]),
            W.VBox([W.HTML("An MX record says which server receives mail for a domain; the lowest preference is "
                           "tried first."), self.mx_domain, self.mx_server, self.mx_pref, self.mx_button]),
            W.VBox([W.HTML("A link is a configured next hop: everything the first server accepts goes to the "
                           "second (for example client to submission, MX to mailbox)."),
                    self.link_from, self.link_to, self.link_button]),
            W.VBox([self.user_address, self.user_mailbox, self.user_client, self.user_forward, self.user_button]),
            W.VBox([self.send_from, self.send_to, self.send_button]),
        ])
        forms.titles = ("1. Domains", "2. Servers", "3. MX records", "4. Links", "5. Users and forwarding",
                        "6. Send a message")
        return [style_widget(), W.HBox([self.start_from, self.reset_button]), self.status, forms, self.diagram,
                self.stepper]

    def _wire_callbacks(self) -> None:
        """Each button calls its action; another start or another MX domain refreshes what depends on it."""
        self.start_from.observe(lambda c: self.reset(c["new"] or None), "value")
        self.reset_button.on_click(lambda _b: self.reset(self.start_from.value or None))
        self.domain_button.on_click(lambda _b: self.add_domain())
        self.server_button.on_click(lambda _b: self.add_server())
        self.mx_domain.observe(lambda _c: self._refresh_mx_servers(), "value")
        self.mx_button.on_click(lambda _b: self.set_mx())
        self.link_button.on_click(lambda _b: self.add_link())
        self.user_button.on_click(lambda _b: self.add_user())
        self.send_button.on_click(lambda _b: self.send())

    # -- helpers -----------------------------------------------------------------------------------
    def _run(self, action: Callable[[], str]) -> bool:
        """Do ``action``; show its success sentence, or the MailhopsError sentence it raised."""
        try:
            message = action()
        except MailhopsError as err:
            self.status.value = error_html(str(err))
            return False
        hint = ""
        try:
            self.topology.check()
        except MailhopsError as err:
            hint = f" Before you can send: {err}"
        self.status.value = ok_html(message + hint)
        self._refresh_options()
        self.diagram.draw(self.topology)
        return True

    @property
    def error(self) -> str | None:
        """The error sentence shown now, or ``None``."""
        m = re.search(r'class="mailhops-error"[^>]*>&#9888; (.*)</div>', self.status.value, re.S)
        return html.unescape(m.group(1)) if m else None

    def _refresh_options(self) -> None:
        servers = list(self.topology.servers)
        domains = list(self.topology.domains)
        none = [("(none)", "")]
        self.server_domain.options = none + [(d, d) for d in domains]
        self.mx_domain.options = domains
        self.link_from.options = servers
        self.link_to.options = servers
        self.user_mailbox.options = none + [(s, s) for s in servers if self.topology.servers[s].role == "mailbox"]
        self.user_client.options = none + [(s, s) for s in servers
                                           if self.topology.servers[s].role in ("client", "webmail")]
        senders = [u.address for u in self.topology.users.values() if u.client]
        self.send_from.options = senders
        self._refresh_mx_servers()

    def _refresh_mx_servers(self) -> None:
        dom = self.mx_domain.value
        self.mx_server.options = [s.name for s in self.topology.servers.values() if s.domain in (dom, None)]

    # -- actions (the buttons call these; so can a test or a notebook cell) --------------------------
    def reset(self, start: str | None = None) -> None:
        """Start again from scenario ``start`` (or an empty topology)."""
        self.topology = sc.get(start).build() if start else Topology("my-topology")
        self.journey = None
        self.stepper.layout.display = "none"
        self._refresh_options()
        if start:
            scenario = sc.get(start)
            self.send_to.value = scenario.recipient
            if scenario.sender in self.send_from.options:
                self.send_from.value = scenario.sender
        self.status.value = ok_html(f"Started from {'the scenario ' + start if start else 'an empty topology'}.")
        self.diagram.draw(self.topology)

    def add_domain(self) -> bool:
        name = self.domain_name.value.strip()

        def act() -> str:
            self.topology.add_domain(name, null_mx=self.domain_null.value)
            return f"Added the domain {name}" + (" with a null MX (it accepts no mail)." if self.domain_null.value else ".")
        return self._run(act)

    def add_server(self) -> bool:
        name, ip = self.server_name.value.strip(), self.server_ip.value.strip()

        def act() -> str:
            domain = self.server_domain.value or None
            self.topology.add_server(name, self.server_role.value, ip, domain=domain, mta=self.server_mta.value,
                                     up=not self.server_down.value)
            down = " It is down." if self.server_down.value else ""
            return f"Added {name}, role {self.server_role.value}: {ROLES[self.server_role.value].split(':')[0]}.{down}"
        return self._run(act)

    def set_mx(self) -> bool:
        domain, host, pref = self.mx_domain.value, self.mx_server.value, self.mx_pref.value

        def act() -> str:
            if not domain:
                raise MailhopsError("Add a domain first: an MX record belongs to a domain.")
            if not host:
                raise MailhopsError(f"Choose the server that receives mail for {domain} (add one in 2. Servers).")
            if not 0 <= int(pref) <= 65535:
                raise MailhopsError(f"An MX preference is a number from 0 to 65535 (RFC 5321), not {pref}.")
            server = self.topology.server(host)
            if server.domain not in (None, domain):
                raise MailhopsError(f"{host} belongs to {server.domain}; in this model an MX serves its own domain, "
                                    f"so choose a server of {domain}.")
            server.domain = domain
            server.mx_preference = int(pref)
            return f"{domain} now has the record MX {pref} {host}."
        return self._run(act)

    def add_link(self) -> bool:
        src, dst = self.link_from.value, self.link_to.value

        def act() -> str:
            if not src or not dst:
                raise MailhopsError("Add two servers first: a link goes from one server to another.")
            if src == dst:
                raise MailhopsError(f"A link from {src} to itself would send every message round in a loop.")
            self.topology.link(src, dst)
            return f"{src} now hands everything it accepts to {dst}."
        return self._run(act)

    def add_user(self) -> bool:
        address = self.user_address.value.strip()
        forward = self.user_forward.value.strip() or None

        def act() -> str:
            if forward is not None:
                check_address(forward)
            existing = self.topology.users.get(check_address(address))
            if existing is not None and forward is not None:
                existing.forward_to = forward
                return f"Mail for {existing.address} is now forwarded to {forward}."
            self.topology.add_user(address, mailbox=self.user_mailbox.value or None,
                                   client=self.user_client.value or None, forward_to=forward)
            what = [f"mailbox on {self.user_mailbox.value}" if self.user_mailbox.value else "",
                    f"writes from {self.user_client.value}" if self.user_client.value else "",
                    f"forwards to {forward}" if forward else ""]
            return f"Added the user {address} ({', '.join(w for w in what if w) or 'no mailbox yet'})."
        return self._run(act)

    def send(self) -> bool:
        """Send a message from ``send_from`` to ``send_to`` and show its journey in the stepper."""
        sender, rcpt = self.send_from.value, self.send_to.value.strip()
        try:
            if not sender:
                raise MailhopsError("Nobody can send yet: add a user who writes from a client (a mail program).")
            journey = send(self.topology, sender, rcpt, seed=0)
        except MailhopsError as err:
            self.status.value = error_html(str(err))
            return False
        journey.scenario = self.topology.name
        self.journey = journey
        assert journey.outcome is not None
        self.status.value = ok_html(f"Sent: {journey.outcome.kind} ({journey.outcome.status}) after "
                                     f"{len(journey.hops)} hops. Step through it below.")
        self.stepper.layout.display = ""
        self.stepper.set_journey(journey, topology=self.topology, step="last")
        return True
