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


# ------------------------------------------------------------------------------ 02 finding the next hop
#: The MX records of the MX exercise in lesson 2 (preference, host), and the hosts that are down.
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


# ------------------------------------------------------------------------------ 03 reading the trail
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
    if _name(answer) in (_name(hop.rdns or ""), _name(hop.ip or "")):
        return _wrong(f"{answer!r} is what the server found out itself (reverse DNS and the connection's address); "
                      "the claimed name is the first word after 'from'.")
    return _wrong(f"{answer!r} is not it: it is the first word after 'from' in the bottom Received line.")


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


# ------------------------------------------------------------------------------ 04 spam and bounces
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


# ------------------------------------------------------------------------------ 05 forwarding and loops
def check_forwarded_recipient(answer: Any) -> Feedback:
    """In forwarding, which recipient does the forwarder put in RCPT TO when it sends the message on?"""
    journey = _journey("forwarding")
    onward = next(h for h in journey.hops if h.from_server == "mx.alumni.example.edu")
    return _one_of(answer, onward.for_ or "",
                   f"Right: the forwarder rewrites the envelope recipient to {onward.for_}; the To: header still "
                   "says the alumni address.",
                   {"bob@alumni.example.edu": "that is the address Alice wrote to - the forwarder changes it."},
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


# ------------------------------------------------------------------------------ 06 enterprise
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


# ------------------------------------------------------------------------------ 07 analyse your own email
def check_analyzed_hops(journey: Journey, answer: Any) -> Feedback:
    """How many hops did the analyzed message make?"""
    return _number(answer, len(journey.hops), "Count the Received lines of the message.", "Count only Received lines.",
                   "Right: one hop per Received header.")


def check_slowest_hop(journey: Journey, answer: Any) -> Feedback:
    """Which hop (its number) took the longest, judging by the Received dates?"""
    timed = [(h.delay_s, h.n) for h in journey.hops if h.delay_s is not None]
    if not timed:
        return Feedback(False, "This message has no usable dates, so no hop can be timed.", answered=not _unanswered(answer))
    slowest = max(timed)[1]
    return _number(answer, slowest, "Compare the delays in the table.", "Compare the delays in the table.",
                   f"Right: hop {slowest} waited longest ({max(timed)[0]:g} s) - dates come from each server's own clock.")


# ------------------------------------------------------------------------------ 08 explorer
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
