"""Topology building and the one-sentence errors for inconsistent topologies."""

from __future__ import annotations

import pytest

from mailhops import MailhopsError, Topology, TopologyError
from mailhops.scenarios import get


def _small() -> Topology:
    t = Topology("t")
    t.add_domain("example.org")
    t.add_domain("example.net")
    t.add_server("pc.example.org", "client", "192.0.2.10", domain="example.org")
    t.add_server("smtp.example.org", "submission", "192.0.2.25", domain="example.org", mx_preference=10)
    t.add_server("mx.example.net", "mx", "198.51.100.25", domain="example.net", mx_preference=10)
    t.add_server("imap.example.net", "mailbox", "198.51.100.143", domain="example.net", mta="dovecot")
    t.link("pc.example.org", "smtp.example.org")
    t.link("mx.example.net", "imap.example.net")
    t.add_user("alice@example.org", client="pc.example.org")
    t.add_user("bob@example.net", mailbox="imap.example.net")
    return t


def test_a_sound_topology_checks_clean_and_links_in_order() -> None:
    t = _small()
    t.check()
    assert [s.name for s in t.next_servers("mx.example.net")] == ["imap.example.net"]
    assert [(p, s.name) for p, s in t.mx_hosts("example.net")] == [(10, "mx.example.net")]


@pytest.mark.parametrize(
    "breaker, words",
    [
        (lambda t: t.add_server("bad host", "mx", "192.0.2.1"), "not a valid host name"),
        (lambda t: t.add_server("x.example.org", "teleporter", "192.0.2.1"), "Unknown server role"),
        (lambda t: t.add_server("x.example.org", "mx", "999.1.1.1"), "not an IP address"),
        (lambda t: t.add_server("x.example.org", "mx", "192.0.2.1", mta="lotus"), "Unknown MTA flavour"),
        (lambda t: t.add_server("x.example.org", "mx", "192.0.2.1", spam_action="burn"), "Unknown spam action"),
        (lambda t: t.link("mx.example.net", "ghost.example.net"), "no server named ghost.example.net"),
        (lambda t: t.add_user("not-an-address"), "not an e-mail address"),
        (lambda t: t.add_domain("example.org"), "already in the topology"),
        (lambda t: t.add_server("y.example.org", "mx", "192.0.2.1", colour="red"), "Unknown server setting"),
    ],
)
def test_bad_building_steps_raise_one_sentence(breaker, words) -> None:  # noqa: ANN001
    t = _small()
    with pytest.raises(TopologyError) as err:
        breaker(t)
    assert words in str(err.value)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, MailhopsError)


def test_domain_with_mailboxes_but_no_mx_and_no_a_is_named() -> None:
    t = _small()
    t.servers["mx.example.net"].mx_preference = None
    with pytest.raises(TopologyError, match="example.net has mailboxes but no MX and no A record"):
        t.check()


def test_unreachable_mailbox_is_named() -> None:
    t = _small()
    t.add_server("island.example.net", "mailbox", "198.51.100.99", domain="example.net")
    t.add_user("carol@example.net", mailbox="island.example.net")
    with pytest.raises(TopologyError, match="Nobody can reach the mailbox of carol@example.net"):
        t.check()


def test_user_pointing_at_missing_server_is_named() -> None:
    t = _small()
    t.users["bob@example.net"].mailbox = "gone.example.net"
    with pytest.raises(TopologyError, match="gone.example.net, which is not a server"):
        t.check()


def test_every_scenario_topology_is_consistent() -> None:
    from mailhops.scenarios import names

    for name in names():
        get(name).build().check()


def test_the_records_know_exactly_the_mtas_the_mta_package_defines() -> None:
    """topology.py checks ``mta`` names without importing mailhops.mta; both lists must agree."""
    from mailhops import mta
    from mailhops.topology import MTA_NAMES

    assert MTA_NAMES == tuple(mta.MTAS)
    assert set(mta.FLAVOURS) - set(mta.MTAS) == {"webmail"}


def test_mtas_keeps_its_shape_and_values_for_users() -> None:
    import mailhops

    assert "MTAS" in mailhops.__all__
    assert mailhops.MTAS == {
        "postfix": {"software": "Postfix", "hop_limit": 50, "loop_reply": "554 5.4.0 Error: too many hops",
                    "documented": True},
        "exim": {"software": "Exim 4.98", "hop_limit": 30,
                 "loop_reply": '550 Too many "Received" headers - suspected mail loop', "documented": True},
        "sendmail": {"software": "Sendmail 8.18.1", "hop_limit": 25, "loop_reply": "554 5.4.6 Too many hops",
                     "documented": True},
        "qmail": {"software": "qmail 1.03", "hop_limit": 100,
                  "loop_reply": "554 too many hops, this message is looping (#5.4.6)", "documented": True},
        "exchange": {"software": "Microsoft SMTP Server", "hop_limit": 30,
                     "loop_reply": "554 5.4.14 Hop count exceeded - possible mail loop", "documented": True},
        "gmail": {"software": "Google", "hop_limit": 100, "loop_reply": "554 5.4.6 Routing loop detected",
                  "documented": False},
        "dovecot": {"software": "Dovecot", "hop_limit": 50, "loop_reply": "554 5.4.0 Error: too many hops",
                    "documented": False},
    }


def test_an_unknown_mta_is_refused_naming_the_known_ones() -> None:
    t = Topology("t")
    with pytest.raises(TopologyError, match="choose one of postfix, exim, sendmail, qmail, exchange, gmail, dovecot"):
        t.add_server("mx.example.net", "mx", "198.51.100.25", mta="smail")
