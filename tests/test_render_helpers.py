"""Helpers for the rendering tests: hand-built topologies and journeys (independent of the simulator) and SVG readers.

Imported by test_render*.py and test_escape.py; holds no tests itself.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from conftest import need

from mailhops.journey import Hop, Journey, Lookup, Outcome
from mailhops.topology import Topology

T0 = datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)


def received(frm: str, ip: str, by: str, proto: str, qid: str, rcpt: str, when: datetime) -> str:
    return (f"Received: from {frm} ({frm} [{ip}])\r\n\tby {by} (Postfix) with {proto} id {qid}\r\n"
            f"\tfor <{rcpt}>; {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}")


def topology() -> Topology:
    t = Topology("three-hops", "alice@example.org writes to bob@example.net")
    t.add_domain("example.org")
    t.add_domain("example.net")
    t.add_server("laptop.example.org", "client", "192.0.2.10", domain="example.org")
    t.add_server("smtp.example.org", "submission", "192.0.2.25", domain="example.org")
    t.add_server("mx1.example.net", "mx", "198.51.100.25", domain="example.net", mx_preference=10)
    t.add_server("mx2.example.net", "mx", "198.51.100.26", domain="example.net", mx_preference=20, up=False)
    t.add_server("spam.example.net", "filter", "198.51.100.30", domain="example.net", spam_threshold=5.0)
    t.add_server("imap.example.net", "mailbox", "198.51.100.143", domain="example.net")
    t.link("laptop.example.org", "smtp.example.org")
    t.link("mx1.example.net", "spam.example.net")
    t.link("mx2.example.net", "spam.example.net")
    t.link("spam.example.net", "imap.example.net")
    t.add_user("alice@example.org", client="laptop.example.org")
    t.add_user("bob@example.net", mailbox="imap.example.net")
    return t


def hop(n: int, frm: str, frm_ip: str, by: str, proto: str, *, status: str = "accepted", decision: str = "",
        delay: float | None = 0.4, simulated: bool = True, rcpt: str = "bob@example.net") -> Hop:
    when = T0 + timedelta(seconds=n)
    return Hop(
        n=n, from_name=frm, ip=frm_ip, by_name=by, with_=proto, id=f"4ABC{n:03d}", for_=rcpt, date=when,
        helo=frm, rdns=frm, status=status, decision=decision, delay_s=delay,
        added_headers=[received(frm, frm_ip, by, proto, f"4ABC{n:03d}", rcpt, when)] if status == "accepted" else [],
        from_server=frm if simulated else None, by_server=by if simulated else None,
    )


def three_hops() -> Journey:
    """client -> submission -> mx1 -> filter -> mailbox, with the MX lookup that chose mx1."""
    hops = [
        hop(1, "laptop.example.org", "192.0.2.10", "smtp.example.org", "ESMTPSA"),
        hop(2, "smtp.example.org", "192.0.2.25", "mx1.example.net", "ESMTPS", delay=1.2),
        hop(3, "mx1.example.net", "198.51.100.25", "spam.example.net", "ESMTP"),
        hop(4, "spam.example.net", "198.51.100.30", "imap.example.net", "LMTP", delay=0.1),
    ]
    hops[2].added_headers.append("X-Spam-Status: No, score=0.3 required=5.0")
    return Journey(
        hops=hops,
        outcome=Outcome("delivered", "2.0.0", "Delivered to bob@example.net INBOX", mailbox="bob@example.net",
                        folder="INBOX", server="imap.example.net"),
        lookups=[Lookup("smtp.example.org", "example.net", "MX", ["10 mx1.example.net.", "20 mx2.example.net."],
                        "lowest preference first: mx1.example.net", before_hop=2)],
        scenario="three-hops-by-hand", envelope_from="alice@example.org", envelope_to="bob@example.net",
    )


def rejected_with_bounce() -> Journey:
    """The filter refuses at DATA; the sender's submission server bounces with MAIL FROM:<>."""
    j = three_hops()
    j.hops = j.hops[:2]
    j.attempts = [hop(3, "mx1.example.net", "198.51.100.25", "spam.example.net", "ESMTP", status="rejected",
                      decision="550 5.7.1 Message rejected as spam (score 9.2)")]
    j.outcome = Outcome("rejected", "5.7.1", "Rejected as spam", reply="550 5.7.1 Message rejected as spam")
    bounce_hop = hop(1, "smtp.example.org", "192.0.2.25", "imap.example.org", "LMTP", rcpt="alice@example.org")
    bounce_hop.envelope_from = ""
    j.bounce = Journey(hops=[bounce_hop], envelope_from="", envelope_to="alice@example.org",
                       outcome=Outcome("delivered", "2.0.0", "Bounce delivered", folder="INBOX",
                                       mailbox="alice@example.org"))
    return j


def fallback_deferred() -> Journey:
    """mx2 is down (unreachable) then mx1 defers with 4xx: the message waits in a queue."""
    j = three_hops()
    j.hops = j.hops[:1]
    j.attempts = [
        hop(2, "smtp.example.org", "192.0.2.25", "mx2.example.net", "ESMTP", status="unreachable",
            decision="connect to mx2.example.net[198.51.100.26]:25: Connection refused"),
        hop(2, "smtp.example.org", "192.0.2.25", "mx1.example.net", "ESMTP", status="deferred",
            decision="451 4.7.1 Please try again later"),
    ]
    j.outcome = Outcome("deferred", "4.7.1", "Deferred", server="smtp.example.org")
    return j


def forwarding_loop(rounds: int = 12) -> Journey:
    """Two forwarders send the message back and forth until one refuses it for too many hops."""
    a, b = "fwd.example.org", "fwd.example.com"
    hops = [hop(1, "laptop.example.org", "192.0.2.10", "smtp.example.org", "ESMTPSA"),
            hop(2, "smtp.example.org", "192.0.2.25", a, "ESMTP")]
    for n in range(3, 3 + rounds):
        frm, to = (a, b) if n % 2 else (b, a)
        hops.append(hop(n, frm, "203.0.113.5", to, "ESMTP"))
    last = 3 + rounds
    attempt = hop(last, b if last % 2 == 0 else a, "203.0.113.5", a if last % 2 == 0 else b, "ESMTP",
                  status="rejected", decision="554 5.4.0 Error: too many hops")
    return Journey(hops=hops, attempts=[attempt], outcome=Outcome("looped", "5.4.0", "Too many hops"),
                   scenario="loop-by-hand", envelope_from="alice@example.org", envelope_to="carol@example.com")


def analyzed() -> Journey:
    """A route parsed from a real message: no topology names, an unknown first host, missing dates."""
    h1 = Hop(1, from_name=None, ip="203.0.113.9", by_name="mail-sor-f41.google.com", with_="SMTPS", date=None,
             raw="from [203.0.113.9] by mail-sor-f41.google.com with SMTPS id x1; no date")
    h2 = Hop(2, from_name="mail-sor-f41.google.com", ip="209.85.220.41", by_name="mx.example.net", with_="ESMTPS",
             date=None, raw="from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41]) by mx.example.net")
    h3 = Hop(3, from_name="localhost", ip="127.0.0.1", by_name=None, with_="LMTP", date=None)
    return Journey(hops=[h1, h2, h3], source="analyzed")


# --------------------------------------------------------------------------- SVG helpers for the tests
SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(svg: str) -> ET.Element:
    """Parse the SVG text; raises ParseError when it is not well-formed XML."""
    return ET.fromstring(svg)


def classes(el: ET.Element) -> list[str]:
    return (el.get("class") or "").split()


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    """The <g> elements whose class list holds ``cls`` ("node", "edge", "hop", "server", ...)."""
    return [g for g in root.iter(f"{SVG}g") if cls in classes(g)]


def text_of(el: ET.Element) -> str:
    """All the text drawn inside ``el``, non-breaking spaces made plain."""
    return " ".join("".join(t.itertext()) for t in el.iter(f"{SVG}text")).replace("\xa0", " ")


def squeeze(text: str) -> str:
    """``text`` without any white space (wrapping and &#160; do not matter then)."""
    return "".join(text.split())


def stroke_width(el: ET.Element) -> float:
    widths = [float(p.get("stroke-width", "1")) for p in el.iter(f"{SVG}path")]
    return max(widths) if widths else 1.0


def strokes(el: ET.Element) -> set[str]:
    return {p.get("stroke") for p in el.iter(f"{SVG}path") if p.get("stroke")}


def effective_font_sizes(svg: str) -> dict[str, float]:
    """The smallest font size per font family, in points on the final page (after dot's scaling)."""
    root = parse_svg(svg)
    scale = 1.0
    for g in root.iter(f"{SVG}g"):
        match = re.search(r"scale\(([\d.]+)", g.get("transform") or "")
        if match:
            scale = float(match.group(1))
            break
    sizes: dict[str, float] = {}
    for t in root.iter(f"{SVG}text"):
        fam, size = t.get("font-family"), float(t.get("font-size")) * scale
        sizes[fam] = min(size, sizes.get(fam, size))
    return sizes


@pytest.fixture(autouse=True)
def _dot_guard(request: pytest.FixtureRequest) -> None:
    """Tests marked needs_dot skip (or fail in CI) when Graphviz dot is not installed."""
    if request.node.get_closest_marker("needs_dot"):
        need(shutil.which("dot") is not None, "Graphviz dot is not installed (sudo apt-get install graphviz)")
