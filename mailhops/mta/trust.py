"""Trust across hops: DKIM signatures, ARC sets, SPF, DMARC and SRS, made and checked with real libraries.

What each server does about *who really sent a message*, as plain functions the transports call through
:mod:`mailhops.mta.roles` (so the simulator and the live servers sign and check alike):

- the sender's outbound server signs with **DKIM** (RFC 6376) with its domain's key, as OpenDKIM does in
  signing mode for authenticated or internal clients (:func:`outbound_signature`);
- every receiving MX checks **SPF** (RFC 7208, with pyspf), verifies every ``DKIM-Signature`` and the **ARC**
  chain (RFC 8617) with dkimpy, and evaluates **DMARC** (RFC 7489) alignment and policy with authheaders
  (:func:`evaluate`); all their DNS questions are answered from the topology's zones, never the network;
- a forwarder may rewrite the envelope sender with **SRS** (srslib) so that SPF passes at the next MX, and a
  forwarder or mailing list may add an **ARC set** vouching for what it saw (:func:`arc_set`);
- a mailing list adds its ``List-*`` headers, a Subject tag and a footer, which breaks the author's signature,
  then signs with its own domain's key (:func:`list_rewrite`);
- an MX refuses mail that fails DMARC for a ``p=reject`` domain during SMTP (:func:`dmarc_refusal`), so the
  bounce is written by the sending server, not sent as backscatter to a forged address; mail failing DMARC for a
  ``p=quarantine`` domain it accepts, marked (:func:`dmarc_quarantine`) for the mailbox to file into Junk.

Each MTA module words the Authentication-Results its own way (``authentication_results`` in
:mod:`.postfix`, :mod:`.gmail`, :mod:`.exchange`, :mod:`.exim`); :func:`auth_fields` asks the right one.

Everything here runs in pure Python (the keys are the fixed demo keys of :mod:`mailhops.demo_keys`), so the
simulator also runs in the browser. The signatures themselves are made and checked by :mod:`.signatures`: dkimpy's
signing and verifying, with exact fast paths (the same bytes, the same verdicts) and the RSA step through the
``cryptography`` package when it is importable (:func:`rsa_backend`). What a server would otherwise conclude again for
every message is remembered here in small LRU caches, each keyed on what it is a function of: the DKIM checks of a
message's signed part, a DMARC result, a receiving server's whole verdict.

>>> from mailhops.scenarios import get
>>> journey = get("forwarding").run()
>>> print(journey.final_message()["Authentication-Results"])  # Bob's MX: OpenDMARC's line, on top
mx.example.net; dmarc=pass (p=none dis=none) header.from=example.org
"""

from __future__ import annotations

import dataclasses
import email.utils
import functools
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import ModuleType
from typing import TypeVar

import dkim
import srslib
from authheaders import dmarc_per_from
from authres import DKIMAuthenticationResult, SPFAuthenticationResult

from ..demo_keys import demo_key
from ..dns import TopologyDNS, dns_for
from ..errors import DNSLookupError
from ..topology import Server, Topology, domain_of
from . import headers as hdr
from .signatures import (
    _LOG,
    _SIGNATURES,
    _STR_SPACES,
    _ArcSigner,
    _ArcVerifier,
    _FieldVerifier,
    _recall,
    _remember,
    _rfc822_parse,
    _signed_fields,
    _Verifier,
    dkim_sign,
    rsa_backend,
    signed_part,
)
from .smtp import Envelope, Reply, Session


def _remember_org_domains() -> None:
    """Make authheaders read the Public Suffix List once per process, not on every organizational-domain look-up.

    authheaders' ``get_org_domain`` opens and parses the whole list (about 10,000 rules) on each call, several
    times per DMARC check: 0.4-0.7 s of CPU per DMARC evaluation that misses mailhops' cache. The answer depends only
    on the domain and on the list installed with authheaders, so remembering it changes nothing but the time: the
    answer per domain (both names authheaders calls it by are replaced: its package imports the function by name),
    and the parsed list per file (:func:`_suffix_list_lookup`, parsed at its first use, so ``import mailhops`` does
    not pay for it).
    """
    import authheaders
    import authheaders.dmarc_lookup as lookup

    if getattr(lookup.get_org_domain, "cache_info", None) is None:
        remembered = functools.lru_cache(maxsize=4096)(lookup.get_org_domain)
        lookup.get_org_domain = remembered
        authheaders.get_org_domain = remembered
    if lookup.get_org_domain_from_suffix_list is not _suffix_list_lookup:
        lookup.get_org_domain_from_suffix_list = _suffix_list_lookup


#: authheaders' parsed Public Suffix Lists by (path, modification time, size) of the file read (one, in practice).
_SUFFIX_LISTS: dict[tuple[str, int, int], object] = {}


def _suffix_list_lookup(location: object, domain: str) -> str | None:
    """authheaders' ``get_org_domain_from_suffix_list(location, domain)`` (authheaders 0.16): the public suffix
    list at ``location`` read into a ``PublicSuffixList``, asked for ``domain``'s ``get_public_suffix``; the list is
    parsed once per file (a lookup does not change it) rather than on each call.

    >>> import authheaders.dmarc_lookup as lookup
    >>> lookup.get_org_domain("mail.sub.example.co.uk"), lookup.get_org_domain("example.org")
    ('example.co.uk', 'example.org')
    """
    import os

    import authheaders.dmarc_lookup as lookup

    path = os.fspath(location)  # type: ignore[call-overload]
    stat = os.stat(path)
    key = (path, stat.st_mtime_ns, stat.st_size)
    psl = _SUFFIX_LISTS.get(key)
    if psl is None:
        with open(path) as suffix_list:  # as authheaders opens it (the locale's text encoding)
            psl = lookup.PublicSuffixList(suffix_list)
        if len(_SUFFIX_LISTS) >= 4:  # a new temporary copy each time (a zipped install): keep few
            _SUFFIX_LISTS.clear()
        _SUFFIX_LISTS[key] = psl
    return psl.get_public_suffix(domain)  # type: ignore[attr-defined]


_remember_org_domains()

__all__ = [
    "QUARANTINE_FIELD", "ArcCheck", "DkimCheck", "Verdict", "arc_set", "auth_fields", "check_with", "dkim_sign",
    "dmarc_quarantine", "dmarc_refusal", "evaluate", "is_signer", "list_rewrite", "outbound_signature",
    "quarantine_reason", "rsa_backend", "srs_forward", "trust_dns", "verify_signatures",
]

#: The demo secret the forwarders' SRS hashes are keyed with (a demo: it protects nothing).
SRS_SECRET = "mailhops-demo-srs-secret"


@dataclass(frozen=True)
class DkimCheck:
    """One ``DKIM-Signature`` as a receiver verified it: ``result`` is ``pass``, ``fail`` or ``neutral``
    (a signature that could not be checked: no key, bad syntax)."""

    result: str
    domain: str
    selector: str
    algorithm: str
    identity: str
    b: str
    bits: int = 0
    reason: str = ""


@dataclass(frozen=True)
class ArcCheck:
    """The ARC chain as a receiver validated it: ``result`` is ``pass``, ``fail`` or ``none`` (no ARC set);
    ``instance`` is the newest ``i=``, ``sealer`` the ``d=`` of that seal."""

    result: str = "none"
    instance: int = 0
    sealer: str = ""
    selector: str = ""
    reason: str = ""
    oldest_pass: int = 0


@dataclass(frozen=True)
class Verdict:
    """Everything one receiving server concluded about a message's origin (what its A-R headers say)."""

    authserv_id: str
    ip: str
    helo: str
    mail_from: str
    spf: str
    spf_mechanism: str
    spf_domain: str
    dkim: tuple[DkimCheck, ...]
    arc: ArcCheck
    from_domain: str
    dmarc: str
    dmarc_policy: str
    dmarc_sp: str = ""
    disposition: str = "none"
    arc_override: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def spf_identity(self) -> str:
        """``mailfrom`` (the envelope sender's domain was checked) or ``helo`` (a bounce: the HELO name)."""
        return "mailfrom" if self.mail_from else "helo"

    def dkim_for(self, domain: str) -> DkimCheck | None:
        """The first passing signature of ``domain``, else its first signature, else ``None``."""
        mine = [d for d in self.dkim if d.domain == domain]
        return next((d for d in mine if d.result == "pass"), mine[0] if mine else None)


_Record = TypeVar("_Record", DkimCheck, ArcCheck, Verdict)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _made(cls: type[_Record], *values: object) -> _Record:
    """``cls(*values)`` for the frozen dataclasses above, given every field in order: the same object (same fields,
    so the same ``repr``, equality and hash), without the frozen ``__init__``'s ``object.__setattr__`` per field.

    >>> _made(ArcCheck, "pass", 2, "example.net", "arc", "", 1) == ArcCheck("pass", 2, "example.net", "arc", "", 1)
    True
    """
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    made = object.__new__(cls)
    made.__dict__.update(zip(names, values, strict=True))  # each field, in order (a missing one raises)
    return made


# ---------------------------------------------------------------------------------------------- #
# signing


def is_signer(topology: Topology, server: Server, session: Session) -> bool:
    """Does ``server`` DKIM-sign what it accepts here? The outbound server (submission or relay) of a domain
    with a selector signs mail from its authenticated users and internal clients (OpenDKIM's signing mode)."""
    dom = topology.domains.get(server.domain or "")
    if dom is None or dom.dkim_selector is None or server.role not in ("submission", "relay"):
        return False
    if session.lmtp or session.http:
        return False
    internal = session.client is not None and session.client.domain == server.domain
    return session.auth_user is not None or internal


def outbound_signature(topology: Topology, server: Server, session: Session, message: bytes,
                       when: datetime) -> list[str]:
    """The ``DKIM-Signature`` the sender's outbound server adds (empty when it does not sign here)."""
    if not is_signer(topology, server, session):
        return []
    dom = topology.domains[server.domain or ""]
    return [dkim_sign(message, dom.name, dom.dkim_selector or "mail", when)]


# ---------------------------------------------------------------------------------------------- #
# checking


_VERDICTS: OrderedDict[tuple, Verdict] = OrderedDict()
#: Where the servers of a topology ask their trust questions, by ``id(topology)`` (see :func:`check_with`).
_ASKED: dict[int, object] = {}


def check_with(topology: Topology, view: object | None) -> None:
    """Make the servers of ``topology`` ask ``view`` (an object with ``spf``, ``dkim_txt`` and ``dmarc_txt``, e.g.
    :class:`mailhops.dns.ResolverView` on the live mode's loopback DNS) instead of reading its zones in process;
    ``None`` goes back to the zones. The entry goes away with the topology.

    >>> from mailhops.scenarios import get
    >>> topo = get("three-hops").build()
    >>> check_with(topo, dns_for(topo)); trust_dns(topo) is dns_for(topo)
    True
    """
    import weakref

    if view is None:
        _ASKED.pop(id(topology), None)
        return
    _ASKED[id(topology)] = view
    weakref.finalize(topology, _ASKED.pop, id(topology), None)


def trust_dns(topology: Topology) -> TopologyDNS:
    """Where ``topology``'s servers ask for SPF policies, DKIM keys and DMARC policies (its zones by default)."""
    return _ASKED.get(id(topology)) or dns_for(topology)  # type: ignore[return-value]
_DMARC: OrderedDict[tuple, tuple[str, str]] = OrderedDict()


@functools.lru_cache(maxsize=16)
def _field_start(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"\n" + re.escape(name.lower()) + rb"[ \t]*:")


_FIELD_VALUE = re.compile(rb"[^\r\n]*(?:\r\n[ \t][^\r\n]*)*")


def _header_value(message: bytes, name: bytes) -> str | None:
    """The unfolded value of the first ``name`` field of ``message``'s header block, or ``None``.

    The field's start is searched as a plain string in the lowercased block (the regex engine then skips ahead
    instead of trying ``^`` at every byte); its value runs on over folded lines (RFC 5322 §2.2.3).

    >>> _header_value(b"Received: x\\r\\nFROM :  Alice\\r\\n <a@example.org>\\r\\n\\r\\nfrom: body", b"from")
    'Alice <a@example.org>'
    """
    head = message.split(b"\r\n\r\n", 1)[0]
    return _field_value(head, head.lower(), name)


def _field_value(head: bytes, lowered: bytes, name: bytes) -> str | None:
    """:func:`_header_value` of a message whose header block is ``head`` (``lowered``: ``head.lower()``)."""
    start = _field_start(name).search(b"\n" + lowered)
    if start is None:
        return None
    value = _FIELD_VALUE.match(head, start.end() - 1).group(0)  # type: ignore[union-attr]  # (the end in head)
    return value.replace(b"\r\n", b"").strip().decode("utf-8", "replace")


def from_domain_of(message: bytes) -> str:
    """The domain of the ``From:`` address (what DMARC protects), or ``""``."""
    value = _header_value(message, b"from")
    return _address_domain(value) if value else ""


def _from_domain(head: bytes, lowered: bytes) -> str:
    """:func:`from_domain_of` a message whose header block is ``head`` (``lowered``: ``head.lower()``)."""
    value = _field_value(head, lowered, b"from")
    return _address_domain(value) if value else ""


@functools.lru_cache(maxsize=256)
def _address_domain(value: str) -> str:
    _name, address = email.utils.parseaddr(value)
    return domain_of(address) if "@" in address else ""


_DKIM_CHECKS: OrderedDict[tuple, tuple[DkimCheck, ...]] = OrderedDict()


def _tag_text(sig: dict, tag: bytes) -> str:
    return sig.get(tag, b"").decode("ascii", "replace")


def _check_dkim(message: bytes, view: TopologyDNS | object) -> tuple[DkimCheck, ...]:
    """Verify every ``DKIM-Signature`` of ``message`` with dkimpy, asking ``view.dkim_txt`` for the keys."""
    part, count, fast = _signed_fields(message)
    key = (view, part)
    found = _DKIM_CHECKS.get(key)
    if found is not None:
        return found
    checks = []
    if fast is None:
        fields, body = _rfc822_parse(part) if count else ([], b"")  # read once for every signature (raises as dkimpy)
    for idx in range(count):
        verifier: _Verifier | _FieldVerifier
        if fast is None:
            verifier = _Verifier(None, logger=_LOG)
            verifier.headers, verifier.body = [list(f) for f in fields], body
        else:
            verifier = fast
        reason = ""
        try:
            ok = verifier.verify(idx=idx, dnsfunc=view.dkim_txt)  # type: ignore[attr-defined]
            result = "pass" if ok else "fail"
            if not ok and not verifier.keysize:  # dkimpy found no usable key (RFC 6376 §6.1.2: no key for signature)
                result, reason = "permerror", "no key for signature"
            elif not ok:
                reason = "signature verification failed"
        except dkim.ValidationError as err:  # e.g. the body hash no longer matches: the content changed
            result = "fail"
            reason = "body hash did not verify" if "body hash" in str(err) else str(err)
        except dkim.KeyFormatError as err:  # no usable key at SELECTOR._domainkey.DOMAIN
            result, reason = "permerror", str(err)
        except dkim.DKIMException as err:
            result, reason = "neutral", str(err)
        except DNSLookupError as err:  # the key could not be asked for (live DNS): nothing is concluded
            result, reason = "temperror", str(err)
        sig = getattr(verifier, "signature_fields", None) or {}
        domain = _tag_text(sig, b"d").lower()
        checks.append(_made(DkimCheck, result, domain, _tag_text(sig, b"s"), _tag_text(sig, b"a"),
                            _tag_text(sig, b"i") if b"i" in sig else f"@{domain}",
                            sig.get(b"b", b"").translate(None, _STR_SPACES)[:8].decode("ascii", "replace"),
                            verifier.keysize, reason))
    found = tuple(checks)
    _remember(_DKIM_CHECKS, key, found, limit=256, size=len(part))
    return found


_NO_ARC = ArcCheck()


def _check_arc(message: bytes, view: TopologyDNS, lowered: bytes | None = None) -> ArcCheck:
    """The ARC chain of ``message`` as dkimpy validates it (``lowered``: its header block lowercased, when known)."""
    if lowered is None:
        lowered = message.split(b"\r\n\r\n", 1)[0].lower()
    if not lowered.startswith(b"arc-seal:") and b"\r\narc-seal:" not in lowered:  # no ARC-Seal field
        return _NO_ARC
    try:
        cv, results, reason = _ArcVerifier(message, logger=_LOG).verify(dnsfunc=view.dkim_txt)
    except dkim.DKIMException as err:  # a header block dkimpy cannot read: the chain cannot pass
        return ArcCheck("fail", reason=str(err))
    newest = results[0] if results else {}
    result = {dkim.CV_Pass: "pass", dkim.CV_Fail: "fail", dkim.CV_None: "none"}.get(cv, "fail")
    passing = [r["instance"] for r in results if r.get("ams-valid")]
    return ArcCheck(result, int(newest.get("instance", 0)), newest.get("as-domain", b"").decode("ascii", "replace"),
                    newest.get("as-selector", b"").decode("ascii", "replace"), reason,
                    min(passing) if passing and result == "pass" else 0)


def _dmarc(view: TopologyDNS, from_domain: str, spf: str, spf_domain: str, dkim_check: DkimCheck | None) -> tuple[str, str]:
    """authheaders' DMARC result and policy for one (SPF, DKIM) pair, cached on every input it reads."""
    parents = from_domain.split(".")
    records = tuple(view.dmarc_txt("_dmarc." + ".".join(parents[i:])) for i in range(len(parents) - 1))
    dk = (dkim_check.result, dkim_check.domain) if dkim_check else None
    key = (from_domain, records, spf, spf_domain, dk)
    found = _recall(_DMARC, key)
    if found is None:
        spf_result = SPFAuthenticationResult(result=spf, smtp_mailfrom=spf_domain)
        dkim_result = DKIMAuthenticationResult(result=dk[0], header_d=dk[1]) if dk else None
        result, _comment, _domain, policy = dmarc_per_from(from_domain, spf_result, dkim_result, dnsfunc=view.dmarc_txt)
        found = (result, policy)
        _remember(_DMARC, key, found, limit=256)
    return found


def evaluate(topology: Topology, server: Server, session: Session, envelope: Envelope, message: bytes,
             dns_view: TopologyDNS | None = None) -> Verdict:
    """What ``server`` concludes about the message's origin: SPF, every DKIM signature, ARC, DMARC.

    The SPF check uses the connecting IP as the topology knows it (in the live mode every host sits on
    127.0.0.1). Results are cached per (zones, server, connection, message): the same journey run again is
    not verified again.
    """
    view = dns_view or trust_dns(topology)
    ip = session.client.ip if session.client is not None else session.client_ip
    helo = session.helo.strip("[]")
    key = (view, server.name, server.trust_arc, ip, helo, envelope.mail_from, message)
    found = _VERDICTS.get(key)
    if found is not None:
        return found
    if envelope.mail_from:
        spf_domain = domain_of(envelope.mail_from)
        spf, mechanism = view.spf(ip, spf_domain, helo, envelope.mail_from)
    else:
        spf_domain = helo.lower()
        spf, mechanism = view.spf(ip, spf_domain, helo)
    checks = _check_dkim(message, view)
    head = message.split(b"\r\n\r\n", 1)[0]
    lowered = head.lower()  # read once for the ARC-Seal and the From field
    arc = _check_arc(message, view, lowered)
    from_domain = _from_domain(head, lowered)
    dmarc, policy = "none", ""
    if from_domain:
        if len(checks) <= 1:  # the usual case: one signature or none, one outcome
            dmarc, policy = _dmarc(view, from_domain, spf, spf_domain, checks[0] if checks else None)
        else:
            outcomes = [_dmarc(view, from_domain, spf, spf_domain, c) for c in checks]
            dmarc, policy = next((o for o in outcomes if o[0] == "pass"), outcomes[0])
    disposition, override, notes = "none", False, []
    if dmarc == "fail" and policy in ("reject", "quarantine"):
        if arc.result == "pass" and server.trust_arc:
            override = True
            notes.append(f"DMARC fails for {from_domain} (p={policy}), but {server.name} trusts the ARC chain sealed by "
                         f"{arc.sealer}, which says the message passed when it arrived there: it accepts it.")
        else:
            disposition = policy
    verdict = _made(Verdict, server.name, ip, helo, envelope.mail_from, spf, mechanism, spf_domain, checks, arc,
                    from_domain, dmarc, policy, "", disposition, override, tuple(notes))
    _remember(_VERDICTS, key, verdict, limit=256, size=len(message))
    return verdict


def dmarc_refusal(topology: Topology, server: Server, session: Session, envelope: Envelope, message: bytes,
                  flavour: ModuleType, dns_view: TopologyDNS | None = None) -> Reply | None:
    """The refusal at end of DATA for mail failing DMARC of a ``p=reject`` domain, else ``None``.

    Only an MX that enforces DMARC (``Server.dmarc_enforce``, OpenDMARC's ``RejectFailures``) refuses; the
    reply is worded by the MTA (``flavour.dmarc_reject``, else OpenDMARC's ``550 5.7.1``).
    """
    if not server.dmarc_enforce:
        return None
    verdict = evaluate(topology, server, session, envelope, message, dns_view)
    if verdict.disposition != "reject":
        return None
    wording = vars(flavour).get("dmarc_reject")
    if wording is not None:
        return wording(verdict.from_domain)
    return Reply(550, "5.7.1", f"rejected by DMARC policy for {verdict.from_domain}")


#: The field an MX that enforces DMARC adds to mail failing DMARC for a ``p=quarantine`` domain, for the mailbox
#: server's filter (like SpamAssassin's ``X-Spam-Flag``): RFC 7489 §6.3 asks the receiver to "treat it as
#: suspicious", and §6.6.2 names "placing into the spam folder" as one way. Gmail and Microsoft 365 file such mail
#: into Spam/Junk; OpenDMARC on its own would ask Postfix to hold it (the milter's quarantine); a Postfix/Dovecot
#: site that wants the Junk folder marks the message and lets a Sieve rule file it, which is what mailhops models.
QUARANTINE_FIELD = "X-DMARC-Quarantine"

_QUARANTINE_RE = re.compile(rb"^x-dmarc-quarantine[ \t]*:[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


def dmarc_quarantine(topology: Topology, server: Server, session: Session, envelope: Envelope, message: bytes,
                     dns_view: TopologyDNS | None = None) -> str | None:
    """The :data:`QUARANTINE_FIELD` ``server`` adds when the message fails DMARC for a ``p=quarantine`` domain and it
    enforces DMARC (``Server.dmarc_enforce``) and does not let a trusted ARC chain override the failure, else ``None``.

    >>> from mailhops.scenarios import get
    >>> topo = get("mailing-list").build()
    >>> topo.domains["example.org"].dmarc = "quarantine"
    >>> topo.server("mx.example.net").trust_arc = False
    >>> print(get("mailing-list").run(topology=topo).final_message()[QUARANTINE_FIELD])
    header.from=example.org p=quarantine (mx.example.net)
    """
    if not server.dmarc_enforce:
        return None
    verdict = evaluate(topology, server, session, envelope, message, dns_view)
    if verdict.disposition != "quarantine":
        return None
    return f"{QUARANTINE_FIELD}: header.from={verdict.from_domain} p=quarantine ({verdict.authserv_id})"


def quarantine_reason(message: bytes) -> str | None:
    """Why a mailbox's filter files ``message`` into Junk for DMARC (a sentence), from the :data:`QUARANTINE_FIELD`
    the receiving MX added, else ``None``.

    >>> print(quarantine_reason(b"X-DMARC-Quarantine: header.from=example.org p=quarantine (mx.example.net)\\r\\n\\r\\nhi"))
    mx.example.net found that DMARC fails for example.org, whose policy is p=quarantine (RFC 7489 §6.3: treat the \
message as suspicious), and marked it X-DMARC-Quarantine; a filter rule in the mailbox (Sieve) files such messages \
into Junk.
    >>> quarantine_reason(b"Subject: hi\\r\\n\\r\\nhi") is None
    True
    """
    head = hdr._header_block(message)
    found = _QUARANTINE_RE.search(head) if b"x-dmarc-quarantine" in head.lower() else None  # no field: no search
    if found is None:
        return None
    value = found.group(1).decode("utf-8", "replace").strip()
    domain = re.search(r"header\.from=(\S+)", value)
    by = re.search(r"\(([^)]+)\)", value)
    return (f"{by.group(1) if by else 'The receiving MX'} found that DMARC fails for "
            f"{domain.group(1) if domain else 'the From: domain'}, whose policy is p=quarantine (RFC 7489 §6.3: treat "
            f"the message as suspicious), and marked it {QUARANTINE_FIELD}; a filter rule in the mailbox (Sieve) files "
            "such messages into Junk.")


def auth_fields(flavour: ModuleType, verdict: Verdict, qid: str | None, spf_fields: list[str]) -> list[str]:
    """The Authentication-Results (and related) fields ``flavour`` writes for ``verdict``, topmost first;
    ``spf_fields`` are the Received-SPF and SPF result lines a policy service (policyd-spf) would write.

    Flavours without their own ``authentication_results`` (Sendmail, qmail) use the milter stack's lines
    (OpenDKIM and OpenDMARC began as Sendmail milters), like Postfix.
    """
    from . import postfix

    writer = vars(flavour).get("authentication_results") or postfix.authentication_results
    return writer(verdict, qid, spf_fields)


# ---------------------------------------------------------------------------------------------- #
# forwarders and lists


def _accepted_at(message: bytes) -> datetime:
    """When the server accepted the message: the date of the topmost Received field (its own)."""
    value = _header_value(message, b"received")
    if value and ";" in value:
        try:
            return email.utils.parsedate_to_datetime(value.rsplit(";", 1)[1].split("(")[0].strip())
        except (TypeError, ValueError):
            pass
    return datetime(2026, 3, 2, tzinfo=timezone.utc)


def srs_forward(server: Server, mail_from: str, message: bytes) -> str:
    """The envelope sender a forwarder with SRS writes (srslib): ``SRS0=HHHH=TT=orig-domain=local@forwarder``.

    The timestamp is the day the forwarder accepted the message (its Received date), so a run is reproducible.

    >>> from mailhops.topology import Server
    >>> fwd = Server("mx.alumni.university.example", "forwarder", "198.51.100.200", domain="alumni.university.example")
    >>> srs_forward(fwd, "alice@example.org", b"Received: from a by b; Mon, 02 Mar 2026 09:00:00 +0000\\r\\n\\r\\n")[:5]
    'SRS0='
    """
    if not mail_from:
        return mail_from  # a bounce's null sender stays null
    srs = srslib.SRS(SRS_SECRET)
    moment = _accepted_at(message).timestamp()
    srs._time_fn = lambda: moment  # srslib's per-instance clock hook
    return srs.forward(mail_from, server.domain or server.name)


def list_rewrite(server: Server, rcpt: str, message: bytes) -> bytes:
    """The post as a mailing list (Mailman-like) sends it on: ``List-Id``, ``List-Unsubscribe``,
    ``Precedence: list``, and, with ``Server.list_footer``, ``[list]`` in the Subject and a footer in the body."""
    name = rcpt.split("@")[0]
    domain = server.domain or server.name
    head, _, body = message.partition(b"\r\n\r\n")
    added = [
        f"List-Id: {name.capitalize()} <{name}.{domain}>",
        f"List-Unsubscribe: <mailto:{name}-leave@{domain}>",
        f"List-Post: <mailto:{name}@{domain}>",
        "Precedence: list",
    ]
    if server.list_footer:
        tag = f"[{name}] ".encode()
        head = re.sub(rb"(?im)^(subject:[ \t]*)(?!" + re.escape(tag.strip()) + rb")", rb"\g<1>" + tag, head, count=1)
        footer = (f"_______________________________________________\r\n{name} mailing list -- {name}@{domain}\r\n"
                  f"To unsubscribe send an email to {name}-leave@{domain}\r\n").encode()
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        body += footer
    return head + b"\r\n" + "\r\n".join(added).encode() + b"\r\n\r\n" + body


def arc_set(server: Server, topology: Topology, message: bytes, when: datetime) -> list[str]:
    """The ARC set (``ARC-Seal``, ``ARC-Message-Signature``, ``ARC-Authentication-Results``) ``server`` adds,
    sealed with dkimpy over the Authentication-Results it wrote itself (its authserv-id: its name)."""
    dom = topology.domains.get(server.domain or "")
    selector = (dom.dkim_selector if dom is not None else None) or "mail"
    domain = server.domain or server.name
    key = ("arc", domain, selector, int(when.timestamp()), message)
    found = _SIGNATURES.get(key)
    if found is None:
        sealer = _ArcSigner(message, logger=_LOG, signature_algorithm=b"rsa-sha256")  # as dkim.arc_sign does
        raw = sealer.sign(selector.encode(), domain.encode(), demo_key(domain).private_pem, server.name.encode(),
                          include_headers=sealer.default_sign_headers(), timestamp=int(when.timestamp()))
        found = [r.decode("ascii").rstrip("\r\n") for r in raw]
        _remember(_SIGNATURES, key, found, size=len(message))
    return list(found)


def forward_fields(topology: Topology, server: Server, envelope: Envelope, message: bytes, fields: list[str],
                   when: datetime) -> tuple[bytes, list[str]]:
    """Apply what a list or an ARC-sealing forwarder does to the message it just stamped with ``fields``.

    Returns (the new message, every field added on top, topmost first). A list rewrites the content first (its
    Subject tag and footer break the author's signature), an ARC sealer adds its set, a list re-signs with its
    own domain's key.
    """
    if server.role != "forwarder" or not (server.arc or server.mailing_list):
        return hdr.prepend(message, fields), fields
    if server.mailing_list:
        message = list_rewrite(server, envelope.rcpt, message)
    stamped = hdr.prepend(message, fields)
    added = list(fields)
    if server.arc:
        arc = arc_set(server, topology, stamped, when)
        stamped = hdr.prepend(stamped, arc)
        added = arc + added
    dom = topology.domains.get(server.domain or "")
    if server.mailing_list and dom is not None and dom.dkim_selector is not None:
        signature = dkim_sign(stamped, dom.name, dom.dkim_selector, when)
        stamped = hdr.prepend(stamped, [signature])
        added = [signature, *added]
    return stamped, added


# ---------------------------------------------------------------------------------------------- #
# a real message (mailhops analyze --verify)


class _LookupView:
    """What :func:`_check_dkim` and :func:`_check_arc` ask for keys: ``dkim_txt`` (dkimpy's ``dnsfunc``)."""

    def __init__(self, dnsfunc: Callable[..., bytes | None]) -> None:
        self.dkim_txt = dnsfunc


def verify_signatures(message: bytes, dnsfunc: Callable[..., bytes | None]) -> dict:
    """Check the DKIM signatures and the ARC chain of a real message with dkimpy, asking ``dnsfunc`` for the keys
    (``mailhops.dns.live_txt_lookup()`` on the real DNS; any TXT function in tests).

    A look-up that fails (rather than answering "no such record") gives ``temperror`` for that signature, never
    ``fail``: nothing is concluded from a network that did not answer. Line ends are made CRLF first (a file
    saved with LF only is still the same message).

    >>> from mailhops.scenarios import get
    >>> journey = get("three-hops").run()
    >>> verify_signatures(journey.message, dns_for(journey.topology).dkim_txt)["summary"]
    'dkim=pass (example.org).'
    """
    raw = re.sub(rb"(?<!\r)\n", b"\r\n", message)
    view = _LookupView(dnsfunc)
    checks = _check_dkim(raw, view)
    try:
        arc = _check_arc(raw, view)
    except DNSLookupError as err:
        arc = ArcCheck("temperror", reason=str(err))
    except dkim.DKIMException as err:
        arc = ArcCheck("fail", reason=str(err))
    _DKIM_CHECKS.pop((view, signed_part(raw)[0]), None)  # a live answer is not cached
    dkim_out = [{"domain": c.domain, "selector": c.selector, "algorithm": c.algorithm, "result": c.result,
                 "reason": c.reason, "bits": c.bits} for c in checks]
    words = [f"dkim={d['result']} ({d['domain']})" for d in dkim_out] or ["no DKIM signature"]
    if arc.result != "none":
        words.append(f"arc={arc.result} (i={arc.instance}, sealed by {arc.sealer})")
    return {"status": "checked", "dkim": dkim_out,
            "arc": {"result": arc.result, "instance": arc.instance, "sealer": arc.sealer, "reason": arc.reason},
            "summary": ", ".join(words) + "."}
