"""What each mail server does with a message, as plain functions of (topology, server, envelope, message, clock).

The simulator (:mod:`mailhops.simulate`) and the real-SMTP mode (:mod:`mailhops.live`) both call these
functions, so a simulated run and a live run cannot drift apart: the replies a server gives at RCPT and
DATA, the headers it prepends, where it sends the message next, and the bounce (DSN) it writes.

>>> from mailhops.scenarios import get
>>> topo = get("three-hops").build()
>>> mx = topo.server("mx.example.net")
>>> str(rcpt_reply(topo, mx, Session(client_ip="192.0.2.25", helo="smtp.example.org"), "nobody@example.net"))
'550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table'
>>> str(rcpt_reply(topo, mx, Session(client_ip="192.0.2.25", helo="smtp.example.org"), "bob@example.net"))
'250 2.1.5 Ok'
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
import functools
import random
import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from ..dns import TopologyDNS, dns_for
from ..topology import Server, Topology, domain_of
from . import headers as hdr

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

#: Ports by role of the receiving server.
PORTS = {"submission": 587, "mailbox": 24, "webmail": 443}


@dataclass
class Reply:
    """An SMTP reply: code, enhanced status code (RFC 3463; may be empty) and text."""

    code: int
    status: str
    text: str

    def __str__(self) -> str:
        return " ".join(p for p in (str(self.code), self.status, self.text) if p)

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 400

    @property
    def permanent(self) -> bool:
        return self.code >= 500


@dataclass
class Envelope:
    """The SMTP envelope: ``mail_from`` (``""`` is the null sender of bounces) and one ``rcpt``."""

    mail_from: str
    rcpt: str
    original_rcpt: str | None = None


@dataclass
class Session:
    """What the receiving server knows about the connection it is serving."""

    client_ip: str
    helo: str
    rdns: str | None = None
    client: Server | None = None
    tls: bool = False
    auth_user: str | None = None
    lmtp: bool = False
    http: bool = False

    @property
    def protocol(self) -> str:
        return hdr.protocol_word(tls=self.tls, auth=self.auth_user is not None, lmtp=self.lmtp, http=self.http)


@dataclass
class Route:
    """Where a server sends a message next: ``kind`` is ``"local"`` (it holds the mailbox), ``"link"``
    (configured next hops, in order of preference) or ``"mx"`` (look up the MX of ``domain``)."""

    kind: str
    servers: list[Server] = field(default_factory=list)
    domain: str | None = None
    reason: str = ""


# ---------------------------------------------------------------------------------------------- #
# identities


def tz_of(server: Server) -> timezone:
    """The server's time zone (its clock offset, with the usual abbreviation where there is one)."""
    return _tz(server.tz_minutes)


@functools.lru_cache(maxsize=64)
def _tz(minutes: int) -> timezone:
    names = {0: "UTC", 60: "CET", 120: "EET", -300: "EST", -480: "PST", 540: "JST", 330: "IST"}
    return timezone(timedelta(minutes=minutes), names.get(minutes))


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """A queue id in the style of the MTA the server imitates (``None`` for qmail, which writes none).

    >>> from mailhops.topology import Server
    >>> qid = queue_id(Server("mx.example.net", "mx", "198.51.100.25"), random.Random(1), datetime(2026, 3, 2))
    >>> len(qid), qid == qid.upper()
    (11, True)
    """
    mta = server.mta
    if mta == "postfix":
        return f"{rng.getrandbits(44):011X}"
    if mta == "exim":  # Exim 4.97+: base62 time, pid, fraction
        t = int(when.timestamp())
        head = ""
        for _ in range(6):
            head = _B62[t % 62] + head
            t //= 62
        pid = "".join(rng.choice(_B62) for _ in range(11))
        frac = "".join(rng.choice(_B62) for _ in range(4))
        return f"{head}-{pid}-{frac}"
    if mta == "sendmail":
        b60 = string.digits + string.ascii_uppercase + string.ascii_lowercase[:24]
        u = when.astimezone(timezone.utc)
        stamp = "".join(b60[v % 60] for v in (u.year - 1900, u.month - 1, u.day, u.hour, u.minute, u.second))
        return f"{stamp}{rng.choice(b60)}{rng.choice(b60)}{rng.randint(0, 999999):06d}"
    if mta == "exchange":
        return "15.20.8207.18" if server.name.endswith("outlook.com") else "15.2.1544.14"
    if mta == "gmail":
        u = when.astimezone(timezone.utc)
        a = "".join(rng.choice("0123456789abcdef") for _ in range(13))
        b = "".join(rng.choice("0123456789abcdef") for _ in range(11))
        return f"{a}-{b}si{rng.randint(1000000, 9999999)}{rng.choice('abcdef')}{rng.choice('abcdef')}.{rng.randint(1, 999)}.{u:%Y.%m.%d.%H.%M.%S}"
    if mta == "dovecot":  # a GUID in base64, as Dovecot's LMTP session ids look
        return base64.b64encode(rng.getrandbits(128).to_bytes(16, "big"), b"+/").decode("ascii")[:22]
    return None


def greeting(server: Server, when: datetime, *, lmtp: bool = False) -> Reply:
    """The 220 banner the server sends when a client connects."""
    if lmtp or server.mta == "dovecot":
        return Reply(220, "", f"{server.name} Dovecot ready.")
    if server.mta == "postfix":
        return Reply(220, "", f"{server.name} ESMTP Postfix")
    date = hdr.rfc5322_date(when.astimezone(tz_of(server)))
    texts = {
        "postfix": f"{server.name} ESMTP Postfix",
        "exim": f"{server.name} ESMTP Exim 4.98 {date}",
        "sendmail": f"{server.name} ESMTP Sendmail 8.18.1/8.18.1; {date}",
        "qmail": f"{server.name} ESMTP",
        "exchange": f"{server.name} Microsoft ESMTP MAIL Service ready at {date}",
        "gmail": f"{server.name} ESMTP - gsmtp",
    }
    return Reply(220, "", texts.get(server.mta, f"{server.name} ESMTP"))


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
            return _unknown_user(server, rcpt)
        if user_exists(topology, rcpt):
            return Reply(250, "2.1.5", "Ok" if server.mta != "exchange" else "Recipient OK")
        return _unknown_user(server, rcpt)
    internal = session.client is not None and session.client.domain == server.domain and server.domain is not None
    if session.auth_user is not None or internal:
        return Reply(250, "2.1.5", "Ok")
    return relay_denied(server, rcpt)


def _unknown_user(server: Server, rcpt: str) -> Reply:
    return {
        "postfix": Reply(550, "5.1.1", f"<{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table"),
        "exim": Reply(550, "5.1.1", f"<{rcpt}>: Unrouteable address"),
        "sendmail": Reply(550, "5.1.1", f"<{rcpt}>... User unknown"),
        "qmail": Reply(550, "", "sorry, no mailbox here by that name. (#5.1.1)"),
        "exchange": Reply(550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"),
        "gmail": Reply(550, "5.1.1", "The email account that you tried to reach does not exist. - gsmtp"),
        "dovecot": Reply(550, "5.1.1", f"<{rcpt}> User doesn't exist: {rcpt}"),
    }[server.mta]


#: The reply code mailhops' Postfix servers use for ``reject_unauth_destination``: they are configured with
#: ``relay_domains_reject_code = 550`` (Postfix's own default is 554), so that every MTA of a lesson refuses
#: relaying with 550 5.7.1, the code RFC 5321 §4.2.2 and RFC 3463 give for "not accepted by policy".
POSTFIX_RELAY_DOMAINS_REJECT_CODE = 550


def relay_denied(server: Server, rcpt: str) -> Reply:
    """The refusal an MTA gives to a RCPT for a domain it does not serve (no open relay).

    >>> from mailhops.topology import Server
    >>> str(relay_denied(Server("mx.example.net", role="mx", ip="192.0.2.25"), "victim@example.com"))
    '550 5.7.1 <victim@example.com>: Relay access denied'
    """
    return {
        "postfix": Reply(POSTFIX_RELAY_DOMAINS_REJECT_CODE, "5.7.1", f"<{rcpt}>: Relay access denied"),
        "exim": Reply(550, "5.7.1", "relay not permitted"),
        "sendmail": Reply(550, "5.7.1", f"<{rcpt}>... Relaying denied"),
        "qmail": Reply(553, "", "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"),
        "exchange": Reply(550, "5.7.54", "SMTP; Unable to relay recipient in non-accepted domain"),
        "gmail": Reply(550, "5.7.1", "Relaying denied. - gsmtp"),
        "dovecot": Reply(550, "5.7.1", "Relaying denied"),
    }[server.mta]


def loop_reply(server: Server, message: bytes) -> Reply | None:
    """The refusal at end of DATA when the message has made too many hops for this MTA, else ``None``.

    Each MTA counts in its own way. Postfix's cleanup counts Received headers including the one smtpd is
    adding (``hopcount_limit``, 50) and smtpd refuses with ``554 5.4.0 Error: too many hops``; Exim refuses
    when the message arrives with more Received headers than ``received_headers_max`` (30); qmail counts
    Received and Delivered-To (100); Exchange's Receive connector counts the Received header fields and rejects
    the message (``Set-ReceiveConnector -MaxHopCount``, default 30, per Microsoft's cmdlet reference; the exact
    boundary is not documented, so it is taken as Postfix's "at the limit"). Sendmail does not refuse during
    SMTP: it accepts and then bounces (:func:`loop_after_accept`).
    """
    limit = server.effective_hop_limit
    mta = server.mta
    if mta == "sendmail":
        return None
    if mta == "qmail":
        over = hdr.count_fields(message, ("received", "delivered-to")) >= limit
    elif mta in ("postfix", "dovecot"):
        over = hdr.count_fields(message, ("received",)) + 1 >= limit
    elif mta == "exim":
        over = hdr.count_fields(message, ("received",)) > limit
    else:
        over = hdr.count_fields(message, ("received",)) >= limit
    return _parse_reply(server.loop_reply) if over else None


def loop_after_accept(server: Server, message: bytes, envelope: Envelope | None = None,
                      via: str | None = None) -> Reply | None:
    """Sendmail's check at delivery time (``MaxHopCount``, 25): it counts Received, Via, X400-Received and
    Mail-From headers and, above the limit, bounces with ``554 5.4.6 Too many hops N (25 max) ...``."""
    if server.mta != "sendmail":
        return None
    # the message here already carries Sendmail's own Received line, which Sendmail does not count
    count = hdr.count_hops(message) - 1
    if count <= server.effective_hop_limit:
        return None
    sender = f"<{envelope.mail_from}>" if envelope else "<>"
    rcpt = f"<{envelope.rcpt}>" if envelope else "(nobody)"
    return Reply(554, "5.4.6", f"Too many hops {count} ({server.effective_hop_limit} max): from {sender} via "
                               f"{via or 'localhost'}, to {rcpt}")


def _parse_reply(text: str) -> Reply:
    m = re.match(r"(\d{3}) (?:(\d\.\d{1,3}\.\d{1,3}) )?(.*)", text)
    assert m is not None
    return Reply(int(m.group(1)), m.group(2) or "", m.group(3))


# -- spam and viruses ---------------------------------------------------------------------------

#: Real SpamAssassin rule names with illustrative scores (actual scores depend on version and training).
SPAM_RULES: list[tuple[str, float, str]] = [
    ("BAYES_99", 3.5, r"\b(winner|won|prize|lottery|claim now|act now)\b"),
    ("LOTTO_AGENT", 2.0, r"\blottery (agent|department|board)\b"),
    ("SUBJ_ALL_CAPS", 1.0, r"^Subject: [^a-z\r\n]*[A-Z]{4}[^a-z\r\n]*$"),
    ("URIBL_BLACK", 1.7, r"https?://[^\s/]*prize-claim\.example"),
    ("MONEY_FREEMAIL_REPTO", 1.5, r"\b(bank account|wire transfer|\$\d{3,})\b"),
    ("MISSING_MID", 0.5, r"(?!x)x"),
]
_SPAM_RES = [(name, score, re.compile(pattern, re.IGNORECASE | re.MULTILINE)) for name, score, pattern in SPAM_RULES]
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def spam_score(message: bytes) -> tuple[float, list[str]]:
    """Score a message with a small SpamAssassin-like rule set: (score, names of the rules that hit)."""
    text = message.decode("utf-8", "replace")
    hits = [(name, score) for name, score, rx in _SPAM_RES if rx.search(text)]
    return round(sum(s for _, s in hits), 1), [n for n, _ in hits]


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
    """The 250 reply to the final ``.`` of DATA, in the MTA's words."""
    if server.role == "mailbox" or server.mta == "dovecot":
        return Reply(250, "2.0.0", f"<{rcpt}> {qid} Saved")
    epoch = int(when.timestamp())
    return {
        "postfix": Reply(250, "2.0.0", f"Ok: queued as {qid}"),
        "exim": Reply(250, "", f"OK id={qid}"),
        "sendmail": Reply(250, "2.0.0", f"{qid} Message accepted for delivery"),
        "qmail": Reply(250, "", f"ok {epoch} qp {abs(hash(message_id)) % 90000 + 10000}"),
        "exchange": Reply(250, "2.6.0", f"{message_id} [InternalId={epoch % 10**11}, Hostname={server.name}] Queued mail for delivery"),
        "gmail": Reply(250, "2.0.0", f"OK  {epoch} {qid} - gsmtp"),
    }[server.mta]


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

    Always a Received field in the server's flavour; plus, by role: SpamAssassin's X-Spam-* at a server
    with a spam threshold, X-Virus-Scanned at an anti-virus scanner, Exchange's organisation headers at
    Exchange servers, and Return-Path + Delivered-To at final delivery into a mailbox.
    """
    local_when = when.astimezone(tz_of(server))
    flavour = server.mta
    if session.http:
        flavour = "webmail"
    elif session.lmtp:
        flavour = "dovecot"
    fields: list[str] = []
    received = hdr.received(
        flavour,
        helo=session.helo,
        rdns=session.rdns,
        ip=session.client_ip,
        by_name=server.name,
        by_ip=server.ip,
        protocol=session.protocol,
        queue_id=qid or "",
        rcpt=None if flavour == "exchange" else envelope.rcpt,
        date=local_when,
        envelope_from=envelope.mail_from,
        tls=session.tls,
        auth_user=session.auth_user,
        software=server.software,
    )
    if server.mta == "qmail" and not session.lmtp and not session.http:
        fields.append(hdr.qmail_invoked(rng.randint(1000, 99999), local_when))
    if server.role == "mailbox" and session.lmtp:
        fields.append(f"Return-Path: <{envelope.mail_from}>")
        fields.append(f"Delivered-To: {envelope.rcpt}")
    spf = spf_headers(topology, server, session, envelope, dns_view) if is_inbound_boundary(server, session) else []
    if flavour != "gmail":
        # Postfix's smtpd writes the headers a policy service asks it to PREPEND (policyd-spf's Received-SPF)
        # just before its own Received (smtpd.c: "PREPEND message headers", then "Received: from"); the other
        # flavours follow Postfix. Gmail writes them just below its Received line (seen in real Gmail mail).
        fields.extend(spf)
    if server.spam_threshold is not None and server.spam_action != "reject":
        score, tests = spam_score(message)
        fields.extend(hdr.spam_headers(score, server.spam_threshold, tests, server.name))
    if server.role == "antivirus":
        fields.append("X-Virus-Scanned: ClamAV using ClamSMTP")
    if server.mta == "exchange":
        fields.append(f"X-MS-Exchange-Organization-AuthSource: {server.name}")
        fields.append("X-MS-Exchange-Organization-AuthAs: " + ("Internal" if session.client and session.client.domain == server.domain else "Anonymous"))
    fields.append(received)
    if flavour == "gmail":
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
        f"Received-SPF: {result} ({server.name}: {comment}){_CRLF}\treceiver={server.name}; client-ip={ip}; "
        f'envelope-from="{envelope.mail_from}"; helo={helo};',
        f"Authentication-Results: {server.name};{_CRLF}\tspf={result} {prop}",
    ]


_CRLF = "\r\n"


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
    if flavour_name in ("postfix", "sendmail", "gmail"):  # from HELO (RDNS [IP]); "unknown" when there is no PTR
        return claimed or reverse or "unknown"
    if flavour_name == "exim":  # from RDNS ([IP] helo=HELO)
        return reverse or claimed
    if flavour_name == "qmail":  # from RDNS (HELO helo) (IP)
        return reverse or "unknown"
    if flavour_name == "webmail":  # from RDNS ([IP]) or from [IP]
        return reverse
    return claimed or reverse  # exchange, dovecot: from HELO (...)


def with_word(server: Server, session: Session) -> str:
    """The WITH word of the hop as the analyzer reads it back (upper-case)."""
    if session.http:
        return "HTTP"
    if session.lmtp:
        return "LMTP"
    if server.mta == "exchange":
        return "MICROSOFT SMTP SERVER"
    if server.mta == "qmail":
        return "SMTP"
    return session.protocol


@functools.lru_cache(maxsize=64)
def message_id(message: bytes) -> str:
    """The Message-ID of raw message bytes (``<unknown>`` if it has none)."""
    for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return "<unknown>"


def is_loop(reply: Reply) -> bool:
    """Does this refusal say the message is looping (too many hops)?"""
    text = reply.text.lower()
    return reply.status.startswith("5.4") or "hops" in text or "loop" in text


def local_injection(reporter: Server, when: datetime, qid: str | None) -> str | None:
    """The Received line Postfix's cleanup stamps on mail made on the server itself (a bounce), else ``None``.

    >>> from mailhops.topology import Server
    >>> print(local_injection(Server("mx.example.net", "mx", "198.51.100.25"),
    ...                       datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc), "4ABC123DEF0"))  # doctest: +NORMALIZE_WHITESPACE
    Received: by mx.example.net (Postfix)
        id 4ABC123DEF0; Mon,  2 Mar 2026 09:00:05 +0000 (UTC)
    """
    if reporter.mta != "postfix":
        return None
    local = when.astimezone(tz_of(reporter))
    return f"Received: by {reporter.name} (Postfix)\r\n\tid {qid}; {hdr.rfc5322_date(local, zone_comment=True, day=' 2')}"


# -- bounces ------------------------------------------------------------------------------------

_BOUNCE_SUBJECT = {
    "postfix": "Undelivered Mail Returned to Sender",
    "exim": "Mail delivery failed: returning message to sender",
    "sendmail": "Returned mail: see transcript for details",
    "qmail": "failure notice",
    "exchange": "Undeliverable: {subject}",
    "gmail": "Delivery Status Notification (Failure)",
    "dovecot": "Undelivered Mail Returned to Sender",
}


def make_dsn(
    reporter: Server,
    envelope: Envelope,
    original: bytes,
    reply: Reply,
    when: datetime,
    *,
    remote: str | None = None,
    rng: random.Random | None = None,
    final: bool | None = None,
) -> bytes:
    """An RFC 3464 delivery status notification from ``reporter`` to the envelope sender.

    ``final`` says whether the server has given up (``Action: failed``); by default that follows the reply
    (5xx: failed, 4xx: a delay warning, ``Action: delayed``). A message given up after its retries ran out
    is ``failed`` with its last 4.x.x status (RFC 3464 §2.3.3), as Postfix reports a message that outlived
    ``maximal_queue_lifetime``.

    ``multipart/report; report-type=delivery-status`` with a human-readable part, the machine-readable
    ``message/delivery-status`` part (Reporting-MTA, Final-Recipient, Action, Status, Remote-MTA,
    Diagnostic-Code) and the original message's headers (``text/rfc822-headers``, RFC 6522).
    """
    orig = hdr.parse(original)
    local_when = when.astimezone(tz_of(reporter))
    status = reply.status or ("5.0.0" if reply.permanent else "4.0.0")
    subject = _BOUNCE_SUBJECT[reporter.mta].format(subject=orig.get("Subject", ""))
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@{reporter.name}>"
    report["To"] = envelope.mail_from
    report["Subject"] = subject
    report["Date"] = email.utils.format_datetime(local_when)
    report["Message-ID"] = f"<{(rng or random.Random(0)).getrandbits(48):012x}.bounce@{reporter.name}>"
    report["Auto-Submitted"] = "auto-replied"
    where = f" by {remote}" if remote else ""
    human = (
        f"This is the mail system at host {reporter.name}.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        f"<{envelope.rcpt}>: message refused{where}: {reply}\n"
    )
    report.attach(MIMEText(human, "plain", "us-ascii"))
    per_message = Message()
    per_message["Reporting-MTA"] = f"dns; {reporter.name}"
    per_message["Arrival-Date"] = email.utils.format_datetime(local_when)
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {envelope.rcpt}"
    if envelope.original_rcpt and envelope.original_rcpt != envelope.rcpt:
        per_recipient["Original-Recipient"] = f"rfc822; {envelope.original_rcpt}"
    given_up = reply.permanent if final is None else final
    per_recipient["Action"] = "failed" if given_up else "delayed"
    per_recipient["Status"] = status
    if remote:
        per_recipient["Remote-MTA"] = f"dns; {remote}"
    per_recipient["Diagnostic-Code"] = f"smtp; {reply}"
    status_part = Message()
    status_part["Content-Type"] = "message/delivery-status"
    status_part["Content-Description"] = "Delivery report"
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    head = original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").replace("\r\n", "\n")
    headers_part = Message()
    headers_part["Content-Type"] = "text/rfc822-headers"
    headers_part["Content-Description"] = "Undelivered Message Headers"
    headers_part.set_payload(head + "\n")
    report.attach(headers_part)
    return report.as_bytes(policy=email.policy.SMTP)


def new_message(
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    when: datetime,
    message_id_domain: str,
    rng: random.Random,
    *,
    sender_name: str | None = None,
) -> bytes:
    """The message as the mail client writes it (From, To, Subject, Date, Message-ID, MIME-Version).

    >>> raw = new_message("alice@example.org", "bob@example.net", "Hi", "Hello!\\n",
    ...                   datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc), "example.org", random.Random(0))
    >>> import email; msg = email.message_from_bytes(raw)
    >>> msg["Subject"], msg["Date"]
    ('Hi', 'Mon, 02 Mar 2026 10:00:00 +0000')
    """
    hdr.check_header_value("Subject", subject)
    template = _message_template(sender, recipient, subject, body, sender_name)
    msg_id = f"<{rng.getrandbits(64):016x}.{rng.getrandbits(20):05x}@{message_id_domain}>"
    return template.replace(_DATE_SLOT, email.utils.format_datetime(when).encode("ascii"), 1).replace(
        _ID_SLOT, msg_id.encode("utf-8"), 1
    )


_DATE_SLOT = b"Thu, 01 Jan 1970 00:00:00 +0000"
_ID_SLOT = b"<message-id-slot@mailhops.invalid>"


@functools.lru_cache(maxsize=256)
def _message_template(sender: str, recipient: str, subject: str, body: str, sender_name: str | None) -> bytes:
    """Build the message once with the stdlib ``email`` package; Date and Message-ID are filled in per send."""
    msg = EmailMessage()
    msg["From"] = email.utils.formataddr((sender_name, sender)) if sender_name else sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = _DATE_SLOT.decode()
    msg["Message-ID"] = _ID_SLOT.decode()
    msg.set_content(body)
    return msg.as_bytes(policy=email.policy.SMTP)
