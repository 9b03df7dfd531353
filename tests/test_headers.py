"""Received lines in each MTA's flavour (RFC 5321 §4.4 grammar), SpamAssassin headers, hop counting."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime, timedelta, timezone

import pytest

from mailhops.mta.filters import spam_headers
from mailhops.mta.headers import count_fields, count_hops, prepend, protocol_word, received

WHEN = datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone(timedelta(hours=1), "CET"))
BASE = dict(helo="mail.example.org", rdns="mail.example.org", ip="192.0.2.25", by_name="mx.example.net",
            protocol="ESMTPS", queue_id="QID123", rcpt="bob@example.net", date=WHEN,
            envelope_from="alice@example.org", by_ip="198.51.100.25", tls=True)


def unfold(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("flavour, pattern", [
    ("postfix", r"^Received: from mail\.example\.org \(mail\.example\.org \[192\.0\.2\.25\]\) \(using TLSv1\.3 .*\) "
                r"\(No client certificate requested\) by mx\.example\.net \(Postfix\) with ESMTPS id QID123 "
                r"for <bob@example\.net>; Mon, 2 Mar 2026 09:00:05 \+0100 \(CET\)$"),
    ("exim", r"^Received: from mail\.example\.org \(\[192\.0\.2\.25\]\) by mx\.example\.net with esmtps \(TLS1\.3\) "
             r"tls TLS_AES_256_GCM_SHA384 \(Exim 4\.98\) \(envelope-from <alice@example\.org>\) id QID123 "
             r"for bob@example\.net; Mon, 02 Mar 2026 09:00:05 \+0100$"),
    ("sendmail", r"^Received: from mail\.example\.org \(mail\.example\.org \[192\.0\.2\.25\]\) by mx\.example\.net "
                 r"\(8\.18\.1/8\.18\.1\) with ESMTPS id QID123 \(version=TLSv1\.3 .*\) for <bob@example\.net>; "
                 r"Mon, 2 Mar 2026 09:00:05 \+0100 \(CET\)$"),
    # qmail-smtpd leaves out "(HELO x)" when x is the remote host name
    ("qmail", r"^Received: from mail\.example\.org \(192\.0\.2\.25\) by mx\.example\.net "
              r"with SMTP; 2 Mar 2026 08:00:05 -0000$"),
    ("exchange", r"^Received: from mail\.example\.org \(192\.0\.2\.25\) by mx\.example\.net \(198\.51\.100\.25\) with "
                 r"Microsoft SMTP Server \(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\) id QID123; "
                 r"Mon, 2 Mar 2026 09:00:05 \+0100$"),
    ("gmail", r"^Received: from mail\.example\.org \(mail\.example\.org\. \[192\.0\.2\.25\]\) by mx\.example\.net with "
              r"ESMTPS id QID123 for <bob@example\.net> \(version=TLS1_3 .*\); Mon, 02 Mar 2026 00:00:05 -0800 \(PST\)$"),
    ("dovecot", r"^Received: from mail\.example\.org \(\[192\.0\.2\.25\]\) by mx\.example\.net with ESMTPS id QID123 "
                r"\(envelope-from <alice@example\.org>\) for <bob@example\.net>; Mon, 02 Mar 2026 09:00:05 \+0100$"),
])
def test_each_flavour_writes_its_own_shape(flavour: str, pattern: str) -> None:
    text = received(flavour, **BASE)
    assert re.match(pattern, unfold(text)), unfold(text)
    # folded with CRLF + whitespace only, so that the email package reads it back as one field
    assert all(line[:1] in (" ", "\t") for line in text.split("\r\n")[1:])
    msg = email.message_from_bytes(prepend(b"Subject: x\r\n\r\nbody\r\n", [text]), policy=email.policy.default)
    assert len(msg.get_all("Received")) == 1
    assert "by mx.example.net" in unfold(str(msg["Received"]))


def test_ipv6_clients_get_the_ipv6_literal_prefix() -> None:
    text = received("postfix", **{**BASE, "ip": "2001:db8::25", "rdns": None})
    assert "(unknown [IPv6:2001:db8::25])" in unfold(text)


def test_exim_names_the_helo_when_it_differs_from_the_reverse_name() -> None:
    text = received("exim", **{**BASE, "helo": "liar.example.com"})
    assert "from mail.example.org ([192.0.2.25] helo=liar.example.com)" in unfold(text)


def test_webmail_pseudo_received() -> None:
    text = received("webmail", **{**BASE, "rdns": None, "ip": "203.0.113.45"})
    assert unfold(text).startswith("Received: from [203.0.113.45] by mx.example.net with HTTP (HTTP/1.1 POST); ")


def test_an_unknown_flavour_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown Received flavour 'smail'"):
        received("smail", **BASE)


@pytest.mark.parametrize("name", ["postfix", "exim", "sendmail", "qmail", "exchange", "gmail", "dovecot", "webmail"])
def test_each_flavour_module_defines_the_protocol_and_writes_what_received_returns(name: str) -> None:
    """Adding an MTA means adding one module with these names (mailhops.mta.Flavour / MTA)."""
    from mailhops import mta

    module = mta.flavour(name)
    required = mta.MTA_PROTOCOL if name in mta.MTAS else mta.FLAVOUR_PROTOCOL
    assert [n for n in required if not hasattr(module, n)] == []
    assert module.NAME == name
    assert module.received(**BASE) == received(name, **BASE)
    assert (module.__doc__ or "").strip(), f"{name}.py says what it was checked against"


def test_protocol_words_follow_rfc3848() -> None:
    assert [protocol_word(tls=t, auth=a) for t in (False, True) for a in (False, True)] == [
        "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA"]


def test_spam_headers_flag_only_spam() -> None:
    spam = spam_headers(6.7, 5.0, ["BAYES_99", "URIBL_BLACK"], "filter.example.net")
    ham = spam_headers(1.0, 5.0, [], "filter.example.net")
    assert "X-Spam-Flag: YES" in spam and not any(h.startswith("X-Spam-Flag") for h in ham)
    assert unfold(spam[-1]).startswith("X-Spam-Status: Yes, score=6.7 required=5.0 tests=BAYES_99,URIBL_BLACK")
    assert ham[-1].startswith("X-Spam-Status: No, score=1.0")


def test_count_hops_counts_the_four_trace_fields_of_the_top_header_block_only() -> None:
    raw = (b"Received: from a by b; Mon, 2 Mar 2026 09:00:05 +0000\r\n"
           b"X400-Received: x\r\nVia: y\r\nMail-From: z\r\nSubject: Received: not a field\r\n"
           b"\r\nReceived: inside the body\r\n")
    assert count_hops(raw) == 4
    assert count_hops(raw.decode()) == 4
    assert count_hops(email.message_from_bytes(raw)) == 4
    assert count_fields(raw, ("received",)) == 1
