"""What each mail server does with a message, whatever MTA it runs: plain functions of (topology, server,
envelope, message, clock).

The simulator (:mod:`mailhops.simulate`) and the real-SMTP mode (:mod:`mailhops.live`) both call these
functions, so a simulated run and a live run cannot drift apart: the replies a server gives at RCPT and
DATA, the headers it prepends, where it sends the message next, and the bounce (DSN) it writes. What the
role decides is the same for every MTA; how the MTA words it comes from its module in
:data:`mailhops.mta.FLAVOURS`, chosen by ``server.mta``.

>>> from mailhops.scenarios import get
>>> topo = get("three-hops").build()
>>> mx = topo.server("mx.example.net")
>>> str(rcpt_reply(topo, mx, Session(client_ip="192.0.2.25", helo="smtp.example.org"), "nobody@example.net"))
'550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table'
>>> str(rcpt_reply(topo, mx, Session(client_ip="192.0.2.25", helo="smtp.example.org"), "bob@example.net"))
'250 2.1.5 Ok'
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType

from ..dns import TopologyDNS, dns_for
from ..topology import Server, Topology, domain_of
from . import FLAVOURS, hop_limit
from . import headers as hdr
from .dsn import make_dsn
from .filters import EICAR, SPAM_RULES, VIRUS_SCANNED, spam_headers, spam_score
from .headers import CRLF, tz_of
from .message import message_id, new_message
from .smtp import Envelope, Reply, Session, is_loop

__all__ = [
    "EICAR", "PORTS", "SPAM_RULES", "AfterAccept", "Envelope", "Reply", "Route", "Session", "accepted_reply",
    "after_accept", "data_reply", "ehlo_lines", "flavour", "from_name_of", "greeting", "is_inbound_boundary",
    "is_local", "is_loop", "lmtp_twin", "local_injection", "loop_after_accept", "loop_reply", "make_dsn",
    "message_id", "new_message", "port_of", "queue_id", "rcpt_reply", "relay_denied", "route", "spam_score",
    "spf_headers", "stamp", "transfer_protocol", "tz_of", "user_exists", "with_word",
]

#: Ports by role of the receiving server.
PORTS = {"submission": 587, "mailbox": 24, "webmail": 443}


@dataclass
class Route:
    """Where a server sends a message next: ``kind`` is ``"local"`` (it holds the mailbox), ``"link"``
    (configured next hops, in order of preference) or ``"mx"`` (look up the MX of ``domain``)."""

    kind: str
    servers: list[Server] = field(default_factory=list)
    domain: str | None = None
    reason: str = ""


def _mta(server: Server) -> ModuleType:
    return FLAVOURS[server.mta]


# ---------------------------------------------------------------------------------------------- #
# identities


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """A queue id in the style of the MTA the server imitates (``None`` for qmail, which writes none).

    >>> from mailhops.topology import Server
    >>> qid = queue_id(Server("mx.example.net", "mx", "198.51.100.25"), random.Random(1), datetime(2026, 3, 2))
    >>> len(qid), qid == qid.upper()
    (11, True)
    """
    return _mta(server).queue_id(server, rng, when)


def greeting(server: Server, when: datetime, *, lmtp: bool = False) -> Reply:
    """The 220 banner the server sends when a client connects (Dovecot's on an LMTP connection)."""
    return FLAVOURS["dovecot" if lmtp else server.mta].greeting(server, when)


def ehlo_lines(server: Server, *, tls_active: bool, lmtp: bool = False, submission: bool = False) -> list[str]:
    """The multi-line 250 reply to EHLO/LHLO, as the server would list its extensions."""
    ext = ["PIPELINING", "SIZE 10240000"]
    if server.tls and not tls_active and not lmtp:
        ext.append("STARTTLS")
    if submission and (tls_active or not server.tls):
        ext.append("AUTH PLAIN LOGIN")
    ext += ["ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"]
    lines = [server.name, *ext]
    return [f"250-{x}" for x in lines[:-1]] + [f"250 {lines[-1]}"]


# ---------------------------------------------------------------------------------------------- #
# decisions


def is_local(topology: Topology, server: Server, domain: str) -> bool:
    """Does ``server`` receive mail for ``domain`` as its final destination organisation?"""
    return server.domain == domain


def user_exists(topology: Topology, rcpt: str) -> bool:
    u = topology.users.get(rcpt)
    if u is not None and (u.mailbox or u.forward_to):
        return True
    dom = topology.domains.get(domain_of(rcpt))
    return dom is not None and rcpt in dom.aliases


def rcpt_reply(topology: Topology, server: Server, session: Session, rcpt: str) -> Reply:
    """The reply to ``RCPT TO:<rcpt>``: accept, unknown user (5.1.1), or relay denied (5.7.1)."""
    domain = domain_of(rcpt)
    if server.role == "mailbox" or is_local(topology, server, domain):
        user = topology.users.get(rcpt)
        if server.role == "mailbox" and user is not None and user.mailbox not in (None, server.name) and not user.forward_to:
            return _mta(server).unknown_user(rcpt)
        if user_exists(topology, rcpt):
            return Reply(250, "2.1.5", _mta(server).RECIPIENT_OK)
        return _mta(server).unknown_user(rcpt)
    internal = session.client is not None and session.client.domain == server.domain and server.domain is not None
    if session.auth_user is not None or internal:
        return Reply(250, "2.1.5", "Ok")
    return relay_denied(server, rcpt)


def relay_denied(server: Server, rcpt: str) -> Reply:
    """The refusal an MTA gives to a RCPT for a domain it does not serve (no open relay).

    >>> from mailhops.topology import Server
    >>> str(relay_denied(Server("mx.example.net", role="mx", ip="192.0.2.25"), "victim@example.com"))
    '550 5.7.1 <victim@example.com>: Relay access denied'
    """
    return _mta(server).relay_denied(rcpt)


def loop_reply(server: Server, message: bytes) -> Reply | None:
    """The refusal at end of DATA when the message has made too many hops for this MTA, else ``None``.

    Each MTA counts in its own way (see its module's ``loop_reply``): Postfix at ``hopcount_limit`` counting
    the Received line it is adding, Exim above ``received_headers_max``, qmail counting Delivered-To too,
    Exchange at ``MaxHopCount``. Sendmail does not refuse during SMTP: it accepts and then bounces
    (:func:`loop_after_accept`).
    """
    return _mta(server).loop_reply(message, hop_limit(server))


def loop_after_accept(server: Server, message: bytes, envelope: Envelope | None = None,
                      via: str | None = None) -> Reply | None:
    """The bounce reason when the MTA checks the hop count only at delivery time (Sendmail's sendall()), else ``None``."""
    return _mta(server).loop_after_accept(message, hop_limit(server), envelope, via)


def data_reply(topology: Topology, server: Server, session: Session, envelope: Envelope, message: bytes) -> Reply | None:
    """A refusal at end of DATA (loop, spam with action ``reject``, virus), or ``None`` to accept."""
    looping = loop_reply(server, message)
    if looping is not None:
        return looping
    if server.spam_threshold is not None and server.spam_action == "reject":
        score, _ = spam_score(message)
        if score >= server.spam_threshold:
            return Reply(554, "5.7.1", f"Spam message rejected (score {score:.1f}, required {server.spam_threshold:.1f})")
    if server.role == "antivirus" and EICAR in message:
        return Reply(554, "5.7.1", "Virus found: Eicar-Signature; message rejected")
    return None


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    """The 250 reply to the final ``.`` of DATA, in the MTA's words (Dovecot's at a mailbox server)."""
    return FLAVOURS["dovecot" if server.role == "mailbox" else server.mta].accepted_reply(
        server, qid, rcpt, when, message_id
    )


# -- stamping -----------------------------------------------------------------------------------


def stamp(
    topology: Topology,
    server: Server,
    session: Session,
    envelope: Envelope,
    message: bytes,
    when: datetime,
    qid: str | None,
    rng: random.Random,
    dns_view: TopologyDNS | None = None,
) -> tuple[bytes, list[str]]:
    """Prepend the header fields ``server`` adds on accepting ``message``; return (new message, fields added).

    Always a Received field in the server's flavour (plus qmail-queue's line); plus, by role: SpamAssassin's
    X-Spam-* at a server with a spam threshold, X-Virus-Scanned at an anti-virus scanner, the MTA's own
    organisation headers (Exchange's), and Return-Path + Delivered-To at final delivery into a mailbox.
    """
    local_when = when.astimezone(tz_of(server))
    trace = FLAVOURS[flavour(server, session)]
    mta = _mta(server)
    received = trace.received(
        helo=session.helo,
        rdns=session.rdns,
        ip=session.client_ip,
        by_name=server.name,
        by_ip=server.ip,
        protocol=session.protocol,
        queue_id=qid or "",
        rcpt=envelope.rcpt,
        date=local_when,
        envelope_from=envelope.mail_from,
        tls=session.tls,
        auth_user=session.auth_user,
        software=mta.SOFTWARE,
    )
    fields: list[str] = trace.extra_received(rng, local_when)
    if server.role == "mailbox" and session.lmtp:
        fields.append(f"Return-Path: <{envelope.mail_from}>")
        fields.append(f"Delivered-To: {envelope.rcpt}")
    spf = spf_headers(topology, server, session, envelope, dns_view) if is_inbound_boundary(server, session) else []
    if not trace.SPF_BELOW_RECEIVED:
        # Postfix's smtpd writes the headers a policy service asks it to PREPEND (policyd-spf's Received-SPF)
        # just before its own Received (smtpd.c: "PREPEND message headers", then "Received: from"); the other
        # flavours follow Postfix. Gmail writes them just below its Received line (seen in real Gmail mail).
        fields.extend(spf)
    if server.spam_threshold is not None and server.spam_action != "reject":
        score, tests = spam_score(message)
        fields.extend(spam_headers(score, server.spam_threshold, tests, server.name))
    if server.role == "antivirus":
        fields.append(VIRUS_SCANNED)
    fields.extend(mta.organisation_headers(server, session))
    fields.append(received)
    if trace.SPF_BELOW_RECEIVED:
        fields.extend(spf)
    return hdr.prepend(message, fields), fields


def is_inbound_boundary(server: Server, session: Session) -> bool:
    """Is this the hand-off where mail enters the server's organisation from outside (an MX receiving it)?"""
    if session.auth_user is not None or session.lmtp or session.http or server.mx_preference is None:
        return False
    return session.client is None or session.client.domain != server.domain


_SPF_WORDS = {
    "pass": "domain of {who} designates {ip} as permitted sender",
    "fail": "domain of {who} does not designate {ip} as permitted sender",
    "softfail": "domain of transitioning {who} does not designate {ip} as permitted sender",
    "neutral": "{ip} is neither permitted nor denied by domain of {who}",
    "none": "domain of {who} does not provide an SPF record",
    "permerror": "domain of {who} publishes a broken SPF record",
}


def spf_headers(topology: Topology, server: Server, session: Session, envelope: Envelope,
                dns_view: TopologyDNS | None = None) -> list[str]:
    """Received-SPF (RFC 7208 §9.1) and Authentication-Results (RFC 8601) as an MX writes them.

    The SPF check asks whether the connecting IP may send for the envelope sender's domain (for a bounce,
    with its null sender, the HELO name's). In the live mode every host sits on 127.0.0.1, so the check
    uses the address the client has in the topology.
    """
    ip = session.client.ip if session.client is not None else session.client_ip
    helo = session.helo.strip("[]")
    if envelope.mail_from:
        who, domain, prop = envelope.mail_from, domain_of(envelope.mail_from), f"smtp.mailfrom={envelope.mail_from}"
    else:
        who, domain, prop = f"postmaster@{helo}", helo.lower(), f"smtp.helo={helo}"
    result, _term = (dns_view or dns_for(topology)).spf(ip, domain)
    comment = _SPF_WORDS[result].format(who=who, ip=ip)
    return [
        f"Received-SPF: {result} ({server.name}: {comment}){CRLF}\treceiver={server.name}; client-ip={ip}; "
        f'envelope-from="{envelope.mail_from}"; helo={helo};',
        f"Authentication-Results: {server.name};{CRLF}\tspf={result} {prop}",
    ]


# -- routing ------------------------------------------------------------------------------------


def _reaches(topology: Topology, start: str, target: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        cur = todo.pop()
        if cur == target:
            return True
        if cur not in seen:
            seen.add(cur)
            todo.extend(d for s, d in topology.links if s == cur)
    return False


def route(topology: Topology, server: Server, envelope: Envelope) -> Route:
    """Where ``server`` sends a message for ``envelope.rcpt`` next.

    Clients and webmail hand everything to their configured server; inside the recipient's domain,
    servers follow their links toward the server that holds the mailbox; for another domain, a server
    hands the message to a configured outbound relay (smart host) if it has one, else looks up the MX.
    """
    rcpt = envelope.rcpt
    domain = domain_of(rcpt)
    user = topology.users.get(rcpt)
    if user is not None and user.mailbox == server.name:
        return Route("local", reason=f"{server.name} holds the mailbox of {rcpt}")
    nexts = topology.next_servers(server.name)
    if server.role in ("client", "webmail"):
        return Route("link", nexts[:1], reason=f"{server.name} always submits through {nexts[0].name}" if nexts else "")
    if is_local(topology, server, domain) and nexts:
        target = user.mailbox if user is not None else None
        if target is not None:
            toward = [s for s in nexts if _reaches(topology, s.name, target)]
            if toward:
                return Route("link", toward, reason=f"the mailbox of {rcpt} is on {target}")
        relays = [s for s in nexts if s.role != "relay"] or nexts
        return Route("link", relays, reason=f"{server.name} passes mail for {domain} on to {relays[0].name}")
    if not is_local(topology, server, domain):
        smarthosts = [s for s in nexts if s.role == "relay"]
        if smarthosts:
            return Route("link", smarthosts, reason=f"{server.name} sends outgoing mail through its relay")
    return Route("mx", domain=domain, reason=f"{domain} is not local to {server.name}: look up its MX")


def transfer_protocol(client: Server, server: Server) -> tuple[bool, bool, bool, bool]:
    """(tls, auth, lmtp, http) for a hand-off from ``client`` to ``server``."""
    if server.role == "webmail":
        return True, False, False, True
    if server.role == "mailbox":
        return False, False, True, False
    tls = client.tls and server.tls
    auth = server.role == "submission" and client.role in ("client", "webmail")
    return tls, auth, False, False


def port_of(server: Server) -> int:
    return PORTS.get(server.role, 25)


# ---------------------------------------------------------------------------------------------- #
# after the 250: what a server does with a message it has accepted (both transports use this)


@dataclass
class AfterAccept:
    """What a server does with a message it has just accepted (after its 250 reply).

    ``action`` is ``"continue"`` (route it on, with ``envelope`` possibly rewritten by an alias or a
    forwarding rule), ``"drop"`` (discard silently) or ``"bounce"`` (write a DSN; ``kind`` is the
    outcome kind, ``reply`` the reason).
    """

    action: str
    envelope: Envelope
    kind: str = ""
    reply: Reply | None = None
    decision: str | None = None
    detail: str = ""
    copies: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def after_accept(topology: Topology, server: Server, envelope: Envelope, message: bytes, *, hop_n: int | None = None,
                 via: str | None = None) -> AfterAccept:
    """The decisions a server makes once it has accepted ``message`` (the same rules as the simulator).

    Sendmail's hop limit (checked at delivery, so it bounces), a filter's ``drop`` and ``bounce`` spam
    actions, the archive's copy, alias expansion and forwarding.

    >>> from mailhops.scenarios import get
    >>> topo = get("forwarding").build()
    >>> fwd = topo.server("mx.alumni.example.edu")
    >>> after_accept(topo, fwd, Envelope("alice@example.org", "bob@alumni.example.edu"), b"Subject: hi\\r\\n\\r\\nhi").envelope.rcpt
    'bob@example.net'
    """
    looping = loop_after_accept(server, message, envelope, via)
    if looping is not None:
        return AfterAccept("bounce", envelope, kind="looped", reply=looping, decision=f"accepted, then bounced: {looping}")
    if server.spam_threshold is not None and server.spam_action in ("drop", "bounce"):
        score, _tests = spam_score(message)
        if score >= server.spam_threshold:
            if server.spam_action == "drop":
                return AfterAccept(
                    "drop", envelope, decision=f"accepted, then discarded as spam (score {score:.1f})",
                    detail=(f"{server.name} accepted the message (250) and then silently discarded it as spam "
                            f"(score {score:.1f} >= {server.spam_threshold:.1f}); nobody is told."),
                )
            return AfterAccept(
                "bounce", envelope, kind="bounced",
                reply=Reply(550, "5.7.1", f"Message content rejected as spam (score {score:.1f})"),
                decision=f"accepted, then bounced as spam (score {score:.1f})",
                notes=[f"{server.name} accepted the message and only then decided it was spam, so it has to send a bounce "
                       f"to the envelope sender <{envelope.mail_from}>. Spammers forge that address: such bounces land on "
                       "innocent people (backscatter). Rejecting during SMTP avoids this."],
            )
    result = AfterAccept("continue", envelope)
    if server.role == "archive":
        where = f" (hop {hop_n})" if hop_n is not None else ""
        result.copies.append(f"{server.name}: archive copy of the message{where}")
        result.decision = "accepted; copy archived"
    if server.role == "alias":
        dom = topology.domains.get(domain_of(envelope.rcpt))
        target = dom.aliases.get(envelope.rcpt) if dom else None
        if target:
            result.decision = f"alias {envelope.rcpt} expanded to {target}"
            result.envelope = Envelope(envelope.mail_from, target, envelope.original_rcpt or envelope.rcpt)
    env = result.envelope
    user = topology.users.get(env.rcpt)
    if user is not None and user.forward_to and user.mailbox in (None, server.name) and (
        server.role == "forwarder" or user.mailbox == server.name
    ):
        if user.keep_copy and user.mailbox == server.name:
            result.copies.append(f"{server.name}: copy kept in the mailbox of {user.address}")
        result.decision = f"forwarded: {user.address} -> {user.forward_to}"
        result.envelope = Envelope(env.mail_from, user.forward_to, env.original_rcpt or user.address)
    return result


def lmtp_twin(server: Server) -> Server:
    """The server as its LMTP delivery agent (Dovecot) sees itself: same name and address, Dovecot's ids."""
    return Server(server.name, server.role, server.ip, mta="dovecot")


def flavour(server: Server, session: Session) -> str:
    """Which Received flavour the server writes for this session (webmail and LMTP have their own)."""
    return "webmail" if session.http else "dovecot" if session.lmtp else server.mta


def from_name_of(flavour_name: str, helo: str | None, rdns: str | None) -> str | None:
    """The first host name in the FROM clause of the Received line this flavour writes (what the analyzer reads).

    >>> from_name_of("postfix", "[192.168.1.23]", "host-203-0-113-45.isp.example")
    'host-203-0-113-45.isp.example'
    >>> from_name_of("exim", "liar.example.com", "mail.example.org")
    'mail.example.org'
    """
    claimed = helo.lower().rstrip(".") if helo and not helo.startswith("[") else None
    reverse = rdns.lower().rstrip(".") if rdns else None
    return FLAVOURS[flavour_name].from_name(claimed, reverse)


def with_word(server: Server, session: Session) -> str:
    """The WITH word of the hop as the analyzer reads it back (upper-case)."""
    return FLAVOURS[flavour(server, session)].WITH_WORD or session.protocol


def local_injection(reporter: Server, when: datetime, qid: str | None) -> str | None:
    """The Received line the MTA stamps on mail made on the server itself (a bounce; Postfix's cleanup), else ``None``."""
    return _mta(reporter).local_injection(reporter, when, qid)
