"""Named, documented topologies for every situation the lessons cover.

>>> names()[:3]
['three-hops', 'webmail', 'mx-fallback']
>>> print(get("deferred").summary)
Every MX of the recipient is down: the message waits in the sender's queue (4xx, retried later).
>>> run("unknown-user").outcome.status
'5.1.1'

Addresses and IPs come from the ranges reserved for documentation (example.org/.net/.com and names under
the .example top-level domain, RFC 2606;
192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, RFC 5737), so no lesson ever points at a real host.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import TopologyError, UnknownScenarioError
from .journey import Journey
from .topology import MTA_NAMES, Topology

SPAM_SUBJECT = "YOU HAVE WON A PRIZE"
SPAM_BODY = (
    "Dear friend,\n\nCongratulations, you are the winner of our international lottery!\n"
    "Claim now at http://www.prize-claim.example/claim and send your bank account details.\n"
)


#: The MTAs ``--mta`` can make every SMTP server of a scenario imitate (Dovecot is a mailbox server, not an MTA).
MTA_CHOICES: tuple[str, ...] = tuple(m for m in MTA_NAMES if m != "dovecot")


def use_mta(topology: Topology, mta: str | None) -> Topology:
    """Make every server of ``topology`` that speaks SMTP imitate ``mta``; return the topology.

    Mail clients, webmail front ends and mailbox servers keep theirs, except under Exchange: an organisation
    that runs Exchange delivers into Exchange's own mailboxes (Exchange speaks no LMTP), so its mailbox
    servers become Exchange too. The route and the outcome kind stay the same; the words, ids, hop limits and
    headers change. ``None`` leaves the topology as it is.

    >>> t = use_mta(get("three-hops").build(), "exim")
    >>> [s.mta for s in t.servers.values()]
    ['postfix', 'exim', 'dovecot', 'exim', 'dovecot']
    >>> use_mta(get("three-hops").build(), "notes")
    Traceback (most recent call last):
    ...
    mailhops.errors.TopologyError: There is no MTA called 'notes'; choose one of: postfix, exim, sendmail, qmail, exchange, gmail.
    """
    if mta is None:
        return topology
    if mta not in MTA_CHOICES:
        raise TopologyError(f"There is no MTA called {mta!r}; choose one of: {', '.join(MTA_CHOICES)}.")
    for server in topology.servers.values():
        if server.role in ("client", "webmail"):
            continue
        if server.role == "mailbox" and mta != "exchange":
            continue
        server.mta = mta
        if server.role == "mailbox":
            server.tls = True  # Exchange's hand-off to the Mailbox Transport is TLS-protected SMTP
        if server.label:
            for name in ("Postfix", "Exim", "Sendmail", "qmail", "Exchange", "Dovecot"):
                server.label = server.label.replace(name, _PRODUCT[mta])
    return topology


_PRODUCT = {"postfix": "Postfix", "exim": "Exim", "sendmail": "Sendmail", "qmail": "qmail", "exchange": "Exchange",
            "gmail": "Gmail"}


@dataclass(frozen=True)
class Scenario:
    """A named situation: ``build()`` returns a fresh :class:`Topology`; ``sender`` writes to ``recipient``."""

    name: str
    summary: str
    description: str
    builder: Callable[[], Topology]
    sender: str = "alice@example.org"
    recipient: str = "bob@example.net"
    subject: str = "Lunch on Friday?"
    body: str = "Hi Bob,\n\nshall we have lunch on Friday?\n\nAlice\n"
    expected: str = "delivered"
    expected_status: str = "2.0.0"
    #: The From: header the client writes when it is not the envelope sender (a forger's, in ``dmarc-reject``).
    from_header: str | None = None
    #: Live runs wait until the message's journey is final, not just settled (``greylisting``: the first attempt
    #: is only deferred, the retry delivers).
    live_final: bool = False

    def message(self, seed: int = 0, recipient: str | None = None, *, subject: str | None = None,
                body: str | None = None) -> bytes | None:
        """The message the client writes when its From: differs from the envelope sender, else ``None``."""
        if self.from_header is None:
            return None
        import random

        from .mta.message import new_message
        from .simulate import EPOCH

        return new_message(self.from_header, recipient or self.recipient, subject or self.subject, body or self.body, EPOCH,
                           self.sender.rpartition("@")[2], random.Random(seed))

    def build(self, *, mta: str | None = None) -> Topology:
        """A fresh topology of this scenario; ``mta`` makes its SMTP servers imitate that MTA (:func:`use_mta`)."""
        topo = self.builder()
        topo.name = self.name
        topo.description = self.description
        return use_mta(topo, mta)

    def run(self, *, seed: int = 0, topology: Topology | None = None, recipient: str | None = None,
            mta: str | None = None) -> Journey:
        """Send this scenario's message (through ``topology`` if given, e.g. one a widget changed)."""
        from .simulate import send

        journey = send(topology or self.build(mta=mta), self.sender, recipient or self.recipient, subject=self.subject,
                       body=self.body, seed=seed, message=self.message(seed, recipient))
        journey.scenario = self.name
        return journey

    def run_live(self, *, seed: int = 0, timeout: float = 60.0, final: bool = False,
                 retry_schedule: tuple[float, ...] | None = None, mta: str | None = None) -> Journey:
        """Send this scenario's message through real servers on 127.0.0.1 (see :mod:`mailhops.live`).

        The servers stop before this returns. A deferred message is reported as ``deferred`` (as in the
        simulation) unless ``final=True``, which waits for the retry schedule to end in a bounce.
        """
        from .live import RETRY_SCHEDULE, LiveTopology

        schedule = RETRY_SCHEDULE if retry_schedule is None else retry_schedule
        with LiveTopology(self.build(mta=mta), seed=seed, retry_schedule=schedule) as live:
            journey = live.send(self.sender, self.recipient, subject=self.subject, body=self.body,
                                timeout=timeout, final=final or self.live_final, message=self.message(seed))
        journey.scenario = self.name
        return journey


# ---------------------------------------------------------------------------------------------- #
# building blocks


def _sender_side(t: Topology, *, webmail: bool = False) -> None:
    """example.org: Alice's laptop, her provider's submission server (also its MX) and her mailbox."""
    t.add_domain("example.org")
    t.add_server("laptop.example.org", "client", "203.0.113.45", domain="example.org", helo="[192.168.1.23]",
                 rdns="host-203-0-113-45.isp.example", tz_minutes=60, label="Alice's laptop (Thunderbird)")
    if webmail:
        t.add_server("webmail.example.org", "webmail", "192.0.2.80", domain="example.org", tz_minutes=60,
                     label="webmail (Roundcube)")
    t.add_server("smtp.example.org", "submission", "192.0.2.25", domain="example.org", mx_preference=10,
                 tz_minutes=60, label="submission + MX (Postfix)")
    t.add_server("imap.example.org", "mailbox", "192.0.2.143", domain="example.org", mta="dovecot", tls=False,
                 tz_minutes=60, label="Alice's mailbox (Dovecot)")
    if webmail:
        t.link("laptop.example.org", "webmail.example.org")
        t.link("webmail.example.org", "smtp.example.org")
    else:
        t.link("laptop.example.org", "smtp.example.org")
    t.link("smtp.example.org", "imap.example.org")
    t.add_user("alice@example.org", client="laptop.example.org", mailbox="imap.example.org", name="Alice Example")


def _recipient_side(t: Topology, *, mxs: tuple[tuple[str, int, bool], ...] = (("mx.example.net", 10, True),),
                    chain: tuple[tuple[str, str, dict], ...] = (), mta: str = "postfix", exchange: bool = False) -> None:
    """example.net: MX(s), an optional chain of internal servers, and Bob's mailbox."""
    t.add_domain("example.net")
    for i, (name, pref, up) in enumerate(mxs):
        t.add_server(name, "mx", f"198.51.100.{25 + i}", domain="example.net", mx_preference=pref, up=up, mta=mta,
                     tz_minutes=-300)
    previous = [name for name, _, _ in mxs]
    for j, (name, role, settings) in enumerate(chain):
        t.add_server(name, role, f"198.51.100.{60 + j}", domain="example.net", tz_minutes=-300,
                     **{"tls": False, **settings})
        for p in previous:
            t.link(p, name)
        previous = [name]
    if exchange:  # an organisation that runs Exchange delivers into Exchange's own mailboxes (no LMTP)
        t.add_server("imap.example.net", "mailbox", "198.51.100.143", domain="example.net", mta="exchange",
                     tz_minutes=-300, label="Bob's mailbox (Exchange mailbox server)")
    else:
        t.add_server("imap.example.net", "mailbox", "198.51.100.143", domain="example.net", mta="dovecot", tls=False,
                     tz_minutes=-300, label="Bob's mailbox (Dovecot)")
    for p in previous:
        t.link(p, "imap.example.net")
    t.add_user("bob@example.net", mailbox="imap.example.net", name="Bob Example")


# ---------------------------------------------------------------------------------------------- #
# the scenarios


def _three_hops() -> Topology:
    t = Topology()
    _sender_side(t)
    _recipient_side(t)
    return t


def _webmail() -> Topology:
    t = Topology()
    _sender_side(t, webmail=True)
    _recipient_side(t)
    return t


def _mx_fallback() -> Topology:
    t = Topology()
    _sender_side(t)
    _recipient_side(t, mxs=(("mx1.example.net", 10, False), ("mx2.example.net", 20, True)))
    return t


def _deferred() -> Topology:
    t = Topology()
    _sender_side(t)
    _recipient_side(t, mxs=(("mx1.example.net", 10, False), ("mx2.example.net", 20, False)))
    return t


def _spam_rejected() -> Topology:
    t = Topology()
    _sender_side(t)
    _recipient_side(t)
    mx = t.server("mx.example.net")
    mx.spam_threshold, mx.spam_action = 5.0, "reject"
    return t


def _spam_filter(action: str) -> Callable[[], Topology]:
    def build() -> Topology:
        t = Topology()
        if action == "bounce":
            _forged_sender_side(t)
        else:
            _sender_side(t)
        _recipient_side(t, chain=(("spamfilter.example.net", "filter",
                                   {"spam_threshold": 5.0, "spam_action": action, "label": "SpamAssassin (amavis)"}),))
        return t

    return build


def _forged_sender_side(t: Topology) -> None:
    """A spammer's bot sends through the spammer's own server, forging Alice's address as the sender."""
    _sender_side(t)
    t.add_domain("example.com")
    t.add_server("bot.example.com", "client", "203.0.113.66", domain="example.com", helo="bot.example.com",
                 rdns="", label="infected PC (spam bot)")
    t.add_server("mail.example.com", "relay", "203.0.113.99", domain="example.com", mta="exim",
                 label="the spammer's server (Exim)")
    t.link("bot.example.com", "mail.example.com")
    t.users["alice@example.org"].client = "bot.example.com"


def _unknown_user() -> Topology:
    return _three_hops()


def _forwarding() -> Topology:
    t = Topology()
    _sender_side(t)
    _recipient_side(t)
    t.add_domain("alumni.university.example")
    t.add_server("mx.alumni.university.example", "forwarder", "198.51.100.200", domain="alumni.university.example",
                 mx_preference=10, tz_minutes=0, label="alumni forwarding service")
    t.add_user("bob@alumni.university.example", forward_to="bob@example.net")
    return t


def _forwarding_loop() -> Topology:
    t = Topology()
    _sender_side(t)
    t.add_domain("example.com")
    t.add_domain("university.example")
    t.add_server("fwd.example.com", "forwarder", "203.0.113.10", domain="example.com", mx_preference=10,
                 label="forwarder A (Postfix)")
    t.add_server("fwd.university.example", "forwarder", "198.51.100.210", domain="university.example", mx_preference=10,
                 tz_minutes=-300, label="forwarder B (Postfix)")
    t.add_user("carol@example.com", forward_to="carol@university.example")
    t.add_user("carol@university.example", forward_to="carol@example.com")
    return t


def _alias_loop() -> Topology:
    """team@example.net is an alias (Postfix local(8), aliases(5)) for carol@example.com, whose .forward sends
    everything back to team@example.net: the second time the alias server sees the message it finds its own
    ``Delivered-To: team@example.net`` and bounces it (5.4.6), long before any hop limit."""
    t = Topology()
    _sender_side(t)
    _recipient_side(t, chain=(("aliases.example.net", "alias", {"label": "alias server (Postfix local, aliases)"}),))
    t.add_domain("example.com")
    t.add_server("mail.example.com", "forwarder", "203.0.113.25", domain="example.com", mx_preference=10,
                 label="Carol's mail server (Postfix, .forward)")
    t.add_user("carol@example.com", mailbox="mail.example.com", forward_to="team@example.net", name="Carol Example")
    t.add_alias("team@example.net", "carol@example.com")
    return t


def _enterprise() -> Topology:
    t = Topology()
    _sender_side(t)
    _recipient_side(t, chain=(
        ("spamfilter.example.net", "filter", {"spam_threshold": 5.0, "spam_action": "junk", "label": "anti-spam"}),
        ("av.example.net", "antivirus", {"label": "anti-virus (ClamSMTP)"}),
        ("archive.example.net", "archive", {"label": "archiving (journal copy)"}),
        ("lists.example.net", "alias", {"label": "alias / list expander"}),
        ("hub.example.net", "router", {"mta": "exchange", "tls": True, "label": "internal router (Exchange hub)"}),
    ), exchange=True)
    t.add_alias("sales@example.net", "bob@example.net")
    return t


def _migration() -> Topology:
    t = Topology()
    _sender_side(t)
    _recipient_side(t, chain=(("hub.example.net", "router", {"mta": "exchange", "tls": True,
                                                          "label": "router (knows who moved)"}),), exchange=True)
    t.add_server("mbx2016.example.net", "mailbox", "198.51.100.116", domain="example.net", mta="exchange",
                 tz_minutes=-300, label="old mailbox server (2016 generation)")
    t.link("hub.example.net", "mbx2016.example.net")
    t.add_user("carol@example.net", mailbox="mbx2016.example.net", name="Carol (not migrated yet)")
    return t


def _forwarding_srs() -> Topology:
    t = _forwarding()
    t.server("mx.alumni.university.example").srs = True
    t.server("mx.alumni.university.example").label = "alumni forwarding service (SRS)"
    return t


def _mailing_list() -> Topology:
    t = Topology()
    _sender_side(t)
    t.domains["example.org"].dmarc = "reject"
    _recipient_side(t, mta="gmail")
    t.add_domain("lists.example.com")
    t.add_server("lists.example.com", "forwarder", "203.0.113.120", domain="lists.example.com", mx_preference=10,
                 mailing_list=True, arc=True, label="mailing list (Mailman)")
    t.add_user("friends@lists.example.com", forward_to="bob@example.net", name="Friends list")
    return t


def _dmarc_reject() -> Topology:
    t = Topology()
    _forged_sender_side(t)
    t.domains["example.org"].dmarc = "reject"
    t.server("mail.example.com").mx_preference = 10
    t.add_user("mailer@example.com", client="bot.example.com", mailbox="mail.example.com")
    _recipient_side(t)
    return t


#: The DNS blocklist of the failure scenarios (a reserved name standing for a list such as Spamhaus ZEN).
BLOCKLIST = "zen.dnsbl.example"


def _greylisting() -> Topology:
    """Bob's MX greylists like rspamd's greylist module behind Postfix: ``451 4.7.1 Try again later`` at the end of
    DATA to an unknown (network, sender, recipient), until 5 minutes (its default ``timeout``) have passed."""
    t = _three_hops()
    mx = t.server("mx.example.net")
    mx.greylist_delay = 300.0
    mx.label = "Bob's MX (Postfix + rspamd greylisting)"
    return t


def _direct_from_laptop() -> Topology:
    """Alice's laptop has no outgoing server and delivers to Bob's MX itself, from a home connection: the ISP blocks
    port 25, the address is on a blocklist (its policy list of home ranges), and example.org's SPF record does not
    list it; Bob's MX refuses clients without reverse DNS, listed ones and SPF failures."""
    t = Topology()
    _sender_side(t)
    t.links.remove(("laptop.example.org", "smtp.example.org"))
    laptop = t.server("laptop.example.org")
    laptop.port25_blocked = True
    laptop.listed_in = (BLOCKLIST,)
    laptop.label = "Alice's laptop (delivering by itself)"
    _recipient_side(t)
    mx = t.server("mx.example.net")
    mx.dnsbl = (BLOCKLIST,)
    mx.reject_unknown_client = True
    mx.reject_spf_fail = True
    mx.label = "Bob's MX (Postfix: rDNS, blocklist, SPF checks)"
    return t


_SCENARIOS: list[Scenario] = [
    Scenario("three-hops", "Alice's laptop -> her submission server -> Bob's MX -> Bob's mailbox.",
             "The everyday path. Alice's mail program cannot deliver to Bob's mailbox itself: it hands the message "
             "to her provider's submission server (port 587, logged in), which looks up the MX record of example.net "
             "in DNS and delivers to that server over SMTP; Bob's MX passes it to the mailbox server over LMTP. "
             "Each server that accepts the message adds a Received header on top.",
             _three_hops),
    Scenario("webmail", "Alice writes in her browser: HTTP to webmail, then SMTP like any client.",
             "With webmail the first hop is not SMTP at all: the browser sends the message over HTTPS to the webmail "
             "application, which writes a Received line 'with HTTP' and then submits the message over SMTP like a "
             "desktop mail program would. From there the path is the usual one.",
             _webmail),
    Scenario("mx-fallback", "Bob's primary MX (preference 10) is down; the backup MX (20) takes the message.",
             "example.net publishes two MX records. Alice's server tries the lowest preference first, gets no "
             "connection, and moves on to the next MX, as RFC 5321 section 5.1 requires. The failed attempt leaves no "
             "Received header: only servers that accept a message write one.",
             _mx_fallback),
    Scenario("spam-rejected", "Bob's MX scores the message as spam and refuses it during SMTP; Alice's server bounces it.",
             "The MX runs its spam check while the sender is still connected and answers the end of DATA with a 5xx "
             "refusal. It never takes responsibility for the message, so the sending server - Alice's own - writes "
             "the bounce. Nobody else receives a bounce, even if the sender address was forged.",
             _spam_rejected, subject=SPAM_SUBJECT, body=SPAM_BODY, expected="rejected", expected_status="5.7.1"),
    Scenario("spam-accept-then-bounce", "A filter accepts a spam, then bounces it to the forged sender (backscatter).",
             "A spam bot sends a message that claims to come from alice@example.org. Bob's MX accepts it and hands it "
             "to a filter, which only then decides it is spam and bounces it to the envelope sender. That sender was "
             "forged: the bounce lands in Alice's mailbox although she never wrote anything. This is backscatter, and "
             "why filters should reject during SMTP instead.",
             _spam_filter("bounce"), subject=SPAM_SUBJECT, body=SPAM_BODY, expected="bounced", expected_status="5.7.1"),
    Scenario("spam-dropped", "A filter accepts a spam and silently discards it: no bounce, no delivery.",
             "The filter answers 250 OK, so the sender believes the message arrived, and then throws it away. Nothing "
             "reaches Bob and nobody is told. Quiet, but a wrongly dropped real message vanishes without a trace.",
             _spam_filter("drop"), subject=SPAM_SUBJECT, body=SPAM_BODY, expected="dropped", expected_status="2.0.0"),
    Scenario("spam-to-junk", "A filter marks the spam (X-Spam-Flag: YES); the mailbox files it into Junk.",
             "The filter's Postfix hands the message to amavisd-new on 127.0.0.1:10024, which has SpamAssassin score "
             "it, adds its X-Spam-Status and X-Spam-Flag headers and re-injects it on 127.0.0.1:10025: two hops that "
             "never leave the machine. The message is passed on; the "
             "mailbox server's filter rule (Sieve) sees the flag and files the message into Bob's Junk folder "
             "instead of his inbox.",
             _spam_filter("junk"), subject=SPAM_SUBJECT, body=SPAM_BODY, expected="junk", expected_status="2.0.0"),
    Scenario("unknown-user", "Alice mistypes Bob's address; his MX refuses it at RCPT (550 5.1.1).",
             "Bob's MX knows its users. When Alice's server says RCPT TO:<bbo@example.net> it answers 550 5.1.1 "
             "(bad destination mailbox address) before any message text is sent. Alice's server writes the bounce "
             "and delivers it to Alice's mailbox.",
             _unknown_user, recipient="bbo@example.net", expected="rejected", expected_status="5.1.1"),
    Scenario("forwarding", "Alice writes to Bob's old alumni address; the alumni service forwards it.",
             "bob@alumni.university.example is only a forwarding address. The alumni server accepts the message, rewrites the "
             "envelope recipient to bob@example.net, looks up that domain's MX and sends it on. The message gains "
             "a hop, and the forwarder's Received line shows the original recipient.",
             _forwarding, recipient="bob@alumni.university.example"),
    Scenario("forwarding-loop", "Two forwarders point at each other until a server says 'too many hops'.",
             "carol@example.com forwards to carol@university.example, which forwards back to carol@example.com. Each pass "
             "adds a Received header. When the count reaches Postfix's hopcount_limit (50), the next server refuses "
             "the message with 554 5.4.0 'Error: too many hops' and the previous one bounces it to Alice.",
             _forwarding_loop, recipient="carol@example.com", expected="looped", expected_status="5.4.0"),
    Scenario("alias-loop", "An alias points to Carol, whose .forward points back: Delivered-To stops the loop (5.4.6).",
             "team@example.net is an alias for carol@example.com, and Carol's .forward sends all her mail back to "
             "team@example.net. Postfix's local delivery writes 'Delivered-To: ADDRESS' on every copy it expands or "
             "forwards. When the message comes back to the alias server for team@example.net, that line is already "
             "there: local delivery refuses it with 5.4.6 'mail forwarding loop for team@example.net' and bounces it "
             "to Alice after a few hops, instead of letting it circle until a hop limit (compare forwarding-loop).",
             _alias_loop, recipient="team@example.net", expected="looped", expected_status="5.4.6"),
    Scenario("enterprise", "A company's inbound chain: MX, anti-spam, anti-virus, archive, alias, router, mailbox.",
             "Large organisations put several servers behind their MX, each with one job: a spam filter, a virus "
             "scanner, an archive that keeps a copy of everything, an alias expander that turns sales@ into a person, "
             "and an internal router (here Exchange) that knows which mailbox server holds the mailbox and hands the "
             "message to Exchange's own mailbox delivery (Mailbox Transport, not LMTP). Every one of them adds a hop; "
             "the spam filter's amavisd-new and the virus scanner's ClamSMTP add loopback hops of their own "
             "(127.0.0.1), where Postfix hands the message to the filter and takes it back.",
             _enterprise, recipient="sales@example.net"),
    Scenario("migration", "Mailboxes are moving to a new server; a router sends each user's mail to the right one.",
             "During a migration two generations of mailbox servers run side by side. The MX and router stay the "
             "same; the router looks up where each mailbox lives now. Bob has moved to the new server; Carol "
             "(carol@example.net) is still on the old one - send to her to see the other path.",
             _migration),
    Scenario("deferred", "Every MX of the recipient is down: the message waits in the sender's queue (4xx, retried later).",
             "Neither MX of example.net answers. That is a temporary failure, not a bounce: Alice's server keeps the "
             "message in its queue and retries with growing intervals, for days, before it gives up and bounces.",
             _deferred, expected="deferred", expected_status="4.4.1"),
    Scenario("forwarding-srs", "The alumni forwarder rewrites the envelope sender with SRS: SPF passes at Bob's MX.",
             "Plain forwarding breaks SPF: Bob's MX sees the forwarder's address, which example.org's SPF record does "
             "not list. With the Sender Rewriting Scheme the forwarder sends with its own envelope sender "
             "(SRS0=hash=time=example.org=alice@alumni.university.example), which its own SPF record covers, and can still "
             "route a bounce back to Alice. DMARC still passes through Alice's DKIM signature.",
             _forwarding_srs, recipient="bob@alumni.university.example"),
    Scenario("mailing-list", "A mailing list tags the Subject and adds a footer: Alice's signature breaks, ARC vouches.",
             "Alice writes to friends@lists.example.com. The list adds [friends] to the Subject and a footer to the "
             "body, which breaks Alice's DKIM signature, and sends the copy from its own bounce address. It seals what "
             "it saw on arrival with ARC (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) and signs with "
             "its own key. Bob's provider sees DMARC fail for example.org (p=reject) but trusts the list's ARC chain "
             "and delivers.",
             _mailing_list, recipient="friends@lists.example.com"),
    Scenario("dmarc-reject", "A forged From: of a p=reject domain is refused during SMTP (550 5.7.1): no backscatter.",
             "A spam bot sends through the spammer's own server with its own envelope sender but writes From: "
             "alice@example.org. SPF and DKIM pass - for example.com, which is not the From: domain, so DMARC fails, "
             "and example.org publishes p=reject. Bob's MX refuses the message at the end of DATA. The refusal goes "
             "back to the spammer's server, which holds the message and has to write the bounce, to its own address: "
             "Alice receives nothing (contrast spam-accept-then-bounce).",
             _dmarc_reject, sender="mailer@example.com", from_header="alice@example.org", expected="rejected",
             expected_status="5.7.1"),
    Scenario("greylisting", "Bob's MX greylists: 451 4.7.1 to the first attempt, accepted on the retry 5 minutes later.",
             "Bob's MX has never seen this sender, recipient and sending network together, so its greylisting "
             "(rspamd's, behind Postfix) answers the end of DATA with 451 4.7.1 Try again later - a temporary "
             "refusal. Alice's server keeps the message in its queue and tries again after its backoff (Postfix's "
             "minimal_backoff_time, 300 s); by then the 5 minutes have passed and the MX accepts. Spam software that "
             "never retries is gone by then. Nobody gets a bounce: the message is only late.",
             _greylisting, live_final=True),
    Scenario("direct-from-laptop", "Alice's laptop tries to deliver straight to Bob's MX: port 25 blocked, blocklist, SPF.",
             "Without a submission server the laptop must find Bob's MX and speak SMTP to it on port 25 itself. "
             "Home connections fail at every step: the ISP blocks outgoing port 25 (the connection times out), the "
             "home address is on a DNS blocklist (554 5.7.1 ... blocked using zen.dnsbl.example), an address "
             "without reverse DNS gets 450 4.7.1, and example.org's SPF record lists only Alice's provider, so SPF "
             "fails (550 5.7.23). That is why the first hop is the sender's own provider: its server has a clean, "
             "named, SPF-listed address and a queue that retries.",
             _direct_from_laptop, expected="deferred", expected_status="4.4.1"),
]

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _SCENARIOS}


def names() -> list[str]:
    """Every scenario name, in the order of the lessons."""
    return list(SCENARIOS)


def get(name: str) -> Scenario:
    """The scenario called ``name``; :class:`UnknownScenarioError` names the valid ones otherwise."""
    try:
        return SCENARIOS[name]
    except (KeyError, TypeError):
        raise UnknownScenarioError(
            f"There is no scenario called {name!r}; choose one of: {', '.join(SCENARIOS)}."
        ) from None


def run(name: str, seed: int = 0, *, mta: str | None = None) -> Journey:
    """Simulate the scenario ``name`` (its SMTP servers imitating ``mta`` if given) and return its journey.

    >>> run("three-hops").outcome.kind
    'delivered'
    >>> run("unknown-user", mta="qmail").bounce.message.count(b"Hi. This is the qmail-send program")
    1
    """
    return get(name).run(seed=seed, mta=mta)


def run_live(name: str, seed: int = 0, *, timeout: float = 60.0, final: bool = False,
             retry_schedule: tuple[float, ...] | None = None, mta: str | None = None) -> Journey:
    """Run the scenario ``name`` on real servers on 127.0.0.1 and return its journey (``source="live"``).

    >>> journey = run_live("three-hops")
    >>> journey.outcome.kind, [h.by_server for h in journey.hops], [h.with_ for h in journey.hops]
    ('delivered', ['smtp.example.org', 'mx.example.net', 'imap.example.net'], ['ESMTPSA', 'ESMTPS', 'LMTP'])
    >>> journey.hops[1].smtp[0].text  # the MX's real greeting, as Postfix words it
    '220 mx.example.net ESMTP Postfix'
    """
    return get(name).run_live(seed=seed, timeout=timeout, final=final, retry_schedule=retry_schedule, mta=mta)
