"""DKIM and ARC signatures: dkimpy's signing and verifying, with exact fast paths.

The machinery under :mod:`.trust` (which decides who signs and what a receiving server concludes): the outbound
server's ``DKIM-Signature`` (:func:`dkim_sign`), a forwarder's ARC set (:class:`_ArcSigner`), and the verifiers an MX
runs over what a message's signatures cover (:func:`signed_part`, :class:`_Verifier`, :class:`_FieldVerifier`,
:class:`_ArcVerifier`). dkimpy (RFC 6376, RFC 8617) stays the definition and the fallback: each fast path here is
dkimpy's own steps (dkimpy 1.1), giving the same bytes and the same verdicts (tests compare them with plain
dkimpy), and a message or field it cannot show to be the same goes to dkimpy itself.

Everything here runs in pure Python (the keys are the fixed demo keys of :mod:`mailhops.demo_keys`), so the
simulator also runs in the browser. dkimpy builds and checks every header; only the RSA steps of signing and
verifying go through the ``cryptography`` package when it is importable (ten times faster than dkimpy's
pure-Python RSA; PKCS#1 v1.5 is deterministic, so the signature bytes and the verdicts are the same:
:func:`rsa_backend`). What a server would otherwise redo for every message is remembered in small LRU caches,
each keyed on the exact bytes it is a function of: a body's canonical hash (the submission server signs it, the
MX verifies it), a published key record's parsed key, a signature field's parsed tags, a header field as dkimpy reads
and canonicalizes it, where dkimpy's ``fold`` breaks the signer's field (see :func:`_sign_fields`).

>>> from datetime import datetime, timezone
>>> message = b"From: a@example.org\\r\\nSubject: hi\\r\\n\\r\\nhello\\r\\n"
>>> signed = dkim_sign(message, "example.org", "mail", datetime(2026, 3, 2, tzinfo=timezone.utc)).encode()
>>> signed_part(signed + b"\\r\\n" + message)[1]  # one DKIM-Signature, covering From and Subject
1
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

import dkim
import dkim.crypto
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError, Relaxed
from dkim.util import DuplicateTag, InvalidTagSpec, InvalidTagValueList

from ..demo_keys import demo_key

__all__ = ["PURE_PYTHON_RSA", "dkim_sign", "rsa_backend", "signed_part"]

_LOG = logging.getLogger("mailhops.trust")  # dkimpy's messages, for the verifiers here and in .trust
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False


# ---------------------------------------------------------------------------------------------- #
# signing


@functools.lru_cache(maxsize=64)
def _private_key(domain: str) -> dict:
    """The parsed demo private key of ``domain`` (parsed once per process)."""
    return dkim.crypto.parse_pem_private_key(demo_key(domain).private_pem)


#: Sign with dkimpy's pure-Python RSA even when ``cryptography`` is importable (the bench and tests set it).
PURE_PYTHON_RSA = False
_CRYPTO_KEYS: OrderedDict[tuple, object] = OrderedDict()  # cryptography's key objects, by the numbers they hold


def rsa_backend() -> str:
    """Which code does the RSA steps of signing and verifying: ``"cryptography"`` (when importable, the fast
    path) or ``"dkimpy"`` (its pure-Python RSASSA-PKCS1-v1_5, already in the CRT form for signing).

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


@functools.lru_cache(maxsize=1)
def _pkcs1_sha256() -> tuple:
    """cryptography's PKCS#1 v1.5 padding, its pre-hashed SHA-256 and ``InvalidSignature`` (imported once, when used)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    return padding.PKCS1v15(), Prehashed(hashes.SHA256()), InvalidSignature


#: cryptography's key objects by the identity of dkimpy's parsed key dict they were made for (kept alive here, so its
#: id is not reused), for the parsed keys that stay (:func:`_public_key`, :func:`_private_key`).
_KEYS_OF: dict[tuple[int, bool], tuple[dict, object | None]] = {}


def _crypto_key(pk: dict, private: bool) -> object | None:
    """cryptography's key object for dkimpy's parsed key ``pk`` (``None`` if OpenSSL will not load it), made once."""
    known = _KEYS_OF.get((id(pk), private))
    if known is not None and known[0] is pk:
        return known[1]
    found = _crypto_key_of(pk, private)
    if len(_KEYS_OF) >= 64:
        _KEYS_OF.clear()
    _KEYS_OF[id(pk), private] = (pk, found)
    return found


def _crypto_key_of(pk: dict, private: bool) -> object | None:
    key = ("private" if private else "public", pk["modulus"], pk["publicExponent"])
    found = _recall(_CRYPTO_KEYS, key)
    if found is None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        public = rsa.RSAPublicNumbers(pk["publicExponent"], pk["modulus"])
        try:
            found = (rsa.RSAPrivateNumbers(pk["prime1"], pk["prime2"], pk["privateExponent"], pk["exponent1"],
                                           pk["exponent2"], pk["coefficient"], public).private_key()
                     if private else public.public_key())
        except Exception:  # noqa: BLE001 - a key OpenSSL refuses (too small, even exponent): the pure path decides
            found = False
        _remember(_CRYPTO_KEYS, key, found, limit=64)
    return found or None


def _rsa_sign(digest_source: object, pk: dict) -> bytes:
    """RSASSA-PKCS1-v1_5 over the hash object dkimpy filled (SHA-256), with dkimpy's parsed private key ``pk``.

    The same bytes either way (RFC 8017 §8.2.1: the signature is a function of key and digest only)."""
    key = _crypto_key(pk, private=True) if rsa_backend() == "cryptography" else None
    if key is None:
        return bytes(dkim.crypto.RSASSA_PKCS1_v1_5_sign(digest_source, pk))
    pkcs1, sha256, _invalid = _pkcs1_sha256()
    return key.sign(digest_source.digest(), pkcs1, sha256)  # type: ignore[attr-defined]


def _rsa_verify(digest_source: object, signature: bytes, pk: dict) -> bool:
    """RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) of the hash object dkimpy filled, with dkimpy's parsed public
    key ``pk``: the verdict of dkimpy's ``RSASSA_PKCS1_v1_5_verify``, whichever code computes it.

    With ``cryptography`` (OpenSSL) for a SHA-256 signature as long as the modulus and smaller than it, under a key
    of at least 1024 bits (RFC 8301 §3.2): OpenSSL then compares the whole encoded block, as dkimpy does, and a
    key too short for the encoded digest (dkimpy's ``DigestTooLargeError``) never reaches it. Anything else (and
    everything without ``cryptography``) goes the pure-Python way: dkimpy's own encoding and arithmetic, with the
    byte conversions done by ``int`` (``int.from_bytes``/``to_bytes`` give the bytes of dkimpy's
    ``str2int``/``int2str``, not byte by byte)."""
    n = pk["modulus"]
    modlen = max(1, (n.bit_length() + 7) // 8)  # len(dkim.crypto.int2str(n))
    if (rsa_backend() == "cryptography" and getattr(digest_source, "name", "") == "sha256" and modlen >= 128
            and len(signature) == modlen and int.from_bytes(signature, "big") < n):
        key = _crypto_key(pk, private=False)
        if key is not None:
            pkcs1, sha256, invalid = _pkcs1_sha256()
            try:
                key.verify(signature, digest_source.digest(), pkcs1, sha256)  # type: ignore[attr-defined]
            except invalid:
                return False
            return True
    encoded = dkim.crypto.EMSA_PKCS1_v1_5_encode(digest_source, modlen)  # DigestTooLargeError as in dkimpy
    return encoded == pow(int.from_bytes(signature, "big"), pk["publicExponent"], n).to_bytes(modlen, "big")


def _recall(cache: OrderedDict, key: tuple) -> object | None:
    """The cached value for ``key`` (now the most recently used), or ``None``."""
    found = cache.get(key)
    if found is not None:
        cache.move_to_end(key)
    return found


def _remember(cache: OrderedDict, key: tuple, value: object, limit: int = 512, size: int | None = None) -> None:
    """Keep ``value`` under ``key`` (dropping the least recently used beyond ``limit`` entries), unless the ``bytes``
    parts of ``key`` are longer than 64 KiB together; ``size`` is that length when the caller knows it."""
    if (sum(len(part) for part in key if isinstance(part, bytes)) if size is None else size) > 1 << 16:
        return  # a cache bounded by count alone would keep large messages alive (a live server's memory)
    cache[key] = value
    if len(cache) > limit:
        cache.popitem(last=False)


_BODY_HASHES: OrderedDict[tuple, bytes] = OrderedDict()


def _body_hash(canon_policy: CanonicalizationPolicy, algorithm: bytes, body: bytes, length: bytes | None = None) -> bytes:
    """The hash of ``body`` canonicalized by ``canon_policy`` (cut at ``l=`` ``length``), for the signature algorithm
    ``algorithm``: what dkimpy's ``sign`` puts in ``bh=`` and ``verify`` compares with it (RFC 6376 §3.7).

    Remembered per exact body bytes: the outbound server signs a body and the MX verifies the same bytes.

    >>> policy = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    >>> import hashlib  # relaxed: spaces folded, trailing ones and empty lines at the end dropped
    >>> _body_hash(policy, b"rsa-sha256", b"hi  there \\r\\n\\r\\n") == hashlib.sha256(b"hi there\\r\\n").digest()
    True
    """
    key = (canon_policy.body_algorithm.name, algorithm, length, body)
    found = _recall(_BODY_HASHES, key)
    if found is None:
        canonical = canon_policy.canonicalize_body(body)
        if length is not None:
            canonical = canonical[:int(length)]
        found = dkim.HASH_ALGORITHMS[algorithm](canonical).digest()
        _remember(_BODY_HASHES, key, found, limit=64)
    return found  # type: ignore[return-value]


def _tag_value_list(tag_list: bytes) -> dict[bytes, bytes]:
    """dkimpy's ``parse_tag_value`` (dkimpy 1.1, RFC 6376 §3.2) step for step, without its regex: the tag name test
    ``re.match(br'^[a-zA-Z](\\w)*', key)`` only asks whether the first byte is an ASCII letter, which is what
    ``key[:1].isalpha()`` asks; a spec without ``=`` raises ``InvalidTagSpec`` as its failed unpacking does, a
    repeated tag ``DuplicateTag``. The same dict, the same exceptions (a test compares them).

    >>> _tag_value_list(b" v=1; a = rsa-sha256;\\r\\n d=example.org; ")
    {b'v': b'1', b'a': b'rsa-sha256', b'd': b'example.org'}
    >>> _tag_value_list(b"v=1; 1x=2")
    Traceback (most recent call last):
    dkim.util.InvalidTagSpec: b' 1x=2'
    """
    tags: dict[bytes, bytes] = {}
    tag_specs = tag_list.strip().split(b";")
    if not tag_specs[-1]:  # trailing semicolons are valid
        tag_specs.pop()
    for tag_spec in tag_specs:
        key, equals, value = tag_spec.partition(b"=")
        if not equals:
            raise InvalidTagSpec(tag_spec)
        key = key.strip()
        if not key[:1].isalpha():  # bytes.isalpha: ASCII letters only, and False for b""
            raise InvalidTagSpec(tag_spec)
        if key in tags:
            raise DuplicateTag(key)
        tags[key] = value.strip()
    return tags


def _tags(value: bytes) -> dict[bytes, bytes]:
    """dkimpy's ``parse_tag_value`` of a signature field's (stripped) value, parsed once per exact value of up to
    4 KiB (a larger one is parsed each time rather than kept), or as the signer knew it (:data:`_WRITTEN`): do not
    change the dict."""
    written = _WRITTEN.get(value)
    if written is not None:
        return written[0]
    return _parsed_tags(value) if len(value) <= 4096 else _tag_value_list(value)


@functools.lru_cache(maxsize=256)
def _parsed_tags(value: bytes) -> dict[bytes, bytes]:
    return _tag_value_list(value)


def _valid_dkim_tags(value: bytes) -> bool:
    """dkimpy's ``validate_signature_fields`` of a DKIM-Signature value (raises as it does), checked once per value
    (or known valid from the signer: :data:`_WRITTEN`)."""
    written = _WRITTEN.get(value)
    if written is not None and written[1]:
        return True
    if len(value) > 4096:
        _validate_signature_fields(_tag_value_list(value))
        return True
    return _validated(value)


@functools.lru_cache(maxsize=256)
def _validated(value: bytes) -> bool:
    _validate_signature_fields(_tags(value))
    return True


_MANDATORY_TAGS = frozenset((b"v", b"a", b"b", b"bh", b"d", b"h", b"s"))  # validate_signature_fields' default list
_BASE64_VALUE = re.compile(rb"[\s0-9A-Za-z+/]+[\s=]*$")
#: What ``\s`` matches in a bytes pattern (dkimpy's ``re.sub(br"\s+", b"", x)`` is ``x.translate(None, _SPACES)``)
#: and in a str pattern, below 128 (``_WHITESPACE.sub("", x)`` for ASCII text).
_SPACES = b" \t\n\r\x0b\x0c"
_STR_SPACES = _SPACES + b"\x1c\x1d\x1e\x1f"
_DOMAIN_SPECIALS = re.compile(rb"[\(\)<>\[\]:;@\\,]")
_DECIMAL = re.compile(rb"\d+$")
_LENGTH = re.compile(rb"\d{,76}$")


def _surely_valid(sig: dict[bytes, bytes]) -> bool:
    """True only when dkimpy's ``validate_signature_fields(sig)`` (a DKIM signature's tags) returns without raising:
    its own tests, in its order, with the patterns compiled once. ``False`` means "let dkimpy decide" (a missing or
    malformed tag, ``cv=`` or ``x=``), never "invalid".

    >>> _surely_valid({b"v": b"1", b"a": b"rsa-sha256", b"b": b"AAAA", b"bh": b"AAAA", b"d": b"example.org",
    ...                b"h": b"from", b"s": b"mail", b"t": b"1772443397"})
    True
    >>> _surely_valid({b"v": b"2"})
    False
    """
    if not _MANDATORY_TAGS.issubset(sig) or sig[b"a"] not in dkim.HASH_ALGORITHMS or b"cv" in sig or b"x" in sig:
        return False
    # dkimpy tests b='s characters for bh= too (its own slip): already true here
    if not _b_surely_valid(sig[b"b"]) or len(sig[b"bh"].translate(None, _SPACES)) % 4:
        return False
    d = sig[b"d"]
    if d.isascii() and _DOMAIN_SPECIALS.search(d):
        return False
    i = sig.get(b"i")
    if i is not None and not (len(i) > len(d) and i.lower().endswith(d.lower()) and i[-len(d) - 1] in (64, 46)):
        return False  # (dkimpy raises IndexError for an i= as short as d=: it decides)
    if b"l" in sig and _LENGTH.match(sig[b"l"]) is None or b"q" in sig and sig[b"q"] != b"dns/txt":
        return False
    t = sig.get(b"t")
    if t is not None and not _t_surely_valid(t):
        return False
    return sig[b"v"] == b"1"


def _b_surely_valid(b: bytes) -> bool:
    """:func:`_surely_valid`'s test of the ``b=`` value (base64 characters and white space, ``=`` only at the end, a
    multiple of 4 characters); the other tests do not read ``b=``."""
    return _BASE64_VALUE.match(b) is not None and not len(b.translate(None, _SPACES)) % 4


def _t_surely_valid(t: bytes) -> bool:
    """:func:`_surely_valid`'s test of the ``t=`` value (digits, not later than dkimpy's 10 hours of leeway for clocks
    from now: once true, true from then on); the other tests do not read ``t=``."""
    return _DECIMAL.match(t) is not None and int(t) <= int(time.time()) + 36000


def _validate_signature_fields(sig: dict[bytes, bytes]) -> None:
    """dkimpy's ``validate_signature_fields(sig)``: the same outcome, dkimpy itself unless :func:`_surely_valid`."""
    if not _surely_valid(sig):
        dkim.validate_signature_fields(sig)


@functools.lru_cache(maxsize=64)
def _public_key(name: bytes, record: bytes | str | None) -> tuple:
    """dkimpy's ``evaluate_pk`` of the key record published at ``name``: parsed once per exact record text."""
    return dkim.evaluate_pk(name, record)


_UNFOLD = re.compile(b"\r?\n")
#: dkimpy's ``[\t ]+`` (made one space) matched only where the result changes: a run that starts with a tab or
#: is longer than one space (a lone space already is one space), so the regex engine substitutes less often.
_WSP = re.compile(b"\t[\t ]*| [\t ]+")


def _canonical_headers(canon_policy: CanonicalizationPolicy, headers: list) -> list:
    """``canon_policy.canonicalize_headers(headers)``; for "relaxed", dkimpy's own steps (RFC 6376 §3.4.2: names
    lowercased, values unfolded, runs of WSP made one space, stripped) with its patterns compiled once.

    >>> relaxed = CanonicalizationPolicy.from_c_value(b"relaxed/simple")
    >>> _canonical_headers(relaxed, [[b"Subject ", b" Lunch  on\\r\\n\\tFriday? \\r\\n"]])
    [(b'subject', b'Lunch on Friday?\\r\\n')]
    """
    if canon_policy.header_algorithm is not Relaxed:
        return canon_policy.canonicalize_headers(headers)
    return [(x[0].lower().rstrip(), _WSP.sub(b" ", _UNFOLD.sub(b"", x[1])).strip() + b"\r\n") for x in headers]


def _named(headers: list, include_headers: list | tuple) -> list:
    """The fields of ``headers`` whose name is one of ``include_headers``, in order: the only ones dkimpy's
    ``select_headers`` can pick, so canonicalizing these alone hashes the same bytes."""
    wanted = set(include_headers)
    return [f for f in headers if f[0].lower() in wanted]


#: dkimpy's ``RE_BTAG`` (the ``b=`` tag and its value, to be emptied before hashing: RFC 6376 §3.7) in a form
#: the regex engine runs several times faster: its folding whitespace ``(?:(?:\s*\r?\n)?\s+)?`` matches exactly
#: the runs ``\s*`` matches, so "``(?:FWS base64-char)*``" is "the longest run of spaces and base64 characters
#: that ends in a base64 character". The same matches, so the same substitutions (a test compares them).
_RE_BTAG = re.compile(rb"([;\s]b\s*=)(?:[\sA-Za-z0-9+/=]*[A-Za-z0-9+/=])?(?:\r?\n\Z)?")


def _hash_headers(hasher: object, canon_policy: CanonicalizationPolicy, headers: list, include_headers: list | tuple,
                  sigheader: tuple, sig: dict) -> list:
    """dkimpy's ``hash_headers``: feed ``hasher`` the selected, canonicalized fields then the signature field with
    an empty ``b=`` and no final CRLF; in one ``update`` (the same bytes, so the same digest). Returns the fields
    selected, as dkimpy does."""
    sign_headers = dkim.select_headers(headers, include_headers)
    cheaders = _canonical_headers(canon_policy, [(sigheader[0], _RE_BTAG.sub(b"\\1", sigheader[1]))])
    hasher.update(b"".join(x + b":" + y for x, y in sign_headers + [(x, y.rstrip()) for x, y in cheaders]))  # type: ignore[attr-defined]
    return sign_headers


#: :data:`_RE_BTAG` anchored on its literal ``b`` (the regex engine then looks for a ``b`` instead of trying each
#: position): ``sub(b"b\\1", x)`` makes the same substitutions, as no match of it ends on a ``;`` or white space
#: that the lookbehind could see again (a match ends on a base64 character, ``=`` or the final line end).
_RE_BTAG_AT_B = re.compile(rb"b(?<=[;\s]b)(\s*=)(?:[\sA-Za-z0-9+/=]*[A-Za-z0-9+/=])?(?:\r?\n\Z)?")
_H_SPLIT = re.compile(rb"\s*:\s*")


def _b_emptied(value: bytes) -> bytes:
    """``_RE_BTAG.sub(b"\\1", value)`` (dkimpy's ``RE_BTAG``: the value of every ``b=`` tag removed), by
    :data:`_RE_BTAG_AT_B` and without the regex engine's template expansion for the one match a signature has.

    >>> _b_emptied(b" v=1; bh=AAAA;\\r\\n b=Zm9v\\r\\n YmFy\\r\\n")
    b' v=1; bh=AAAA;\\r\\n b='
    """
    found = _RE_BTAG_AT_B.search(value)
    if found is None:
        return value
    if _RE_BTAG_AT_B.search(value, found.end()) is not None:
        return _RE_BTAG_AT_B.sub(b"b\\1", value)
    return value[:found.end(1)] + value[found.end():]


_LINE_END = re.compile(b"\r?\n")
_FIELD_NAME = re.compile(rb"([\x21-\x7e]+?):")


def _rfc822_parse(message: bytes) -> tuple[list, bytes]:
    """dkimpy's ``rfc822_parse`` (dkimpy 1.1) step for step, with its two patterns compiled once."""
    headers: list = []
    lines = _LINE_END.split(message)
    for i, line in enumerate(lines):
        if not line:  # the end of the header block: the body is what follows the empty line
            return headers, b"\r\n".join(lines[i + 1:])
        if line[0] in (0x09, 0x20):
            headers[-1][1] += line + b"\r\n"
        else:
            m = _FIELD_NAME.match(line)
            if m is not None:
                headers.append([m.group(1), line[m.end(0):] + b"\r\n"])
            elif not line.startswith(b"From "):
                raise dkim.MessageFormatError(f"Unexpected characters in RFC822 header: {line}")
    return headers, b""


def _check_body_hash(canon_policy: CanonicalizationPolicy, sig: dict, body: bytes, length: bytes | None) -> None:
    """dkimpy's body-hash step of ``verify_sig_process``: raise as it does when ``bh=`` does not match the body
    (``base64.b64decode`` of the value without whitespace, done by ``binascii`` directly: the same bytes)."""
    bodyhash = _body_hash(canon_policy, sig[b"a"], body, length)
    try:
        bh = binascii.a2b_base64(sig[b"bh"].translate(None, _SPACES))
    except TypeError as e:
        raise dkim.MessageFormatError(str(e)) from None
    if bodyhash != bh:
        raise dkim.ValidationError(f"body hash mismatch (got {base64.b64encode(bodyhash)}, expected {sig[b'bh']})")


class _Parsing(dkim.DomainSigner):
    """Reads the message with :func:`_rfc822_parse` (dkimpy's parser, its patterns compiled once)."""

    def set_message(self, message: bytes | None) -> None:
        super().set_message(None)
        if message:
            self.headers, self.body = _rfc822_parse(message)


class _RsaSigning(_Parsing):
    """dkimpy's ``DomainSigner.gen_header`` (dkimpy 1.1, rsa-sha256 only), line for line, with the RSA step
    done by :func:`_rsa_sign` and only the fields it signs canonicalized: dkimpy still canonicalizes, selects and
    hashes the headers and folds the field."""

    def gen_header(self, fields: list, include_headers: tuple, canon_policy: CanonicalizationPolicy,
                   header_name: bytes, pk: dict, standardize: bool = False) -> bytes:
        if standardize or self.signature_algorithm != b"rsa-sha256" or self.debug_content:  # dkimpy's own code
            return super().gen_header(fields, include_headers, canon_policy, header_name, pk, standardize)
        header_value = b"; ".join(b"=".join(x) for x in fields)
        header_value = dkim.fold(header_value, namelen=len(header_name), linesep=b"\r\n")
        header_value = _RE_BTAG.sub(b"\\1", header_value)
        header = (header_name, b" " + header_value)
        h = dkim.HashThrough(self.hasher(), self.debug_content)
        sig = dict(fields)
        headers = _canonical_headers(canon_policy, _named(self.headers, include_headers))
        self.signed_headers = _hash_headers(h, canon_policy, headers, include_headers, header, sig)
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
        self.hasher = dkim.HASH_ALGORITHMS[self.signature_algorithm]
        bodyhash = base64.b64encode(_body_hash(canon_policy, self.signature_algorithm, self.body))
        fields = [
            (b"v", b"1"), (b"a", self.signature_algorithm), (b"c", canon_policy.to_c_value()), (b"d", domain),
            (b"s", selector), (b"t", str(timestamp).encode("ascii")), (b"h", b" : ".join(include_headers)),
            (b"bh", bodyhash), (b"b", b"0" * 60),
        ]
        res = self.gen_header(fields, include_headers, canon_policy, b"DKIM-Signature", pk)
        return b"DKIM-Signature: " + res


class _ArcSigner(_RsaSigning, dkim.ARC):
    """dkimpy's ARC sealer (``dkim.arc_sign``), with the RSA step of :class:`_RsaSigning`."""


class _Verifying(_Parsing):
    """dkimpy's ``verify_sig`` and ``verify_sig_process`` (dkimpy 1.1), line for line, for RSA keys, except that
    the key record is parsed once per exact text (:func:`_public_key`), the body hash comes from
    :func:`_body_hash`, only the fields a signature names are canonicalized (:func:`_named`) and the RSA step is
    :func:`_rsa_verify`. Same verdicts, same exceptions."""

    def verify_sig(self, sig: dict, include_headers: list, sig_header: tuple, dnsfunc: Callable) -> bool:
        name = sig[b"s"] + b"._domainkey." + sig[b"d"] + b"."
        try:
            record = dnsfunc(name, timeout=self.timeout)
            self.pk, self.keysize, self.ktag, self.seqtlsrpt = _public_key(name, record)
        except dkim.KeyFormatError as e:
            self.logger.error(f"{e}")
            return False
        except binascii.Error as e:
            self.logger.error(f"KeyFormatError: {e}")
            return False
        except dkim.DnsTimeoutError as e:
            self.logger.error(f"DnsTimeoutError: Domain: {sig[b'd']} Selector: {sig[b's']} Error message: {e}")
            return False
        return self.verify_sig_process(sig, include_headers, sig_header, dnsfunc)

    def verify_sig_process(self, sig: dict, include_headers: list, sig_header: tuple, dnsfunc: Callable) -> bool:
        if self.debug_content or self.ktag != b"rsa":  # dkimpy's own code
            return super().verify_sig_process(sig, include_headers, sig_header, dnsfunc)
        if self.tlsrpt == "strict" and not self.seqtlsrpt:
            raise dkim.ValidationError("Message is tlsrpt and Service Type is not tlsrpt")
        if not self.tlsrpt and self.seqtlsrpt:
            raise dkim.ValidationError("Message is not tlsrpt and Service Type is tlsrpt")
        try:
            canon_policy = CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple"))
        except InvalidCanonicalizationPolicyError as e:
            raise dkim.MessageFormatError(f"invalid c= value: {e.args[0]}") from None
        hasher = dkim.HASH_ALGORITHMS[sig[b"a"]]
        if b"bh" in sig:
            _check_body_hash(canon_policy, sig, self.body, sig[b"l"] if b"l" in sig and not self.tlsrpt else None)
        if b"from" in include_headers:
            include_headers.append(b"from")
        h = dkim.HashThrough(hasher(), self.debug_content)
        headers = _canonical_headers(canon_policy, _named(self.headers, include_headers))
        self.signed_headers = _hash_headers(h, canon_policy, headers, include_headers, sig_header, sig)
        signature = base64.b64decode(re.sub(rb"\s+", b"", sig[b"b"]))
        try:
            res = _rsa_verify(h, signature, self.pk)
            if res and self.keysize < self.minkey:
                raise dkim.KeyFormatError(f"public key too small: {self.keysize}")
            return res
        except (TypeError, dkim.crypto.DigestTooLargeError) as e:
            raise dkim.KeyFormatError(f"digest too large for modulus: {e}") from None


class _Verifier(_Verifying, dkim.DKIM):
    """dkimpy's DKIM verifier with the fast paths of :class:`_Verifying`; a signature field is parsed and checked
    once per exact value (:func:`_tags`, shared with :func:`signed_part`)."""

    def verify_headerprep(self, idx: int = 0) -> tuple | bool:
        sigheaders = [(x, y) for x, y in self.headers if x.lower() == b"dkim-signature"]
        if len(sigheaders) <= idx:
            return False
        value = sigheaders[idx][1].strip()
        try:
            sig = dict(_tags(value))
            self.signature_fields = sig
        except InvalidTagValueList as e:
            raise dkim.MessageFormatError(e) from None
        _valid_dkim_tags(value)
        self.domain = sig[b"d"]
        self.selector = sig[b"s"]
        include_headers = [x.lower() for x in _H_SPLIT.split(sig[b"h"])]
        self.include_headers = tuple(include_headers)
        return sig, include_headers, sigheaders


class _ArcVerifier(_Verifying, dkim.ARC):
    """dkimpy's ARC chain validation with the fast paths of :class:`_Verifying`."""


# ---------------------------------------------------------------------------------------------- #
# the fast paths: dkimpy's steps over header fields read once per exact bytes


#: One header field as dkimpy's ``rfc822_parse`` reads it: (name, value with its folded lines and a final CRLF,
#: lowercased name). ``name + b":" + value`` is the field's text and its "simple" canonical form.
_Field = tuple[bytes, bytes, bytes]


def _parse_field(raw: bytes) -> _Field | None:
    """One field (its lines joined by CRLF, no final CRLF) as dkimpy's ``rfc822_parse`` reads it, or ``None`` for what
    it would not read as a field of its own (an ``mbox`` ``From`` line, a continuation line at the top, a line it
    refuses, a line ending in LF alone): the caller then lets the parser itself read the message.

    >>> _parse_field(b"Subject: Lunch\\r\\n\\ton Friday")
    (b'Subject', b' Lunch\\r\\n\\ton Friday\\r\\n', b'subject')
    >>> _parse_field(b"From alice@example.org Mon Mar  2 09:00:00 2026") is None
    True
    """
    m = _FIELD_NAME.match(raw)
    if m is None or b"\n" in raw and raw.count(b"\n") != raw.count(b"\r\n"):
        return None
    name = m.group(1)
    return name, raw[m.end():] + b"\r\n", name.lower()


_known_field = functools.lru_cache(maxsize=1024)(_parse_field)  # the fields of up to 4 KiB, by their exact text


def _read_head(message: bytes) -> tuple[list[_Field], bytes] | None:
    """(the header fields, the body) as :func:`_rfc822_parse` reads them, when splitting at the first empty line is
    the same thing: every line ends in CRLF (then dkimpy's body, its lines joined again by CRLF, is the bytes after
    the empty line) and every field starts a line of its own (:func:`_parse_field`); ``None`` otherwise (the parser
    reads it). Each field is read once per exact text.

    >>> _read_head(b"To: b\\r\\nSubject: x\\r\\n y\\r\\n\\r\\nhi\\r\\n")
    ([(b'To', b' b\\r\\n', b'to'), (b'Subject', b' x\\r\\n y\\r\\n', b'subject')], b'hi\\r\\n')
    >>> _read_head(b"To: b\\nSubject: x\\n\\nhi\\n") is None  # LF line ends: the parser decides
    True
    """
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep or body.count(b"\n") != body.count(b"\r\n"):
        return None
    fields = _read_fields(_FIELD_SPLIT.split(head))
    return None if fields is None else (fields, body)


def _read_fields(raws: list[bytes]) -> list[_Field] | None:
    """:func:`_parse_field` of each field text, remembered per text; ``None`` if one is not a field, or is larger than
    4 KiB (a large field is not kept: the parser reads that message)."""
    if sum(map(len, raws)) > 4096 and max(map(len, raws)) > 4096:
        return None
    fields = list(map(_known_field, raws))
    return None if None in fields else fields  # type: ignore[return-value]


@functools.lru_cache(maxsize=1024)
def _relaxed_line(field: _Field) -> bytes:
    """A field as relaxed header canonicalization hashes it (:func:`_canonical_headers`: name lowercased, value
    unfolded, WSP runs made one space, stripped), ``name:value\\r\\n``, once per exact field (the fields
    :func:`_read_fields` reads are of up to 4 KiB).

    >>> _relaxed_line((b"Subject", b" Lunch  on\\r\\n\\tFriday? \\r\\n", b"subject"))
    b'subject:Lunch on Friday?\\r\\n'
    """
    return field[2].rstrip() + b":" + _relaxed_value(field[1]) + b"\r\n"


def _relaxed_value(value: bytes) -> bytes:
    """A field value as relaxed header canonicalization makes it, without the CRLF (dkimpy's ``unfold_header_value``
    ``re.sub(b"\\r?\\n", b"", v)`` removes every LF and every CR just before one, as the two replaces do; a value
    without a tab or two spaces in a row has no WSP run to make one space).

    >>> _relaxed_value(b" a \\t b\\r\\n c\\rd \\r\\n")
    b'a b c\\rd'
    """
    value = value.replace(b"\r\n", b"").replace(b"\n", b"")
    if b"\t" in value or b"  " in value:
        value = _WSP.sub(b" ", value)
    return value.strip()


def _selection(names: tuple[bytes, ...], include_headers: tuple[bytes, ...]) -> tuple[int, ...]:
    """dkimpy's ``select_headers(headers, include_headers)`` as positions in ``headers``, given the fields' lowercased
    names: each name of ``include_headers`` takes the last field of that name not yet taken, bottom-up, and nothing
    once they are used up (RFC 6376 §5.4.2). Remembered per (names, include_headers).

    >>> _selection((b"from", b"foo", b"from", b"subject"), (b"from", b"subject", b"to", b"from"))
    (2, 3, 0)
    """
    if len(names) + len(include_headers) > 256:
        return _selected.__wrapped__(names, include_headers)
    return _selected(names, include_headers)


@functools.lru_cache(maxsize=256)
def _selected(names: tuple[bytes, ...], include_headers: tuple[bytes, ...]) -> tuple[int, ...]:
    positions: dict[bytes, list[int]] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, []).append(i)
    chosen = []
    for h in include_headers:
        found = positions.get(h)
        if found:
            chosen.append(found.pop())
    return tuple(chosen)


_SIGN_HEADERS = frozenset(dkim.DKIM.SHOULD) | frozenset(dkim.DKIM.FROZEN)


@functools.lru_cache(maxsize=64)
def _signing_plan(names: tuple[bytes, ...]) -> tuple[bytes, tuple[int, ...]]:
    """(the ``h=`` value, the positions of the fields hashed) of :class:`_Signer` for fields of these lowercased names:
    dkimpy's ``default_sign_headers`` (the fields RFC 6376 says should be signed, ``From`` once more), lowercased,
    and ``select_headers`` over them.

    >>> _signing_plan((b"received", b"from", b"to", b"x-mailer", b"subject"))
    (b'from : to : subject : from', (1, 2, 4))
    """
    include = [n for n in names if n in _SIGN_HEADERS]
    include += [n for n in include if n in dkim.DKIM.FROZEN]
    return b" : ".join(include), _selection(names, tuple(include))


_MASKS = re.compile(b"\x00+|\x01+")


def _signature_fields(domain: bytes, selector: bytes, h: bytes, bh: bytes, t: bytes, b: bytes) -> bytes:
    """:class:`_Signer`'s tags, in its order, as ``gen_header`` joins them."""
    return b"; ".join(b"=".join(x) for x in ((b"v", b"1"), (b"a", b"rsa-sha256"), (b"c", b"relaxed/relaxed"),
                                             (b"d", domain), (b"s", selector), (b"t", t), (b"h", h), (b"bh", bh),
                                             (b"b", b)))


@functools.lru_cache(maxsize=64)
def _hashed_signature_layout(domain: bytes, selector: bytes, h: bytes, bh: bytes, tlen: int) -> tuple[bytes, bytes] | None:
    """What the signer hashes for its own field (``gen_header``: the tags with 60 zeros in ``b=`` folded by dkimpy's
    ``fold``, ``b=`` emptied by ``RE_BTAG``, relaxed-canonicalized, stripped) as (before, after) the digits of a
    ``t=`` of ``tlen`` digits, or ``None`` when that cannot be shown here (then the signer does it all).

    Worked out once on a template whose ``t=`` digits are NUL bytes: ``fold`` looks only at the length and at where
    the spaces and CRLFs are, so it cuts the real field where it cuts the template; ``RE_BTAG``'s match can start
    only at ``;``, white space then ``b``, never at a digit or NUL, so with every NUL before its first match both
    strings have the same matches; unfolding, WSP runs and ``strip`` touch neither digits nor NULs. So the real
    bytes are the template's with the NULs replaced by the digits, when the NULs are one unbroken run.

    >>> layout = _hashed_signature_layout(b"example.org", b"mail", b"from", b"AAAA", 10)
    >>> layout[0][:40], layout[1]
    (b'dkim-signature:v=1; a=rsa-sha256; c=rela', b'; h=from; bh=AAAA; b=')
    """
    template = _signature_fields(domain, selector, h, bh, b"\x00" * tlen, b"0" * 60)
    if template.count(b"\x00") != tlen:
        return None
    folded = dkim.fold(template, namelen=len(b"DKIM-Signature"), linesep=b"\r\n")
    first = _RE_BTAG.search(folded)
    if first is not None and folded.rfind(b"\x00") >= first.start():
        return None
    emptied = b" " + _RE_BTAG.sub(b"\\1", folded)
    hashed = b"dkim-signature:" + (_WSP.sub(b" ", _UNFOLD.sub(b"", emptied)).strip() + b"\r\n").rstrip()
    parts = hashed.split(b"\x00" * tlen)
    if len(parts) != 2 or b"\x00" in parts[0] + parts[1]:
        return None
    return parts[0], parts[1]


@functools.lru_cache(maxsize=64)
def _folded_signature_layout(domain: bytes, selector: bytes, h: bytes, bh: bytes, tlen: int,
                             blen: int) -> tuple[tuple[tuple[bytes, int, int, int], ...], bytes] | None:
    """How dkimpy's final ``fold`` lays out the signed field (the tags with the real ``b=`` and a CRLF), for a ``t=``
    of ``tlen`` digits and a ``b=`` of ``blen`` base64 characters: (text before each run of ``t=`` (0) or ``b=`` (1)
    characters, which, from, to), then the text after the last run; ``None`` when that cannot be shown here.

    ``fold`` only inserts line breaks, choosing where from the length and the places of spaces and CRLFs: a template
    with NULs for the ``t=`` digits and 0x01 bytes for the base64 (neither a space nor a line end) is folded at the same
    places, and its n-th NUL (0x01) stands for the n-th digit (base64 character).

    >>> layout, tail = _folded_signature_layout(b"example.org", b"mail", b"from", b"AAAA", 10, 8)
    >>> for text, which, start, end in layout:
    ...     print(text, "t=" if which == 0 else "b=", start, end)
    b'v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\\r\\n s=mail; t=' t= 0 10
    b'; h=from; bh=AAAA; b=' b= 0 8
    >>> tail
    b'\\r\\n'
    """
    template = _signature_fields(domain, selector, h, bh, b"\x00" * tlen, b"\x01" * blen) + b"\r\n"
    if template.count(b"\x00") != tlen or template.count(b"\x01") != blen:
        return None
    folded = dkim.fold(template, namelen=len(b"DKIM-Signature"), linesep=b"\r\n")
    layout, done, at = [], [0, 0], 0
    for run in _MASKS.finditer(folded):
        which = folded[run.start()]
        layout.append((folded[at:run.start()], which, done[which], done[which] + run.end() - run.start()))
        done[which] += run.end() - run.start()
        at = run.end()
    if done != [tlen, blen]:
        return None
    return tuple(layout), folded[at:]


#: What :func:`_sign_fields` knows of each ``DKIM-Signature`` field it wrote, for the verifier that reads the same
#: field (the MX, moments later), by the field's stripped value (what :func:`_tags` is asked for): (dkimpy's
#: ``parse_tag_value`` of it, ``True`` when dkimpy's ``validate_signature_fields`` accepts it, the field's value as
#: :func:`_parse_field` reads it, the relaxed line :class:`_FieldVerifier` hashes for that value or ``None``). Each is
#: what the verifier would work out from those exact bytes (:func:`_written_layout`); the last 64 fields are kept.
_WRITTEN: OrderedDict[bytes, tuple[dict[bytes, bytes], bool, bytes, bytes | None]] = OrderedDict()

_Written = tuple[dict[bytes, bytes], tuple[tuple[bytes, int, int], ...], bool, tuple[bytes, bytes] | None]


@functools.lru_cache(maxsize=64)
def _written_layout(domain: bytes, selector: bytes, h: bytes, bh: bytes, tlen: int, blen: int) -> _Written | None:
    """What a verifier reads from the field :func:`_sign_fields` writes with these tags, a ``t=`` of ``tlen`` digits
    and a ``b=`` of ``blen`` base64 characters, worked out once on templates: (the tags dkimpy's ``parse_tag_value``
    finds, with the ``t=`` and ``b=`` values still masked; where those two values sit in the field's stripped value;
    whether dkimpy's validation accepts the field when its ``t=`` passes :func:`_t_surely_valid` and its ``b=`` is
    base64's output; the relaxed line the verifier hashes for the field, before and after the ``t=`` digits, or ``None``).
    ``None`` when that cannot be shown here.

    As in :func:`_folded_signature_layout`, the field is the template's with each mask byte replaced by its character
    (``fold`` cuts both at the same places; ``rstrip`` and ``strip`` remove the same line ends and spaces, as neither a
    digit nor a base64 character nor a mask is one). ``parse_tag_value`` looks only at white space, ``;`` and the first
    ``=`` of each tag spec, and at the first byte of each tag name: when no mask falls in a tag name (checked) those
    are at the same places in both, so both have the same names and exceptions, and values at the same places. The
    validation (:func:`_surely_valid`) tests each tag on its own: with ``t=0`` (which passes) it accepts the template
    exactly when it accepts the field whose ``t=`` passes; ``b=`` as ``blen`` ``A`` passes exactly when a value made by
    base64 (base64 characters then at most two ``=``, folding white space between) does. For the relaxed line the
    ``b=`` characters are ``A`` (a base64 character: ``RE_BTAG`` removes the value of ``b=``, base64 characters and
    folding white space up to the end, whatever the characters) and the digits NUL bytes (which, like digits, no
    ``RE_BTAG`` match can start at, reach or stop at: a ``;`` precedes and follows them; unfolding, WSP runs and
    ``strip`` touch neither).

    >>> tags, spans, valid, line = _written_layout(b"example.org", b"mail", b"from", b"AAAA", 10, 8)
    >>> list(tags), spans, valid
    ([b'v', b'a', b'c', b'd', b's', b't', b'h', b'bh', b'b'], ((b't', 65, 75), (b'b', 96, 104)), True)
    >>> line
    (b'dkim-signature:v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=mail; t=', b'; h=from; bh=AAAA; b=')
    """
    def field(digit: bytes, base64_character: bytes) -> bytes:  # as dkim_sign returns it: no final line end
        tags = _signature_fields(domain, selector, h, bh, digit * tlen, base64_character * blen) + b"\r\n"
        return (b"DKIM-Signature: " + dkim.fold(tags, namelen=len(b"DKIM-Signature"), linesep=b"\r\n")).rstrip(b"\r\n")

    masked = field(b"\x00", b"\x01")
    if masked.count(b"\x00") != tlen or masked.count(b"\x01") != blen:
        return None
    value = masked[15:].strip()  # what the verifier parses: after "DKIM-Signature:", stripped
    try:
        tags = _tag_value_list(value)
    except InvalidTagValueList:
        return None
    spans = []
    for tag, found in tags.items():
        if b"\x00" in tag or b"\x01" in tag:
            return None
        if b"\x00" in found or b"\x01" in found:
            at = value.find(found)
            if value.find(found, at + 1) >= 0:
                return None
            spans.append((tag, at, at + len(found)))
    if (tags.get(b"t", b"").count(b"\x00") != tlen or tags.get(b"b", b"").count(b"\x01") != blen
            or [tag for tag, _start, _end in spans] != [tag for tag in tags if tag in (b"t", b"b")]):
        return None  # every mask in the t= and b= values (none elsewhere: the validation's tests stay apart)
    # the t= digits take their own test when signing; the b= value, base64's output with folding white space (base64
    # characters, then at most two "="), passes its tests exactly when blen "A"s do (some, and a multiple of 4)
    valid = _surely_valid({**tags, b"t": b"0", b"b": b"A" * blen})
    sealed = field(b"\x00", b"A")
    relaxed = b"dkim-signature:" + _relaxed_value(_b_emptied(sealed[15:] + b"\r\n"))
    parts = relaxed.split(b"\x00" * tlen) if tlen else []
    line = (parts[0], parts[1]) if len(parts) == 2 and b"\x00" not in parts[0] + parts[1] else None
    return tags, tuple(spans), valid, line


def _remember_written(field: bytes, timestamp: int, t: bytes, written: _Written) -> None:
    """Keep in :data:`_WRITTEN` what a verifier reads from ``field`` (:func:`_sign_fields`' bytes, final CRLF
    included, its ``b=`` value made by base64), its ``t=`` digits ``t`` (``str(timestamp)``), laid out by
    :func:`_written_layout`."""
    raw = field.rstrip(b"\r\n")  # the field as the verifier's _FIELD_SPLIT cuts it out of the header block
    value = raw[15:].strip()
    if len(value) > 4096:
        return
    template, spans, valid_otherwise, line = written
    tags = template.copy()
    for tag, start, end in spans:
        tags[tag] = value[start:end]
    valid = valid_otherwise and 0 <= timestamp <= int(time.time()) + 36000  # _t_surely_valid(t): digits, not too late
    _WRITTEN[value] = (tags, valid, raw[15:] + b"\r\n", None if line is None else line[0] + t + line[1])
    if len(_WRITTEN) > 64:
        _WRITTEN.popitem(last=False)


def _sign_fields(message: bytes, domain: bytes, selector: bytes, timestamp: int, pk: dict) -> bytes | None:
    """:class:`_Signer`'s ``sign_at`` (relaxed/relaxed, rsa-sha256, dkimpy's default fields), the same bytes, over
    fields read once per exact text (:func:`_read_head`), with the signature field's two folds laid out once per
    (domain, selector, ``h=``, ``bh=``, lengths) (:func:`_hashed_signature_layout`, :func:`_folded_signature_layout`);
    ``None`` when the message or the field is one for the signer itself.

    >>> message = b"From: a@example.org\\r\\nSubject: hi\\r\\n\\r\\nhello\\r\\n"
    >>> pk = _private_key("example.org")
    >>> signer = _Signer(message, logger=_LOG)
    >>> _sign_fields(message, b"example.org", b"mail", 1772442000, pk) == signer.sign_at(b"mail", b"example.org", pk, 1772442000)
    True
    """
    read = _read_head(message)
    if read is None:
        return None
    fields, body = read
    names = tuple(f[2] for f in fields)
    h, chosen = _signing_plan(names) if len(names) <= 128 else _signing_plan.__wrapped__(names)
    bh = base64.b64encode(_body_hash(_RELAXED_RELAXED, b"rsa-sha256", body))
    t = str(timestamp).encode("ascii")
    hashed = _hashed_signature_layout(domain, selector, h, bh, len(t))
    if hashed is None:
        return None
    signed = [_relaxed_line(fields[i]) for i in chosen]
    signed += (hashed[0], t, hashed[1])
    b = base64.b64encode(_rsa_sign(dkim.HASH_ALGORITHMS[b"rsa-sha256"](b"".join(signed)), pk))
    folded = _folded_signature_layout(domain, selector, h, bh, len(t), len(b))
    if folded is None:
        return None
    layout, tail = folded
    out = [b"DKIM-Signature: "]
    for text, which, start, end in layout:
        out += (text, (b if which else t)[start:end])
    out.append(tail)
    field = b"".join(out)
    written = _written_layout(domain, selector, h, bh, len(t), len(b))
    if written is not None:
        _remember_written(field, timestamp, t, written)
    return field


_RELAXED_RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_POLICIES = {c: CanonicalizationPolicy.from_c_value(c) for c in (b"relaxed/relaxed", b"relaxed/simple", b"simple/simple",
                                                                 b"simple/relaxed", b"relaxed", b"simple")}


def _policy(c: bytes) -> CanonicalizationPolicy:
    """``CanonicalizationPolicy.from_c_value(c)`` (the usual ones made once), raising dkimpy's verifier's error."""
    found = _POLICIES.get(c)
    if found is not None:
        return found
    try:
        return CanonicalizationPolicy.from_c_value(c)
    except InvalidCanonicalizationPolicyError as e:
        raise dkim.MessageFormatError(f"invalid c= value: {e.args[0]}") from None


def _h_names(h: bytes) -> tuple[bytes, ...]:
    """The lowercased names of an ``h=`` value, split as dkimpy's ``verify_headerprep`` splits them (once per value)."""
    return _split_h(h) if len(h) <= 4096 else _split_h.__wrapped__(h)


@functools.lru_cache(maxsize=256)
def _split_h(h: bytes) -> tuple[bytes, ...]:
    return tuple(x.lower() for x in _H_SPLIT.split(h))


class _FieldVerifier:
    """dkimpy's ``DKIM.verify`` (``verify_headerprep``, ``verify_sig``, ``verify_sig_process``; dkimpy 1.1) step for step
    for RSA keys, as :class:`_Verifier` does it, over fields read once per exact text (:func:`_read_head`): each field
    canonicalized once (:func:`_relaxed_line`), ``select_headers`` as positions (:func:`_selection`). A key that is
    not RSA goes to :class:`_Verifier`. Same verdicts, same exceptions; ``signature_fields`` and ``keysize`` as the
    verifier leaves them."""

    __slots__ = ("body", "fields", "keysize", "names", "signature_fields")

    def __init__(self, fields: list[_Field], names: tuple[bytes, ...], body: bytes) -> None:
        self.fields = fields  # and their lowercased names
        self.names = names
        self.body = body
        self.signature_fields: dict[bytes, bytes] = {}
        self.keysize: int | None = 0

    def verify(self, idx: int, dnsfunc: Callable[..., bytes | None]) -> bool:
        self.signature_fields, self.keysize = {}, 0
        sigheaders = [f for f in self.fields if f[2] == b"dkim-signature"]
        if len(sigheaders) <= idx:
            return False
        sigheader = sigheaders[idx]
        value = sigheader[1].strip()
        written = _WRITTEN.get(value)  # a field the signer wrote: what it knew of it (the same as reading it)
        if written is not None:
            sig = written[0]
        else:
            try:
                sig = _tags(value)
            except InvalidTagValueList as e:
                raise dkim.MessageFormatError(e) from None
        self.signature_fields = sig
        if written is None or not written[1]:
            _valid_dkim_tags(value)
        include_headers = _h_names(sig[b"h"])
        name = sig[b"s"] + b"._domainkey." + sig[b"d"] + b"."
        try:
            record = dnsfunc(name, timeout=5)
            pk, keysize, ktag, seqtlsrpt = _public_key(name, record)
        except dkim.KeyFormatError as e:
            _LOG.error(f"{e}")
            return False
        except binascii.Error as e:
            _LOG.error(f"KeyFormatError: {e}")
            return False
        except dkim.DnsTimeoutError as e:
            _LOG.error(f"DnsTimeoutError: Domain: {sig[b'd']} Selector: {sig[b's']} Error message: {e}")
            return False
        self.keysize = keysize
        if ktag != b"rsa":  # dkimpy's own code
            verifier = _Verifier(None, logger=_LOG)
            verifier.headers, verifier.body = [[f[0], f[1]] for f in self.fields], self.body
            verifier.signature_fields, verifier.domain, verifier.selector = dict(sig), sig[b"d"], sig[b"s"]
            verifier.pk, verifier.keysize, verifier.ktag, verifier.seqtlsrpt = pk, keysize, ktag, seqtlsrpt
            return verifier.verify_sig_process(dict(sig), list(include_headers), sigheader[:2], dnsfunc)
        if seqtlsrpt:
            raise dkim.ValidationError("Message is not tlsrpt and Service Type is tlsrpt")
        canon_policy = _policy(sig.get(b"c", b"simple/simple"))
        hasher = dkim.HASH_ALGORITHMS[sig[b"a"]]
        if b"bh" in sig:
            _check_body_hash(canon_policy, sig, self.body, sig.get(b"l"))
        if b"from" in include_headers:
            include_headers += (b"from",)
        relaxed = canon_policy.header_algorithm is Relaxed
        fields = self.fields
        chosen = _selection(self.names, include_headers)
        if relaxed:
            signed = [_relaxed_line(fields[i]) for i in chosen]
        else:  # simple: the field as it is
            signed = [fields[i][0] + b":" + fields[i][1] for i in chosen]
        if relaxed:
            line = written[3] if written is not None and written[2] == sigheader[1] else None
            signed.append(line or sigheader[2].rstrip() + b":" + _relaxed_value(_b_emptied(sigheader[1])))
        else:
            signed.append(sigheader[0] + b":" + _b_emptied(sigheader[1]).rstrip())
        h = hasher(b"".join(signed))
        signature = binascii.a2b_base64(sig[b"b"].translate(None, _SPACES))  # base64.b64decode of bytes
        try:
            res = _rsa_verify(h, signature, pk)
            if res and keysize < 1024:  # dkimpy's minkey
                raise dkim.KeyFormatError(f"public key too small: {keysize}")
            return res
        except (TypeError, dkim.crypto.DigestTooLargeError) as e:
            raise dkim.KeyFormatError(f"digest too large for modulus: {e}") from None


_SIGNATURES: OrderedDict[tuple, str] = OrderedDict()


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
        d, s, pk = domain.encode("ascii"), selector.encode("ascii"), _private_key(domain)
        raw = _sign_fields(message, d, s, timestamp, pk)
        if raw is None:
            raw = _Signer(message, logger=_LOG).sign_at(s, d, pk, timestamp)
        found = raw.decode("ascii").rstrip("\r\n")
        _remember(_SIGNATURES, key, found, size=len(message))
    return found


# ---------------------------------------------------------------------------------------------- #
# what a message's signatures cover


_FIELD_SPLIT = re.compile(rb"\r\n(?![ \t])")


@functools.lru_cache(maxsize=1024)
def _part_name(raw: bytes) -> bytes:
    """The name :func:`signed_part` gives a field: what precedes its first colon, stripped, lowercased."""
    return raw.split(b":", 1)[0].strip().lower()


def _signed_names(h: bytes) -> frozenset[bytes]:
    """The field names an ``h=`` value names, as :func:`signed_part` reads them (once per value of up to 4 KiB)."""
    return _names_signed(h) if len(h) <= 4096 else _names_signed.__wrapped__(h)


@functools.lru_cache(maxsize=256)
def _names_signed(h: bytes) -> frozenset[bytes]:
    return frozenset(x.strip().lower() for x in h.split(b":"))


def signed_part(message: bytes) -> tuple[bytes, int]:
    """(the message reduced to what its DKIM signatures cover, how many ``DKIM-Signature`` fields it has).

    A signature's header hash covers only the fields its ``h=`` tag names and the signature itself
    (RFC 6376 §5.4.2, §3.7), so dropping every other field (the ``Received`` and ``Authentication-Results``
    each hop adds) changes no verification result; all fields of a named kind are kept, in their order,
    so that a verifier picks the same instances (bottom-up, §5.4.2). The part is what :func:`.trust._check_dkim`
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
            tags = _tags(field_bytes.split(b":", 1)[1].strip())
        except (InvalidTagValueList, IndexError):
            return message, len(signatures)  # a malformed signature: let dkimpy see everything
        wanted.update(h.strip().lower() for h in tags.get(b"h", b"").split(b":"))
    kept = [f for f, n in zip(fields, names, strict=True) if n in wanted]
    return b"\r\n".join(kept) + b"\r\n\r\n" + body, len(signatures)


def _signed_fields(message: bytes) -> tuple[bytes, int, _FieldVerifier | None]:
    """(:func:`signed_part`'s part and count, a :class:`_FieldVerifier` over the part's fields), the fields read as
    :func:`_read_head` reads them; the verifier is ``None`` when dkimpy's parser must read the part.

    >>> raw = b"Received: x\\r\\nDKIM-Signature: v=1; h=from : subject; d=a.example\\r\\nFrom: a\\r\\nTo: b\\r\\n\\r\\nhi\\r\\n"
    >>> part, count, verifier = _signed_fields(raw)
    >>> (part, count) == signed_part(raw), verifier.names, verifier.body
    (True, (b'dkim-signature', b'from'), b'hi\\r\\n')
    """
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep or body.count(b"\n") != body.count(b"\r\n"):
        return *signed_part(message), None
    raws = _FIELD_SPLIT.split(head)
    if len(head) <= 4096 or max(map(len, raws)) <= 4096:
        names = list(map(_part_name, raws))  # signed_part's steps, on the same fields, once per field text
    else:  # a large field is read, not kept
        names = [_part_name.__wrapped__(raw) for raw in raws]
    count = names.count(b"dkim-signature")
    if not count:
        return b"\r\n\r\n" + body, 0, None
    wanted = {b"dkim-signature"}
    at = -1
    for _ in range(count):
        at = names.index(b"dkim-signature", at + 1)
        raw = raws[at]
        colon = raw.find(b":")
        try:
            if colon < 0:
                raise IndexError(colon)
            tags = _tags(raw[colon + 1:].strip())
        except (InvalidTagValueList, IndexError):
            return message, count, None  # a malformed signature: dkimpy reads everything
        wanted.update(_signed_names(tags.get(b"h", b"")))
    flags = [name in wanted for name in names]
    kept = list(itertools.compress(raws, flags))
    part = b"\r\n".join(kept) + b"\r\n\r\n" + body
    fields = _read_fields(kept)
    if fields is None:  # one is not a field of its own: dkimpy's parser reads them
        return part, count, None
    return part, count, _FieldVerifier(fields, tuple(itertools.compress(names, flags)), body)
