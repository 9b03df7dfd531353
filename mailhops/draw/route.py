"""A journey as the drawing sees it: one :class:`~.canvas.Node` per server, the hand-offs between them grouped
into :class:`Edge` s (repeats of one hand-off become a loop, failed attempts stay apart), then the bounce's,
and the DNS lookups each server asked.

A simulated journey names its servers; a journey read from real headers only knows what each
``Received:`` line claims, so there each hop starts where the previous one arrived, and what the
sender said about itself becomes a note on the edge.

>>> from mailhops.journey import Hop, Journey
>>> from mailhops.draw.canvas import Canvas
>>> from mailhops.draw.themes import get_theme
>>> j = Journey(hops=[Hop(1, from_name="a.example", by_name="b.example"),
...                   Hop(2, from_name="b.example", by_name="c.example")])
>>> route = Route.of(j, Canvas(get_theme("light"), slide=False, name="demo"))
>>> [n.name for n in route.order], [(e.src, e.dst, e.steps) for e in route.edges]
(['a.example', 'b.example', 'c.example'], [('n0', 'n1', [1]), ('n1', 'n2', [2])])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..journey import Hop, Journey, Lookup
from ..topology import Topology
from .canvas import Canvas, Node, role_text

__all__ = ["FAILED", "Edge", "Route"]

#: Names a server gives itself on its loopback interface (a content filter's hop: "by localhost").
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")
#: The content filters that listen on loopback, by the ``Hop.mta`` that wrote their Received line.
FILTER_NAMES = {"amavis": "amavisd-new", "clamsmtp": "ClamSMTP"}

#: The kinds of edge that stand for a failed attempt rather than a hand-off.
FAILED = ("rejected", "unreachable", "deferred")


@dataclass
class Edge:
    """One hand-off between two servers, with every hop that made it (several for a loop)."""

    src: str
    dst: str
    kind: str  #: "hop", "bounce", "loop", or one of :data:`FAILED`
    hops: list[Hop] = field(default_factory=list)
    steps: list[int | str] = field(default_factory=list)  # highlight keys: int for the journey, "B1" for its bounce
    note: str | None = None  #: for a real message: who the sender said it was, when that is news
    prefix: str = ""  #: "B" for the bounce's hand-offs
    numbers: list[str] = field(default_factory=list)  #: each hop's number as drawn ("2a", "B1")
    to_sender: bool = False  #: the bounce's hand-off into the sender's mailbox


class Route:
    """The servers (in the order met), the hand-offs and the DNS lookups of a journey and its bounce."""

    def __init__(self, cv: Canvas, topology: Topology | None) -> None:
        self.cv = cv
        self.topology = topology
        self.nodes: dict[tuple[str, str], Node] = {}
        self.order: list[Node] = []
        self.edges: list[Edge] = []
        self.lookups: list[tuple[Node, list[Lookup], str]] = []  # asker, merged lookups, "" or "B"
        #: how each hop is numbered on the drawing (by ``id(hop)``): ``2a``, ``2b`` when hop 2 was tried twice
        self.numbers: dict[int, str] = {}
        self._unknown = 0

    @classmethod
    def of(cls, journey: Journey, cv: Canvas, topology: Topology | None = None) -> Route:
        """The route of ``journey`` then of its bounce; server roles come from ``topology``
        (by default the topology the journey crossed; a real message read from its headers has none)."""
        if topology is None and isinstance(journey.topology, Topology):
            topology = journey.topology
        route = cls(cv, topology)
        route.add_journey(journey)
        if journey.bounce is not None:
            route.add_journey(journey.bounce, prefix="B")
        return route

    def number(self, hop: Hop, prefix: str = "") -> str:
        """How ``hop`` is numbered on the drawing: ``3``, ``B1``, or ``2a``/``2b`` for the tries of one step."""
        return self.numbers.get(id(hop), f"{prefix}{hop.n}")

    def node(self, name: str | None, ip: str | None = None) -> Node:
        """The node of the server called ``name`` (created on first sight); each nameless one is new."""
        if not name:
            self._unknown += 1
            key = ("?", str(self._unknown))
        else:
            key = ("host", name.lower())
        found = self.nodes.get(key)
        if found is not None:
            if ip and not found.ip:
                found.ip = ip
            return found
        server = None
        if name and self.topology is not None:
            server = self.topology.servers.get(name.lower())
        node = Node(self.cv.new_id(), name, role=server.role if server else None,
                    ip=(server.ip if server else None) or ip, down=bool(server and not server.up),
                    role_text=role_text(server) if server else None, domain=server.domain if server else None)
        self.nodes[key] = node
        self.order.append(node)
        return node

    def add_journey(self, journey: Journey, prefix: str = "") -> None:
        """Nodes and edges for ``journey``'s hops and failed attempts; ``prefix`` "B" marks a bounce."""
        analyzed = all(h.from_server is None and h.by_server is None for h in [*journey.hops, *journey.attempts])
        groups: dict[tuple[str, str, str], Edge] = {}
        prev: Node | None = None
        timeline = journey.timeline()
        tries: dict[int, list[Hop]] = {}
        for hop in timeline:
            tries.setdefault(hop.n, []).append(hop)
        for n, same in tries.items():  # retries of one step: 2a, 2b, ... in the order they happened
            for k, hop in enumerate(same):
                self.numbers[id(hop)] = f"{prefix}{n}{'abcdefghijklmnopqrstuvwxyz'[k % 26] if len(same) > 1 else ''}"
        for hop in timeline:
            dst = self._add_hop(hop, prev, prefix, analyzed, groups)
            if hop.status == "accepted":
                prev = dst
        if prefix and journey.outcome is not None and journey.outcome.server:  # where the bounce is delivered
            box = self.nodes.get(("host", journey.outcome.server.lower()))
            for edge in groups.values():
                edge.to_sender = box is not None and edge.dst == box.id and edge.src != edge.dst
        if journey.outcome is not None and journey.outcome.kind == "looped":
            for edge in groups.values():
                if edge.kind == "hop" and len(edge.hops) > 1:
                    edge.kind = "loop"
        self._add_lookups(journey, prefix)

    def _add_hop(self, hop: Hop, prev: Node | None, prefix: str, analyzed: bool,
                 groups: dict[tuple[str, str, str], Edge]) -> Node:
        """Put ``hop`` on the edge between its two servers (a new edge for each failed attempt); returns
        the receiving server's node."""
        failed = hop.status != "accepted"
        src, dst, local = self._ends(hop, prev, analyzed)
        kind = "bounce" if prefix else "hop"
        if failed:
            kind = hop.status if hop.status in FAILED else "rejected"
            if hop.status == "unreachable":
                dst.down = True
        note = "written on this server" if src is dst and local else None
        if analyzed and src is prev:
            note = self._sender_note(hop, src) or note
        key = (src.id, dst.id, kind if not failed else f"{kind}-{len(groups)}")
        edge = groups.get(key)
        if edge is None:
            edge = groups[key] = Edge(src.id, dst.id, kind, note=note, prefix=prefix)
            self.edges.append(edge)
        edge.hops.append(hop)
        edge.numbers.append(self.number(hop, prefix))
        edge.steps.append(f"{prefix}{hop.n}" if prefix else hop.n)
        return dst

    def _ends(self, hop: Hop, prev: Node | None, analyzed: bool) -> tuple[Node, Node, bool]:
        """The sending and receiving servers of ``hop``, and whether the server wrote the message itself."""
        failed = hop.status != "accepted"
        # nothing about a sending side ("Received: by HOST id ..."): the server wrote the message itself
        local = not failed and not any((hop.from_server, hop.from_name, hop.helo, hop.rdns, hop.ip))
        src: Node | None
        if analyzed and prev is not None and not failed:
            src = prev
        elif local:
            src = None
        elif analyzed:
            src = self.node(hop.from_name or hop.helo or hop.rdns, hop.ip)
        else:
            name = hop.from_server or hop.from_name or hop.helo
            back = hop.by_server or hop.by_name
            if name and _loopback(name) and back and not _loopback(back):  # the filter hands the message back
                src = self.filter_node(self.node(back, hop.by_ip))
            else:
                src = self.node(name, hop.ip)
        by = hop.by_name if analyzed else (hop.by_server or hop.by_name)
        if by and by.lower() in LOOPBACK_NAMES and src is not None and src.name and not _loopback(src.name):
            dst = self.filter_node(src, hop)  # a content filter on the sending server's loopback
        else:
            dst = self.node(by, hop.by_ip)
        return (dst if src is None else src), dst, local

    def filter_node(self, host: Node, hop: Hop | None = None) -> Node:
        """The node of the content filter (amavisd-new, ClamSMTP) listening on ``host``'s loopback: named
        ``localhost`` as its Received line says, its role the filter, drawn beside ``host`` (the same machine)."""
        key = ("loopback", (host.name or "").lower())
        found = self.nodes.get(key)
        if found is not None:
            return found
        program = FILTER_NAMES.get((hop.mta or "").lower(), "") if hop is not None else ""
        words = f"{program} (content filter)" if program else "content filter"
        node = Node(self.cv.new_id(), "localhost", role="filter", ip="127.0.0.1", role_text=words,
                    domain=host.domain, beside=host.id)
        self.nodes[key] = node
        self.order.append(node)
        return node

    @staticmethod
    def _sender_note(hop: Hop, src: Node) -> str | None:
        """For a real message, where the hop starts at the previous hop's server: what the sender
        claimed to be, when that differs from that server (its name, or its IP)."""
        claimed = hop.from_name or hop.helo or hop.rdns
        if claimed and src.name and claimed.lower() != src.name.lower():
            return f"from {claimed}" + (f" [{hop.ip}]" if hop.ip else "")
        if hop.ip and not src.ip:
            src.ip = hop.ip
        elif hop.ip and hop.ip != src.ip:
            return f"from [{hop.ip}]"
        return None

    def _add_lookups(self, journey: Journey, prefix: str) -> None:
        """The DNS lookups of ``journey``, repeats of one question by one server merged."""
        merged: dict[tuple[str, str, str], list[Lookup]] = {}
        for lk in journey.lookups:
            merged.setdefault((lk.asked_by.lower(), lk.qname.lower(), lk.rdtype.upper()), []).append(lk)
        for (asked_by, _, _), lks in merged.items():
            self.lookups.append((self.node(asked_by), lks, prefix))


def _loopback(name: str) -> bool:
    """Whether ``name`` is a loopback name (``localhost``)."""
    return name.lower().rstrip(".") in LOOPBACK_NAMES
