"""Content filters as SpamAssassin, amavisd-new and ClamSMTP write them: the X-Spam-Status layout, sorted tests
and SUBJ_ALL_CAPS."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mailhops import scenarios
from mailhops.mta.filters import SPAM_RULES, amavis_headers, spam_headers, spam_score, subject_is_all_caps, wrap_header


def test_subj_all_caps_fires_on_an_all_caps_subject() -> None:
    assert "SUBJ_ALL_CAPS" in spam_score(b"Subject: YOU HAVE WON A PRIZE\r\n\r\nhello\r\n")[1]
    assert "SUBJ_ALL_CAPS" not in spam_score(b"Subject: You have won\r\n\r\nYOU HAVE WON A PRIZE\r\n")[1]
    assert "SUBJ_ALL_CAPS" not in spam_score(b"Subject: HELLO\r\n\r\nhi\r\n")[1]  # one word is not enough


def test_the_spam_scenarios_subject_triggers_it() -> None:
    text = scenarios.run("spam-to-junk").message.decode()
    status = re.search(r"X-Spam-Status: (.*?)\r\n(?![ \t])", text, re.S).group(1)
    assert "SUBJ_ALL_CAPS" in status


def test_x_spam_status_layout_as_spamassassin_writes_it() -> None:
    lines = spam_headers(9.7, 5.0, ["URIBL_BLACK", "BAYES_99", "SUBJ_ALL_CAPS", "LOTTO_AGENT",
                                    "MONEY_FREEMAIL_REPTO"], "filter.example.net")
    status = lines[-1]
    assert status.startswith("X-Spam-Status: Yes, score=9.7 required=5.0 tests=BAYES_99,LOTTO_AGENT,\r\n\t")
    assert all(len(line.expandtabs(8)) <= 79 for line in status.split("\r\n"))
    flat = status.replace("\r\n", "")  # RFC 5322 unfolding keeps the tab
    tests = re.split(r",\s*", re.search(r"tests=(.*?)\s+autolearn=", flat).group(1))
    assert tests == sorted(tests) and len(tests) == 5
    assert re.sub(r"\s+", " ", flat).endswith("autolearn=no autolearn_force=no version=4.0.1")


@given(st.lists(st.sampled_from([name for name, _, _ in SPAM_RULES]), unique=True))
def test_wrapping_never_loses_or_reorders_a_test(names: list[str]) -> None:
    status = spam_headers(5.0, 5.0, names, "filter.example.net")[-1]
    assert all(len(line.expandtabs(8)) <= 79 for line in status.split("\r\n"))
    listed = re.search(r"tests=(.*?)\s+autolearn=", status.replace("\r\n", "")).group(1)
    assert re.sub(r",\s+", ",", listed) == (",".join(sorted(names)) or "none")


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_subject_rule_matches_its_definition(subject: str) -> None:
    expected = len(subject.split()) >= 2 and any(c.isalpha() for c in subject) and subject.strip() == subject.strip().upper()
    assert subject_is_all_caps(f"Subject: {subject}\r\n\r\nbody") == expected


def test_wrap_header_keeps_short_headers_on_one_line() -> None:
    assert wrap_header("X-Spam-Status: No, score=0.0") == "X-Spam-Status: No, score=0.0"


def test_amavis_headers() -> None:
    lines = amavis_headers(6.7, 5.0, ["URIBL_BLACK", "BAYES_99"], "example.net")
    assert lines[0] == "X-Virus-Scanned: amavisd-new at example.net"
    assert lines[1] == "X-Spam-Flag: YES"
    assert "tests=[BAYES_99=3.5, URIBL_BLACK=1.7]" in lines[-1]
