"""Sendmail: the Received line, replies, queue ids and hop limit of Sendmail 8.18.

Checked against Sendmail's sources and documentation: the default ``Received:`` template in sendmail.cf
writes ``from HELO (RDNS [IP]) by HOST (8.18.1/8.18.1) with ESMTP id QUEUEID``, the ``(version=TLSv1.3
cipher=... verify=NOT)`` comment after the queue id, ``for <RCPT>`` and the date; Sendmail does not refuse
looping mail during SMTP: sendall() checks ``MaxHopCount`` (25) at delivery time, counting Received,
X400-Received, Via and Mail-From headers, and bounces with ``554 5.4.6 Too many hops N (25 max): from
<SENDER> via HOST, to <RCPT>``. Queue ids are base-60 time stamps (year since 1900, month, day, hour, minute,
second), two more base-60 digits and the pid. An authenticated client gets the ``(authenticated bits=0)``
line (the ``$?{auth_type}`` clause of sendmail.cf's Received template). The bounce (:func:`bounce`) follows
savemail.c (freebsd-src usr.sbin/sendmail/src/savemail.c) and two real Sendmail bounces in the development
corpus (cpython-test_email, pypi-pymilter): ``From: Mail Delivery Subsystem <MAILER-DAEMON@HOST>``,
``Message-Id: <YYYYMMDDhhmm.QUEUEID@HOST>`` (UTC), "This is a MIME-encapsulated message", "The original
message was received at DATE / from HOST [IP]", "----- The following addresses had permanent fatal errors
-----" with ``(reason: ...)``, the "Transcript of session follows" with ``>>>``/``<<<`` lines, capitalised
report fields (``RFC822;``, ``DNS;``, ``SMTP;``) and ``Last-Attempt-Date``; its own ``Received: from localhost
(localhost) by HOST (8.18.1/8.18.1) id QUEUEID;`` line; subject "Returned mail: see transcript for details",
or "Returned mail: " and the reason for a hop-count bounce.

>>> str(unknown_user("nobody@example.net"))
'550 5.1.1 <nobody@example.net>... User unknown'
"""

from __future__ import annotations

import functools
import random
import string
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import spf

from ..topology import Server
from .dsn import Failure, boundary_header, original_head, part, report, returned_message, status_part, too_large
from .headers import CRLF, count_hops, rfc5322_date, tcp_info, tz_of
from .smtp import Envelope, Reply, Session

if TYPE_CHECKING:  # the verdict of mailhops.mta.trust, which imports this module
    from .trust import Verdict

NAME = "sendmail"
SOFTWARE = "Sendmail 8.18.1"
HOP_LIMIT = 25
LOOP_REPLY = "554 5.4.6 Too many hops"
DOCUMENTED = True
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "Returned mail: see transcript for details"

_B60 = string.digits + string.ascii_uppercase + string.ascii_lowercase[:24]


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
    """Sendmail's Received line: the version pair after the host, the TLS comment after the queue id."""
    version = (software or SOFTWARE).split()[-1]
    lines = [f"from {tcp_info(helo, rdns, ip)}"]
    if auth_user is not None:
        lines.append("(authenticated bits=0)")
    lines.append(f"by {by_name} ({version}/{version}) with {protocol} id {queue_id}")
    if tls:
        lines.append("(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT)")
    tail = rfc5322_date(date, zone_comment=True, day="2")
    if rcpt:
        lines.append(f"for <{rcpt}>; {tail}")
    else:
        lines[-1] += f"; {tail}"
    return "Received: " + (CRLF + "\t").join(lines)


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Sendmail writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from HELO (RDNS [IP])``; "unknown" when the client gave no usable name and has no PTR."""
    return claimed or reverse or "unknown"


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """A Sendmail queue id: the time in base 60, two more base-60 digits, six digits of pid."""
    u = when.astimezone(timezone.utc)
    b60 = _B60
    stamp = (b60[(u.year - 1900) % 60] + b60[(u.month - 1) % 60] + b60[u.day % 60] + b60[u.hour % 60]
             + b60[u.minute % 60] + b60[u.second % 60])
    return f"{stamp}{rng.choice(_B60)}{rng.choice(_B60)}{rng.randint(0, 999999):06d}"


def greeting(server: Server, when: datetime) -> Reply:
    """The default ``SmtpGreetingMessage``: ``$j Sendmail $v/$Z; $b``."""
    return Reply(220, "", f"{server.name} ESMTP Sendmail 8.18.1/8.18.1; {rfc5322_date(when.astimezone(tz_of(server)))}")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.1", f"<{rcpt}>... User unknown")


def relay_denied(rcpt: str) -> Reply:
    return Reply(550, "5.7.1", f"<{rcpt}>... Relaying denied")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    return Reply(250, "2.0.0", f"{qid} Message accepted for delivery")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """Sendmail does not refuse during SMTP: it accepts and then bounces (:func:`loop_after_accept`)."""
    return None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """sendall()'s check at delivery time: Received, Via, X400-Received and Mail-From above ``MaxHopCount``.

    >>> msg = b"Received: x\\r\\n" * 27 + b"\\r\\nbody"
    >>> str(loop_after_accept(msg, 25, Envelope("alice@example.org", "bob@example.net"), "relay.example.net"))
    '554 5.4.6 Too many hops 26 (25 max): from <alice@example.org> via relay.example.net, to <bob@example.net>'
    """
    # the message here already carries Sendmail's own Received line, which Sendmail does not count
    count = count_hops(message) - 1
    if count <= limit:
        return None
    sender = f"<{envelope.mail_from}>" if envelope else "<>"
    rcpt = f"<{envelope.rcpt}>" if envelope else "(nobody)"
    return Reply(554, "5.4.6", f"Too many hops {count} ({limit} max): from {sender} via "
                               f"{via or 'localhost'}, to {rcpt}")


#: What the Received line on a locally made bounce names (see :func:`local_injection`): the FROM word, the
#: WITH word as read back, whether it names the recipient (FOR) and the host (BY).
LOCAL_HOP: dict[str, object] = {"from_name": "localhost", "with_": None, "for_": False, "by": True}

def local_injection(server: Server, when: datetime, qid: str | None, rcpt: str | None = None) -> str | None:
    """The Received line on a bounce Sendmail writes (it comes "from localhost", with no protocol).

    >>> print(local_injection(Server("mx.example.net", "mx", "198.51.100.25"),
    ...                       datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc), "622905Ab012345"))
    ...                       # doctest: +NORMALIZE_WHITESPACE
    Received: from localhost (localhost)
        by mx.example.net (8.18.1/8.18.1) id 622905Ab012345;
        Mon, 2 Mar 2026 09:00:05 +0000
    """
    local = when.astimezone(tz_of(server))
    version = SOFTWARE.split()[-1]
    return (f"Received: from localhost (localhost){CRLF}\tby {server.name} ({version}/{version}) id {qid};{CRLF}"
            f"\t{rfc5322_date(local, day='2')}")


def organisation_headers(server: Server, session: Session) -> list[str]:
    """Sendmail adds no headers of its own besides Received."""
    return []


def _summary(f: Failure) -> str:
    """Sendmail's own one-line verdict under the transcript (``550 5.1.1 <x>... User unknown``)."""
    if f.reply.status == "5.1.1":
        return f"{f.reply.code} {f.reply.status} <{f.rcpt}>... User unknown"
    return f"{f.reply.code} {f.reply.status or '5.0.0'} Service unavailable"


def bounce(f: Failure) -> bytes:
    """The bounce Sendmail's returntosender()/errbody() write, with the session transcript."""
    host = f.reporter.name
    local = f.local()
    utc = local.astimezone(timezone.utc)
    boundary = f"{f.qid}.{int(f.when.timestamp())}/{host}"
    looping = f.reply.status == "5.4.6" and not f.remote
    subject = f"Returned mail: {f.reply.text}" if looping else BOUNCE_SUBJECT
    headers = [("Date", rfc5322_date(local, day="2")),
               ("From", f"Mail Delivery Subsystem <MAILER-DAEMON@{host}>"),
               ("Message-Id", f"<{utc:%Y%m%d%H%M}.{f.qid}@{host}>"), ("To", f"<{f.envelope.mail_from}>"),
               ("MIME-Version", "1.0"), ("Content-Type", boundary_header("report", boundary)),
               ("Subject", subject), ("Auto-Submitted", "auto-generated (failure)")]
    came_from = f" from {f.received_from}" if f.received_from else ""
    if f.remote:
        verb = f"RCPT To:<{f.rcpt}>" if (f.command or "").startswith("RCPT") else "DATA"
        transcript = (f"... while talking to {f.remote}.:\n>>> {verb}\n<<< {f.reply}\n{_summary(f)}\n")
    else:
        transcript = f"{f.reply}\n"
    text = (f"The original message was received at {rfc5322_date(f.arrived, day='2')}\n"
            f"{came_from.strip()}\n\n"
            "   ----- The following addresses had permanent fatal errors -----\n"
            f"<{f.rcpt}>\n    (reason: {f.reply})\n\n"
            "   ----- Transcript of session follows -----\n" + transcript)
    human = part([], text)
    per_message = [("Reporting-MTA", f"dns; {host}"), ("Arrival-Date", rfc5322_date(f.arrived, day="2"))]
    per_rcpt = [("Final-Recipient", f"RFC822; {f.rcpt}"), ("Action", f.action), ("Status", f.status)]
    if f.remote:
        per_rcpt += [("Remote-MTA", f"DNS; {f.remote}"), ("Diagnostic-Code", f"SMTP; {f.reply}")]
    per_rcpt.append(("Last-Attempt-Date", rfc5322_date(local, day="2")))
    status = status_part([("Content-Type", "message/delivery-status")], per_message, per_rcpt)
    if too_large(f.original):
        returned = part([("Content-Type", "text/rfc822-headers")], original_head(f.original))
    else:
        returned = part([("Content-Type", "message/rfc822")], [returned_message(f.original)])
    return report(headers, [human, status, returned], preamble="This is a MIME-encapsulated message\n")


# -- Received-SPF: Sendmail has no SPF check of its own; sites add a milter (pymilter's spfmilter, on pyspf) ----


def received_spf(verdict: Verdict) -> str:
    """The Received-SPF pymilter's spf-milter adds in front of Sendmail: pyspf's own ``query.get_header``
    (``Pass (RECEIVER: domain of DOMAIN designates IP as permitted sender) client-ip=...;
    envelope-from="..."; helo=...; receiver=...; mechanism=...; identity=mailfrom``), made by pyspf itself.

    >>> from types import SimpleNamespace as V
    >>> received_spf(V(spf="pass", mail_from="alice@example.org", ip="192.0.2.25", helo="smtp.example.org",
    ...                authserv_id="mx.example.net", spf_mechanism="ip4:192.0.2.25"))[:100]
    'Received-SPF: Pass (mx.example.net: domain of example.org designates 192.0.2.25 as permitted sender)'
    """
    return _pyspf_header(verdict.spf, verdict.ip, verdict.mail_from, verdict.helo, verdict.authserv_id,
                         verdict.spf_mechanism)


@functools.lru_cache(maxsize=256)
def _pyspf_header(result: str, ip: str, mail_from: str, helo: str, receiver: str, mechanism: str) -> str:
    query = spf.query(i=ip, s=mail_from or f"postmaster@{helo}", h=helo, receiver=receiver)
    query.ident = "mailfrom" if mail_from else "helo"
    query.mechanism = mechanism or None
    query.mech = []
    return "Received-SPF: " + query.get_header(result)
