"""The XMPP contrast, runnable: the same message sent chat-style, server to server directly, next to SMTP's
queue and retries.

XMPP (RFC 6120) has no relays and no queue between servers: Alice's server finds Bob's server in the DNS
(``_xmpp-server._tcp`` SRV record, RFC 6120 §3.2), opens one server-to-server stream (§4, port 5269)
and routes the stanza over it (§10.4). When that stream cannot be set up, the local server returns an error
stanza to the sender at once (§10.4.3): ``<remote-server-not-found/>`` (§8.3.3.16, type ``cancel``); nothing
is kept for a later try. SMTP instead keeps the message in the sending server's queue and tries again with
growing intervals: Postfix waits the message's age, at least ``minimal_backoff_time`` (300 s) and at most
``maximal_backoff_time`` (4000 s), and gives up after ``maximal_queue_lifetime`` (5 days).

Both sides read the same :class:`~mailhops.topology.Topology`: Bob's chat server counts as down when every
inbound server (MX) of his domain is down, so ``primary_mx_down`` and the ``deferred`` scenario take both down.

>>> chat = send_xmpp(run_with("deferred")[1], "alice@example.org", "bob@example.net")
>>> chat.delivered, chat.condition, chat.seconds < 1
(False, 'remote-server-not-found', True)
>>> mail = send_smtp_with_retries("three-hops", down_for_s=1800)
>>> mail.delivered, [a.result for a in mail.attempts]
(True, ['deferred', 'deferred', 'deferred', 'deferred', 'delivered'])
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import ipywidgets as W

from ..errors import MailhopsError
from ..journey import Journey, SmtpLine
from ..topology import Topology, domain_of
from .knobs import Knobs, run_with
from .views import MONO, PAPER, error_html

__all__ = [
    "POSTFIX_QUEUE",
    "ChatResult",
    "ChatVsMail",
    "QueueAttempt",
    "QueuedResult",
    "compare_text",
    "retry_times",
    "send_smtp_with_retries",
    "send_xmpp",
]

STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"  # RFC 6120 §8.3.2
#: Postfix's queue defaults (postconf(5)), in seconds.
POSTFIX_QUEUE = {"minimal_backoff_time": 300, "maximal_backoff_time": 4000, "maximal_queue_lifetime": 5 * 86400}


def _chat_host(domain: str) -> str:
    return f"xmpp.{domain}"


def _peer_up(topology: Topology, domain: str) -> bool:
    inbound = [s for s in topology.servers.values() if s.domain == domain and s.role == "mx"]
    return any(s.up for s in inbound) if inbound else True


def _error_stanza(sender: str, recipient: str, condition: str, kind: str, text: str) -> str:
    """The error stanza the sender's server returns (RFC 6120 §8.3): the original ``to`` becomes ``from``."""
    message = ET.Element("message", {"from": recipient, "to": f"{sender}/laptop", "type": "error", "id": "m1"})
    error = ET.SubElement(message, "error", {"type": kind})
    ET.SubElement(error, condition, {"xmlns": STANZAS_NS})
    ET.SubElement(error, "text", {"xmlns": STANZAS_NS, "xml:lang": "en"}).text = text
    return ET.tostring(message, encoding="unicode")


@dataclass
class ChatResult:
    """What happened to a chat message: ``delivered`` (now, or ``stored`` offline), the seconds until the
    sender knew, the stream exchange as lines (``C``: Alice's server, ``S``: Bob's), and the error condition
    and stanza when it failed."""

    delivered: bool
    seconds: float
    lines: list[SmtpLine] = field(default_factory=list)
    condition: str | None = None
    stanza: str | None = None
    stored: bool = False

    def summary(self) -> str:
        if self.delivered:
            where = "stored on Bob's server until he comes online" if self.stored else "shown in Bob's app at once"
            return f"delivered in {self.seconds:.1f} s: {where}"
        return f"error after {self.seconds:.1f} s: <{self.condition}/>, returned to Alice; nothing is kept or retried"


def send_xmpp(topology: Topology, sender: str, recipient: str, *, body: str = "Lunch on Friday?",
              recipient_online: bool = True, offline_storage: bool = True) -> ChatResult:
    """Send ``body`` from ``sender`` to ``recipient`` the XMPP way over ``topology``: one direct
    server-to-server stream, no relay, no queue.

    Bob's chat server is down when every MX of his domain is down. Then Alice's server answers her at once with
    ``<remote-server-not-found/>``. When Bob is offline his server keeps the message if it offers offline
    storage (XEP-0160), else it answers ``<service-unavailable/>`` (RFC 6121 §8.5.2.2.1).

    >>> send_xmpp(run_with("three-hops")[1], "alice@example.org", "bob@example.net").summary()
    "delivered in 0.2 s: shown in Bob's app at once"
    """
    here, there = domain_of(sender), domain_of(recipient)
    remote = _chat_host(there)
    lines = [SmtpLine("C", f"(DNS: _xmpp-server._tcp.{there}. SRV 0 5 5269 {remote}.)")]
    if not _peer_up(topology, there):
        lines.append(SmtpLine("C", f"(connect to {remote}:5269: Connection refused)"))
        stanza = _error_stanza(sender, recipient, "remote-server-not-found", "cancel",
                               f"Server-to-server connection failed: {remote} does not answer")
        lines.append(SmtpLine("C", f"(to Alice's app) {stanza}"))
        return ChatResult(False, 0.1, lines, "remote-server-not-found", stanza)
    lines += [
        SmtpLine("C", f"<stream:stream from='{here}' to='{there}' version='1.0' xmlns='jabber:server' "
                      "xmlns:stream='http://etherx.jabber.org/streams'>"),
        SmtpLine("S", f"<stream:stream from='{there}' to='{here}' version='1.0' id='s2s-1'> "
                      "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"),
        SmtpLine("C", "(STARTTLS, then SASL EXTERNAL with the server certificates: RFC 6120 §5, §6)"),
        SmtpLine("C", f"<message from='{sender}/laptop' to='{recipient}' type='chat' id='m1'>"
                      f"<body>{html.escape(body)}</body></message>"),
    ]
    if recipient_online:
        lines.append(SmtpLine("S", f"(pushed to {recipient}/phone over its client stream)"))
        return ChatResult(True, 0.2, lines)
    if offline_storage:
        lines.append(SmtpLine("S", f"({recipient} is offline: kept as an offline message, XEP-0160)"))
        return ChatResult(True, 0.2, lines, stored=True)
    stanza = _error_stanza(sender, recipient, "service-unavailable", "cancel", f"{recipient} is offline")
    lines.append(SmtpLine("S", stanza))
    return ChatResult(False, 0.2, lines, "service-unavailable", stanza)


def retry_times(*, minimal_backoff_time: int = 300, maximal_backoff_time: int = 4000,
                maximal_queue_lifetime: int = 5 * 86400) -> list[int]:
    """When a Postfix-style queue tries a deferred message, in seconds after the first try.

    After each failure the next try waits the message's age, at least ``minimal_backoff_time`` and at most
    ``maximal_backoff_time`` (Postfix's qmgr), so the waits double, then level off, until the message is
    older than ``maximal_queue_lifetime``.

    >>> retry_times()[:7]
    [0, 300, 600, 1200, 2400, 4800, 8800]
    >>> len(retry_times())
    112
    """
    times = [0]
    while True:
        age = times[-1]
        wait = min(max(age, minimal_backoff_time), maximal_backoff_time)
        if age + wait > maximal_queue_lifetime:
            return times
        times.append(age + wait)


@dataclass
class QueueAttempt:
    """One try from the sending server's queue: when (seconds after the first), the result and the reply."""

    at_s: float
    result: str
    detail: str


@dataclass
class QueuedResult:
    """SMTP's answer to the same outage: the tries from the queue and the journey of the last one."""

    delivered: bool
    attempts: list[QueueAttempt]
    journey: Journey

    @property
    def seconds(self) -> float:
        return self.attempts[-1].at_s

    def summary(self) -> str:
        tries = len(self.attempts)
        if self.delivered:
            return (f"delivered {_duration(self.seconds)} after the first try, at try {tries}; until then "
                    "the message waited in Alice's server's queue")
        return (f"gave up after {_duration(self.seconds)} and {tries} tries: the bounce tells Alice "
                "(Postfix's maximal_queue_lifetime)")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        hours = round(seconds / 3600, 1)
        return f"{hours:g} hour{'s' if hours != 1 else ''}"
    return f"{round(seconds / 86400, 1):g} days"


def send_smtp_with_retries(scenario: str = "three-hops", *, down_for_s: float = 1800, seed: int = 0) -> QueuedResult:
    """Send the scenario's message while Bob's MX is down for ``down_for_s`` seconds: every try before it is
    back is simulated with the MX down (``deferred``), the first try after with it up. Retries follow
    :func:`retry_times`.

    >>> r = send_smtp_with_retries(down_for_s=10 * 86400)
    >>> r.delivered, r.attempts[-1].result, r.journey.outcome.kind
    (False, 'bounced', 'deferred')
    """
    if down_for_s < 0:
        raise MailhopsError("The outage cannot last a negative time; give 0 or more seconds.")
    attempts: list[QueueAttempt] = []
    down_journey: Journey | None = None
    times = retry_times()
    for at in times:
        if at < down_for_s:
            if down_journey is None:
                down_journey = run_with(scenario, Knobs(primary_mx_down=True), seed=seed)[0]
            failed = down_journey.attempts[-1] if down_journey.attempts else None
            detail = failed.decision if failed is not None else (down_journey.outcome.detail if down_journey.outcome
                                                                   else "")
            attempts.append(QueueAttempt(at, "deferred", detail))
            continue
        journey = run_with(scenario, Knobs(primary_mx_down=False), seed=seed)[0]
        kind = journey.outcome.kind if journey.outcome else "?"
        attempts.append(QueueAttempt(at, "delivered" if kind in ("delivered", "junk") else kind,
                                     journey.outcome.detail if journey.outcome else ""))
        return QueuedResult(kind in ("delivered", "junk"), attempts, journey)
    assert down_journey is not None
    attempts.append(QueueAttempt(POSTFIX_QUEUE["maximal_queue_lifetime"], "bounced",
                                 "4.4.1 message expired after 5 days in the queue: Alice's server writes the bounce"))
    return QueuedResult(False, attempts, down_journey)


def compare_text(down_for_s: float = 1800, scenario: str = "three-hops") -> str:
    """Chat and mail side by side for one outage of Bob's server, in a few lines.

    >>> print(compare_text(0).splitlines()[1])
    XMPP (direct server to server): delivered in 0.2 s: shown in Bob's app at once
    """
    topology = run_with(scenario, Knobs(primary_mx_down=down_for_s > 0))[1]
    chat = send_xmpp(topology, "alice@example.org", "bob@example.net")
    mail = send_smtp_with_retries(scenario, down_for_s=down_for_s)
    head = f"Bob's server down for {_duration(down_for_s)}" if down_for_s else "Bob's server up"
    tries = ", ".join(f"{_duration(a.at_s) if a.at_s else 'at once'}: {a.result}" for a in mail.attempts[:8])
    more = f", … ({len(mail.attempts)} tries)" if len(mail.attempts) > 8 else ""
    return "\n".join([head, f"XMPP (direct server to server): {chat.summary()}",
                      f"SMTP (queue and retries):       {mail.summary()}", f"  tries: {tries}{more}"])


_OUTAGES = [("no outage", 0), ("10 minutes", 600), ("1 hour", 3600), ("6 hours", 6 * 3600), ("1 day", 86400),
            ("3 days", 3 * 86400), ("6 days", 6 * 86400)]


class ChatVsMail(W.VBox):
    """Choose how long Bob's server is down and see chat (XMPP) and mail (SMTP) handle the same message.

    >>> w = ChatVsMail()
    >>> w.outage.value = 3600
    >>> w.chat.condition, w.mail.delivered
    ('remote-server-not-found', True)
    """

    def __init__(self, scenario: str = "three-hops") -> None:
        self.scenario = scenario
        self.outage = W.SelectionSlider(options=_OUTAGES, value=600, description="Bob's server down for",
                                        style={"description_width": "150px"}, layout=W.Layout(width="520px"),
                                        continuous_update=False)
        self.view = W.HTML()
        self.chat: ChatResult | None = None
        self.mail: QueuedResult | None = None
        self.outage.observe(lambda _c: self.update(), "value")
        super().__init__([self.outage, self.view])
        self.update()

    def update(self) -> None:
        """Send the message both ways for the chosen outage and show the two results."""
        try:
            topology = run_with(self.scenario, Knobs(primary_mx_down=self.outage.value > 0))[1]
            self.chat = send_xmpp(topology, "alice@example.org", "bob@example.net")
            self.mail = send_smtp_with_retries(self.scenario, down_for_s=self.outage.value)
        except MailhopsError as err:
            self.view.value = error_html(str(err))
            return
        chat_lines = "<br>".join(html.escape(str(x)) for x in self.chat.lines)
        tries = "<br>".join(html.escape(f"{_duration(a.at_s) if a.at_s else 'first try'}: {a.result} ({a.detail})")
                            for a in self.mail.attempts[:10])
        if len(self.mail.attempts) > 10:
            tries += f"<br>… {len(self.mail.attempts) - 10} more tries"
        self.view.value = (
            f'<div style="display:flex;gap:12px;flex-wrap:wrap">'
            f'<div style="flex:1;min-width:320px;{PAPER}"><b>Chat (XMPP): {html.escape(self.chat.summary())}</b>'
            f'<div style="font-family:{MONO};font-size:11px;margin-top:4px">{chat_lines}</div></div>'
            f'<div style="flex:1;min-width:320px;{PAPER}"><b>Mail (SMTP): {html.escape(self.mail.summary())}</b>'
            f'<div style="font-family:{MONO};font-size:11px;margin-top:4px">{tries}</div></div></div>')
