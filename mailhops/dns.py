"""The DNS side of a topology, on dnspython: real zones, MX selection, reverse names, live look-ups.

Every topology owns real :mod:`dns.zone` zones (MX, A, AAAA records for the domains and hosts, PTR
records in ``in-addr.arpa``/``ip6.arpa``). :meth:`TopologyDNS.mx_candidates` chooses next hops the
way RFC 5321 §5.1 says: lowest preference first, equal preferences in random (here: seeded) order,
the domain's own address as an *implicit MX* when it has no MX record, and RFC 7505's null MX
(``0 .``) meaning "this domain accepts no mail".

>>> from mailhops.scenarios import get
>>> dns_view = TopologyDNS(get("mx-fallback").build())
>>> print(dns_view.zone_text("example.net").rstrip())  # doctest: +NORMALIZE_WHITESPACE
$ORIGIN example.net.
@ 3600 IN SOA ns hostmaster 1 3600 900 604800 300
@ 3600 IN NS ns
@ 3600 IN MX 10 mx1
@ 3600 IN MX 20 mx2
@ 3600 IN TXT "v=spf1 -all"
imap 3600 IN A 198.51.100.143
mx1 3600 IN A 198.51.100.25
mx2 3600 IN A 198.51.100.26
>>> answer = dns_view.mx_candidates("example.net", random.Random(0))
>>> [(pref, host) for pref, host in answer.candidates]
[(10, 'mx1.example.net'), (20, 'mx2.example.net')]

Live look-ups of real domains happen only on request (:func:`live_mx`), with a short timeout.
"""

from __future__ import annotations

import functools
import ipaddress
import random
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.reversename
import dns.zone

from .errors import DNSLookupError
from .topology import Topology


@dataclass
class MXAnswer:
    """What an MX look-up for one domain concluded.

    ``kind`` is ``"mx"`` (MX records found), ``"implicit"`` (no MX; the domain's own A/AAAA record acts as
    an MX of preference 0), ``"null"`` (RFC 7505 null MX: no mail accepted) or ``"nxdomain"`` (no such
    domain / no address at all). ``candidates`` are (preference, host) in the order to try them.
    """

    domain: str
    kind: str
    candidates: list[tuple[int, str]] = field(default_factory=list)
    records: list[str] = field(default_factory=list)

    @property
    def conclusion(self) -> str:
        if self.kind == "mx":
            order = ", then ".join(f"{h} ({p})" for p, h in self.candidates)
            return f"try {order}" if order else "every MX has a preference no better than the asking server's own"
        if self.kind == "implicit":
            return f"no MX record: the domain's own address is the implicit MX ({self.candidates[0][1]})"
        if self.kind == "null":
            return "null MX (0 .): this domain accepts no mail (RFC 7505)"
        return "no such domain and no address: the mail cannot be routed"


@functools.lru_cache(maxsize=4096)
def _reverse(ip: str) -> str:
    return dns.reversename.from_address(ip).to_text()


class TopologyDNS:
    """Real dnspython zones for a topology's domains and hosts, with the resolver logic mail servers use."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.zones: dict[str, dns.zone.Zone] = {}
        self._texts: dict[str, str] = {}
        self._ptr: dict[str, str | None] = {}
        self._spf: dict[tuple[str, str], tuple[str, str]] = {}
        self._mx: dict[str, list[tuple[int, str]]] = {}
        self._build()

    # -- building -------------------------------------------------------------------------------
    def _zone_for(self, host: str) -> str:
        best = None
        for dom in self.topology.domains:
            if host == dom or host.endswith("." + dom):
                if best is None or len(dom) > len(best):
                    best = dom
        if best is not None:
            return best
        labels = host.split(".")
        return ".".join(labels[-2:]) if len(labels) >= 2 else host

    def _build(self) -> None:
        records: dict[str, list[str]] = {}

        def add(zone: str, owner: str, text: str) -> None:
            records.setdefault(zone, [])
            rel = "@" if owner == zone else owner[: -len(zone) - 1]
            records[zone].append(f"{rel} 3600 IN {text}")

        for dom in self.topology.domains.values():
            records.setdefault(dom.name, [])
            if dom.null_mx:
                add(dom.name, dom.name, "MX 0 .")
            for pref, server in self.topology.mx_hosts(dom.name):
                add(dom.name, dom.name, f"MX {pref} {server.name}.")
            if dom.a is not None:
                kind = "AAAA" if ":" in dom.a else "A"
                add(dom.name, dom.name, f"{kind} {dom.a}")
            record = self.spf_record(dom.name)
            if record is not None:
                add(dom.name, dom.name, f'TXT "{record}"')
        reverse: list[str] = []
        for server in self.topology.servers.values():
            zone = self._zone_for(server.name)
            add(zone, server.name, f"A {server.ip}" if ":" not in server.ip else f"AAAA {server.ip}")
            if server.ipv6:
                add(zone, server.name, f"AAAA {server.ipv6}")
            ptr = server.reverse_name
            if ptr:
                for ip in (server.ip, server.ipv6):
                    if ip:
                        reverse.append(f"{_reverse(ip)} 3600 IN PTR {ptr}.")
        for origin, lines in records.items():
            soa = f"@ 3600 IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 900 604800 300"
            ns = f"@ 3600 IN NS ns.{origin}."
            text = "\n".join([soa, ns, *lines]) + "\n"
            self._texts[origin] = text
            self.zones[origin] = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
        if reverse:
            text = "\n".join(["@ 3600 IN SOA ns.arpa. hostmaster.arpa. 1 3600 900 604800 300", "@ 3600 IN NS ns.arpa.",
                              *reverse]) + "\n"
            self._texts["arpa"] = text
            self.zones["arpa"] = dns.zone.from_text(text, origin="arpa.", relativize=False, check_origin=False)

    def spf_record(self, domain: str) -> str | None:
        """The SPF policy the topology publishes for ``domain`` (``"auto"``: its sending servers, then ``-all``)."""
        dom = self.topology.domains.get(domain)
        if dom is None or dom.spf is None:
            return None
        if dom.spf != "auto":
            return dom.spf
        senders = [s for s in self.topology.servers.values()
                   if s.domain == domain and s.role in ("submission", "relay", "forwarder")]
        mechanisms = [f"ip6:{s.ip}" if ":" in s.ip else f"ip4:{s.ip}" for s in senders]
        return " ".join(["v=spf1", *mechanisms, "-all"])

    # -- questions ------------------------------------------------------------------------------
    def zone_text(self, origin: str) -> str:
        """The zone as a zone file (what a teacher would put in BIND), records sorted by name."""
        zone = self.zones.get(origin)
        if zone is None:
            raise DNSLookupError(f"The topology has no DNS zone for {origin}.")
        return f"$ORIGIN {zone.origin}\n" + zone.to_text(sorted=True, relativize=True)

    def _rdataset(self, name: str, rdtype: str):  # noqa: ANN202 - dnspython's rdataset type
        name = name.rstrip(".").lower()
        if name.endswith(".arpa"):
            zone = self.zones.get("arpa")
        else:
            zone = self.zones.get(self._zone_for(name))
        if zone is None:
            return None, False
        try:
            node = zone.find_node(dns.name.from_text(name), create=False)
        except KeyError:
            return None, False
        return node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype)), True

    def txt(self, name: str) -> list[str]:
        """The TXT strings published at ``name`` (each record's strings joined, as SPF reads them)."""
        rds, _ = self._rdataset(name, "TXT")
        if rds is None:
            return []
        return [b"".join(r.strings).decode("utf-8", "replace") for r in rds]

    def spf(self, ip: str, domain: str) -> tuple[str, str]:
        """Check ``ip`` against ``domain``'s SPF record (RFC 7208): (result, the mechanism that decided).

        Understands ``ip4``, ``ip6``, ``a``, ``mx`` and ``all`` with their qualifiers, which is all the
        records a topology publishes; ``none`` when the domain has no SPF record.
        """
        key = (ip, domain)
        if key not in self._spf:
            self._spf[key] = self._check_spf(ip, domain)
        return self._spf[key]

    def _check_spf(self, ip: str, domain: str) -> tuple[str, str]:
        records = [t for t in self.txt(domain) if t.lower().startswith("v=spf1")]
        if len(records) != 1:
            return ("none" if not records else "permerror"), ""
        results = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
        address = ipaddress.ip_address(ip)
        for term in records[0].split()[1:]:
            qualifier = term[0] if term[0] in results else "+"
            mech = term[1:] if term[0] in results else term
            name, _, arg = mech.partition(":")
            name = name.lower()
            if name == "all":
                matched = True
            elif name in ("ip4", "ip6"):
                try:
                    matched = address in ipaddress.ip_network(arg, strict=False)
                except ValueError:
                    return "permerror", term
            elif name == "a":
                matched = ip in self.addresses(arg or domain)
            elif name == "mx":
                hosts = [h for _, h in self.mx_candidates(arg or domain, random.Random(0)).candidates]
                matched = any(ip in self.addresses(h) for h in hosts)
            else:
                continue
            if matched:
                return results[qualifier], term
        return "neutral", ""

    def addresses(self, host: str) -> list[str]:
        """A and AAAA records of ``host`` (empty when it has none)."""
        out: list[str] = []
        for rdtype in ("A", "AAAA"):
            rds, _ = self._rdataset(host, rdtype)
            if rds is not None:
                out.extend(r.address for r in rds)
        return out

    def ptr(self, ip: str) -> str | None:
        """The reverse name of ``ip`` (its PTR record), or ``None``."""
        if ip in self._ptr:
            return self._ptr[ip]
        rds, _ = self._rdataset(_reverse(ip), "PTR")
        name = None if rds is None else next(iter(rds)).target.to_text().rstrip(".")
        self._ptr[ip] = name
        return name

    def mx_candidates(self, domain: str, rng: random.Random, *, asking: str | None = None) -> MXAnswer:
        """The hosts to try for ``domain``, in order (RFC 5321 §5.1).

        ``asking`` is the host name of the server asking: if it is itself an MX of the domain, MX records
        with a preference equal to or worse than its own are dropped, so that backup MXs never send mail
        back down to the primaries' level and loop.
        """
        domain = domain.lower().rstrip(".")
        if domain not in self._mx:
            rds, _ = self._rdataset(domain, "MX")
            self._mx[domain] = [(r.preference, r.exchange.to_text().rstrip(".").lower()) for r in rds] if rds else []
        records = self._mx[domain]
        if records:
            return order_mx(domain, records, rng, asking=asking)
        if self.addresses(domain):
            return MXAnswer(domain, "implicit", [(0, domain)], [f"{domain}. A {a}" for a in self.addresses(domain)])
        return MXAnswer(domain, "nxdomain", [], [])


def order_mx(domain: str, records: list[tuple[int, str]], rng: random.Random, *, asking: str | None = None) -> MXAnswer:
    """Order MX records the way RFC 5321 §5.1 says (as :meth:`TopologyDNS.mx_candidates` does on its zones).

    >>> order_mx("example.net", [(20, "b.example.net"), (10, "a.example.net")], random.Random(0)).candidates
    [(10, 'a.example.net'), (20, 'b.example.net')]
    """
    text = [f"{domain}. MX {p} {h}." if h else f"{domain}. MX {p} ." for p, h in records]
    if len(records) == 1 and records[0][1] == "":
        return MXAnswer(domain, "null", [], text)
    ordered: list[tuple[int, str]] = []
    for pref in sorted({p for p, _ in records}):
        group = sorted(h for p, h in records if p == pref)
        rng.shuffle(group)
        ordered.extend((pref, h) for h in group)
    if asking is not None:
        own = [p for p, h in ordered if h == asking.lower()]
        if own:
            ordered = [(p, h) for p, h in ordered if p < own[0]]
    return MXAnswer(domain, "mx", ordered, text)


_CACHE: dict[tuple, TopologyDNS] = {}


def dns_for(topology: Topology) -> TopologyDNS:
    """The topology's DNS zones, built once per distinct set of domains, hosts and MX records."""
    key = (
        tuple((d.name, d.null_mx, d.a, d.spf) for d in topology.domains.values()),
        tuple((s.name, s.ip, s.ipv6, s.domain, s.mx_preference, s.rdns, s.role) for s in topology.servers.values()),
    )
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) > 256:
            _CACHE.clear()
        found = _CACHE[key] = TopologyDNS(topology)
    found.topology = topology
    return found


def live_mx(domain: str, *, timeout: float = 3.0, nameserver: str | None = None) -> list[tuple[int, str]]:
    """Ask the real DNS for the MX records of ``domain`` (needs the Internet); sorted by preference.

    Raises :class:`DNSLookupError` with a plain sentence when the look-up fails — and a failed look-up is
    never proof that the domain does not exist: offline machines answer NXDOMAIN for every name.

    >>> live_mx("example.invalid", timeout=0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mailhops.errors.DNSLookupError: ...
    """
    resolver = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        resolver.nameservers = [nameserver]
    resolver.lifetime = timeout
    resolver.timeout = timeout
    try:
        answer = resolver.resolve(domain, "MX", lifetime=timeout)
    except dns.resolver.NXDOMAIN:
        raise DNSLookupError(
            f"The resolver answered that {domain} does not exist (NXDOMAIN); some machines without Internet access "
            "give this answer for every name, so check your connection before concluding anything."
        ) from None
    except dns.resolver.NoAnswer:
        raise DNSLookupError(
            f"{domain} has no MX record; mail to it would go to its A/AAAA address (the implicit MX)."
        ) from None
    except dns.exception.Timeout:
        raise DNSLookupError(
            f"The MX look-up for {domain} timed out after {timeout:g} s; this machine may be offline."
        ) from None
    except dns.exception.DNSException as err:
        raise DNSLookupError(
            f"The MX look-up for {domain} failed ({err.__class__.__name__}); this machine may be offline."
        ) from None
    return sorted((r.preference, r.exchange.to_text().rstrip(".")) for r in answer)


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
