"""The words on a journey drawing: hop numbers, protocols and delays on the edges, the DNS notes,
the outcome, and the title. Every text is escaped here (:func:`~.escape.escape_label`); the
results are HTML-like label fragments.

>>> fmt_delay(0.4), fmt_delay(125), fmt_delay(7500)
('0.4 s', '2 min', '2 h 05 min')
>>> steps_text(["1", "2", "3", "4", "5"])
'1, 2 … 5 (5×)'
"""

from __future__ import annotations

import re

from ..journey import Hop, Journey, Lookup
from .canvas import Canvas
from .escape import escape_label, wrap_label
from .route import FAILED, Edge, Route

__all__ = ["short_reason", "step_caption", "clip", "fmt_delay", "hop_label", "lookup_label", "outcome_label", "outcome_text", "steps_text", "title"]


def fmt_delay(seconds: float | None) -> str | None:
    """``0.4 s``, ``12 s``, ``4 min``, ``2 h 05 min``, ``3 d 4 h`` (``None`` stays ``None``)."""
    if seconds is None:
        return None
    s = float(seconds)
    if s < 0:
        return f"−{fmt_delay(-s)}"
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 86400:
        h, m = divmod(int(round(s / 60)), 60)
        return f"{h} h {m:02d} min"
    d, h = divmod(int(round(s / 3600)), 24)
    return f"{d} d {h} h"


def clip(lines: list[str], most: int) -> list[str]:
    """At most ``most`` lines, the last one ending in an ellipsis when some were left out."""
    if len(lines) <= most:
        return lines
    return [*lines[: most - 1], lines[most - 1] + " …"]


def steps_text(numbers: list[str]) -> str:
    """The hop numbers of one edge: all of them, or for a loop the first two, the last and how many."""
    if len(numbers) <= 3:
        return ", ".join(numbers)
    return f"{numbers[0]}, {numbers[1]} … {numbers[-1]} ({len(numbers)}×)"


def hop_label(cv: Canvas, edge: Edge, lit: bool, step: int | str | None = None, faded: bool = False) -> str:
    """The label of ``edge``: its hop numbers and protocols (or what went wrong), then its delay and note.

    The label does not depend on the step a frame is about (``lit``, ``step``, ``faded`` are kept for
    callers), so every frame of a build has the same layout. A slide keeps one line for a hand-off;
    a failed attempt keeps its whole reason ("Connection refused" is the lesson), wrapped.
    """
    number = escape_label(steps_text(edge.numbers or [f"{edge.prefix}{h.n}" for h in edge.hops]))
    failed = edge.kind in FAILED
    head, lines = _failure_words(cv, edge) if failed else _hand_off_words(edge, number, terse=cv.terse)
    if cv.slide and not failed:  # one line per hand-off on slides (the legend says what a dotted bounce is)
        head = f"{head} · {lines[0]}" if lines and edge.kind != "bounce" else head
        lines = [lines[-1]] if edge.kind == "bounce" and edge.to_sender else []
    return head + "".join(f"<BR/>{cv.small(line, '')}" for line in lines) if lines else head


def protocol_word(hop: Hop) -> str | None:
    """The protocol a hop used, as diagrams and tables show it: Exchange writes its product name where the
    protocol goes (``with Microsoft SMTP Server``), so its hops show the transport (SMTP, ESMTPS, ESMTPSA).

    >>> protocol_word(Hop(1, with_="MICROSOFT SMTP SERVER", tls="TLS1_2")), protocol_word(Hop(2, with_="LMTP"))
    ('ESMTPS', 'LMTP')
    """
    if hop.with_ and hop.with_.upper().startswith("MICROSOFT SMTP"):
        return "ESMTP" + ("S" if hop.tls else "") + ("A" if hop.auth else "") if hop.tls or hop.auth else "SMTP"
    return hop.with_


#: What a caption adds after an Exchange hop's protocol word.
EXCHANGE_NOTE = "Exchange writes 'Microsoft SMTP Server' there"


def _hand_off_words(edge: Edge, number: str, terse: bool = False) -> tuple[str, list[str]]:
    """The head (number and protocols) and the detail lines of an accepted hand-off."""
    hops = edge.hops
    protos = sorted({w for w in (protocol_word(h) for h in hops) if w})
    parts = [f"<B>{number}</B>"]
    if protos:
        parts.append(escape_label(" / ".join(protos)))
    # a no-break space: SVG viewers collapse the leading space of the next text run ("1ESMTPSA")
    head = "&#160;".join(parts)
    lines: list[str] = []
    if len(hops) == 1 and not terse:
        delay = fmt_delay(hops[0].delay_s)
        if delay:
            lines.append(escape_label(delay))
        if edge.note:
            lines.append(escape_label(edge.note))
    if edge.kind == "bounce":
        lines.append(escape_label("to the sender's mailbox" if edge.to_sender else "bounce, MAIL FROM:<>"))
    return head, lines


def _failure_words(cv: Canvas, edge: Edge) -> tuple[str, list[str]]:
    """The head ("2 refused") and the reason lines of a failed attempt."""
    first = edge.hops[0]
    word = {"rejected": "refused", "unreachable": "not reached", "deferred": "deferred"}[edge.kind]
    number = edge.numbers[0] if edge.numbers else f"{edge.prefix}{first.n}"
    head = f"<B>{escape_label(number)}</B>&#160;{escape_label(word)}"
    reason = short_reason(first.decision)
    lines = wrap_label(reason, 30 if not cv.slide else 28) if reason else []  # the reason is the lesson: never cut
    return head, lines


def short_reason(decision: str) -> str:
    """The words of a failed attempt that matter, without the address noise: ``connect to
    mx1.example.net[198.51.100.25]:25: Connection refused`` becomes ``Connection refused (mx1.example.net:25)``.

    >>> short_reason("connect to mx1.example.net[198.51.100.25]:25: Connection refused")
    'Connection refused (mx1.example.net:25)'
    """
    m = re.match(r"connect to ([^\[\s]+)\[[^\]]*\]:(\d+): (.+)", decision or "")
    if m:
        return f"{m.group(3)} ({m.group(1)}:{m.group(2)})"
    return decision or ""


def lookup_label(cv: Canvas, lookups: list[Lookup], faded: bool, one_line: bool = False) -> str:
    """A DNS note: the question, up to four answers, and (not on slides) what the server concluded.
    ``one_line``: the question in bold, then its answers on the same line (a slide's one DNS note)."""
    th = cv.theme
    first = lookups[0]
    question = f"<B>{escape_label(f'DNS {first.rdtype} {first.qname}?')}</B>"
    answers = first.answers[:4]
    if cv.slide:  # the owner name repeats the question: "example.net. MX 10 mx.example.net." -> "MX 10 mx.example.net"
        owner = first.qname.lower().rstrip(".") + "."
        answers = [a[len(owner):].strip().rstrip(".") if a.lower().startswith(owner) else a for a in answers]
    if one_line:
        return question + "&#160;" + escape_label(", ".join(answers) or "(no answer)")
    rows = [question]
    rows += [escape_label(a) for a in answers] or [escape_label("(no answer)")]
    if len(first.answers) > 4:
        rows.append(escape_label(f"… {len(first.answers) - 4} more"))
    if first.conclusion and not cv.slide:
        rows += [cv.small(x, th.faded if faded else th.muted) for x in clip(wrap_label(first.conclusion, 40), 3)]
    return "<BR/>".join(rows)


def title(journey: Journey) -> str:
    """The caption: the scenario, the envelope and the outcome (or that the route was read from headers)."""
    parts = []
    if journey.scenario:
        parts.append(journey.scenario)
    if journey.envelope_from is not None or journey.envelope_to:
        parts.append(f"<{journey.envelope_from or ''}> → <{journey.envelope_to or '?'}>")
    if journey.outcome is not None:
        parts.append(f"{journey.outcome.kind} ({journey.outcome.status})" if journey.outcome.status
                     else journey.outcome.kind)
    if not parts or journey.source != "simulated" and not journey.scenario:
        parts.insert(0, "route read from the Received headers" if journey.source != "simulated" else "mail journey")
    return escape_label(" · ".join(parts))


def outcome_text(journey: Journey) -> tuple[str, list[str], str]:
    """The headline and detail lines of the outcome node, and its tone (good / bad / wait)."""
    o = journey.outcome
    assert o is not None
    tone = {"delivered": "good", "junk": "wait", "deferred": "wait"}.get(o.kind, "bad")
    headline = {
        "delivered": "delivered",
        "junk": "delivered to Junk",
        "rejected": "rejected",
        "bounced": "bounced",
        "dropped": "dropped silently",
        "looped": "stopped: mail loop",
        "deferred": "deferred: waits in a queue",
    }.get(o.kind, o.kind)
    lines = []
    if o.folder or o.mailbox:
        lines.append(" ".join(x for x in (o.folder, f"of {o.mailbox}" if o.mailbox else None) if x))
    if o.kind not in ("delivered", "junk") and (o.reply or o.detail):
        lines.append(o.reply or o.detail)
    return headline, lines, tone


def outcome_label(cv: Canvas, headline: str, details: list[str], faded: bool) -> str:
    """The outcome node's label: the headline in bold, the details (wrapped, whole: the reason is the lesson) below."""
    th = cv.theme
    color = th.faded if faded else th.muted
    return f"<B>{escape_label(headline)}</B>" + "".join(
        f"<BR/>{cv.small(x, color)}" for line in details for x in wrap_label(line, 40))


def step_caption(route: Route, step: int | str) -> str:
    """What happens at ``step``, in one sentence (plain text): the title of a frame and of a deck's slide.

    >>> from mailhops.journey import Hop, Journey
    >>> from mailhops.draw.themes import get_theme
    >>> j = Journey(hops=[Hop(1, from_name="a.example", by_name="b.example", with_="ESMTPS")], source="analyzed")
    >>> step_caption(Route.of(j, Canvas(get_theme("light"), slide=False, name="demo")), 1)
    'Step 1: a.example hands the message to b.example (ESMTPS)'
    """
    names = {n.id: n.name or "an unknown host" for n in route.order}
    parts: list[str] = []
    number = str(step)
    for edge in route.edges:
        for hop, s, num in zip(edge.hops, edge.steps, edge.numbers, strict=True):
            if s != step:
                continue
            number = num if len(parts) == 0 else number
            src, dst = names[edge.src], names[edge.dst]
            what = "the bounce" if edge.prefix else "the message"
            if edge.kind in FAILED:
                verb = {"rejected": "is refused by", "unreachable": "cannot reach", "deferred": "is told to wait by"}
                reason = short_reason(hop.decision)
                parts.append(f"{num}: {src} {verb[edge.kind]} {dst}" + (f": {reason}" if reason else ""))
            elif edge.src == edge.dst and edge.prefix:
                parts.append(f"{num}: {dst} writes a bounce, sent with the null sender MAIL FROM:<>")
            elif edge.src == edge.dst:
                parts.append(f"{num}: {what} is written on {dst}")
            else:
                word = protocol_word(hop)
                note = f"; {EXCHANGE_NOTE}" if word != hop.with_ else ""
                parts.append(f"{num}: {src} hands {what} to {dst}" + (f" ({word}{note})" if word else ""))
                if edge.kind == "loop":  # a build shows a loop's first pass; its label counts the others
                    parts[-1] += f", and again and again: hops {steps_text(edge.numbers)}"
    if not parts:
        return f"Step {number}"
    return "Step " + "; then ".join(parts)
