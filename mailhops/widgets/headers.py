"""Which header fields a message carries at each step of its journey, and one sentence about that step.

Plain functions, no widgets: the hop stepper (:mod:`mailhops.widgets.stepper`) shows what they return,
and the tests call them directly.

>>> from mailhops import scenarios
>>> journey = scenarios.run("three-hops")
>>> [line.hop for line in headers_at(journey, 2) if line.kind == "trace"]  # the MX adds SPF, DKIM, DMARC results
[2, 2, 2, 2, 2, 1, 1]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..journey import Hop, Journey

__all__ = ["HeaderLine", "header_fields", "headers_at", "step_caption", "step_hops"]


def header_fields(raw: bytes | str | None) -> list[str]:
    """The header fields of a raw message, top to bottom, each with its folded lines joined by ``\\n``.

    >>> header_fields(b"Received: from a\\r\\n\\tby b; x\\r\\nSubject: hi\\r\\n\\r\\nbody")
    ['Received: from a\\n\\tby b; x', 'Subject: hi']
    """
    if raw is None:
        return []
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = text.replace("\r\n", "\n")
    head = text.split("\n\n", 1)[0]
    fields: list[str] = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] += "\n" + line
        elif line:
            fields.append(line)
    return fields


def _norm(field_text: str) -> str:
    return " ".join(field_text.split())


@dataclass(frozen=True)
class HeaderLine:
    """One header field in the header view: ``hop`` that added it (``None`` for the sender's own fields),
    ``kind`` ``"trace"`` (added by a server) or ``"original"`` (written by the mail program), ``new``
    when the hop being shown added it."""

    hop: int | str | None
    text: str
    kind: str
    new: bool = False


def _fields_by_hop(journey: Journey) -> tuple[dict[int, list[str]], list[str]]:
    """(the fields each hop added, top to bottom; the fields the sender's mail program wrote).

    A simulated hop knows the fields it added. For a message read from real headers, each Received
    field belongs to its hop (the bottom one is hop 1), and any field between two Received fields to the
    hop of the Received just below it (servers prepend their other fields above their Received).
    """
    fields = header_fields(journey.message)
    if journey.hops and all(h.added_headers for h in journey.hops):
        added = {h.n: [f.replace("\r\n", "\n") for f in h.added_headers] for h in journey.hops}
        count = sum(len(v) for v in added.values())
        flat = sorted(_norm(f) for v in added.values() for f in v)
        if count <= len(fields) and sorted(_norm(f) for f in fields[:count]) == flat:
            return added, fields[count:]
        stamped = set(flat)
        return added, [f for f in fields if _norm(f) not in stamped]
    received = [i for i, f in enumerate(fields) if f.lower().startswith("received:")]
    if not received:
        return {}, fields
    by_hop: dict[int, list[str]] = {}
    total = len(received)
    group: list[str] = []
    for i, f in enumerate(fields[: received[-1] + 1]):
        group.append(f)
        if i in received:
            n = total - received.index(i)
            by_hop[n] = group
            group = []
    return by_hop, fields[received[-1] + 1:]


def _split_step(step: int | str | None) -> tuple[bool, int]:
    if step is None:
        return False, 0
    if isinstance(step, str) and step[:1] in ("B", "b"):
        return True, int(step[1:])
    return False, int(step)


def headers_at(journey: Journey, step: int | str | None) -> list[HeaderLine]:
    """The header fields a message carries after ``step`` (hop ``k``, or ``"Bk"`` for the bounce's hop k).

    Newest on top, as in a real message: the fields of hop ``step`` first (``new=True``), then those of
    the hops before it, then the fields the sender's mail program wrote. ``step=None`` or ``0`` gives the
    message before any server touched it. For a bounce step the message is the bounce (DSN) itself.

    >>> from mailhops import scenarios
    >>> lines = headers_at(scenarios.run("three-hops"), 1)
    >>> [(line.hop, line.new) for line in lines if line.kind == "trace"]  # DKIM-Signature and Received
    [(1, True), (1, True)]
    >>> lines[-1].kind, lines[-1].text.split(":")[0]
    ('original', 'MIME-Version')
    """
    bounce, k = _split_step(step)
    source = journey.bounce if bounce and journey.bounce is not None else journey
    label: Callable[[int], int | str] = (lambda n: f"B{n}") if bounce else (lambda n: n)
    by_hop, original = _fields_by_hop(source)
    out: list[HeaderLine] = []
    for n in sorted((n for n in by_hop if n <= k), reverse=True):
        out += [HeaderLine(label(n), f, "trace", n == k) for f in by_hop[n]]
    out += [HeaderLine(None, f, "original") for f in original]
    return out


def step_hops(journey: Journey, step: int | str | None) -> tuple[Journey, list[Hop]]:
    """The journey (main or bounce) a step belongs to and its transfers at that step, failed ones first."""
    bounce, k = _split_step(step)
    source = journey.bounce if bounce and journey.bounce is not None else journey
    return source, [h for h in source.timeline() if h.n == k]


def step_caption(journey: Journey, step: int | str | None) -> str:
    """One plain sentence about what happens at ``step``.

    >>> from mailhops import scenarios
    >>> step_caption(scenarios.run("three-hops"), 1)
    'Hop 1: laptop.example.org hands the message to smtp.example.org with ESMTPSA; it accepts it (queue id 0A13192E2E6).'
    """
    if step in (None, 0):
        who = journey.envelope_from or "the sender"
        return (f"Before the first hop: the message as {who}'s mail program wrote it. "
                "Press Step to send it one hop further.")
    source, hops = step_hops(journey, step)
    bounce = source is not journey
    parts = []
    for hop in hops:
        sender = hop.from_server or hop.from_name or "?"
        if hop.status == "accepted":
            qid = f" (queue id {hop.id})" if hop.id else ""
            parts.append(f"{sender} hands the message to {hop.by_name} with {hop.with_}; it accepts it{qid}.")
            if hop.decision and hop.decision != "accepted":
                parts.append(f"Then: {hop.decision}.")
        elif hop.status == "unreachable":
            parts.append(f"{sender} cannot reach {hop.by_name}: the server is down (no Received header).")
        else:
            reply = hop.decision.split(": ", 1)[-1] if hop.decision else hop.status
            parts.append(f"{sender} offers it to {hop.by_name}, which refuses: {reply}.")
    head = f"Bounce hop {str(step)[1:]}" if bounce else f"Hop {step}"
    text = f"{head}: " + " ".join(parts)
    if bounce and str(step) == "B1":
        text += " The bounce is a new message, sent with the null sender MAIL FROM:<>."
    return text
