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
  bounce is written by the sending server, not sent as backscatter to a forged address.

Each MTA module words the Authentication-Results its own way (``authentication_results`` in
:mod:`.postfix`, :mod:`.gmail`, :mod:`.exchange`, :mod:`.exim`); :func:`auth_fields` asks the right one.

Everything here runs in pure Python (the keys are the fixed demo keys of :mod:`mailhops.demo_keys`), so the
simulator also runs in the browser. dkimpy builds and checks every header; only the RSA step of signing goes
through the ``cryptography`` package when it is importable (it is ten times faster than dkimpy's pure-Python
RSA, and PKCS#1 v1.5 is deterministic, so the signature bytes are the same: :func:`rsa_backend`).

>>> from mailhops.scenarios import get
>>> journey = get("forwarding").run()
>>> print(journey.final_message()["Authentication-Results"])  # Bob's MX: OpenDMARC's line, on top
mx.example.net; dmarc=pass (p=none dis=none) header.from=example.org
"""

from __future__ import annotations

import base64
import email.utils
import functools
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import ModuleType

import dkim
import dkim.crypto
import srslib
from authheaders import dmarc_per_from
from authres import DKIMAuthenticationResult, SPFAuthenticationResult
from dkim.canonicalization import CanonicalizationPolicy
from dkim.util import InvalidTagValueList, parse_tag_value

from ..demo_keys import demo_key
from ..dns import TopologyDNS, dns_for
from ..errors import DNSLookupError
from ..topology import Server, Topology, domain_of
from . import headers as hdr
from .smtp import Envelope, Reply, Session

__all__ = [
    "ArcCheck", "DkimCheck", "Verdict", "arc_set", "auth_fields", "check_with", "dkim_sign", "dmarc_refusal", "evaluate",
    "is_signer", "list_rewrite", "outbound_signature", "rsa_backend", "srs_forward", "trust_dns", "verify_signatures",
]

#: The demo secret the forwarders' SRS hashes are keyed with (a demo: it protects nothing).
SRS_SECRET = "mailhops-demo-srs-secret"

_LOG = logging.getLogger("mailhops.trust")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False


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


# ---------------------------------------------------------------------------------------------- #
# signing


@functools.lru_cache(maxsize=64)
def _private_key(domain: str) -> dict:
    """The parsed demo private key of ``domain`` (parsed once per process)."""
    return dkim.crypto.parse_pem_private_key(demo_key(domain).private_pem)


#: Sign with dkimpy's pure-Python RSA even when ``cryptography`` is importable (the bench and tests set it).
PURE_PYTHON_RSA = False
_CRYPTO_KEYS: dict[int, object] = {}


def rsa_backend() -> str:
    """Which code does the RSA step of signing: ``"cryptography"`` (when importable, the fast path) or
    ``"dkimpy"`` (its pure-Python RSASSA-PKCS1-v1_5, already in the CRT form: two half-size exponentiations).

    >>> rsa_backend() in ("cryptography", "dkimpy")
    True
    """
    return "dkimpy" if PURE_PYTHON_RSA or not _cryptography_importable() else "cryptography"


@functools.lru_cache(maxsize=1)
def _cryptography_importable() -> bool:
    try:
        import cryptography.hazmat.primitives.asymmetric.rsa  # noqa: F401 - only asking whether it imports
    except ImportError:  # e.g. in the browser (Pyodide) without the compiled package
        return False
    return True


def _rsa_sign(digest_source: object, pk: dict) -> bytes:
    """RSASSA-PKCS1-v1_5 over the hash object dkimpy filled (SHA-256), with dkimpy's parsed private key ``pk``.

    The same bytes either way (RFC 8017 §8.2.1: the signature is a function of key and digest only)."""
    if rsa_backend() == "dkimpy":
        return bytes(dkim.crypto.RSASSA_PKCS1_v1_5_sign(digest_source, pk))
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    key = _CRYPTO_KEYS.get(pk["modulus"])
    if key is None:
        public = rsa.RSAPublicNumbers(pk["publicExponent"], pk["modulus"])
        key = rsa.RSAPrivateNumbers(pk["prime1"], pk["prime2"], pk["privateExponent"], pk["exponent1"],
                                    pk["exponent2"], pk["coefficient"], public).private_key()
        _CRYPTO_KEYS[pk["modulus"]] = key
    return key.sign(digest_source.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))  # type: ignore[attr-defined]


class _RsaSigning(dkim.DomainSigner):
    """dkimpy's ``DomainSigner.gen_header`` (dkimpy 1.1, rsa-sha256 only), line for line, with the RSA step
    done by :func:`_rsa_sign`: dkimpy still canonicalizes, selects and hashes the headers and folds the field."""

    def gen_header(self, fields: list, include_headers: tuple, canon_policy: CanonicalizationPolicy,
                   header_name: bytes, pk: dict, standardize: bool = False) -> bytes:
        if standardize or self.signature_algorithm != b"rsa-sha256":  # not used here: dkimpy's own code
            return super().gen_header(fields, include_headers, canon_policy, header_name, pk, standardize)
        header_value = b"; ".join(b"=".join(x) for x in fields)
        header_value = dkim.fold(header_value, namelen=len(header_name), linesep=b"\r\n")
        header_value = dkim.RE_BTAG.sub(b"\\1", header_value)
        header = (header_name, b" " + header_value)
        h = dkim.HashThrough(self.hasher(), self.debug_content)
        sig = dict(fields)
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = dkim.hash_headers(h, canon_policy, headers, include_headers, header, sig)
        signature = _rsa_sign(h, pk)
        idx = [i for i in range(len(fields)) if fields[i][0] == b"b"][0]
        fields[idx] = (b"b", base64.b64encode(signature))
        header_value = b"; ".join(b"=".join(x) for x in fields) + self.linesep
        return dkim.fold(header_value, namelen=len(header_name), linesep=self.linesep)


class _Signer(_RsaSigning, dkim.DKIM):
    """dkimpy's DKIM signer with the signature time taken from the (simulated) clock rather than the wall clock.

    The fields are dkimpy's own ``DKIM.sign`` fields, in its order; :meth:`gen_header` canonicalizes,
    hashes and signs (see :class:`_RsaSigning`).
    """

    def sign_at(self, selector: bytes, domain: bytes, pk: dict, timestamp: int,
                canonicalize: tuple[bytes, bytes] = (b"relaxed", b"relaxed")) -> bytes:
        canon_policy = CanonicalizationPolicy.from_c_value(b"/".join(canonicalize))
        include_headers = tuple(x.lower() for x in self.default_sign_headers())
        self.include_headers = include_headers
        body = canon_policy.canonicalize_body(self.body)
        self.hasher = dkim.HASH_ALGORITHMS[self.signature_algorithm]
        bodyhash = base64.b64encode(self.hasher(body).digest())
        fields = [
            (b"v", b"1"), (b"a", self.signature_algorithm), (b"c", canon_policy.to_c_value()), (b"d", domain),
            (b"s", selector), (b"t", str(timestamp).encode("ascii")), (b"h", b" : ".join(include_headers)),
            (b"bh", bodyhash), (b"b", b"0" * 60),
        ]
        res = self.gen_header(fields, include_headers, canon_policy, b"DKIM-Signature", pk)
        return b"DKIM-Signature: " + res


class _ArcSigner(_RsaSigning, dkim.ARC):
    """dkimpy's ARC sealer (``dkim.arc_sign``), with the RSA step of :class:`_RsaSigning`."""


_SIGNATURES: OrderedDict[tuple, str] = OrderedDict()


def _remember(cache: OrderedDict, key: tuple, value: object, limit: int = 512) -> None:
    if sum(len(part) for part in key if isinstance(part, bytes)) > 1 << 16:
        return  # a cache bounded by count alone would keep large messages alive (a live server's memory)
    cache[key] = value
    if len(cache) > limit:
        cache.popitem(last=False)


def dkim_sign(message: bytes, domain: str, selector: str, when: datetime) -> str:
    """The ``DKIM-Signature`` field ``domain`` puts on ``message`` at ``when`` (relaxed/relaxed, rsa-sha256).

    The result is a pure function of (key, time, message), so it is cached: running the same journey again
    (a widget redrawing) does not sign again.

    >>> from datetime import datetime, timezone
    >>> field = dkim_sign(b"From: a@example.org\\r\\nSubject: hi\\r\\n\\r\\nhello\\r\\n", "example.org", "mail",
    ...                   datetime(2026, 3, 2, tzinfo=timezone.utc))
    >>> field.split(";")[:4]
    ['DKIM-Signature: v=1', ' a=rsa-sha256', ' c=relaxed/relaxed', ' d=example.org']
    """
    timestamp = int(when.timestamp())
    key = (domain, selector, timestamp, message)
    found = _SIGNATURES.get(key)
    if found is None:
        signer = _Signer(message, logger=_LOG)
        raw = signer.sign_at(selector.encode("ascii"), domain.encode("ascii"), _private_key(domain), timestamp)
        found = raw.decode("ascii").rstrip("\r\n")
        _remember(_SIGNATURES, key, found)
    return found


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
_DMARC: dict[tuple, tuple[str, str]] = {}


def _header_value(message: bytes, name: bytes) -> str | None:
    head = message.split(b"\r\n\r\n", 1)[0]
    match = re.search(rb"(?im)^" + re.escape(name) + rb"[ \t]*:(.*(?:\r\n[ \t].*)*)", head)
    return match.group(1).replace(b"\r\n", b"").strip().decode("utf-8", "replace") if match else None


def from_domain_of(message: bytes) -> str:
    """The domain of the ``From:`` address (what DMARC protects), or ``""``."""
    value = _header_value(message, b"from")
    return _address_domain(value) if value else ""


@functools.lru_cache(maxsize=256)
def _address_domain(value: str) -> str:
    _name, address = email.utils.parseaddr(value)
    return domain_of(address) if "@" in address else ""


_FIELD_SPLIT = re.compile(rb"\r\n(?![ \t])")
_DKIM_CHECKS: OrderedDict[tuple, tuple[DkimCheck, ...]] = OrderedDict()


def signed_part(message: bytes) -> tuple[bytes, int]:
    """(the message reduced to what its DKIM signatures cover, how many ``DKIM-Signature`` fields it has).

    A signature's header hash covers only the fields its ``h=`` tag names and the signature itself
    (RFC 6376 §5.4.2, §3.7), so dropping every other field (the ``Received`` and ``Authentication-Results``
    each hop adds) changes no verification result; all fields of a named kind are kept, in their order,
    so that a verifier picks the same instances (bottom-up, §5.4.2). The part is what :func:`_check_dkim`
    caches on: a forwarding chain does not verify the same signature again at every hop.

    >>> raw = b"Received: x\\r\\nDKIM-Signature: v=1; h=from : subject; d=a.example\\r\\nFrom: a\\r\\nTo: b\\r\\n\\r\\nhi\\r\\n"
    >>> signed_part(raw)
    (b'DKIM-Signature: v=1; h=from : subject; d=a.example\\r\\nFrom: a\\r\\n\\r\\nhi\\r\\n', 1)
    """
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        return message, message.lower().count(b"dkim-signature:")
    fields = _FIELD_SPLIT.split(head)
    names = [f.split(b":", 1)[0].strip().lower() for f in fields]
    signatures = [f for f, n in zip(fields, names, strict=True) if n == b"dkim-signature"]
    wanted = {b"dkim-signature"}
    for field_bytes in signatures:
        try:
            tags = parse_tag_value(field_bytes.split(b":", 1)[1])
        except (InvalidTagValueList, IndexError):
            return message, len(signatures)  # a malformed signature: let dkimpy see everything
        wanted.update(h.strip().lower() for h in tags.get(b"h", b"").split(b":"))
    kept = [f for f, n in zip(fields, names, strict=True) if n in wanted]
    return b"\r\n".join(kept) + b"\r\n\r\n" + body, len(signatures)


def _check_dkim(message: bytes, view: TopologyDNS | object) -> tuple[DkimCheck, ...]:
    """Verify every ``DKIM-Signature`` of ``message`` with dkimpy, asking ``view.dkim_txt`` for the keys."""
    part, count = signed_part(message)
    key = (view, part)
    found = _DKIM_CHECKS.get(key)
    if found is not None:
        return found
    checks = []
    for idx in range(count):
        verifier = dkim.DKIM(part, logger=_LOG)
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
        text = {k.decode("ascii", "replace"): v.decode("ascii", "replace") for k, v in sig.items()}
        domain = text.get("d", "").lower()
        checks.append(DkimCheck(result, domain, text.get("s", ""), text.get("a", ""), text.get("i", f"@{domain}"),
                                re.sub(r"\s+", "", text.get("b", ""))[:8], verifier.keysize, reason))
    found = tuple(checks)
    _remember(_DKIM_CHECKS, key, found, limit=256)
    return found


def _check_arc(message: bytes, view: TopologyDNS) -> ArcCheck:
    if b"\r\narc-seal:" not in b"\r\n" + message.split(b"\r\n\r\n", 1)[0].lower():
        return ArcCheck()
    try:
        cv, results, reason = dkim.ARC(message, logger=_LOG).verify(dnsfunc=view.dkim_txt)
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
    found = _DMARC.get(key)
    if found is None:
        spf_result = SPFAuthenticationResult(result=spf, smtp_mailfrom=spf_domain)
        dkim_result = DKIMAuthenticationResult(result=dk[0], header_d=dk[1]) if dk else None
        result, _comment, _domain, policy = dmarc_per_from(from_domain, spf_result, dkim_result, dnsfunc=view.dmarc_txt)
        found = _DMARC[key] = (result, policy)
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
    arc = _check_arc(message, view)
    from_domain = from_domain_of(message)
    dmarc, policy = "none", ""
    if from_domain:
        outcomes = [_dmarc(view, from_domain, spf, spf_domain, c) for c in checks or (None,)]
        dmarc, policy = next((o for o in outcomes if o[0] == "pass"), outcomes[0])
    disposition, override, notes = "none", False, []
    if dmarc == "fail" and policy in ("reject", "quarantine"):
        if arc.result == "pass" and server.trust_arc:
            override = True
            notes.append(f"DMARC fails for {from_domain} (p={policy}), but {server.name} trusts the ARC chain sealed by "
                         f"{arc.sealer}, which says the message passed when it arrived there: it accepts it.")
        else:
            disposition = policy
    verdict = Verdict(server.name, ip, helo, envelope.mail_from, spf, mechanism, spf_domain, checks, arc, from_domain,
                      dmarc, policy, disposition=disposition, arc_override=override, notes=tuple(notes))
    _remember(_VERDICTS, key, verdict, limit=256)
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
    wording = getattr(flavour, "dmarc_reject", None)
    if wording is not None:
        return wording(verdict.from_domain)
    return Reply(550, "5.7.1", f"rejected by DMARC policy for {verdict.from_domain}")


def auth_fields(flavour: ModuleType, verdict: Verdict, qid: str | None, spf_fields: list[str]) -> list[str]:
    """The Authentication-Results (and related) fields ``flavour`` writes for ``verdict``, topmost first;
    ``spf_fields`` are the Received-SPF and SPF result lines a policy service (policyd-spf) would write.

    Flavours without their own ``authentication_results`` (Sendmail, qmail) use the milter stack's lines
    (OpenDKIM and OpenDMARC began as Sendmail milters), like Postfix.
    """
    from . import postfix

    writer = getattr(flavour, "authentication_results", None) or postfix.authentication_results
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
        _remember(_SIGNATURES, key, found)
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
