"""The DNS side of a topology, on dnspython: real zones, MX selection, reverse names, live look-ups.

Every topology owns real :mod:`dns.zone` zones (MX, A, AAAA records for the domains and hosts, PTR
records in ``in-addr.arpa``/``ip6.arpa``), and the TXT records that let receivers judge who sent a message:
each domain's SPF policy (RFC 7208), its DKIM public key at ``SELECTOR._domainkey`` (RFC 6376 §3.6.2; the
demo keys of :mod:`mailhops.demo_keys`) and its DMARC policy at ``_dmarc`` (RFC 7489 §6.1).
:func:`all_zones_text` prints them all in master-file format, each zone starting with ``$ORIGIN``.
:meth:`TopologyDNS.mx_candidates` chooses next hops the
way RFC 5321 §5.1 says: lowest preference first, equal preferences in random (here: seeded) order,
the domain's own address as an *implicit MX* when it has no MX record, and RFC 7505's null MX
(``0 .``) meaning "this domain accepts no mail".

>>> from mailhops.scenarios import get
>>> dns_view = TopologyDNS(get("mx-fallback").build())
>>> print(dns_view.zone_text("example.net").rstrip())  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
$ORIGIN example.net.
@ 3600 IN SOA ns hostmaster 1 3600 900 604800 300
@ 3600 IN NS ns
@ 3600 IN MX 10 mx1
@ 3600 IN MX 20 mx2
@ 3600 IN TXT "v=spf1 -all"
_dmarc 3600 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.net"
mail._domainkey 3600 IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ..."
imap 3600 IN A 198.51.100.143
mx1 3600 IN A 198.51.100.25
mx2 3600 IN A 198.51.100.26
>>> dns_view.spf("192.0.2.25", "example.org")[0], dns_view.spf("203.0.113.99", "example.org")[0]
('pass', 'fail')
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
import spf

from .demo_keys import demo_key
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
        self._spf: dict[tuple[str, str, str | None, str | None], tuple[str, str]] = {}
        self._mx: dict[str, list[tuple[int, str]]] = {}
        self._txt: dict[str, list[str]] = {}
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
                add(dom.name, dom.name, f"TXT {_txt_strings(record)}")
            if dom.dkim_selector is not None:
                add(dom.name, f"{dom.dkim_selector}._domainkey.{dom.name}", f"TXT {_txt_strings(self.dkim_record(dom.name))}")
            record = self.dmarc_record(dom.name)
            if record is not None:
                add(dom.name, f"_dmarc.{dom.name}", f"TXT {_txt_strings(record)}")
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
        self._build_blocklists()

    def _build_blocklists(self) -> None:
        """A zone per DNS blocklist the servers ask or are listed in (RFC 5782 §2.1): for each listed address,
        its octets reversed under the list's name, an A record 127.0.0.2 ("listed") and a TXT record saying why.

        (RFC 5782's own test entry, 127.0.0.2 itself, is left out: in the live mode 127.0.0.2 is a server's address.)
        """
        lists = sorted({z.lower().rstrip(".") for s in self.topology.servers.values() for z in (*s.dnsbl, *s.listed_in)})
        for origin in lists:
            lines = [f"@ 3600 IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 900 604800 300", f"@ 3600 IN NS ns.{origin}."]
            for server in self.topology.servers.values():
                if origin in {z.lower().rstrip(".") for z in server.listed_in} and ":" not in server.ip:
                    owner = ".".join(reversed(server.ip.split(".")))
                    lines += [f"{owner} 2100 IN A 127.0.0.2", f"{owner} 2100 IN TXT {_txt_strings(blocklist_reason(origin, server.ip))}"]
            text = "\n".join(lines) + "\n"
            self._texts[origin] = text
            self.zones[origin] = dns.zone.from_text(text, origin=origin + ".", relativize=False, check_origin=False)

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

    def dkim_record(self, domain: str) -> str:
        """The DKIM key record (RFC 6376 §3.6.1) ``domain`` publishes for its demo key (see :mod:`mailhops.demo_keys`)."""
        return f"v=DKIM1; k=rsa; p={demo_key(domain).public_b64}"

    def dmarc_record(self, domain: str) -> str | None:
        """The DMARC record (RFC 7489 §6.3) of ``domain``, or ``None`` when it publishes none."""
        dom = self.topology.domains.get(domain)
        if dom is None or dom.dmarc is None:
            return None
        return f"v=DMARC1; p={dom.dmarc}; rua=mailto:dmarc-reports@{domain}"

    # -- questions ------------------------------------------------------------------------------
    def all_zones_text(self) -> str:
        """Every zone of the topology as master-file text, one after another, each starting with ``$ORIGIN``.

        Each part loads with ``dns.zone.from_text`` (which reads the ``$ORIGIN`` line).
        """
        return "\n".join(self.zone_text(origin) for origin in self.zones)

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
            zone = self.zones.get(self._zone_for(name)) or next(  # a blocklist's zone sits under no topology domain
                (z for origin, z in self.zones.items() if name.endswith("." + origin)), None)
        if zone is None:
            return None, False
        try:
            node = zone.find_node(dns.name.from_text(name), create=False)
        except KeyError:
            return None, False
        return node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype)), True

    def txt(self, name: str) -> list[str]:
        """The TXT strings published at ``name`` (each record's strings joined, as SPF reads them)."""
        found = self._txt.get(name)
        if found is None:
            rds, _ = self._rdataset(name, "TXT")
            found = [] if rds is None else [b"".join(r.strings).decode("utf-8", "replace") for r in rds]
            _keep(self._txt, name, found)  # the zones never change once built
        return list(found)

    def spf(self, ip: str, domain: str, helo: str | None = None, sender: str | None = None) -> tuple[str, str]:
        """Check ``ip`` against ``domain``'s SPF policy with pyspf (RFC 7208): (result, the mechanism that decided).

        The result is one of ``pass``, ``fail``, ``softfail``, ``neutral``, ``none``, ``permerror`` and
        ``temperror``; pyspf asks this topology's zones, never the network (:class:`ZoneSPFQuery`).
        """
        key = (ip, domain, helo, sender)
        if key not in self._spf:
            query = ZoneSPFQuery(self, i=ip, s=sender or f"postmaster@{domain}", h=helo or domain)
            result, _code, _explanation = query.check()
            _keep(self._spf, key, (result, query.mechanism or ""))
            return result, query.mechanism or ""
        return self._spf[key]

    def answers(self, name: str, rdtype: str) -> list:  # noqa: ANN401 - the shapes pyspf expects
        """The records at ``name`` in the shapes pyspf's ``query.dns`` returns (strings, MX pairs, TXT strings)."""
        rds, _ = self._rdataset(name, rdtype)
        if rds is None:
            return []
        if rdtype in ("A", "AAAA"):
            return [r.address for r in rds]
        if rdtype == "MX":
            return [(r.preference, r.exchange) for r in rds]
        if rdtype == "PTR":
            return [r.target.to_text(True) for r in rds]
        if rdtype == "TXT":
            return [r.strings for r in rds]
        return []

    def dkim_txt(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        """The ``dnsfunc`` dkimpy calls for a key record: the TXT record at ``name`` (strings joined), or ``None``."""
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        found = self.txt(text)
        return found[0].encode("utf-8") if found else None

    def dmarc_txt(self, name: str) -> str | None:
        """The ``dnsfunc`` authheaders calls for a DMARC record: the TXT record at ``name``, or ``None``."""
        found = [t for t in self.txt(name) if t.startswith("v=DMARC1")]
        return found[0] if len(found) == 1 else None

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
        _keep(self._ptr, ip, name)
        return name

    def blocklisted(self, ip: str, blocklist: str) -> str | None:
        """Ask the DNS blocklist ``blocklist`` about ``ip`` (RFC 5782 §2.1): the TXT reason if it is listed, else ``None``.

        >>> from mailhops.scenarios import get
        >>> view = TopologyDNS(get("direct-from-laptop").build())
        >>> view.blocklisted("203.0.113.45", "zen.dnsbl.example")
        'https://www.dnsbl.example/query/ip/203.0.113.45'
        >>> view.blocklisted("192.0.2.25", "zen.dnsbl.example") is None
        True
        """
        origin = blocklist.lower().rstrip(".")
        zone = self.zones.get(origin)
        if zone is None or ":" in ip:
            return None
        name = dns.name.from_text(".".join(reversed(ip.split("."))) + "." + origin + ".")
        node = zone.get_node(name)
        if node is None or node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.A) is None:
            return None
        txt = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT)
        return b"".join(next(iter(txt)).strings).decode("utf-8", "replace") if txt is not None else ""

    def mx_candidates(self, domain: str, rng: random.Random, *, asking: str | None = None) -> MXAnswer:
        """The hosts to try for ``domain``, in order (RFC 5321 §5.1).

        ``asking`` is the host name of the server asking: if it is itself an MX of the domain, MX records
        with a preference equal to or worse than its own are dropped, so that backup MXs never send mail
        back down to the primaries' level and loop.
        """
        domain = domain.lower().rstrip(".")
        if domain not in self._mx:
            rds, _ = self._rdataset(domain, "MX")
            _keep(self._mx, domain, [(r.preference, r.exchange.to_text().rstrip(".").lower()) for r in rds] if rds else [])
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


#: How many answers each :class:`TopologyDNS` remembers per kind (TXT, SPF verdicts, MX, PTR): the names asked
#: come from messages (a DKIM selector, an envelope sender), so a long run must not keep every one.
ANSWERS_KEPT = 1024


def _keep(answers: dict, key: object, value: object) -> None:
    """Remember ``value`` for ``key``, forgetting the oldest answer beyond :data:`ANSWERS_KEPT` (answers are a pure
    function of the zones, which never change once built, so forgetting one only costs asking again).

    >>> answers = {}
    >>> for i in range(ANSWERS_KEPT + 5):
    ...     _keep(answers, i, str(i))
    >>> len(answers), min(answers)
    (1024, 5)
    """
    answers[key] = value
    if len(answers) > ANSWERS_KEPT:
        del answers[next(iter(answers))]


_CACHE: dict[tuple, TopologyDNS] = {}


def dns_for(topology: Topology) -> TopologyDNS:
    """The topology's DNS zones, built once per distinct set of domains, hosts and MX records."""
    key = (
        tuple((d.name, d.null_mx, d.a, d.spf, d.dkim_selector, d.dmarc) for d in topology.domains.values()),
        tuple((s.name, s.ip, s.ipv6, s.domain, s.mx_preference, s.rdns, s.role, s.dnsbl, s.listed_in)
              for s in topology.servers.values()),
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


def live_txt_lookup(*, timeout: float = 3.0, nameserver: str | None = None, port: int = 53):  # noqa: ANN201 - a dnsfunc
    """A TXT look-up function on the real DNS, for dkimpy's ``dnsfunc`` (``mailhops analyze --verify``).

    It first checks that the resolver answers at all (the ``com.`` name servers must exist): when it does not,
    it raises :class:`DNSLookupError` with one sentence, because an offline machine answers NXDOMAIN for every
    name and a missing key must never be concluded from that. Afterwards NXDOMAIN and NODATA mean "no record"
    (``None``), and a time-out or a server failure raises :class:`DNSLookupError`.

    >>> try:
    ...     live_txt_lookup(timeout=0.2, nameserver="127.0.0.1", port=9)  # the discard port: nobody answers
    ... except DNSLookupError as err:
    ...     print(str(err)[:40])
    Live DNS did not answer (looking up com.
    """
    resolver = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        resolver.nameservers = [nameserver]
        resolver.port = port
    resolver.lifetime = resolver.timeout = timeout
    try:
        resolver.resolve("com.", "NS", lifetime=timeout)
    except dns.exception.DNSException as err:
        raise DNSLookupError(
            f"Live DNS did not answer (looking up com. gave {err.__class__.__name__}): this machine seems to be "
            "offline, so the signatures were not checked."
        ) from None

    def lookup(name: bytes | str, timeout: float = timeout) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        try:
            answer = resolver.resolve(text, "TXT", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.exception.DNSException as err:
            raise DNSLookupError(f"The TXT look-up of {text} failed ({err.__class__.__name__}).") from None
        return b"".join(answer[0].strings) if len(answer) else None

    return lookup


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class ResolverView:
    """The trust questions of :class:`TopologyDNS` (``spf``, ``dkim_txt``, ``dmarc_txt``) asked of a real DNS
    server through a dnspython resolver: the live mode's servers ask their loopback DNS
    (:mod:`mailhops.live.loopback_dns`) for SPF, DKIM keys and DMARC policies, as real MTAs ask theirs.

    NXDOMAIN and NODATA mean "no record"; any other failure is a temporary error (SPF ``temperror``, DKIM
    ``temperror``), never a verdict; a DMARC policy that cannot be read is taken as none published (no refusal).

    >>> from mailhops.scenarios import get
    >>> from mailhops.live.loopback_dns import LoopbackDNS
    >>> with LoopbackDNS(TopologyDNS(get("three-hops").build())) as server:
    ...     view = ResolverView(server.resolver())
    ...     view.spf("192.0.2.25", "example.org")[0], view.dmarc_txt("_dmarc.example.org")[:10]
    ('pass', 'v=DMARC1; ')
    """

    def __init__(self, resolver: dns.resolver.Resolver) -> None:
        self.resolver = resolver
        self._spf: dict[tuple[str, str, str | None, str | None], tuple[str, str]] = {}

    def answers(self, name: str, rdtype: str) -> list:  # noqa: ANN401 - the shapes pyspf expects
        """The records at ``name``, in the shapes of :meth:`TopologyDNS.answers`; raises :class:`DNSLookupError`."""
        try:
            rrset = self.resolver.resolve(name.rstrip(".") + ".", rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as err:
            raise DNSLookupError(f"The {rdtype} look-up of {name} failed ({err.__class__.__name__}).") from None
        if rdtype in ("A", "AAAA"):
            return [r.address for r in rrset]
        if rdtype == "MX":
            return [(r.preference, r.exchange) for r in rrset]
        if rdtype == "PTR":
            return [r.target.to_text(True) for r in rrset]
        if rdtype == "TXT":
            return [r.strings for r in rrset]
        return []

    def txt(self, name: str) -> list[str]:
        """The TXT strings published at ``name`` (each record's strings joined)."""
        return [b"".join(strings).decode("utf-8", "replace") for strings in self.answers(name, "TXT")]

    spf = TopologyDNS.spf
    dkim_txt = TopologyDNS.dkim_txt

    def dmarc_txt(self, name: str) -> str | None:
        """The DMARC record at ``name``; ``None`` when there is none or it could not be read."""
        try:
            return TopologyDNS.dmarc_txt(self, name)  # type: ignore[arg-type]
        except DNSLookupError:
            return None


class ZoneSPFQuery(spf.query):
    """pyspf's SPF evaluation (RFC 7208, macros, include, redirect, the lookup limits), its DNS answered
    from a topology's zones: :meth:`dns` is pyspf's own hook for the look-ups of one evaluation.

    >>> from mailhops.scenarios import get
    >>> view = TopologyDNS(get("three-hops").build())
    >>> ZoneSPFQuery(view, i="192.0.2.25", s="alice@example.org", h="smtp.example.org").check()[0]
    'pass'
    """

    def __init__(self, view: TopologyDNS, **kwargs: object) -> None:
        self.view = view
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def dns(self, name: str, qtype: str, cnames: object = None, ignore_void: bool = False) -> list:  # noqa: ANN401
        try:
            result = self.view.answers(str(name).rstrip("."), qtype) if name else []
        except DNSLookupError as err:  # a live DNS server did not answer (ResolverView): SPF temperror
            raise spf.TempError(str(err)) from None
        if not result and not ignore_void:  # RFC 7208 §4.6.4: at most two void look-ups
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result


def blocklist_reason(blocklist: str, ip: str) -> str:
    """The TXT text a blocklist gives for a listed address: a page to look it up, as Spamhaus's lists answer.

    >>> blocklist_reason("zen.dnsbl.example", "203.0.113.45")
    'https://www.dnsbl.example/query/ip/203.0.113.45'
    """
    site = blocklist.split(".", 1)[1] if blocklist.count(".") >= 2 else blocklist
    return f"https://www.{site}/query/ip/{ip}"


def _txt_strings(text: str) -> str:
    """A TXT record's text as master-file strings, cut into the 255-byte pieces DNS allows (RFC 1035 §3.3).

    >>> _txt_strings("v=spf1 -all")
    '"v=spf1 -all"'
    >>> _txt_strings("x" * 300).count('" "')
    1
    """
    pieces = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in pieces)
