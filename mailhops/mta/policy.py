"""When a receiving server says "not now" or "not from you": greylisting, blocklists, reverse DNS and SPF.

These are the checks a public MX makes on the *sending host* before it takes a message (Postfix's
``smtpd_client_restrictions`` and ``smtpd_recipient_restrictions``, evaluated at RCPT TO), and the one a
content scanner makes at the end of DATA (greylisting). They are why a laptop on a home connection cannot
deliver straight to the recipient's MX, and why the first hop is the sender's own provider:

- ``reject_unknown_reverse_client_hostname``: no PTR name for the client's address, ``450 4.7.1 Client host
  rejected: cannot find your reverse hostname, [IP]`` (Postfix smtpd_check.c; a 4xx because a DNS failure may be
  temporary; ``unknown_client_reject_code`` = 450);
- ``reject_rbl_client LIST``: the address is listed in a DNS blocklist (RFC 5782): Postfix's
  ``default_rbl_reply``, ``554 5.7.1 Service unavailable; Client host [IP] blocked using LIST; REASON`` with
  ``maps_rbl_reject_code`` = 554 and the list's TXT record as the reason;
- a ``check_policy_service`` running pypolicyd-spf, which refuses an SPF ``fail`` (RFC 7208):
  ``550 5.7.23 <RCPT>: Recipient address rejected: Message rejected due to: SPF fail - not authorized``
  (5.7.23 is RFC 7372's "SPF validation failed");
- greylisting as rspamd's greylist module does it behind Postfix (a milter): the first delivery attempt of an
  unknown (client network /19, sender, recipient) is refused at the end of DATA with rspamd's soft reject,
  ``451 4.7.1 Try again later`` (rspamd's milter.h ``RSPAMD_MILTER_RCODE_TEMPFAIL`` / ``XCODE_TEMPFAIL`` /
  ``TEMPFAIL_MESSAGE``), until its ``timeout`` (5 min by default) has passed since it was first seen.
  (Postgrey, the other common Postfix greylister, answers ``450 4.2.0 ... Greylisted, see
  https://postgrey.schweikert.ch/help/DOMAIN.html`` at RCPT instead.)

Each MTA module may word these itself (``rbl_reply``, ``unknown_client``, ``spf_refusal``, ``greylisted``);
the others use Postfix's words. Every function here is a plain function of the topology, the server, the session
and the envelope, called by :mod:`mailhops.mta.roles` for both the simulator and the live servers.

>>> from mailhops.scenarios import get
>>> from mailhops.mta.smtp import Session
>>> topo = get("direct-from-laptop").build()
>>> topo.server("laptop.example.org").port25_blocked = False
>>> laptop, mx = topo.server("laptop.example.org"), topo.server("mx.example.net")
>>> session = Session(client_ip=laptop.ip, helo="[192.168.1.23]", rdns="host-203-0-113-45.isp.example", client=laptop)
>>> print(client_refusal(topo, mx, session, "alice@example.org", "bob@example.net"))
554 5.7.1 Service unavailable; Client host [203.0.113.45] blocked using zen.dnsbl.example; https://www.dnsbl.example/query/ip/203.0.113.45
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType

from ..dns import TopologyDNS, dns_for
from ..topology import Server, Topology, domain_of
from . import postfix
from .smtp import Envelope, Reply, Session

__all__ = ["Greylist", "client_refusal", "sending_ip", "wording"]


def wording(server: Server, name: str) -> object:
    """The function ``name`` of the server's MTA module, or Postfix's when that MTA does not define its own."""
    from . import FLAVOURS  # the registry imports the MTA modules, which may import this one

    module: ModuleType = FLAVOURS.get(server.mta, postfix)
    return vars(module).get(name) or getattr(postfix, name)


def sending_ip(session: Session) -> str:
    """The address the checks judge: the client's own address in the topology (in the live mode, where every
    server has its own loopback address, the one the server really saw)."""
    return session.client.ip if session.client is not None else session.client_ip


def client_refusal(topology: Topology, server: Server, session: Session, mail_from: str, rcpt: str,
                   dns_view: TopologyDNS | None = None) -> Reply | None:
    """The refusal ``server`` gives at RCPT TO because of *who is sending*, else ``None``.

    In Postfix's order: the client restrictions (reverse name, then each blocklist), then the recipient
    restrictions' policy service (SPF). Call it only for mail coming in from outside (an MX's inbound side).
    """
    if server.reject_unknown_client and not session.rdns:
        return wording(server, "unknown_client")(session.client_ip)  # type: ignore[operator]
    if not server.dnsbl and not (server.reject_spf_fail and mail_from):
        return None  # nothing left to ask the DNS
    view = dns_view or dns_for(topology)
    ip = sending_ip(session)
    for blocklist in server.dnsbl:
        reason = view.blocklisted(ip, blocklist)
        if reason is not None:
            return wording(server, "rbl_reply")(session.client_ip, blocklist, reason)  # type: ignore[operator]
    if server.reject_spf_fail and mail_from:
        result, _ = view.spf(ip, domain_of(mail_from), session.helo.strip("[]") or None, mail_from)
        if result == "fail":
            return wording(server, "spf_refusal")(rcpt)  # type: ignore[operator]
    return None


def _network(ip: str) -> str:
    """The client network rspamd's greylist keys on (``ipv4_mask`` 19, ``ipv6_mask`` 64)."""
    prefix = 64 if ":" in ip else 19
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass
class Greylist:
    """One receiving server's greylist: when each (client network, sender, recipient) was first seen.

    ``scale`` shrinks the server's ``greylist_delay``: the live mode retries after seconds instead of Postfix's
    ``minimal_backoff_time`` of 300 s, so its greylisters wait for the same fraction of a retry.

    >>> from datetime import datetime, timedelta, timezone
    >>> mx = Server("mx.example.net", "mx", "198.51.100.25", greylist_delay=300)
    >>> grey, env, t0 = Greylist(), Envelope("alice@example.org", "bob@example.net"), datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> print(grey.check(mx, "192.0.2.25", env, t0))
    451 4.7.1 Try again later
    >>> grey.check(mx, "192.0.2.25", env, t0 + timedelta(seconds=301)) is None
    True
    """

    scale: float = 1.0
    seen: dict[tuple[str, str, str], datetime] = field(default_factory=dict)

    def check(self, server: Server, ip: str, envelope: Envelope, when: datetime) -> Reply | None:
        """The soft refusal for a triplet seen for less than the server's delay, else ``None`` (pass)."""
        if server.greylist_delay is None:
            return None
        key = (_network(ip), envelope.mail_from.lower(), envelope.rcpt.lower())
        first = self.seen.setdefault(key, when)
        if (when - first).total_seconds() < server.greylist_delay * self.scale:
            return wording(server, "greylisted")()  # type: ignore[operator]
        return None
