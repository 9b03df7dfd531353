"""The in-process transport: walk a message through a topology and record its :class:`~mailhops.Journey`.

Every hand-off is played as the SMTP (or LMTP, or HTTP) exchange it would be — greeting, EHLO,
STARTTLS, AUTH, MAIL FROM, RCPT TO, DATA — and each receiving server decides with the same functions
(:mod:`mailhops.mta`) that the real-SMTP mode uses. Time comes from a simulated clock with
realistic, deterministic per-hop delays, so the same seed always gives byte-identical output.

>>> from mailhops.scenarios import get
>>> sc = get("three-hops")
>>> journey = send(sc.build(), sc.sender, sc.recipient, subject="Lunch?", seed=1)
>>> journey.outcome.kind, [h.by_name for h in journey.hops]
('delivered', ['smtp.example.org', 'mx.example.net', 'imap.example.net'])
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .dns import dns_for
from .errors import TopologyError
from .journey import Hop, Journey, Lookup, Outcome, SmtpLine
from .mta import headers as hdr
from .mta import roles as srv
from .mta.roles import Envelope, Reply, Session
from .mta.smtp import parse_reply, status_of
from .topology import Server, Topology, check_address, domain_of

#: Where every simulated clock starts (plus a seeded offset of up to an hour).
EPOCH = datetime(2026, 3, 2, 9, 14, 7, tzinfo=timezone.utc)
#: However high a hop limit is set, a simulation stops after this many hops.
MAX_HOPS = 1000

_DELAYS = {  # (low, high) seconds a server of this role holds a message before the next hand-off
    "client": (0, 1),
    "webmail": (1, 2),
    "submission": (1, 3),
    "relay": (1, 2),
    "mx": (1, 3),
    "filter": (2, 5),
    "antivirus": (1, 3),
    "archive": (0, 1),
    "alias": (0, 1),
    "router": (0, 1),
    "mailbox": (0, 1),
    "forwarder": (1, 3),
}

_BROWSER = Server("browser", "client", "203.0.113.45", rdns="")  # stands in for the user's browser


@dataclass
class _State:
    server: Server
    envelope: Envelope
    message: bytes


class _Walk:
    def __init__(self, topology: Topology, rng: random.Random, journey: Journey, clock: datetime, *, bounce: bool) -> None:
        self.t = topology
        self.dns = dns_for(topology)
        self.rng = rng
        self.j = journey
        self.clock = clock
        self.is_bounce = bounce
        self.n = 0
        self.refused_at: str | None = None
        self.greylists: dict[str, srv.policy.Greylist] = {}  # each receiving server's greylist (mailhops.mta.policy)

    # -- one hand-off -------------------------------------------------------------------------
    def _tick(self, server: Server) -> None:
        low, high = _DELAYS.get(server.role, (1, 2))
        self.clock += timedelta(seconds=self.rng.randint(low, high), milliseconds=self.rng.randint(0, 999))

    def transfer(self, client: Server, server: Server, env: Envelope, message: bytes) -> tuple[str, object]:
        """Play one exchange; returns ("accepted", new_message) | ("refused", Reply) | ("unreachable", None)."""
        tls, auth, lmtp, http = srv.transfer_protocol(client, server)
        n = self.n + 1
        ip = client.ip
        lines: list[SmtpLine] = []
        hop = Hop(n=n, by_name=server.name, by_ip=server.ip, from_server=client.name, by_server=server.name,
                  envelope_from=env.mail_from, mta=server.mta if not lmtp else "dovecot")
        self._tick(client)
        port = srv.port_of(server)
        if not server.up:
            hop.status = "unreachable"
            hop.date = self.clock
            hop.ip = ip
            hop.from_name = client.name
            hop.decision = f"connect to {server.name}[{server.ip}]:{port}: Connection refused"
            hop.smtp = [SmtpLine("C", f"(connect to {server.name}[{server.ip}]:{port}: Connection refused)")]
            self.j.attempts.append(hop)
            return "unreachable", None
        if srv.outbound_blocked(client, server):  # the ISP drops packets to port 25: nobody ever answers
            self.clock += timedelta(seconds=30)  # Postfix's smtp_connect_timeout; mail programs wait as long or longer
            hop.status, hop.date, hop.ip, hop.from_name = "unreachable", self.clock, ip, client.name
            hop.decision = (f"connect to {server.name}[{server.ip}]:{port}: Connection timed out "
                            f"(the network of {client.name} blocks outgoing port {port})")
            hop.smtp = [SmtpLine("C", f"(connect to {server.name}[{server.ip}]:{port}: Connection timed out)")]
            self.j.attempts.append(hop)
            return "unreachable", None
        rdns = self.dns.ptr(ip) if not http else client.reverse_name
        helo = client.helo_name
        session = Session(client_ip=ip, helo=helo, rdns=rdns, client=client, tls=tls,
                          auth_user=env.mail_from.split("@")[0] if auth else None, lmtp=lmtp, http=http)
        if http:
            lines += [SmtpLine("C", f"POST /?_task=mail&_action=send HTTP/1.1 (Host: {server.name})"),
                      SmtpLine("S", "HTTP/1.1 200 OK (message handed to the webmail's SMTP client)")]
        else:
            lines.append(SmtpLine("S", str(srv.greeting(server, self.clock, lmtp=lmtp))))
            verb = "LHLO" if lmtp else "EHLO"
            lines.append(SmtpLine("C", f"{verb} {helo}"))
            lines += [SmtpLine("S", x) for x in srv.ehlo_lines(server, tls_active=False, lmtp=lmtp, submission=auth)]
            if tls:
                lines += [SmtpLine("C", "STARTTLS"), SmtpLine("S", "220 2.0.0 Ready to start TLS"),
                          SmtpLine("C", f"{verb} {helo}")]
                lines += [SmtpLine("S", x) for x in srv.ehlo_lines(server, tls_active=True, submission=auth)]
            if auth:
                lines += [SmtpLine("C", "AUTH PLAIN ********"), SmtpLine("S", "235 2.7.0 Authentication successful")]
            lines += [SmtpLine("C", f"MAIL FROM:<{env.mail_from}> SIZE={len(message)}"), SmtpLine("S", "250 2.1.0 Ok")]
            lines.append(SmtpLine("C", f"RCPT TO:<{env.rcpt}>"))
        if not http:
            reply = srv.rcpt_reply(self.t, server, session, env.rcpt, mail_from=env.mail_from)
            self.refused_at = "RCPT TO"
            lines.append(SmtpLine("S", str(reply)))
            if reply.ok:
                lines += [SmtpLine("C", "DATA"), SmtpLine("S", "354 End data with <CR><LF>.<CR><LF>")]
                lines.append(SmtpLine("C", f"({len(message)} bytes of message: headers, blank line, body)"))
                lines.append(SmtpLine("C", "."))
                greylist = self.greylists.get(server.name)
                if greylist is None:
                    greylist = self.greylists[server.name] = srv.policy.Greylist()
                refused = srv.data_reply(self.t, server, session, env, message, greylist=greylist, when=self.clock,
                                         dns_view=self.dns)
                if refused is not None:
                    reply = refused
                    self.refused_at = "end of DATA"
                    lines.append(SmtpLine("S", str(reply)))
            if not reply.ok:
                lines += [SmtpLine("C", "QUIT"), SmtpLine("S", "221 2.0.0 Bye")]
                hop.status = "rejected"
                hop.date = self.clock
                hop.ip, hop.helo, hop.rdns = ip, helo, rdns
                hop.from_name = srv.from_name_of(srv.flavour(server, session), helo, rdns)
                hop.with_ = session.protocol
                hop.for_ = env.rcpt
                hop.smtp = lines
                hop.decision = f"{server.name} refused: {reply}"
                self.j.attempts.append(hop)
                return "refused", reply
        # webmail writes no queue id (Roundcube's Received line has none)
        qid = None if http else srv.queue_id(server, self.rng, self.clock, lmtp=lmtp)
        new_message, added = srv.stamp(self.t, server, session, env, message, self.clock, qid, self.rng, self.dns)
        if not http:
            msg_id = srv.message_id(message)
            lines.append(SmtpLine("S", str(srv.accepted_reply(server, qid, env.rcpt, self.clock, msg_id))))
            lines += [SmtpLine("C", "QUIT"), SmtpLine("S", "221 2.0.0 Bye")]
        self.n = n
        hop.ip, hop.rdns = ip, rdns
        hop.helo = None if http else helo  # a browser says no HELO
        hop.mta = srv.flavour(server, session)
        hop.from_name = srv.from_name_of(hop.mta, helo, rdns)
        hop.with_ = srv.with_word(server, session)
        hop.id = qid
        # Exchange and qmail-smtpd write no FOR clause
        hop.for_ = None if server.mta in ("exchange", "qmail") and not lmtp else (env.rcpt if not http else None)
        hop.date = self.clock.astimezone(srv.tz_of(server)).replace(microsecond=0)
        hop.tls = "TLSv1.3" if tls else None
        hop.auth = session.auth_user
        hop.added_headers = added
        hop.smtp = lines
        hop.decision = "accepted"
        previous = self.j.hops[-1].date if self.j.hops else None
        hop.delay_s = (hop.date - previous).total_seconds() if previous else None
        self.j.hops.append(hop)
        return "accepted", new_message

    # -- the whole walk -----------------------------------------------------------------------
    def run(self, origin: Server, env: Envelope, message: bytes, *, injected: bool = False) -> Outcome:
        state = _State(origin, env, message)
        self.last = state
        if origin.role == "webmail" and not injected:
            kind, result = self.transfer(_BROWSER, origin, env, message)
            state = self.last = _State(origin, env, result)  # type: ignore[arg-type]
        while True:
            self.last = state
            if self.n >= MAX_HOPS:
                return Outcome("looped", "5.4.6", f"mailhops stopped the simulation after {MAX_HOPS} hops.",
                               server=state.server.name)
            cur = state.server
            rt = srv.route(self.t, cur, state.envelope)
            if rt.kind == "local":
                return self._deliver(cur, state)
            if rt.kind == "link":
                candidates = rt.servers
                if not candidates:
                    raise TopologyError(f"{cur.name} has no server to send mail to (add a link).")
            else:
                assert rt.domain is not None
                answer = self.dns.mx_candidates(rt.domain, self.rng, asking=cur.name)
                self.j.lookups.append(Lookup(cur.name, rt.domain, "MX", answer.records, answer.conclusion, self.n + 1))
                if answer.kind == "null":
                    return self._bounce(cur, state, Reply(556, "5.1.10", f"Recipient address rejected: Domain {rt.domain} does not accept mail (nullMX)"), kind="bounced")
                if answer.kind == "nxdomain":
                    return self._bounce(cur, state, Reply(550, "5.1.2", f"Host or domain name not found. Name service error for name={rt.domain} type=MX: Host not found"), kind="bounced")
                candidates = []
                for _pref, host in answer.candidates:
                    target = self.t.servers.get(host)
                    if target is not None:
                        candidates.append(target)
                if not candidates:
                    return Outcome("deferred", "4.4.3", f"None of the MX hosts of {rt.domain} is a server in this topology.",
                                   server=cur.name)
            moved = False
            temporary: Reply | None = None  # the last 4xx reply: the server answered, but "not now"
            client = cur.role in ("client", "webmail")
            for attempt in range(2):  # after a 4xx, one retry once the backoff has passed (see _retry)
                if attempt and (moved or temporary is None or client):
                    break
                if attempt:
                    self._retry(cur, temporary)  # type: ignore[arg-type]
                for nxt in candidates:
                    kind, result = self.transfer(cur, nxt, state.envelope, state.message)
                    if kind == "unreachable":
                        continue
                    if kind == "refused":
                        reply: Reply = result  # type: ignore[assignment]
                        if not reply.permanent:
                            temporary = reply
                            continue
                        if client:
                            return _client_outcome(cur, nxt, reply)
                        kind = "looped" if srv.is_loop(reply) else "rejected"
                        return self._bounce(cur, state, reply, kind=kind, remote=nxt.name)
                    state = _State(nxt, state.envelope, result)  # type: ignore[arg-type]
                    self._loopback(state)
                    self.last = state
                    moved = True
                    break
            if not moved and client:
                return _client_outcome(cur, candidates[-1], temporary)
            if not moved and temporary is not None:
                return self._still_deferred(cur, candidates, temporary)
            if not moved:
                names = ", ".join(s.name for s in candidates)
                return Outcome("deferred", "4.4.1",
                               f"No server answered ({names}); the message waits in the queue of {cur.name} and is retried "
                               "(Postfix keeps trying for 5 days: maximal_queue_lifetime).", server=cur.name)
            outcome = self._after_accept(state)
            if outcome is not None:
                return outcome

    def _loopback(self, state: _State) -> None:
        """The content filter's loopback hops on the server that just accepted the message (amavisd-new's two,
        ClamSMTP's re-injection: :func:`mailhops.mta.roles.filter_hops`)."""
        for step in srv.filter_hops(state.server, state.envelope, state.message, self.clock, self.rng, self.n + 1):
            previous = self.j.hops[-1].date
            step.hop.delay_s = (step.hop.date - previous).total_seconds() if previous and step.hop.date else None
            self.j.hops.append(step.hop)
            self.n = step.hop.n
            self.clock = step.when
            state.message = step.message

    def _retry(self, cur: Server, reply: Reply) -> None:
        """Wait, as ``cur``'s queue does after a temporary refusal, until the next try (Postfix: the message's age,
        at least ``minimal_backoff_time``, 300 s)."""
        arrival = next((h.date for h in reversed(self.j.hops) if h.by_server == cur.name and h.date), self.clock)
        wait = srv.retry_delay(cur, (self.clock - arrival).total_seconds())
        self.j.notes.append(f"{cur.name} got '{reply}': a temporary refusal (4xx), so it keeps the message in its queue "
                            f"and tries again {wait:g} s later.")
        self.clock += timedelta(seconds=wait)

    def _still_deferred(self, cur: Server, candidates: list[Server], reply: Reply) -> Outcome:
        names = ", ".join(s.name for s in candidates)
        return Outcome("deferred", reply.status or "4.0.0",
                       f"{names} answered '{reply}' again on the retry; the message stays in the queue of {cur.name}, "
                       "which keeps trying at growing intervals (Postfix: the message's age, from 5 minutes up to 66) "
                       "until it is 5 days old (maximal_queue_lifetime), then bounces. Meanwhile a delay warning "
                       "(Action: delayed) can tell the sender.", reply=str(reply), server=cur.name)

    def _after_accept(self, state: _State) -> Outcome | None:
        server = state.server
        hop = self.j.hops[-1]
        res = srv.after_accept(self.t, server, state.envelope, state.message, hop_n=hop.n, via=hop.from_name)
        if res.decision:
            hop.decision = res.decision
        self.j.copies.extend(res.copies)
        self.j.notes.extend(res.notes)
        if res.action == "drop":
            return Outcome("dropped", "2.0.0", res.detail, server=server.name)
        if res.action == "bounce":
            assert res.reply is not None
            return self._bounce(server, state, res.reply, kind=res.kind)
        state.envelope = res.envelope
        if res.message is not None:  # local delivery's Delivered-To line on an alias or .forward copy
            state.message = res.message
            hop.added_headers = [*res.added, *hop.added_headers]
        return None

    def _deliver(self, server: Server, state: _State) -> Outcome:
        msg = state.message
        user = self.t.users[state.envelope.rcpt]
        folder, why = srv.mailbox_folder(user, msg)  # the mailbox's Sieve rule: spam flag or DMARC quarantine
        junk = folder == "Junk"
        self.j.message = msg
        if self.j.hops:
            self.j.hops[-1].decision = f"delivered to {user.address} ({folder})"
        status = "2.0.0"
        detail = f"Delivered to {user.address} on {server.name}, folder {folder}."
        if junk:
            detail += " " + why
        return Outcome("junk" if junk else "delivered", status, detail, mailbox=user.address, folder=folder,
                       server=server.name)

    def _bounce(self, reporter: Server, state: _State, reply: Reply, *, kind: str, remote: str | None = None) -> Outcome:
        env = state.envelope
        where = f"{remote} refused it" if remote else f"{reporter.name} could not deliver it"
        outcome = Outcome(kind, status_of(reply),
                          f"{where}: {reply}", reply=str(reply), server=remote or reporter.name)
        if self.is_bounce or env.mail_from == "":
            outcome.detail += (" This message was itself a bounce (null sender <>), so it is never bounced again; "
                               "the server hands it to its postmaster or discards it.")
            return outcome
        who = "the sender's own server" if remote else reporter.name
        self.j.notes.append(f"{who} ({reporter.name}) writes a bounce (DSN) to <{env.mail_from}> with the null sender <>.")
        self.clock += timedelta(seconds=1)
        arrival = next((h for h in reversed(self.j.hops) if h.by_server == reporter.name), None)
        remote_server = self.t.servers.get(remote) if remote else None
        when = self.clock.astimezone(srv.tz_of(reporter)).replace(microsecond=0)
        qid = srv.queue_id(reporter, self.rng, self.clock)
        dsn = srv.make_dsn(reporter, env, state.message, reply, self.clock, remote=remote, rng=self.rng,
                           arrival=arrival.date if arrival else None,
                           remote_ip=remote_server.ip if remote_server else None, command=self.refused_at,
                           qid=qid, original_qid=arrival.id if arrival else None,
                           received_from=f"{arrival.rdns or arrival.helo or arrival.from_name} [{arrival.ip}]"
                           if arrival and arrival.ip else None)
        self.j.bounce = _bounce_journey(self.t, reporter, env, dsn, self.rng, when, qid)
        return outcome


def _client_outcome(client: Server, server: Server, reply: Reply | None) -> Outcome:
    """What a mail program (no queue, no bounces of its own) tells its user when the server it called did not take
    the message: nobody answered, "not now" (4xx), or "no" (5xx). The live mode words it the same way."""
    if reply is None:
        return Outcome("deferred", "4.4.1", f"{server.name} did not answer; the mail client keeps the message in its "
                       "outbox and tries again later.", server=client.name)
    if not reply.permanent:
        return Outcome("deferred", reply.status or "4.0.0", f"{server.name} refused it for now: {reply}; the mail client "
                       "shows this error and keeps the message in its outbox.", reply=str(reply), server=client.name)
    return Outcome("rejected", reply.status or "5.0.0", f"{server.name} refused it: {reply}; the mail client shows this "
                   "error to the sender (no bounce).", reply=str(reply), server=server.name)


def delay_warning(journey: Journey, *, after: timedelta | None = None) -> bytes:
    """The delay warning the server holding a deferred message sends its sender: a DSN with ``Action: delayed``
    (RFC 3464 §2.3.3) while it keeps trying, written ``after`` the message arrived (default: its MTA's
    ``delay_warning_time``, 4 hours where it is turned on; Postfix's own default, 0h, sends none).

    >>> from mailhops.scenarios import run
    >>> warning = delay_warning(run("deferred"))
    >>> [line for line in warning.split(b"\\r\\n") if line.startswith((b"Subject:", b"Action:", b"Status:"))]
    [b'Subject: Delayed Mail (still being retried)', b'Action: delayed', b'Status: 4.4.1', b'Subject: Lunch on Friday?']
    """
    outcome, topology = journey.outcome, journey.topology
    if outcome is None or outcome.kind != "deferred" or topology is None:
        raise TopologyError("Only a deferred journey (the message still waits in a queue) has a delay warning.")
    reporter = topology.servers.get(outcome.server or "")
    if reporter is None or reporter.role in ("client", "webmail"):
        raise TopologyError("The message waits in the mail program's outbox: a mail program sends no delay warnings, "
                            "only a server's queue does.")
    last = next((a for a in reversed(journey.attempts) if a.from_server == reporter.name), None)
    arrival = next((h for h in reversed(journey.hops) if h.by_server == reporter.name), None)
    remote: Server | None = None
    command = None
    if last is not None and last.status == "rejected":
        reply = parse_reply(last.decision.split(" refused: ", 1)[1])
        remote = topology.servers.get(last.by_server or "")
        command = "end of DATA" if any(line.side == "C" and line.text == "DATA" for line in last.smtp) else "RCPT TO"
    else:
        reply = Reply(450, outcome.status, last.decision if last is not None else outcome.detail)
    start = arrival.date if arrival is not None and arrival.date is not None else EPOCH
    wait = after if after is not None else timedelta(seconds=float(srv.policy.wording(reporter, "DELAY_WARNING_TIME")))  # type: ignore[arg-type]
    when = start + wait
    rng = random.Random(0)
    qid = srv.queue_id(reporter, rng, when)
    envelope = Envelope(journey.envelope_from or "", last.for_ if last is not None and last.for_ else
                        journey.envelope_to or "")
    dsn = srv.make_dsn(reporter, envelope, journey.message or b"", reply, when, remote=remote.name if remote else None,
                       rng=rng, final=False, arrival=start, remote_ip=remote.ip if remote else None, command=command,
                       qid=qid, original_qid=arrival.id if arrival is not None else None)
    local = when.astimezone(srv.tz_of(reporter)).replace(microsecond=0)
    field = srv.local_injection(reporter, local, qid, envelope.mail_from)
    return hdr.prepend(dsn, [field]) if field is not None else dsn


def _bounce_journey(topology: Topology, reporter: Server, env: Envelope, dsn: bytes, rng: random.Random,
                    when: datetime, qid: str | None) -> Journey:
    journey = Journey(source="simulated", envelope_from="", envelope_to=env.mail_from, topology=topology)
    walk = _Walk(topology, rng, journey, when, bounce=True)
    field = srv.local_injection(reporter, when, qid, env.mail_from)
    if field is not None:  # the MTA injects its bounce locally and stamps it (Postfix's cleanup, qmail-queue, ...)
        dsn = hdr.prepend(dsn, [field])
        journey.hops.append(srv.local_hop(reporter, when, qid, env.mail_from, field))
        walk.n = 1
    journey.outcome = walk.run(reporter, Envelope("", env.mail_from), dsn, injected=True)
    if journey.message is None:
        journey.message = walk.last.message
    return journey


def send(
    topology: Topology,
    sender: str,
    recipient: str,
    *,
    message: bytes | None = None,
    subject: str = "Hello from mailhops",
    body: str = "Hi,\n\nthis message shows why an email takes several hops.\n\nBest wishes\n",
    seed: int = 0,
    start: datetime | None = None,
) -> Journey:
    """Send one message from ``sender`` to ``recipient`` through ``topology``; return its journey.

    The sender must be a user of the topology with a ``client`` (a mail client or webmail server).
    ``message`` replaces the message the client would write (raw RFC 5322 bytes). The same ``seed``
    always gives the same journey, byte for byte.
    """
    sender = check_address(sender)
    recipient = check_address(recipient)
    topology.check()
    hdr.check_header_value("Subject", subject)
    user = topology.users.get(sender)
    if user is None or user.client is None:
        raise TopologyError(f"{sender} cannot send: add them as a user with a client (a mail program or webmail).")
    origin = topology.server(user.client)
    if origin.role not in ("client", "webmail"):
        raise TopologyError(f"{sender} writes from {origin.name}, which is a {origin.role}, not a client or webmail.")
    rng = random.Random(seed)
    clock = (start or EPOCH) + timedelta(seconds=rng.randint(0, 3599))
    if message is None:
        local = clock.astimezone(srv.tz_of(origin))
        message = srv.new_message(sender, recipient, subject, body, local, origin.domain or domain_of(sender), rng,
                                  sender_name=user.name)
    elif not isinstance(message, bytes):
        raise TopologyError("The message must be given as bytes (the raw RFC 5322 text).")
    elif b"\r\n" not in message:
        message = message.replace(b"\n", b"\r\n")
    journey = Journey(source="simulated", envelope_from=sender, envelope_to=recipient, topology=topology)
    walk = _Walk(topology, rng, journey, clock, bounce=False)
    journey.outcome = walk.run(origin, Envelope(sender, recipient), message)
    if journey.message is None:  # not delivered: keep the message as it sits at the last server
        journey.message = walk.last.message
    return journey
