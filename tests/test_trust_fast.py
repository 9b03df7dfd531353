"""The fast paths of :mod:`mailhops.mta.signatures` (DKIM signing and verifying) give plain dkimpy's bytes, verdicts,
reasons and exceptions.

Each fast piece is compared with the dkimpy function it stands for (``parse_tag_value``, ``validate_signature_fields``,
``rfc822_parse``, relaxed canonicalization, ``select_headers``, ``RE_BTAG``, ``fold``), and the whole with plain
dkimpy: a signature made by :func:`signatures.dkim_sign` is byte for byte the one dkimpy's own ``gen_header`` makes
for the same tags, and :func:`trust._check_dkim` reports for each signature what plain ``dkim.DKIM(message).verify``
concludes (result, reason, key size, tags), on messages with folded, tabbed, repeated, missing or malformed fields,
tampered bodies and fields, and signatures and key records that are missing or malformed.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone

import dkim
import pytest
from dkim.canonicalization import CanonicalizationPolicy
from dkim.util import InvalidTagValueList, parse_tag_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailhops.demo_keys import demo_key
from mailhops.mta import signatures, trust

RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(fn: Callable[[], object]) -> tuple[str, object]:
    """("ok", what ``fn`` returned) or (the exception's type name, its text)."""
    try:
        return "ok", fn()
    except Exception as err:  # noqa: BLE001 - the point is to compare whatever is raised
        return type(err).__name__, str(err)


# ---------------------------------------------------------------------------------------------- #
# the pieces


@SETTINGS
@given(st.lists(st.sampled_from([b"v", b"a", b"=", b"==", b";", b" ", b"\t", b"\r\n ", b"1", b"h", b"x", b"_",
                                 b"bh", b"b", b"\xc3\xa9", b"A", b"rsa-sha256", b" ; ", b"v=1"]), max_size=30))
def test_tag_list_parse_is_dkimpys(parts: list[bytes]) -> None:
    """Same dict (same order) or the same exception (``InvalidTagSpec``, ``DuplicateTag``) with the same text."""
    text = b"".join(parts)
    expected, got = _outcome(lambda: parse_tag_value(text)), _outcome(lambda: signatures._tag_value_list(text))
    assert got == expected
    if expected[0] == "ok":
        assert list(signatures._tag_value_list(text)) == list(parse_tag_value(text))


_TAG_VALUES = {
    b"v": [b"1", b"2", b""],
    b"a": [b"rsa-sha256", b"rsa-sha1", b"ed25519-sha256", b"rsa-md5"],
    b"b": [b"AAAA", b"AAA", b"AA==", b"AA\r\n A=", b"A A A A", b"!!!!", b"", b"QUJD\tREVG"],
    b"bh": [b"AAAA", b"AAA", b"AB+/", b"", b"!!!!"],
    b"d": [b"example.org", b"EXAMPLE.org", b"a@b", b"", b"\xc3\xa9.example", b"ex(ample"],
    b"h": [b"from", b"from : to"],
    b"s": [b"mail"],
    b"i": [b"@example.org", b"x@sub.example.org", b"@other.example", b"example.org", b"", b"@", b".example.org"],
    b"l": [b"0", b"12", b"", b"abc", b"12\n", b"1" * 80],
    b"q": [b"dns/txt", b"dns/foo"],
    b"t": [b"1772442000", b"", b"12a", b"9999999999", b"1772442000\n"],
    b"x": [b"1", b"9999999999", b"abc"],
    b"cv": [b"pass", b"bogus"],
}


@SETTINGS
@given(st.dictionaries(st.sampled_from(sorted(_TAG_VALUES)), st.integers(0, 7), min_size=3),
       st.sampled_from([dict.fromkeys((b"v", b"a", b"b", b"bh", b"d", b"h", b"s"), 0), {}]))
def test_signature_field_validation_is_dkimpys(chosen: dict[bytes, int], base: dict[bytes, int]) -> None:
    """:func:`signatures._validate_signature_fields` raises what ``dkim.validate_signature_fields`` raises (or nothing), and
    :func:`signatures._surely_valid` says "valid" only when dkimpy accepts."""
    picks = {**base, **chosen}
    sig = {tag: _TAG_VALUES[tag][i % len(_TAG_VALUES[tag])] for tag, i in picks.items()}
    expected = _outcome(lambda: dkim.validate_signature_fields(sig))
    assert _outcome(lambda: signatures._validate_signature_fields(sig)) == expected
    if signatures._surely_valid(sig):
        assert expected == ("ok", None)


_LINES = [b"From: Alice <alice@example.org>", b"FROM:alice@example.org", b"To: bob@example.net", b"to:\tbob@example.net",
          b"Subject: Lunch  on\r\n\tFriday? ", b"Subject:", b"Subject: a\r\n b\r\n  c", b"Cc: c@example.net",
          b"Date: Mon, 02 Mar 2026 10:23:17 +0100", b"Message-ID: <1@example.org>", b"Reply-To:  r@example.org ",
          b"Received: from a\r\n\tby b; Mon, 02 Mar 2026 09:00:05 +0000", b"X-Tab:\tx \t y\t", b"X-Cr: a\rb",
          b"Content-Type: text/plain;\r\n charset=utf-8", b"MIME-Version: 1.0", b"X-8bit: caf\xc3\xa9", b"X-Empty:",
          b"List-Id: <l.example.org>", b"X-Colon:: a:b"]
_ODD = [b" leading continuation", b"From alice@example.org Mon Mar  2 09:00:00 2026", b"bad line", b"Subject : spaced",
        b"\tFrom: tabbed"]


@st.composite
def _messages(draw: st.DrawFn, odd: bool = True) -> bytes:
    """A header block (valid, and sometimes odd fields) and a body, with CRLF or sometimes LF line ends."""
    lines = draw(st.lists(st.sampled_from(_LINES + (_ODD if odd else [])), max_size=10))
    body = draw(st.text(st.sampled_from("ab \t.-\r\n"), max_size=120)).replace("\r", "").replace("\n", "\r\n")
    message = b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body.encode()
    if odd and draw(st.integers(0, 9)) == 0:
        message = message.replace(b"\r\n", b"\n")
    elif odd and draw(st.integers(0, 9)) == 0:
        message = message.replace(b"\r\n\r\n", b"\r\n\n", 1)  # an LF-only line end where the body starts
    return message


@SETTINGS
@given(_messages())
def test_reading_the_header_is_dkimpys(message: bytes) -> None:
    """When :func:`signatures._read_head` reads a message (else dkimpy's parser does), it has dkimpy's fields and
    body; its relaxed lines are dkimpy's relaxed canonicalization; :func:`signatures._signed_fields` finds
    :func:`signatures.signed_part`."""
    read = signatures._read_head(message)
    parsed = _outcome(lambda: dkim.rfc822_parse(message))
    if read is not None:
        fields, body = read
        assert parsed == ("ok", ([[f[0], f[1]] for f in fields], body))
        assert [f[2] for f in fields] == [f[0].lower() for f in fields]
        canonical = RELAXED.canonicalize_headers([[f[0], f[1]] for f in fields])
        assert [signatures._relaxed_line(f) for f in fields] == [x + b":" + y for x, y in canonical]
    elif b"\r\n\r\n" in message and message.count(b"\n") == message.count(b"\r\n") and parsed[0] == "ok":
        assert any(line in message for line in _ODD) or parsed[1][0] == []  # type: ignore[index]
    part, count, _fast = signatures._signed_fields(message)
    assert (part, count) == signatures.signed_part(message)


@SETTINGS
@given(st.lists(st.sampled_from([b"from", b"to", b"subject", b"date", b"x"]), max_size=12),
       st.lists(st.sampled_from([b"from", b"to", b"subject", b"cc", b"x"]), max_size=12))
def test_selection_is_dkimpys_select_headers(names: list[bytes], include: list[bytes]) -> None:
    headers = [(n.upper() if i % 2 else n, b"%d" % i) for i, n in enumerate(names)]
    expected = dkim.select_headers(headers, include)
    assert [headers[i] for i in signatures._selection(tuple(names), tuple(include))] == expected


@SETTINGS
@given(st.lists(st.sampled_from([b";", b" ", b"\t", b"\r", b"\n", b"\r\n", b"b", b"=", b"b=", b"; b=", b"A", b"+",
                                 b"/", b"h", b"x", b"bh=", b"\r\n ", b"0", b"\x00"]), max_size=30))
def test_emptying_b_and_relaxing_are_dkimpys(parts: list[bytes]) -> None:
    text = b"".join(parts)
    assert signatures._b_emptied(text) == dkim.RE_BTAG.sub(b"\\1", text)
    assert signatures._RE_BTAG_AT_B.sub(b"b\\1", text) == dkim.RE_BTAG.sub(b"\\1", text)
    assert signatures._relaxed_value(text) + b"\r\n" == RELAXED.canonicalize_headers([(b"x", text)])[0][1]


@SETTINGS
@given(st.binary(max_size=40) | st.lists(st.sampled_from([b"A", b" ", b"\t", b"\x1c", b"\x1f", b"\x85", b"\xa0", b"\r\n ",
                                                        b"\x0b", b"\xff", b"+"]), max_size=20).map(b"".join))
def test_the_reported_b_prefix_is_the_first_eight_non_space_characters(value: bytes) -> None:
    """What :func:`trust._check_dkim` reports of ``b=``: ``re.sub(r"\\s+", "", text)[:8]`` of the text as decoded."""
    assert (value.translate(None, signatures._STR_SPACES)[:8].decode("ascii", "replace")
            == re.sub(r"\s+", "", value.decode("ascii", "replace"))[:8])


_TOKENS = st.one_of(st.text(st.sampled_from("abc. -:"), min_size=1, max_size=90),
                    st.text(st.sampled_from("abc.-:"), min_size=60, max_size=160)).map(str.encode)  # words longer than a line


@SETTINGS
@given(domain=_TOKENS, selector=_TOKENS, h=_TOKENS, bh=st.text(st.sampled_from("AB+/= "), max_size=60).map(str.encode),
       t=st.integers(0, 10**12), blen=st.integers(0, 400), seed=st.integers(0, 2**32))
def test_signature_layouts_are_dkimpys_fold(domain: bytes, selector: bytes, h: bytes, bh: bytes, t: int, blen: int,
                                            seed: int) -> None:
    """Any tags, long words included (``fold`` then cuts inside a word): a layout, when there is one, gives the bytes
    of dkimpy's own steps on the real field."""
    import random

    digits = str(t).encode()
    b = bytes(random.Random(seed).choice(b"ABCxyz019+/=") for _ in range(blen))
    fields = signatures._signature_fields(domain, selector, h, bh, digits, b"0" * 60)
    hashed = signatures._hashed_signature_layout(domain, selector, h, bh, len(digits))
    if hashed is not None:
        value = dkim.RE_BTAG.sub(b"\\1", dkim.fold(fields, namelen=14, linesep=b"\r\n"))
        [(name, canonical)] = RELAXED.canonicalize_headers([(b"DKIM-Signature", b" " + value)])
        assert hashed[0] + digits + hashed[1] == name + b":" + canonical.rstrip()
    folded = signatures._folded_signature_layout(domain, selector, h, bh, len(digits), len(b))
    if folded is not None:
        real = signatures._signature_fields(domain, selector, h, bh, digits, b) + b"\r\n"
        out = b"".join(text + (b if which else digits)[start:end] for text, which, start, end in folded[0]) + folded[1]
        assert out == dkim.fold(real, namelen=14, linesep=b"\r\n")


def test_the_usual_layouts_exist() -> None:
    """The fields the simulator signs are laid out once (the fast path is the one taken)."""
    h = b"from : to : subject : date : message-id : content-type : content-transfer-encoding : mime-version : from"
    bh = base64.b64encode(b"x" * 32)
    for domain in (b"example.org", b"lists.example.net", b"alumni.university.example"):
        assert signatures._hashed_signature_layout(domain, b"mail", h, bh, 10) is not None
        assert signatures._folded_signature_layout(domain, b"mail", h, bh, 10, 172) is not None


# ---------------------------------------------------------------------------------------------- #
# signing: the bytes of dkimpy's gen_header


class _PlainSigner(dkim.DKIM):
    """:class:`signatures._Signer`'s tags, signed by dkimpy's own ``DomainSigner.gen_header`` (canonicalization, hashing,
    both folds, pure-Python RSA) over dkimpy's own parse of the message."""

    def sign_at(self, selector: bytes, domain: bytes, pk: dict, timestamp: int) -> bytes:
        include_headers = tuple(x.lower() for x in self.default_sign_headers())
        self.hasher = dkim.HASH_ALGORITHMS[b"rsa-sha256"]
        bodyhash = base64.b64encode(self.hasher(RELAXED.canonicalize_body(self.body)).digest())
        fields = [(b"v", b"1"), (b"a", b"rsa-sha256"), (b"c", b"relaxed/relaxed"), (b"d", domain), (b"s", selector),
                  (b"t", str(timestamp).encode()), (b"h", b" : ".join(include_headers)), (b"bh", bodyhash),
                  (b"b", b"0" * 60)]
        return b"DKIM-Signature: " + dkim.DomainSigner.gen_header(self, fields, include_headers, RELAXED,
                                                                  b"DKIM-Signature", pk)


def _plain_sign(message: bytes, domain: str, selector: str, when: datetime) -> tuple[str, object]:
    def sign() -> str:
        raw = _PlainSigner(message).sign_at(selector.encode(), domain.encode(), signatures._private_key(domain),
                                            int(when.timestamp()))
        return raw.decode("ascii").rstrip("\r\n")
    return _outcome(sign)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=_messages(), domain=st.sampled_from(["example.org", "lists.example.net", "a.b.c.d.e.f.example.com"]),
       selector=st.sampled_from(["mail", "s1", "selector-with-a-rather-long-name-2026"]),
       when=st.sampled_from([WHEN, datetime(1970, 1, 2, tzinfo=timezone.utc), datetime(2286, 11, 21, tzinfo=timezone.utc)]))
def test_signing_gives_dkimpys_bytes(message: bytes, domain: str, selector: str, when: datetime) -> None:
    """:func:`signatures.dkim_sign` (the fast path when the message allows it, else the signer) returns the field dkimpy's
    ``gen_header`` makes, or raises what dkimpy raises; the fast path is taken for every CRLF message it can read."""
    signatures._SIGNATURES.clear()
    expected = _plain_sign(message, domain, selector, when)
    assert _outcome(lambda: signatures.dkim_sign(message, domain, selector, when)) == expected
    if signatures._read_head(message) is not None:
        fast = signatures._sign_fields(message, domain.encode(), selector.encode(), int(when.timestamp()),
                                  signatures._private_key(domain))
        assert fast is not None and fast.decode().rstrip("\r\n") == expected[1]


def test_both_rsa_backends_sign_the_same_bytes_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailhops.scenarios import get
    from mailhops.simulate import send

    sc = get("three-hops")
    message = send(sc.build(), sc.sender, sc.recipient, seed=1).message
    body = message[message.index(b"From:"):]
    fields = []
    for pure in (False, True):
        monkeypatch.setattr(signatures, "PURE_PYTHON_RSA", pure)
        signatures._SIGNATURES.clear()
        fields.append([signatures.dkim_sign(body, "example.org", "mail", WHEN.replace(second=s)) for s in range(3)])
    assert fields[0] == fields[1] == [_plain_sign(body, "example.org", "mail", WHEN.replace(second=s))[1]
                                      for s in range(3)]


def test_a_large_field_is_signed_by_the_signer_itself() -> None:
    """A field over 4 KiB is not kept by the fast path's caches: the signer reads that message, with the same bytes."""
    message = b"From: a@example.org\r\nSubject: " + b"word " * 1000 + b"\r\n\r\nhi\r\n"
    assert signatures._read_head(message) is None
    signatures._SIGNATURES.clear()
    assert signatures.dkim_sign(message, "example.org", "mail", WHEN) == _plain_sign(message, "example.org", "mail", WHEN)[1]


# ---------------------------------------------------------------------------------------------- #
# verifying: plain dkimpy's verdicts


def _record(domain: str, extra: str = "") -> bytes:
    return f"v=DKIM1; k=rsa;{extra} p={demo_key(domain).public_b64}".encode()


_KEYS = {
    b"mail._domainkey.example.org.": _record("example.org"),
    b"s2._domainkey.example.org.": _record("example.net"),  # the wrong key: the signature fails
    b"bad._domainkey.example.org.": b"v=DKIM1; k=rsa; p=!!notbase64",
    b"v2._domainkey.example.org.": b"v=DKIM2; p=" + demo_key("example.org").public_b64.encode(),
    b"tls._domainkey.example.org.": _record("example.org", " s=tlsrpt;"),
    b"svc._domainkey.example.org.": _record("example.org", " s=web;"),
    b"algo._domainkey.example.org.": _record("example.org").replace(b"k=rsa", b"k=dsa"),
    b"dup._domainkey.example.org.": b"p=a; p=b",
    b"mail._domainkey.lists.example.net.": _record("lists.example.net"),
}


def _dns(name: bytes, timeout: float = 5) -> bytes | None:
    return _KEYS.get(name)


class _Zones:
    """What :func:`trust._check_dkim` asks for keys."""

    dkim_txt = staticmethod(_dns)


def _dkimpy_checks(message: bytes) -> list[trust.DkimCheck]:
    """:func:`trust._check_dkim`'s report, worked out with plain ``dkim.DKIM(message).verify`` for each signature."""
    return _dkimpy_checks_with(message, _dns)


def _dkimpy_checks_with(message: bytes, dnsfunc: Callable[..., bytes | None]) -> list[trust.DkimCheck]:
    count = sum(1 for n, _v in dkim.rfc822_parse(message)[0] if n.lower() == b"dkim-signature")
    out = []
    for idx in range(count):
        d = dkim.DKIM(message)
        reason = ""
        try:
            ok = d.verify(idx=idx, dnsfunc=dnsfunc)
            result = "pass" if ok else "fail"
            if not ok and not d.keysize:
                result, reason = "permerror", "no key for signature"
            elif not ok:
                reason = "signature verification failed"
        except dkim.ValidationError as err:
            result, reason = "fail", "body hash did not verify" if "body hash" in str(err) else str(err)
        except dkim.KeyFormatError as err:
            result, reason = "permerror", str(err)
        except dkim.DKIMException as err:
            result, reason = "neutral", str(err)
        sig = d.signature_fields or {}
        text = {k: v.decode("ascii", "replace") for k, v in sig.items()}
        domain = text.get(b"d", "").lower()
        out.append(trust.DkimCheck(result, domain, text.get(b"s", ""), text.get(b"a", ""),
                                   text[b"i"] if b"i" in text else f"@{domain}",
                                   re.sub(r"\s+", "", text.get(b"b", ""))[:8], d.keysize, reason))
    return out


def _parser_checks(message: bytes) -> list[trust.DkimCheck]:
    """:func:`trust._check_dkim` as it was before the fast path: :func:`signatures.signed_part` read by dkimpy's parser."""
    fast = signatures._signed_fields
    signatures._signed_fields = lambda m: (*signatures.signed_part(m), None)  # type: ignore[assignment]
    try:
        trust._DKIM_CHECKS.clear()
        return list(trust._check_dkim(message, _Zones()))
    finally:
        signatures._signed_fields = fast  # type: ignore[assignment]
        trust._DKIM_CHECKS.clear()


def _bare_lf(message: bytes) -> bool:
    """A line ending in LF alone: :func:`signatures.signed_part` cuts the header at the first CRLF CRLF, dkimpy at the first
    empty line (an older difference, kept: mailhops' messages and ``verify_signatures``' input are CRLF throughout)."""
    return message.count(b"\n") != message.count(b"\r\n")


_MALFORMED = [b"d=example.org; d=example.org", b"v=1; 1x=2; ", b"v=1; junk; "]  # dkimpy reads those whole messages
_SIG_EDITS = [
    (b"", b""), (b"a=rsa-sha256", b"a=rsa-sha1"), (b"a=rsa-sha256", b"a=rsa-md5"), (b"c=relaxed/relaxed", b"c=bogus"),
    (b"c=relaxed/relaxed", b"c=simple/simple"), (b"c=relaxed/relaxed", b"c=relaxed"), (b"v=1", b"v=2"),
    (b"; t=", b"; x=1; t="), (b"; t=", b"; t=99999999999; y="), (b"; t=", b"; l=0; t="), (b"; t=", b"; l=abc; t="),
    (b"; t=", b"; q=dns/foo; t="), (b"; t=", b"; i=@other.example; t="), (b"; t=", b"; i=x@example.org; t="),
    (b"d=example.org", b"d=example.com"), (b"s=mail", b"s=nokey"), (b"s=mail", b"s=s2"), (b"s=mail", b"s=bad"),
    (b"s=mail", b"s=v2"), (b"s=mail", b"s=tls"), (b"s=mail", b"s=svc"), (b"s=mail", b"s=algo"), (b"s=mail", b"s=dup"),
    (b"d=example.org", b"d=example.org; d=example.org"), (b"v=1; ", b"v=1; 1x=2; "), (b"v=1; ", b"v=1; junk; "),
    (b"h=from", b"hh=from"), (b"h=from", b"h=x-none : from"), (b"h=from", b"h=from : x-none"), (b"bh=", b"bh=AAAA"),
    (b" b=", b" b=AAAA"), (b" b=", b" b=!"), (b"; b=", b";  b = "), (b"\r\n", b"\r\n\t"), (b"DKIM-Signature:", b"dkim-signature:"),
]
_MESSAGE_EDITS = [
    (b"", b""), (b"\r\n\r\n", b"\r\n\r\nextra line\r\n"), (b"Subject: ", b"Subject: Re: "), (b"Subject: ", b"Subject:   "),
    (b"To: ", b"To:\t "), (b"\r\n\r\n", b"\r\nX-Added: later\r\n\r\n"), (b"\r\n\r\n", b"\r\nFrom: second@example.org\r\n\r\n"),
    (b"\r\n\r\n", b"\r\nSubject: another\r\n\r\n"), (b"\r\n\r\n", b"\r\n\r\n\r\n\r\n"), (b"\r\n\r\n", b"\r\n\n"),
]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=_messages(odd=False), sig_edit=st.sampled_from(_SIG_EDITS), message_edit=st.sampled_from(_MESSAGE_EDITS),
       on_top=st.lists(st.sampled_from([b"Received: from x\r\n\tby y; Mon, 02 Mar 2026 09:00:05 +0000",
                                        b"Authentication-Results: mx.example.net;\r\n\tspf=pass",
                                        b"From mbox@line Mon Mar  2 09:00:00 2026", b"bad line"]), max_size=3),
       second=st.booleans(), pure=st.booleans())
def test_verifying_gives_dkimpys_verdicts(message: bytes, sig_edit: tuple[bytes, bytes],
                                          message_edit: tuple[bytes, bytes], on_top: list[bytes], second: bool,
                                          pure: bool) -> None:
    """Whatever happened to the message or its signature, and whatever key is published: for each signature,
    :func:`trust._check_dkim` reports the result, reason, tags and key size of plain dkimpy, on either RSA backend."""
    message = b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: hi\r\n" + message
    if b"\r\n\r\n" not in message:
        message += b"\r\n\r\n"
    field = signatures.dkim_sign(message, "example.org", "mail", WHEN).encode()
    signed = field.replace(*sig_edit, 1) + b"\r\n" + message
    if second:
        signed = signatures.dkim_sign(signed, "lists.example.net", "mail", WHEN).encode() + b"\r\n" + signed
    signed = b"".join(line + b"\r\n" for line in on_top) + signed.replace(*message_edit, 1)
    try:
        expected = _parser_checks(signed) if _bare_lf(signed) else _dkimpy_checks(signed)
    except dkim.MessageFormatError as err:  # dkimpy cannot read the message; the signed part may still be read
        expected = err  # type: ignore[assignment]
    old = signatures.PURE_PYTHON_RSA
    signatures.PURE_PYTHON_RSA = pure
    try:
        trust._DKIM_CHECKS.clear()
        got = _outcome(lambda: list(trust._check_dkim(signed, _Zones())))
    finally:
        signatures.PURE_PYTHON_RSA = old
        trust._DKIM_CHECKS.clear()
    if isinstance(expected, Exception):  # what the signed part gives, read by dkimpy's parser
        assert got == _outcome(lambda: _dkimpy_checks(signatures.signed_part(signed)[0]))
    else:
        assert got == ("ok", expected)
    assert got == _outcome(lambda: _parser_checks(signed))


@pytest.mark.parametrize("sig_edit", _SIG_EDITS)
def test_every_signature_edit_gives_dkimpys_verdicts(sig_edit: tuple[bytes, bytes]) -> None:
    """Each edit of the signature field, on a real journey's message as its MX receives it (Received and
    Authentication-Results fields on top) and on tampered copies: plain dkimpy's report, signature by signature."""
    from mailhops.scenarios import get
    from mailhops.simulate import send

    sc = get("three-hops")
    delivered = send(sc.build(), sc.sender, sc.recipient, seed=1).message
    at = delivered.index(b"DKIM-Signature:")
    body = delivered[delivered.index(b"From:"):]
    field = signatures.dkim_sign(body, "example.org", "mail", WHEN).encode()
    for message_edit in _MESSAGE_EDITS:
        signed = (delivered[:at] + field.replace(*sig_edit, 1) + b"\r\n" + body).replace(*message_edit, 1)
        trust._DKIM_CHECKS.clear()
        got = list(trust._check_dkim(signed, _Zones()))
        trust._DKIM_CHECKS.clear()
        assert got == _parser_checks(signed), (sig_edit, message_edit)
        if not _bare_lf(signed):
            assert got == _dkimpy_checks(signed), (sig_edit, message_edit)
        assert (signatures._signed_fields(signed)[2] is None) == (sig_edit[1] in _MALFORMED)


def test_the_fast_verifier_is_the_one_taken_and_agrees_with_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real journey's message at the MX is read by the fast path, and the checks equal those of dkimpy's parser
    (:class:`signatures._Verifier`), signature by signature."""
    from mailhops.scenarios import get, names

    for name in names():
        journey = get(name).run(seed=3)
        view = trust.dns_for(journey.topology)
        part, count, fast = signatures._signed_fields(journey.message)
        assert (part, count) == signatures.signed_part(journey.message)
        assert fast is not None or count == 0, name
        trust._DKIM_CHECKS.clear()
        quick = trust._check_dkim(journey.message, view)
        trust._DKIM_CHECKS.clear()
        # (patched where trust._check_dkim looks it up: trust imports it from signatures)
        monkeypatch.setattr(trust, "_signed_fields", lambda m: (*signatures.signed_part(m), None))
        slow = trust._check_dkim(journey.message, view)
        monkeypatch.undo()
        trust._DKIM_CHECKS.clear()
        assert quick == slow, name
        assert [c.result for c in quick] == [c.result for c in _dkimpy_checks_with(journey.message, view.dkim_txt)]


def test_a_signature_too_far_in_the_future_is_dkimpys_validation_error() -> None:
    message = b"From: a@example.org\r\n\r\nhi\r\n"
    later = datetime.fromtimestamp(int(time.time()) + 10 * 86400, tz=timezone.utc)
    signed = signatures.dkim_sign(message, "example.org", "mail", later).encode() + b"\r\n" + message
    trust._DKIM_CHECKS.clear()
    (check,) = trust._check_dkim(signed, _Zones())
    assert check.result == "fail" and check.reason.startswith("t= value is in the future")
    assert [check] == _dkimpy_checks(signed)


def test_the_fast_paths_caches_stay_bounded() -> None:
    for i in range(1500):
        message = b"From: a@example.org\r\nSubject: %d\r\nX-Big: %s\r\n\r\nhi\r\n" % (i, b"y" * (i % 50))
        field = signatures.dkim_sign(message, "example.org", "mail", WHEN).encode()
        trust._check_dkim(field + b"\r\n" + message, _Zones())
    for cached in (signatures._known_field, signatures._relaxed_line, signatures._part_name, signatures._selected,
                   signatures._signing_plan, signatures._hashed_signature_layout, signatures._folded_signature_layout,
                   signatures._split_h, signatures._names_signed, signatures._written_layout):
        info = cached.cache_info()
        assert info.currsize <= info.maxsize
    assert len(signatures._KEYS_OF) <= 64
    assert len(signatures._WRITTEN) <= 64
    with pytest.raises(InvalidTagValueList):
        signatures._tag_value_list(b"v=1; v=2")


# ---------------------------------------------------------------------------------------------- #
# what the signer remembers of its field for the verifier: what the verifier would read from it


_ODD_TOKENS = st.text(st.sampled_from("ab. -:;=\tb"), min_size=1, max_size=70).map(str.encode)  # ; = and tabs too


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(domain=st.sampled_from([b"example.org", b"a.b.c.d.e.f.example.com", b"x" * 50 + b".example"]) | _TOKENS | _ODD_TOKENS,
       selector=st.sampled_from([b"mail", b"s" * 40]) | _TOKENS | _ODD_TOKENS, h=_TOKENS | _ODD_TOKENS,
       bh=st.text(st.sampled_from("AB+/= "), max_size=60).map(str.encode),
       t=st.integers(0, 1_800_000_000) | st.integers(-10, 10**12),
       signature=st.binary(min_size=1, max_size=300))
def test_what_the_signer_remembers_is_what_the_verifier_reads(domain: bytes, selector: bytes, h: bytes, bh: bytes,
                                                              t: int, signature: bytes) -> None:
    """For any tags and any ``b=`` base64 makes: the parse, the validation and the relaxed line :func:`signatures._sign_fields`
    keeps for its field (:func:`signatures._written_layout`, :func:`signatures._remember_written`) are dkimpy's
    ``parse_tag_value``, ``validate_signature_fields`` and relaxed canonicalization of the ``b=``-emptied field, as a
    verifier reads the field out of a header block."""
    digits, b = str(t).encode(), base64.b64encode(signature)
    field = b"DKIM-Signature: " + dkim.fold(signatures._signature_fields(domain, selector, h, bh, digits, b) + b"\r\n",
                                            namelen=14, linesep=b"\r\n")
    written = signatures._written_layout(domain, selector, h, bh, len(digits), len(b))
    if written is None:
        return
    saved = list(signatures._WRITTEN.items())
    signatures._WRITTEN.clear()
    try:
        signatures._remember_written(field, t, digits, written)
        remembered = list(signatures._WRITTEN.items())
    finally:
        signatures._WRITTEN.clear()
        signatures._WRITTEN.update(saved)
    raw = signatures._FIELD_SPLIT.split(field.rstrip(b"\r\n") + b"\r\nTo: b")[0]  # cut out of a header block
    parsed = signatures._parse_field(raw)
    assert parsed is not None and parsed[2] == b"dkim-signature"
    value = parsed[1].strip()
    if len(value) > 4096:
        assert remembered == []
        return
    [(key, (tags, valid, full, line))] = remembered
    assert key == value == raw[raw.index(b":") + 1:].strip() and full == parsed[1]
    assert ("ok", tags) == _outcome(lambda: parse_tag_value(value))
    assert list(tags) == list(parse_tag_value(value))
    assert valid == signatures._surely_valid(tags)
    if valid:
        assert _outcome(lambda: dkim.validate_signature_fields(parse_tag_value(value))) == ("ok", None)
    if line is not None:
        [(name, canonical)] = RELAXED.canonicalize_headers([(parsed[0], dkim.RE_BTAG.sub(b"\\1", parsed[1]))])
        assert line == name + b":" + canonical.rstrip()


def test_the_usual_signatures_are_remembered_and_read_so() -> None:
    """A journey's signature is in :data:`signatures._WRITTEN` when its MX checks it, and the MX concludes the same without."""
    from mailhops.scenarios import get
    from mailhops.simulate import send

    sc = get("three-hops")
    topo = sc.build()
    view = trust.dns_for(topo)
    message = send(topo, sc.sender, sc.recipient, seed=424242).message
    at = message.index(b"DKIM-Signature:")
    raw = signatures._FIELD_SPLIT.split(message[at:])[0]
    written = signatures._WRITTEN.get(raw[15:].strip())
    assert written is not None and written[1] and written[3] is not None
    trust._DKIM_CHECKS.clear()
    remembered = trust._check_dkim(message, view)
    saved = list(signatures._WRITTEN.items())
    signatures._WRITTEN.clear()
    trust._DKIM_CHECKS.clear()
    try:
        assert trust._check_dkim(message, view) == remembered
        assert [c.result for c in remembered] == ["pass"]
    finally:
        signatures._WRITTEN.update(saved)
        trust._DKIM_CHECKS.clear()


def test_the_public_suffix_list_is_parsed_once_and_answers_as_authheaders(monkeypatch: pytest.MonkeyPatch) -> None:
    """authheaders' organizational domain (``get_org_domain``) comes from one parse of its Public Suffix List per
    process (:func:`trust._suffix_list_lookup`), with the answers of a list parsed for each question."""
    import importlib.resources

    import authheaders.dmarc_lookup as lookup

    assert lookup.get_org_domain_from_suffix_list is trust._suffix_list_lookup
    domains = ["example.org", "mail.example.org", "a.b.example.co.uk", "example.co.uk", "co.uk", "x.blogspot.com",
               "foo.bar", "EXAMPLE.Net", "a.b.c.d.e.f.example.com", "xn--fiqs8s", "localhost", "sub.city.kawasaki.jp"]
    made = []

    class Counted(lookup.PublicSuffixList):  # type: ignore[misc,name-defined]
        def __init__(self, *args: object) -> None:
            made.append(1)
            super().__init__(*args)

    monkeypatch.setattr(lookup, "PublicSuffixList", Counted)
    monkeypatch.setattr(trust, "_SUFFIX_LISTS", {})
    with importlib.resources.as_file(importlib.resources.files("authheaders") / "public_suffix_list.txt") as location:
        with open(location) as suffix_list:
            fresh = lookup.PublicSuffixList(suffix_list)
        made.clear()
        for domain in domains:
            assert trust._suffix_list_lookup(location, domain) == fresh.get_public_suffix(domain), domain
            assert lookup.get_org_domain.__wrapped__(domain) == fresh.get_public_suffix(domain), domain
    assert made == [1]
