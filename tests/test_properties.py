"""Invariants over random topologies (hypothesis): one outcome, nothing lost, honest trace headers."""

from __future__ import annotations

from datetime import timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailhops import OUTCOME_KINDS, Topology, send
from mailhops.mta.headers import count_fields
from mailhops.scenarios import SPAM_BODY, SPAM_SUBJECT

FLAVOURS = ["postfix", "exim", "sendmail", "exchange", "gmail"]
CHAIN_ROLES = ["filter", "antivirus", "archive", "router", "alias"]


@st.composite
def topologies(draw: st.DrawFn) -> tuple[Topology, str, dict]:
    t = Topology("random")
    t.add_domain("example.org")
    t.add_server("pc.example.org", "client", "203.0.113.45", domain="example.org", helo="[192.168.1.5]")
    sub_mta = draw(st.sampled_from(FLAVOURS))
    t.add_server("smtp.example.org", "submission", "192.0.2.25", domain="example.org", mx_preference=10, mta=sub_mta,
                 tz_minutes=draw(st.sampled_from([0, 60, -300])))
    t.add_server("imap.example.org", "mailbox", "192.0.2.143", domain="example.org", mta="dovecot")
    t.link("pc.example.org", "smtp.example.org")
    t.link("smtp.example.org", "imap.example.org")
    t.add_user("alice@example.org", client="pc.example.org", mailbox="imap.example.org")

    t.add_domain("example.net")
    n_mx = draw(st.integers(1, 3))
    mx_names = []
    for i in range(n_mx):
        name = f"mx{i}.example.net"
        t.add_server(name, "mx", f"198.51.100.{10 + i}", domain="example.net",
                     mx_preference=draw(st.sampled_from([5, 10, 10, 20])), up=draw(st.booleans()),
                     mta=draw(st.sampled_from(FLAVOURS)), tz_minutes=draw(st.sampled_from([0, -300, 540])))
        mx_names.append(name)
    previous = mx_names
    roles = draw(st.lists(st.sampled_from(CHAIN_ROLES), max_size=4))
    for j, role in enumerate(roles):
        name = f"{role}{j}.example.net"
        settings_: dict = {"mta": draw(st.sampled_from(FLAVOURS))}
        if role == "filter":
            settings_.update(spam_threshold=5.0, spam_action=draw(st.sampled_from(["reject", "bounce", "drop", "junk"])))
        t.add_server(name, role, f"198.51.100.{50 + j}", domain="example.net", tls=draw(st.booleans()), **settings_)
        for p in previous:
            t.link(p, name)
        previous = [name]
    t.add_server("imap.example.net", "mailbox", "198.51.100.143", domain="example.net", mta="dovecot")
    for p in previous:
        t.link(p, "imap.example.net")
    t.add_user("bob@example.net", mailbox="imap.example.net")
    t.add_alias("team@example.net", "bob@example.net")

    recipient = draw(st.sampled_from(["bob@example.net", "team@example.net", "nobody@example.net", "carol@example.com"]))
    if recipient == "carol@example.com" or draw(st.booleans()):
        t.add_domain("example.com")
        t.add_domain("university.example")
        t.add_server("fwd.example.com", "forwarder", "203.0.113.10", domain="example.com", mx_preference=10,
                     hop_limit=draw(st.integers(3, 15)), mta=draw(st.sampled_from(["postfix", "exim", "sendmail"])))
        t.add_server("fwd.university.example", "forwarder", "198.51.100.210", domain="university.example", mx_preference=10,
                     hop_limit=draw(st.integers(3, 15)))
        loop = draw(st.booleans())
        t.add_user("carol@example.com", forward_to="carol@university.example")
        t.add_user("carol@university.example", forward_to="carol@example.com" if loop else "bob@example.net")
    spam = draw(st.booleans())
    return t, recipient, {"subject": SPAM_SUBJECT if spam else "Hello", "body": SPAM_BODY if spam else "Hi!\n"}


COMMON = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _received_total(journey) -> int:  # noqa: ANN001
    return sum(count_fields("\r\n".join(h.added_headers).encode() + b"\r\n\r\n", ("received",)) for h in journey.hops)


def _check(journey, *, bounce: bool) -> None:  # noqa: ANN001
    out = journey.outcome
    assert out is not None and out.kind in OUTCOME_KINDS and out.status
    kind = out.kind
    # exactly one way to end, with its evidence; nothing accepted is lost
    if kind in ("delivered", "junk"):
        assert out.mailbox and out.folder == ("Junk" if kind == "junk" else "INBOX")
        msg = journey.final_message()
        assert msg["Delivered-To"] == out.mailbox
        assert journey.hops[-1].with_ == "LMTP"
    elif kind in ("rejected", "bounced", "looped"):
        assert out.reply and out.reply[0] == "5"
        if bounce:
            assert journey.bounce is None, "a bounce is never bounced again"
        else:
            assert journey.bounce is not None and journey.bounce.envelope_from == ""
            _check(journey.bounce, bounce=True)
    elif kind == "dropped":
        assert journey.bounce is None and out.detail
    elif kind == "deferred":
        assert journey.bounce is None and out.status.startswith("4")
    # the message at the end carries exactly one Received line per accepted SMTP/LMTP/HTTP hop
    assert count_fields(journey.message, ("received",)) == _received_total(journey) == len(journey.hops)
    # Received lines are in reverse hop order (each server prepends)
    tops = journey.received_headers()
    for header, hop in zip(tops, reversed(journey.hops), strict=True):
        assert f"by {hop.by_name}" in header
    # time never goes backwards down the chain
    times = [h.date.astimezone(timezone.utc) for h in journey.hops]
    assert times == sorted(times)
    assert [h.n for h in journey.hops] == list(range(1, len(journey.hops) + 1))


@COMMON
@given(topologies(), st.integers(0, 2**16))
def test_every_message_ends_in_exactly_one_outcome(case, seed: int) -> None:  # noqa: ANN001
    topology, recipient, msg = case
    journey = send(topology, "alice@example.org", recipient, seed=seed, **msg)
    _check(journey, bounce=False)


@settings(max_examples=40, deadline=None)
@given(topologies(), st.integers(0, 2**16))
def test_same_seed_gives_byte_identical_output(case, seed: int) -> None:  # noqa: ANN001
    topology, recipient, msg = case
    a = send(topology, "alice@example.org", recipient, seed=seed, **msg)
    b = send(topology, "alice@example.org", recipient, seed=seed, **msg)
    assert a.to_json() == b.to_json()
    assert a.message == b.message
