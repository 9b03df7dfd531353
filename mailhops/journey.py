"""The one record every part of mailhops shares: the *journey* of a message.

A :class:`Journey` is an ordered list of :class:`Hop` (one per hand-off that a server accepted and
stamped with a ``Received`` header, oldest first), the transfers that failed on the way
(``attempts``: refused at RCPT or DATA, server down), the DNS look-ups that chose each next hop,
and an :class:`Outcome`. The simulator, the real-SMTP mode and the header analyzer all produce it;
the renderer and the widgets consume it.

>>> from datetime import datetime, timezone
>>> hop = Hop(n=1, from_name="laptop.example.org", ip="192.0.2.7", by_name="smtp.example.org",
...           with_="ESMTPSA", id="4ABC123", for_="bob@example.net",
...           date=datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc))
>>> j = Journey(hops=[hop], outcome=Outcome("delivered", "2.0.0", "Delivered to bob@example.net INBOX"))
>>> j.to_dict()["hops"][0]["date_utc"]
'2026-03-02T09:00:05Z'
>>> j.outcome.kind
'delivered'
"""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any

#: Every way a journey can end. Exactly one applies to each message.
OUTCOME_KINDS: dict[str, str] = {
    "delivered": "delivered to the recipient's inbox",
    "junk": "delivered to the recipient's Junk folder",
    "rejected": "refused during the SMTP dialogue; the sender's own server wrote the bounce",
    "bounced": "accepted, then bounced by the server that could not deliver it (backscatter risk)",
    "dropped": "accepted and silently discarded",
    "looped": "stopped by a server's hop limit (too many hops); the previous server bounced it",
    "deferred": "not delivered yet: every server tried answered 4xx or was down; the message waits in a queue",
}


def format_utc(moment: datetime | None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` for an aware datetime (``None`` stays ``None``).

    >>> from datetime import datetime, timedelta, timezone
    >>> format_utc(datetime(2026, 3, 2, 10, 0, 5, tzinfo=timezone(timedelta(hours=1))))
    '2026-03-02T09:00:05Z'
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SmtpLine:
    """One line of an SMTP/LMTP dialogue: ``side`` is ``"C"`` (client) or ``"S"`` (server)."""

    side: str
    text: str

    def __str__(self) -> str:
        return f"{self.side}: {self.text}"


@dataclass
class Hop:
    """One hand-off of the message from a client to a server.

    Field names follow RFC 5321 §4.4's Received clauses and mean the same thing whether the hop was
    simulated, run on real servers, or parsed from a real message's headers:

    - ``from_name``: the name the sending side is known by (its HELO/EHLO name, else its reverse DNS name)
    - ``helo`` / ``rdns``: the name it claimed and the name its IP address resolves to, where known
    - ``ip``: the address the receiving server saw on the TCP connection
    - ``by_name``: the receiving server; ``with_``: the protocol word (ESMTPSA, LMTP, HTTP, ...)
    - ``id``: the receiving server's queue id; ``for_``: the one recipient named in the header
    - ``date``: when the receiving server took the message (an aware datetime)
    - ``status``: ``"accepted"`` for a hop that stamped a Received header, else ``"rejected"``,
      ``"unreachable"`` or ``"deferred"`` for a failed transfer (kept in ``Journey.attempts``)
    """

    n: int
    from_name: str | None = None
    ip: str | None = None
    by_name: str | None = None
    with_: str | None = None
    id: str | None = None
    for_: str | None = None
    date: datetime | None = None
    helo: str | None = None
    rdns: str | None = None
    by_ip: str | None = None
    tls: str | None = None
    auth: str | None = None
    via: str | None = None
    mta: str | None = None
    envelope_from: str | None = None
    added_headers: list[str] = field(default_factory=list)
    smtp: list[SmtpLine] = field(default_factory=list)
    status: str = "accepted"
    decision: str = ""
    delay_s: float | None = None
    raw: str | None = None
    problems: list[str] = field(default_factory=list)
    #: topology names of the two servers (``None`` when analyzing a real message)
    from_server: str | None = None
    by_server: str | None = None

    @property
    def date_utc(self) -> str | None:
        return format_utc(self.date)

    @property
    def protocol(self) -> str:
        """The protocol family of the hop: ``"HTTP"``, ``"LMTP"`` or ``"SMTP"``."""
        word = (self.with_ or "").upper()
        if word.startswith("HTTP"):
            return "HTTP"
        if word.startswith("LMTP"):
            return "LMTP"
        return "SMTP"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the keys shared by ``mailhops send`` and ``mailhops analyze``."""
        return {
            "n": self.n,
            "from_name": self.from_name,
            "helo": self.helo,
            "rdns": self.rdns,
            "ip": self.ip,
            "by_name": self.by_name,
            "by_ip": self.by_ip,
            "with": self.with_,
            "tls": self.tls,
            "auth": self.auth,
            "id": self.id,
            "for": self.for_,
            "via": self.via,
            "date_utc": self.date_utc,
            "delay_s": self.delay_s,
            "mta": self.mta,
            "envelope_from": self.envelope_from,
            "status": self.status,
            "decision": self.decision,
            "from_server": self.from_server,
            "by_server": self.by_server,
            "added_headers": list(self.added_headers),
            "smtp": [str(line) for line in self.smtp],
            "raw": self.raw,
            "problems": list(self.problems),
        }


@dataclass
class Outcome:
    """How the journey ended: ``kind`` is one of :data:`OUTCOME_KINDS`, ``status`` an enhanced status code."""

    kind: str
    status: str
    detail: str
    reply: str | None = None
    mailbox: str | None = None
    folder: str | None = None
    server: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in OUTCOME_KINDS:
            raise ValueError(f"Unknown outcome kind {self.kind!r}; expected one of {', '.join(OUTCOME_KINDS)}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "detail": self.detail,
            "reply": self.reply,
            "mailbox": self.mailbox,
            "folder": self.folder,
            "server": self.server,
        }


@dataclass
class Lookup:
    """One DNS question a server asked to choose its next hop, and what it concluded."""

    asked_by: str
    qname: str
    rdtype: str
    answers: list[str]
    conclusion: str
    before_hop: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "asked_by": self.asked_by,
            "qname": self.qname,
            "rdtype": self.rdtype,
            "answers": list(self.answers),
            "conclusion": self.conclusion,
            "before_hop": self.before_hop,
        }


@dataclass
class Journey:
    """The journey of one message: hops (oldest first), failed attempts, look-ups and the outcome."""

    hops: list[Hop] = field(default_factory=list)
    outcome: Outcome | None = None
    attempts: list[Hop] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    scenario: str | None = None
    source: str = "simulated"
    envelope_from: str | None = None
    envelope_to: str | None = None
    message: bytes | None = None
    bounce: Journey | None = None
    notes: list[str] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)
    auth: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    #: the :class:`~mailhops.topology.Topology` the message crossed (simulated and live journeys; ``None``
    #: for an analyzed message). Drawings use it for roles and labels; it is not part of the JSON.
    topology: Any = field(default=None, repr=False, compare=False)

    def timeline(self) -> list[Hop]:
        """Hops and failed attempts together, in the order they happened."""

        def key(h: Hop) -> tuple[int, int]:
            return (h.n, 0 if h.status != "accepted" else 1)

        return sorted([*self.hops, *self.attempts], key=key)

    def describe(self) -> str:
        """The route in words: the text alternative of every drawing of this journey (the SVG ``<desc>``).

        >>> j = Journey(hops=[Hop(1, from_name="a.example", by_name="b.example", with_="ESMTPS")],
        ...             outcome=Outcome("delivered", "2.0.0", "ok"), scenario="demo")
        >>> j.describe()
        'demo: delivered (2.0.0). Hop 1: a.example → b.example, ESMTPS.'
        """
        head = self.scenario or ("A message read from its Received headers" if self.source != "simulated"
                                 else "A message")
        if self.outcome is not None:
            head += f": {self.outcome.kind}" + (f" ({self.outcome.status})" if self.outcome.status else "")
        if self.envelope_from is not None or self.envelope_to:
            head += f", from <{self.envelope_from or ''}> to <{self.envelope_to or '?'}>"
        parts = [head + "."]
        timeline = self.timeline()
        counts: dict[int, int] = {}
        for hop in timeline:
            counts[hop.n] = counts.get(hop.n, 0) + 1
        seen: dict[int, int] = {}
        for hop in timeline:
            seen[hop.n] = seen.get(hop.n, 0) + 1
            number = f"{hop.n}{'abcdefghijklmnopqrstuvwxyz'[seen[hop.n] - 1]}" if counts[hop.n] > 1 else str(hop.n)
            src = hop.from_server or hop.from_name or hop.helo or (f"[{hop.ip}]" if hop.ip else None)
            dst = hop.by_server or hop.by_name or "an unknown host"
            if hop.status != "accepted":
                parts.append(f"Attempt {number}: {src} → {dst} {hop.status}" + (f" ({hop.decision})" if hop.decision
                                                                                 else "") + ".")
            elif src is None:
                parts.append(f"Hop {number}: written on {dst}.")
            else:
                parts.append(f"Hop {number}: {src} → {dst}" + (f", {hop.with_}" if hop.with_ else "") + ".")
        if self.bounce is not None:
            parts.append("Then the bounce, sent with the null sender <>: " + self.bounce.describe().split(". ", 1)[-1])
        return " ".join(parts)

    def final_message(self) -> EmailMessage | None:
        """The message as it finally sits (in a mailbox, or at the last server), parsed by :mod:`email`."""
        if self.message is None:
            return None
        return email.message_from_bytes(self.message, policy=email.policy.default)  # type: ignore[return-value]

    def received_headers(self) -> list[str]:
        """The Received header values of the final message, newest (top) first, unfolded."""
        msg = self.final_message()
        if msg is None:
            return []
        return [" ".join(str(v).split()) for v in msg.get_all("Received", [])]

    def to_dict(self) -> dict[str, Any]:
        """The journey as JSON-ready data (see ``mailhops send --format json``)."""
        return {
            "scenario": self.scenario,
            "source": self.source,
            "envelope_from": self.envelope_from,
            "envelope_to": self.envelope_to,
            "outcome": self.outcome.to_dict() if self.outcome else None,
            "hops": [h.to_dict() for h in self.hops],
            "attempts": [h.to_dict() for h in self.attempts],
            "lookups": [lk.to_dict() for lk in self.lookups],
            "copies": list(self.copies),
            "notes": list(self.notes),
            "auth": self.auth,
            "summary": self.summary,
            "bounce": self.bounce.to_dict() if self.bounce else None,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter shows a journey as its diagram (see :func:`mailhops.draw.repr_mimebundle`).

        The one import from the records up into the drawing package, made lazily at display time (allowed
        by name in the import-linter contract in ``pyproject.toml``).
        """
        from .draw.export import repr_mimebundle

        return repr_mimebundle(self, include, exclude)
