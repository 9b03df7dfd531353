"""The DNS records each domain publishes (SPF, DKIM keys, DMARC), their knobs, `mailhops dns`, and SPF by pyspf."""

from __future__ import annotations

import ipaddress

import dns.zone
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops.cli import main
from mailhops.demo_keys import demo_key
from mailhops.dns import TopologyDNS
from mailhops.errors import TopologyError
from mailhops.scenarios import get, names


def _zones(text: str) -> list[dns.zone.Zone]:
    parts = ["$ORIGIN" + p for p in text.split("$ORIGIN")[1:]]
    return [dns.zone.from_text(p, relativize=False, check_origin=False) for p in parts]


@pytest.mark.parametrize("name", names())
def test_dns_command_prints_loadable_zones_with_every_record(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dns", name]) == 0
    out = capsys.readouterr().out
    assert out.startswith("$ORIGIN ")
    zones = {z.origin.to_text(): z for z in _zones(out)}
    topo = get(name).build()
    for domain in topo.domains.values():
        zone = zones[domain.name + "."]
        txt = {n.to_text(): [b"".join(r.strings).decode() for r in rds]
               for n, rds in zone.iterate_rdatasets("TXT")}
        key = txt[f"{domain.dkim_selector}._domainkey.{domain.name}."][0]
        assert key == f"v=DKIM1; k=rsa; p={demo_key(domain.name).public_b64}"
        assert txt[f"_dmarc.{domain.name}."][0].startswith(f"v=DMARC1; p={domain.dmarc};")
        assert any(t.startswith("v=spf1 ") for t in txt[f"{domain.name}."])


def test_dns_command_names_an_unknown_scenario_in_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dns", "no-such-thing"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no scenario called" in err


def test_knobs_change_the_records() -> None:
    topo = get("three-hops").build()
    org = topo.domains["example.org"]
    org.dkim_selector, org.dmarc = "2026a", "reject"
    view = TopologyDNS(topo)
    assert view.txt("2026a._domainkey.example.org")[0].startswith("v=DKIM1; k=rsa; p=")
    assert view.txt("mail._domainkey.example.org") == []
    assert view.txt("_dmarc.example.org") == ["v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.org"]
    org.dkim_selector, org.dmarc = None, None
    view = TopologyDNS(topo)
    assert view.txt("_dmarc.example.org") == [] and view.txt("2026a._domainkey.example.org") == []
    org.dmarc = "block"
    with pytest.raises(TopologyError, match="Unknown DMARC policy 'block'"):
        topo.check()


# -- SPF by pyspf, checked against RFC 7208's rule for address-only records -------------------------------

_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_NETS = st.sampled_from(["192.0.2.0/24", "192.0.2.25", "198.51.100.0/25", "203.0.113.64/26", "2001:db8::/32",
                         "2001:db8:1::/48", "10.0.0.0/8"])
_IPS = st.sampled_from(["192.0.2.25", "192.0.2.200", "198.51.100.5", "198.51.100.200", "203.0.113.99",
                        "2001:db8::1", "2001:db8:1::25", "10.1.2.3", "172.16.0.1"])


@st.composite
def _records(draw: st.DrawFn) -> list[tuple[str, str]]:
    terms = draw(st.lists(st.tuples(st.sampled_from("+-~?"), _NETS), max_size=5))
    return terms


@settings(max_examples=150, deadline=None)
@given(terms=_records(), final=st.sampled_from(["-all", "~all", "?all", ""]), ip=_IPS)
def test_spf_results_agree_with_rfc_7208_first_match(terms: list[tuple[str, str]], final: str, ip: str) -> None:
    """For records made of ip4/ip6 mechanisms, the first matching mechanism decides (RFC 7208 §4.6.2), and
    without a match the result is neutral (§4.7): pyspf over the topology's zones must agree."""
    parts = [f"{q}{'ip6' if ':' in net else 'ip4'}:{net}" for q, net in terms]
    record = " ".join(["v=spf1", *parts, *([final] if final else [])])
    topo = get("three-hops").build()
    topo.domains["example.org"].spf = record
    view = TopologyDNS(topo)
    expected = "neutral"
    address = ipaddress.ip_address(ip)
    for q, net in terms:
        network = ipaddress.ip_network(net, strict=False)
        if network.version == address.version and address in network:
            expected = _QUALIFIERS[q]
            break
    else:
        if final:
            expected = _QUALIFIERS[final[0]]
    assert view.spf(ip, "example.org")[0] == expected


def test_spf_follows_include_and_mx_from_the_zones() -> None:
    topo = get("forwarding").build()
    topo.domains["example.org"].spf = "v=spf1 mx include:alumni.university.example -all"
    view = TopologyDNS(topo)
    assert view.spf("192.0.2.25", "example.org") == ("pass", "mx")
    assert view.spf("198.51.100.200", "example.org")[0] == "pass"  # through the include
    assert view.spf("203.0.113.7", "example.org") == ("fail", "-all")
    topo.domains["example.org"].spf = "v=spf1 include:nowhere.example -all"
    assert TopologyDNS(topo).spf("192.0.2.25", "example.org")[0] == "permerror"
