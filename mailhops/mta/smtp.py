"""The words of an SMTP dialogue every MTA shares: replies, the envelope and what a server knows of a session.

>>> str(Reply(550, "5.1.1", "<nobody@example.net>: Recipient address rejected"))
'550 5.1.1 <nobody@example.net>: Recipient address rejected'
>>> parse_reply("554 5.4.0 Error: too many hops")
Reply(code=554, status='5.4.0', text='Error: too many hops')
>>> Session(client_ip="192.0.2.25", helo="smtp.example.org", tls=True, auth_user="alice").protocol
'ESMTPSA'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..topology import Server
from .headers import protocol_word


@dataclass
class Reply:
    """An SMTP reply: code, enhanced status code (RFC 3463; may be empty) and text."""

    code: int
    status: str
    text: str

    def __str__(self) -> str:
        text = str(self.code)  # never empty; the status and text only when there are some
        if self.status:
            text += " " + self.status
        return text + " " + self.text if self.text else text

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
        return protocol_word(tls=self.tls, auth=self.auth_user is not None, lmtp=self.lmtp, http=self.http)


_REPLY_RE = re.compile(r"(\d{3}) (?:(\d\.\d{1,3}\.\d{1,3}) )?(.*)")


def parse_reply(text: str) -> Reply:
    """A reply written as one line (``"554 5.4.0 Error: too many hops"``) as a :class:`Reply`."""
    m = _REPLY_RE.match(text)
    assert m is not None
    return Reply(int(m.group(1)), m.group(2) or "", m.group(3))


_QMAIL_STATUS_RE = re.compile(r"\(#(\d\.\d{1,3}\.\d{1,3})\)\s*$")


def status_of(reply: Reply) -> str:
    """The enhanced status code a reply carries: its own, else the ``(#x.y.z)`` qmail writes at the end of its
    text, else the class default (``5.0.0`` or ``4.0.0``).

    >>> status_of(Reply(554, "", "This message is looping: it already has my Delivered-To line. (#5.4.6)"))
    '5.4.6'
    >>> status_of(Reply(550, "", 'Too many "Received" headers - suspected mail loop'))
    '5.0.0'
    """
    if reply.status:
        return reply.status
    m = _QMAIL_STATUS_RE.search(reply.text)
    return m.group(1) if m else ("5.0.0" if reply.permanent else "4.0.0")


def is_loop(reply: Reply) -> bool:
    """Does this refusal say the message is looping (too many hops)?

    >>> is_loop(Reply(554, "5.4.6", "Too many hops")), is_loop(Reply(550, "5.1.1", "User unknown"))
    (True, False)
    """
    text = reply.text.lower()
    return reply.status.startswith("5.4") or "hops" in text or "loop" in text
