"""The analyzer on the development corpus of real messages (tests/data/corpus, git-ignored).

Download it with ``bash ../shared/corpus/get_dev_corpus.sh tests/data/corpus``; without it these tests
are skipped with that instruction. The messages hold real people's data: nothing from them is
copied into the repository, only counts are asserted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailhops.read.analyze import analyze, field_yield
from mailhops.read.received import _parse

CORPUS = Path(__file__).parent / "data" / "corpus"
pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not any(CORPUS.glob("*/*.eml")),
                       reason="development corpus absent: run bash ../shared/corpus/get_dev_corpus.sh tests/data/corpus"),
]

@pytest.fixture(scope="module")
def journeys():
    return [analyze(path) for path in sorted(CORPUS.glob("*/*.eml"))]


def test_no_crash_and_every_header_accounted_for(journeys) -> None:
    assert len(journeys) > 1000
    for j in journeys:
        assert j.source == "analyzed"
        for hop in j.hops:
            assert hop.raw is not None
            assert hop.from_name or hop.ip or hop.by_name or hop.date or hop.problems


def test_from_by_date_yield(journeys) -> None:
    """Of the Received headers that contain a FROM, BY or date, at least 99.5% yield it."""
    seen, got, _missed = field_yield(journeys)
    for key in seen:
        assert seen[key] > 1000
        assert got[key] / seen[key] >= 0.995, (key, got[key], seen[key])


def test_fast_paths_agree_with_the_general_parser(journeys) -> None:
    """The regex fast paths for common shapes only save time: same result as the general parser."""
    for j in journeys:
        for hop in j.hops:
            assert _parse(hop.raw, hop.n, classic=True).to_dict() == _parse(hop.raw, hop.n, classic=False).to_dict()


def test_fast_date_agrees_with_the_general_reader(journeys) -> None:
    from mailhops.read.dates import parse_date
    from mailhops.read.received import fast_date

    for j in journeys:
        for hop in j.hops:
            for segment in hop.raw.split(";")[1:4]:
                assert fast_date(segment) == parse_date(segment), segment


def test_every_major_family_is_recognised(journeys) -> None:
    families = {hop.mta for j in journeys for hop in j.hops}
    assert {"postfix", "sendmail", "exim", "qmail", "exchange", "gmail", "yahoo", "fetchmail", "webmail"} <= families
