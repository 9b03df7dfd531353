"""Mail topologies: domains, the servers that handle their mail, the links between them, and users.

A topology is plain data; :func:`mailhops.simulate.send` walks a message through it and
:mod:`mailhops.live` runs it as real servers.

>>> t = Topology("demo")
>>> org = t.add_domain("example.org")
>>> net = t.add_domain("example.net")
>>> t.add_server("laptop.example.org", "client", "192.0.2.10", domain="example.org")
Server('laptop.example.org', role='client')
>>> t.add_server("smtp.example.org", "submission", "192.0.2.25", domain="example.org")
Server('smtp.example.org', role='submission')
>>> t.add_server("mx.example.net", "mx", "198.51.100.25", domain="example.net", mx_preference=10)
Server('mx.example.net', role='mx')
>>> t.add_server("imap.example.net", "mailbox", "198.51.100.143", domain="example.net")
Server('imap.example.net', role='mailbox')
>>> t.link("laptop.example.org", "smtp.example.org")
>>> t.link("mx.example.net", "imap.example.net")
>>> _ = t.add_user("alice@example.org", client="laptop.example.org")
>>> _ = t.add_user("bob@example.net", mailbox="imap.example.net")
>>> t.check()
>>> [s.name for s in t.next_servers("laptop.example.org")]
['smtp.example.org']
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from .errors import TopologyError

#: Server roles and what each one does, in the words of the lessons.
ROLES: dict[str, str] = {
    "client": "mail client (MUA) on the sender's device; submits over SMTP with AUTH",
    "webmail": "webmail front end: the browser talks HTTP to it, it submits over SMTP",
    "submission": "submission server (MSA, port 587): authenticates the sender, then relays",
    "relay": "outbound relay: looks up the recipient's MX and delivers across the Internet",
    "mx": "MX relay: the recipient domain's inbound server, found through DNS",
    "filter": "anti-spam filter: scores the message and adds X-Spam headers",
    "antivirus": "anti-virus scanner: checks attachments and adds X-Virus-Scanned",
    "archive": "archiving gateway: keeps a copy of every message, then passes it on",
    "alias": "alias / list expander: rewrites the envelope recipient",
    "router": "internal router (hub transport): chooses the mailbox server that holds the mailbox",
    "mailbox": "mailbox server (MDA; IMAP / Exchange): final delivery into INBOX or Junk, over LMTP (Dovecot) or "
               "Exchange's own Mailbox Transport",
    "forwarder": "forwarding service: re-sends mail for its users to another address",
}

#: The MTAs a server can imitate (``Server.mta``). What each one does — its Received line, replies, hop limit —
#: is in its module under :mod:`mailhops.mta` (``mailhops.mta.MTAS`` lists the facts); the records only need
#: the names to check a server's ``mta`` (a test checks they are the keys of ``mailhops.mta.MTAS``).
MTA_NAMES: tuple[str, ...] = ("postfix", "exim", "sendmail", "qmail", "exchange", "gmail", "dovecot")

SPAM_ACTIONS = ("reject", "bounce", "drop", "junk")

#: The policies a DMARC record can ask for (RFC 7489 §6.3, tag ``p``).
DMARC_POLICIES = ("none", "quarantine", "reject")

_HOST_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
_ADDR_RE = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9.-]+$")


def check_hostname(name: str) -> str:
    """Return ``name`` lower-cased if it is a usable host name, else raise :class:`TopologyError`."""
    if not isinstance(name, str) or not _HOST_RE.match(name):
        raise TopologyError(f"{name!r} is not a valid host name (letters, digits, hyphens and dots only).")
    return name.lower()


def check_address(address: str) -> str:
    """Return ``address`` with the domain lower-cased if it looks like ``local@domain``, else raise."""
    if not isinstance(address, str) or not _ADDR_RE.match(address):
        raise TopologyError(f"{address!r} is not an e-mail address of the form name@domain.")
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


@dataclass(eq=False)
class Server:
    """A host that handles mail. ``role`` is one of :data:`ROLES`; ``mta`` one of :data:`MTA_NAMES`.

    Policy fields: ``hop_limit`` (``None``: the imitated MTA's, see :func:`mailhops.mta.hop_limit`),
    ``spam_threshold`` and ``spam_action`` (filters; action one of ``reject`` at SMTP time, ``bounce`` after
    accepting, ``drop`` silently, ``junk`` mark and deliver to Junk), ``up`` (a down server refuses connections).
    """

    name: str
    role: str
    ip: str
    domain: str | None = None
    mta: str = "postfix"
    up: bool = True
    hop_limit: int | None = None
    spam_threshold: float | None = None
    spam_action: str = "junk"
    mx_preference: int | None = None
    tls: bool = True
    tz_minutes: int = 0
    label: str | None = None
    ipv6: str | None = None
    helo: str | None = None
    rdns: str | None = None
    # trust across hops (see mailhops.mta.trust): a forwarder or list rewrites the envelope sender with SRS,
    # adds an ARC set when it sends the message on; a mailing list (a forwarder with ``mailing_list``) adds
    # its List-* headers and, with ``list_footer``, a Subject tag and a footer; a receiving MX trusts a valid
    # ARC chain (``trust_arc``), refuses mail failing DMARC with p=reject and marks it for Junk with
    # p=quarantine (``dmarc_enforce``).
    srs: bool = False
    arc: bool = False
    mailing_list: bool = False
    list_footer: bool = True
    trust_arc: bool = True
    dmarc_enforce: bool = True
    # when delivery fails (see mailhops.mta.policy): a receiving server's client restrictions - greylisting
    # (``greylist_delay``: seconds an unknown sender must wait, None: off), DNS blocklists it asks
    # (``dnsbl``: zone names), refusing clients without a PTR name (``reject_unknown_client``) or failing SPF
    # (``reject_spf_fail``); on a sending host: the blocklists that list its address (``listed_in``) and an
    # ISP that blocks its outgoing port 25 (``port25_blocked``).
    greylist_delay: float | None = None
    dnsbl: tuple[str, ...] = ()
    reject_unknown_client: bool = False
    reject_spf_fail: bool = False
    listed_in: tuple[str, ...] = ()
    port25_blocked: bool = False

    @property
    def helo_name(self) -> str:
        """What the server says after EHLO/HELO/LHLO (its host name unless set otherwise)."""
        return self.helo or self.name

    @property
    def reverse_name(self) -> str | None:
        """The PTR name of its IP address (its own name unless set; ``""`` means no PTR record)."""
        if self.rdns == "":
            return None
        return self.rdns or self.name

    def __repr__(self) -> str:
        return f"Server({self.name!r}, role={self.role!r})"


@dataclass
class User:
    """A mailbox owner. ``mailbox`` names the server that stores the mail; ``forward_to`` sends it on;
    ``client`` is the device or webmail the user writes from; ``junk_filter`` files mail marked as spam
    (X-Spam-Flag: YES) or quarantined by DMARC into Junk.
    """

    address: str
    mailbox: str | None = None
    forward_to: str | None = None
    keep_copy: bool = False
    client: str | None = None
    junk_filter: bool = True
    name: str | None = None


@dataclass
class Domain:
    """A mail domain. Set ``null_mx`` for RFC 7505's ``0 .``; ``aliases`` maps local addresses to the
    address they expand to; ``spf`` is the domain's SPF record (RFC 7208): ``"auto"`` publishes
    ``v=spf1 ip4:... -all`` listing the domain's sending servers, ``None`` publishes no SPF record.
    ``dkim_selector`` is where its DKIM public key sits (``SELECTOR._domainkey.DOMAIN``; ``None``: the
    domain neither signs nor publishes a key); ``dmarc`` is the policy of its DMARC record at ``_dmarc``
    (``none``, ``quarantine`` or ``reject``; ``None``: no DMARC record)."""

    name: str
    null_mx: bool = False
    aliases: dict[str, str] = field(default_factory=dict)
    a: str | None = None
    spf: str | None = "auto"
    dkim_selector: str | None = "mail"
    dmarc: str | None = "none"

    def __repr__(self) -> str:
        return f"Domain({self.name!r})"


class Topology:
    """Domains, servers, links and users. Build it with the ``add_*`` methods, then :meth:`check` it."""

    def __init__(self, name: str = "topology", description: str = "") -> None:
        self.name = name
        self.description = description
        self.domains: dict[str, Domain] = {}
        self.servers: dict[str, Server] = {}
        self.links: list[tuple[str, str]] = []
        self.users: dict[str, User] = {}

    def __repr__(self) -> str:
        return f"Topology({self.name!r}, {len(self.domains)} domains, {len(self.servers)} servers)"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        """Jupyter shows a topology as its diagram (see :func:`mailhops.draw.repr_mimebundle`)."""
        from .draw.export import repr_mimebundle

        return repr_mimebundle(self, include, exclude)

    # -- building -------------------------------------------------------------------------------
    def add_domain(self, name: str, *, null_mx: bool = False, a: str | None = None) -> Domain:
        name = check_hostname(name)
        if name in self.domains:
            raise TopologyError(f"The domain {name} is already in the topology.")
        dom = Domain(name, null_mx=null_mx, a=a)
        self.domains[name] = dom
        return dom

    def add_server(self, name: str, role: str, ip: str, **policy: object) -> Server:
        name = check_hostname(name)
        if role not in ROLES:
            raise TopologyError(f"Unknown server role {role!r}; choose one of {', '.join(ROLES)}.")
        if name in self.servers:
            raise TopologyError(f"A server named {name} is already in the topology.")
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise TopologyError(f"{ip!r} is not an IP address (server {name}).") from None
        mta = policy.get("mta", "postfix")
        if mta not in MTA_NAMES:
            raise TopologyError(f"Unknown MTA flavour {mta!r} for {name}; choose one of {', '.join(MTA_NAMES)}.")
        action = policy.get("spam_action", "junk")
        if action not in SPAM_ACTIONS:
            raise TopologyError(f"Unknown spam action {action!r} for {name}; choose one of {', '.join(SPAM_ACTIONS)}.")
        domain = policy.pop("domain", None)
        if domain is not None:
            domain = check_hostname(str(domain))
        try:
            server = Server(name, role, ip, domain=domain, **policy)  # type: ignore[arg-type]
        except TypeError as err:
            raise TopologyError(f"Unknown server setting for {name}: {err}.") from None
        self.servers[name] = server
        return server

    def link(self, src: str, dst: str) -> None:
        """Send everything ``src`` accepts on to ``dst`` (an internal, configured next hop)."""
        for end in (src, dst):
            if check_hostname(end) not in self.servers:
                raise TopologyError(f"Cannot link {src} to {dst}: there is no server named {end}.")
        pair = (src.lower(), dst.lower())
        if pair not in self.links:
            self.links.append(pair)

    def add_user(self, address: str, **settings: object) -> User:
        address = check_address(address)
        if address in self.users:
            raise TopologyError(f"The user {address} is already in the topology.")
        try:
            user = User(address, **settings)  # type: ignore[arg-type]
        except TypeError as err:
            raise TopologyError(f"Unknown user setting for {address}: {err}.") from None
        self.users[address] = user
        return user

    def add_alias(self, alias: str, target: str) -> None:
        alias, target = check_address(alias), check_address(target)
        dom = self.domains.get(domain_of(alias))
        if dom is None:
            raise TopologyError(f"Cannot add alias {alias}: its domain is not in the topology.")
        dom.aliases[alias] = target

    # -- questions ------------------------------------------------------------------------------
    def server(self, name: str) -> Server:
        try:
            return self.servers[name.lower()]
        except KeyError:
            raise TopologyError(f"There is no server named {name} in the topology {self.name}.") from None

    def next_servers(self, name: str) -> list[Server]:
        """The servers ``name`` is linked to, in the order the links were made."""
        name = name.lower()
        return [self.servers[d] for s, d in self.links if s == name]

    def mx_hosts(self, domain: str) -> list[tuple[int, Server]]:
        """(preference, server) for the MX-role servers of ``domain`` (what its MX records say)."""
        out = []
        for s in self.servers.values():
            if s.domain == domain and s.mx_preference is not None:
                out.append((s.mx_preference, s))
        return sorted(out, key=lambda p: p[0])

    def user(self, address: str) -> User | None:
        return self.users.get(check_address(address))

    def server_by_ip(self, ip: str) -> Server | None:
        for s in self.servers.values():
            if s.ip == ip or s.ipv6 == ip:
                return s
        return None

    def check(self) -> None:
        """Raise :class:`TopologyError` naming the first inconsistency found; return ``None`` if sound."""
        for s in self.servers.values():
            if s.domain is not None and s.domain not in self.domains:
                raise TopologyError(f"The server {s.name} belongs to {s.domain}, which is not in the topology.")
            if s.mx_preference is not None and s.domain is None:
                raise TopologyError(f"The server {s.name} has an MX preference but no domain.")
        for src, dst in self.links:
            if src not in self.servers or dst not in self.servers:
                raise TopologyError(f"The link {src} -> {dst} names a server that is not in the topology.")
        for dom in self.domains.values():
            if dom.dmarc is not None and dom.dmarc not in DMARC_POLICIES:
                raise TopologyError(f"Unknown DMARC policy {dom.dmarc!r} for {dom.name}; choose one of "
                                    f"{', '.join(DMARC_POLICIES)} (or None for no DMARC record).")
            if dom.dkim_selector is not None and not _HOST_RE.match(dom.dkim_selector):
                raise TopologyError(f"{dom.dkim_selector!r} is not a usable DKIM selector for {dom.name}.")
            if dom.null_mx:
                continue
            has_inbound = bool(self.mx_hosts(dom.name)) or dom.a is not None
            if not has_inbound and any(domain_of(u) == dom.name for u in self.users if self.users[u].mailbox):
                raise TopologyError(f"The domain {dom.name} has mailboxes but no MX and no A record.")
            for alias, target in dom.aliases.items():
                if target not in self.users and domain_of(target) == dom.name:
                    raise TopologyError(f"The alias {alias} points to {target}, who is not a user.")
        reach: dict[str, set[str]] = {}  # per domain, the servers mail reaches from its MX (or A) hosts
        for u in self.users.values():
            if u.mailbox is not None:
                if u.mailbox not in self.servers:
                    raise TopologyError(f"The mailbox of {u.address} is on {u.mailbox}, which is not a server.")
                domain = domain_of(u.address)
                if domain not in reach:
                    reach[domain] = self._inbound_reach(domain)
                if u.mailbox not in reach[domain]:
                    raise TopologyError(
                        f"Nobody can reach the mailbox of {u.address}: no chain of links leads from an MX of "
                        f"{domain_of(u.address)} to {u.mailbox}."
                    )
            if u.client is not None and u.client not in self.servers:
                raise TopologyError(f"{u.address} writes from {u.client}, which is not a server.")
            if u.forward_to is not None:
                check_address(u.forward_to)
            if u.mailbox is None and u.forward_to is None and u.client is None:
                raise TopologyError(f"The user {u.address} has no mailbox, no forwarding and no client.")

    def _inbound_reach(self, domain: str) -> set[str]:
        """The servers a message for ``domain`` can reach: its MX hosts (or A host) and every server a chain of
        links leads to from them."""
        todo = [s.name for _, s in self.mx_hosts(domain)]
        dom = self.domains.get(domain)
        if dom is not None and dom.a is not None:
            todo += [s.name for s in self.servers.values() if s.ip == dom.a]
        nexts: dict[str, list[str]] = {}
        for src, dst in self.links:
            nexts.setdefault(src, []).append(dst)
        seen: set[str] = set()
        while todo:
            cur = todo.pop()
            if cur not in seen:
                seen.add(cur)
                todo.extend(nexts.get(cur, ()))
        return seen
