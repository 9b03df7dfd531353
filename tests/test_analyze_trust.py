"""The analyzer reads trust back: DKIM signatures, the ARC chain, each hop's Authentication-Results, which to
trust (Microsoft 365 writes no authserv-id), and ``analyze --verify`` against live DNS (never reached here)."""

from __future__ import annotations

import json
from pathlib import Path

import dns.resolver
import pytest

from mailhops.cli import main
from mailhops.dns import dns_for
from mailhops.errors import DNSLookupError
from mailhops.mta import signatures, trust
from mailhops.mta.smtp import Envelope, Session
from mailhops.read import analyze
from mailhops.read.analyze import journey_table
from mailhops.scenarios import get, names


def _final_checker(journey):  # noqa: ANN001, ANN202
    """The last hop that wrote Authentication-Results (the final MX), or None."""
    return next((h for h in reversed(journey.hops)
                 if any(f.startswith("Authentication-Results:") for f in h.added_headers)), None)


@pytest.mark.parametrize("name", names())
def test_the_analyzer_reads_back_what_the_final_mx_concluded(name: str) -> None:
    """simulate -> final message -> analyze gives the SPF, DKIM, DMARC and ARC results that the libraries
    (pyspf, dkimpy, authheaders) give again, independently, for the connection of the final MX."""
    journey = get(name).run()
    hop = _final_checker(journey)
    auth = analyze(journey.message).auth
    if hop is None:  # refused or never delivered: nobody on the receiving side wrote results
        assert auth["results"] == [] and auth["trusted_hop"] is None
        return
    topo = journey.topology
    server = topo.server(hop.by_server)
    client = topo.servers.get(hop.from_server or "")
    session = Session(client_ip=hop.ip or "", helo=hop.helo or hop.from_name or "", client=client)
    verdict = trust.evaluate(topo, server, session, Envelope(hop.envelope_from or "", hop.for_ or ""), journey.message)
    assert auth["trusted_hop"] == hop.n, (name, auth["by_hop"])
    assert auth["spf"] == verdict.spf
    assert auth["dmarc"] == verdict.dmarc
    if auth["arc"] is not None or (verdict.arc.result != "none" and server.mta in ("gmail", "exim", "postfix")):
        assert auth["arc"] == verdict.arc.result
    trusted_dkim = [r for r in auth["results"] if r["method"] == "dkim"]
    for written in trusted_dkim:
        d = (written["properties"].get("header.d") or written["properties"].get("header.i", "")).lstrip("@")
        check = verdict.dkim_for(d)
        assert check is not None, (name, d)
        expected = "neutral" if check.reason == "body hash did not verify" and server.mta == "gmail" else check.result
        assert written["result"] == expected, (name, d)
    assert len(auth["dkim_signatures"]) == len(verdict.dkim)
    for sig, check in zip(auth["dkim_signatures"], verdict.dkim, strict=True):
        assert (sig["d"], sig["s"], sig["a"]) == (check.domain, check.selector, check.algorithm)
        assert "from" in sig["h"]


def test_the_mailing_list_arc_chain_is_read() -> None:
    auth = analyze(get("mailing-list").run().message).auth
    assert auth["arc_chain"] == {"structure": "well-formed", "instances": 1, "cv": "none",
                                 "sealers": ["lists.example.com"], "problems": []}
    assert auth["arc_sets"][0]["authserv_id"] == "lists.example.com"
    assert [s["d"] for s in auth["dkim_signatures"]] == ["lists.example.com", "example.org"]
    text = journey_table(analyze(get("mailing-list").run().message))
    assert "ARC chain: 1 set (i=1 sealed by lists.example.com cv=none), well formed" in text
    assert "<- trusted" in text


def test_a_broken_arc_chain_is_said_so() -> None:
    raw = get("mailing-list").run().message
    head, _, body = raw.partition(b"\r\n\r\n")
    without_seal = b"\r\n".join(f for f in signatures._FIELD_SPLIT.split(head) if not f.lower().startswith(b"arc-seal:"))
    chain = analyze(without_seal + b"\r\n\r\n" + body).auth["arc_chain"]
    assert chain["structure"] == "fail" and "arc-seal" in chain["problems"][0]


M365 = Path(__file__).parent / "data" / "m365_no_authserv_id.eml"


def test_microsoft_365_results_without_authserv_id_are_trusted() -> None:
    """Microsoft 365 hands mail from protection.outlook.com to office365.com to outlook.com: one organisation;
    its Authentication-Results has no authserv-id and belongs to the hop just below it."""
    auth = analyze(M365).auth
    assert (auth["spf"], auth["dkim"], auth["dmarc"]) == ("pass", "pass", "pass")
    assert auth["trusted_authserv_id"] is None and auth["untrusted"] == []
    assert auth["trusted_by"] == "bn1pepf00004680.mail.protection.outlook.com" and auth["trusted_hop"] == 2
    assert auth["conclusion"].startswith("bn1pepf00004680.mail.protection.outlook.com (no authserv-id")
    assert auth["arc_sets"][0]["d"] == "microsoft.com" and auth["arc_sets"][0]["authserv_id"] == "mx.microsoft.com"
    assert auth["dkim_signatures"][0]["s"] == "google"


def test_hybrid_exchange_takes_microsoft_365_results_as_its_own() -> None:
    on_prem = (b"Received: from SA1PR11MB8523.namprd11.prod.outlook.com (2603:10b6:806:3a7::18) by\r\n"
               b" EXCH01.corp.contoso.com (10.1.1.5) with Microsoft SMTP Server (version=TLS1_2,\r\n"
               b" cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1544.14; Mon, 2 Mar 2026 09:00:09 +0000\r\n")
    auth = analyze(on_prem + M365.read_bytes()).auth
    assert auth["receiving_domain"] == "contoso.com" and auth["dmarc"] == "pass"
    assert "hybrid" in auth["note"]
    # a Postfix server of the organisation is not fed by Microsoft 365's transport: nothing is taken from it
    postfix = on_prem.replace(b"with Microsoft SMTP Server", b"(Postfix) with ESMTPS")
    assert analyze(postfix + M365.read_bytes()).auth["dmarc"] is None


def test_simulated_exchange_mx_results_are_attributed_to_it() -> None:
    topo = get("forwarding").build()
    topo.server("mx.example.net").mta = "exchange"
    auth = analyze(get("forwarding").run(topology=topo).message).auth
    assert auth["trusted_by"] == "mx.example.net" and auth["trusted_authserv_id"] is None
    assert (auth["spf"], auth["dkim"], auth["dmarc"]) == ("fail", "pass", "pass")
    assert auth["conclusion"].startswith("mx.example.net (no authserv-id, as Microsoft 365 writes it) concluded")


def test_verify_checks_simulated_signatures_against_the_zones() -> None:
    journey = get("mailing-list").run()
    out = trust.verify_signatures(journey.message.replace(b"\r\n", b"\n"), dns_for(journey.topology).dkim_txt)
    assert [(d["domain"], d["result"]) for d in out["dkim"]] == [("lists.example.com", "pass"), ("example.org", "fail")]
    assert out["arc"]["result"] == "pass" and out["arc"]["sealer"] == "lists.example.com"


def test_verify_never_concludes_from_a_failed_lookup() -> None:
    def unreachable(name: bytes, timeout: float = 5) -> bytes | None:
        raise DNSLookupError("The TXT look-up failed (Timeout).")

    out = trust.verify_signatures(get("three-hops").run().message, unreachable)
    assert [d["result"] for d in out["dkim"]] == ["temperror"]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver fails at once with NXDOMAIN, as it does on a machine without the Internet."""
    def nxdomain(self, qname, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise dns.resolver.NXDOMAIN()

    monkeypatch.setattr(dns.resolver.Resolver, "resolve", nxdomain)


@pytest.mark.usefixtures("offline")
def test_analyze_verify_offline_says_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(M365), "--verify"]) == 0
    out = capsys.readouterr().out
    line = next(li for li in out.splitlines() if li.startswith("Verification (live DNS):"))
    assert line.endswith("this machine seems to be offline, so the signatures were not checked.")
    assert main(["analyze", str(M365), "--verify", "--format", "json"]) == 0
    verification = json.loads(capsys.readouterr().out)["auth"]["verification"]
    assert verification["status"] == "offline" and "fail" not in json.dumps(verification)
