"""DNS on dnspython: zones, MX ordering (RFC 5321 §5.1), implicit and null MX, live look-ups."""

from __future__ import annotations

import random
from collections import Counter

import dns.zone
import pytest

from mailhops import DNSLookupError, Topology
from mailhops.dns import TopologyDNS, live_mx


def _topo(prefs: list[int], *, null: bool = False, a: str | None = None) -> Topology:
    t = Topology()
    t.add_domain("example.net", null_mx=null, a=a)
    for i, p in enumerate(prefs):
        t.add_server(f"mx{i}.example.net", "mx", f"198.51.100.{10 + i}", domain="example.net", mx_preference=p)
    t.add_server("web.example.net", "mailbox", "198.51.100.80", domain="example.net")
    return t


def test_zones_are_real_dnspython_zones_with_mx_a_and_ptr() -> None:
    d = TopologyDNS(_topo([10, 20]))
    assert isinstance(d.zones["example.net"], dns.zone.Zone)
    text = d.zone_text("example.net")
    assert text.startswith("$ORIGIN example.net.\n")
    assert "@ 3600 IN MX 10 mx0\n" in text and "@ 3600 IN MX 20 mx1\n" in text
    assert d.addresses("mx1.example.net") == ["198.51.100.11"]
    assert d.ptr("198.51.100.11") == "mx1.example.net"
    assert d.ptr("192.0.2.200") is None


def test_lowest_preference_first() -> None:
    d = TopologyDNS(_topo([30, 10, 20]))
    answer = d.mx_candidates("example.net", random.Random(5))
    assert answer.kind == "mx"
    assert [p for p, _ in answer.candidates] == [10, 20, 30]
    assert answer.candidates[0][1] == "mx1.example.net"


def test_equal_preferences_are_shuffled_but_seeded() -> None:
    d = TopologyDNS(_topo([10, 10, 10, 20]))
    firsts = Counter(d.mx_candidates("example.net", random.Random(seed)).candidates[0][1] for seed in range(200))
    assert set(firsts) == {"mx0.example.net", "mx1.example.net", "mx2.example.net"}
    assert all(n > 30 for n in firsts.values())
    again = [d.mx_candidates("example.net", random.Random(7)).candidates for _ in range(3)]
    assert again[0] == again[1] == again[2]
    assert all(c[-1] == (20, "mx3.example.net") for c in again)


def test_an_mx_asking_drops_equal_and_worse_preferences() -> None:
    d = TopologyDNS(_topo([10, 20, 30]))
    answer = d.mx_candidates("example.net", random.Random(0), asking="mx1.example.net")
    assert answer.candidates == [(10, "mx0.example.net")]


def test_implicit_mx_when_no_mx_record() -> None:
    d = TopologyDNS(_topo([], a="198.51.100.80"))
    answer = d.mx_candidates("example.net", random.Random(0))
    assert answer.kind == "implicit"
    assert answer.candidates == [(0, "example.net")]
    assert "implicit MX" in answer.conclusion


def test_null_mx_and_nonexistent_domain() -> None:
    d = TopologyDNS(_topo([], null=True))
    assert d.mx_candidates("example.net", random.Random(0)).kind == "null"
    assert "@ 3600 IN MX 0 .\n" in d.zone_text("example.net")
    assert d.mx_candidates("nowhere.example", random.Random(0)).kind == "nxdomain"


def test_live_lookup_failure_is_a_sentence_not_a_verdict() -> None:
    # 192.0.2.1 (TEST-NET-1) never answers: the look-up must time out quickly and say so plainly.
    with pytest.raises(DNSLookupError) as err:
        live_mx("example.org", timeout=0.3, nameserver="127.0.0.1")
    text = str(err.value)
    assert "example.org" in text and "\n" not in text
    assert "offline" in text or "connection" in text


def test_spf_records_are_txt_in_the_zone_and_evaluated() -> None:
    t = _topo([10])
    t.add_server("out.example.net", "relay", "198.51.100.99", domain="example.net")
    d = TopologyDNS(t)
    assert d.txt("example.net") == ["v=spf1 ip4:198.51.100.99 -all"]
    assert d.spf("198.51.100.99", "example.net") == ("pass", "ip4:198.51.100.99")
    assert d.spf("192.0.2.1", "example.net") == ("fail", "-all")
    assert d.spf("192.0.2.1", "nowhere.example") == ("none", "")
    t.domains["example.net"].spf = "v=spf1 mx ~all"
    d = TopologyDNS(t)
    assert d.spf("198.51.100.10", "example.net") == ("pass", "mx")
    assert d.spf("198.51.100.99", "example.net") == ("softfail", "~all")
    t.domains["example.net"].spf = None
    assert TopologyDNS(t).txt("example.net") == []
