"""The simulator's fast paths (issue 12's speed target) write exactly what the plain library calls write.

Each helper on a journey's hot path was made faster without changing a byte of its result; these property tests
compare it with the straightforward code it replaced (the stdlib call or the regular expression) on any input.
"""

from __future__ import annotations

import email.utils
import re
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from mailhops.mta.headers import _header_block, count_fields, count_hops, format_date, rfc5322_date, strip_fields
from mailhops.mta.message import _message_id, message_id
from mailhops.mta.smtp import Reply

# -- dates ------------------------------------------------------------------------------------------

offsets = st.one_of(
    st.integers(-24 * 60 + 1, 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m))),
    st.integers(-86399, 86399).map(lambda s: timezone(timedelta(seconds=s))),  # zones in seconds: the slow path
    st.sampled_from([timezone.utc, timezone(timedelta(hours=-5), "EST")]),
)


@settings(max_examples=400)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30)), st.one_of(st.none(), offsets))
def test_format_date_is_format_datetime(moment: datetime, zone: timezone | None) -> None:
    moment = moment if zone is None else moment.replace(tzinfo=zone)
    assert format_date(moment) == email.utils.format_datetime(moment)


def test_format_date_in_pacific_time_summer_and_winter() -> None:
    from mailhops.mta.headers import PACIFIC

    for month in (1, 7):  # PST and PDT: the offset comes from the zone database for that date
        moment = datetime(2026, month, 5, 8, 30, tzinfo=timezone.utc).astimezone(PACIFIC)
        assert format_date(moment) == email.utils.format_datetime(moment)
    assert rfc5322_date(datetime(2026, 7, 5, 8, 30, tzinfo=timezone.utc).astimezone(PACIFIC), zone_comment=True) \
        == "Sun, 05 Jul 2026 01:30:00 -0700 (PDT)"


# -- header blocks and field counts -----------------------------------------------------------------

names = st.sampled_from(["Received", "received", "RECEIVED", "Delivered-To", "delivered-to", "Received-SPF", "Via",
                         "X-Received", "Subject"])
lines = st.one_of(
    st.tuples(names, st.sampled_from([":", " :", "\t:", "  \t :", "", " x:"]), st.text("ab :\t", max_size=6))
    .map(lambda t: "".join(t)),
    st.sampled_from(["\tfolded received: line", " Received: continued", "", "From x", "\n", "\r"]),
)
separators = st.sampled_from(["\r\n", "\n", "\r\n\r\n", "\n\n"])


@st.composite
def raw_messages(draw: st.DrawFn) -> bytes:
    parts = []
    for line in draw(st.lists(lines, max_size=12)):
        parts += [line, draw(separators)]
    return "".join(parts).encode()


def _old_header_block(raw: bytes) -> bytes:
    end, alt = raw.find(b"\r\n\r\n"), raw.find(b"\n\n")
    cut = [i for i in (end, alt) if i >= 0]
    return raw[: min(cut)] if cut else raw


def _old_count_fields(message: bytes, wanted: tuple[str, ...]) -> int:
    alternatives = b"|".join(re.escape(n.encode("ascii")) for n in wanted)
    pattern = re.compile(rb"^(?:" + alternatives + rb")[ \t]*:", re.IGNORECASE | re.MULTILINE)
    return len(pattern.findall(_old_header_block(message)))


@settings(max_examples=600)
@given(raw_messages(), st.lists(st.sampled_from(["received", "delivered-to", "via", "received-spf"]), min_size=1,
                                max_size=3).map(tuple))
def test_count_fields_counts_what_the_regular_expression_counts(raw: bytes, wanted: tuple[str, ...]) -> None:
    assert _header_block(raw) == _old_header_block(raw)
    assert count_fields(raw, wanted) == _old_count_fields(raw, wanted)


def test_count_fields_examples() -> None:
    raw = b"Received: a\r\n b\r\nreceived :x\r\nX-Received: no\r\nReceived-SPF: no\r\n\r\nReceived: body"
    assert count_fields(raw, ("received",)) == 2
    assert count_fields(raw, ("received", "received")) == 2  # a name given twice counts once per field
    assert count_fields(raw, ("received", "received-spf")) == 3


@settings(max_examples=300)
@given(raw_messages())
def test_strip_fields_keeps_every_other_line(raw: bytes) -> None:
    head, sep, body = raw.partition(b"\r\n\r\n")
    stripped = strip_fields(raw, ("Received",))
    assert stripped.endswith(sep + body)
    kept = stripped[: len(stripped) - len(sep + body)].split(b"\r\n") if head else []
    assert not any(line.lower().startswith(b"received") for line in kept)


# -- Message-ID and replies ---------------------------------------------------------------------------


def _old_message_id(head: bytes) -> str:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return "<unknown>"


@settings(max_examples=500)
@given(st.lists(st.one_of(
    st.sampled_from(["Message-ID: <a@b>", "message-id:<x@y> ", "MESSAGE-ID:\t<z@w>", "X-Message-ID: <no@no>",
                     " Message-ID: <folded@no>", "Message-Id:", "Message-ID: <bare\nlf@x>", "\r", "Subject: hi"]),
    st.text("Message-ID:<>@ \r\n", max_size=15)), max_size=6))
def test_message_id_reads_the_first_field_as_before(fields: list[str]) -> None:
    head = "\r\n".join(fields).encode()
    assert _message_id(head) == _old_message_id(head)
    raw = head + b"\r\n\r\nMessage-ID: <body@x>"  # a Message-ID in the body is not the message's
    assert message_id(raw) == _old_message_id(raw[:raw.find(b"\r\n\r\n")])


@given(st.integers(100, 599), st.sampled_from(["", "2.0.0", "5.1.1"]), st.text(max_size=20))
def test_reply_text_is_the_words_joined(code: int, status: str, text: str) -> None:
    assert str(Reply(code, status, text)) == " ".join(p for p in (str(code), status, text) if p)


def _old_strip_fields(message: bytes, prefixes: tuple[str, ...]) -> bytes:
    head, sep, body = message.partition(b"\r\n\r\n")
    wanted = tuple(p.lower().encode("ascii") for p in prefixes)
    if not wanted or not any(w in head.lower() for w in wanted):
        return message
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(wanted)
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + sep + body


@settings(max_examples=800)
@given(raw_messages(), st.lists(st.sampled_from(["Received", "X-Received", "received-spf", "Via", "Subject", "x-ms-"]),
                                min_size=1, max_size=3).map(tuple))
def test_strip_fields_removes_what_it_removed_line_by_line(raw: bytes, prefixes: tuple[str, ...]) -> None:
    assert strip_fields(raw, prefixes) == _old_strip_fields(raw, prefixes)


@settings(max_examples=400)
@given(raw_messages())
def test_count_hops_counts_the_trace_fields_the_regular_expression_counted(raw: bytes) -> None:
    old = re.compile(rb"^(received|via|x400-received|mail-from)[ \t]*:", re.IGNORECASE | re.MULTILINE)
    assert count_hops(raw) == len(old.findall(_old_header_block(raw)))
    assert count_hops(raw.decode()) == count_hops(raw)


def _old_fold_spaces(text: str, *, first: int, width: int = 78) -> str:
    out: list[str] = []
    line = ""
    limit = width - first
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) > limit and line:
            out.append(line)
            line = word
            limit = width - 1
        else:
            line = candidate
    out.append(line)
    return "\r\n ".join(out)


@settings(max_examples=500)
@given(st.lists(st.sampled_from(["", "a", "word", "x" * 30, "y" * 90, "by", "mx.example.net"]), max_size=30)
       .map(" ".join), st.integers(0, 80), st.integers(10, 100))
def test_exchange_folds_as_before(text: str, first: int, width: int) -> None:
    from mailhops.mta.exchange import fold_spaces

    assert fold_spaces(text, first=first, width=width) == _old_fold_spaces(text, first=first, width=width)
    words = text.split(" ")
    for cut in range(1, len(words)):  # the first words folded once and remembered, then the rest
        after, rest = " ".join(words[:cut]), " ".join(words[cut:])
        assert fold_spaces(rest, first=first, width=width, after=after) == _old_fold_spaces(text, first=first,
                                                                                             width=width)


@settings(max_examples=300)
@given(raw_messages(), st.lists(st.sampled_from(["Received: x", "X-Received: y", "Via: z", "received-spf: w"]),
                                max_size=3))
def test_replace_at_bottom_is_strip_then_append(raw: bytes, fields: list[str]) -> None:
    from mailhops.mta.headers import append, replace_at_bottom

    names = tuple(f.split(":")[0] + ":" for f in fields)
    assert replace_at_bottom(raw, fields) == append(strip_fields(raw, names), fields)
