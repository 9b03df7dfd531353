"""What a receiving server knows about one connection, and which loopback ports are the topology's own clients.

A :class:`Connection` keeps the transcript of one inbound session (SMTP, LMTP or the webmail's HTTP) —
credentials masked, the message itself summed up in one line — plus the client it came from and the
journeys it carries. :class:`Peers` is how the two ends of a hop find each other on loopback: a sending
side registers its source port before it speaks, so the receiving server knows which server of the
topology is calling and for which journey; the receiving side registers its connection under that port,
so a sender that keeps its session open (the connection cache) can close the transaction it just ended.

>>> conn = Connection(journal=None, peers=None)
>>> conn.client_line(b"AUTH PLAIN AGFsaWNlAG1haWxob3Bz\\r\\n")
>>> conn.server_line("235 2.7.0 Authentication successful")
>>> [(line.side, line.text) for line in conn.lines]
[('C', 'AUTH PLAIN ********'), ('S', '235 2.7.0 Authentication successful')]
"""

from __future__ import annotations

from ..journey import SmtpLine
from ..topology import Server
from .journal import Journal

#: Lines of one transaction's transcript kept (a client sending NOOP forever must not fill the memory).
MAX_LINES = 400


class Connection:
    """What a receiving server knows about one connection: its transcript, client, and journeys."""

    def __init__(self, journal: Journal, peers: Peers) -> None:
        self.journal = journal
        self.peers = peers
        self.lines: list[SmtpLine] = []
        self.tx_closed = False
        self.in_data = False
        self.data_bytes = 0
        self.secret_next = False
        self.keys: set[int] = set()
        self.identified = False
        self.client: Server | None = None
        self.key: int | None = None
        self.rdns: str | None = None
        self.rdns_done = False
        self.tls_version: str | None = None
        self.peer: tuple[str, int] | None = None  # our own client's source, when it is one
        self.held: list[bytes] = []  # continuation lines of a multi-line reply, sent with its last line

    @property
    def tls_name(self) -> str:
        """The TLS version the session negotiated, as a Received line names it (``TLS`` when unknown)."""
        return self.tls_version or "TLS"

    def _add(self, side: str, text: str) -> None:
        if len(self.lines) < MAX_LINES:
            self.lines.append(SmtpLine(side, text))
        elif len(self.lines) == MAX_LINES:
            self.lines.append(SmtpLine(side, "(... the rest of this session is not recorded)"))

    def server_line(self, text: str) -> None:
        for part in text.split("\r\n"):
            self._add("S", part)
        if text.startswith("354"):
            self.in_data, self.data_bytes = True, 0
        self.secret_next = text.startswith("334")

    def client_line(self, raw: bytes) -> None:
        if self.in_data:
            if raw == b".\r\n":
                self.in_data = False
                self._add("C", f"({self.data_bytes} bytes of message: headers, blank line, body)")
                self._add("C", ".")
            else:
                self.data_bytes += len(raw)
            return
        text = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        if self.secret_next:
            self.secret_next = False
            text = "********"
        elif text[:5].upper() == "AUTH ":
            words = text.split()
            text = " ".join(words[:2] + (["********"] if len(words) > 2 else []))
        if self.tx_closed and text[:4].upper() == "MAIL":
            # a client that keeps its session open starts the next message: the last one's transcript is complete,
            # so its journeys are let go (else a long session would hold every journey it ever carried)
            self.end_transaction()
        self._add("C", text)

    def bind(self, key: int) -> None:
        if key not in self.keys:
            self.keys.add(key)
            self.journal.opened(key)

    def end_transaction(self) -> None:
        """A transaction on this connection is over (the client keeps the session open for the next message)."""
        keys, self.keys = self.keys, set()
        self.lines, self.tx_closed = [], False
        for key in keys:
            self.journal.closed(key)

    def close(self) -> None:
        if self.peer is not None:
            self.peers.forget(self.peer, self)
        keys, self.keys = self.keys, set()
        for key in keys:
            self.journal.closed(key)


#: Where a TCP connection comes from: (address, port). Servers of one topology send from different loopback
#: addresses, and the same port number can be in use from two of them at once, so the port alone is not enough.
Source = tuple[str, int]


class Peers:
    """Source (address, port) -> (sending server, journey) for the topology's own clients, and the receiving end of each.

    >>> from mailhops.topology import Server
    >>> peers = Peers()
    >>> peers.sending(("127.0.0.3", 40000), Server("smtp.example.org", "submission", "127.0.0.3"), 7)
    >>> peers.sender(("127.0.0.3", 40000))[1], peers.sender(("127.0.0.2", 40000))
    (7, None)
    """

    def __init__(self) -> None:
        self._outgoing: dict[Source, tuple[Server, int]] = {}
        self._inbound: dict[Source, Connection] = {}

    def sending(self, source: Source, client: Server, key: int) -> None:
        """``client`` is about to speak from ``source``, carrying journey ``key``."""
        self._outgoing[source] = (client, key)

    def sent(self, source: Source) -> None:
        self._outgoing.pop(source, None)

    def sender(self, source: Source) -> tuple[Server, int] | None:
        return self._outgoing.get(source)

    def receiving(self, source: Source, conn: Connection) -> None:
        """``conn`` is the receiving end of the session our own client opened from ``source``."""
        self._inbound[source] = conn

    def forget(self, source: Source, conn: Connection) -> None:
        """``conn`` closed (a newer connection from the same source, registered meanwhile, stays)."""
        if self._inbound.get(source) is conn:
            del self._inbound[source]

    def end_transaction(self, source: Source) -> None:
        """The client at ``source`` finished a transaction: the receiving end lets go of its journeys."""
        conn = self._inbound.get(source)
        if conn is not None:
            conn.end_transaction()
