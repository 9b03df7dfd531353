"""Authentication verdicts: only the receiving domain's topmost results are trusted."""

from __future__ import annotations

from mailhops.read.analyze import analyze
from mailhops.read.auth import analyze_auth, org_domain, parse_authentication_results, parse_tag_list

GMAIL_LIKE = """\
Delivered-To: bob@example.com
Received: by 2001:db8:1::1 with SMTP id x1csp123; Mon, 2 Mar 2026 01:00:06 -0800 (PST)
X-Received: by 2001:db8:1::2 with SMTP id y2mr1; Mon, 02 Mar 2026 01:00:06 -0800 (PST)
ARC-Seal: i=1; a=rsa-sha256; t=1772442006; cv=none; d=google.com; s=arc-20240605; b=AAAA
ARC-Authentication-Results: i=1; mx.google.com; dkim=pass header.i=@example.org header.s=sel1;
       spf=pass (google.com: domain of alice@example.org designates 192.0.2.41 as permitted sender) smtp.mailfrom=alice@example.org;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org
Return-Path: <alice@example.org>
Received: from mail.example.org (mail.example.org. [192.0.2.41])
        by mx.google.com with ESMTPS id a1si123.45.2026.03.02.01.00.05
        for <bob@example.com>
        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);
        Mon, 02 Mar 2026 01:00:05 -0800 (PST)
Received-SPF: pass (google.com: domain of alice@example.org designates 192.0.2.41 as permitted sender) client-ip=192.0.2.41;
Authentication-Results: mx.google.com;
       dkim=pass header.i=@example.org header.s=sel1;
       spf=pass (google.com: domain of alice@example.org designates 192.0.2.41 as permitted sender) smtp.mailfrom=alice@example.org;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=sel1; h=from:to:subject; bh=xyz=; b=abc
Authentication-Results: mail.example.org; dkim=fail header.d=bank.example; spf=pass smtp.mailfrom=example.org
Received: from [192.0.2.7] (helo=laptop) by mail.example.org with esmtpsa (Exim 4.98)
        id 1wERYT-0000000Fbcq-0WDP; Mon, 02 Mar 2026 10:00:04 +0100
From: Alice <alice@example.org>
Subject: hi

body
"""


def test_gmail_like_message_trusts_only_google() -> None:
    j = analyze(GMAIL_LIKE)
    a = j.auth
    assert a["receiving_host"] == "mx.google.com"
    assert a["receiving_domain"] == "google.com"
    assert a["trusted_authserv_id"] == "mx.google.com"
    assert (a["spf"], a["dkim"], a["dmarc"]) == ("pass", "pass", "pass")
    # the sender's own Authentication-Results is not trusted
    assert [u["authserv_id"] for u in a["untrusted"]] == ["mail.example.org"]
    assert "not the receiving domain" in a["untrusted"][0]["reason"]
    assert a["dkim_signatures"] == [{"d": "example.org", "s": "sel1", "a": "rsa-sha256", "i": None,
                                     "h": ["from", "to", "subject"], "c": "relaxed/relaxed", "t": None}]
    assert a["arc_sets"][0]["cv"] == "none" and a["arc_sets"][0]["authserv_id"] == "mx.google.com"
    assert a["received_spf"][0]["result"] == "pass" and a["received_spf"][0]["client_ip"] == "192.0.2.41"
    assert "mx.google.com concluded: SPF pass, DKIM pass, DMARC pass" in a["conclusion"]
    assert "example.org" in a["conclusion"]
    assert "trusted" in a["note"]


def test_forged_results_from_another_domain_are_not_trusted() -> None:
    headers = [
        ("Authentication-Results", "mx.example.net; spf=fail smtp.mailfrom=bank.example"),
        ("Authentication-Results", "mx.bank.example; spf=pass smtp.mailfrom=bank.example; dkim=pass header.d=bank.example"),
        ("Received", "from evil.example (evil.example [192.0.2.66]) by mx.example.net (Postfix) with ESMTP id 1; "
                     "Mon, 2 Mar 2026 09:00:05 +0000"),
    ]
    a = analyze_auth(headers)
    assert a["trusted_authserv_id"] == "mx.example.net"
    assert a["spf"] == "fail" and a["dkim"] is None
    assert a["untrusted"][0]["authserv_id"] == "mx.bank.example"
    assert "not the receiving domain" in a["untrusted"][0]["reason"]


def test_results_in_the_receivers_name_written_upstream_are_not_trusted() -> None:
    headers = [
        ("Received", "from relay.example.org (relay.example.org [192.0.2.5]) by mx.example.net (Postfix) with ESMTP id 2; "
                     "Mon, 2 Mar 2026 09:00:06 +0000"),
        ("Received", "from evil.example (evil.example [192.0.2.66]) by relay.example.org (Postfix) with ESMTP id 1; "
                     "Mon, 2 Mar 2026 09:00:05 +0000"),
        ("Authentication-Results", "mx.example.net; dkim=pass header.d=bank.example"),
    ]
    a = analyze_auth(headers)
    assert a["trusted_authserv_id"] is None and a["dkim"] is None
    assert a["untrusted"][0]["reason"] == "written before the message reached the receiving domain"


def test_only_the_topmost_results_are_trusted() -> None:
    headers = [
        ("Authentication-Results", "mx1.example.net; spf=pass smtp.mailfrom=example.org"),
        ("Authentication-Results", "mx2.example.net; spf=fail smtp.mailfrom=example.org"),
        ("Received", "from a.example.org by mx1.example.net; Mon, 2 Mar 2026 09:00:05 +0000"),
    ]
    a = analyze_auth(headers)
    assert a["spf"] == "pass"
    assert a["untrusted"][0]["reason"] == "not the topmost results of the receiving domain"


def test_no_results_says_so() -> None:
    a = analyze_auth([("Received", "from a.example.org by b.example.net; Mon, 2 Mar 2026 09:00:05 +0000")])
    assert a["spf"] is None and a["results"] == []
    assert a["conclusion"] == "No authentication results from the receiving domain were found."


def test_microsoft_style_results_without_authserv_id() -> None:
    value = ("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.org; dkim=pass (signature was verified) "
             "header.d=example.org;dmarc=pass action=none header.from=example.org;compauth=pass reason=100")
    authserv_id, results, problems = parse_authentication_results(value)
    assert authserv_id is None and problems == []
    assert [(r["method"], r["result"]) for r in results] == [("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass"),
                                                              ("compauth", "pass")]
    a = analyze_auth([("Authentication-Results", value),
                      ("Received", "from a.example.org by b.outlook.example; Mon, 2 Mar 2026 09:00:05 +0000")])
    assert a["dmarc"] == "pass"


def test_garbage_results_do_not_raise() -> None:
    for value in ["", ";;;", "(", "x=", "a; b=c=d; (((", "\x00" * 50]:
        authserv_id, results, problems = parse_authentication_results(value)
        assert isinstance(results, list)


def test_org_domain_and_tags() -> None:
    assert org_domain("a.b.example.co.uk") == "example.co.uk"
    assert org_domain("2001:db8::1") is None
    assert org_domain("192.0.2.1") is None
    assert parse_tag_list("v=1; d = example.org ;s=sel")["d"] == "example.org"


def test_without_received_nothing_is_trusted() -> None:
    a = analyze_auth([("Authentication-Results", "mx.example.net; spf=pass smtp.mailfrom=example.org")])
    assert a["spf"] is None and a["receiving_host"] is None
    assert "no Received header" in a["untrusted"][0]["reason"]
