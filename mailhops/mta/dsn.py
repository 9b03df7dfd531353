"""Bounces: the RFC 3464 machinery every MTA's bounce is built from, and :func:`make_dsn`, which asks the
reporting MTA's module to write its own.

What went wrong is one :class:`Failure` (who reports, the envelope, the original message, the reply, when
the original arrived and when the bounce is written, which server refused it and after which command).
Each MTA module turns it into its bounce with a ``bounce(failure)`` function, in its own words and shape:
Postfix's three-part report, Exim's "This message was created automatically by mail delivery software.",
Sendmail's "Mail Delivery Subsystem", qmail's plain-text QSBMF, Exchange's NDR, Gmail's "Address not found".
The parts here are built with the stdlib :mod:`email` package (``compat32`` policy without refolding, so
every header keeps the folding the MTA gives it) and follow RFC 3464 (``message/delivery-status``) and
RFC 6522 (``multipart/report``); :func:`wrap` is Postfix's ``line_wrap`` (79 columns, 4 spaces).

>>> from datetime import datetime, timezone
>>> from mailhops.topology import Server
>>> dsn = make_dsn(Server("mx.example.net", "mx", "198.51.100.25", mta="exim"),
...                Envelope("alice@example.org", "nobody@example.net"), b"Subject: Hi\\r\\n\\r\\nhello\\r\\n",
...                Reply(550, "5.1.1", "<nobody@example.net>: Unrouteable address"),
...                datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc))
>>> [line for line in dsn.split(b"\\r\\n") if line.startswith((b"Subject:", b"Action:", b"Status:", b"X-Failed"))]
[b'X-Failed-Recipients: nobody@example.net', b'Subject: Mail delivery failed: returning message to sender', b'Action: failed', b'Status: 5.0.0', b'Subject: Hi']
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message

from ..topology import Server
from .headers import tz_of
from .smtp import Envelope, Reply

#: Headers are written exactly as given (each MTA folds its own); lines end in CRLF.
POLICY = email.policy.compat32.clone(linesep="\r\n", max_line_length=0)

#: Postfix's ``bounce_size_limit`` default: a larger original goes back as its headers only.
BOUNCE_SIZE_LIMIT = 50000


@dataclass
class Failure:
    """Everything an MTA needs to write a bounce: who reports what went wrong with which message.

    ``when`` is when the bounce is written, ``arrival`` when the reporter received the original (RFC 3464
    §2.2.5's Arrival-Date), ``remote``/``remote_ip`` the server that refused it and ``command`` after which
    SMTP command (``"RCPT TO"``, ``"end of DATA"``); ``qid`` is the bounce's own queue id at the reporter and
    ``original_qid`` the original's. ``final`` says whether the server has given up (default: a 5xx reply).
    """

    reporter: Server
    envelope: Envelope
    original: bytes
    reply: Reply
    when: datetime
    arrival: datetime | None = None
    remote: str | None = None
    remote_ip: str | None = None
    command: str | None = None
    final: bool | None = None
    qid: str | None = None
    original_qid: str | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    #: the client the reporter received the original from, as ``NAME [IP]`` (Sendmail names it)
    received_from: str | None = None

    @property
    def given_up(self) -> bool:
        return self.reply.permanent if self.final is None else self.final

    @property
    def action(self) -> str:
        return "failed" if self.given_up else "delayed"

    @property
    def status(self) -> str:
        return self.reply.status or ("5.0.0" if self.reply.permanent else "4.0.0")

    @property
    def rcpt(self) -> str:
        return self.envelope.rcpt

    def local(self, moment: datetime | None = None) -> datetime:
        """``moment`` (default: the bounce's time) on the reporter's clock, to the second."""
        return (moment or self.when).astimezone(tz_of(self.reporter)).replace(microsecond=0)

    @property
    def arrived(self) -> datetime:
        """When the original arrived at the reporter (the bounce's own time when unknown)."""
        return self.local(self.arrival or self.when)

    def header(self, name: str) -> str | None:
        """A header of the original message (unfolded), or ``None``."""
        value = _original_headers(self.original).get(name)
        return None if value is None else re.sub(r"\r?\n[ \t]+", " ", value)

    @property
    def smtp_reply(self) -> str:
        """The reply as the remote server sent it (or the MTA's own reason for a local failure)."""
        return str(self.reply)


def _original_headers(original: bytes) -> Message:
    head = original.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    return email.message_from_bytes(head, policy=POLICY)


# -- building blocks -----------------------------------------------------------------------------


def wrap(text: str, *, width: int = 79, indent: int = 4) -> str:
    """Postfix's ``line_wrap``: break at spaces before ``width``, continuation lines indented.

    >>> print(wrap("<nobody@example.net>: host mx.example.net[198.51.100.25] said: 550 5.1.1 "
    ...            "<nobody@example.net>: Recipient address rejected (in reply to RCPT TO command)"))
    <nobody@example.net>: host mx.example.net[198.51.100.25] said: 550 5.1.1
        <nobody@example.net>: Recipient address rejected (in reply to RCPT TO
        command)
    """
    lines: list[str] = []
    line = ""
    limit = width
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) > limit and line:
            lines.append(line)
            line = word
            limit = width - indent
        else:
            line = candidate
    lines.append(line)
    return ("\n" + " " * indent).join(lines)


def part(headers: list[tuple[str, str]], payload: str | list[Message] | None = None) -> Message:
    """A MIME part with exactly these headers, in this order, and a text (or sub-message) payload."""
    msg = Message(policy=POLICY)
    for name, value in headers:
        msg[name] = value
    if payload is not None:
        msg.set_payload(payload)
    return msg


def fields(pairs: list[tuple[str, str]]) -> Message:
    """One block of ``message/delivery-status`` fields (RFC 3464 §2.1), values written as given."""
    return part(pairs)


def status_part(headers: list[tuple[str, str]], per_message: list[tuple[str, str]],
                per_recipient: list[tuple[str, str]]) -> Message:
    """The machine-readable ``message/delivery-status`` part: per-message fields, then one recipient's."""
    return part(headers, [fields(per_message), fields(per_recipient)])


def returned_message(original: bytes) -> Message:
    """The original message as a sub-message (for a ``message/rfc822`` part), its headers untouched."""
    return email.message_from_bytes(original, policy=POLICY)


def original_head(original: bytes) -> str:
    """The original's header block (for ``text/rfc822-headers``), with a final line break."""
    return original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").replace("\r\n", "\n") + "\n"


def too_large(original: bytes) -> bool:
    """Is the original larger than ``bounce_size_limit``, so that only its headers go back?"""
    return len(original) > BOUNCE_SIZE_LIMIT


def report(headers: list[tuple[str, str]], parts: list[Message], *, preamble: str | None = None) -> bytes:
    """Assemble the bounce: these top-level headers (in order) over these parts; CRLF line ends.

    The boundary is the one named in the ``Content-Type`` header given; a multipart without parts is a
    plain-text bounce whose body is ``preamble``.
    """
    msg = part(headers)
    if parts:
        msg.set_payload(parts)
        msg.preamble = preamble
    else:
        msg.set_payload(preamble or "")
    raw = msg.as_bytes(policy=POLICY)
    return re.sub(rb"\r?\n", b"\r\n", raw)


def boundary_header(kind: str, boundary: str, *, report_type: str | None = "delivery-status",
                    fold: str = ";\n\t") -> str:
    """A multipart Content-Type value with its boundary, folded where the MTA folds it."""
    head = f"multipart/{kind}" + (f"; report-type={report_type}" if report_type else "")
    return f'{head}{fold}boundary="{boundary}"'


def mail_date(moment: datetime, *, day: str = "02", zone_comment: bool = False) -> str:
    """An RFC 5322 date in the style an MTA writes it (see :func:`mailhops.mta.headers.rfc5322_date`)."""
    from .headers import rfc5322_date

    return rfc5322_date(moment, day=day, zone_comment=zone_comment)


# -- the entry point ------------------------------------------------------------------------------


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
    arrival: datetime | None = None,
    remote_ip: str | None = None,
    command: str | None = None,
    qid: str | None = None,
    original_qid: str | None = None,
    received_from: str | None = None,
) -> bytes:
    """The bounce ``reporter`` writes to the envelope sender, in its MTA's own words and shape.

    ``final`` says whether the server has given up (``Action: failed``); by default that follows the reply
    (5xx: failed, 4xx: a delay warning, ``Action: delayed``). A message given up after its retries ran out
    is ``failed`` with its last 4.x.x status (RFC 3464 §2.3.3), as Postfix reports a message that outlived
    ``maximal_queue_lifetime``. ``arrival`` is when the reporter received the original (default: ``when``).
    """
    from . import FLAVOURS  # the registry imports the MTA modules, which use this module

    failure = Failure(reporter, envelope, original, reply, when, arrival=arrival, remote=remote,
                      remote_ip=remote_ip, command=command, final=final, qid=qid, original_qid=original_qid,
                      rng=rng or random.Random(0), received_from=received_from)
    module = FLAVOURS[reporter.mta] if hasattr(FLAVOURS[reporter.mta], "bounce") else FLAVOURS["postfix"]
    if failure.qid is None:
        failure.qid = module.queue_id(reporter, failure.rng, when) if hasattr(module, "queue_id") else None
    return module.bounce(failure)


__all__ = [
    "BOUNCE_SIZE_LIMIT", "POLICY", "Envelope", "Failure", "Reply", "boundary_header", "fields", "mail_date",
    "make_dsn", "original_head", "part", "report", "returned_message", "status_part", "too_large", "wrap",
]
