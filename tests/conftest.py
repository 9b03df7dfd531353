"""Shared pytest fixtures for mailhops' tests (kept small on purpose)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "corpus"


def need(condition: bool, reason: str) -> None:
    """Skip when a tool the test needs is missing, except in CI (CI=true), where that is a failure.

    ``./dev.sh test`` installs every tool, so in CI a missing one is a broken set-up, not a reason to skip.
    """
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top folder."""
    return REPO


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The development corpus of real messages (tests/data/corpus, git-ignored); skips when absent."""
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(
            "the development corpus is absent: `./dev.sh test` downloads it into tests/data/corpus "
            "with ../shared/corpus/get_dev_corpus.sh"
        )
    return CORPUS
