"""qmail: the Received lines, replies and hop limit of qmail 1.03 (netqmail).

Checked against qmail's sources: qmail-smtpd's received() writes ``from RDNS (HELO claim) (IP) by HOST with
SMTP; DATE`` with the date in UTC as ``-0000``, and qmail-queue adds ``(qmail PID invoked from network)``
on top; qmail has no queue id in its Received lines; it counts Received and Delivered-To headers against
``MAXHOPS`` (100) and refuses with ``554 too many hops, this message is looping (#5.4.6)``; qmail-smtpd's
refusals carry the enhanced status code in ``(#x.y.z)`` at the end of the text. qmail-smtpd passes the
HELO name to received() only when it differs from the remote host name (``case_diffs``), so ``(HELO x)`` is
left out when they agree. qmail-send's bounce (:func:`bounce`) is plain text in QSBMF (cr.yp.to/proto/
qsbmf.txt, and flufl.bounce's qmail detector): subject "failure notice", "Hi. This is the qmail-send program at
HOST.", one paragraph per address (``<addr>:``, then qmail-remote's "IP does not like recipient." / "Remote
host said: ..." / "Giving up on IP."), and "--- Below this line is a copy of the message." with the original
under its Return-Path; qmail-queue stamps it ``Received: (qmail PID invoked for bounce)``. qmail-local refuses
a message that already carries its Delivered-To line: "This message is looping: it already has my
Delivered-To line. (#5.4.6)".

>>> from datetime import datetime, timezone
>>> print(invoked_from_network(90138, datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))
Received: (qmail 90138 invoked from network); 2 Mar 2026 09:00:05 -0000
"""

from __future__ import annotations

import random
import zlib
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..topology import Server
from .dsn import Failure, report
from .headers import CRLF, count_fields
from .smtp import Envelope, Reply, Session, parse_reply

if TYPE_CHECKING:  # the verdict of mailhops.mta.trust, which imports this module
    from .trust import Verdict

NAME = "qmail"
SOFTWARE = "qmail 1.03"
HOP_LIMIT = 100
LOOP_REPLY = "554 too many hops, this message is looping (#5.4.6)"
DOCUMENTED = True
WITH_WORD: str | None = "SMTP"
#: qmail-local detects alias/.forward loops by its own Delivered-To line.
DELIVERED_TO_LOOPS = True
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "failure notice"


def _qmail_date(date: datetime) -> str:
    utc = date.astimezone(timezone.utc)
    return f"{utc.day} {utc:%b %Y %H:%M:%S} -0000"


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
    """qmail-smtpd's Received line: ``from RDNS (HELO claim) (IP)``, ``with SMTP``, no id, no FOR.

    The ``(HELO claim)`` part is written only when the claim differs from the remote host name.
    """
    host = rdns or "unknown"
    said = helo or "unknown"
    helo_part = "" if said.lower() == host.lower() else f" (HELO {said})"
    return f"Received: from {host}{helo_part} ({ip}){CRLF}  by {by_name} with SMTP; {_qmail_date(date)}"


def invoked_from_network(pid: int, date: datetime) -> str:
    """The second line qmail-queue prepends for mail that came in over SMTP."""
    return f"Received: (qmail {pid} invoked from network); {_qmail_date(date)}"


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """qmail-queue's ``(qmail PID invoked from network)`` line, above qmail-smtpd's."""
    return [invoked_from_network(rng.randint(1000, 99999), when)]


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from RDNS (HELO claim) (IP)``: the reverse name, or "unknown"."""
    return reverse or "unknown"


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """qmail writes no queue id."""
    return None


def greeting(server: Server, when: datetime) -> Reply:
    return Reply(220, "", f"{server.name} ESMTP")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "", "sorry, no mailbox here by that name. (#5.1.1)")


def relay_denied(rcpt: str) -> Reply:
    return Reply(553, "", "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    """``ok EPOCH qp PID``: qmail-queue's time stamp and pid (a stand-in pid derived from the Message-ID, so the
    same run gives the same reply in every process: Python's ``hash()`` of a string changes between processes)."""
    return Reply(250, "", f"ok {int(when.timestamp())} qp {zlib.crc32(message_id.encode()) % 90000 + 10000}")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """qmail counts Received and Delivered-To headers; at ``MAXHOPS`` it refuses."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received", "delivered-to")) >= limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """qmail refuses looping mail during SMTP (:func:`loop_reply`), never after accepting it."""
    return None


def forwarding_loop(address: str) -> Reply:
    """qmail-local's refusal when the message already carries its Delivered-To line."""
    return Reply(554, "", "This message is looping: it already has my Delivered-To line. (#5.4.6)")


#: What the Received line on a locally made bounce names (see :func:`local_injection`): the FROM word, the
#: WITH word as read back, whether it names the recipient (FOR) and the host (BY).
LOCAL_HOP: dict[str, object] = {"from_name": None, "with_": None, "for_": False, "by": False}

def local_injection(server: Server, when: datetime, qid: str | None, rcpt: str | None = None) -> str | None:
    """qmail-queue's line on a bounce qmail-send injects (qmail writes no queue id; ``qid`` is the pid).

    >>> print(local_injection(Server("mx.example.net", "mx", "198.51.100.25"),
    ...                       datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc), "4711"))
    Received: (qmail 4711 invoked for bounce); 2 Mar 2026 09:00:05 -0000
    """
    pid = qid or str(int(when.timestamp()) % 90000 + 10000)
    return f"Received: (qmail {pid} invoked for bounce); {_qmail_date(when)}"


def organisation_headers(server: Server, session: Session) -> list[str]:
    """qmail adds no headers of its own besides Received."""
    return []


def reason(f: Failure) -> str:
    """qmail-remote's words for the failure (or qmail-local's own text for a local one)."""
    if not f.remote:
        return f.reply.text
    ip = f.remote_ip or f.remote
    if (f.command or "").startswith("RCPT"):
        return f"{ip} does not like recipient.\nRemote host said: {f.reply}\nGiving up on {ip}."
    return f"{ip} failed after I sent the message.\nRemote host said: {f.reply}"


def bounce(f: Failure) -> bytes:
    """qmail-send's plain-text bounce (QSBMF), the original below the line."""
    host = f.reporter.name
    headers = [("Date", _qmail_date(f.when)), ("From", f"MAILER-DAEMON@{host}"), ("To", f.envelope.mail_from),
               ("Subject", BOUNCE_SUBJECT)]
    text = (f"Hi. This is the qmail-send program at {host}.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            f"<{f.rcpt}>:\n{reason(f)}\n\n"
            "--- Below this line is a copy of the message.\n\n"
            f"Return-Path: <{f.envelope.mail_from}>\n")
    body = text.encode("utf-8").replace(b"\n", b"\r\n") + f.original
    head = report(headers, [])
    return head + body


def received_spf(verdict: Verdict) -> str:
    """qmail-smtpd checks no SPF itself; mailhops puts a pyspf-based check in front of it (as a filter such as
    spf-milter or a qmail-spf patch would) and writes pyspf's own header (see :func:`mailhops.mta.sendmail.received_spf`)."""
    from .sendmail import received_spf as pyspf_header

    return pyspf_header(verdict)
