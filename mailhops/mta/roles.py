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

import functools
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import ModuleType

from ..dns import TopologyDNS
from ..journey import Hop, SmtpLine
from ..topology import Server, Topology, User, domain_of
from . import FLAVOURS, hop_limit, policy, trust
from . import headers as hdr
from .dsn import make_dsn
from .filters import (
    AMAVIS_PORT,
    CLAMSMTP_PORT,
    CLAMSMTP_REINJECT_PORT,
    EICAR,
    REINJECT_PORT,
    SPAM_RULES,
    VIRUS_SCANNED,
    amavis_headers,
    amavis_id,
    amavis_received,
    amavis_replies,
    spam_headers,
    spam_score,
)
from .headers import CRLF, tz_of
from .message import message_id, new_message
from .smtp import Envelope, Reply, Session, is_loop

__all__ = [
    "EICAR", "PORTS", "SPAM_RULES", "AfterAccept", "FilterPass", "content_filter", "filter_hops", "Envelope", "Reply", "Route", "Session", "accepted_reply",
    "after_accept", "data_reply", "ehlo_lines", "flavour", "from_name_of", "greeting", "is_inbound_boundary",
    "delivered_to", "is_local", "is_loop", "lmtp_twin", "local_forward", "mailbox_folder", "outbound_blocked", "retry_delay", "local_hop", "local_injection", "loop_after_accept", "loop_reply", "make_dsn",
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


def queue_id(server: Server, rng: random.Random, when: datetime, *, lmtp: bool = False) -> str | None:
    """A queue id in the style of the MTA the server imitates (``None`` for qmail, which writes none); with
    ``lmtp``, the session id of its LMTP delivery agent (Dovecot, as :func:`lmtp_twin` would write it).

    >>> from mailhops.topology import Server
    >>> qid = queue_id(Server("mx.example.net", "mx", "198.51.100.25"), random.Random(1), datetime(2026, 3, 2))
    >>> len(qid), qid == qid.upper()
    (11, True)
    >>> len(queue_id(Server("imap.example.net", "mailbox", "198.51.100.143"), random.Random(1), datetime(2026, 3, 2),
    ...              lmtp=True))
    22
    """
    return (FLAVOURS["dovecot"] if lmtp else _mta(server)).queue_id(server, rng, when)


def greeting(server: Server, when: datetime, *, lmtp: bool = False) -> Reply:
    """The 220 banner the server sends when a client connects (Dovecot's on an LMTP connection)."""
    return FLAVOURS["dovecot" if lmtp else server.mta].greeting(server, when)


def ehlo_lines(server: Server, *, tls_active: bool, lmtp: bool = False, submission: bool = False) -> list[str]:
    """The multi-line 250 reply to EHLO/LHLO, as the server would list its extensions.

    >>> ehlo_lines(Server("smtp.example.org", "submission", "192.0.2.25"), tls_active=True, submission=True)[-3:]
    ['250-ENHANCEDSTATUSCODES', '250-8BITMIME', '250 SMTPUTF8']
    """
    starttls = server.tls and not tls_active and not lmtp
    auth = submission and (tls_active or not server.tls)
    return list(_ehlo_reply(server.name, starttls, auth))


@functools.lru_cache(maxsize=256)
def _ehlo_reply(name: str, starttls: bool, auth: bool) -> tuple[str, ...]:
    ext = ["PIPELINING", "SIZE 10240000"]
    if starttls:
        ext.append("STARTTLS")
    if auth:
        ext.append("AUTH PLAIN LOGIN")
    ext += ["ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"]
    lines = [name, *ext]
    return tuple([f"250-{x}" for x in lines[:-1]] + [f"250 {lines[-1]}"])


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


def rcpt_reply(topology: Topology, server: Server, session: Session, rcpt: str, *, mail_from: str = "") -> Reply:
    """The reply to ``RCPT TO:<rcpt>``: accept, unknown user (5.1.1), or relay denied (5.7.1); at an MX taking mail
    from outside, first the checks on the sending host (:func:`mailhops.mta.policy.client_refusal`: reverse DNS,
    blocklists, SPF of ``mail_from``)."""
    if is_inbound_boundary(server, session):
        refused = policy.client_refusal(topology, server, session, mail_from, rcpt)
        if refused is not None:
            return refused
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


def data_reply(topology: Topology, server: Server, session: Session, envelope: Envelope, message: bytes, *,
               greylist: policy.Greylist | None = None, when: datetime | None = None,
               dns_view: TopologyDNS | None = None) -> Reply | None:
    """A refusal at end of DATA (loop, spam with action ``reject``, virus, DMARC ``p=reject``, and - given the
    server's ``greylist`` and the time - greylisting's soft ``451``), or ``None`` to accept. ``dns_view`` is where
    the DMARC check asks (as in :func:`stamp`; default :func:`mailhops.mta.trust.trust_dns`)."""
    looping = loop_reply(server, message)
    if looping is not None:
        return looping
    if server.spam_threshold is not None and server.spam_action == "reject":
        score, _ = spam_score(message)
        if score >= server.spam_threshold:
            return Reply(554, "5.7.1", f"Spam message rejected (score {score:.1f}, required {server.spam_threshold:.1f})")
    if server.role == "antivirus" and EICAR in message:
        return Reply(554, "5.7.1", "Virus found: Eicar-Signature; message rejected")
    if is_inbound_boundary(server, session):  # DMARC p=reject: refuse now, so the sender's own server bounces
        refusal = trust.dmarc_refusal(topology, server, session, envelope, header_firewall(server, session, message),
                                      _mta(server), dns_view)
        if refusal is not None or greylist is None or when is None:
            return refusal
        return greylist.check(server, policy.sending_ip(session), envelope, when)
    return None


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    """The 250 reply to the final ``.`` of DATA, in the MTA's words (Dovecot's at a mailbox server)."""
    return FLAVOURS["dovecot" if server.role == "mailbox" and _speaks_lmtp(server) else server.mta].accepted_reply(
        server, qid, rcpt, when, message_id
    )


def header_firewall(server: Server, session: Session, message: bytes) -> bytes:
    """``message`` as ``server`` takes it in: without the organisation headers of another organisation (Exchange's
    header firewall strips every ``X-MS-Exchange-Organization-*`` field of mail from outside), else unchanged. The
    trust checks at end of DATA and the headers written on acceptance both read these bytes.

    >>> outsider = Session("192.0.2.25", "smtp.example.org", client=Server("smtp.example.org", "submission",
    ...                    "192.0.2.25", domain="example.org"))
    >>> header_firewall(Server("mx.example.net", "mx", "198.51.100.25", domain="example.net"), outsider,
    ...                 b"Subject: hi\\r\\nX-MS-Exchange-Organization-AuthAs: Internal\\r\\n\\r\\nbody")
    b'Subject: hi\\r\\n\\r\\nbody'
    """
    if session.client is not None and session.client.domain != server.domain:
        last = _FIREWALLED[0]
        if last[0] is message:  # data_reply and stamp pass the same bytes object: strip it once
            return last[1]
        stripped = hdr.strip_fields(message, ORGANISATION_PREFIXES)
        if len(message) <= 1 << 16:  # a large message is stripped twice rather than kept alive
            _FIREWALLED[0] = (message, stripped)
        return stripped
    return message


#: The last message :func:`header_firewall` stripped and the result (bytes are immutable: the same object gives the
#: same result); one small entry, so no message is kept alive for long.
_FIREWALLED: list[tuple[bytes, bytes]] = [(b"", b"")]


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
        **_transport_via(trace, server, session),
    )
    fields: list[str] = trace.extra_received(rng, local_when)
    if server.role == "mailbox" and (session.lmtp or not _speaks_lmtp(server)):
        fields.append(f"Return-Path: <{envelope.mail_from}>")
        if session.lmtp:  # Dovecot's LMTP writes Delivered-To; Exchange's Mailbox Transport does not
            fields.append(f"Delivered-To: {envelope.rcpt}")
    # Exchange's header firewall: its organisation headers never cross an organisation's boundary, and
    # Exchange writes its own at the bottom of the header block
    message = arrived = header_firewall(server, session, message)  # what the trust checks read (as data_reply)
    organisation = mta.organisation_headers(server, session)
    if organisation:  # Exchange rewrites its organisation headers at each of its hops rather than adding more
        message = hdr.replace_at_bottom(message, organisation)
    spf = []
    if is_inbound_boundary(server, session):  # SPF, DKIM, ARC and DMARC, written the way this MTA writes them
        verdict = trust.evaluate(topology, server, session, envelope, arrived, dns_view)
        spf = trust.auth_fields(mta, verdict, qid, spf_headers(topology, server, session, envelope, dns_view,
                                                                  verdict))
        if server.dmarc_enforce:  # DMARC p=quarantine: mark it for the mailbox's Junk rule (a mark from outside is
            # not trusted: this MX decides for its own organisation)
            quarantine = trust.dmarc_quarantine(topology, server, session, envelope, arrived, dns_view)
            message = hdr.strip_fields(message, (trust.QUARANTINE_FIELD + ":",))
            if quarantine is not None:
                spf.append(quarantine)
    if not trace.SPF_BELOW_RECEIVED:
        # Postfix's smtpd writes the headers a policy service asks it to PREPEND (policyd-spf's Received-SPF)
        # just before its own Received (smtpd.c: "PREPEND message headers", then "Received: from"); the other
        # flavours follow Postfix. Gmail writes them just below its Received line (seen in real Gmail mail).
        fields.extend(spf)
    loopback = content_filter(server)  # amavisd-new and ClamSMTP write theirs on their own loopback hops
    if server.spam_threshold is not None and server.spam_action != "reject" and loopback is None:
        score, tests = spam_score(message)
        fields.extend(spam_headers(score, server.spam_threshold, tests, server.name))
    if server.role == "antivirus" and loopback is None:
        fields.append(VIRUS_SCANNED)
    fields.append(received)
    if trace.SPF_BELOW_RECEIVED:
        fields.extend(spf)
    # the sender's outbound server signs (DKIM); a list or an ARC-sealing forwarder does its part
    if trust.is_signer(topology, server, session):
        fields[:0] = trust.outbound_signature(topology, server, session, hdr.prepend(message, fields), when)
    # the organisation headers sit at the bottom of the header block, not among the fields added on top
    return trust.forward_fields(topology, server, envelope, message, fields, when)


# -- content filters behind Postfix: the loopback hops (amavisd-new, ClamSMTP) ----------------------------------


_NONE: dict[str, str] = {}


def content_filter(server: Server) -> str | None:
    """The content filter ``server``'s MTA hands each message to over loopback: ``"amavis"`` or ``"clamsmtp"``
    behind Postfix (its ``CONTENT_FILTERS``), else ``None`` (the other MTAs run SpamAssassin or ClamAV from a milter
    or an ACL, inside their own hop).

    >>> content_filter(Server("spamfilter.example.net", "filter", "198.51.100.60"))
    'amavis'
    >>> content_filter(Server("spamfilter.example.net", "filter", "198.51.100.60", mta="exim")) is None
    True
    """
    return vars(_mta(server)).get("CONTENT_FILTERS", _NONE).get(server.role)  # vars: no AttributeError raised


@dataclass
class FilterPass:
    """One loopback hop of a content filter: the hop, the message as it stands after it, and when it happened."""

    hop: Hop
    message: bytes
    when: datetime


def _loopback_dialogue(greeting: str, helo: str, ehlo: list[str], envelope: Envelope, size: int,
                       final: str, bye: str) -> list[SmtpLine]:
    lines = [SmtpLine("S", greeting), SmtpLine("C", f"EHLO {helo}")]
    lines += [SmtpLine("S", f"250{'-' if i < len(ehlo) - 1 else ' '}{x}") for i, x in enumerate(ehlo)]
    lines += [SmtpLine("C", f"MAIL FROM:<{envelope.mail_from}> SIZE={size}"), SmtpLine("S", "250 2.1.0 Ok"),
              SmtpLine("C", f"RCPT TO:<{envelope.rcpt}>"), SmtpLine("S", "250 2.1.5 Ok"),
              SmtpLine("C", "DATA"), SmtpLine("S", "354 End data with <CR><LF>.<CR><LF>"),
              SmtpLine("C", f"({size} bytes of message: headers, blank line, body)"), SmtpLine("C", "."),
              SmtpLine("S", final), SmtpLine("C", "QUIT"), SmtpLine("S", bye)]
    return lines


def filter_hops(server: Server, envelope: Envelope, message: bytes, when: datetime, rng: random.Random,
                n: int, *, delays: bool = True) -> list[FilterPass]:
    """The loopback hops a content filter adds on ``server`` once its smtpd has accepted ``message`` as hop
    ``n - 1`` (both transports call this, so the simulator and the live servers show the same hops).

    **amavisd-new** (a spam filter behind Postfix): Postfix's ``content_filter = smtp-amavis:[127.0.0.1]:10024``
    hands the message to amavisd, which has SpamAssassin score it, prepends ``X-Virus-Scanned: amavisd-new at
    DOMAIN``, ``X-Spam-Flag``/``Score``/``Level``/``Status`` and its Received line (``from HOST ([127.0.0.1]) by
    localhost (HOST [127.0.0.1]) (amavisd-new, port 10024) with ESMTP id MAILID``), and re-injects it into
    Postfix's second smtpd on 127.0.0.1:10025, which stamps ``from localhost (localhost [127.0.0.1]) by HOST
    (Postfix) with ESMTP id QUEUEID`` — two hops that never leave the machine. Spam that amavisd discards or
    bounces (``final_spam_destiny``) is not re-injected. **ClamSMTP** (a virus scanner behind Postfix): clamsmtpd
    on 10025 writes no Received line; it adds ``X-Virus-Scanned: ClamAV using ClamSMTP`` at the *end* of the header
    block (as real mail shows it) and hands the message back to Postfix's smtpd on 10026, which stamps it with the
    HELO name Postfix's smtp client gave (``from HOST (localhost [127.0.0.1])``). Other MTAs: no loopback hops.
    The amavisd-new hop goes to ``localhost`` (its Received line's BY) and the re-injection comes back from it, so a
    diagram draws the detour out to the filter and back; ClamSMTP's re-injection is a hop from the server to itself.
    ``delays=False`` dates every hop at ``when`` (the live servers, on a real clock, pass the real time).

    >>> from mailhops.scenarios import get
    >>> topo = get("spam-to-junk").build()
    >>> passes = filter_hops(topo.server("spamfilter.example.net"), Envelope("alice@example.org", "bob@example.net"),
    ...                      b"Subject: hi\\r\\n\\r\\nhi", datetime(2026, 3, 2, 9, 0, 5).astimezone(), random.Random(1), 3)
    >>> [(p.hop.n, p.hop.from_name, p.hop.by_name, p.hop.with_) for p in passes]
    [(3, 'spamfilter.example.net', 'localhost', 'ESMTP'), (4, 'localhost', 'spamfilter.example.net', 'ESMTP')]
    """
    kind = content_filter(server)
    if kind is None:
        return []
    tz = tz_of(server)
    postfix = FLAVOURS["postfix"]
    _ms = _delay if delays else _no_delay
    passes: list[FilterPass] = []
    if kind == "amavis":
        when = when + _ms(rng, 1, 2)
        local = when.astimezone(tz)
        mail_id = amavis_id(rng)
        score, tests = spam_score(message)
        threshold = server.spam_threshold if server.spam_threshold is not None else 5.0
        domain = server.domain or server.name.split(".", 1)[-1]
        fields = [*amavis_headers(score, threshold, tests, domain),
                  amavis_received(server.name, mail_id, envelope.rcpt, local)]
        scanned = hdr.prepend(message, fields)
        spam = score >= threshold
        verdict = server.spam_action if spam and server.spam_action in ("drop", "bounce") else "pass"
        later = when + _ms(rng, 0, 1)
        qid = postfix.queue_id(server, rng, later) if verdict == "pass" else ""
        hop = Hop(n=n, from_name=server.name, ip="127.0.0.1", by_name="localhost", by_ip="127.0.0.1", with_="ESMTP",
                  id=mail_id, for_=envelope.rcpt, date=local.replace(microsecond=0), helo=server.name, mta="amavis",
                  envelope_from=envelope.mail_from, from_server=server.name, by_server="localhost",
                  added_headers=fields,
                  decision=f"amavisd-new (port {AMAVIS_PORT}) scored it {score:g} ({'spam' if spam else 'not spam'})")
        hop.smtp = _loopback_dialogue(
            "220 [127.0.0.1] ESMTP amavisd-new service ready", server.name,
            ["[127.0.0.1]", "VRFY", "PIPELINING", "SIZE", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
             "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"], envelope, len(message),
            amavis_replies(qid, rng.randint(1000, 32000), verdict),
            "221 2.0.0 [127.0.0.1] amavisd-new closing transmission channel")
        passes.append(FilterPass(hop, scanned, when))
        if verdict != "pass":
            return passes
        when, message, helo, rdns, port, source = later, scanned, "localhost", "localhost", REINJECT_PORT, "localhost"
        how = f"re-injected by amavisd-new into Postfix's second smtpd (127.0.0.1:{REINJECT_PORT})"
    else:  # clamsmtp: its header at the end of the header block, no Received line of its own
        when = when + _ms(rng, 0, 1)
        qid = postfix.queue_id(server, rng, when)
        message = hdr.append(message, [VIRUS_SCANNED])
        helo, rdns, port, source = server.name, "localhost", CLAMSMTP_REINJECT_PORT, server.name
        how = (f"scanned by ClamSMTP (clamsmtpd on 127.0.0.1:{CLAMSMTP_PORT}: {VIRUS_SCANNED.split(': ', 1)[1]}) "
               f"and handed back to Postfix's smtpd on 127.0.0.1:{port}")
    local = when.astimezone(tz)
    received = postfix.received(helo=helo, rdns=rdns, ip="127.0.0.1", by_name=server.name, protocol="ESMTP",
                                queue_id=qid, rcpt=envelope.rcpt, date=local)
    # ClamSMTP's header sits at the bottom of the header block, like Exchange's organisation headers: not among
    # the fields the hop put on top
    added = [received]
    hop = Hop(n=len(passes) + n, from_name=helo, ip="127.0.0.1", by_name=server.name, by_ip="127.0.0.1",
              with_="ESMTP", id=qid, for_=envelope.rcpt, date=local.replace(microsecond=0), helo=helo, rdns=rdns,
              mta="postfix", envelope_from=envelope.mail_from, from_server=source, by_server=server.name,
              added_headers=added, decision=how)
    hop.smtp = _loopback_dialogue(f"220 {server.name} ESMTP Postfix", helo,
                                  [server.name, "PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES", "8BITMIME"],
                                  envelope, len(message), f"250 2.0.0 Ok: queued as {qid}", "221 2.0.0 Bye")
    passes.append(FilterPass(hop, hdr.prepend(message, [received]), when))
    return passes


def _delay(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(seconds=rng.randint(low, high), milliseconds=rng.randint(0, 999))


def _no_delay(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(0)


#: Header prefixes an MTA keeps inside the organisation (Exchange's ``X-MS-Exchange-Organization-``).
ORGANISATION_PREFIXES: tuple[str, ...] = tuple(
    m.ORGANISATION_PREFIX for m in FLAVOURS.values() if hasattr(m, "ORGANISATION_PREFIX"))


def _speaks_lmtp(server: Server) -> bool:
    """Does this mailbox server take mail over LMTP (Dovecot), or over its MTA's own SMTP (Exchange)?"""
    return vars(_mta(server)).get("SPEAKS_LMTP", True)


def _transport_via(trace: ModuleType, server: Server, session: Session) -> dict[str, str]:
    """Exchange's ``via`` clause: the Mailbox Transport for mailbox delivery, the Front End Transport for mail
    coming in from outside; nothing for other MTAs."""
    if trace.NAME != "exchange":
        return {}
    if server.role == "mailbox":
        return {"via": "Mailbox Transport"}
    if session.client is not None and session.client.domain != server.domain and session.auth_user is None:
        return {"via": "Frontend Transport"}
    return {}


def is_inbound_boundary(server: Server, session: Session) -> bool:
    """Is this the hand-off where mail enters the server's organisation from outside (an MX receiving it)?"""
    if session.auth_user is not None or session.lmtp or session.http or server.mx_preference is None:
        return False
    return session.client is None or session.client.domain != server.domain


def spf_headers(topology: Topology, server: Server, session: Session, envelope: Envelope,
                dns_view: TopologyDNS | None = None, verdict: trust.Verdict | None = None) -> list[str]:
    """Received-SPF (RFC 7208 §9.1) and the SPF Authentication-Results line (RFC 8601) an MX writes.

    The result is the receiving server's SPF check (:func:`mailhops.mta.trust.evaluate`, pyspf on the topology's
    zones: the connecting IP against the envelope sender's domain, for a bounce with its null sender the HELO
    name's); the Received-SPF is written the way the MTA's SPF software writes it (its module's
    ``received_spf``: policyd-spf behind Postfix, libspf2 in Exim, pyspf's milter for Sendmail and qmail,
    Microsoft's, Google's). In the live mode every host sits on 127.0.0.1, so the check uses the address the
    client has in the topology.
    """
    if verdict is None:
        verdict = trust.evaluate(topology, server, session, envelope, b"", dns_view)
    prop = f"smtp.mailfrom={envelope.mail_from}" if envelope.mail_from else f"smtp.helo={verdict.helo}"
    writer = vars(_mta(server)).get("received_spf") or FLAVOURS["postfix"].received_spf
    return [writer(verdict), f"Authentication-Results: {server.name};{CRLF}\tspf={verdict.spf} {prop}"]


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
    if server.role in ("client", "webmail") and (nexts or server.role == "webmail"):
        return Route("link", nexts[:1], reason=f"{server.name} always submits through {nexts[0].name}" if nexts else "")
    if server.role == "client":  # a mail program set to deliver by itself, with no outgoing server
        return Route("mx", domain=domain, reason=f"{server.name} has no outgoing server: it looks up the MX of {domain}")
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
    if server.role == "mailbox" and _speaks_lmtp(server):
        return False, False, True, False
    if server.role == "mailbox":  # Exchange: its own Mailbox Transport, over TLS-protected SMTP
        return client.tls and server.tls, False, False, False
    tls = client.tls and server.tls
    auth = server.role == "submission" and client.role in ("client", "webmail")
    return tls, auth, False, False


def port_of(server: Server) -> int:
    return PORTS.get(server.role, 25)


def outbound_blocked(client: Server, server: Server) -> bool:
    """Does the client's network drop its connections to ``server`` (an ISP blocking outgoing port 25)?

    >>> laptop = Server("laptop.example.org", "client", "203.0.113.45", port25_blocked=True)
    >>> outbound_blocked(laptop, Server("mx.example.net", "mx", "198.51.100.25"))
    True
    >>> outbound_blocked(laptop, Server("smtp.example.org", "submission", "192.0.2.25"))  # port 587 is open
    False
    """
    return client.port25_blocked and port_of(server) == 25


def retry_delay(server: Server, age_s: float) -> float:
    """How long ``server`` keeps a deferred message that has waited ``age_s`` seconds before trying again
    (its MTA's backoff; Postfix's: the age, at least 300 s, at most 4000 s)."""
    return float(policy.wording(server, "backoff")(age_s))  # type: ignore[operator]


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
    #: The message as it leaves the server when local delivery changed it (the ``Delivered-To:`` lines Postfix's
    #: local(8) and qmail-local prepend to an alias or .forward copy), else ``None``; ``added`` lists those lines.
    message: bytes | None = None
    added: list[str] = field(default_factory=list)


def delivered_to(message: bytes) -> list[str]:
    """The addresses of the message's ``Delivered-To:`` header fields, lower-cased, topmost first.

    >>> delivered_to(b"Delivered-To: Team@example.net\\r\\nReceived: x\\r\\nDelivered-To: carol@example.com\\r\\n\\r\\nbody")
    ['team@example.net', 'carol@example.com']
    """
    return [m.decode("utf-8", "replace").strip().lower() for m in _DELIVERED_TO_RE.findall(hdr._header_block(message))]


_DELIVERED_TO_RE = re.compile(rb"^delivered-to[ \t]*:[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


def local_forward(server: Server, address: str, message: bytes) -> tuple[Reply | None, str | None]:
    """What local delivery does before it re-sends a message for ``address`` (an alias it expands, or a user whose
    .forward sends it on): (refusal, ``None``) when the message already carries ``Delivered-To: ADDRESS`` — a
    forwarding loop, refused in the MTA's words (Postfix local(8): ``5.4.6 mail forwarding loop for ADDRESS``,
    recipient.c; qmail-local: "This message is looping: it already has my Delivered-To line. (#5.4.6)") — else
    (``None``, the ``Delivered-To:`` line it prepends to the copy it sends on). MTAs that do not track
    Delivered-To (Exim, Sendmail, Exchange, Gmail) return (``None``, ``None``): their loops run to the hop limit.

    >>> mx = Server("mx.example.net", "alias", "198.51.100.25")
    >>> local_forward(mx, "team@example.net", b"Subject: hi\\r\\n\\r\\nhi")
    (None, 'Delivered-To: team@example.net')
    >>> print(local_forward(mx, "team@example.net", b"Delivered-To: team@example.net\\r\\n\\r\\nhi")[0])
    554 5.4.6 mail forwarding loop for team@example.net
    """
    mta = _mta(server)
    if not vars(mta).get("DELIVERED_TO_LOOPS", False):
        return None, None
    if address.lower() in delivered_to(message):
        return mta.forwarding_loop(address), None
    return None, f"Delivered-To: {address}"


def after_accept(topology: Topology, server: Server, envelope: Envelope, message: bytes, *, hop_n: int | None = None,
                 via: str | None = None) -> AfterAccept:
    """The decisions a server makes once it has accepted ``message`` (the same rules as the simulator).

    Sendmail's hop limit (checked at delivery, so it bounces), a filter's ``drop`` and ``bounce`` spam
    actions, the archive's copy, alias expansion and forwarding.

    >>> from mailhops.scenarios import get
    >>> topo = get("forwarding").build()
    >>> fwd = topo.server("mx.alumni.university.example")
    >>> after_accept(topo, fwd, Envelope("alice@example.org", "bob@alumni.university.example"), b"Subject: hi\\r\\n\\r\\nhi").envelope.rcpt
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
            looping = _local_forward(result, server, envelope, message)
            if looping is not None:
                return looping
            result.decision = f"alias {envelope.rcpt} expanded to {target}"
            result.envelope = Envelope(envelope.mail_from, target, envelope.original_rcpt or envelope.rcpt)
    env = result.envelope
    user = topology.users.get(env.rcpt)
    if user is not None and user.forward_to and user.mailbox in (None, server.name) and (
        server.role == "forwarder" or user.mailbox == server.name
    ):
        if user.mailbox == server.name:  # the user's own .forward, run by local delivery (a forwarding
            # service without mailboxes rewrites the address instead, as Postfix's virtual_alias_maps do)
            looping = _local_forward(result, server, env, result.message or message)
            if looping is not None:
                return looping
        if user.keep_copy and user.mailbox == server.name:
            result.copies.append(f"{server.name}: copy kept in the mailbox of {user.address}")
        result.decision = f"forwarded: {user.address} -> {user.forward_to}"
        sender = env.mail_from
        if server.mailing_list and sender:  # a list sends its copies from its own bounce address
            sender = f"{user.address.split('@')[0]}-bounces@{domain_of(user.address)}"
            result.decision = f"list {user.address} re-sent to its subscriber {user.forward_to}"
        elif server.srs and sender:
            sender = trust.srs_forward(server, sender, message)
            result.decision += f" (envelope sender rewritten with SRS: {sender})"
        result.envelope = Envelope(sender, user.forward_to, env.original_rcpt or user.address)
    return result


def _local_forward(result: AfterAccept, server: Server, envelope: Envelope, message: bytes) -> AfterAccept | None:
    """Local delivery's Delivered-To check for ``envelope.rcpt`` (:func:`local_forward`): the bounce when the
    message has been here before, else ``None`` with the Delivered-To line added to ``result``'s message."""
    refusal, line = local_forward(server, envelope.rcpt, message)
    if refusal is not None:
        return AfterAccept(
            "bounce", envelope, kind="looped", reply=refusal,
            decision=f"accepted, then bounced by local delivery: {refusal}",
            notes=[f"{server.name} finds its own line 'Delivered-To: {envelope.rcpt}' already in the message: it has "
                   "been here before, so forwarding it again would loop for ever. Local delivery refuses it and a "
                   "bounce goes to the sender, long before any hop limit."])
    if line is not None:
        result.message = hdr.prepend(result.message or message, [line])
        result.added.append(line)
    return None


_QUARANTINE_NAME = trust.QUARANTINE_FIELD.lower().encode("ascii")


def mailbox_folder(user: User, message: bytes) -> tuple[str, str]:
    """Where the mailbox's filter (a Sieve rule, as on Dovecot) files ``message`` for ``user``: (``"Junk"``, why)
    when the user's ``junk_filter`` is on and the message is marked ``X-Spam-Flag: YES`` by a spam filter or marked
    for DMARC quarantine by the receiving MX (:func:`mailhops.mta.trust.dmarc_quarantine`), else (``"INBOX"``, "").

    >>> from mailhops.topology import User
    >>> mailbox_folder(User("bob@example.net"), b"X-Spam-Flag: YES\\r\\n\\r\\nbuy")[0]
    'Junk'
    >>> mailbox_folder(User("bob@example.net", junk_filter=False), b"X-Spam-Flag: YES\\r\\n\\r\\nbuy")
    ('INBOX', '')
    """
    if not user.junk_filter:
        return "INBOX", ""
    head = hdr._header_block(message)
    if b"\r\nX-Spam-Flag: YES" in b"\r\n" + head:
        return "Junk", "A filter rule in the mailbox (Sieve) files messages marked X-Spam-Flag: YES into Junk."
    marked = _QUARANTINE_NAME in head.lower()  # only then can there be a quarantine mark to read
    quarantined = trust.quarantine_reason(message) if marked else None
    if quarantined is not None:
        return "Junk", quarantined
    return "INBOX", ""


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


def local_injection(reporter: Server, when: datetime, qid: str | None, rcpt: str | None = None) -> str | None:
    """The Received line the MTA stamps on mail made on the server itself (a bounce: Postfix's cleanup, Exim's
    ``with local``, Sendmail's ``from localhost``, qmail-queue's ``invoked for bounce``), else ``None``."""
    return _mta(reporter).local_injection(reporter, when, qid, rcpt)


def local_hop(reporter: Server, when: datetime, qid: str | None, rcpt: str, field_text: str) -> Hop:
    """The hop of a bounce's local injection, with the fields its Received line names (and only those)."""
    mta = _mta(reporter)
    shape = getattr(mta, "LOCAL_HOP", {"from_name": None, "with_": None, "for_": False, "by": True})
    return Hop(n=1, by_name=reporter.name if shape["by"] else None, by_ip=reporter.ip,
               id=qid if mta.NAME != "qmail" else None, date=when, mta=reporter.mta, envelope_from="",
               from_name=shape["from_name"], with_=shape["with_"], for_=rcpt if shape["for_"] else None,  # type: ignore[arg-type]
               added_headers=[field_text], by_server=reporter.name,
               decision="bounce written and queued locally by the MTA")
