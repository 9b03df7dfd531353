"""What mail servers do: the behaviour every transport calls, and what differs between MTAs.

**One module per MTA family** holds everything that differs between MTAs: :mod:`.postfix`, :mod:`.exim`,
:mod:`.sendmail`, :mod:`.qmail`, :mod:`.exchange`, :mod:`.gmail` and :mod:`.dovecot` (LMTP delivery), plus
:mod:`.webmail` (the pseudo-Received line of a webmail front end, which is not an MTA a server imitates).
Each says in its docstring what it was checked against. The shared modules hold what every MTA does alike:
:mod:`.smtp` (replies, envelope, session), :mod:`.headers` (trace-header helpers, hop counting),
:mod:`.roles` (what a submission server, relay, MX, filter, forwarder or mailbox server decides, where it
sends the message next), :mod:`.filters` (SpamAssassin-like scoring, EICAR), :mod:`.dsn` (bounces) and
:mod:`.message` (the message a client writes), :mod:`.policy` (greylisting, blocklists, reverse-DNS checks),
:mod:`.trust` (who signs, what a receiving MX concludes about SPF, DKIM, ARC and DMARC, SRS and lists) over
:mod:`.signatures` (DKIM and ARC signatures made and checked with dkimpy). Both transports — the simulator and the live servers — call
these plain functions of (topology, server, envelope, message, clock), so they cannot drift apart.

The flavour protocol (:class:`Flavour`): every flavour module defines ``NAME``, ``WITH_WORD``,
``SPF_BELOW_RECEIVED``, ``received(...)``, ``extra_received(rng, when)`` and ``from_name(claimed, reverse)``.
An MTA module (:class:`MTA`) also defines ``SOFTWARE``, ``HOP_LIMIT``, ``LOOP_REPLY``, ``DOCUMENTED``,
``RECIPIENT_OK``, ``BOUNCE_SUBJECT``, ``queue_id(server, rng, when)``, ``greeting(server, when)``,
``unknown_user(rcpt)``, ``relay_denied(rcpt)``, ``accepted_reply(...)``, ``loop_reply(message, limit)``,
``loop_after_accept(message, limit, envelope, via)``, ``local_injection(server, when, qid)`` and
``organisation_headers(server, session)``. An MTA that writes bounces also defines ``bounce(failure)`` (its
bounce in its own words and shape, from a :class:`mailhops.mta.dsn.Failure`; :func:`mailhops.mta.dsn.make_dsn`
asks the reporter's module) and ``LOCAL_HOP`` (what the Received line on its own bounce names); Dovecot writes
none. Optional: ``received_spf(verdict)`` (the Received-SPF its SPF software writes: policyd-spf behind Postfix,
libspf2 in Exim, pyspf's milter for Sendmail and qmail, Microsoft's, Google's), ``DELIVERED_TO_LOOPS`` with
``forwarding_loop(address)`` (local delivery refusing an alias/.forward loop by its own Delivered-To line: Postfix
local(8), qmail-local) and ``CONTENT_FILTERS`` (the loopback content filters by server role: amavisd-new and
ClamSMTP behind Postfix, see :func:`mailhops.mta.roles.filter_hops`). Adding an MTA means adding one such module, listing it in
:data:`FLAVOURS` below and its name in :data:`mailhops.topology.MTA_NAMES` (a test checks both agree).

>>> flavour("exim").HOP_LIMIT, MTAS["exim"]["loop_reply"]
(30, '550 Too many "Received" headers - suspected mail loop')
>>> sorted(set(FLAVOURS) - set(MTAS))
['webmail']

May use: the records (:mod:`mailhops.journey`, :mod:`mailhops.topology`, :mod:`mailhops.errors`) and
:mod:`mailhops.dns`. Nothing here runs a server, draws or reads a real message.
"""

from __future__ import annotations

import random
from datetime import datetime
from types import ModuleType
from typing import Protocol

from ..topology import Server
from . import dovecot, exchange, exim, gmail, postfix, qmail, sendmail, webmail
from .smtp import Envelope, Reply, Session


class Flavour(Protocol):
    """What every flavour module defines: how it writes and how it reads back its Received line."""

    #: The flavour's name (``Server.mta`` for an MTA).
    NAME: str
    #: The WITH word the analyzer reads back (upper-case), or ``None`` for the RFC 3848 protocol word.
    WITH_WORD: str | None
    #: Does it write Received-SPF and Authentication-Results below its Received line (Gmail) or above it?
    SPF_BELOW_RECEIVED: bool

    def received(self, *, helo: str | None, rdns: str | None, ip: str, by_name: str, protocol: str,
                 queue_id: str, rcpt: str | None, date: datetime, envelope_from: str | None = None,
                 by_ip: str | None = None, tls: bool = False, auth_user: str | None = None,
                 software: str | None = None) -> str:
        """One ``Received:`` header field, folded as the MTA folds it."""

    def extra_received(self, rng: random.Random, when: datetime) -> list[str]:
        """Further trace lines written above the Received line (qmail-queue's), usually none."""

    def from_name(self, claimed: str | None, reverse: str | None) -> str | None:
        """The first host name of its FROM clause, given the HELO claim and the reverse name (both lower-case)."""


class MTA(Flavour, Protocol):
    """What an MTA module defines besides the trace part: its facts, replies, ids and loop handling."""

    SOFTWARE: str
    HOP_LIMIT: int
    LOOP_REPLY: str
    #: True where the hop limit and loop reply come from the MTA's own source or documentation.
    DOCUMENTED: bool
    #: The text of the 250 reply to RCPT for a local recipient.
    RECIPIENT_OK: str
    #: The subject of the bounces it writes (``{subject}`` is the original subject).
    BOUNCE_SUBJECT: str

    def queue_id(self, server: Server, rng: random.Random, when: datetime) -> str | None: ...
    def greeting(self, server: Server, when: datetime) -> Reply: ...
    def unknown_user(self, rcpt: str) -> Reply: ...
    def relay_denied(self, rcpt: str) -> Reply: ...
    def accepted_reply(self, server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply: ...
    def loop_reply(self, message: bytes, limit: int) -> Reply | None: ...
    def loop_after_accept(self, message: bytes, limit: int, envelope: Envelope | None,
                          via: str | None) -> Reply | None: ...
    def local_injection(self, server: Server, when: datetime, qid: str | None,
                        rcpt: str | None = None) -> str | None: ...
    def organisation_headers(self, server: Server, session: Session) -> list[str]: ...


#: The names every flavour module defines (:class:`Flavour`), and those an MTA module adds (:class:`MTA`).
FLAVOUR_PROTOCOL = ("NAME", "WITH_WORD", "SPF_BELOW_RECEIVED", "received", "extra_received", "from_name")
MTA_PROTOCOL = FLAVOUR_PROTOCOL + (
    "SOFTWARE", "HOP_LIMIT", "LOOP_REPLY", "DOCUMENTED", "RECIPIENT_OK", "BOUNCE_SUBJECT", "queue_id", "greeting",
    "unknown_user", "relay_denied", "accepted_reply", "loop_reply", "loop_after_accept", "local_injection",
    "organisation_headers",
)

_MTA_MODULES: tuple[ModuleType, ...] = (postfix, exim, sendmail, qmail, exchange, gmail, dovecot)
_FRONT_ENDS: tuple[ModuleType, ...] = (webmail,)

#: Every Received flavour by name: the MTAs a server can imitate, then the webmail front end.
FLAVOURS: dict[str, ModuleType] = {m.NAME: m for m in _MTA_MODULES + _FRONT_ENDS}

#: The MTAs a server can imitate (``Server.mta``), with their default hop limit and the reply they give past
#: it. ``documented`` is True where the limit and the wording come from the MTA's own source or documentation
#: (Postfix hopcount_limit, Exim received_headers_max, Sendmail MaxHopCount, qmail MAXHOPS, Exchange's
#: 5.4.14). Gmail publishes neither: mailhops uses RFC 5321 §6.3's suggested minimum of 100 and RFC 3463's
#: X.4.6 "routing loop detected". Dovecot's LMTP has no hop limit of its own; in front of it Postfix counts.
MTAS: dict[str, dict[str, object]] = {
    m.NAME: {"software": m.SOFTWARE, "hop_limit": m.HOP_LIMIT, "loop_reply": m.LOOP_REPLY, "documented": m.DOCUMENTED}
    for m in _MTA_MODULES
}


def flavour(name: str) -> ModuleType:
    """The module of the flavour ``name`` (an MTA, or ``"webmail"``); ``KeyError`` names the known ones.

    >>> flavour("postfix").SOFTWARE
    'Postfix'
    """
    try:
        return FLAVOURS[name]
    except KeyError:
        raise KeyError(f"Unknown MTA flavour {name!r}; choose one of {', '.join(FLAVOURS)}.") from None


def hop_limit(server: Server) -> int:
    """The hop limit ``server`` enforces: its own ``hop_limit`` if set, else its MTA's default.

    >>> hop_limit(Server("mx.example.net", "mx", "198.51.100.25", mta="sendmail"))
    25
    """
    return server.hop_limit if server.hop_limit is not None else FLAVOURS[server.mta].HOP_LIMIT


__all__ = ["FLAVOURS", "FLAVOUR_PROTOCOL", "MTA", "MTAS", "MTA_PROTOCOL", "Flavour", "flavour", "hop_limit"]
