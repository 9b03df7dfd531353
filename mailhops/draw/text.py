"""Plain-text views of a journey: the hop table, the header lines each hop added, the outcome.

>>> from mailhops.scenarios import run
>>> print(journey_text(run("three-hops")).splitlines()[0])
Scenario three-hops: delivered (2.0.0)
"""

from __future__ import annotations

from ..journey import Hop, Journey


def _cell(value: object, width: int) -> str:
    text = "-" if value in (None, "") else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def hop_table(hops: list[Hop]) -> str:
    """A fixed-width table: n, from, ip, by, with, id, date (UTC), delay."""
    cols = [("n", 3), ("from", 30), ("ip", 15), ("by", 24), ("with", 10), ("id", 14), ("date (UTC)", 20), ("delay", 6)]
    head = "  ".join(name.ljust(w) for name, w in cols)
    rows = [head, "-" * len(head)]
    for h in hops:
        delay = f"{h.delay_s:+.0f}s" if h.delay_s is not None else ""
        values = [h.n, h.from_name or h.helo, h.ip, h.by_name, h.with_, h.id, h.date_utc, delay]
        rows.append("  ".join(_cell(v, w).ljust(w) for v, (_, w) in zip(values, cols, strict=True)))
    return "\n".join(rows)


def journey_text(journey: Journey, *, smtp: bool = False) -> str:
    """Everything a terminal user wants to see about a journey, hop by hop."""
    out: list[str] = []
    title = f"Scenario {journey.scenario}" if journey.scenario else "Journey"
    if journey.outcome:
        out.append(f"{title}: {journey.outcome.kind} ({journey.outcome.status})")
        out.append(f"  {journey.outcome.detail}")
    else:
        out.append(title)
    out.append("")
    out.append(hop_table(journey.hops))
    for lookup in journey.lookups:
        out.append(f"\nDNS before hop {lookup.before_hop}: {lookup.asked_by} asks {lookup.rdtype} {lookup.qname}")
        for rec in lookup.answers:
            out.append(f"    {rec}")
        out.append(f"    -> {lookup.conclusion}")
    for step in journey.timeline():
        out.append("")
        if step.status == "accepted":
            if step.from_server is None and step.from_name is None and step.ip is None:
                out.append(f"Hop {step.n}: written on {step.by_name} itself ({step.decision or 'local submission'})")
            else:
                out.append(f"Hop {step.n}: {step.from_server or step.from_name or 'unknown'} -> {step.by_name} "
                           f"({step.with_ or 'no protocol named'})")
            for field_text in step.added_headers:
                out.append("  + " + field_text.replace("\r\n", "\n    "))
        else:
            out.append(f"Attempt before hop {step.n}: {step.from_server or step.from_name} -> {step.by_name}: {step.status}")
            out.append(f"  {step.decision}")
        if smtp or step.status != "accepted":
            for line in step.smtp:
                out.append(f"    {line}")
    for note in journey.notes:
        out.append(f"\nNote: {note}")
    for copy in journey.copies:
        out.append(f"Copy: {copy}")
    if journey.bounce is not None:
        out.append("\n" + "=" * 20 + " the bounce (null sender <>) " + "=" * 20)
        out.append(journey_text(journey.bounce, smtp=smtp))
    return "\n".join(out)
