"""Microsoft Exchange (and Microsoft 365): the Received line, replies, ids and hop limit of Exchange 2019.

Checked against Microsoft's documentation and the shape of Exchange's own headers: the Received line reads ``from HELO
(IP) by HOST (IP) with Microsoft SMTP Server (version=TLS1_2, cipher=...) id 15.2.1544.14; DATE`` — the
id is the server's build number, there is no FOR clause, and lines are folded at spaces with one leading
space; the Receive connector counts Received header fields and rejects the message past ``MaxHopCount``
(``Set-ReceiveConnector -MaxHopCount``, default 30, per Microsoft's cmdlet reference; the exact boundary is
not documented, so it is taken as Postfix's "at the limit") with ``554 5.4.14 Hop count exceeded - possible
mail loop``; unknown recipients get ``550 5.1.10 RESOLVER.ADR.RecipientNotFound``, relaying ``550 5.7.54``;
the transport adds the ``X-MS-Exchange-Organization-AuthSource``/``AuthAs`` headers; NDRs are titled
"Undeliverable: SUBJECT". Exchange speaks SMTP only (no LMTP): its mailbox delivery is its own Mailbox
Transport, which real Exchange headers show as ``... id 15.2.1544.14 via Mailbox Transport; DATE``; mail
that comes in from outside through the Front End Transport service is stamped ``via Frontend Transport``
(both checked against real Exchange Received lines, e.g. the Microsoft 365 sample in tests/test_received.py
and Microsoft's "View and interpret message headers" documentation). The ``X-MS-Exchange-Organization-*``
headers go at the bottom of the header block, and Exchange's header firewall removes them when mail leaves
the organisation (:data:`ORGANISATION_PREFIX`). The NDR (:func:`bounce`) follows Exchange 2013+'s shape:
``From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@DOMAIN>``, ``Subject:
Undeliverable: ...``, ``X-MS-Exchange-Message-Is-Ndr``, a ``multipart/alternative`` human part ("Delivery has
failed to these recipients or groups:", "Diagnostic information for administrators:", "Generating server:",
``Remote Server returned '...'`` and the original message headers), then ``message/delivery-status`` with
Exchange's ``dns;``/``rfc822;`` without a space and ``X-Display-Name``, and the original message.

>>> from datetime import datetime, timezone
>>> print(received(helo="mail.example.org", rdns="mail.example.org", ip="192.0.2.25", by_name="mx.example.net",
...                by_ip="198.51.100.25", protocol="ESMTPS", queue_id="15.2.1544.14", rcpt="bob@example.net",
...                tls=True, date=datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))
...                # doctest: +NORMALIZE_WHITESPACE
Received: from mail.example.org (192.0.2.25) by mx.example.net (198.51.100.25)
 with Microsoft SMTP Server (version=TLS1_2,
 cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1544.14; Mon, 2 Mar
 2026 09:00:05 +0000
"""

from __future__ import annotations

import functools
import random
from datetime import datetime
from typing import TYPE_CHECKING

from ..topology import Server
from .dsn import Failure, boundary_header, original_head, part, report, returned_message, status_part
from .headers import CRLF, count_fields, rfc5322_date, tz_of
from .smtp import Envelope, Reply, Session, parse_reply

if TYPE_CHECKING:  # the verdict of mailhops.mta.trust, which imports this module
    from .trust import Verdict

NAME = "exchange"
SOFTWARE = "Microsoft SMTP Server"
HOP_LIMIT = 30
LOOP_REPLY = "554 5.4.14 Hop count exceeded - possible mail loop"
DOCUMENTED = True
WITH_WORD: str | None = "MICROSOFT SMTP SERVER"
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Recipient OK"
BOUNCE_SUBJECT = "Undeliverable: {subject}"


def received(
    *,
    helo: str | None,
    rdns: str | None,
    ip: str,
    by_name: str,
    protocol: str,
    queue_id: str,
    rcpt: str | None,
    date: datetime,
    envelope_from: str | None = None,
    by_ip: str | None = None,
    tls: bool = False,
    auth_user: str | None = None,
    software: str | None = None,
    via: str | None = None,
) -> str:
    """Exchange's Received line: build-number id, no FOR clause (``rcpt`` is not written); ``via`` names the
    Exchange service the message came through (``Frontend Transport``, ``Mailbox Transport``)."""
    by = f"by {by_name}" + (f" ({by_ip})" if by_ip else "")
    text = f"from {helo or rdns or 'unknown'} ({ip}) {by} with Microsoft SMTP Server"
    if tls:
        text += " (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)"
    text += f" id {queue_id}" + (f" via {via}" if via else "") + ";"
    # all but the date is the same for every message over this hop: its folding is worked out once
    return "Received: " + fold_spaces(rfc5322_date(date, day="2"), first=len("Received: "), after=text)


def fold_spaces(text: str, *, first: int, width: int = 78, after: str | None = None) -> str:
    """Fold like Exchange does: break at spaces, continuation lines start with one space. With ``after``, fold
    ``after + " " + text`` (the folding of ``after`` is remembered: it is the part of a header that repeats).

    >>> fold_spaces("a " * 5, first=70)
    'a a a a\\r\\n a '
    >>> fold_spaces("2026", first=70, after="a a a a") == fold_spaces("a a a a 2026", first=70)
    True
    """
    out, words, size, limit = _fold_start(after, first, width) if after is not None else ((), (), 0, width - first)
    out, words = list(out), list(words)
    for word in text.split(" "):
        size, limit = _fold_word(out, words, word, size, limit, width)
    out.append(" ".join(words))
    return (CRLF + " ").join(out)


def _fold_word(out: list[str], words: list[str], word: str, size: int, limit: int, width: int) -> tuple[int, int]:
    """Add ``word`` to the line being folded (``words``, ``size`` characters long; 0: still empty, and an empty
    word keeps it so), or start the next line with it; returns the new (size, limit)."""
    if size and size + 1 + len(word) > limit:  # the word does not fit: it starts the next line
        out.append(" ".join(words))
        words[:] = [word]
        return len(word), width - 1
    if size:
        words.append(word)
        return size + 1 + len(word), limit
    words[:] = [word]
    return len(word), limit


@functools.lru_cache(maxsize=256)
def _fold_start(text: str, first: int, width: int) -> tuple[tuple[str, ...], tuple[str, ...], int, int]:
    """The folding state after the words of ``text``: (lines done, words of the current line, its size, limit)."""
    out: list[str] = []
    words: list[str] = []
    size, limit = 0, width - first
    for word in text.split(" "):
        size, limit = _fold_word(out, words, word, size, limit, width)
    return tuple(out), tuple(words), size, limit


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Exchange writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from HELO (IP)``: Exchange writes the HELO as given, so an address literal names no host."""
    return claimed


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """Exchange writes its build number where others write a queue id (Microsoft 365's for outlook.com)."""
    return "15.20.8207.18" if server.name.endswith("outlook.com") else "15.2.1544.14"


def greeting(server: Server, when: datetime) -> Reply:
    date = rfc5322_date(when.astimezone(tz_of(server)))
    return Reply(220, "", f"{server.name} Microsoft ESMTP MAIL Service ready at {date}")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup")


def relay_denied(rcpt: str) -> Reply:
    return Reply(550, "5.7.54", "SMTP; Unable to relay recipient in non-accepted domain")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    epoch = int(when.timestamp())
    return Reply(250, "2.6.0", f"{message_id} [InternalId={epoch % 10**11}, Hostname={server.name}] Queued mail for delivery")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """The Receive connector counts the Received header fields; at ``MaxHopCount`` it rejects the message."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received",)) >= limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """Exchange refuses looping mail at the Receive connector (:func:`loop_reply`), never after accepting it."""
    return None


#: The headers Exchange keeps inside the organisation (its header firewall strips them at the boundary).
ORGANISATION_PREFIX = "X-MS-Exchange-Organization-"
#: Exchange delivers to its own mailboxes (Mailbox Transport), never over LMTP.
SPEAKS_LMTP = False


def local_injection(server: Server, when: datetime, qid: str | None, rcpt: str | None = None) -> str | None:
    """NDRs Exchange writes itself carry no Received line in mailhops."""
    return None


def organisation_headers(server: Server, session: Session) -> list[str]:
    """The transport's organisation headers: where the message was authenticated, and as what."""
    internal = session.client and session.client.domain == server.domain
    return [
        f"X-MS-Exchange-Organization-AuthSource: {server.name}",
        "X-MS-Exchange-Organization-AuthAs: " + ("Internal" if internal else "Anonymous"),
    ]


_NDR_FROM = "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e"


def bounce(f: Failure) -> bytes:
    """Exchange's non-delivery report (NDR)."""
    host = f.reporter.name
    domain = f.reporter.domain or host.partition(".")[2]
    local = f.local()
    guid = "".join(f.rng.choice("0123456789abcdef") for _ in range(32))
    outer, inner = f"_{guid[:8]}-report_", f"_{guid[8:16]}-alt_"
    subject = BOUNCE_SUBJECT.format(subject=f.header("Subject") or "")
    headers = [("From", f"Microsoft Outlook <{_NDR_FROM}@{domain}>"), ("To", f"<{f.envelope.mail_from}>"),
               ("Date", rfc5322_date(local, day="2")), ("Subject", subject),
               ("Content-Type", boundary_header("report", outer)), ("Content-Language", "en-US"),
               ("Message-ID", f"<{guid[:8]}-{guid[8:12]}-{guid[12:16]}-{guid[16:20]}-{guid[20:]}@{host}>")]
    original_id = f.header("Message-ID")
    if original_id:
        headers += [("In-Reply-To", original_id), ("References", original_id)]
    headers += [("MIME-Version", "1.0"), ("X-MS-Exchange-Message-Is-Ndr", ""), ("Auto-Submitted", "auto-replied")]
    where = f"Remote Server returned '{f.reply}'" if f.remote else f"{host} gave this error:\n{f.reply.text}"
    plain = ("Delivery has failed to these recipients or groups:\n\n"
             f"{f.rcpt}<mailto:{f.rcpt}>\n"
             "The email address you entered couldn't be found or the message was refused. Please check the "
             "recipient's email address and try to resend the message. If the problem continues, please contact "
             "your helpdesk.\n\n"
             "Diagnostic information for administrators:\n\n"
             f"Generating server: {host}\n\n"
             f"{f.rcpt}\n{where}\n\n"
             "Original message headers:\n\n" + original_head(f.original))
    html = ("<html><body><p>Delivery has failed to these recipients or groups:</p>"
            f"<p><a href=\"mailto:{f.rcpt}\">{f.rcpt}</a></p><p>Diagnostic information for administrators:</p>"
            f"<p>Generating server: {host}</p></body></html>\n")
    alternative = part([("Content-Type", f'multipart/alternative; differences=Content-Type;\n\tboundary="{inner}"')],
                       [part([("Content-Type", 'text/plain; charset="us-ascii"')], plain),
                        part([("Content-Type", 'text/html; charset="us-ascii"')], html)])
    per_message = [("Reporting-MTA", f"dns;{host}"), ("Arrival-Date", rfc5322_date(f.arrived, day="2"))]
    per_rcpt = [("Final-Recipient", f"rfc822;{f.rcpt}"), ("Action", f.action), ("Status", f.status),
                ("Diagnostic-Code", f"smtp;{f.reply}")]
    if f.remote:
        per_rcpt.append(("Remote-MTA", f"dns;{f.remote}"))
    per_rcpt.append(("X-Display-Name", f.rcpt))
    status = status_part([("Content-Type", "message/delivery-status")], per_message, per_rcpt)
    returned = part([("Content-Type", "message/rfc822")], [returned_message(f.original)])
    return report(headers, [alternative, status, returned])


# -- Authentication-Results (trust across hops, see mailhops.mta.trust) ------------------------------------


def received_spf(verdict: Verdict) -> str:
    """Exchange's Received-SPF, as Microsoft 365 writes it (and on-premises Exchange's Sender ID agent, with the
    server's own name where Microsoft 365 writes ``protection.outlook.com``): the result capitalised
    (``Pass``, ``Fail``, ``SoftFail``, ``Neutral``, ``None``), a comment naming the *domain*, then
    ``receiver=``, ``client-ip=`` and ``helo=``, folded with one space. Checked against real Microsoft 365
    headers: ``Received-SPF: Fail (protection.outlook.com: domain of axiado.com does not designate
    50.233.182.194 as permitted sender) receiver=protection.outlook.com; client-ip=50.233.182.194;
    helo=smtp.corp.axiado.com;``.

    >>> from types import SimpleNamespace as V
    >>> for line in received_spf(V(spf="pass", spf_domain="example.org", ip="192.0.2.25", helo="smtp.example.org",
    ...                               authserv_id="mx.example.net")).split("\\r\\n"):
    ...     print(line)
    Received-SPF: Pass (mx.example.net: domain of example.org designates
     192.0.2.25 as permitted sender) receiver=mx.example.net;
     client-ip=192.0.2.25; helo=smtp.example.org;
    """
    me, domain, ip = verdict.authserv_id, verdict.spf_domain, verdict.ip
    word, comment = {
        "pass": ("Pass", f"domain of {domain} designates {ip} as permitted sender"),
        "fail": ("Fail", f"domain of {domain} does not designate {ip} as permitted sender"),
        "softfail": ("SoftFail", f"domain of transitioning {domain} discourages use of {ip} as permitted sender"),
        "neutral": ("Neutral", f"{ip} is neither permitted nor denied by domain of {domain}"),
        "none": ("None", f"{domain} does not designate permitted sender hosts"),
        "temperror": ("TempError", f"error in processing during lookup of {domain}: DNS Timeout"),
    }.get(verdict.spf, ("PermError", f"domain of {domain} used an invalid SPF mechanism"))
    return _fold(f"Received-SPF: {word} ({me}: {comment}) receiver={me}; client-ip={ip}; helo={verdict.helo};")


@functools.lru_cache(maxsize=256)
def _fold(text: str, width: int = 78) -> str:
    """Fold at spaces, each continuation line starting with one space (as Exchange folds its headers)."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = " " + word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return CRLF.join(lines)


def authentication_results(verdict: Verdict, qid: str | None, spf_fields: list[str] | None = None) -> list[str]:
    """Microsoft 365's Authentication-Results: **no authserv-id**, ``spf=`` with "(sender IP is ...)",
    ``dkim=`` "(signature was verified)", ``dmarc=... action=...`` and its composite verdict ``compauth``
    (reason 100: passed; 130: ARC overrode a DMARC failure; 000: failed an explicit DMARC policy), then its
    Received-SPF."""
    parts = [f"spf={verdict.spf} (sender IP is {verdict.ip}) "
             + (f"smtp.mailfrom={verdict.spf_domain}" if verdict.mail_from else f"smtp.helo={verdict.helo}")]
    if verdict.dkim:
        d = verdict.dkim[0]
        words = "signature was verified" if d.result == "pass" else "body hash did not verify" if d.result == "fail" else "no key"
        parts.append(f"dkim={d.result} ({words}) header.d={d.domain}")
    else:
        parts.append("dkim=none (message not signed) header.d=none")
    action = {"reject": "oreject", "quarantine": "quarantine"}.get(verdict.dmarc_policy, "none")
    action = action if verdict.dmarc == "fail" else "none"
    parts.append(f"dmarc={verdict.dmarc} action={action} header.from={verdict.from_domain}")
    if verdict.dmarc == "pass":
        parts.append("compauth=pass reason=100")
    elif verdict.arc_override:
        parts.append("compauth=pass reason=130")
    else:
        parts.append("compauth=fail reason=000" if verdict.dmarc == "fail" else "compauth=softpass reason=201")
    received_spf = [f for f in (spf_fields or []) if f.startswith("Received-SPF:")]
    return ["Authentication-Results: " + (";" + CRLF + " ").join(parts)] + received_spf


def dmarc_reject(domain: str) -> Reply:
    """Exchange Online's refusal of mail failing DMARC for a ``p=reject`` domain (5.7.509, Microsoft's docs)."""
    return Reply(550, "5.7.509", f"Access denied, sending domain {domain} does not pass DMARC verification and has "
                 "a DMARC policy of reject.")
