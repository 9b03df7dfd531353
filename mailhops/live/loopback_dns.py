"""The topology's DNS served for real: a small authoritative UDP name server on 127.0.0.1.

The live mode (:mod:`mailhops.live`) chooses next hops the way a real MTA does, by asking DNS. This
module answers those questions from the topology's dnspython zones (:class:`mailhops.dns.TopologyDNS`)
over real UDP datagrams, and :meth:`LoopbackDNS.resolver` gives a :class:`dns.resolver.Resolver`
pointed at it. Besides the topology's zones it serves ``1.0.0.127.in-addr.arpa PTR localhost.``, the
locally served loopback zone every resolver answers by itself (RFC 6303 §4.2; Unbound's default
``local-data-ptr``), so live servers see their loopback peers as ``localhost``.

>>> from mailhops.scenarios import get
>>> from mailhops.dns import TopologyDNS
>>> with LoopbackDNS(TopologyDNS(get("mx-fallback").build())) as server:
...     answer = server.resolver().resolve("example.net", "MX")
...     sorted((r.preference, r.exchange.to_text()) for r in answer)
[(10, 'mx1.example.net.'), (20, 'mx2.example.net.')]
"""

from __future__ import annotations

import socket
import threading

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
import dns.zone

from ..dns import TopologyDNS
from ..errors import LiveError

#: The loopback address every live server binds to.
LOOPBACK = "127.0.0.1"
_LOOPBACK_PTR = dns.name.from_text("1.0.0.127.in-addr.arpa.")


class LoopbackDNS:
    """An authoritative name server for a topology's zones, on ``127.0.0.1`` (UDP, ephemeral port).

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. ``port`` 0 (the default)
    lets the system choose a free port; :attr:`port` tells which.
    """

    def __init__(self, topology_dns: TopologyDNS, *, port: int = 0) -> None:
        self.topology_dns = topology_dns
        self.port = port
        self.queries = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> LoopbackDNS:
        if self._sock is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((LOOPBACK, self.port))
        except (OSError, OverflowError) as err:
            sock.close()
            why = getattr(err, "strerror", None) or "not a port number (0 to 65535)"
            raise LiveError(f"The DNS server could not listen on {LOOPBACK} port {self.port}: {why}.") from None
        sock.settimeout(0.2)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name=f"mailhops-dns-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> LoopbackDNS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def resolver(self, *, timeout: float = 2.0) -> dns.resolver.Resolver:
        """A stub resolver that asks this server only (with a small cache, as every real resolver has)."""
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [LOOPBACK]
        res.port = self.port
        res.timeout = timeout
        res.lifetime = timeout
        res.cache = dns.resolver.Cache()
        return res

    def async_resolver(self, *, timeout: float = 2.0) -> dns.asyncresolver.Resolver:
        """The same stub resolver for asyncio code (the servers' event loops ask it for their clients' reverse names)."""
        res = dns.asyncresolver.Resolver(configure=False)
        res.nameservers = [LOOPBACK]
        res.port = self.port
        res.timeout = res.lifetime = timeout
        res.cache = dns.resolver.Cache()
        return res

    # -- answering ------------------------------------------------------------------------------
    def _serve(self) -> None:
        assert self._sock is not None
        sock = self._sock
        while not self._stopping.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = self.answer(wire)
            except Exception:  # noqa: BLE001 - a broken datagram must not stop the server
                continue
            if reply is not None:
                try:
                    sock.sendto(reply, peer)
                except OSError:
                    pass

    def answer(self, wire: bytes) -> bytes | None:
        """The wire-format reply to one wire-format query (``None`` for datagrams that are not queries)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        self.queries += 1
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        qname, rdtype = question.name, question.rdtype
        if qname == _LOOPBACK_PTR:
            if rdtype in (dns.rdatatype.PTR, dns.rdatatype.ANY):
                response.answer.append(dns.rrset.from_text(qname, 3600, "IN", "PTR", "localhost."))
            return response.to_wire()
        zone = self._zone_for(qname)
        if zone is None:
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        node = zone.get_node(qname)
        soa = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(dns.rrset.from_rdata_list(zone.origin, soa.ttl, list(soa)))
            return response.to_wire()
        rds = node.get_rdataset(dns.rdataclass.IN, rdtype)
        if rds is None:  # the name exists, but not with this type: NOERROR, no data (RFC 2308)
            response.authority.append(dns.rrset.from_rdata_list(zone.origin, soa.ttl, list(soa)))
            return response.to_wire()
        response.answer.append(dns.rrset.from_rdata_list(qname, rds.ttl, list(rds)))
        return response.to_wire()

    def _zone_for(self, qname: dns.name.Name) -> dns.zone.Zone | None:
        best: dns.zone.Zone | None = None
        for zone in self.topology_dns.zones.values():
            if qname.is_subdomain(zone.origin) and (best is None or len(zone.origin) > len(best.origin)):
                best = zone
        return best
