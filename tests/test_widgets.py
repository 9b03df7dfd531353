"""Widget behaviour without a kernel: set widget values, then look at the state and outputs they produce."""

from __future__ import annotations

import base64
import html
import re
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops import scenarios as sc
from mailhops import widgets as w
from mailhops.draw import frame_steps
from mailhops.errors import DNSLookupError
from mailhops.mta.headers import count_hops
from mailhops.topology import ROLES
from mailhops.widgets import mx_lookup

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs the Graphviz dot binary")
ALL = sc.names()


def _classes(svg: str) -> list[tuple[str, set[str]]]:
    """(element id, classes) of every group in an SVG drawn by Graphviz."""
    return [(html.unescape(i), set(html.unescape(c).split()))
            for i, c in re.findall(r'<g id="([^"]*)" class="([^"]*)"', svg)]


def lit_steps(svg: str) -> set[str]:
    """The step numbers of the highlighted edges of a journey diagram."""
    out = set()
    for _id, classes in _classes(svg):
        if "edge" in classes and "highlight" in classes:
            out |= {c[len("step-"):] for c in classes if c.startswith("step-")}
    return out


def svg_of(view: w.DiagramView) -> str:
    (output,) = view.outputs
    assert output["output_type"] == "display_data"
    return output["data"]["image/svg+xml"]


def trace_fields(journey, upto: int) -> list[str]:
    """The fields hops 1..upto added, newest first: what the header view must show above the original."""
    out = []
    for hop in sorted((h for h in journey.hops if h.n <= upto), key=lambda h: -h.n):
        out += [f.replace("\r\n", "\n") for f in hop.added_headers]
    return out


# ------------------------------------------------------------------------------------- headers_at
@pytest.mark.parametrize("name", ALL)
def test_headers_at_each_step_are_exactly_the_hops_so_far_newest_on_top(name: str) -> None:
    journey = sc.run(name)
    for step in [s for s in frame_steps(journey) if isinstance(s, int)]:
        lines = w.headers_at(journey, step)
        trace = [line.text for line in lines if line.kind == "trace"]
        assert trace == trace_fields(journey, step)
        assert {line.hop for line in lines if line.new} <= {step}
        assert all(line.new == (line.hop == step) for line in lines if line.kind == "trace")
        # trace lines sit on top of the sender's own fields, never below them
        kinds = [line.kind for line in lines]
        assert kinds == sorted(kinds, key=lambda k: k != "trace")


@pytest.mark.parametrize("name", ALL)
def test_original_fields_are_what_the_mail_program_wrote(name: str) -> None:
    journey = sc.run(name)
    original = [line.text for line in w.headers_at(journey, 0)]
    assert all(line.kind == "original" for line in w.headers_at(journey, 0))
    names = [f.split(":", 1)[0].lower() for f in original]
    assert {"from", "to", "subject", "date", "message-id"} <= set(names)
    assert "received" not in names and "return-path" not in names
    # the final message is exactly: every hop's fields (newest first) on top of the original ones
    last = max((h.n for h in journey.hops), default=0)
    assert w.header_fields(journey.message) == trace_fields(journey, last) + original


def test_bounce_steps_show_the_bounce_message() -> None:
    journey = sc.run("spam-rejected")
    lines = w.headers_at(journey, "B1")
    assert [line.hop for line in lines if line.kind == "trace"] == ["B1"] * len(journey.bounce.hops[0].added_headers)
    original = [line.text for line in lines if line.kind == "original"]
    assert any(f.startswith("Content-Type: multipart/report") for f in original)
    assert any(f.startswith("From: MAILER-DAEMON@") and "(Mail Delivery System)" in f for f in original)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(ALL), data=st.data())
def test_header_view_grows_by_one_hop_per_step(name: str, data: st.DataObject) -> None:
    """Invariant: stepping from k-1 to k adds exactly hop k's fields on top and keeps the rest in order."""
    journey = sc.run(name)
    numbers = sorted({h.n for h in journey.hops})
    if not numbers:
        return
    k = data.draw(st.sampled_from(numbers))
    before = [line.text for line in w.headers_at(journey, k - 1)]
    after = [line.text for line in w.headers_at(journey, k)]
    new = [line.text for line in w.headers_at(journey, k) if line.new]
    assert after == new + before
    hop = next(h for h in journey.hops if h.n == k)
    assert new == [f.replace("\r\n", "\n") for f in hop.added_headers]
    assert sum(1 for f in new if f.lower().startswith("received:")) == 1


def test_header_html_marks_the_new_lines() -> None:
    view = w.HeaderView()
    journey = sc.run("three-hops")
    view.show(journey, 2)
    assert "mailhops-headers" in view._dom_classes
    names = [field.split(":", 1)[0] for field in journey.hops[1].added_headers]
    # at the MX: Received, policyd-spf's Received-SPF, and the A-R lines of the Postfix stack (SPF, DKIM, DMARC)
    assert sorted(names) == ["Authentication-Results"] * 3 + ["Received", "Received-SPF"]
    added = len(names)
    assert view.value.count("mh-new") == added and 'data-hop="2"' in view.value
    assert "by mx.example.net" in html.unescape(view.value)
    assert "by imap.example.net" not in html.unescape(view.value)


# ------------------------------------------------------------------------------------- HopStepper
@needs_dot
@pytest.mark.parametrize("name", ["three-hops", "mx-fallback", "spam-accept-then-bounce", "enterprise"])
def test_stepper_highlights_hop_k_and_shows_headers_of_hops_1_to_k(name: str) -> None:
    journey = sc.run(name)
    stepper = w.HopStepper(journey)
    assert stepper.step is None and stepper.shown_hops == []
    assert lit_steps(svg_of(stepper.diagram)) == set()
    steps = frame_steps(journey)
    for index, step in enumerate(steps, start=1):
        stepper.slider.value = index
        assert stepper.highlighted == step
        assert lit_steps(svg_of(stepper.diagram)) == {str(step)}
        if isinstance(step, int):
            shown = [line.text for line in stepper.headers.lines if line.kind == "trace"]
            assert shown == trace_fields(journey, step)
            expected = sorted({h.n for h in journey.hops if h.n <= step}, reverse=True)
            assert stepper.shown_hops == expected
        else:
            assert set(stepper.shown_hops) <= {f"B{n}" for n in range(1, int(step[1:]) + 1)}
        assert f"Step {index} of {len(steps)}" in stepper.caption.value


@needs_dot
def test_step_button_and_back_button_move_one_hop_and_wrap_at_the_end() -> None:
    journey = sc.run("three-hops")
    stepper = w.HopStepper(journey)
    assert "mailhops-step" in stepper.step_button._dom_classes
    before = (stepper.diagram.svg, stepper.headers.value)
    stepper.step_button.click()
    assert stepper.slider.value == 1
    assert stepper.diagram.svg != before[0] and stepper.headers.value != before[1]
    stepper.step_button.click()
    stepper.step_button.click()
    assert stepper.slider.value == 3 and stepper.step_button.description == "Again"
    stepper.step_button.click()
    assert stepper.slider.value == 0
    stepper.back.click()
    assert stepper.slider.value == 0
    stepper.play.value = 2  # the Play widget drives the slider
    assert stepper.slider.value == 2 and stepper.highlighted == 2


@needs_dot
def test_smtp_tab_shows_the_dialogue_of_the_hop() -> None:
    journey = sc.run("mx-fallback")
    stepper = w.HopStepper(journey, step=2)
    text = html.unescape(stepper.smtp.value)
    assert "Connection refused" in text  # the failed attempt on mx1 ...
    assert "RCPT TO:&lt;bob@example.net&gt;" in stepper.smtp.value  # ... and the dialogue with mx2
    assert "mx2.example.net" in text and "AUTH PLAIN" not in text
    stepper.slider.value = 1
    assert "AUTH PLAIN" in stepper.smtp.value


def test_diagram_view_output_is_svg_display_data() -> None:
    view = w.DiagramView()
    assert "mailhops-diagram" in view._dom_classes
    view.draw(sc.get("three-hops").build())
    (out,) = view.outputs
    if shutil.which("dot"):
        assert out["data"]["image/svg+xml"].lstrip().startswith("<?xml")
    else:  # without Graphviz: a friendly sentence and the DOT source, never a traceback
        assert "Cannot draw" in out["data"]["text/html"]


# ------------------------------------------------------------------------------------- knobs / explorer
def test_every_knob_changes_the_journey_where_it_is_offered() -> None:
    base, _ = w.run_with("three-hops")
    assert base.outcome.kind == "delivered"
    assert w.run_with("three-hops", w.Knobs(primary_mx_down=True))[0].outcome.kind == "deferred"
    assert w.run_with("mx-fallback", w.Knobs(primary_mx_down=False))[0].attempts == []
    spam = {a: w.run_with("three-hops", w.Knobs(spammy=True, spam=a))[0].outcome.kind for a in ("reject", "bounce",
                                                                                                  "drop", "junk")}
    assert spam == {"reject": "rejected", "bounce": "bounced", "drop": "dropped", "junk": "junk"}
    assert w.run_with("spam-rejected", w.Knobs(spam="off"))[0].outcome.kind == "delivered"
    assert w.run_with("spam-rejected", w.Knobs(spammy=False))[0].outcome.kind == "delivered"
    fwd, topo = w.run_with("three-hops", w.Knobs(forwarder=True))
    assert [h.by_name for h in fwd.hops][1] == "mx.alumni.university.example" and fwd.outcome.kind == "delivered"
    assert len(fwd.hops) == len(base.hops) + 1
    looped, _ = w.run_with("forwarding-loop", w.Knobs(hop_limit=10))
    assert looped.outcome.kind == "looped" and count_hops(looped.message) < 10
    carol, _ = w.run_with("migration", w.Knobs(recipient="carol@example.net"))
    assert carol.hops[-1].by_name == "mbx2016.example.net"


def test_knob_defaults_reproduce_each_scenario() -> None:
    for name in ALL:
        scenario = sc.get(name)
        journey, _ = w.run_with(name, w.scenario_defaults(scenario))
        assert (journey.outcome.kind, journey.outcome.status) == (scenario.expected, scenario.expected_status), name
        assert journey.message == sc.run(name).message


@needs_dot
def test_explorer_scenario_change_draws_a_new_diagram_and_headers() -> None:
    ex = w.ScenarioExplorer("three-hops")
    first = (ex.stepper.diagram.svg, ex.stepper.headers.value)
    ex.picker.value = "enterprise"
    assert ex.journey.scenario == "enterprise"
    assert ex.stepper.diagram.svg != first[0] and "hub.example.net" in ex.stepper.diagram.svg
    assert ex.stepper.headers.value != first[1]
    assert ex.stepper.shown_hops == list(range(len(ex.journey.hops), 0, -1))  # after a change: the whole journey
    assert ex.recipient.layout.display == ""  # enterprise has sales@ and bob@
    ex.picker.value = "deferred"
    assert ex.spam.layout.display == "none" and ex.mx_down.value is True


@needs_dot
def test_explorer_toggles_rerun_the_simulation() -> None:
    ex = w.ScenarioExplorer("three-hops")
    ex.mx_down.value = True
    assert ex.journey.outcome.kind == "deferred" and "DOWN" in ex.stepper.diagram.svg
    ex.mx_down.value = False
    ex.spammy.value = True
    ex.spam.value = "reject"
    assert ex.journey.outcome.kind == "rejected" and ex.journey.bounce is not None
    ex.spam.value = "off"
    assert ex.journey.outcome.kind == "delivered"
    ex.limit_on.value = True
    ex.hop_limit.value = 2
    assert ex.journey.outcome.kind == "looped"
    ex.limit_on.value = False
    assert ex.hop_limit.disabled and ex.journey.outcome.kind == "delivered"
    ex.picker.value = "unknown-user"
    ex.recipient.value = "bob@example.net"
    assert ex.journey.outcome.kind == "delivered"


@needs_dot
def test_explorer_flips_to_real_servers_and_back() -> None:
    ex = w.ScenarioExplorer("three-hops")
    simulated = ex.journey
    assert ex.delivered_box.layout.display == "none"
    ex.transport.value = "live"
    live = ex.journey
    assert live.source == "live" and live.outcome.kind == "delivered"
    assert [h.by_server for h in live.hops] == [h.by_server for h in simulated.hops]
    assert [h.with_ for h in live.hops] == [h.with_ for h in simulated.hops]
    assert any(line.text.startswith("220 mx.example.net") for line in live.hops[1].smtp)  # a real greeting
    # the delivered message is shown as read back from the Maildir: Dovecot's Return-Path and the real Received lines
    assert ex.delivered_box.layout.display == ""
    assert ex.delivered.value.startswith("Return-Path: <alice@example.org>")
    assert ex.delivered.value.count("Received: ") == len(live.hops)
    # each live server has its own loopback address (127.0.0.2, ...): the Received lines show what it really saw
    assert re.search(r"\[127\.0\.0\.\d+\]", ex.delivered.value) and "real SMTP servers" in ex.message.value
    ex.mx_down.value = True  # the knobs keep working on real servers: the only MX is stopped, so the message waits
    assert ex.journey.source == "live" and ex.journey.outcome.kind == "deferred"
    assert ex.delivered_box.layout.display == "none"
    ex.transport.value = "simulate"
    assert ex.journey.source != "live" and ex.journey.outcome.kind == "deferred" and ex.message.value == ""


# ------------------------------------------------------------------------------------- builder
def test_builder_invalid_input_shows_a_sentence_and_never_raises() -> None:
    b = w.TopologyBuilder(None)
    b.domain_name.value = "not a domain!"
    assert b.add_domain() is False
    assert b.error and "not a valid host name" in b.error
    b.server_name.value, b.server_ip.value = "mx.example.com", "999.1.1.1"
    assert b.add_server() is False and "not an IP address" in b.error
    assert b.set_mx() is False and "Add a domain first" in b.error
    assert b.add_link() is False and "Add two servers first" in b.error
    b.user_address.value = "nobody"
    assert b.add_user() is False and "not an e-mail address" in b.error
    assert b.send() is False and "Nobody can send yet" in b.error
    b.domain_name.value = "example.com"
    assert b.add_domain() is True and b.error is None
    b.mx_domain.value = "example.com"
    b.server_domain.value = "example.com"
    b.server_ip.value = "203.0.113.25"
    assert b.add_server() is True
    b.mx_server.value = "mx.example.com"
    b.mx_pref.value = 70000
    assert b.set_mx() is False and "0 to 65535" in b.error
    b.link_from.value = b.link_to.value = "mx.example.com"
    assert b.add_link() is False and "loop" in b.error


@needs_dot
def test_builder_makes_a_topology_that_delivers() -> None:
    b = w.TopologyBuilder(None)
    steps = [
        ("domain", {"domain_name": "example.com"}),
        ("domain", {"domain_name": "example.net"}),
        ("server", {"server_name": "pc.example.com", "server_role": "client", "server_ip": "203.0.113.7",
                    "server_domain": "example.com"}),
        ("server", {"server_name": "smtp.example.com", "server_role": "submission", "server_ip": "203.0.113.25",
                    "server_domain": "example.com"}),
        ("server", {"server_name": "mx.example.net", "server_role": "mx", "server_ip": "198.51.100.25",
                    "server_domain": "example.net"}),
        ("server", {"server_name": "imap.example.net", "server_role": "mailbox", "server_ip": "198.51.100.143",
                    "server_domain": "example.net"}),
        ("mx", {"mx_domain": "example.net", "mx_server": "mx.example.net", "mx_pref": 10}),
        ("link", {"link_from": "pc.example.com", "link_to": "smtp.example.com"}),
        ("link", {"link_from": "mx.example.net", "link_to": "imap.example.net"}),
        ("user", {"user_address": "dave@example.com", "user_client": "pc.example.com"}),
        ("user", {"user_address": "erin@example.net", "user_mailbox": "imap.example.net", "user_client": ""}),
    ]
    actions = {"domain": b.add_domain, "server": b.add_server, "mx": b.set_mx, "link": b.add_link, "user": b.add_user}
    for kind, values in steps:
        for attr, value in values.items():
            getattr(b, attr).value = value
        assert actions[kind](), (kind, b.status.value)
        if kind == "mx":
            assert "example.net now has the record MX 10 mx.example.net" in b.status.value
    assert b.topology.users["erin@example.net"].client is None
    b.send_from.value = "dave@example.com"
    b.send_to.value = "erin@example.net"
    assert b.send(), b.status.value
    assert b.journey.outcome.kind == "delivered"
    assert [h.by_name for h in b.journey.hops] == ["smtp.example.com", "mx.example.net", "imap.example.net"]
    assert b.stepper.layout.display == "" and lit_steps(svg_of(b.stepper.diagram)) == {"3"}
    b.send_to.value = "nobody@example.net"
    assert b.send() and b.journey.outcome.kind == "rejected"
    b.user_address.value, b.user_forward.value = "erin@example.net", "dave@example.com"
    assert b.add_user() and b.topology.users["erin@example.net"].forward_to == "dave@example.com"


def test_builder_starts_from_a_scenario() -> None:
    b = w.TopologyBuilder("forwarding")
    assert "mx.alumni.university.example" in b.topology.servers
    assert b.send_to.value == "bob@alumni.university.example" and b.send_from.value == "alice@example.org"
    b.start_from.value = ""
    assert b.topology.servers == {}


# ------------------------------------------------------------------------------------- MX and live lookups
def test_mx_order_text_follows_preferences_and_down_servers() -> None:
    topo = sc.get("mx-fallback").build()
    topo.server("mx1.example.net").up = True
    text = w.mx_order_text(topo, "example.net")
    assert "1. mx1.example.net (preference 10): answers" in text and "mx2.example.net (preference 20): not needed" in text
    both = w.mx_order_text(topo, "example.net", down=["mx1.example.net", "mx2.example.net"])
    assert "Nobody answers" in both


def test_mx_panel_reacts_to_domain_and_down_servers() -> None:
    panel = w.MXLookupPanel("mx-fallback")
    assert panel.domain.value == "example.net" and panel.down.value == ("mx1.example.net",)
    assert "MX 10 mx1.example.net." in html.unescape(panel.zone.value)
    assert "mx2.example.net (preference 20): answers" in html.unescape(panel.answer.value)
    panel.down.value = ()  # bring mx1 back
    assert "mx1.example.net (preference 10): answers" in html.unescape(panel.answer.value)
    panel.scenario.value = "three-hops"
    assert panel.down.options == ("mx.example.net",)
    panel.down.value = ("mx.example.net",)
    assert "Nobody answers" in html.unescape(panel.answer.value)


def test_live_lookup_failure_is_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(domain: str, **_kw: object) -> list:
        raise DNSLookupError(f"The MX look-up for {domain} timed out after 2 s; this machine may be offline.")

    monkeypatch.setattr(mx_lookup, "live_mx", offline)
    panel = w.MXLookupPanel()
    panel.live_domain.value = "gmail.com"
    panel.live_lookup()
    assert "timed out" in panel.live_result.value and "mailhops-error" in panel.live_result.value
    panel.live_domain.value = "  "
    panel.live_lookup()
    assert "Type a domain name first" in panel.live_result.value


def test_live_lookup_success_lists_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mx_lookup, "live_mx", lambda domain, **kw: [(5, "a.mx.example"), (10, "b.mx.example")])
    text = w.live_lookup_text("example.com")
    assert text.index("a.mx.example") < text.index("b.mx.example") and "MX   5" in text
    monkeypatch.setattr(mx_lookup, "live_mx", lambda domain, **kw: [(0, "")])
    assert "null MX" in w.live_lookup_text("example.com")


# ------------------------------------------------------------------------------------- export, app, figures
@needs_dot
def test_export_gives_svg_png_and_deck_download_links() -> None:
    stepper = w.HopStepper(sc.run("three-hops"), step=2)
    stepper.export.export()
    links = re.findall(r'download="([^"]+)" href="data:([^;]+);base64,([^"]+)"', stepper.export.links.value)
    assert [(name, mime) for name, mime, _ in links] == [
        ("three-hops.svg", "image/svg+xml"), ("three-hops.png", "image/png"),
        ("three-hops.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation")]
    assert base64.b64decode(links[2][2]).startswith(b"PK")  # a deck is a zip file
    exported = base64.b64decode(links[0][2]).decode()
    assert exported.lstrip().startswith("<?xml") and lit_steps(exported) == lit_steps(stepper.diagram.svg) == {"2"}
    assert base64.b64decode(links[1][2]).startswith(b"\x89PNG")
    empty = w.ExportPanel(w.DiagramView())
    empty.export()
    assert "no diagram" in empty.links.value


@needs_dot
def test_app_composes_the_three_tools() -> None:
    app = w.app()
    assert app.tabs.titles == ("Scenario explorer", "Build your own")
    assert w.App(mx_lookup=True).tabs.titles == ("Scenario explorer", "Build your own", "MX look-up")
    assert app.explorer.stepper.diagram.svg and app.builder.diagram.svg


@needs_dot
def test_email_vs_xmpp_draws_both_sides() -> None:
    svg = w.diagram(w.email_vs_xmpp()).svg()
    assert "mx.example.net" in svg and "xmpp.example.net" in svg and "store and forward" in svg


# ------------------------------------------------------------------------------------- analyse a real message
@needs_dot
def test_analyze_panel_shows_the_route_of_pasted_headers() -> None:
    simulated = sc.run("enterprise")
    panel = w.AnalyzePanel()
    assert panel.analyze() is False and "Paste the headers" in panel.status.value
    panel.text.value = "Subject: no trace here\n\nhello"
    assert panel.analyze() is False and "No route to show" in panel.status.value
    panel.text.value = simulated.message.decode()
    assert panel.analyze() is True
    assert [h.by_name for h in panel.journey.hops] == [h.by_name for h in simulated.hops]
    assert "lists.example.net" in html.unescape(panel.table.value)
    panel.stepper.slider.value = 1
    assert panel.stepper.shown_hops == [1] and lit_steps(svg_of(panel.stepper.diagram)) == {"1"}


def test_headers_of_an_analyzed_message_are_grouped_by_the_received_below_them() -> None:
    from mailhops.read.analyze import analyze

    text = ("Delivered-To: bob@example.net\n"
            "Received: from mx.example.net by imap.example.net with LMTP; Mon, 2 Mar 2026 09:00:09 +0000\n"
            "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org\n"
            "Received: from smtp.example.org (smtp.example.org [192.0.2.25])\n"
            "\tby mx.example.net with ESMTPS; Mon, 2 Mar 2026 09:00:05 +0000\n"
            "Subject: hi\nFrom: alice@example.org\n\nbody\n")
    journey = analyze(text)
    hop1 = [(line.hop, line.text.split(":")[0]) for line in w.headers_at(journey, 1)]
    assert hop1 == [(1, "Authentication-Results"), (1, "Received"), (None, "Subject"), (None, "From")]
    hop2 = [line.hop for line in w.headers_at(journey, 2) if line.new]
    assert hop2 == [2, 2] and w.headers_at(journey, 2)[0].text.startswith("Delivered-To")


@needs_dot
def test_tall_diagrams_stand_beside_the_headers() -> None:
    stepper = w.HopStepper(sc.run("three-hops"))
    assert not stepper.tall and stepper.body.layout.flex_flow == "column"
    stepper.set_journey(sc.run("enterprise"))
    assert stepper.tall and stepper.body.layout.flex_flow == "row" and stepper.diagram.layout.width == "45%"


_NAMES = st.sampled_from(["example.com", "example.net", "mx.example.net", "imap.example.net", "pc.example.com",
                          "bad name", "", "x", "mx2.example.net"])
_IPS = st.sampled_from(["192.0.2.1", "198.51.100.2", "203.0.113.3", "nope", "", "2001:db8::1"])
_ADDRS = st.sampled_from(["a@example.com", "b@example.net", "c@example.net", "bad", ""])
_ACTIONS = st.one_of(
    st.tuples(st.just("domain"), _NAMES, st.booleans()),
    st.tuples(st.just("server"), _NAMES, st.sampled_from(sorted(ROLES)), _IPS, st.booleans()),
    st.tuples(st.just("mx"), st.integers(-5, 70000)),
    st.tuples(st.just("link"), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("user"), _ADDRS, st.integers(0, 5), st.integers(0, 5), _ADDRS),
    st.tuples(st.just("send"), st.integers(0, 5), _ADDRS),
    st.tuples(st.just("start"), st.sampled_from(["", "three-hops", "forwarding-loop"])),
)


def _pick(dropdown, i: int) -> None:  # noqa: ANN001
    options = list(dropdown.options)
    if options:
        option = options[i % len(options)]
        dropdown.value = option[1] if isinstance(option, tuple) else option


@settings(max_examples=40, deadline=None)
@given(st.lists(_ACTIONS, max_size=20))
def test_builder_never_raises_whatever_is_typed(actions: list[tuple]) -> None:
    """Invariant: any sequence of form entries and button presses ends in a sentence, never an exception."""
    b = w.TopologyBuilder(None)
    for kind, *args in actions:
        if kind == "domain":
            b.domain_name.value, b.domain_null.value = args
            ok = b.add_domain()
        elif kind == "server":
            b.server_name.value, b.server_role.value, b.server_ip.value, b.server_down.value = args
            _pick(b.server_domain, len(args[0]))
            ok = b.add_server()
        elif kind == "mx":
            _pick(b.mx_domain, args[0])
            _pick(b.mx_server, args[0] // 7)
            b.mx_pref.value = args[0]
            ok = b.set_mx()
        elif kind == "link":
            _pick(b.link_from, args[0])
            _pick(b.link_to, args[1])
            ok = b.add_link()
        elif kind == "user":
            b.user_address.value, b.user_forward.value = args[0], args[3]
            _pick(b.user_mailbox, args[1])
            _pick(b.user_client, args[2])
            ok = b.add_user()
        elif kind == "send":
            _pick(b.send_from, args[0])
            b.send_to.value = args[1]
            ok = b.send()
        else:
            b.start_from.value = args[0]
            continue
        assert (b.error is None) == ok, b.status.value
        if not ok:
            assert b.error.endswith((".", ")")) and "Traceback" not in b.error


# ------------------------------------------------------------------------------ views and alt text (issue 15)
@needs_dot
def test_explorer_switches_between_route_sequence_and_header_stack() -> None:
    ex = w.ScenarioExplorer("three-hops")
    ex.stepper.slider.value = 2
    drawn = {}
    for view in ("journey", "sequence", "headers", "journey"):
        ex.view.value = view
        svg = ex.stepper.diagram.svg
        kinds = {c for _id, classes in _classes(svg) for c in classes}
        drawn[view] = kinds
        assert ex.stepper.step == 2  # the same step, drawn another way
    assert "server" in drawn["journey"] and "lifeline" not in drawn["journey"]
    assert "lifeline" in drawn["sequence"] and "server" not in drawn["sequence"]
    assert "header-stack" in drawn["headers"] and "server" not in drawn["headers"]


@needs_dot
def test_diagrams_in_notebooks_carry_the_journey_description_as_alt_text() -> None:
    journey = sc.run("spam-rejected")
    view = w.DiagramView()
    view.draw(journey)
    (out,) = view.outputs
    page = out["data"]["text/html"]
    alt = html.unescape(re.search(r'alt="([^"]*)"', page).group(1))
    assert journey.describe() in alt and "spam-rejected" in alt
    src = re.search(r'src="data:image/svg\+xml,([^"]*)"', page).group(1)
    from urllib.parse import unquote
    assert unquote(src) == out["data"]["image/svg+xml"]
    cell = w.diagram(journey)._repr_mimebundle_()
    assert html.escape(journey.describe(), quote=True) in cell["text/html"]
