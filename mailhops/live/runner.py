"""The network transport: run a topology as real mail servers on 127.0.0.1 and record the journey.

:class:`LiveTopology` starts one real server per server node of a :class:`~mailhops.topology.Topology`
— an :mod:`aiosmtpd` SMTP server (aiosmtpd's threaded ``Controller``, bound to ``127.0.0.1``) for
submission, relays, MXs and filters, an LMTP server storing into a :class:`mailbox.Maildir` (INBOX
and Junk) for each mailbox server, a small HTTP server for a webmail front end — plus the topology's
DNS zones served for real over UDP (:mod:`mailhops.live.loopback_dns`). Every server decides with the same
functions as the simulator (:mod:`mailhops.mta.roles`): the RCPT and DATA replies, the Received header
it prepends, where the message goes next (DNS MX look-ups through :mod:`dns.resolver`), and the
bounce it writes. Relaying happens after the 250 reply, in worker threads fed by a spooled queue (one
file per message); a deferred message is retried on a bounded schedule and then bounced. A message
the first server did not take (nobody answered, 4xx, a connection lost mid-session) stays in the mail
program's outbox and is tried again on the same schedule; a mail program never bounces, so after the
last try it stays ``deferred`` in the outbox, as in the simulation.

Every SMTP/LMTP line of every hop is captured by the receiving server, and the run comes back as the
same :class:`~mailhops.journey.Journey` the simulator returns (``source="live"``).

>>> from mailhops.topology import Topology
>>> from mailhops.scenarios import get
>>> scenario = get("three-hops")
>>> with LiveTopology(scenario.build()) as live:
...     journey = live.send(scenario.sender, scenario.recipient)
>>> journey.outcome.kind, [h.by_server for h in journey.hops], [h.with_ for h in journey.hops]
('delivered', ['smtp.example.org', 'mx.example.net', 'imap.example.net'], ['ESMTPSA', 'ESMTPS', 'LMTP'])
>>> journey.hops[1].smtp[0].text  # the MX's real greeting, as Postfix words it
'220 mx.example.net ESMTP Postfix'

All thirteen scenarios of :mod:`mailhops.scenarios` run live, and a test checks that each live journey has
the simulated journey's hops (by server), protocol words, failed attempts, outcome and bounce. The
webmail scenario's first hop is real HTTP: a small loopback HTTP server plays the webmail front end
(the browser's ``POST`` of the compose form, HTTP Basic login), writes its ``with HTTP`` Received line and
submits over SMTP like any client. What differs from a simulation is what really differs on loopback:
peers are ``127.0.0.1`` (``localhost`` by the PTR every resolver serves for it), times are real, the
transcripts are aiosmtpd's and smtplib's real words (``250 HELP``, lower-case ``ehlo``), and a
relay reuses its SMTP session for the next message to the same server (Postfix's connection cache,
checked with ``RSET``), so later hops of a busy queue start with ``RSET`` rather than a greeting.

In a notebook (whose kernel already runs an event loop) the servers run in their own threads::

    live = LiveTopology(get("three-hops").build()).start()
    print(live.describe())            # which port plays which server, and how to send to it
    journey = live.send("alice@example.org", "bob@example.net")
    live.stop()                       # or use ``with LiveTopology(...) as live:``

Safety on a shared machine (anything on it can connect to loopback): every server listens on its own
loopback address (127.0.0.2, 127.0.0.3, ...; :mod:`mailhops.live.addresses`) and nothing leaves 127.0.0.0/8;
a server relays only for its own domains, for authenticated users and for the servers of its own
organisation (no open relay); internal servers take mail only from the servers linked to them
(``mynetworks``), so nothing skips a filter; AUTH is offered only by submission servers and only after
STARTTLS, and a login sends only as its own address; commands with control characters or invalid UTF-8
are refused and never reach a header; recipients, sizes, line lengths, errors and reads are limited as
Postfix's defaults limit them (:mod:`mailhops.live.smtp`).
A refused relay attempt gets ``550 5.7.1`` in the imitated MTA's own words (:func:`mailhops.mta.roles.relay_denied`):
Postfix says ``550 5.7.1 <rcpt>: Relay access denied`` (smtpd's ``reject_unauth_destination``, with
``relay_domains_reject_code = 550``; Postfix's default code is 554), Exim ``550 5.7.1 relay not permitted``.

The pieces live in their own modules (listed in :mod:`mailhops.live`); this one starts and stops them.
"""

from __future__ import annotations

import mailbox
import random
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..dns import ResolverView, TopologyDNS
from ..errors import LiveError, TopologyError
from ..journey import Journey, Outcome
from ..mta import roles as srv
from ..mta import trust
from ..mta.roles import Envelope, Reply
from ..topology import Server, Topology, User, check_address, domain_of
from .addresses import loopback_network
from .connections import Peers
from .describe import describe
from .journal import Journal
from .loopback_dns import LOOPBACK, LoopbackDNS
from .mail_queue import MailQueue, QueueEntry
from .mailboxes import Mailboxes, maildir_path, open_maildir
from .mailserver import MailServer
from .memory import Trimmer
from .node import Node
from .sending import Sender
from .shared import Shared, now
from .tls import client_context, server_context

#: How long a deferred message waits before each retry (seconds); after the last one it is bounced.
RETRY_SCHEDULE: tuple[float, ...] = (2.0, 4.0, 8.0)
#: Largest message accepted, in bytes (Postfix's ``message_size_limit`` default).
SIZE_LIMIT = 10_240_000
#: Seconds a server waits for each read from a client (and the client side for each reply).
TIMEOUT = 30.0
#: Journeys the journal keeps once they are over (the rest are let go, so memory stays bounded).
KEEP_JOURNEYS = 200
#: The password of every user of a live topology (loopback only; shown by ``mailhops serve``).
PASSWORD = "mailhops"

_RUNNING: weakref.WeakSet[LiveTopology] = weakref.WeakSet()


class LiveTopology:
    """A topology running as real servers on 127.0.0.1 — a context manager that always cleans up.

    >>> from mailhops.scenarios import get
    >>> with LiveTopology(get("three-hops").build()) as live:
    ...     journey = live.send("alice@example.org", "bob@example.net", subject="Hi")
    ...     len(live.maildir("bob@example.net"))
    1
    >>> journey.outcome.folder
    'INBOX'

    ``directory`` holds the spools and the Maildirs (a temporary directory, removed on exit, when not
    given); ``port_base`` numbers the ports from there instead of letting the system choose;
    ``retry_schedule`` is the wait before each retry of a deferred message; ``on_event(what, journey,
    item)`` is called for each ``"hop"``, ``"attempt"`` and ``"outcome"`` as it happens.
    """

    def __init__(
        self,
        topology: Topology,
        *,
        directory: str | Path | None = None,
        port_base: int | None = None,
        seed: int = 0,
        retry_schedule: tuple[float, ...] = RETRY_SCHEDULE,
        size_limit: int = SIZE_LIMIT,
        timeout: float = TIMEOUT,
        password: str = PASSWORD,
        workers: int = 4,
        on_event: Callable[[str, Journey, Any], None] | None = None,
    ) -> None:
        topology.check()
        self.topology = topology
        self._own_dir = directory is None
        self._dir_arg = Path(directory) if directory is not None else None
        self.directory: Path | None = None
        self.port_base = port_base
        self.retry_schedule = tuple(retry_schedule)
        self.size_limit = size_limit
        self.timeout = timeout
        self.password = password
        self.workers = workers
        self.journal = Journal(on_event, topology, keep=KEEP_JOURNEYS)
        #: The topology the servers really run: a copy whose servers sit on their own loopback addresses.
        self.network, self.note = loopback_network(topology)
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._peers = Peers()
        self._nodes: dict[str, Node] = {}
        self._dns: LoopbackDNS | None = None
        self._sender: Sender | None = None
        #: The mail programs' outbox: messages the first server did not take yet, tried again on the schedule.
        self._outbox: MailQueue | None = None
        self._forms: dict[int, dict[str, str]] = {}
        self._started = False

    def __repr__(self) -> str:
        state = f"running on loopback, {len(self.ports)} ports" if self._started else "stopped"
        return f"LiveTopology({self.topology.name!r}, {state})"

    # -- life cycle -----------------------------------------------------------------------------
    def __enter__(self) -> LiveTopology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LiveTopology:
        """Start every server (a second call does nothing). Raises :class:`LiveError` if a port is taken."""
        if self._started:
            return self
        self._make_room()
        self._started = True
        _RUNNING.add(self)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _make_room(self) -> None:
        """A notebook cell run twice: the old servers on our ports give way to the new ones."""
        if self.port_base is None:
            return
        wanted = set(range(self.port_base, self.port_base + len(self.topology.servers) + 1))
        for other in list(_RUNNING):
            if other is not self and wanted & set(other._all_ports()):
                other.stop()

    def _start(self) -> None:
        self._nodes = {}
        self.network, self.note = loopback_network(self.topology)
        self.journal.topology = self.network
        self.directory = self._make_directory()
        self._tls = server_context(self.directory)
        self._client_tls = client_context()
        dns_port = self._reserve_ports()
        self._start_dns(dns_port)
        self._start_mail_servers()

    def _make_directory(self) -> Path:
        if self._dir_arg is None:
            return Path(tempfile.mkdtemp(prefix="mailhops-live-"))
        self._dir_arg.mkdir(parents=True, exist_ok=True)
        return self._dir_arg

    def _port(self, offset: int) -> int:
        return self.port_base + offset if self.port_base is not None else 0

    def _reserve_ports(self) -> int:
        """One node per server, each holding its port (numbered from ``port_base`` in order); returns the DNS's port."""
        offset = 0
        for server in self.network.servers.values():
            node = Node(server, kind=Node.kind_of(server), host=LOOPBACK if self.note else server.ip)
            self._nodes[server.name] = node
            if node.kind == "client":
                continue
            node.reserve(self._port(offset))
            offset += 1
        return self._port(offset)

    def _start_dns(self, port: int) -> None:
        self._dns = LoopbackDNS(TopologyDNS(self.network), port=port).start()
        self._resolver = self._dns.resolver(timeout=min(self.timeout, 2.0))
        # SPF policies, DKIM keys and DMARC policies: the servers ask the loopback DNS, as real MTAs ask theirs
        trust.check_with(self.network, ResolverView(self._dns.resolver(timeout=min(self.timeout, 2.0))))
        self._aresolver = self._dns.async_resolver(timeout=min(self.timeout, 2.0))

    def _start_mail_servers(self) -> None:
        """Each server's mail handling and queue workers, and its listener when the server is up."""
        assert self.directory is not None
        shared = Shared(self.network, self.journal, self._peers, self._rng, self._rng_lock, password=self.password,
                        timeout=self.timeout, size_limit=self.size_limit, retry_schedule=self.retry_schedule,
                        distinct=self.note is None)
        self._shared = shared
        where = {name: (node.host, node.port) for name, node in self._nodes.items()}
        self._sender = Sender(shared, self._resolver, self._client_tls, where, cache_size=self.workers)
        self._outbox = MailQueue("outbox", None, 1, self._retry_from_client)  # in memory, as the mail program's own
        self._outbox.start()
        mailboxes = Mailboxes(self.network, self.directory, temporary=self._own_dir)
        trimmer = Trimmer()  # freed memory goes back to the system once a burst is over (glibc)
        for node in self._nodes.values():
            if node.kind == "client":
                continue
            node.mail = MailServer(node.server, lmtp=node.lmtp, shared=shared, sender=self._sender, mailboxes=mailboxes,
                                   spool=self.directory / "spool" / node.server.name,
                                   workers=self.workers if node.kind != "lmtp" else 1, address=node.host,
                                   trimmer=trimmer)
            node.mail.queue.recover(lambda env: self.journal.new(env.mail_from, env.rcpt))
            node.mail.start()
            if node.server.up:
                self._listen(node)

    def _listen(self, node: Node) -> None:
        node.listen(tls=self._tls, resolver=self._resolver, aresolver=self._aresolver)

    def stop(self) -> None:
        """Stop every server and worker and free every port (safe to call twice, also after a failed start)."""
        if not self._started:
            return
        self._started = False
        _RUNNING.discard(self)
        if self._outbox is not None:
            self._outbox.stop()
        for node in self._nodes.values():
            if node.mail is not None:
                node.mail.stop()
        if self._sender is not None:
            self._sender.close()
        for node in self._nodes.values():
            node.close()
        if self._dns is not None:
            trust.check_with(self.network, None)  # its zones again, once the loopback DNS is gone
            self._dns.stop()
            self._dns = None
        if self._own_dir and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    def drain(self, timeout: float = 10.0) -> list[tuple[str, QueueEntry]]:
        """Stop accepting (every listener closes), let the queues work for up to ``timeout`` s; return what is left.

        What is left stays in the spool (each entry's ``path``) when the directory is kept, and
        ``LiveTopology(..., directory=same)`` — ``mailhops serve --spool DIR`` — takes it up again.
        """
        for node in self._nodes.values():
            if node.running:
                node.silence()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(n.mail is None or n.mail.queue.idle() for n in self._nodes.values()) and not self.pending():
                break
            time.sleep(0.05)
        return self.pending()

    def stop_server(self, name: str) -> None:
        """Take one server down (connections to its port are refused) — e.g. a primary MX, to see the fallback."""
        node = self._node(name)
        if node.kind == "client" or not node.running:
            return
        node.take_down()

    def start_server(self, name: str) -> None:
        """Bring a stopped server back on its port."""
        node = self._node(name)
        if node.kind == "client" or node.running:
            return
        self._listen(node)

    def _node(self, name: str) -> Node:
        node = self._nodes.get(name.lower())
        if node is None:
            raise LiveError(f"There is no live server named {name}; the servers are {', '.join(self._nodes)}.")
        return node

    def _all_ports(self) -> list[int]:
        ports = [n.port for n in self._nodes.values() if n.port is not None]
        return ports + ([self._dns.port] if self._dns is not None else [])

    # -- questions ------------------------------------------------------------------------------
    @property
    def ports(self) -> dict[str, int]:
        """The loopback port of each server that listens (clients have none)."""
        return {name: n.port for name, n in self._nodes.items() if n.port is not None}

    def address_of(self, name: str) -> tuple[str, int]:
        """The loopback (address, port) of server ``name`` — where to connect to it.

        Each server has its own address (127.0.0.2, 127.0.0.3, ...) where the system allows it, else 127.0.0.1.
        """
        node = self._node(name)
        if node.port is None:
            raise LiveError(f"{name} is a mail client: it has no port to connect to.")
        return node.host, node.port

    def addresses(self) -> dict[str, tuple[str, int]]:
        """The (host, port) every listening socket is really bound to, read from the sockets themselves."""
        out: dict[str, tuple[str, int]] = {}
        for name, node in self._nodes.items():
            address = node.address()
            if address is not None:
                out[name] = address
        if self._dns is not None and self._dns._sock is not None:
            out["dns"] = self._dns._sock.getsockname()[:2]
        return out

    @property
    def dns_port(self) -> int | None:
        return self._dns.port if self._dns is not None else None

    def maildir_path(self, address: str) -> Path:
        """Where the mailbox of ``address`` lives (a Maildir; its Junk folder is the ``.Junk`` sub-folder)."""
        return maildir_path(self.topology, self.directory, address)

    def maildir(self, address: str, folder: str | None = None) -> mailbox.Maildir:
        """The Maildir of ``address`` (``folder="Junk"`` for the Junk folder), for reading with :mod:`mailbox`."""
        return open_maildir(self.maildir_path(address), folder)

    def pending(self) -> list[tuple[str, QueueEntry]]:
        """Messages still waiting in a queue (deferred ones, between retries): (server, entry); a message the first
        server has not taken yet waits in its mail program's outbox: (client, entry)."""
        out = []
        if self._outbox is not None:
            for entry in self._outbox.pending():
                user = self.network.users.get(entry.envelope.mail_from)
                out.append((user.client if user is not None and user.client else "outbox", entry))
        for name, node in self._nodes.items():
            if node.mail is not None:
                out.extend((name, e) for e in node.mail.queue.pending())
        return out

    def describe(self) -> str:
        """Which port plays which server, and ready-to-paste ways to send a message into the topology."""
        return describe(self.network, self._nodes.values(), dns_port=self.dns_port, password=self.password,
                        directory=self.directory, note=self.note)

    # -- sending --------------------------------------------------------------------------------
    def send(
        self,
        sender: str,
        recipient: str,
        *,
        subject: str = "Hello from mailhops",
        body: str = "Hi,\n\nthis message crossed real SMTP servers on 127.0.0.1.\n\nBest wishes\n",
        message: bytes | None = None,
        wait: bool = True,
        final: bool = False,
        timeout: float = 30.0,
    ) -> Journey:
        """Submit a message from ``sender``'s mail client, as that client would, and return its journey.

        With ``wait`` (the default) the call returns once the journey is settled (delivered, refused,
        dropped, looped, or deferred — with ``final=True``, not before a deferred message has bounced).
        """
        if not self._started or self._sender is None:
            raise LiveError("The live topology is not running; call start() or use it in a with-block.")
        sender, recipient = check_address(sender), check_address(recipient)
        user, origin, nxt = self._first_hop(sender, recipient)
        http = nxt is not None and srv.transfer_protocol(origin, nxt)[3]
        message = self._client_message(user, origin, sender, recipient, subject, body, message, http=http)
        key = self.journal.new(sender, recipient)
        if nxt is None:  # a mail program with no outgoing server looks up the recipient's MX itself
            answer = self._sender.find_mx(origin, domain_of(recipient), key)
            found = [self.network.servers[h] for _, h in answer.candidates if h in self.network.servers]
            if not found:
                raise TopologyError(f"{origin.name} finds no MX for {domain_of(recipient)} among the live servers.")
            nxt = found[0]
        entry = QueueEntry(key, Envelope(sender, recipient), message or b"")
        form = {"_from": sender, "_to": recipient, "_subject": subject, "_message": body}
        if http and message is not None:
            form["_raw"] = message.decode("utf-8", "replace")
        kind, reply = self._sender.transfer(origin, nxt, entry, form=form if http else None)
        self._client_outcome(key, kind, reply, origin, nxt)
        if _temporary(kind, reply):
            if http:
                self._forms[key] = form
            self._keep_in_outbox(entry, reply, nxt.name)
        if not wait:
            return self.journal.journey(key)
        return self.journal.wait(key, timeout, final=final)

    def _first_hop(self, sender: str, recipient: str) -> tuple[User, Server, Server | None]:
        """The sending user, their mail client (or webmail) and the server it hands the message to (None: the
        client has no outgoing server and delivers to the recipient's MX itself)."""
        user = self.network.users.get(sender)
        if user is None or user.client is None:
            raise TopologyError(f"{sender} cannot send: add them as a user with a client (a mail program or webmail).")
        origin = self.network.server(user.client)
        route = srv.route(self.network, origin, Envelope(sender, recipient))
        if route.kind == "mx":
            return user, origin, None
        if not route.servers:
            raise TopologyError(f"{origin.name} has no server to send mail to (add a link).")
        return user, origin, route.servers[0]

    def _client_message(self, user: User, origin: Server, sender: str, recipient: str, subject: str, body: str,
                        message: bytes | None, *, http: bool) -> bytes | None:
        """The message the mail client sends (CRLF line ends); None when a webmail writes it from the form."""
        if message is None and not http:
            when = now().astimezone(srv.tz_of(origin))
            with self._rng_lock:
                return srv.new_message(sender, recipient, subject, body, when, origin.domain or domain_of(sender),
                                       self._rng, sender_name=user.name)
        if message is not None and b"\r\n" not in message:
            return message.replace(b"\n", b"\r\n")
        return message

    def _client_outcome(self, key: int, kind: str, reply: Reply | None, origin: Server, nxt: Server) -> None:
        """A message the first server did not take stays with the mail client: in its outbox, or as an error shown
        (the simulator's words, :func:`mailhops.simulate.send`: a mail program has no queue and never bounces)."""
        if kind == "unreachable":
            self.journal.finish(key, Outcome("deferred", "4.4.1", f"{nxt.name} did not answer; the mail client keeps the "
                                             "message in its outbox and tries again later.", server=origin.name))
        elif kind != "accepted" and reply is not None and not reply.permanent:  # 4xx, a lost connection: try later
            self.journal.finish(key, Outcome("deferred", reply.status or "4.0.0", f"{nxt.name} refused it for now: {reply}; "
                                             "the mail client shows this error and keeps the message in its outbox.",
                                             reply=str(reply), server=origin.name))
        elif kind != "accepted":
            assert reply is not None
            self.journal.finish(key, Outcome("rejected", reply.status or "5.0.0", f"{nxt.name} refused it: {reply}; "
                                             "the mail client shows this error to the sender (no bounce).",
                                             reply=str(reply), server=nxt.name))

    # -- the mail program's outbox ----------------------------------------------------------------
    def _keep_in_outbox(self, entry: QueueEntry, reply: Reply | None, nxt: str) -> None:
        """The first server did not take the message (nobody answered, 4xx, lost connection): the mail program keeps it
        in its outbox and tries again on the relays' schedule (:data:`RETRY_SCHEDULE`); it never bounces."""
        entry.attempts += 1
        schedule, user = self.retry_schedule, self.network.users.get(entry.envelope.mail_from)
        client = user.client if user is not None and user.client else "the mail client"
        why = f"{nxt} answered {reply}" if reply is not None else f"{nxt} did not answer"
        if entry.attempts > len(schedule) or self._outbox is None:
            self._forms.pop(entry.key, None)
            tries = f"{entry.attempts} tries" if entry.attempts > 1 else "one try"
            self.journal.give_up(entry.key, Outcome(
                "deferred", reply.status if reply is not None and reply.status else "4.4.1",
                f"{why} ({tries}); the mail client ({client}) shows this error and keeps the message in its outbox "
                "(a mail program never bounces: the sender decides whether to send it again).",
                reply=str(reply) if reply is not None else None, server=client))
            return
        delay = schedule[entry.attempts - 1]
        self.journal.note(entry.key, f"{client}: {why}; the message stays in its outbox, next try in {delay:g} s "
                                     f"(try {entry.attempts + 1} of {len(schedule) + 1}).")
        self._outbox.put(entry, delay=delay)

    def _retry_from_client(self, entry: QueueEntry) -> None:
        """One more try from the mail program's outbox (an outbox worker)."""
        nxt: Server | None = None
        try:
            _, origin, nxt = self._first_hop(entry.envelope.mail_from, entry.envelope.rcpt)
            if nxt is None:
                assert self._sender is not None
                answer = self._sender.find_mx(origin, domain_of(entry.envelope.rcpt), entry.key)
                found = [self.network.servers[h] for _, h in answer.candidates if h in self.network.servers]
                if not found:
                    self._keep_in_outbox(entry, None, origin.name)
                    return
                nxt = found[0]
            assert self._sender is not None
            form = self._forms.get(entry.key)
            kind, reply = self._sender.transfer(origin, nxt, entry, form=form)
        except Exception as err:  # noqa: BLE001 - never lose a message to a bug: keep it in the outbox
            self._keep_in_outbox(entry, Reply(451, "4.3.0", f"Error: internal error ({err.__class__.__name__}: {err})"),
                                 nxt.name if nxt is not None else "the outgoing server")
            return
        if kind == "accepted":
            self._forms.pop(entry.key, None)
            return
        if _temporary(kind, reply):
            self._keep_in_outbox(entry, reply, nxt.name)
            return
        self._forms.pop(entry.key, None)
        self._client_outcome(entry.key, kind, reply, origin, nxt)


def _temporary(kind: str, reply: Reply | None) -> bool:
    """Nobody answered, or the answer was "not now" (4xx, which a lost connection also is): worth another try."""
    return kind == "unreachable" or (kind != "accepted" and reply is not None and not reply.permanent)
