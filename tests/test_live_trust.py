"""The live servers ask the loopback DNS for SPF policies, DKIM keys and DMARC policies (TXT records served over
UDP on 127.0.0.1), and conclude what the simulator concludes from the same zones."""

from __future__ import annotations

import pytest

from mailhops.dns import ResolverView, TopologyDNS
from mailhops.live.loopback_dns import LoopbackDNS
from mailhops.mta import trust
from mailhops.mta.smtp import Envelope, Session
from mailhops.scenarios import get, run_live


@pytest.mark.parametrize("name", ["forwarding", "forwarding-srs", "mailing-list", "dmarc-reject", "three-hops"])
def test_the_loopback_dns_gives_the_same_verdicts_as_the_zones(name: str) -> None:
    journey = get(name).run()
    topo = journey.topology
    zones = TopologyDNS(topo)
    with LoopbackDNS(zones) as server:
        asked = ResolverView(server.resolver())
        for hop in journey.hops:
            if hop.by_server is None or hop.ip is None:
                continue
            session = Session(client_ip=hop.ip, helo=hop.helo or hop.from_name or "",
                              client=topo.servers.get(hop.from_server or ""))
            envelope = Envelope(hop.envelope_from or "", hop.for_ or "")
            server_ = topo.server(hop.by_server)
            by_zones = trust.evaluate(topo, server_, session, envelope, journey.message, zones)
            by_udp = trust.evaluate(topo, server_, session, envelope, journey.message, asked)
            assert by_udp == by_zones, (name, hop.n)
        assert server.queries > 0


def test_a_dns_server_that_does_not_answer_gives_temperror_not_fail() -> None:
    journey = get("forwarding").run()
    topo = journey.topology
    with LoopbackDNS(TopologyDNS(topo)) as server:
        resolver = server.resolver(timeout=0.2)
    view = ResolverView(resolver)  # the server has stopped: every question times out
    checks = trust._check_dkim(journey.message, view)
    assert [c.result for c in checks] == ["temperror"]
    assert view.spf("198.51.100.200", "example.org")[0] == "temperror"
    assert view.dmarc_txt("_dmarc.example.org") is None


def test_live_servers_ask_the_loopback_dns_for_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str]] = []
    answers = ResolverView.answers

    def counting(self: ResolverView, name: str, rdtype: str) -> list:
        asked.append((name.rstrip("."), rdtype))
        return answers(self, name, rdtype)

    monkeypatch.setattr(ResolverView, "answers", counting)
    journey = run_live("forwarding", timeout=30)
    assert journey.outcome.kind == "delivered"
    assert ("mail._domainkey.example.org", "TXT") in asked  # the DKIM key (dkimpy asks once: checks are cached)
    assert ("_dmarc.example.org", "TXT") in asked
    assert any(rdtype == "TXT" and name == "example.org" for name, rdtype in asked)  # the SPF policy
    results = " ".join(" ".join(str(v).split()) for v in journey.final_message().get_all("Authentication-Results"))
    assert "mx.example.net; dkim=pass" in results and "mx.example.net; spf=fail" in results
