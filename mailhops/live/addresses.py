"""Where each live server sits on loopback: its own address (127.0.0.2, 127.0.0.3, ...) and who may call it.

Linux routes the whole of 127.0.0.0/8 to the loopback interface, so every server of a live topology gets
an address of its own and a Received line shows the address the server really saw. The topology the
live servers work with is a copy of the given one whose servers carry these addresses (the
loopback DNS answers with them, SPF checks the real connecting address against them, the PTR records
name them). Where the system offers only 127.0.0.1 (macOS, without aliases), every server shares it and
the topology's own addresses stay in DNS, with a one-line note saying so.

Internal servers (filters, archives, routers, mailbox servers, ...) take mail only from the servers linked
to them, as Postfix's ``mynetworks`` does, so nothing on the machine can skip a filter.

>>> from mailhops.scenarios import get
>>> network, note = loopback_network(get("three-hops").build(), distinct=True)
>>> [(s.name, s.ip) for s in network.servers.values()][:2], note
([('laptop.example.org', '127.0.0.2'), ('smtp.example.org', '127.0.0.3')], None)
>>> sorted(upstream_addresses(network, network.server("imap.example.net")))
['127.0.0.5']
>>> is_public(network.server("mx.example.net")), is_public(network.server("imap.example.net"))
(True, False)
"""

from __future__ import annotations

import copy
import functools
import re
import socket

from ..topology import Server, Topology

#: The address of the loopback DNS server and of everything that is not a server of the topology.
LOOPBACK = "127.0.0.1"

#: The one-line note shown where the system cannot bind 127.0.0.2 and above.
SHARED_NOTE = ("Note: this system offers only 127.0.0.1 on loopback, so every server shares it (servers are told "
               "apart by port; Received lines show 127.0.0.1).")


@functools.lru_cache(maxsize=1)
def distinct_addresses_available() -> bool:
    """Can this system bind 127.0.0.2 (Linux: yes; macOS without an alias: no)?"""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.2", 0))
    except OSError:
        return False
    return True


def loopback_network(topology: Topology, *, distinct: bool | None = None) -> tuple[Topology, str | None]:
    """A copy of ``topology`` whose servers sit on 127.0.0.2, 127.0.0.3, ... (and the note to show, if any).

    ``distinct`` None asks the system; False keeps the topology's addresses (everything listens on 127.0.0.1).
    """
    if distinct is None:
        distinct = distinct_addresses_available()
    network = copy.deepcopy(topology)
    if not distinct:
        return network, SHARED_NOTE
    mapping: dict[str, str] = {}
    for i, server in enumerate(network.servers.values()):
        if i >= 250:  # 127.0.0.2 .. 127.0.0.251, then the next /24
            address = f"127.0.{1 + i // 250}.{2 + i % 250}"
        else:
            address = f"127.0.0.{2 + i}"
        mapping[server.ip] = address
        if server.ipv6:
            mapping[server.ipv6] = address
        server.ip, server.ipv6 = address, None
    for dom in network.domains.values():
        if dom.a is not None:
            dom.a = mapping.get(dom.a, dom.a)
        if dom.spf not in (None, "auto"):
            dom.spf = _rewrite_spf(str(dom.spf), mapping)
    return network, None


def _rewrite_spf(record: str, mapping: dict[str, str]) -> str:
    """An explicit SPF record with the topology's addresses replaced by their loopback ones.

    >>> _rewrite_spf("v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 -all", {"192.0.2.25": "127.0.0.3", "2001:db8::25": "127.0.0.3"})
    'v=spf1 ip4:127.0.0.3 ip4:127.0.0.3 -all'
    """
    def swap(match: re.Match[str]) -> str:
        address = match.group(2)
        return f"ip4:{mapping[address]}" if address in mapping else match.group(0)

    return re.sub(r"\b(ip[46]):([0-9A-Fa-f:.]+)", swap, record)


def is_public(server: Server) -> bool:
    """Does ``server`` take mail from anyone (a submission server, a webmail, an MX found through DNS)?"""
    return server.role in ("submission", "webmail", "mx") or server.mx_preference is not None


def upstream_addresses(network: Topology, server: Server) -> set[str]:
    """The addresses ``server`` accepts mail from when it is internal: the servers linked to it (``mynetworks``)."""
    out = set()
    for src, dst in network.links:
        if dst == server.name:
            out.add(network.servers[src].ip)
    return out


def upstream_names(network: Topology, server: Server) -> set[str]:
    """The names of the servers linked to ``server``."""
    return {src for src, dst in network.links if dst == server.name}
