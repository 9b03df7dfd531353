"""Exim: the Received line, replies, queue ids and hop limit of Exim 4.98.

Checked against Exim's sources and documentation: the default ``received_header_text`` writes the verified
reverse name and adds ``helo=`` only when the HELO differs (``from RDNS ([IP] helo=HELO)``), the protocol in
lower case with the TLS version and cipher, ``(Exim 4.98)``, ``(envelope-from <..>)``, ``id``, ``for RCPT;``
and the date on its own line; receive.c answers ``550 Too many "Received" headers - suspected mail loop``
during SMTP when a message arrives with more Received headers than ``received_headers_max`` (30); message
ids are Exim 4.97+'s ``base62 time-pid-fraction`` with the pid zero-padded to eleven digits
(``1tpaPp-00000000Lar-2q30``); the ``(Exim 4.98)`` comment follows the protocol on the same line unless a TLS
cipher is written (received_header_text's default). The bounce (:func:`bounce`) follows deliver.c
(Exim/exim, src/src/deliver.c, checked against the 2025 source): ``X-Failed-Recipients``, ``Auto-Submitted:
auto-replied``, ``From: Mail Delivery System <Mailer-Daemon@HOST>``, ``References``, the one-line
``Content-Type ... boundary=TIME-eximdsn-RAND``, "This message was created automatically by mail delivery
software.", the address with ``host NAME [IP]`` and smtp.c's ``SMTP error from remote mail server after RCPT
TO:<..>:`` broken after ": " past 45 columns, the delivery-status fields in Exim's order (``Action`` first,
``rfc822;`` without a space, ``Status: 5.0.0``) and the original as ``message/rfc822`` with its Return-Path;
Exim stamps its own bounce ``Received: from exim by HOST with local (Exim 4.98)``.

>>> from datetime import datetime, timezone
>>> print(received(helo="liar.example.com", rdns="mail.example.org", ip="192.0.2.25", by_name="mx.example.net",
...                protocol="ESMTPS", queue_id="1wERYT-0000000Fbcq-0WDP", rcpt="bob@example.net", tls=True,
...                envelope_from="alice@example.org", date=datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))
...                # doctest: +NORMALIZE_WHITESPACE
Received: from mail.example.org ([192.0.2.25] helo=liar.example.com)
	by mx.example.net with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384
	(Exim 4.98)
	(envelope-from <alice@example.org>)
	id 1wERYT-0000000Fbcq-0WDP
	for bob@example.net;
	Mon, 02 Mar 2026 09:00:05 +0000
"""

from __future__ import annotations

import random
import string
from datetime import datetime
from typing import TYPE_CHECKING

from ..topology import Server
from .dsn import Failure, original_head, part, report, returned_message, status_part, too_large
from .headers import CRLF, count_fields, rfc5322_date, tz_of
from .smtp import Envelope, Reply, Session, parse_reply

if TYPE_CHECKING:  # the verdict of mailhops.mta.trust, which imports this module
    from .trust import Verdict

NAME = "exim"
SOFTWARE = "Exim 4.98"
HOP_LIMIT = 30
LOOP_REPLY = '550 Too many "Received" headers - suspected mail loop'
DOCUMENTED = True
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "Mail delivery failed: returning message to sender"

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


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
) -> str:
    """Exim's default Received line: the verified reverse name first, ``helo=`` only when it differs."""
    host = rdns or ""
    if host and helo and helo.lower() != host.lower():
        rcvhost = f"{host} ([{ip}] helo={helo})"
    elif host:
        rcvhost = f"{host} ([{ip}])"
    else:
        rcvhost = f"[{ip}]" + (f" (helo={helo})" if helo else "")
    proto = protocol.lower()
    first = f"by {by_name} with {proto}"
    if tls:
        lines = [f"from {rcvhost}", first + "  (TLS1.3) tls TLS_AES_256_GCM_SHA384", f"({software or SOFTWARE})"]
    else:
        lines = [f"from {rcvhost}", f"{first} ({software or SOFTWARE})"]
    if envelope_from is not None:
        lines.append(f"(envelope-from <{envelope_from}>)")
    lines.append(f"id {queue_id}")
    if rcpt:
        lines.append(f"for {rcpt};")
    else:
        lines[-1] += ";"
    return "Received: " + (CRLF + "\t").join(lines) + CRLF + "\t" + rfc5322_date(date)


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Exim writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from RDNS ([IP] helo=HELO)``: the verified reverse name, else the HELO claim."""
    return reverse or claimed


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """Exim 4.97+: six base62 digits of the time, eleven of the pid (zero-padded), four of the fraction of a second.

    >>> queue_id(Server("mx.example.net", "mx", "198.51.100.25"), random.Random(1),
    ...          datetime(2026, 3, 2, 9, 0, 5))[6:14]
    '-0000000'
    """
    pid = rng.randint(1000, 4194304)
    frac = (when.microsecond // 1000) * 1000 + rng.randrange(1000)
    return f"{_base62(int(when.timestamp()), 6)}-{_base62(pid, 11)}-{_base62(frac, 4)}"


def _base62(value: int, width: int) -> str:
    out = ""
    for _ in range(width):
        out = _B62[value % 62] + out
        value //= 62
    return out


def greeting(server: Server, when: datetime) -> Reply:
    """``smtp_banner``'s default: ``$smtp_active_hostname ESMTP Exim $version_number $tod_full``."""
    return Reply(220, "", f"{server.name} ESMTP Exim 4.98 {rfc5322_date(when.astimezone(tz_of(server)))}")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.1", f"<{rcpt}>: Unrouteable address")


def relay_denied(rcpt: str) -> Reply:
    return Reply(550, "5.7.1", "relay not permitted")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    return Reply(250, "", f"OK id={qid}")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """receive.c refuses when the message arrives with more Received headers than ``received_headers_max``."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received",)) > limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """Exim refuses looping mail during SMTP (:func:`loop_reply`), never after accepting it."""
    return None


#: What the Received line on a locally made bounce names (see :func:`local_injection`): the FROM word, the
#: WITH word as read back, whether it names the recipient (FOR) and the host (BY).
LOCAL_HOP: dict[str, object] = {"from_name": "exim", "with_": "LOCAL", "for_": True, "by": True}

def local_injection(server: Server, when: datetime, qid: str | None, rcpt: str | None = None) -> str | None:
    """The Received line Exim writes on a bounce it generates (``from EXIM-USER ... with local``).

    >>> from datetime import timezone
    >>> print(local_injection(Server("mx.example.net", "mx", "198.51.100.25"),
    ...                       datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc), "1tpaPp-00000000Lar-2q30",
    ...                       "alice@example.org"))  # doctest: +NORMALIZE_WHITESPACE
    Received: from exim by mx.example.net with local (Exim 4.98)
        id 1tpaPp-00000000Lar-2q30
        for alice@example.org;
        Mon, 02 Mar 2026 09:00:05 +0000
    """
    local = when.astimezone(tz_of(server))
    lines = [f"from exim by {server.name} with local ({SOFTWARE})", f"id {qid}"]
    if rcpt:
        lines.append(f"for {rcpt};")
    else:
        lines[-1] += ";"
    return "Received: " + (CRLF + "\t").join(lines) + CRLF + "\t" + rfc5322_date(local)


def organisation_headers(server: Server, session: Session) -> list[str]:
    """Exim adds no headers of its own besides Received."""
    return []


def reason(f: Failure) -> str:
    """What deliver.c prints under the failed address: the host, then the error broken as
    print_address_error() breaks it (after a ": " once the line is past 45 characters).

    >>> from datetime import datetime
    >>> f = Failure(Server("smtp.example.org", "submission", "192.0.2.25"), Envelope("alice@example.org",
    ...             "nobody@example.net"), b"", Reply(550, "5.1.1", "<nobody@example.net>: User unknown"),
    ...             datetime(2026, 3, 2), remote="mx.example.net", remote_ip="198.51.100.25", command="RCPT TO")
    >>> print(reason(f))
    host mx.example.net [198.51.100.25]
        SMTP error from remote mail server after RCPT TO:<nobody@example.net>:
        550 5.1.1 <nobody@example.net>: User unknown
    """
    if not f.remote:
        return f.reply.text
    after = f"RCPT TO:<{f.rcpt}>" if (f.command or "").startswith("RCPT") else "end of data"
    text = f"SMTP error from remote mail server after {after}: {f.reply}"
    out, count = "", 0
    for ch in text:
        if ch == " " and out.endswith(":") and count > 45:
            out += "\n    "
            count = 0
            continue
        out += ch
        count += 1
    return f"host {f.remote} [{f.remote_ip}]\n    {out}"


def bounce(f: Failure) -> bytes:
    """The bounce Exim's deliver.c writes (Message-Id and Date as Exim adds them on reception)."""
    host = f.reporter.name
    local = f.local()
    boundary = f"{int(f.when.timestamp())}-eximdsn-{f.rng.randrange(2**31)}"
    headers = [("X-Failed-Recipients", f.rcpt), ("Auto-Submitted", "auto-replied"),
               ("From", f"Mail Delivery System <Mailer-Daemon@{host}>"), ("To", f.envelope.mail_from)]
    original_id = f.header("Message-ID")
    if original_id:
        headers.append(("References", original_id))
    headers += [("Content-Type", f"multipart/report; report-type=delivery-status; boundary={boundary}"),
                ("MIME-Version", "1.0"), ("Subject", BOUNCE_SUBJECT),
                ("Message-Id", f"<E{f.qid}@{host}>"), ("Date", rfc5322_date(local))]
    text = ("This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            f"  {f.rcpt}\n    {reason(f)}\n")
    human = part([("Content-type", "text/plain; charset=us-ascii")], text)
    per_rcpt = [("Action", "failed"), ("Final-Recipient", f"rfc822;{f.rcpt}"), ("Status", "5.0.0")]
    if f.remote:
        per_rcpt += [("Remote-MTA", f"dns; {f.remote}"), ("Diagnostic-Code", f"smtp; {f.reply}")]
    status = status_part([("Content-type", "message/delivery-status")], [("Reporting-MTA", f"dns; {host}")], per_rcpt)
    with_path = f"Return-path: <{f.envelope.mail_from}>\r\n".encode() + f.original
    if too_large(f.original):
        returned = part([("Content-type", "text/rfc822-headers")], original_head(with_path))
    else:
        returned = part([("Content-type", "message/rfc822")], [returned_message(with_path)])
    return report(headers, [human, status, returned])


# -- Authentication-Results (trust across hops, see mailhops.mta.trust) ------------------------------------


def received_spf(verdict: Verdict) -> str:
    """Exim's ``$spf_received`` (its SPF support is libspf2): libspf2's ``SPF_i_set_received_spf`` writes the
    lower-case result, the header comment ``(RECEIVER: ...)`` of ``SPF_i_set_header_comment`` (``domain of
    DOMAIN designates IP as permitted sender``, ``transitioning domain of ...``, ``... does not provide an SPF
    record``), then ``client-ip=``, ``envelope-from=`` and ``helo=``, each ended by ``;`` (libspf2's
    src/libspf2/spf_interpret.c).

    >>> from types import SimpleNamespace as V
    >>> print(received_spf(V(spf="pass", mail_from="alice@example.org", spf_domain="example.org", ip="192.0.2.25",
    ...                      helo="smtp.example.org", authserv_id="mx.example.net")))  # doctest: +NORMALIZE_WHITESPACE
    Received-SPF: pass (mx.example.net: domain of example.org designates 192.0.2.25 as permitted sender)
        client-ip=192.0.2.25; envelope-from=alice@example.org; helo=smtp.example.org;
    """
    source = f"domain of {verdict.spf_domain}"
    ip = verdict.ip
    comment = {
        "pass": f"{source} designates {ip} as permitted sender",
        "fail": f"{source} does not designate {ip} as permitted sender",
        "softfail": f"transitioning {source} does not designate {ip} as permitted sender",
        "neutral": f"{ip} is neither permitted nor denied by {source}",
        "none": f"{source} does not provide an SPF record",
        "temperror": f"encountered temporary error during SPF processing of {source}",
    }.get(verdict.spf, f"error in processing during lookup of {source}: Invalid SPF record")
    tail = f"client-ip={ip};" + (f" envelope-from={verdict.mail_from};" if verdict.mail_from else "")
    return (f"Received-SPF: {verdict.spf} ({verdict.authserv_id}: {comment}){CRLF}\t{tail} helo={verdict.helo};")


def authentication_results(verdict: Verdict, qid: str | None, spf_fields: list[str] | None = None) -> list[str]:
    """Exim's built-in ``${authresults {$primary_hostname}}``: one field, each method on its own tab-indented
    line (``spf=`` with ``smtp.mailfrom`` the domain, ``dkim=`` with ``header.d``, ``header.s``, ``header.a``,
    ``dmarc=`` with ``header.from``, ``arc=`` with ``(i=N)``), below its Received-SPF (``$spf_received``)."""
    lines = [verdict.authserv_id]
    prop = f"smtp.mailfrom={verdict.spf_domain}" if verdict.mail_from else f"smtp.helo={verdict.helo}"
    lines.append(f"spf={verdict.spf} {prop}")
    for d in verdict.dkim:
        lines.append(f"dkim={d.result} header.d={d.domain} header.s={d.selector} header.a={d.algorithm}")
    if verdict.arc.instance:
        lines.append(f"arc={verdict.arc.result} (i={verdict.arc.instance}) header.s={verdict.arc.selector} "
                     f"smtp.remote-ip={verdict.ip}")
    if verdict.from_domain:
        lines.append(f"dmarc={verdict.dmarc} header.from={verdict.from_domain}")
    received_spf = [f for f in (spf_fields or []) if f.startswith("Received-SPF:")]
    return ["Authentication-Results: " + (";" + CRLF + "\t").join(lines)] + received_spf


def dmarc_reject(domain: str) -> Reply:
    """The refusal of the Exim specification's DMARC example ACL (``deny dmarc_status = reject``)."""
    return Reply(550, "", f"Message from {domain} failed sender's DMARC policy, REJECT")
