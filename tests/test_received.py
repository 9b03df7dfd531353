"""Received parsing per MTA family (shapes of real headers, made-up names and addresses), and fuzzing."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailhops.read.received import parse_received

# (header value, expected fields). Shapes copied from real MTAs' output; names, addresses and ids invented.
CASES = [
    pytest.param(
        "from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.net (Postfix) with ESMTP id 7555029409F "
        "for <bob@example.net>; Tue, 17 Sep 2002 22:54:27 -0700 (PDT)",
        dict(from_name="mail.example.org", helo="mail.example.org", rdns="mail.example.org", ip="192.0.2.1",
             by_name="mx.example.net", with_="ESMTP", id="7555029409F", for_="bob@example.net",
             date_utc="2002-09-18T05:54:27Z", mta="postfix"),
        id="postfix",
    ),
    pytest.param(
        "from [192.168.1.23] (host-203-0-113-45.isp.example [203.0.113.45]) (using TLSv1.3 with cipher "
        "TLS_AES_256_GCM_SHA384 (256/256 bits)) (No client certificate requested) (Authenticated sender: alice) "
        "by smtp.example.org (Postfix) with ESMTPSA id F7242485E3A for <carol@example.net>; Mon,  2 Mar 2026 11:11:46 +0100 (CET)",
        dict(from_name="host-203-0-113-45.isp.example", helo="[192.168.1.23]", rdns="host-203-0-113-45.isp.example",
             ip="203.0.113.45", by_name="smtp.example.org", with_="ESMTPSA", tls="TLSv1.3", auth="alice",
             id="F7242485E3A", for_="carol@example.net", date_utc="2026-03-02T10:11:46Z", mta="postfix"),
        id="postfix-submission-helo-literal",
    ),
    pytest.param(
        "from helo.example.org (unknown [IPv6:2001:db8::25]) by mx.example.net (Postfix) with ESMTPS id 4Q1; "
        "Mon, 2 Mar 2026 09:00:05 +0000",
        dict(from_name="helo.example.org", helo="helo.example.org", rdns=None, ip="2001:db8::25", with_="ESMTPS"),
        id="postfix-ipv6-unknown-rdns",
    ),
    pytest.param(
        "by mail.example.org (Postfix, from userid 1000) id 3A1B2C; Tue, 9 Jul 2002 20:28:46 -0400 (EDT)",
        dict(from_name=None, ip=None, by_name="mail.example.org", with_=None, id="3A1B2C", mta="postfix",
             date_utc="2002-07-10T00:28:46Z"),
        id="postfix-local-from-userid-is-a-comment",
    ),
    pytest.param(
        "from helo.example.org (rdns.example.org [192.0.2.7] (may be forged)) by mx.example.net (8.11.6/8.11.6) "
        "with ESMTP id g8CDC1X12345 for <bob@example.net>; Thu, 12 Sep 2002 14:12:01 +0100",
        dict(from_name="helo.example.org", helo="helo.example.org", rdns="rdns.example.org", ip="192.0.2.7",
             by_name="mx.example.net", with_="ESMTP", id="g8CDC1X12345", mta="sendmail", date_utc="2002-09-12T13:12:01Z"),
        id="sendmail",
    ),
    pytest.param(
        "(from alice@localhost) by host.example.org (8.11.6/8.11.6) id g6ONlsZ03600 for list-outgoing; "
        "Wed, 24 Jul 2002 19:47:54 -0400",
        dict(from_name=None, ip=None, by_name="host.example.org", id="g6ONlsZ03600", for_="list-outgoing", mta="sendmail"),
        id="sendmail-local-from-in-comment",
    ),
    pytest.param(
        "from lugh.example.org (root@lugh.example.org [192.0.2.45]) by mx.example.net (8.9.3/8.9.3) with ESMTP "
        "id LAA31573 for <list@example.net>; Tue, 30 Jul 2002 11:09:26 +0100",
        dict(from_name="lugh.example.org", rdns="lugh.example.org", ip="192.0.2.45", mta="sendmail"),
        id="sendmail-ident",
    ),
    pytest.param(
        "from host.example.org ([192.0.2.1] helo=mail.example.org) by mx.example.net with esmtp (Exim 3.36 #1) "
        "id 17fPqV-0004zj-00 for list@example.net; Thu, 15 Aug 2002 20:59:47 +0200",
        dict(from_name="host.example.org", helo="mail.example.org", rdns="host.example.org", ip="192.0.2.1",
             by_name="mx.example.net", with_="ESMTP", id="17fPqV-0004zj-00", for_="list@example.net", mta="exim",
             date_utc="2002-08-15T18:59:47Z"),
        id="exim3",
    ),
    pytest.param(
        "from [192.0.2.9] (port=4711 helo=laptop) by smtp.example.org with esmtpsa (TLS1.3) tls "
        "TLS_AES_256_GCM_SHA384 (Exim 4.98) (envelope-from <a@example.org>) id 1wERYT-0000000Fbcq-0WDP "
        "for b@example.net; Mon, 02 Mar 2026 10:00:05 +0100",
        dict(from_name="laptop", helo="laptop", ip="192.0.2.9", with_="ESMTPSA", tls="TLS1.3", mta="exim",
             id="1wERYT-0000000Fbcq-0WDP", for_="b@example.net", envelope_from="a@example.org"),
        id="exim4-address-literal",
    ),
    pytest.param(
        "from mail.example.org ([192.0.2.1]:50123) by mx.example.net with esmtps (TLS1.2) tls "
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <a@example.org>) id 1qABCD-000123-XY; "
        "Mon, 02 Mar 2026 10:00:05 +0000",
        dict(from_name="mail.example.org", helo="mail.example.org", rdns="mail.example.org", ip="192.0.2.1",
             with_="ESMTPS", tls="TLS1.2", mta="exim"),
        id="exim4-port",
    ),
    pytest.param(
        "from alice by host.example.org with local (Exim 4.96) (envelope-from <alice@example.org>) "
        "id 1qABCE-000124-Z0 for bob@example.net; Mon, 02 Mar 2026 10:00:05 +0000",
        dict(from_name="alice", ip=None, with_="LOCAL", mta="exim", for_="bob@example.net"),
        id="exim-local",
    ),
    pytest.param(
        "from dsl-192-0-2-167.example.net (HELO laptop.example.org) (192.0.2.167) by relay.example.net "
        "with SMTP; 5 Sep 2002 11:37:56 -0000",
        dict(from_name="dsl-192-0-2-167.example.net", helo="laptop.example.org", rdns="dsl-192-0-2-167.example.net",
             ip="192.0.2.167", by_name="relay.example.net", with_="SMTP", id=None, mta="qmail",
             date_utc="2002-09-05T11:37:56Z"),
        id="qmail-helo",
    ),
    pytest.param(
        "(qmail 90138 invoked from network); 5 Sep 2002 11:37:56 -0000",
        dict(from_name=None, ip=None, by_name=None, with_=None, date_utc="2002-09-05T11:37:56Z", mta="qmail"),
        id="qmail-invoked",
    ),
    pytest.param(
        "from unknown (HELO mail.example.org) (alice@192.0.2.3) by smtp.example.net with SMTP; 5 Sep 2002 11:37:56 -0000",
        dict(from_name="unknown", helo="mail.example.org", rdns=None, ip="192.0.2.3", mta="qmail"),
        id="qmail-auth-user-at-ip",
    ),
    pytest.param(
        "from EXCH01.corp.example.org (2001:db8::5) by EXCH02.corp.example.org (2001:db8::6) with Microsoft SMTP Server "
        "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8182.16 via Frontend Transport; "
        "Mon, 2 Mar 2026 09:00:05 +0000",
        dict(from_name="exch01.corp.example.org", ip="2001:db8::5", by_name="exch02.corp.example.org", by_ip="2001:db8::6",
             with_="MICROSOFT SMTP SERVER", id="15.20.8182.16", via="Frontend Transport", tls="TLS1_2", for_=None,
             mta="exchange"),
        id="exchange",
    ),
    pytest.param(
        "from AM0PR01MB1234.eurprd01.prod.example.com ([fe80::1234:5678:9abc:def0]) by AM0PR01MB1234.eurprd01.prod.example.com "
        "([fe80::1234:5678:9abc:def0%5]) with mapi id 15.20.8182.016; Mon, 2 Mar 2026 09:00:05 +0000",
        dict(ip="fe80::1234:5678:9abc:def0", by_ip="fe80::1234:5678:9abc:def0%5", with_="MAPI", id="15.20.8182.016",
             mta="exchange"),
        id="exchange-mapi",
    ),
    pytest.param(
        "from mx.example.org (mail.example.org [192.0.2.74]) by exchange.example.net with SMTP (Microsoft Exchange "
        "Internet Mail Service Version 5.5.2650.21) id LQBG7D6D; Sun, 2 Jun 2002 20:44:53 -0700",
        dict(from_name="mx.example.org", ip="192.0.2.74", with_="SMTP", id="LQBG7D6D", mta="exchange"),
        id="exchange-5.5",
    ),
    pytest.param(
        "from mail-sor-f41.example.com (mail-sor-f41.example.com. [192.0.2.41]) by mx.google.com with SMTPS id "
        "a1sor123456ejb.12.2026.03.02.01.00.05 for <bob@example.net> (Google Transport Security); "
        "Mon, 02 Mar 2026 01:00:05 -0800 (PST)",
        dict(from_name="mail-sor-f41.example.com", rdns="mail-sor-f41.example.com", ip="192.0.2.41", by_name="mx.google.com",
             with_="SMTPS", id="a1sor123456ejb.12.2026.03.02.01.00.05", for_="bob@example.net", mta="gmail",
             date_utc="2026-03-02T09:00:05Z"),
        id="gmail",
    ),
    pytest.param(
        "from [192.0.2.99] by web12345.mail.example.com via HTTP; Thu, 12 Sep 2002 06:12:01 PDT",
        dict(from_name=None, ip="192.0.2.99", by_name="web12345.mail.example.com", with_=None, via="HTTP",
             mta="webmail", date_utc="2002-09-12T13:12:01Z"),
        id="webmail-via-http",
    ),
    pytest.param(
        "from 192.0.2.5 (SquirrelMail authenticated user alice) by webmail.example.org with HTTP; "
        "Tue, 3 Dec 2002 4:35:55 -0600",
        dict(from_name="192.0.2.5", ip="192.0.2.5", with_="HTTP", auth="alice", mta="webmail",
             date_utc="2002-12-03T10:35:55Z"),
        id="squirrelmail",
    ),
    pytest.param(
        "from pop.example.org [192.0.2.219] by localhost with POP3 (fetchmail-5.9.0) for alice@localhost "
        "(single-drop); Tue, 27 Aug 2002 12:19:23 +0100 (IST)",
        dict(from_name="pop.example.org", ip="192.0.2.219", by_name="localhost", with_="POP3", for_="alice@localhost",
             mta="fetchmail"),
        id="fetchmail",
    ),
    pytest.param(
        "from mx.example.org ([127.0.0.1]) by localhost (mx.example.org [127.0.0.1]) (amavisd-new, port 10024) "
        "with ESMTP id AbC12dEf3 for <bob@example.org>; Mon, 2 Mar 2026 09:00:05 +0100 (CET)",
        dict(from_name="mx.example.org", ip="127.0.0.1", by_name="localhost", by_ip="127.0.0.1", with_="ESMTP",
             id="AbC12dEf3", mta="amavis"),
        id="amavis",
    ),
    pytest.param(
        "from alice@example.org by filter.example.org by uid 1005 with qmail-scanner-1.10 (clamscan. Clear:0. "
        "Processed in 0.07 secs); 23 Aug 2002 07:44:19 -0000",
        dict(from_name=None, ip=None, by_name="filter.example.org", mta="filter"),
        id="qmail-scanner-sender-address",
    ),
    pytest.param(
        "by filter0123p1mdw1.sendgrid.example with SMTP id filter0123p1mdw1-12345-5C66ED4C-2F "
        "2019-02-15 16:50:20.915566698 +0000 UTC m=+104627.848812178",
        dict(by_name="filter0123p1mdw1.sendgrid.example", with_="SMTP", id="filter0123p1mdw1-12345-5C66ED4C-2F",
             date_utc="2019-02-15T16:50:20Z"),
        id="sendgrid-no-semicolon",
    ),
    pytest.param(
        "from hub.example.net ([198.51.100.64]) by imap.example.net with LMTP id rxmSKtm4pxTmGkQcEuDIsg "
        "(envelope-from <alice@example.org>) for <bob@example.net>; Mon, 02 Mar 2026 05:12:00 -0500",
        dict(from_name="hub.example.net", ip="198.51.100.64", with_="LMTP", id="rxmSKtm4pxTmGkQcEuDIsg",
             for_="bob@example.net", envelope_from="alice@example.org", mta="dovecot"),
        id="dovecot-lmtp",
    ),
    pytest.param(
        "by 2001:db8:a05:6a10::1 with SMTP id x6mr1048328rvi.40.1242899443462; Thu, 21 May 2009 02:50:43 -0700 (PDT)",
        dict(from_name=None, by_name="2001:db8:a05:6a10::1", with_="SMTP", id="x6mr1048328rvi.40.1242899443462",
             mta="gmail", date_utc="2009-05-21T09:50:43Z"),
        id="gmail-internal-hop",
    ),
    pytest.param(
        "from ts12.example.net (HELO laptop.example.org) (192.0.2.167) by relay.example.net (qp 67309) with SMTP; "
        "5 Sep 2002 11:37:56 -0000",
        dict(from_name="ts12.example.net", helo="laptop.example.org", ip="192.0.2.167", by_name="relay.example.net",
             mta="qmail"),
        id="qmail-qp",
    ),
    pytest.param(
        "from [192.0.2.14] by proxy.example.net (NTMail 4.30.0013/NU4152.00.32401f35) with ESMTP id zmlyaaaa "
        "for <list@example.org>; Thu, 4 May 2000 11:13:09 +0200",
        dict(from_name=None, ip="192.0.2.14", with_="ESMTP", id="zmlyaaaa", mta="ntmail"),
        id="not-every-version-pair-is-sendmail",
    ),
    pytest.param(
        "from mail pickup service by mail.example.com with Microsoft SMTPSVC; Sun, 11 Aug 2002 22:13:06 -0700",
        dict(from_name="mail", with_="MICROSOFT SMTPSVC", mta="exchange", date_utc="2002-08-12T05:13:06Z"),
        id="exchange-pickup",
    ),
    pytest.param(
        "from DM6PR12MB1234.namprd12.prod.outlook.com (2001:db8:5:1c0::20) by BN6PR12MB5678.namprd12.prod.outlook.com "
        "with HTTPS; Mon, 2 Mar 2026 09:00:05 +0000",
        dict(from_name="dm6pr12mb1234.namprd12.prod.outlook.com", ip="2001:db8:5:1c0::20", with_="HTTPS", mta="exchange"),
        id="microsoft-365-internal-https",
    ),
    pytest.param(
        "from mail-ej1-f41.example.com (192.0.2.41) by BN8NAM12FT012.mail.protection.outlook.com (198.51.100.171) "
        "with Microsoft SMTP Server (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) id 15.20.7677.27 via Frontend "
        "Transport; Mon, 2 Mar 2026 09:00:05 +0000",
        dict(from_name="mail-ej1-f41.example.com", ip="192.0.2.41", by_name="bn8nam12ft012.mail.protection.outlook.com",
             by_ip="198.51.100.171", with_="MICROSOFT SMTP SERVER", tls="TLS1_3", id="15.20.7677.27",
             via="Frontend Transport", mta="exchange"),
        id="microsoft-365-inbound",
    ),
    pytest.param(
        "from mail.example.org ([2001:db8::25]:41234 helo=mail.example.org) by mx.example.net with esmtps  (TLS1.3) tls "
        "TLS_AES_256_GCM_SHA384 (Exim 4.97) (envelope-from <alice@example.org>) id 1sDabc-000XYZ-2Q for bob@example.net; "
        "Sat, 01 Jun 2024 10:00:05 +0200",
        dict(from_name="mail.example.org", ip="2001:db8::25", with_="ESMTPS", tls="TLS1.3", mta="exim",
             envelope_from="alice@example.org", id="1sDabc-000XYZ-2Q", for_="bob@example.net"),
        id="exim4-ipv6-port",
    ),
    pytest.param(
        "from [192.0.2.14] by mx.example.com with asmtp; Aug, 02 2002 12:51:45 AM -0000",
        dict(from_name=None, ip="192.0.2.14", with_="ASMTP", date_utc="2002-08-02T00:51:45Z"),
        id="month-first-am-pm",
    ),
    pytest.param(
        "by mail.example.org with SMTP id 835DA701D; for <list@example.net>; Mon, 19 Aug 2002 12:11:45 +0100 (IST)",
        dict(by_name="mail.example.org", id="835DA701D", for_="list@example.net", date_utc="2002-08-19T11:11:45Z"),
        id="for-after-semicolon",
    ),
    pytest.param(
        "from a.example.org by b.example.org with ESMTP id X1;; Mon, 19 Aug 2002 12:11:45 +0100; Mon, 19 Aug 2002 12:11:46 +0100",
        dict(from_name="a.example.org", id="X1", date_utc="2002-08-19T11:11:45Z"),
        id="second-date-after-doubled-semicolon",
    ),
    pytest.param(
        "from a.example.org by b.example.org with ESMTP; [Mon, 19 Aug 2002 12:11:45 -08:00]",
        dict(from_name="a.example.org", date_utc="2002-08-19T20:11:45Z"),
        id="date-in-brackets",
    ),
    pytest.param(
        "from a.example.org. (b.example.org. [192.0.2.1]) by MX.Example.NET. with ESMTP id Q; Mon, 19 Aug 2002 12:11:45 +0000",
        dict(from_name="a.example.org", rdns="b.example.org", by_name="mx.example.net"),
        id="trailing-dots-and-case",
    ),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_family_shapes(value: str, expected: dict) -> None:
    hop = parse_received(value, n=3)
    assert hop.n == 3
    got = {key: getattr(hop, key) for key in expected}
    assert got == expected, hop.problems


def test_clauses_only_outside_comments() -> None:
    hop = parse_received("(from userid 1) (for x@example.org) (by evil.example) (with SMTP) (id 1); 2 Mar 2026 09:00:05 +0000")
    assert (hop.from_name, hop.by_name, hop.with_, hop.id, hop.for_) == (None, None, None, None, None)
    assert hop.date_utc == "2026-03-02T09:00:05Z"


def test_folded_header_is_unfolded_in_raw() -> None:
    hop = parse_received("from a.example.org\r\n\tby b.example.org\r\n with SMTP;\r\n Mon, 2 Mar 2026 09:00:05 +0000")
    assert hop.raw == "from a.example.org by b.example.org with SMTP; Mon, 2 Mar 2026 09:00:05 +0000"
    assert (hop.from_name, hop.by_name, hop.with_) == ("a.example.org", "b.example.org", "SMTP")


@pytest.mark.parametrize("value", ["", "   ", "garbage", "from", "by ;", "((((", "))))", ";;;;", "from [", "id <",
                                   "from a (b [192.0.2.1]", "for", "with (x) ; (y"])
def test_broken_headers_give_problems_not_errors(value: str) -> None:
    hop = parse_received(value)
    assert hop.problems, value
    assert hop.raw == " ".join(value.split())


@pytest.mark.parametrize(("value", "with_"), [
    ("by mail.example.org with XWall v3.21; Mon, 2 Mar 2026 09:00:05 +0000", "XWALL"),
    ("by mail.example.org with NetMail SMTP Agent $Revision: 3.6 $ on Linux; Mon, 2 Mar 2026 09:00:05 +0000",
     "NETMAIL SMTP AGENT"),
    ("by mail.example.org with SMTP ID: <7866@mail.example.org>; Mon, 2 Mar 2026 09:00:05 +0000", "SMTP"),
])
def test_with_stops_at_version_strings(value: str, with_: str) -> None:
    assert parse_received(value).with_ == with_


def test_null_sender_is_kept_as_empty_path() -> None:
    hop = parse_received("from mx.example.org ([192.0.2.25]) by imap.example.org with LMTP id 5EPfeJVYhn9bqR+vegJCBA "
                         "(envelope-from <>) for <alice@example.org>; Mon, 02 Mar 2026 11:11:53 +0100")
    assert hop.envelope_from == ""
    assert parse_received("from a.example.org (a.example.org [192.0.2.1]) by b.example.org (8.12.5/8.12.5) with ESMTP "
                          "id X; Mon, 2 Mar 2026 09:00:05 +0000 (envelope-from <>)").envelope_from == ""


def test_header_wrapped_in_brackets() -> None:
    hop = parse_received("[from a.example.org (a.example.org [192.0.2.101]) by b.example.org (gate 2.1) with ESMTP "
                         "id BAA25720 for <list@example.org>; Wed, 28 Aug 2002 01:29:22 -0700 (MST)]")
    assert (hop.from_name, hop.ip, hop.by_name, hop.id) == ("a.example.org", "192.0.2.101", "b.example.org", "BAA25720")
    assert hop.date_utc == "2002-08-28T08:29:22Z"
    assert hop.problems == ["the whole header is wrapped in brackets"]


def test_unclosed_comment_is_reported() -> None:
    hop = parse_received("from a.example.org (b.example.org [192.0.2.1] by c.example.org; Mon, 2 Mar 2026 09:00:05 +0000")
    assert hop.from_name == "a.example.org"
    assert any("never closed" in p for p in hop.problems)


def test_bad_date_is_a_problem() -> None:
    hop = parse_received("from a.example.org by b.example.org; yesterday at noon")
    assert hop.date is None
    assert any("date" in p for p in hop.problems)


def test_no_time_zone_assumes_utc_and_says_so() -> None:
    hop = parse_received("from a.example.org by b.example.org; 22/08/2002 10:04:10")
    assert hop.date_utc == "2002-08-22T10:04:10Z"
    assert any("UTC assumed" in p for p in hop.problems)


SAMPLES = [str(p.values[0]) for p in CASES]


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=600))
def test_fuzz_random_text_never_raises(value: str) -> None:
    hop = parse_received(value)
    assert hop.date is None or hop.date.tzinfo is not None


@settings(max_examples=300, deadline=1000)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes_never_raise(data: bytes) -> None:
    hop = parse_received(data.decode("latin-1"))
    assert isinstance(hop.problems, list)


@settings(max_examples=400, deadline=1000)
@given(st.sampled_from(SAMPLES), st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=12))
def test_fuzz_mutated_real_shapes_never_raise(value: str, seed: int, edits: int) -> None:
    rng = random.Random(seed)
    chars = list(value)
    alphabet = "()[]<>;:@=. \t\r\n\\\"'-+0123456789abcXYZ\x00\u00e9\u0130"
    for _ in range(edits):
        op = rng.randrange(4)
        pos = rng.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op == 1:
            chars.insert(pos, rng.choice(alphabet))
        elif op == 2 and chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(alphabet)
        else:
            chars[pos:pos] = list(value[rng.randrange(len(value)):][: rng.randrange(1, 30)])
    hop = parse_received("".join(chars))
    assert hop.raw == " ".join("".join(chars).split())
    if hop.date is not None:
        assert hop.date.utcoffset() is not None


@pytest.mark.parametrize("value", SAMPLES + [
    "from a.example.org ([192.0.2.1]) by b.example.net (8.12.5/8.12.5) with ESMTP id X1; Mon, 2 Mar 2026 09:00:05 +0000",
    "from a.example.org (unknown [192.0.2.1]) by b.example.net (Postfix) with SMTP id X2; Mon, 2 Mar 2026 09:00:05 +0000",
    "(qmail 4711 invoked from network); 5 Sep 2002 11:37:56 -0000",
    "from unknown (HELO a.example.org) (192.0.2.1) by b.example.net with SMTP; 5 Sep 2002 11:37:56 -0000",
    "from h.example.org ([192.0.2.1]:4711 helo=a) by b.example.net with esmtp (Exim 4.96 (Debian)) id 1a-2b-3c; "
    "Mon, 2 Mar 2026 09:00:05 +0000",
    "from pop.example.org [192.0.2.1] by localhost with IMAP (fetchmail-6.4.0) for <u@localhost> (single-drop); "
    "Mon, 2 Mar 2026 09:00:05 +0000 (UTC)",
    "from a.example.org (a.example.org [192.0.2.1]) by b.example.net (Postfix) with ESMTP id X3; Sun, 2 Mar 2026 09:00:05 +0000",
    "from a.example.org (a.example.org [192.0.2.22]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) "
    "key-exchange X25519 server-signature RSA-PSS (4096 bits) server-digest SHA256) (No client certificate requested) "
    "by mx.example.org (Postfix) with ESMTPS id 4VsK1L2xyz for <bob@example.org>; Sat,  1 Jun 2024 10:00:05 +0200 (CEST)",
    "from laptop (dsl.example.net [192.0.2.206]) (authenticated) by mail.example.net (8.11.6/8.11.6) with ESMTP id "
    "g987hhf05624 for <list@example.net>; Tue, 8 Oct 2002 09:43:43 +0200",
    "from a.example.org (a.example.org [192.0.2.1]) by b.example.net (8.12.5/8.12.5) with ESMTP id g6NFQHhY046384 "
    "(version=TLSv1/SSLv3 cipher=EDH-DSS-DES-CBC3-SHA bits=168 verify=NO) for <c@example.net>; Tue, 23 Jul 2002 "
    "10:26:18 -0500 (CDT) (envelope-from d@example.org)",
    "from a.example.org (b.example.org [192.0.2.1] (may be forged)) by c.example.net (8.9.3/8.9.3) with ESMTP id X; "
    "Sat, 20 Jul 2002 09:46:41 +0100",
])
def test_fast_paths_agree_with_the_general_parser(value: str) -> None:
    from mailhops.read.received import _parse

    assert _parse(value, 1, classic=True).to_dict() == _parse(value, 1, classic=False).to_dict()


@pytest.mark.parametrize("text", [
    " Wed, 17 Jul 0102 09:59:11 +0900",  # a Y2K bug's year, explained by the general reader
    " Mon, 2 Mar 2026 09:00:05 +0000 (envelope-from <a@example.org>)",
    " Mon, 2 Mar 2026 09:00:05 +0000 for <b@example.net>",
    " Mon, 2 Mar 2026 09:00:05 +0100 PM",
    " Sun, 2 Mar 2026 09:00:05 +0000",
    " 2 Mar 2026 9:00:05 -0800 (PST)",
    " 2 Mar 2026 09:00:05 +9999",
    " 31 Feb 2026 09:00:05 +0000",
    " Thu, 12 Sep 2002 06:12:01 PDT",
    " 12 Sep 2002 06:12:01 NST (NST)",
    " 12 Sep 2002 06:12:01 XYZ",
    " 12 Sep 2002 06:12:01 GMT +0100",
])
def test_fast_date_agrees_with_the_general_reader(text: str) -> None:
    from mailhops.read.dates import parse_date
    from mailhops.read.received import fast_date

    assert fast_date(text) == parse_date(text)
