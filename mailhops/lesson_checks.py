"""Checks for the lessons' exercises: each takes the student's answer and says, in a sentence, whether it is
right and, if not, what was wrong. The expected answers are computed from the simulator, not written down,
so a lesson and its check cannot disagree.

A check never raises: an unanswered exercise (``...`` or ``None``) gets a gentle reminder, so the
notebooks run top to bottom as they are.

>>> check_servers_in_three_hops(3).ok
True
>>> print(check_servers_in_three_hops(2))
✗ Not quite: 2 is too few. Count the Received lines in Bob's copy: every server that accepted the message wrote one.
>>> print(check_servers_in_three_hops(...))
… Not answered yet: replace the ... with your answer and run the cell again.
"""

from __future__ import annotations

import email
import email.policy
import functools
import html
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from . import scenarios as sc
from .journey import Journey
from .mta import MTAS
from .mta.headers import count_hops
from .topology import Topology

__all__ = [
    "Feedback",
    "check_bounce_sender",
    "check_bounce_writer",
    "check_backscatter_action",
    "check_builder_fallback",
    "check_carol_mailbox",
    "check_claimed_helo",
    "check_enterprise_hops",
    "check_explorer_junk",
    "check_first_server",
    "check_forwarded_recipient",
    "check_highest_hop_limit",
    "check_hop2_server",
    "check_implicit_mx",
    "check_limit_ten_hops",
    "check_logged_in_hop",
    "check_loop_received_count",
    "check_mx_choice",
    "check_mx_down_outcome",
    "check_null_mx",
    "check_alias_server",
    "check_analyzed_hops",
    "check_received_count",
    "check_seen_ip",
    "check_servers_in_three_hops",
    "check_silent_outcome",
    "check_slowest_hop",
    "check_visit_order",
    "check_xmpp_servers",
    "MX_EXERCISE",
    "QuizQuestion",
    "REASONS",
    "RFC5598_ROLES",
    "bcc_copy",
    "check_bcc_trace",
    "check_bounce_target_prediction",
    "check_chat_outage",
    "check_delivery_role",
    "check_enterprise_forward_prediction",
    "check_enterprise_header_hops",
    "check_filter_reject_prediction",
    "check_mx_down_prediction",
    "check_quiz",
    "check_quiz_done",
    "check_retry_try",
    "check_webmail_prediction",
    "quiz_questions",
    "reasons_text",
]


@dataclass
class Feedback:
    """The verdict on one answer: ``ok`` and a sentence. Shows itself as a coloured box in Jupyter."""

    ok: bool
    message: str
    answered: bool = True

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        mark = "✓" if self.ok else ("✗" if self.answered else "…")
        return f"{mark} {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        if self.ok:
            colors = ("#1d4d2b", "#e8f5ec", "#009e73")
        elif self.answered:
            colors = ("#7a3a00", "#fff4e5", "#e69f00")
        else:
            colors = ("#444", "#f3f3f3", "#999")
        return (f'<div style="color:{colors[0]};background:{colors[1]};border-left:4px solid {colors[2]};'
                f'padding:6px 10px">{html.escape(str(self))}</div>')


def _unanswered(answer: Any) -> bool:
    if isinstance(answer, (list, tuple)):
        return not answer or all(_unanswered(x) for x in answer)
    return answer is ... or answer is None or (isinstance(answer, str) and answer.strip() in ("", "..."))


_TODO = Feedback(False, "Not answered yet: replace the ... with your answer and run the cell again.", answered=False)


def _name(text: Any) -> str:
    """A host name or address as typed, made comparable: lower case, no <>, quotes, spaces or final dot."""
    return str(text).strip().strip("'\"").strip("<>").strip().rstrip(".").lower()


def _right(message: str) -> Feedback:
    return Feedback(True, message)


def _wrong(message: str) -> Feedback:
    return Feedback(False, f"Not quite: {message}")


def _int(answer: Any) -> int | None:
    try:
        return int(str(answer).strip())
    except (TypeError, ValueError):
        return None


def _number(answer: Any, expected: int, too_few: str, too_many: str, right: str) -> Feedback:
    if _unanswered(answer):
        return _TODO
    n = _int(answer)
    if n is None:
        return _wrong(f"{answer!r} is not a whole number.")
    if n == expected:
        return _right(right)
    return _wrong(f"{n} is too {'few' if n < expected else 'many'}. {too_few if n < expected else too_many}")


def _one_of(answer: Any, expected: str, right: str, hints: dict[str, str] | None = None,
            otherwise: str = "") -> Feedback:
    if _unanswered(answer):
        return _TODO
    given = _name(answer)
    if given == _name(expected):
        return _right(right)
    for key, hint in (hints or {}).items():
        if given == _name(key):
            return _wrong(hint)
    return _wrong(f"{answer!r} is not it. {otherwise}".strip())


def _journey(name: str, **knobs: Any) -> Journey:
    from .widgets import Knobs, run_with

    return run_with(name, Knobs(**knobs))[0] if knobs else sc.run(name)


# ------------------------------------------------------------------------------ 00 start here
def check_servers_in_three_hops(answer: Any) -> Feedback:
    """How many servers accept Alice's message in the scenario three-hops?"""
    journey = _journey("three-hops")
    return _number(answer, len(journey.hops),
                   "Count the Received lines in Bob's copy: every server that accepted the message wrote one.",
                   "Alice's laptop is not a server that accepts the message: it only hands it over.",
                   f"Right: {', '.join(h.by_name or '?' for h in journey.hops)} each accepted it once.")


def check_hop2_server(answer: Any) -> Feedback:
    """Which server receives the message at hop 2 of three-hops?"""
    hop = _journey("three-hops").hops[1]
    return _one_of(answer, hop.by_name or "", f"Right: at hop 2 {hop.from_name} hands it to {hop.by_name}, Bob's MX.",
                   {"smtp.example.org": "smtp.example.org receives it at hop 1 and sends it on at hop 2.",
                    "imap.example.net": "imap.example.net is the last hop (3): Bob's mailbox."},
                   "Press Step twice in the stepper and read the caption.")


# ------------------------------------------------------------------------------ 01 why several hops
def check_first_server(answer: Any) -> Feedback:
    """To which server does Alice's mail program hand her message?"""
    hop = _journey("three-hops").hops[0]
    return _one_of(answer, hop.by_name or "",
                   f"Right: her mail program always submits to her provider's submission server {hop.by_name} "
                   "(port 587, with her password); it does the rest.",
                   {"mx.example.net": "mx.example.net is Bob's MX. Alice's laptop could look it up, but servers like it "
                                      "refuse mail straight from home connections, and her provider may block port 25.",
                    "imap.example.net": "imap.example.net holds Bob's mailbox; nobody outside example.net talks to it."},
                   "Look at hop 1 in the diagram.")


def check_received_count(answer: Any) -> Feedback:
    """How many Received headers does Bob's copy of the three-hops message carry?"""
    journey = _journey("three-hops")
    return _number(answer, count_hops(journey.message),
                   "Every server that accepts the message adds one Received line - including the mailbox server.",
                   "Only servers that accept the message write one; Alice's mail program writes none.",
                   "Right: one Received header per hop, the newest on top.")


def check_xmpp_servers(answer: Any) -> Feedback:
    """How many servers does an XMPP chat message cross between Alice's and Bob's chat apps?"""
    return _number(answer, 2, "Alice's app still needs her own server: apps only talk to their own server.",
                   "XMPP has no relays in between: Alice's server connects straight to Bob's.",
                   "Right: Alice's server and Bob's server, connected directly.")


def check_mx_down_outcome(answer: Any) -> Feedback:
    """What happens to the three-hops message when Bob's only MX is down?"""
    kind = _journey("three-hops", primary_mx_down=True).outcome.kind  # type: ignore[union-attr]
    return _one_of(answer, kind,
                   "Right: a server that cannot connect keeps the message in its queue and tries again later (a "
                   "temporary failure), for days, before it gives up and bounces.",
                   {"bounced": "a server that is down is a temporary problem: nothing is bounced at once.",
                    "rejected": "nobody refused it: there was no server to talk to.",
                    "dropped": "the message is not lost: it waits in Alice's server's queue."},
                   "Tick 'the primary MX is down' in the explorer and read the outcome.")


# ------------------------------------------------------------------------------ 03 finding the next hop
#: The MX records of the MX exercise in lesson 03 (preference, host), and the hosts that are down.
MX_EXERCISE = {"domain": "example.com", "records": [(20, "mx-b.example.com"), (10, "mx-a.example.com"),
                                                     (30, "mx-c.example.com")], "down": ["mx-a.example.com"]}


def _mx_exercise_topology() -> Topology:
    topo = Topology("mx-exercise")
    topo.add_domain(MX_EXERCISE["domain"])
    for i, (pref, host) in enumerate(MX_EXERCISE["records"]):
        topo.add_server(host, "mx", f"203.0.113.{30 + i}", domain=MX_EXERCISE["domain"], mx_preference=pref,
                        up=host not in MX_EXERCISE["down"])
    return topo


def check_mx_choice(answer: Any) -> Feedback:
    """Which host of :data:`MX_EXERCISE` takes the message?"""
    import random

    from .simulate import dns_for

    topo = _mx_exercise_topology()
    order = dns_for(topo).mx_candidates(MX_EXERCISE["domain"], random.Random(0)).candidates
    taker = next(host for _, host in order if topo.servers[host].up)
    return _one_of(answer, taker,
                   f"Right: {order[0][1]} (preference {order[0][0]}) is tried first but is down, so the sender "
                   f"moves on to the next lowest preference, {taker}.",
                   {order[0][1]: f"{order[0][1]} has the lowest preference and is tried first - but it is down.",
                    order[-1][1]: f"{order[-1][1]} has the highest preference number, so it is tried last, not next."},
                   "Sort the records by preference, lowest first, and skip the one that is down.")


def check_implicit_mx(answer: Any) -> Feedback:
    """Where does mail for example.org go when example.org has no MX record but an A record 192.0.2.10?"""
    if _unanswered(answer):
        return _TODO
    if _name(answer) in ("example.org", "192.0.2.10"):
        return _right("Right: with no MX record, the domain itself is the mail server - an 'implicit MX' of "
                      "preference 0 at the domain's own address (RFC 5321 section 5.1).")
    if _name(answer) in ("nowhere", "none", "bounce", "bounced"):
        return _wrong("no MX record does not mean no mail: senders fall back to the domain's A/AAAA record.")
    return _wrong(f"{answer!r} is not it: without an MX record the sender uses the domain's own A record.")


def check_null_mx(answer: Any) -> Feedback:
    """Write the null MX record of example.com (RFC 7505), e.g. as it appears in a zone file."""
    if _unanswered(answer):
        return _TODO
    text = str(answer).strip()
    parts = text.split()
    upper = [p.upper() for p in parts]
    if "MX" in upper:
        parts = parts[upper.index("MX") + 1:]
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.MX, " ".join(parts))
    except (dns.exception.DNSException, ValueError):
        return _wrong(f"{text!r} is not an MX record; an MX record is a preference and a host, like 'MX 10 mail.example.com.'.")
    exchange = rdata.exchange.to_text()  # type: ignore[attr-defined]
    shown = exchange if exchange == "." else exchange.rstrip(".")
    if exchange != ".":
        return _wrong(f"the host must be '.', the DNS root - a name that can never be a mail server, not {shown}.")
    if rdata.preference != 0:  # type: ignore[attr-defined]
        return _wrong(f"RFC 7505 says the null MX has preference 0, not {rdata.preference}.")  # type: ignore[attr-defined]
    return _right("Right: MX 0 . says 'this domain accepts no mail', so senders give up at once instead of queueing.")


# ------------------------------------------------------------------------------ reading Received lines
def check_seen_ip(answer: Any) -> Feedback:
    """Which IP address did mx.example.net see the three-hops message come from?"""
    hop = _journey("three-hops").hops[1]
    first = _journey("three-hops").hops[0]
    return _one_of(answer, hop.ip or "",
                   f"Right: the address in square brackets is the one the MX saw on the connection ({hop.ip}); "
                   "the names before it are claims and look-ups.",
                   {first.ip or "": f"{first.ip} is the laptop's address, seen by {first.by_name} at hop 1. Read the "
                                    "Received line that says 'by mx.example.net'.",
                    "192.168.1.23": "192.168.1.23 is what the laptop claimed in EHLO - a private home address."},
                   "Find the Received line with 'by mx.example.net' and look inside the square brackets.")


def check_claimed_helo(answer: Any) -> Feedback:
    """What name did Alice's laptop give in its EHLO command?"""
    hop = _journey("three-hops").hops[0]
    if _unanswered(answer):
        return _TODO
    helo = hop.helo or ""
    if _name(answer).strip("[]") == helo.strip("[]").lower():
        return _right(f"Right: it said EHLO {helo}, an address literal from a private home network. The server "
                      f"wrote down what it really saw next to it: {hop.rdns} [{hop.ip}].")
    mta = hop.mta if hop.mta in _HELO_PLACE else "postfix"
    place, software = _HELO_PLACE[mta], _MTA_NAMES.get(mta, mta)
    if _name(answer) in (_name(hop.rdns or ""), _name(hop.ip or "")):
        return _wrong(f"{answer!r} is what the server found out itself (reverse DNS and the connection's address). "
                      f"{hop.by_name} runs {software}, which writes the claimed name {place}.")
    return _wrong(f"{answer!r} is not it: {hop.by_name} runs {software}, so look for the claim {place} in the bottom "
                  "Received line.")


_MTA_NAMES = {"postfix": "Postfix", "sendmail": "Sendmail", "gmail": "Gmail", "exchange": "Exchange", "exim": "Exim",
              "qmail": "qmail"}

#: Where each MTA writes the name claimed in HELO/EHLO in the FROM clause of its Received line.
_HELO_PLACE = {
    "postfix": "as the first word after 'from' (then its own findings in brackets: reverse DNS name [address])",
    "sendmail": "as the first word after 'from' (then its own findings in brackets: reverse DNS name [address])",
    "gmail": "as the first word after 'from' (then its own findings in brackets: reverse DNS name. [address])",
    "exchange": "as the first word after 'from' (then only the address, in round brackets)",
    "exim": "after 'helo=' inside the brackets; the first word after 'from' is the reverse DNS name it verified, and "
            "helo= appears only when the claim differs from it",
    "qmail": "in '(HELO ...)' after the reverse DNS name; qmail leaves that part out when the claim equals the name",
}


def check_logged_in_hop(answer: Any) -> Feedback:
    """At which hop did the sender log in (authenticate)?"""
    hops = _journey("three-hops").hops
    authed = [h.n for h in hops if (h.with_ or "").upper().endswith("A")]
    return _number(answer, authed[0], "", "Later hops are server to server: servers do not log in to each other here.",
                   "Right: ESMTPSA = ESMTP + S (TLS) + A (authenticated), RFC 3848; only hop 1 has the A.")


def check_visit_order(answer: Any) -> Feedback:
    """The servers the three-hops message visited, in order (a list of host names)."""
    journey = _journey("three-hops")
    expected = [h.by_name for h in journey.hops]
    if _unanswered(answer):
        return _TODO
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        return _wrong("give a list of host names, like ['a.example', 'b.example'].")
    given = [_name(x) for x in answer]
    if given == expected:
        return _right("Right: the bottom Received line is the oldest; reading upwards replays the journey.")
    if given == expected[::-1]:
        return _wrong("that is the order from top to bottom, newest first. Read the Received lines bottom-up.")
    if sorted(given) != sorted(expected):
        return _wrong(f"use the names after 'by' in the Received lines: {len(expected)} of them.")
    return _wrong("the servers are right but not their order: the oldest Received line is at the bottom.")


# ------------------------------------------------------------------------------ 06 spam and bounces
def check_backscatter_action(answer: Any) -> Feedback:
    """Which spam action risks sending bounces to innocent people (backscatter)?"""
    if _unanswered(answer):
        return _TODO
    given = _name(answer)
    if given in ("bounce", "accept, then bounce", "accept-then-bounce", "accept then bounce"):
        return _right("Right: after accepting, the only way to say no is a bounce to the envelope sender - which "
                      "spammers forge. Rejecting during SMTP leaves the bounce to the sender's own server.")
    hints = {"reject": "rejecting during SMTP makes the *sending* server write the bounce, to its own user.",
             "drop": "dropping tells nobody anything - no bounce at all.",
             "junk": "junk delivers the message into a folder - no bounce."}
    return _wrong(hints.get(given, f"{answer!r} is not one of reject, bounce, drop, junk."))


def check_bounce_writer(answer: Any) -> Feedback:
    """In spam-rejected, which server writes the bounce?"""
    journey = _journey("spam-rejected")
    assert journey.bounce is not None and journey.bounce.message is not None
    dsn = email.message_from_bytes(journey.bounce.message, policy=email.policy.default)
    reporter = ""
    for part in dsn.walk():
        if part.get_content_type() == "message/delivery-status":
            text = part.as_string()
            reporter = text.split("Reporting-MTA: dns;", 1)[1].split()[0] if "Reporting-MTA: dns;" in text else ""
    return _one_of(answer, reporter,
                   f"Right: {reporter} was still holding the message when Bob's MX said no, so it writes the bounce "
                   "to its own user (the DSN's Reporting-MTA).",
                   {"mx.example.net": "mx.example.net refused the message, so it never took responsibility for it: "
                                      "the refused side does not write the bounce."},
                   "Look at the bounce's Reporting-MTA field.")


def check_bounce_sender(answer: Any) -> Feedback:
    """Which envelope sender (MAIL FROM) does a bounce use?"""
    if _unanswered(answer):
        return _TODO
    bounce = _journey("spam-rejected").bounce
    assert bounce is not None
    if str(answer).strip() in ("<>", "", "MAIL FROM:<>", "null") and bounce.envelope_from == "":
        return _right("Right: the null sender <>. Nobody bounces a bounce, so two broken servers cannot "
                      "send bounces to each other forever (RFC 5321 section 4.5.5).")
    if "mailer-daemon" in str(answer).lower():
        return _wrong("MAILER-DAEMON appears in the From: header, which people read; the envelope sender is different.")
    return _wrong(f"{answer!r} is not it: bounces are sent with MAIL FROM:<> - write '<>'.")


def check_silent_outcome(answer: Any) -> Feedback:
    """Which outcome leaves both Alice and Bob unaware of what happened?"""
    kind = _journey("spam-dropped").outcome.kind  # type: ignore[union-attr]
    return _one_of(answer, kind,
                   "Right: the filter said 250 OK and then threw the message away; nobody is told.",
                   {"junk": "in Junk, Bob can still find the message.",
                    "rejected": "a rejection produces a bounce to Alice.",
                    "bounced": "a bounce tells the (possibly forged) sender."},
                   "Compare the four spam scenarios' outcomes.")


# ------------------------------------------------------------------------------ 08 forwarding and loops
def check_forwarded_recipient(answer: Any) -> Feedback:
    """In forwarding, which recipient does the forwarder put in RCPT TO when it sends the message on?"""
    journey = _journey("forwarding")
    onward = next(h for h in journey.hops if h.from_server == "mx.alumni.university.example")
    return _one_of(answer, onward.for_ or "",
                   f"Right: the forwarder rewrites the envelope recipient to {onward.for_}; the To: header still "
                   "says the alumni address.",
                   {"bob@alumni.university.example": "that is the address Alice wrote to - the forwarder changes it."},
                   "Look at the 'for <...>' part of the Received line the next server wrote.")


def check_loop_received_count(answer: Any) -> Feedback:
    """How many Received headers did the looping message carry when a server refused it?"""
    journey = _journey("forwarding-loop")
    n = count_hops(journey.message)
    if _unanswered(answer):
        return _TODO
    given = _int(answer)
    if given == n:
        return _right(f"Right: {n}. Postfix counts the Received line it would add itself, so {n} + 1 reached "
                      f"hopcount_limit ({MTAS['postfix']['hop_limit']}) and it answered 554 5.4.0 Error: too many hops.")
    if given == n + 1:
        return _wrong(f"{given} is what Postfix counted, including the line it would have added; the message "
                      "itself carried one fewer.")
    return _number(answer, n, "Count the Received lines in the message (count_hops).", "Count again with count_hops.", "")


def check_limit_ten_hops(answer: Any) -> Feedback:
    """With a hop limit of 10 on every server, how many hops does the looping message make before it is stopped?"""
    journey = _journey("forwarding-loop", hop_limit=10)
    return _number(answer, len(journey.hops), "Run it in the explorer with the hop limit at 10 and count the hops.",
                   "The limit stops the message before it reaches 10 Received lines.",
                   "Right: a lower limit stops the loop sooner - and would also refuse honest mail with long paths.")


def check_highest_hop_limit(answer: Any) -> Feedback:
    """Which MTA has the highest default hop limit?"""
    known = [m for m in MTAS if MTAS[m].get("documented")]  # limits the MTAs themselves document
    best = max(known, key=lambda m: int(MTAS[m]["hop_limit"]))  # type: ignore[call-overload]
    limit = MTAS[best]["hop_limit"]
    return _one_of(answer, best, f"Right: {best} allows {limit}, the number RFC 5321 section 6.3 suggests as a minimum.",
                   {m: f"{m} allows {MTAS[m]['hop_limit']}; one allows more." for m in known if m != best},
                   f"Choose one of {', '.join(known)}.")


# ------------------------------------------------------------------------------ 10 enterprise
def check_enterprise_hops(answer: Any) -> Feedback:
    """How many hops does the message to sales@example.net take in enterprise?"""
    journey = _journey("enterprise")
    return _number(answer, len(journey.hops), "Every box behind the MX adds a hop of its own.",
                   "Count only servers that accepted it (Received lines).",
                   "Right: the three everyday hops plus one for each extra job behind the MX.")


def check_alias_server(answer: Any) -> Feedback:
    """Which server turns sales@example.net into bob@example.net?"""
    journey = _journey("enterprise")
    hop = next(h for h in journey.hops if "alias" in h.decision)
    return _one_of(answer, hop.by_name or "", f"Right: {hop.by_name} expanded the alias ({hop.decision}).", {},
                   "Look for the hop whose Received line is the last one that says 'for <sales@example.net>'.")


def check_carol_mailbox(answer: Any) -> Feedback:
    """In migration, on which server is Carol's mailbox?"""
    journey = _journey("migration", recipient="carol@example.net")
    return _one_of(answer, journey.hops[-1].by_name or "",
                   f"Right: the router sends Carol's mail to {journey.hops[-1].by_name}, where her mailbox still is.",
                   {"imap.example.net": "imap.example.net is the new server; Carol has not moved yet."},
                   "Choose carol@example.net as recipient in the explorer.")


# ------------------------------------------------------------------------------ 11 analyse your own email
def check_analyzed_hops(journey: Journey, answer: Any) -> Feedback:
    """How many hops did the analyzed message make?"""
    return _number(answer, len(journey.hops), "Count the Received lines of the message.", "Count only Received lines.",
                   "Right: one hop per Received header.")


def _slowest_rows(journey: Journey) -> tuple[float, list[int]]:
    """The largest delay between two Received dates, and the rows (hop numbers) that show it."""
    timed = [(h.delay_s, h.n) for h in journey.hops if h.delay_s is not None]
    if not timed:
        return 0.0, []
    most = max(d for d, _ in timed)
    return most, [n for d, n in timed if d == most]


def check_slowest_hop(journey: Journey, answer: Any, why: Any = None) -> Feedback:
    """Predict, explain: which server held the message longest? ``answer`` is that server's name, or the number
    of the row whose delay is largest, or the number of the hop whose server held it; ``why`` the letters of
    the reasons (:data:`REASONS` ``["slowest-hop"]``).

    The delay on row n is the time between the Received dates of hops n-1 and n: time the message spent at
    hop n-1's server (its queue, its filters) and on the way to hop n. Naming that server, or giving row n
    and explaining that the delay belongs to the server before, are both right.
    """
    most, rows = _slowest_rows(journey)
    if not rows:
        return Feedback(False, "This message has no usable dates, so no hop can be timed.",
                        answered=not _unanswered(answer))
    if _unanswered(answer):
        return _TODO
    by_n = {h.n: h for h in journey.hops}
    holders = {r - 1: by_n[r - 1].by_name or by_n[r].from_name or "?" for r in rows if r - 1 in by_n}
    takers = {r: by_n[r].by_name or "?" for r in rows}
    row = rows[0]
    held = holders.get(row - 1, "the server before it")
    n = _int(answer)
    if n is not None:
        if n in rows:
            verdict = _right(f"Right: row {n} shows the largest delay ({most:g} s). That time passed between "
                             f"{holders.get(n - 1, 'the previous server')} writing its Received line and "
                             f"{takers[n]} writing its own: the message waited at {holders.get(n - 1, 'the previous server')}.")
        elif n in holders:
            verdict = _right(f"Right: hop {n}'s server, {holders[n]}, held it longest: the next Received line "
                             f"(row {n + 1}) is dated {most:g} s after its own.")
        else:
            verdict = _wrong(f"hop {n} is not it. Find the largest value in the delay column (row {row}): it is "
                             f"the time between that row's date and the date of the row before.")
    else:
        given = _name(answer)
        if given in {_name(x) for x in holders.values()}:
            verdict = _right(f"Right: {held} held it longest: the next server dated its Received line {most:g} s "
                             "after it.")
        elif given in {_name(x) for x in takers.values()}:
            verdict = _wrong(f"{takers[row]} wrote the later date, the moment it received the message. The "
                             f"{most:g} s passed before that, while {held} still held it.")
        else:
            verdict = _wrong(f"{answer!r} is not it. Give a server name (after 'by') or a row number from the table.")
    return _explained(verdict, "slowest-hop", why)


# ------------------------------------------------------------------------------ 12 explorer
def check_explorer_junk(explorer: Any) -> Feedback:
    """Has the explorer been set so the three-hops message lands in Bob's Junk folder?"""
    journey = getattr(explorer, "journey", None)
    if journey is None or journey.outcome is None:
        return _TODO
    if explorer.picker.value != "three-hops":
        return Feedback(False, "Pick the scenario three-hops first.", answered=False)
    if journey.outcome.kind == "junk":
        return _right("Right: a spam-like message plus a filter that marks instead of refusing ends in Junk.")
    return Feedback(False, f"Not yet: the outcome is {journey.outcome.kind}. Make the message look like spam and set "
                           "the spam filter to deliver to Junk.", answered=journey.outcome.kind != "delivered")


def check_builder_fallback(builder: Any) -> Feedback:
    """Has the builder sent a message that reached its mailbox through a backup MX while the primary was down?"""
    journey = getattr(builder, "journey", None)
    if journey is None:
        return Feedback(False, "Not yet: build the topology and press 'Send a message'.", answered=False)
    unreachable = [h for h in journey.attempts if h.status == "unreachable"]
    if journey.outcome is None or journey.outcome.kind != "delivered":
        kind = journey.outcome.kind if journey.outcome else "unknown"
        return _wrong(f"the message was {kind}, not delivered. Is there a second MX with a higher preference that is up?")
    if not unreachable:
        return _wrong("it was delivered, but no MX was down. Take the primary MX down (in the builder, build it from "
                      "the scenario mx-fallback, or add two MX records and one server that is down).")
    return _right(f"Right: {unreachable[0].by_name} did not answer, so the sender moved on to the next MX.")


# ------------------------------------------------------------------------------ predict, run, explain
#: The reasons offered in the "predict, run, explain" exercises: exercise -> {letter: (holds?, reason, why not)}.
#: More than one reason can hold; the checks accept any set of letters that hold and explain each one that does not.
REASONS: dict[str, dict[str, tuple[bool, str, str]]] = {
    "webmail": {
        "a": (True, "the webmail application accepts the message from the browser (with HTTP) and writes a Received "
                    "line: one more server", ""),
        "b": (False, "the browser counts as a server", "the browser is not a server: it hands the message to the "
                                                       "webmail application and keeps nothing"),
        "c": (False, "webmail delivers straight to Bob's MX", "webmail submits to smtp.example.org like any mail "
                                                              "program; it does not deliver to Bob's MX itself"),
        "d": (True, "every server that accepts the message counts, and the webmail server accepts it before "
                    "smtp.example.org does", ""),
    },
    "mx-down": {
        "a": (True, "a server that does not answer is a temporary failure: Alice's server keeps the message in its "
                    "queue and tries again", ""),
        "b": (False, "the message is lost", "the message is not lost: Alice's server took responsibility for it "
                                            "with 250 OK and keeps it"),
        "c": (False, "Bob's MX bounces it", "Bob's MX is down and never saw the message, so it cannot bounce it"),
        "d": (True, "RFC 5321 (section 4.5.4.1) asks the sender to retry for days before it gives up and bounces", ""),
    },
    "filter-reject": {
        "a": (True, "Bob's MX had already said 250 OK, so it holds the message and must report the failure itself", ""),
        "b": (True, "only a refusal during the sender's own SMTP session leaves the report to the sending server; "
                    "behind the MX it is too late", ""),
        "c": (False, "the filter that refused writes the bounce", "a refusing server never writes the bounce: the "
                                                                  "server that holds the message does"),
        "d": (False, "a refusal behind the MX is reported to nobody", "a failure is always reported: the server that "
                                                                      "accepted the message owes a bounce"),
    },
    "enterprise-forward": {
        "a": (True, "the forwarder accepts the message, rewrites RCPT TO and sends it on: one more hop", ""),
        "b": (True, "every server that accepts the message adds one Received line, and there is one more server", ""),
        "c": (False, "the forwarder only changes a DNS record", "a forwarder is a server that accepts the message; "
                                                                "it does not just change a DNS record"),
        "d": (False, "the alias expansion is skipped", "the alias is still expanded: sales@ still reaches "
                                                       "lists.example.net"),
    },
    "bounce-target": {
        "a": (True, "bounces go to the envelope sender, the address in MAIL FROM (RFC 5321 sections 3.3 and 4.5.5)",
              ""),
        "b": (True, "the From: line is for people; servers only know the reverse-path they were given", ""),
        "c": (False, "bounces go to the From: address, the author", "no server reads the From: line to decide "
                                                                    "where to report: that is the letter"),
        "d": (False, "bounces go to the postmaster of the From: domain", "the report goes to the envelope sender, "
                                                                         "not to a postmaster"),
    },
    "chat-outage": {
        "a": (True, "XMPP has no queue between servers: when the stream to Bob's server cannot be set up, Alice's "
                    "server returns an error stanza at once (RFC 6120 section 10.4.3)", ""),
        "b": (True, "chat is built for now: no store-and-forward relay keeps the message", ""),
        "c": (False, "Alice's chat server queues the message for days", "chat servers do not queue for a down peer: "
                                                                         "that is what mail servers do"),
        "d": (False, "a relay between the two chat servers keeps it", "there is no relay between the two chat "
                                                                      "servers: the link is direct"),
    },
}


def reasons_text(exercise: str) -> str:
    """The reasons of an exercise, one per line, for the notebook to print.

    >>> print(reasons_text("mx-down").splitlines()[0][:40])
    a) a server that does not answer is a te
    """
    return "\n".join(f"{letter}) {text}" for letter, (_, text, _why) in REASONS[exercise].items())


def _letters(why: Any) -> list[str]:
    return [c for c in str(why).lower() if c.isalpha()] if not _unanswered(why) else []


def _explained(prediction: Feedback, exercise: str, why: Any) -> Feedback:
    """Add the verdict on the reasons to the verdict on the prediction."""
    reasons = REASONS[exercise]
    letters = _letters(why)
    if not prediction.answered:
        return prediction
    if not letters:
        said = "Your prediction holds." if prediction.ok else prediction.message
        return Feedback(False, f"{said} Now explain it: set why to the letters of the reasons you believe "
                               f"({', '.join(reasons)}) and run the cell again.", answered=False)
    unknown = [c for c in letters if c not in reasons]
    if unknown:
        return _wrong(f"{', '.join(unknown)} is not one of the reasons ({', '.join(reasons)}).")
    bad = [c for c in letters if not reasons[c][0]]
    if bad:
        head = "Not quite: your prediction holds, but" if prediction.ok else f"{prediction.message} Also,"
        return Feedback(False, f"{head} " + "; ".join(f"{c}) does not hold: {reasons[c][2]}" for c in bad) + ".")
    if not prediction.ok:
        return prediction
    good = [c for c in reasons if reasons[c][0]]
    more = [c for c in good if c not in letters]
    extra = f" ({'/'.join(more)} would have been right too.)" if more else ""
    return _right(f"{prediction.message} Your reasons hold.{extra}")


def check_webmail_prediction(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: how many servers accept Alice's message when she writes in webmail?"""
    journey = _journey("webmail")
    n = len(journey.hops)
    first = journey.hops[0]
    verdict = _number(answer, n, "The webmail application is a server too: it accepts the message from the browser.",
                      "The browser is not a server, and nothing else changes after smtp.example.org.",
                      f"Right: {n}. {first.by_name} accepts it first, {first.with_}, then the usual three.")
    return _explained(verdict, "webmail", why)


def check_mx_down_prediction(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: what happens to three-hops when Bob's only MX is down?"""
    return _explained(check_mx_down_outcome(answer), "mx-down", why)


def check_filter_reject_prediction(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: in spam-accept-then-bounce with the filter rejecting during SMTP, who gets the bounce?"""
    journey = _journey("spam-accept-then-bounce", spam="reject")
    assert journey.bounce is not None
    target = journey.bounce.envelope_to or ""
    holder = journey.hops[-1].by_name
    verdict = _one_of(answer, target,
                      f"Right: {target}, the forged envelope sender, still gets a bounce: the filter refused {holder}, "
                      f"which had already accepted the message. Backscatter is only avoided at the edge.",
                      {"mail.example.com": "the spammer's server is not the one refused here: Bob's MX accepted the "
                                           "message and the filter behind it refused Bob's MX.",
                       "nobody": "a refused message always produces a report to someone.",
                       "bob@example.net": "bounces never go to the recipient: they go to the envelope sender."},
                      "Run the cell and read the bounce's envelope recipient.")
    return _explained(verdict, "filter-reject", why)


def check_enterprise_forward_prediction(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: how many hops in enterprise when Alice writes to a forwarding address?"""
    journey = _journey("enterprise", forwarder=True)
    n = len(journey.hops)
    verdict = _number(answer, n, "The forwarder is one more server that accepts the message.",
                      "Only the forwarder is added; every other box stays as it was.",
                      f"Right: {n}, one more than the {n - 1} of enterprise: the forwarder's hop.")
    return _explained(verdict, "enterprise-forward", why)


def check_enterprise_header_hops(answer: Any) -> Feedback:
    """08: in enterprise, which hops add X-Spam-Status and X-Virus-Scanned? ``answer`` is a pair (numbers or names)."""
    if _unanswered(answer):
        return _TODO
    journey = _journey("enterprise")

    def adder(field: str) -> Any:
        return next(h for h in journey.hops if any(x.split(":")[0] == field for x in h.added_headers))

    spam, virus = adder("X-Spam-Status"), adder("X-Virus-Scanned")
    if isinstance(answer, (str, int)) or len(answer) != 2:
        return _wrong("give two answers in brackets: (the hop that adds X-Spam-Status, the one that adds X-Virus-Scanned).")

    def same(given: Any, hop: Any) -> bool:
        return _int(given) == hop.n or _name(given) == _name(hop.by_name or "")

    got = [same(answer[0], spam), same(answer[1], virus)]
    if all(got):
        return _right(f"Right: hop {spam.n} ({spam.by_name}) scores the message and hop {virus.n} ({virus.by_name}) "
                      "scans it; each box writes its own lines above its Received line.")
    if same(answer[0], virus) and same(answer[1], spam):
        return _wrong("the two are swapped: the spam filter comes first in this company's chain.")
    which = "X-Spam-Status" if not got[0] else "X-Virus-Scanned"
    return _wrong(f"the {which} answer is off. Step through enterprise and watch the yellow lines at each hop.")


def check_retry_try(answer: Any) -> Feedback:
    """Closing lesson: Bob's server is down for one hour; at which try does Alice's server deliver the message?"""
    from .widgets.xmpp import send_smtp_with_retries

    result = send_smtp_with_retries("three-hops", down_for_s=3600)
    n = len(result.attempts)
    waits = ", ".join(f"{a.at_s // 60:g} min" for a in result.attempts)
    return _number(answer, n, "The queue keeps trying while the hour runs: count the tries until one is after it.",
                   "After the server is back, the next try delivers: there is no reason to wait longer.",
                   f"Right: try {n}. The tries come at {waits} after the first: each wait is the message's age, at "
                   "least 5 and at most about 67 minutes (Postfix's backoff).")


def check_chat_outage(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: Bob's chat server is down; what does Alice's chat app get?"""
    from .widgets.knobs import Knobs, run_with
    from .widgets.xmpp import send_xmpp

    chat = send_xmpp(run_with("three-hops", Knobs(primary_mx_down=True))[1], "alice@example.org", "bob@example.net")
    condition = chat.condition or ""
    if _unanswered(answer):
        return _TODO
    given = _name(answer).strip("<>/ ")
    if given in (condition, "error", "an error", "error stanza", f"<{condition}/>"):
        verdict = _right(f"Right: an error stanza, <{condition}/>, after {chat.seconds:g} s.")
    elif given in ("wait", "queue", "queued", "deferred", "retry"):
        verdict = _wrong("chat servers do not queue for a down peer: that is mail's way.")
    elif given in ("delivered", "stored"):
        verdict = _wrong("Bob's server is down, so nothing can store it: nobody receives the message.")
    else:
        verdict = _wrong(f"{answer!r} is not it. Run the cell and read the stanza Alice's server returns.")
    return _explained(verdict, "chat-outage", why)


# ------------------------------------------------------------------------------ envelope and roles
#: The roles of RFC 5598 (Internet Mail Architecture, section 4) that each mailhops server role plays.
RFC5598_ROLES: dict[str, tuple[str, str]] = {
    "client": ("MUA", "the Mail User Agent works for the user: writes, submits, reads (RFC 5598 section 4.2.1)"),
    "webmail": ("MUA", "a Mail User Agent run on a web server: the browser is only its screen"),
    "submission": ("MSA", "the Mail Submission Agent accepts mail from its own users and enforces their "
                          "provider's rules (RFC 5598 section 4.3.1, RFC 6409); then relays it as an MTA"),
    "relay": ("MTA", "a Mail Transfer Agent relays the message one hop closer (RFC 5598 section 4.3.2)"),
    "mx": ("MTA", "the recipient domain's inbound MTA, found through its MX record"),
    "filter": ("MTA", "an MTA inside the organisation that also filters"),
    "antivirus": ("MTA", "an MTA inside the organisation that also scans"),
    "archive": ("MTA", "an MTA inside the organisation that also keeps a copy"),
    "alias": ("MTA", "an MTA that rewrites the envelope recipient (an alias, RFC 5598 section 5.1)"),
    "router": ("MTA", "an MTA that routes inside the organisation"),
    "mailbox": ("MDA", "the Mail Delivery Agent puts the message into the mailbox and records Return-Path "
                       "(RFC 5598 section 4.3.3); the mailbox server then lets the user's MUA read it"),
    "forwarder": ("Mediator", "a Mediator accepts the message and re-posts it to a new address (RFC 5598 section 5); "
                              "its servers act as MTAs"),
}


def bcc_copy() -> Journey:
    """Alice's message to Bob with Carol in Bcc: the copy that goes to Carol (the mail program left out the Bcc line)."""
    import random

    from .mta.message import new_message
    from .simulate import EPOCH, send

    scenario = sc.get("three-hops")
    topology = scenario.build()
    topology.add_user("carol@example.net", mailbox="imap.example.net", name="Carol Example")
    letter = new_message(scenario.sender, scenario.recipient, scenario.subject, scenario.body, EPOCH, "example.org",
                         random.Random(0))
    journey = send(topology, scenario.sender, "carol@example.net", message=letter)
    journey.scenario = "three-hops, Bcc: carol@example.net"
    return journey


def check_bcc_trace(answer: Any) -> Feedback:
    """Which header field of Carol's Bcc copy shows her address?"""
    if _unanswered(answer):
        return _TODO
    msg = bcc_copy().final_message()
    assert msg is not None
    field = str(answer).strip().strip("'\"").rstrip(":").strip().lower()
    naming = {k.lower() for k, v in msg.items() if "carol@example.net" in str(v).lower()}
    if field in naming:
        return _right(f"Right: {field.title()} names Carol: it was written by a server from the envelope (RCPT TO), "
                      "not by Alice's mail program. Every such field is a right answer.")
    if field == "bcc":
        return _wrong("there is no Bcc line in the copy: the mail program removes it before sending (RFC 5322 section "
                      "3.6.3) and puts Carol only in the envelope, as a RCPT TO.")
    if field in ("to", "cc", "from"):
        return _wrong(f"the {field.title()}: line is the letter Alice wrote, the same in every copy; Carol is not in it.")
    return _wrong(f"{answer!r} does not name carol@example.net in her copy. Look for lines servers wrote from the "
                  "envelope.")


def check_bounce_target_prediction(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: in dmarc-reject (From: alice@example.org), to which address does the bounce go?"""
    journey = _journey("dmarc-reject")
    assert journey.bounce is not None
    target = journey.bounce.envelope_to or ""
    verdict = _one_of(answer, target,
                      f"Right: {target}, the envelope sender (MAIL FROM) of the refused message - not the From: line.",
                      {"alice@example.org": "alice@example.org is only in the From: header, the letter. The bounce "
                                            "follows the envelope.",
                       "bob@example.net": "bounces go back towards the sender, never to the recipient."},
                      "Run the cell and read the bounce's envelope recipient.")
    return _explained(verdict, "bounce-target", why)


def check_delivery_role(answer: Any) -> Feedback:
    """Which RFC 5598 role does imap.example.net play at hop 3 of three-hops?"""
    hop = _journey("three-hops").hops[-1]
    topology = sc.get("three-hops").build()
    role = RFC5598_ROLES[topology.servers[hop.by_name or ""].role][0]
    if _unanswered(answer):
        return _TODO
    given = _name(answer).replace("-", " ")
    names = {"MUA": "mail user agent", "MSA": "mail submission agent", "MTA": "mail transfer agent",
             "MDA": "mail delivery agent"}
    wanted = {role.lower(), names[role], names[role].replace("mail ", "")}
    if role == "MSA":
        wanted.add("message submission agent")
    if given in wanted:
        return _right(f"Right: {hop.by_name} is the {role} ({names[role]}): it delivers into Bob's mailbox and writes "
                      "Return-Path from the envelope sender.")
    hints = {"mta": "it does not relay further: the message ends here, in the mailbox.",
             "mua": "the MUA is Bob's phone or laptop, which reads the mailbox later.",
             "msa": "the MSA is Alice's submission server, which accepts mail from its own users."}
    key = next((k for k, v in names.items() if given in (k.lower(), v)), "").lower()
    return _wrong(hints.get(key, f"{answer!r} is not one of MUA, MSA, MTA, MDA."))


# ------------------------------------------------------------------------------ so why several hops? (quiz)
@dataclass(frozen=True)
class QuizQuestion:
    """One "why" question: the options in order, the right one, and one sentence per option saying why."""

    key: str
    prompt: str
    options: tuple[str, ...]
    right: str
    why: dict[str, str]


def quiz_questions() -> list[QuizQuestion]:
    """The closing lesson's quiz; numbers and names come from the simulator.

    >>> qs = quiz_questions()
    >>> len(qs) >= 10 and all(q.right in q.options and set(q.why) == set(q.options) for q in qs)
    True
    """
    return list(_quiz())


def _q(key: str, prompt: str, right: tuple[str, str], *wrongs: tuple[str, str]) -> QuizQuestion:
    order = [right, *wrongs]
    rotate = sum(map(ord, key)) % len(order)
    order = order[rotate:] + order[:rotate]  # the right option is not always first, always in the same place
    return QuizQuestion(key, prompt, tuple(o[0] for o in order), right[0], {o[0]: o[1] for o in order})


@functools.lru_cache(maxsize=1)
def _quiz() -> tuple[QuizQuestion, ...]:
    from .widgets.knobs import Knobs, run_with
    from .widgets.xmpp import send_xmpp

    down = _journey("three-hops", primary_mx_down=True)
    fallback = _journey("mx-fallback")
    failed = fallback.attempts[0]
    enterprise = _journey("enterprise")
    loop = _journey("forwarding-loop")
    webmail = _journey("webmail")
    limit = MTAS["postfix"]["hop_limit"]
    chat = send_xmpp(run_with("three-hops", Knobs(primary_mx_down=True))[1], "alice@example.org", "bob@example.net")
    dmarc = _journey("dmarc-reject")
    assert dmarc.bounce is not None and down.outcome is not None
    return (
        _q("laptop", "Why does Alice's laptop not deliver straight to Bob's MX?",
           ("Receiving servers distrust home connections, and many ISPs block port 25 from them",
            "Right: home addresses send much of the spam, so they are blocked or refused; her provider's server, "
            "after she logged in, is trusted."),
           ("SMTP forbids a computer without a domain name to send", "SMTP allows it (EHLO can give an address "
            "literal); the obstacles are policy: blocked port 25, blocklists, no reverse DNS, SPF."),
           ("A laptop cannot look up MX records", "any computer can ask the DNS for MX records; that is not the problem."),
           ("Bob's MX only speaks LMTP", "an MX speaks SMTP on port 25 to the whole world; LMTP is for the last, "
            "local hop.")),
        _q("queue", "Bob's only MX is down. Why does Alice's message still arrive later?",
           (f"Alice's server keeps it in its queue and retries (outcome: {down.outcome.kind})",
            "Right: a server that does not answer is a temporary failure; the sending server queues and retries "
            "for days (Postfix: 5 days)."),
           ("Bob's MX stores it while it is down", "a server that is down stores nothing; the message never left "
            "Alice's server."),
           ("Alice's laptop sends it again", "the laptop handed it over and is done; her server took responsibility."),
           ("The DNS keeps it", "the DNS only answers questions about names; it never holds messages.")),
        _q("fallback", f"In mx-fallback, why did the message go to {fallback.hops[1].by_name}?",
           (f"{failed.by_name} (the lowest preference) did not answer, so the next MX was tried",
            "Right: lowest preference first; when it does not answer, the sender moves on (RFC 5321 section 5.1)."),
           (f"{fallback.hops[1].by_name} has the higher preference number, so it is preferred",
            "the lower number wins; the backup was used only because the first one was down."),
           ("The MX was picked at random", "only MX records with equal preferences are shuffled; these differ."),
           ("Alice's server was told to use it by Bob", "nobody tells the sender; it reads the MX records in DNS.")),
        _q("enterprise", f"Why does the message to sales@example.net take {len(enterprise.hops)} hops in enterprise?",
           ("Each box behind the MX has one job (spam, virus, archive, alias, routing) and accepts the message",
            "Right: every box is a server that accepts the message and writes its own Received line."),
           ("The MX sends it several times to be safe", "one copy travels; each hop is a different server."),
           ("The hops are retries", "retries leave no Received line; only accepted hand-offs do."),
           ("Big companies need more DNS look-ups", "the internal hops follow configured links, not MX look-ups.")),
        _q("forwarding", "Why does writing to Bob's alumni address add a hop?",
           ("The forwarder accepts the message, rewrites RCPT TO to Bob's new address and sends it on",
            "Right: the forwarding server is one more server that takes the message and passes it on."),
           ("The alumni domain's DNS points straight at Bob's MX", "its MX is the forwarder, which accepts the message "
            "itself."),
           ("Alice's server sends two copies", "one copy; the forwarder changes its envelope recipient."),
           ("The To: line is rewritten, which counts as a hop", "the To: line is not changed at all; the envelope is.")),
        _q("loop", f"Why does the forwarding loop stop after {len(loop.hops)} hops?",
           (f"A server counts the Received lines and refuses at its hop limit (Postfix: {limit})",
            "Right: counting trace lines is the loop check RFC 5321 section 6.3 describes."),
           ("The forwarders notice they point at each other", "they do not compare their forwarding rules; they "
            "only count hops."),
           ("The message expires after an hour", "there is no such clock; the hop count stops it."),
           ("DNS refuses the look-up after many tries", "DNS answers every time; the hop limit stops the loop.")),
        _q("envelope", f"In dmarc-reject the From: line says alice@example.org. Why does the bounce go to "
                       f"{dmarc.bounce.envelope_to}?",
           ("Bounces go to the envelope sender, the address in MAIL FROM",
            "Right: servers only know the reverse-path they were given (RFC 5321 section 3.3 and 4.5.5)."),
           ("The From: line was forged, so servers ignore it", "servers never use the From: line for bounces, forged "
            "or not."),
           ("Bounces go to the postmaster of the sending server", "the postmaster may get a copy; the bounce itself "
            "goes to the envelope sender."),
           ("Alice blocked bounces", "Alice has no say; the address in MAIL FROM decides.")),
        _q("null-sender", "Why is a bounce sent with MAIL FROM:<>?",
           ("So that nobody ever bounces a bounce", "Right: two broken servers could otherwise bounce bounces "
            "forever (RFC 5321 section 4.5.5)."),
           ("To hide who wrote it", "Reporting-MTA and the From: line say who wrote it."),
           ("Because bounces need no SMTP", "a bounce is a message like any other, sent over SMTP."),
           ("Because the original sender is unknown", "the sender is known: the bounce is addressed to it.")),
        _q("reject", "Why should a spam filter reject during SMTP rather than accept and bounce later?",
           ("A later bounce goes to the envelope sender, which spammers forge: backscatter",
            "Right: a rejection leaves the report to the sending server, which knows its real user."),
           ("Rejecting is faster for the filter", "speed is not the reason; who receives the report is."),
           ("Bounces are not allowed after 250 OK", "they are allowed, and required if delivery fails: that is "
            "exactly the problem."),
           ("Rejected messages are kept for the recipient", "a rejected message is not kept by the receiver at all.")),
        _q("mailbox", "Why does the message end on a mailbox server rather than on Bob's phone?",
           ("Bob's phone is not always on; the mailbox server (MDA) keeps the message until he looks",
            "Right: mail has to wait somewhere that is always on; the phone fetches it with IMAP."),
           ("Phones cannot receive SMTP", "they could run a server; they are not always on or reachable."),
           ("The phone's number is not in DNS", "addresses are found through domains, not phone numbers."),
           ("The MX refuses to talk to phones", "the MX hands the message to the mailbox server, its own next hop.")),
        _q("xmpp", "Bob's chat server is down. Why does Alice's chat message fail at once while her email waits?",
           (f"XMPP has no queue between servers: her server returns <{chat.condition}/> right away",
            "Right: chat connects the two servers directly and reports at once; mail queues and retries."),
           ("Chat messages are too small to queue", "size has nothing to do with it."),
           ("Chat servers retry faster", "they do not retry at all; the error comes back at once."),
           ("XMPP uses MX records, which were down", "XMPP finds servers with SRV records; the difference is that it "
            "does not store and forward.")),
        _q("webmail", f"Why is the first hop of webmail written 'with {webmail.hops[0].with_}'?",
           ("The browser talks HTTP to the webmail application, which then submits over SMTP",
            "Right: the first server is the web application; from there the path is the usual one."),
           ("Webmail delivers over HTTP to Bob's MX", "only the first hop is HTTP; servers talk SMTP to each other."),
           ("The browser is a mail server", "the browser is only the screen of the webmail MUA."),
           ("HTTP is SMTP's encrypted form", "encryption is TLS; HTTP is the web's protocol.")),
    )


def check_quiz(key: str, answer: Any) -> Feedback:
    """The verdict on one quiz answer: the option text, or its letter (a, b, ...), with the sentence that explains it.

    >>> check_quiz("null-sender", "So that nobody ever bounces a bounce").ok
    True
    """
    questions = {q.key: q for q in _quiz()}
    if key not in questions:
        return _wrong(f"there is no quiz question {key!r}.")
    q = questions[key]
    if _unanswered(answer):
        return _TODO
    text = str(answer).strip()
    if len(text) == 1 and text.lower() in "abcdefgh" and "abcdefgh".index(text.lower()) < len(q.options):
        text = q.options["abcdefgh".index(text.lower())]
    match = next((o for o in q.options if o.lower() == text.lower()), None)
    if match is None:
        return _wrong(f"{answer!r} is not one of the options.")
    return _right(q.why[match]) if match == q.right else _wrong(q.why[match])


def check_quiz_done(quiz: Any) -> Feedback:
    """Closing lesson: has the quiz been answered, with most answers right?"""
    verdicts = getattr(quiz, "verdicts", {})
    total = len(getattr(quiz, "questions", []))
    right = sum(1 for v in verdicts.values() if getattr(v, "ok", False))
    if len(verdicts) < total:
        return Feedback(False, f"{len(verdicts)} of {total} questions answered so far: answer them all in the quiz "
                               "above, then run this cell again.", answered=bool(verdicts))
    if right >= total - 2:
        return _right(f"{right} of {total}: you can explain why mail takes several hops.")
    return _wrong(f"{right} of {total} right. Read the sentence under each wrong answer and pick again.")


# ------------------------------------------------------------------------------ when delivery fails
REASONS.update({
    "greylisting": {
        "a": (True, "451 is a 4xx reply, a temporary failure: the sending server keeps the message in its queue and "
                    "tries again later (RFC 5321 section 4.2.1)", ""),
        "b": (True, "Postfix waits at least minimal_backoff_time (300 s) before the first retry, and the greylist "
                    "lets the same sender, recipient and network in once its 5 minutes have passed", ""),
        "c": (False, "the 451 makes Alice's server bounce the message", "a 4xx reply is not a bounce: nobody writes a "
                                                                        "DSN, the message is only late"),
        "d": (False, "Alice has to send the message again", "Alice does not resend anything: her provider's server "
                                                            "keeps the message and retries by itself"),
    },
    "direct-laptop": {
        "a": (True, "the MX checks the connecting address against its DNS blocklist before anything else about the "
                    "message, and home address ranges are listed", ""),
        "b": (True, "554 and 5.7.1 are permanent: the MX will never take mail from this address, retrying changes "
                    "nothing", ""),
        "c": (False, "the MX does not know the recipient", "bob@example.net exists: the refusal is about who is "
                                                           "sending, not about Bob"),
        "d": (False, "the MX found the message's content suspicious", "the refusal came at RCPT TO, before DATA: the "
                                                                      "content was never sent"),
    },
})

#: Words a student may use for the two classes of SMTP refusal (RFC 5321 section 4.2.1, RFC 3463 class 4 and 5).
_TEMPORARY = {"temporary", "temporarily", "transient", "4xx", "4", "soft", "try again", "try later", "retry",
              "later", "deferred", "defer", "transient failure", "temporary failure", "persistent transient failure"}
_PERMANENT = {"permanent", "permanently", "5xx", "5", "hard", "fatal", "permanent failure", "bounce", "rejected",
              "never", "final"}


def check_reply_class(reply: str, answer: Any) -> Feedback:
    """4xx or 5xx: is the refusal ``reply`` temporary (the sender retries) or permanent (it gives up and bounces)?

    >>> check_reply_class("451 4.7.1 Try again later", "temporary").ok
    True
    >>> print(check_reply_class("550 5.1.1 User unknown", "try again"))
    ✗ Not quite: 550 starts with 5: a permanent failure. The sending server gives up at once and writes a bounce; retrying would get the same answer.
    """
    if _unanswered(answer):
        return _TODO
    code = str(reply).strip()[:3]
    if not (code.isdigit() and code[0] in "45"):
        return _wrong(f"{reply!r} is not a 4xx or 5xx SMTP reply.")
    given = str(answer).strip().lower().rstrip(".")
    given_class = "4" if given in _TEMPORARY or given.startswith("4") else "5" if given in _PERMANENT or \
        given.startswith("5") else None
    if given_class is None:
        return _wrong(f"{answer!r} is neither 'temporary' nor 'permanent'.")
    if given_class == code[0] == "4":
        return _right(f"Right: {code} starts with 4, a temporary failure: the sending server keeps the message and "
                      "tries again later; no bounce yet.")
    if given_class == code[0] == "5":
        return _right(f"Right: {code} starts with 5, a permanent failure: the sending server stops trying and writes "
                      "a bounce (a mail program shows the error).")
    if code[0] == "4":
        return _wrong(f"{code} starts with 4: a temporary failure. The sending server keeps the message in its queue "
                      "and tries again; only when the retries run out (days later) does it bounce.")
    return _wrong(f"{code} starts with 5: a permanent failure. The sending server gives up at once and writes a "
                  "bounce; retrying would get the same answer.")


def check_greylisting_delay(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: in greylisting, how long after the refused attempt does Bob's MX take the message?

    Accepts seconds, or minutes written as ``"5 min"`` / a number below 30. The expected value is the simulator's.
    """
    journey = _journey("greylisting")
    refused = next(a for a in journey.attempts if a.by_server == "mx.example.net")
    taken = next(h for h in journey.hops if h.by_server == "mx.example.net")
    wait = (taken.date - refused.date).total_seconds()  # type: ignore[operator]
    if _unanswered(answer):
        return _TODO
    text = str(answer).strip().lower()
    number = "".join(c for c in text.split("min")[0].split("s")[0] if c.isdigit() or c == ".")
    try:
        value = float(number)
    except ValueError:
        return _wrong(f"{answer!r} is not a number of seconds or minutes.")
    seconds = value * 60 if ("min" in text or value < 30) else value
    if abs(seconds - wait) <= 60:
        verdict = _right(f"Right: {wait:.0f} s, about {wait / 60:.0f} minutes. The first attempt got 451 4.7.1; "
                         "smtp.example.org waited its backoff and the greylist let the retry in.")
    elif seconds < wait:
        verdict = _wrong(f"{seconds:.0f} s is too soon. After a 4xx, Postfix waits at least minimal_backoff_time "
                         f"(300 s) before trying again: here {wait:.0f} s passed.")
    else:
        verdict = _wrong(f"{seconds:.0f} s is too long: the first retry comes after the backoff (300 s), and by then "
                         f"the greylist's 5 minutes are over; here {wait:.0f} s passed.")
    return _explained(verdict, "greylisting", why)


_CHECK_WORDS = {  # what a student may call each check a receiving MX makes on the sending host
    "blocklist": ("blocklist", "block list", "blacklist", "black list", "dnsbl", "rbl", "spamhaus", "zen",
                  "zen.dnsbl.example", "listed", "reject_rbl_client"),
    "spf": ("spf", "sender policy framework", "policyd-spf", "5.7.23"),
    "reverse dns": ("reverse dns", "rdns", "ptr", "reverse", "reverse hostname", "hostname", "no ptr"),
    "port 25": ("port 25", "port", "25", "isp", "timeout", "timed out", "connection timed out", "firewall"),
    "delivered": ("none", "nothing", "delivered", "accepted", "no check"),
}


def _which_check(journey: Journey) -> str:
    """Which check stopped a direct-from-laptop journey, read from the simulator's outcome."""
    outcome = journey.outcome
    assert outcome is not None
    if outcome.kind == "delivered":
        return "delivered"
    reply = outcome.reply or ""
    if "blocked using" in reply:
        return "blocklist"
    if "SPF" in reply:
        return "spf"
    if "reverse hostname" in reply:
        return "reverse dns"
    return "port 25"


def check_first_obstacle(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: in direct-from-laptop with the port-25 block turned off (everything else as it is),
    which check stops the laptop now? Accepts the check's name in many words, or its status code."""
    journey = _journey("direct-from-laptop", port25_blocked=False)
    expected = _which_check(journey)
    status = journey.outcome.status if journey.outcome else ""  # type: ignore[union-attr]
    if _unanswered(answer):
        return _TODO
    given = _name(answer)
    named = next((key for key, words in _CHECK_WORDS.items() if given in words or any(w in given for w in words
                                                                                     if len(w) > 4)), None)
    if given in (status, (journey.outcome.reply or "")[:3] if journey.outcome else ""):  # type: ignore[union-attr]
        named = expected
    if named == expected:
        verdict = _right(f"Right: the {expected} check ({journey.outcome.reply}).")  # type: ignore[union-attr]
    elif named == "spf":
        verdict = _wrong("SPF would fail too, but Postfix asks the blocklist first: client restrictions "
                         "(smtpd_client_restrictions) come before the recipient restrictions where the SPF policy "
                         "service runs.")
    elif named == "reverse dns":
        verdict = _wrong("the laptop's address has a PTR name (host-203-0-113-45.isp.example): the reverse DNS check "
                         "passes. Look at the MX's reply in the SMTP tab.")
    elif named == "port 25":
        verdict = _wrong("you turned the port-25 block off: this time the connection gets through to Bob's MX.")
    elif named == "delivered":
        verdict = _wrong("the MX still refuses: read its reply after RCPT TO.")
    else:
        verdict = _wrong(f"{answer!r} names no check: choose blocklist, SPF, reverse DNS or port 25.")
    return _explained(verdict, "direct-laptop", why)


def check_who_tells_alice(answer: Any) -> Feedback:
    """In direct-from-laptop with the port-25 block off, Bob's MX refuses with 554. Who tells Alice?"""
    journey = _journey("direct-from-laptop", port25_blocked=False)
    if _unanswered(answer):
        return _TODO
    assert journey.bounce is None, "a mail program writes no bounce"
    given = _name(answer)
    if any(w in given for w in ("mail program", "mail client", "client", "thunderbird", "laptop", "error", "outlook",
                                "her program", "mua", "dialog")):
        return _right("Right: her mail program itself, with an error message. It was the SMTP client when the MX said "
                      "554, and a mail program writes no bounces: there is no DSN at all.")
    if "mx" in given or "bob" in given or "example.net" in given:
        return _wrong("Bob's MX refused during SMTP, so it never held the message: a refusing server writes no bounce.")
    if "smtp.example.org" in given or "provider" in given or "submission" in given:
        return _wrong("her provider's server was never involved: the laptop spoke to Bob's MX directly.")
    if "bounce" in given or "dsn" in given or "nobody" in given:
        return _wrong("nobody writes a bounce here: the one that gets the 554 is the laptop's mail program, "
                      "which shows it as an error.")
    return _wrong(f"{answer!r} is not it: who was speaking SMTP to Bob's MX when it said 554?")


def check_delay_action(answer: Any) -> Feedback:
    """What does the ``Action:`` field of a delay warning say (RFC 3464 section 2.3.3)? Computed from the DSN the
    sending server writes for the deferred scenario."""
    from .simulate import delay_warning

    warning = email.message_from_bytes(delay_warning(sc.run("deferred")), policy=email.policy.default)
    status = next(p for p in warning.walk() if p.get_content_type() == "message/delivery-status")
    action = status.as_string().split("Action:", 1)[1].split()[0]
    return _one_of(answer, action,
                   f"Right: Action: {action}. The server says it is still trying; a DSN with Action: failed comes only "
                   "when it gives up.",
                   {"failed": "failed is for a bounce: the server has given up. A delay warning says it keeps trying.",
                    "delivered": "delivered is for a success report (RFC 3461 NOTIFY=SUCCESS), not a warning.",
                    "relayed": "relayed means passed on to a system that cannot report further."},
                   "Read the message/delivery-status part of the warning.")


__all__ += ["check_delay_action", "check_first_obstacle", "check_greylisting_delay", "check_reply_class",
            "check_who_tells_alice"]


# ------------------------------------------------------------------------------ trust across hops
def _trust(**settings: Any) -> tuple[Journey, list[Any]]:
    """The journey and the receipts (what each receiving server concluded) of a trust-lab situation."""
    from .widgets.trust import TrustSettings, run_trust, trust_receipts

    chosen = TrustSettings(**settings)
    return run_trust(chosen)[0], trust_receipts(chosen)


def _kind(answer: Any) -> str:
    """An outcome as typed, in the simulator's words: delivered or rejected (or the text itself)."""
    given = _name(answer)
    if given in ("delivered", "deliver", "accepted", "accept", "inbox", "yes", "received", "arrives"):
        return "delivered"
    if given in ("rejected", "reject", "refused", "refuse", "no", "550", "blocked"):
        return "rejected"
    return given


def _mechanisms(answer: Any) -> set[str]:
    """The checks named in an answer: 'DKIM', "Alice's DKIM signature", ('spf', 'dkim') ..."""
    text = " ".join(str(a) for a in answer) if isinstance(answer, (list, tuple, set)) else str(answer)
    text = text.lower()
    return {m for m in ("spf", "dkim", "arc") if m in text}


def check_forwarding_with_reject(outcome: Any, passed_by: Any) -> Feedback:
    """forwarding with example.org at p=reject (no SRS, no ARC): is the message delivered, and which check carries
    DMARC at Bob's MX?"""
    journey, receipts = _trust(scenario="forwarding", srs=False, arc=False, dmarc="reject")
    final = receipts[-1]
    kind = journey.outcome.kind if journey.outcome else "?"
    carried = set(final.dmarc_passed_by)
    if _unanswered(outcome) and _unanswered(passed_by):
        return _TODO
    given = _kind(outcome)
    spf_words = (f"SPF says {final.spf} there: it checks the address of the connecting server, {final.client_ip} (the "
                 f"forwarder), against {final.spf_domain}'s SPF record, which does not list it")
    if given != kind:
        if kind == "delivered":
            return _wrong(f"{final.server} delivers it. {spf_words}; but DMARC passes when EITHER SPF or DKIM passes "
                          f"for a domain aligned with From: ({final.from_domain}), and Alice's DKIM signature survived "
                          "the forwarding: the forwarder changed the envelope, not the signed header fields and body.")
        return _wrong(f"the outcome is {kind}: {journey.outcome.detail if journey.outcome else ''}")
    if _unanswered(passed_by):
        return Feedback(False, f"The outcome is right ({kind}). Now say which check carried DMARC at {final.server}: "
                               "'spf', 'dkim' or 'arc'.", answered=False)
    named = _mechanisms(passed_by)
    if named and named <= carried:
        return _right(f"Right: {kind}. {spf_words}, but DKIM signs the content, not the route: Alice's signature "
                      f"(d={final.from_domain}) still verifies, it is aligned with From:, so DMARC passes and p=reject "
                      "does not apply. SPF failing alone never makes DMARC fail.")
    if "spf" in named:
        return _wrong(f"{spf_words}. Look at the spf= result {final.server} wrote.")
    if "arc" in named:
        return _wrong(f"ARC is {final.arc} at {final.server}: nobody in this situation adds an ARC set (the switch is off). "
                      "DMARC never needed it here.")
    return _wrong(f"{passed_by!r} is not one of 'spf', 'dkim' or 'arc'.")


def check_list_broken_signature(answer: Any) -> Feedback:
    """mailing-list as built: which DKIM signature (its d= domain) does Bob's MX find broken?"""
    _journey_, receipts = _trust(scenario="mailing-list")
    final = receipts[-1]
    broken = {d for d, result in final.dkim if result != "pass"}
    passed = {d for d, result in final.dkim if result == "pass"}
    if _unanswered(answer):
        return _TODO
    given = _name(answer).removeprefix("d=").removeprefix("header.d=").removeprefix("@")
    if given in broken or (given in ("alice", "alice's", "the author's", "author", "the author") and final.from_domain in broken):
        results = ", ".join(f"{d}: {r}" for d, r in final.dkim)
        return _right(f"Right: {', '.join(sorted(broken))}. The list added a footer to the body and a tag to the Subject, "
                      "so the body hash (bh=) and the signed Subject no longer match what Alice's server signed "
                      f"({final.server} wrote {results}). The list's own signature was made after the changes.")
    if given in passed:
        return _wrong(f"{given} signed the message after adding its footer and Subject tag, so its signature covers the "
                      "changed message and verifies. Which signature was made before the changes?")
    if given in ("none", "nothing", "no", "neither"):
        return _wrong("one signature is broken: the list changed the body (a footer) and the Subject, which the older "
                      "signature covers (its bh= body hash and h= list).")
    return _wrong(f"{answer!r} is not it: give the d= domain of a DKIM-Signature field, as Bob's MX wrote it in "
                  "header.d= or header.i=.")


#: The changes exercise 3 of the trust lesson offers, as (setting, value) for the trust lab.
LIST_FIXES: dict[str, tuple[str, Any]] = {"footer": ("footer", False), "arc": ("arc", True), "srs": ("srs", True),
                                          "trust_arc": ("trust_arc", True), "dmarc": ("dmarc", "none")}


def _fix_of(answer: Any) -> str | None:
    text = _name(answer).replace("-", "_").replace(" ", "_")
    if "footer" in text or "tag" in text:
        return "footer"
    if "trust" in text:
        return "trust_arc"
    if "dmarc" in text or "p=none" in text or text == "none":
        return "dmarc"
    if "arc" in text:
        return "arc"
    if "srs" in text:
        return "srs"
    return None


def check_list_fix(answer: Any) -> Feedback:
    """mailing-list with the footer on, no ARC and example.org at p=reject is refused: name one change the *list*
    can make so that Bob receives the message ('footer', 'arc', 'srs', 'trust_arc' or 'dmarc')."""
    if _unanswered(answer):
        return _TODO
    base = {"scenario": "mailing-list", "arc": False, "footer": True, "trust_arc": True, "dmarc": "reject"}
    fix = _fix_of(answer)
    if fix is None:
        return _wrong(f"{answer!r} is not one of the switches: 'footer', 'arc', 'srs', 'trust_arc' or 'dmarc'.")
    setting, value = LIST_FIXES[fix]
    journey, receipts = _trust(**{**base, setting: value})
    final = receipts[-1]
    delivered = journey.outcome is not None and journey.outcome.kind == "delivered"
    list_side = fix in ("footer", "arc", "srs")
    if fix == "footer" and delivered:
        return _right(f"Right: without the footer and the Subject tag the list changes nothing Alice's server signed, so "
                      f"her signature still verifies at {final.server}, aligned with From: {final.from_domain}: DMARC "
                      "passes through DKIM.")
    if fix == "arc" and delivered:
        untrusted, _r = _trust(**{**base, "arc": True, "trust_arc": False})
        extra = (" ARC only reports: switch off 'Bob's MX trusts ARC' and the message is refused again - accepting is "
                 "the receiver's decision." if untrusted.outcome is not None and untrusted.outcome.kind == "rejected" else "")
        seen = receipts[0]
        return _right(f"Right: DMARC still {final.dmarc}s at {final.server} (the footer broke Alice's signature), but "
                      f"the list's ARC set records what {seen.server} found when the message arrived there (SPF "
                      f"{seen.spf}, DKIM {'pass' if 'dkim' in seen.dmarc_passed_by else 'fail'}, DMARC {seen.dmarc}), "
                      f"and {final.server} trusts that sealer, so it accepts.{extra}")
    if fix == "srs":
        return _wrong(f"a list already sends with its own envelope sender, so SPF passes for {final.spf_domain}; but that "
                      f"domain is not aligned with From: {final.from_domain}, and SRS would not change that. SPF can "
                      "never carry DMARC through a list; the signature has to survive, or the list has to vouch.")
    if fix == "trust_arc":
        return _wrong(f"that is a setting of Bob's provider, not of the list; and {final.server} already trusts ARC - "
                      "but with no ARC set in the message there is nothing to trust.")
    if fix == "dmarc":
        return _wrong("p=none would let it through, but that is example.org's choice, not the list's, and it would let "
                      "forged mail with Alice's From: through as well. What can the list change?")
    if not list_side or not delivered:
        return _wrong(f"with that change the message is still {journey.outcome.kind if journey.outcome else '?'}.")
    return _wrong("that does not help here.")


def check_dmarc_reject_bounce(answer: Any) -> Feedback:
    """dmarc-reject: who receives the bounce (an address, or 'nobody')?"""
    journey = sc.run("dmarc-reject")
    bounce = journey.bounce
    target = bounce.outcome.mailbox if bounce is not None and bounce.outcome is not None else None
    writer = bounce.hops[0].by_server if bounce is not None and bounce.hops else None
    forged = sc.get("dmarc-reject").from_header or ""
    if _unanswered(answer):
        return _TODO
    given = _name(answer)
    contrast = sc.run("spam-accept-then-bounce").bounce
    contrast_to = contrast.outcome.mailbox if contrast is not None and contrast.outcome is not None else forged
    if target and given == _name(target):
        return _right(f"Right: {target}. Bob's MX refused during SMTP, so the server still holding the message, {writer}, "
                      f"writes the bounce, to its own envelope sender. {forged} is only in the From: header, which "
                      f"bounces never use. Contrast spam-accept-then-bounce: the filter had already accepted, so its "
                      f"bounce went to the forged envelope sender {contrast_to} (backscatter).")
    if given == _name(forged):
        return _wrong(f"{forged} appears only in the From: header. A bounce goes to the envelope sender (MAIL FROM), and "
                      f"the server that writes it is the one still holding the message after the refusal: {writer}.")
    if given in ("nobody", "none", "no one", "noone", "nothing"):
        return _wrong(f"a refusal during SMTP does not make the message vanish: {writer} still holds it and writes a "
                      "bounce to its own envelope sender. Look at the journey's bounce.")
    if writer and given == _name(writer):
        return _wrong(f"{writer} writes the bounce. To which address does it send it?")
    if given.endswith("@example.net") or given == "bob":
        return _wrong("Bob's MX refused the message: Bob receives nothing, not even a bounce.")
    return _wrong(f"{answer!r} is not it: give the address the bounce is delivered to.")


__all__ += ["LIST_FIXES", "check_dmarc_reject_bounce", "check_forwarding_with_reject", "check_list_broken_signature",
            "check_list_fix"]


# ------------------------------------------------------------------------------ reading Received lines, trace and
# result headers, forwarding and loops, analyse your own email: predict, run, explain
REASONS.update({
    "exim-from": {
        "a": (True, "Exim writes first the name it found for the address in the reverse DNS, and verified", ""),
        "b": (True, "the EHLO claim [192.168.1.23] differs from that name, so Exim adds it inside the brackets as "
                    "helo=[192.168.1.23]", ""),
        "c": (False, "the first word after 'from' is always the name claimed in EHLO",
              "only Postfix, Sendmail, Gmail and Exchange write the claim first; Exim and qmail start with the "
              "reverse DNS name"),
        "d": (False, "Exim never records the HELO claim", "Exim records it as helo= whenever it differs from the "
                                                          "verified name"),
    },
    "delivered-to": {
        "a": (True, "the mailbox server writes Delivered-To with the envelope recipient it delivers to (RFC 9228)", ""),
        "b": (True, "the forwarder rewrote the envelope recipient (RCPT TO) to bob@example.net; nobody rewrites the "
                    "To: line", ""),
        "c": (False, "Delivered-To copies the To: line", "Delivered-To records the envelope recipient at delivery, "
                                                          "which forwarding and aliases change; To: is what Alice "
                                                          "wrote"),
        "d": (False, "Delivered-To is written by the first server the message reaches",
              "it is written at delivery (into a mailbox, or when a local delivery agent forwards), not at "
              "submission"),
    },
    "hop-limit-two": {
        "a": (True, "the server counts the Received lines, the one it is about to add included: 2 reaches the "
                    "limit", ""),
        "b": (True, "a server cannot tell a long honest route from a loop: it only counts, so it reports every "
                    "message over the limit as a (suspected) loop", ""),
        "c": (False, "the message really went round in a circle", "it went from smtp.example.org to mx.example.net "
                                                                   "once; no server saw it twice"),
        "d": (False, "mx.example.net found Alice's message to be spam", "nothing here reads the content: only the "
                                                                        "number of Received lines counts"),
    },
    "slowest-hop": {
        "a": (True, "the delay on a row is the time between the previous row's date and this row's: the message "
                    "waited at the previous server (its queue, its filters) and travelled to this one", ""),
        "b": (False, "the delay on a row is the time the server named after 'by' on that row held the message",
              "a server dates its Received line when it receives the message; the time it then holds it shows up "
              "in the next row's delay"),
        "c": (True, "every date comes from its own server's clock, so a delay of a second or two can also be two "
                    "clocks that disagree", ""),
        "d": (False, "the topmost server held it longest, because its line is the newest",
              "the newest line is simply the last hop; how long each server held the message is in the differences "
              "between the dates"),
    },
    "gmail-hops": {
        "a": (True, "only fields named Received count as hops; X-Received is another field name, which Google uses "
                    "for steps inside its own network", ""),
        "b": (False, "ARC-Seal, DKIM-Signature and Authentication-Results fields are hops too",
              "they record checks and signatures, not a server accepting the message"),
        "c": (True, "the sender's server wrote no Received line of its own in this copy, so the first line is "
                    "mx.google.com's", ""),
        "d": (False, "every server named anywhere in the header counts", "a name in Received-SPF or "
                                                                         "Authentication-Results is a check, not "
                                                                         "a hop"),
    },
})


def check_exim_from_prediction(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: when every server of three-hops runs Exim, what is the first word after ``from``
    in the Received line of hop 1 (Alice's laptop greets with ``EHLO [192.168.1.23]``)?

    >>> check_exim_from_prediction("host-203-0-113-45.isp.example", "ab").ok
    True
    """
    journey = _journey("three-hops", mta="exim")
    first = journey.received_headers()[-1].split()
    expected = first[first.index("from") + 1] if "from" in first else ""
    hop = journey.hops[0]
    verdict = _one_of(answer, expected,
                      f"Right: {expected}, the reverse DNS name of {hop.ip}. Exim puts its own finding first and the "
                      f"claim after helo= ({hop.helo}), because the two differ.",
                      {hop.helo or "[192.168.1.23]": f"{hop.helo} is the EHLO claim: Postfix, Sendmail and Gmail write "
                                                     "it first, but Exim starts with the reverse name it verified.",
                       hop.ip or "203.0.113.45": "the address comes inside the square brackets; first comes a name.",
                       "smtp.example.org": "smtp.example.org is the server that writes the line (after 'by')."},
                      "Run the cell and read the word after 'from' in the bottom Received line.")
    return _explained(verdict, "exim-from", why)


def check_return_path_writer(answer: Any) -> Feedback:
    """Which server of three-hops wrote the Return-Path field?

    >>> check_return_path_writer("imap.example.net").ok
    True
    """
    journey = _journey("three-hops")
    writer = next((h for h in journey.hops if any(x.startswith("Return-Path:") for x in h.added_headers)), None)
    name = writer.by_name if writer is not None else ""
    sender = writer.envelope_from if writer is not None and writer.envelope_from else "alice@example.org"
    hints = {h.by_name or "": f"{h.by_name} passed the envelope sender on in MAIL FROM; only the server that delivers "
                              "into the mailbox writes it down as Return-Path (RFC 5321 section 4.4)."
             for h in journey.hops if h.by_name != name}
    hints["alice@example.org"] = "that is the address Return-Path holds; the question asks which server wrote it."
    return _one_of(answer, name or "",
                   f"Right: {name}, the server that delivered into Bob's mailbox, wrote down the envelope sender "
                   f"<{sender}> as Return-Path: bounces would go there.",
                   hints, "Step through three-hops and look at which hop adds Return-Path.")


def check_delivered_to_prediction(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: in forwarding, Alice writes to bob@alumni.university.example; which address does
    the Delivered-To field of Bob's copy hold?

    >>> check_delivered_to_prediction("bob@example.net", "a").ok
    True
    """
    journey = _journey("forwarding")
    msg = email.message_from_bytes(journey.message, policy=email.policy.default)
    delivered = str(msg.get("Delivered-To", "")).strip()
    written_to = str(msg.get("To", "")).strip()
    verdict = _one_of(answer, delivered,
                      f"Right: {delivered}. The mailbox server wrote the envelope recipient it delivered to, which the "
                      f"forwarder had changed; To: still says {written_to}.",
                      {written_to: f"{written_to} is the To: line and the first envelope recipient; the forwarder "
                                   f"changed the envelope, and Delivered-To records the address of the final "
                                   "delivery.",
                       "alice@example.org": "Alice's address is the envelope sender: it goes into Return-Path."},
                      "Run the cell and read the Delivered-To line of Bob's copy.")
    return _explained(verdict, "delivered-to", why)


def check_hop_limit_two_prediction(answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: with a hop limit of 2 on every server, which server refuses the honest three-hops
    message?

    >>> check_hop_limit_two_prediction("mx.example.net", "ab").ok
    True
    """
    journey = _journey("three-hops", hop_limit=2)
    outcome = journey.outcome
    refuser = outcome.server if outcome is not None and outcome.server else ""
    reply = outcome.reply if outcome is not None and outcome.reply else ""
    hints = {"smtp.example.org": "smtp.example.org counts 1 Received line, its own: under the limit of 2.",
             "imap.example.net": "the message never reaches imap.example.net: a server before it refuses it.",
             "nobody": "an honest message is refused too: the count is all a server looks at."}
    verdict = _one_of(answer, refuser,
                      f"Right: {refuser} answers {reply}. The outcome is labelled '{outcome.kind if outcome else ''}' "
                      "because that is what the server reports: it cannot see the route, only the count.",
                      {k: v for k, v in hints.items() if _name(k) != _name(refuser)},
                      "Run three-hops with the hop limit at 2 and read the outcome.")
    return _explained(verdict, "hop-limit-two", why)


def check_gmail_hops_prediction(journey: Journey, answer: Any, why: Any = None) -> Feedback:
    """Predict, run, explain: how many hops does ``analyze`` find in the real Gmail sample (``journey``)?"""
    n = len(journey.hops)
    internal = [h for h in journey.hops if h.ip is None]
    verdict = _number(answer, n, "Count the fields named exactly Received; every one is a hop.",
                      "Only fields named exactly Received count: X-Received, ARC-* and Authentication-Results do not.",
                      f"Right: {n}: mx.google.com accepting it from the sender's server, then "
                      f"{len(internal)} step inside Google written as a Received line without an address.")
    return _explained(verdict, "gmail-hops", why)


__all__ += ["check_delivered_to_prediction", "check_exim_from_prediction", "check_gmail_hops_prediction",
            "check_hop_limit_two_prediction", "check_return_path_writer"]
