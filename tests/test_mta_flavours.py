"""Every MTA as it really is: ``--mta`` on the scenarios, each flavour's Received details, and the round trip
(simulate -> headers -> analyze) giving back the simulator's hops under every flavour."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from mailhops import scenarios
from mailhops.errors import TopologyError
from mailhops.mta.headers import count_hops
from mailhops.read.analyze import analyze

FLAVOURS = scenarios.MTA_CHOICES
KEYS = ("from_name", "ip", "by_name", "with", "id", "for", "date_utc")


def _hops(hops) -> list[dict]:  # noqa: ANN001
    return [{k: h.to_dict()[k] for k in KEYS} for h in hops]


def test_the_six_flavours_are_offered() -> None:
    assert FLAVOURS == ("postfix", "exim", "sendmail", "qmail", "exchange", "gmail")


def test_an_unknown_flavour_is_one_sentence_naming_the_valid_ones() -> None:
    with pytest.raises(TopologyError, match="choose one of: postfix, exim, sendmail, qmail, exchange, gmail"):
        scenarios.run("three-hops", mta="notes")


@pytest.mark.parametrize("mta", FLAVOURS)
@pytest.mark.parametrize("name", ["three-hops", "unknown-user", "forwarding-loop", "enterprise", "spam-to-junk"])
def test_outcome_kind_and_route_stay_the_same(name: str, mta: str) -> None:
    plain, flavoured = scenarios.run(name), scenarios.run(name, mta=mta)
    assert flavoured.outcome.kind == plain.outcome.kind
    if name != "forwarding-loop":  # a loop stops at the MTA's own limit
        # the servers visited; a Postfix content filter's loopback hops stay on one machine
        assert _visited(flavoured.hops) == _visited(plain.hops)


def _visited(hops) -> list[str]:  # noqa: ANN001
    servers: list[str] = []
    for hop in hops:
        if hop.by_server == "localhost":  # amavisd-new's hop on the filter's own machine
            continue
        if not servers or servers[-1] != hop.by_server:
            servers.append(hop.by_server)
    return servers


@pytest.mark.parametrize("mta", FLAVOURS)
def test_smtp_servers_imitate_the_flavour_and_clients_keep_theirs(mta: str) -> None:
    topo = scenarios.get("three-hops").build(mta=mta)
    assert topo.server("smtp.example.org").mta == mta and topo.server("mx.example.net").mta == mta
    assert topo.server("laptop.example.org").mta == "postfix"  # a client writes no Received line of an MTA
    assert topo.server("imap.example.net").mta == ("exchange" if mta == "exchange" else "dovecot")


@pytest.mark.parametrize("mta", FLAVOURS)
@pytest.mark.parametrize("name", ["three-hops", "unknown-user", "forwarding-loop"])
@pytest.mark.parametrize("seed", [0, 3])
def test_round_trip_under_every_flavour(name: str, mta: str, seed: int) -> None:
    # qmail's two stamps of one hop (qmail-queue's "invoked from network" above qmail-smtpd's line) read as one
    # hop, and its bracketed HELO "(HELO [192.168.1.23])" is not taken for the client's IP
    journey = scenarios.run(name, seed=seed, mta=mta)
    if journey.outcome.kind in ("delivered", "junk"):
        message, reference = journey.message, journey
    else:
        message, reference = journey.bounce.message, journey.bounce
    analyzed = analyze(message)
    assert _hops(analyzed.hops) == _hops(reference.hops)
    assert analyzed.summary["hops"] == count_hops(message)


@pytest.mark.parametrize("mta", FLAVOURS)
def test_a_loop_stops_at_the_flavours_own_limit(mta: str) -> None:
    from mailhops.mta import MTAS

    journey = scenarios.run("forwarding-loop", mta=mta)
    assert journey.outcome.kind == "looped"
    limit = MTAS[mta]["hop_limit"]
    assert limit - 3 <= count_hops(journey.message) <= limit + 2


def test_postfix_queue_ids_start_with_microseconds() -> None:
    for hop in scenarios.run("three-hops").hops[:2]:
        assert re.fullmatch(r"[0-9A-F]{10,12}", hop.id) and int(hop.id[:5], 16) <= 0xF423F


def test_postfix_tls13_comment_has_the_key_exchange_continuation() -> None:
    text = scenarios.run("three-hops").message.decode()
    assert "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n\t key-exchange X25519" in text


def test_exim_ids_are_zero_padded_as_in_4_97() -> None:
    ids = [h.id for h in scenarios.run("three-hops", mta="exim").hops[:2]]
    assert all(re.fullmatch(r"[0-9A-Za-z]{6}-0{3,}[0-9A-Za-z]{1,8}-[0-9A-Za-z]{4}", i) and len(i) == 23 for i in ids)


def test_qmail_leaves_out_helo_when_it_equals_the_reverse_name() -> None:
    text = scenarios.run("three-hops", mta="qmail").message.decode()
    assert "Received: from smtp.example.org (192.0.2.25)" in text  # HELO = reverse name: no (HELO ...)
    assert "(HELO [192.168.1.23])" in text  # the laptop's HELO differs from its reverse name


def test_sendmail_authenticated_hop() -> None:
    text = scenarios.run("three-hops", mta="sendmail").message.decode()
    assert "\r\n\t(authenticated bits=0)\r\n\tby smtp.example.org (8.18.1/8.18.1) with ESMTPSA id" in text


def test_gmail_writes_pacific_time_and_the_id_carries_the_same_second() -> None:
    journey = scenarios.run("three-hops", mta="gmail")
    mx = journey.hops[1]
    assert mx.date.utcoffset().total_seconds() in (-8 * 3600, -7 * 3600)
    assert mx.id.endswith(mx.date.strftime("%Y.%m.%d.%H.%M.%S")) and "si" in mx.id
    assert "sm" in journey.hops[0].id.split(".")[0]  # submission ids differ from MX ids
    text = journey.message.decode()
    assert "(Google Transport Security)" not in text  # no hop here is between two Google servers


def test_exchange_native_delivery_and_header_firewall() -> None:
    journey = scenarios.run("three-hops", mta="exchange")
    text = journey.message.decode()
    assert "via Frontend Transport" in re.sub(r"\r\n ", " ", text)
    assert "via Mailbox Transport" in re.sub(r"\r\n ", " ", text)
    assert "LMTP" not in text and "Delivered-To" not in text
    head = text.split("\r\n\r\n")[0]
    org = [line for line in head.split("\r\n") if line.startswith("X-MS-Exchange-Organization-")]
    assert org and head.split("\r\n")[-len(org):] == org  # at the bottom, once each
    assert len(org) == len({line.split(":")[0] for line in org})
    # the sender's Exchange headers never reach the other organisation
    assert "AuthSource: smtp.example.org" not in text
    assert journey.hops[1].with_ == "MICROSOFT SMTP SERVER"  # JSON keeps the header's own words


def test_exchange_hops_show_the_transport_in_diagrams() -> None:
    from mailhops.draw.labels import protocol_word

    journey = scenarios.run("three-hops", mta="exchange")
    assert [protocol_word(h) for h in journey.hops] == ["ESMTPSA", "ESMTPS", "ESMTPS"]


def test_every_flavour_message_parses_with_the_stdlib() -> None:
    for mta in FLAVOURS:
        msg = email.message_from_bytes(scenarios.run("three-hops", mta=mta).message, policy=email.policy.default)
        assert msg["Subject"] == "Lunch on Friday?" and not msg.defects


def test_cli_send_mta_shows_the_flavours_bounce(capsys: pytest.CaptureFixture[str]) -> None:
    from mailhops.cli import main

    assert main(["send", "unknown-user", "--mta", "exim", "--format", "eml"]) == 0
    out = capsys.readouterr().out
    assert "X-Failed-Recipients: bbo@example.net" in out and "This is the mail system" not in out
    assert main(["send", "unknown-user", "--mta", "qmail", "--format", "eml"]) == 0
    assert "Hi. This is the qmail-send program at smtp.example.org." in capsys.readouterr().out


def test_cli_unknown_flavour_is_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    from mailhops.cli import main

    assert main(["send", "three-hops", "--mta", "notes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "choose one of: postfix, exim, sendmail, qmail, exchange, gmail" in err


def test_explorer_mta_choice_changes_the_writer() -> None:
    from mailhops.widgets.knobs import Knobs, run_with

    journey, topo = run_with("unknown-user", Knobs(mta="sendmail"))
    assert topo.server("mx.example.net").mta == "sendmail"
    assert b"Mail Delivery Subsystem" in journey.bounce.message
