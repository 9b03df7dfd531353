"""What one live server does with mail once it has it: stamp and accept, decide, deliver or relay, retry, bounce.

A :class:`MailServer` is the mail-handling half of a server node (the listening half is
:mod:`mailhops.live.smtp` or :mod:`mailhops.live.webmail`, which call :meth:`MailServer.accept`). It asks
:mod:`mailhops.mta.roles` for every decision — the same functions the simulator calls: the Received
line it prepends, what a filter, forwarder or archive does after accepting, where the message goes
next, the bounce it writes — and carries them out for real: Maildir delivery (:mod:`mailhops.live.mailboxes`),
its own spooled queue with worker threads (:mod:`mailhops.live.mail_queue`), and the next hop through a
:class:`~mailhops.live.sending.Sender`. A deferred message is retried on the topology's schedule, then
bounced; a bounce (DSN, null sender) goes out through the same queue.

>>> from mailhops.scenarios import get
>>> from mailhops.live.runner import LiveTopology
>>> with LiveTopology(get("three-hops").build()) as live:
...     journey = live.send("alice@example.org", "nobody@example.net", final=True)
>>> journey.outcome.kind, journey.bounce.outcome.kind  # the MX refused the recipient; the submission server bounced
('rejected', 'delivered')
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone
from pathlib import Path

from ..journey import Hop, Outcome
from ..mta import headers as hdr
from ..mta import roles as srv
from ..mta.roles import Envelope, Reply, Route, Session
from ..mta.smtp import status_of
from ..topology import Server
from .connections import Connection
from .loopback_dns import LOOPBACK
from .mail_queue import MailQueue, QueueEntry
from .mailboxes import Mailboxes
from .memory import Trimmer
from .sending import Sender
from .shared import Shared, now


class MailServer:
    """The mail handling of ``server`` (``lmtp``: a mailbox server, delivering before it answers DATA).

    Its queue (spooled under ``spool``, ``workers`` threads) starts with :meth:`start` and stops with :meth:`stop`.
    """

    def __init__(self, server: Server, *, lmtp: bool, shared: Shared, sender: Sender, mailboxes: Mailboxes,
                 spool: Path, workers: int, address: str = LOOPBACK, trimmer: Trimmer | None = None) -> None:
        self.server = server
        #: The loopback address this server listens on (what its Received lines name as ``by``).
        self.address = address
        self.lmtp = lmtp
        self.shared = shared
        self.sender = sender
        self.mailboxes = mailboxes
        self.queue = MailQueue(server.name, spool, workers, self._attempt, trimmer=trimmer)
        #: Its greylist (mailhops.mta.policy), on the live clock: the first retry comes after the schedule's first
        #: wait instead of Postfix's minimal_backoff_time (300 s), so the greylisting delay shrinks alike.
        schedule = shared.retry_schedule
        self.greylist = srv.policy.Greylist(scale=(schedule[0] if schedule else 1.0) / 300.0)

    def start(self) -> None:
        self.queue.start()

    def stop(self) -> None:
        self.queue.stop()

    # -- accepting (SMTP, LMTP and HTTP alike) ------------------------------------------------------
    def accept(self, conn: Connection, sess: Session, key: int, env: Envelope, message: bytes) -> Reply:
        """Stamp an accepted message, record the hop, and deliver it (LMTP) or queue it; return the 250 reply."""
        return self.accept_message(conn, sess, [(key, env)], message)[0]

    def accept_message(self, conn: Connection, sess: Session, recipients: list[tuple[int, Envelope]],
                       message: bytes) -> list[Reply]:
        """Accept one message for its recipients (journey key and envelope each): one queue id and one spool file
        for the message, as Postfix's queue keeps it, a Received line, hop and delivery per recipient; the replies."""
        precise = time.time()
        when = datetime.fromtimestamp(precise, timezone.utc)
        qid = self._queue_id(sess, when)
        entries, replies = [], []
        for key, env in recipients:
            stamped, added = self._stamp(sess, env, message, when, qid)
            conn.bind(key)
            hop = self._accepted_hop(conn, sess, env, when, qid, added)
            conn.tx_closed = True
            self.shared.journal.add_hop(key, hop, precise)
            stamped, hop = self._content_filter(key, env, stamped, when, hop)
            entries.append(QueueEntry(key, env, stamped, qid=qid, hop=hop))
            replies.append(srv.accepted_reply(self.server, qid, env.rcpt, when, srv.message_id(message)))
        self._take(entries)
        return replies

    def _content_filter(self, key: int, env: Envelope, message: bytes, when: datetime, hop: Hop) -> tuple[bytes, Hop]:
        """The loopback hops of the content filter behind this server's MTA (amavisd-new's two, ClamSMTP's
        re-injection: :func:`mailhops.mta.roles.filter_hops`, as in the simulator), recorded on the real clock;
        returns the message as the filter re-injected it and the last hop."""
        with self.shared.rng_lock:
            passes = srv.filter_hops(self.server, env, message, when, self.shared.rng, 0, delays=False)
        for step in passes:
            self.shared.journal.add_hop(key, step.hop, time.time())
            message, hop = step.message, step.hop
        return message, hop

    def _queue_id(self, sess: Session, when: datetime) -> str | None:
        """The queue id of a message this server accepts (webmail writes none: Roundcube's Received line has none)."""
        if sess.http:
            return None
        with self.shared.rng_lock:
            return srv.queue_id(self.server, self.shared.rng, when, lmtp=self.lmtp)

    def _stamp(self, sess: Session, env: Envelope, message: bytes, when: datetime, qid: str | None) -> tuple[bytes, list[str]]:
        """The message with this server's trace headers prepended (and which headers they are)."""
        server, shared = self.server, self.shared
        with shared.rng_lock:
            stamp_as = dataclasses.replace(server, ip=self.address)
            return srv.stamp(shared.topology, stamp_as, sess, env, message, when, qid, shared.rng)

    def _accepted_hop(self, conn: Connection, sess: Session, env: Envelope, when: datetime, qid: str | None,
                      added: list[str]) -> Hop:
        server = self.server
        return Hop(n=0, from_name=srv.from_name_of(srv.flavour(server, sess), sess.helo, sess.rdns), ip=sess.client_ip, by_name=server.name, by_ip=self.address,
                   with_=srv.with_word(server, sess), id=qid,
                   for_=None if (server.mta == "exchange" and not self.lmtp) or sess.http else env.rcpt,
                   date=when.astimezone(srv.tz_of(server)).replace(microsecond=0), helo=sess.helo or None, rdns=sess.rdns,
                   tls=conn.tls_name if sess.tls else None, auth=sess.auth_user,
                   mta=server.mta if not self.lmtp else "dovecot", envelope_from=env.mail_from, added_headers=added,
                   smtp=conn.lines, decision="accepted", from_server=conn.client.name if conn.client else None,
                   by_server=server.name)

    def _take(self, entries: list[QueueEntry]) -> None:
        """Queue an accepted message (one spool file, one entry per recipient); a mailbox server (LMTP) delivers
        first, since its reply to DATA means "delivered"."""
        if not self.lmtp:
            self.queue.put_message(entries)
            return
        later = []
        for entry in entries:
            if not self.after_accept(entry):
                continue
            if srv.route(self.shared.topology, self.server, entry.envelope).kind == "local":
                self.deliver_local(entry)
            else:
                later.append(entry)
        self.queue.put_message(later)

    def after_accept(self, entry: QueueEntry) -> bool:
        """Apply :func:`~mailhops.mta.roles.after_accept` once; False when the message's journey ended here (dropped/bounced)."""
        if entry.after_done:
            return True
        entry.after_done = True
        server, journal = self.server, self.shared.journal
        res = srv.after_accept(self.shared.topology, server, entry.envelope, entry.message, hop_n=entry.hop.n if entry.hop else None,
                               via=entry.hop.from_name if entry.hop else None)
        if res.decision and entry.hop is not None:
            entry.hop.decision = res.decision
        for text in res.copies:
            journal.copy(entry.key, text)
            if server.role == "archive":
                self.mailboxes.archive(server.name, entry.message)
        for text in res.notes:
            journal.note(entry.key, text)
        if res.action == "drop":
            journal.finish(entry.key, Outcome("dropped", "2.0.0", res.detail, server=server.name), message=entry.message)
            entry.envelope = res.envelope
            return False
        if res.action == "bounce":
            assert res.reply is not None
            self.bounce(entry, res.reply, kind=res.kind)
            return False
        entry.envelope = res.envelope
        if res.message is not None:  # local delivery's Delivered-To line on an alias or .forward copy
            entry.message = res.message
            if entry.hop is not None:
                entry.hop.added_headers = [*res.added, *entry.hop.added_headers]
        return True

    # -- one delivery attempt (in a queue worker) ---------------------------------------------------
    def _attempt(self, entry: QueueEntry) -> None:
        try:
            self._deliver(entry)
        except Exception as err:  # noqa: BLE001 - never lose a message to a bug: defer it instead
            try:
                self.defer(entry, Reply(451, "4.3.0", f"Error: internal error ({err.__class__.__name__}: {err})"))
            except Exception:  # noqa: BLE001 - even then, keep it queued (it is still in the spool)
                schedule = self.shared.retry_schedule
                self.queue.put(entry, delay=schedule[-1] if schedule else 1.0)

    def _deliver(self, entry: QueueEntry) -> None:
        """Deliver here, or find the next servers and hand the message to the first that takes it."""
        if not self.after_accept(entry):
            self.queue.done(entry)
            return
        route = srv.route(self.shared.topology, self.server, entry.envelope)
        if route.kind == "local":
            self.deliver_local(entry)
            self.queue.done(entry)
            return
        candidates = self._next_servers(entry, route)
        if candidates is not None:
            self._hand_over(entry, candidates)

    def _next_servers(self, entry: QueueEntry, route: Route) -> list[Server] | None:
        """The servers to try, in order (a link, or the MX records); None when the entry was bounced or deferred instead."""
        server = self.server
        if route.kind == "link":
            if not route.servers:
                self.defer(entry, Reply(451, "4.3.5", f"{server.name} has no server to send mail to (add a link)"))
                return None
            return route.servers
        assert route.domain is not None
        answer = self.sender.find_mx(server, route.domain, entry.key)
        if answer.kind == "null":
            self._bounce_now(entry, Reply(556, "5.1.10", f"Recipient address rejected: Domain {route.domain} does not accept mail (nullMX)"))
            return None
        if answer.kind == "nxdomain":
            self._bounce_now(entry, Reply(550, "5.1.2", f"Host or domain name not found. Name service error for name={route.domain} type=MX: Host not found"))
            return None
        if answer.kind == "error":
            self.defer(entry, Reply(451, "4.4.3", f"Host or domain name not found. Name service error for name={route.domain} type=MX: Host not found, try again"))
            return None
        candidates = [self.shared.topology.servers[h] for _, h in answer.candidates if h in self.shared.topology.servers]
        if not candidates:
            self.defer(entry, Reply(451, "4.4.3", f"None of the MX hosts of {route.domain} is a server in this topology"))
            return None
        return candidates

    def _hand_over(self, entry: QueueEntry, candidates: list[Server]) -> None:
        """Try each candidate in turn: accepted ends it, a permanent refusal bounces, otherwise defer."""
        last: Reply | None = None
        for nxt in candidates:
            kind, reply = self.sender.transfer(self.server, nxt, entry)
            if kind == "accepted":
                self.queue.done(entry)
                return
            if kind == "refused":
                assert reply is not None
                if not reply.permanent:
                    last = reply
                    continue
                self.bounce(entry, reply, kind="looped" if srv.is_loop(reply) else "rejected", remote=nxt.name)
                self.queue.done(entry)
                return
        names = ", ".join(s.name for s in candidates)
        self.defer(entry, last or Reply(421, "4.4.1", f"No server answered ({names})"))

    def _bounce_now(self, entry: QueueEntry, reply: Reply) -> None:
        self.bounce(entry, reply, kind="bounced")
        self.queue.done(entry)

    # -- the end of a journey here ------------------------------------------------------------------
    def deliver_local(self, entry: QueueEntry) -> None:
        """Store into the recipient's Maildir (Junk when the mailbox's filter says so) and finish the journey."""
        user = self.shared.topology.users[entry.envelope.rcpt]
        folder, why = srv.mailbox_folder(user, entry.message)  # the mailbox's Sieve rule: spam flag or DMARC quarantine
        junk = folder == "Junk"
        path = self.mailboxes.path(user.address)
        self.mailboxes.store(path, entry.message, "Junk" if junk else None)
        if entry.hop is not None:
            entry.hop.decision = f"delivered to {user.address} ({folder})"
        where = "" if self.mailboxes.temporary else f" (Maildir {path})"  # a temporary directory is gone once the servers stop
        detail = f"Delivered to {user.address} on {self.server.name}, folder {folder}{where}."
        if junk:
            detail += " " + why
        self.shared.journal.finish(entry.key, Outcome("junk" if junk else "delivered", "2.0.0", detail, mailbox=user.address,
                                                      folder=folder, server=self.server.name), message=entry.message)

    def bounce(self, entry: QueueEntry, reply: Reply, *, kind: str, remote: str | None = None) -> None:
        """End the journey with ``kind`` and send a DSN to the envelope sender through this server's own queue."""
        reporter, journal = self.server, self.shared.journal
        env = entry.envelope
        where = f"{remote} refused it" if remote else f"{reporter.name} could not deliver it"
        outcome = Outcome(kind, status_of(reply), f"{where}: {reply}",
                          reply=str(reply), server=remote or reporter.name)
        if env.mail_from == "":
            outcome.detail += (" This message was itself a bounce (null sender <>), so it is never bounced again; "
                               "the server hands it to its postmaster or discards it.")
            journal.finish(entry.key, outcome, message=entry.message)
            return
        who = "the sender's own server" if remote else reporter.name
        journal.note(entry.key, f"{who} ({reporter.name}) writes a bounce (DSN) to <{env.mail_from}> with the null sender <>.")
        bkey, dsn, qid = self._write_dsn(entry, reply, remote)
        journal.finish(entry.key, outcome, message=entry.message, bounce=bkey)
        self.queue.put(QueueEntry(bkey, Envelope("", env.mail_from), dsn, qid=qid, after_done=True))

    def _write_dsn(self, entry: QueueEntry, reply: Reply, remote: str | None) -> tuple[int, bytes, str]:
        """The bounce's journey, message and queue id (stamped as the bounce daemon injects it, where the MTA does)."""
        reporter, shared, env = self.server, self.shared, entry.envelope
        when = now()
        with shared.rng_lock:
            if reply.permanent:
                dsn = srv.make_dsn(reporter, env, entry.message, reply, when, remote=remote, rng=shared.rng)
            else:
                dsn = srv.make_dsn(reporter, env, entry.message, reply, when, rng=shared.rng, final=True)
            qid = srv.queue_id(reporter, shared.rng, when)
        bkey = shared.journal.new("", env.mail_from, parent=entry.key)
        local = when.astimezone(srv.tz_of(reporter)).replace(microsecond=0)
        field_text = srv.local_injection(reporter, local, qid, env.mail_from)
        if field_text is not None:  # the MTA injects the DSN locally and stamps it (as the simulator does)
            dsn = hdr.prepend(dsn, [field_text])
            hop = srv.local_hop(reporter, local, qid, env.mail_from, field_text)
            hop.by_ip = self.address
            shared.journal.add_hop(bkey, hop, time.time())
        return bkey, dsn, qid

    def defer(self, entry: QueueEntry, reply: Reply) -> None:
        """A temporary failure: retry on the schedule, or bounce once the schedule is used up."""
        entry.attempts += 1
        server, journal, schedule = self.server, self.shared.journal, self.shared.retry_schedule
        if entry.attempts > len(schedule):
            journal.note(entry.key, f"{server.name} gave up after {entry.attempts} tries: {reply}.")
            self._bounce_now(entry, reply)
            return
        delay = schedule[entry.attempts - 1]
        journal.note(entry.key, f"{server.name}: {reply}; the message stays in its queue, next try in {delay:g} s "
                                f"(try {entry.attempts + 1} of {len(schedule) + 1}).")
        if journal.journey(entry.key).outcome is None:
            journal.finish(entry.key, Outcome("deferred", reply.status or "4.0.0",
                                              f"{reply}; the message waits in the queue of {server.name} and is "
                                              f"retried after {', '.join(f'{d:g}' for d in schedule)} s, "
                                              "then bounced (Postfix keeps trying for 5 days: maximal_queue_lifetime).",
                                              server=server.name), message=entry.message)
        self.queue.put(entry, delay=delay)
