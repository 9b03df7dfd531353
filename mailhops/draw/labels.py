"""The words on a journey drawing: hop numbers, protocols and delays on the edges, the DNS notes,
the outcome, and the title. Every text is escaped here (:func:`~.escape.escape_label`); the
results are HTML-like label fragments.

>>> fmt_delay(0.4), fmt_delay(125), fmt_delay(7500)
('0.4 s', '2 min', '2 h 05 min')
>>> steps_text(["1", "2", "3", "4", "5"])
'1, 2 … 5 (5×)'
"""

from __future__ import annotations

from ..journey import Journey, Lookup
from .canvas import Canvas
from .escape import escape_label, wrap_label
from .route import FAILED, Edge

__all__ = ["clip", "fmt_delay", "hop_label", "lookup_label", "outcome_label", "outcome_text", "steps_text", "title"]


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

    A slide keeps one line per label; a faded edge on a slide frame only its number.
    """
    numbers = [f"{edge.prefix}{h.n}" for h in edge.hops]
    number = escape_label(steps_text(numbers))
    if lit and len(edge.hops) > 1 and step is not None:  # which pass of a repeated hand-off this frame is about
        number = escape_label(f"{step} (one of {steps_text(numbers)})")
    failed = edge.kind in FAILED
    head, lines = _failure_words(cv, edge) if failed else _hand_off_words(edge, number)
    if cv.slide and faded:  # a slide frame: the other hops keep only their number (and what went wrong)
        return head if failed else f"<B>{number}</B>"
    if cv.slide:  # one line per label on slides: the vertical space is what limits the type size
        if not failed and lines:
            head = f"{head} · {lines[0]}"
        lines = lines[:2] if failed else []
    if lit:
        head = f'<FONT POINT-SIZE="{cv.sz["edge"] * 1.25:g}">{head}</FONT>'
    return head + "".join(f"<BR/>{cv.small(line, '')}" for line in lines) if lines else head


def _hand_off_words(edge: Edge, number: str) -> tuple[str, list[str]]:
    """The head (number and protocols) and the detail lines of an accepted hand-off."""
    hops = edge.hops
    protos = sorted({h.with_ for h in hops if h.with_})
    parts = [f"<B>{number}</B>"]
    if protos:
        parts.append(escape_label(" / ".join(protos)))
    # a no-break space: SVG viewers collapse the leading space of the next text run ("1ESMTPSA")
    head = "&#160;".join(parts)
    lines: list[str] = []
    if len(hops) == 1:
        delay = fmt_delay(hops[0].delay_s)
        if delay:
            lines.append(escape_label(delay))
        if edge.note:
            lines.append(escape_label(edge.note))
    if edge.kind == "bounce":
        lines.append(escape_label("MAIL FROM:<>"))
    return head, lines


def _failure_words(cv: Canvas, edge: Edge) -> tuple[str, list[str]]:
    """The head ("2 refused") and the reason lines of a failed attempt."""
    first = edge.hops[0]
    word = {"rejected": "refused", "unreachable": "not reached", "deferred": "deferred"}[edge.kind]
    head = f"<B>{escape_label(f'{edge.prefix}{first.n}')}</B>&#160;{escape_label(word)}"
    lines = clip(wrap_label(first.decision, 34 if not cv.slide else 44), 3) if first.decision else []
    return head, lines


def lookup_label(cv: Canvas, lookups: list[Lookup], faded: bool) -> str:
    """A DNS note: the question, up to four answers, and (not on slides) what the server concluded."""
    th = cv.theme
    first = lookups[0]
    rows = [f"<B>{escape_label(f'DNS {first.rdtype} {first.qname}?')}</B>"]
    rows += [escape_label(a) for a in first.answers[:4]] or [escape_label("(no answer)")]
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
    """The outcome node's label: the headline in bold, the details (wrapped, at most four lines each) below."""
    th = cv.theme
    color = th.faded if faded else th.muted
    return f"<B>{escape_label(headline)}</B>" + "".join(
        f"<BR/>{cv.small(x, color)}" for line in details for x in clip(wrap_label(line, 40), 4))
