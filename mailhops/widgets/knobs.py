"""The scenario explorer's knobs, and running a scenario changed by them.

Plain functions, no widgets: :class:`~mailhops.widgets.explorer.ScenarioExplorer` reads its controls
into a :class:`Knobs`, and the lesson checks and tests call :func:`run_with` directly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

from .. import scenarios as sc
from ..journey import Journey
from ..mta.roles import message_id
from ..simulate import send
from ..topology import SPAM_ACTIONS, Topology, domain_of

__all__ = [
    "FORWARDING_DOMAIN",
    "Knobs",
    "apply_knobs",
    "recipients_of",
    "relevant_knobs",
    "run_with",
    "scenario_defaults",
    "scenario_facts",
    "with_knobs",
]


@dataclass(frozen=True)
class Knobs:
    """The changes the scenario explorer can make to a scenario.

    ``spam``: ``"scenario"`` (as built), ``"off"``, or a spam action (reject, bounce, drop, junk);
    ``spammy``: send the scenario's spam-like message (``None``: the scenario's own message);
    ``primary_mx_down`` (``None``: as in the scenario); ``forwarder``: write to a forwarding address
    that forwards to the recipient; ``hop_limit``: the limit every server applies (``None``: each MTA's
    default); ``recipient`` (``None``: the scenario's); ``mta``: the MTA every SMTP server imitates
    (``None``: as in the scenario; see :func:`mailhops.scenarios.use_mta`).

    When delivery fails (``None``: as in the scenario): ``greylisting`` at the recipient's MX; and for a laptop
    that delivers by itself, ``port25_blocked`` (its ISP blocks outgoing port 25), ``blocklisted`` (its address
    is on the MX's DNS blocklist), ``no_rdns`` (its address has no reverse DNS name) and ``spf_fails`` (the
    sender's SPF record does not list it).
    """

    spam: str = "scenario"
    spammy: bool | None = None
    primary_mx_down: bool | None = None
    forwarder: bool = False
    hop_limit: int | None = None
    recipient: str | None = None
    mta: str | None = None
    greylisting: bool | None = None
    port25_blocked: bool | None = None
    blocklisted: bool | None = None
    no_rdns: bool | None = None
    spf_fails: bool | None = None


#: The knobs of a mail client that delivers by itself (shown for scenarios like ``direct-from-laptop``).
DIRECT_KNOBS = ("port25_blocked", "blocklisted", "no_rdns", "spf_fails")


FORWARDING_DOMAIN = "alumni.university.example"


@functools.lru_cache(maxsize=64)
def scenario_facts(name: str) -> tuple[tuple[str, ...], tuple[str, ...], Knobs]:
    """(relevant knobs, recipients, defaults) of a scenario; scenarios never change, so this is cached."""
    scenario = sc.get(name)
    return tuple(relevant_knobs(scenario)), tuple(recipients_of(scenario)), scenario_defaults(scenario)


def recipients_of(scenario: sc.Scenario) -> list[str]:
    """Addresses worth writing to in ``scenario``: its own recipient first, then its other users and aliases.

    >>> recipients_of(sc.get("migration"))
    ['bob@example.net', 'carol@example.net']
    """
    topo = scenario.build()
    out = [scenario.recipient]
    for user in topo.users.values():
        if user.address != scenario.sender and (user.mailbox or user.forward_to):
            out.append(user.address)
    for dom in topo.domains.values():
        out.extend(dom.aliases)
    return list(dict.fromkeys(out))


def _primary_mx(topo: Topology, domain: str) -> str | None:
    mxs = topo.mx_hosts(domain)
    return mxs[0][1].name if mxs else None


def relevant_knobs(scenario: sc.Scenario) -> list[str]:
    """The knobs that change something in ``scenario`` (the explorer hides the others).

    >>> relevant_knobs(sc.get("three-hops"))
    ['spam', 'spammy', 'primary_mx_down', 'forwarder', 'hop_limit']
    """
    topo = scenario.build()
    roles = {s.role for s in topo.servers.values()}
    knobs = []
    if scenario.name not in ("forwarding-loop", "deferred"):
        knobs += ["spam", "spammy"]
    if scenario.name != "forwarding-loop" and _primary_mx(topo, domain_of(scenario.recipient)):
        knobs.append("primary_mx_down")
    if "forwarder" not in roles and FORWARDING_DOMAIN not in topo.domains:
        knobs.append("forwarder")
    knobs.append("hop_limit")
    if len(recipients_of(scenario)) > 1:
        knobs.append("recipient")
    if _direct_client(topo, scenario.sender) is not None:
        knobs += list(DIRECT_KNOBS)
    if any(s.greylist_delay is not None for s in topo.servers.values()):
        knobs.append("greylisting")
    return knobs


def _direct_client(topo: Topology, sender: str) -> Any:
    """The sender's mail client when it has no outgoing server (it delivers to the recipient's MX itself)."""
    user = topo.users.get(sender)
    client = topo.servers.get(user.client) if user is not None and user.client else None
    return client if client is not None and client.role == "client" and not topo.next_servers(client.name) else None


def _spf_lists(topo: Topology, domain: str, ip: str) -> bool:
    from ..dns import dns_for

    return dns_for(topo).spf(ip, domain)[0] == "pass"


def scenario_defaults(scenario: sc.Scenario) -> Knobs:
    """The knob values that reproduce ``scenario`` exactly as built."""
    topo = scenario.build()
    primary = _primary_mx(topo, domain_of(scenario.recipient))
    client = _direct_client(topo, scenario.sender)
    mx = topo.servers[primary] if primary else None
    direct: dict[str, Any] = {}
    if client is not None:
        direct = {"port25_blocked": client.port25_blocked,
                  "blocklisted": bool(mx is not None and set(mx.dnsbl) & set(client.listed_in)),
                  "no_rdns": client.reverse_name is None,
                  "spf_fails": not _spf_lists(topo, domain_of(scenario.sender), client.ip)}
    return Knobs(spammy=scenario.subject == sc.SPAM_SUBJECT,
                 primary_mx_down=(not topo.servers[primary].up) if primary else False,
                 recipient=scenario.recipient,
                 greylisting=any(s.greylist_delay is not None for s in topo.servers.values()), **direct)


def apply_knobs(scenario: sc.Scenario, knobs: Knobs) -> tuple[Topology, str, str, str]:
    """Build ``scenario`` changed by ``knobs``: (topology, recipient, subject, body) to send.

    >>> topo, rcpt, subject, _ = apply_knobs(sc.get("three-hops"), Knobs(primary_mx_down=True))
    >>> topo.server("mx.example.net").up, rcpt
    (False, 'bob@example.net')
    """
    topo = scenario.build(mta=knobs.mta)
    recipient = knobs.recipient or scenario.recipient
    spammy = (scenario.subject == sc.SPAM_SUBJECT) if knobs.spammy is None else knobs.spammy
    if spammy:
        subject, body = sc.SPAM_SUBJECT, sc.SPAM_BODY
    elif scenario.subject == sc.SPAM_SUBJECT:
        subject, body = "Lunch on Friday?", "Hi Bob,\n\nshall we have lunch on Friday?\n\nAlice\n"
    else:
        subject, body = scenario.subject, scenario.body
    if knobs.spam == "off":
        for server in topo.servers.values():
            server.spam_threshold = None
    elif knobs.spam in SPAM_ACTIONS:
        filters = [s for s in topo.servers.values() if s.spam_threshold is not None]
        if not filters:
            filters = [s for s in topo.servers.values() if s.role == "filter"][:1]
        if not filters:
            primary = _primary_mx(topo, domain_of(recipient))
            filters = [topo.servers[primary]] if primary else []
        for server in filters:
            server.spam_threshold = server.spam_threshold if server.spam_threshold is not None else 5.0
            server.spam_action = knobs.spam
    if knobs.primary_mx_down is not None:
        primary = _primary_mx(topo, domain_of(recipient))
        if primary is not None:
            topo.servers[primary].up = not knobs.primary_mx_down
    if knobs.forwarder and domain_of(recipient) != FORWARDING_DOMAIN:
        if FORWARDING_DOMAIN not in topo.domains:
            topo.add_domain(FORWARDING_DOMAIN)
            topo.add_server(f"mx.{FORWARDING_DOMAIN}", "forwarder", "198.51.100.200", domain=FORWARDING_DOMAIN,
                            mx_preference=10, label="alumni forwarding service")
        address = f"{recipient.split('@')[0]}@{FORWARDING_DOMAIN}"
        if address not in topo.users:
            topo.add_user(address, forward_to=recipient)
        recipient = address
    if knobs.hop_limit is not None:
        for server in topo.servers.values():
            server.hop_limit = knobs.hop_limit
    _apply_failure_knobs(topo, scenario, knobs, recipient)
    return topo, recipient, subject, body


def _apply_failure_knobs(topo: Topology, scenario: sc.Scenario, knobs: Knobs, recipient: str) -> None:
    """Greylisting at the recipient's MX; the home-connection troubles of a client that delivers by itself."""
    primary = _primary_mx(topo, domain_of(recipient))
    mx = topo.servers[primary] if primary else None
    if knobs.greylisting is not None and mx is not None:
        mx.greylist_delay = 300.0 if knobs.greylisting else None
    client = _direct_client(topo, scenario.sender)
    if client is None:
        return
    if knobs.port25_blocked is not None:
        client.port25_blocked = knobs.port25_blocked
    if knobs.blocklisted is not None:
        lists = tuple(mx.dnsbl) if mx is not None and mx.dnsbl else (sc.BLOCKLIST,)
        client.listed_in = lists if knobs.blocklisted else ()
    if knobs.no_rdns is not None:
        client.rdns = "" if knobs.no_rdns else (client.rdns or f"host-{client.ip.replace('.', '-')}.isp.example")
    if knobs.spf_fails is not None:
        domain = topo.domains.get(domain_of(scenario.sender))
        if domain is not None:
            from ..dns import dns_for

            record = dns_for(topo).spf_record(domain.name) or "v=spf1 -all"
            listed = f"ip4:{client.ip}" in record.split()
            if knobs.spf_fails and listed:
                domain.spf = " ".join(w for w in record.split() if w != f"ip4:{client.ip}")
            elif not knobs.spf_fails and not listed:
                words = record.split()
                domain.spf = " ".join([*words[:-1], f"ip4:{client.ip}", words[-1]])


def run_with(name: str, knobs: Knobs | None = None, *, seed: int = 0, live: bool = False) -> tuple[Journey, Topology]:
    """Run scenario ``name`` changed by ``knobs``; returns the journey and the topology it crossed.

    By default the journey is simulated; with ``live=True`` the same topology starts as real servers on
    127.0.0.1 (:class:`mailhops.live.LiveTopology`), the message crosses them, and they stop again. A
    live journey that delivered carries, in ``journey.message``, the message as read back from the Maildir.

    >>> journey, _ = run_with("three-hops", Knobs(primary_mx_down=True))
    >>> journey.outcome.kind
    'deferred'
    >>> journey, _ = run_with("three-hops", live=True)
    >>> journey.source, journey.outcome.kind, [h.with_ for h in journey.hops]
    ('live', 'delivered', ['ESMTPSA', 'ESMTPS', 'LMTP'])
    """
    scenario = sc.get(name)
    topo, recipient, subject, body = apply_knobs(scenario, knobs or Knobs())
    # A scenario whose From: is not the envelope sender (dmarc-reject's forger) sends its own message.
    own_message = scenario.message(seed, recipient, subject=subject, body=body)
    if live:
        from ..live import LiveTopology

        with LiveTopology(topo, seed=seed) as servers:
            journey = servers.send(scenario.sender, recipient, subject=subject, body=body, timeout=60.0,
                                   final=scenario.live_final or bool(knobs and knobs.greylisting),
                                   message=own_message)
            outcome = journey.outcome
            if outcome is not None and outcome.mailbox and outcome.kind in ("delivered", "junk") and journey.message:
                wanted = message_id(journey.message)
                box = servers.maildir(outcome.mailbox, outcome.folder)
                for key in box.keys():
                    if box.get_message(key)["Message-ID"] == wanted:
                        journey.message = box.get_bytes(key).replace(b"\n", b"\r\n")
                        break
    else:
        journey = send(topo, scenario.sender, recipient, subject=subject, body=body, seed=seed, message=own_message)
    journey.scenario = scenario.name
    return journey, topo


def with_knobs(knobs: Knobs, **changes: Any) -> Knobs:
    """A copy of ``knobs`` with ``changes`` (a tiny helper for lesson cells)."""
    return replace(knobs, **changes)
