"""What a content filter looks at, whichever MTA it sits on: a small SpamAssassin-like score and EICAR.

>>> score, tests = spam_score(b"Subject: WINNER\\r\\n\\r\\nClaim now: $5000 to your bank account")
>>> score, tests
(5.0, ['BAYES_99', 'MONEY_FREEMAIL_REPTO'])
>>> spam_headers(score, 5.0, tests, "filter.example.net")[1]
'X-Spam-Flag: YES'
"""

from __future__ import annotations

import re

from .headers import CRLF

#: Real SpamAssassin rule names with illustrative scores (actual scores depend on version and training).
SPAM_RULES: list[tuple[str, float, str]] = [
    ("BAYES_99", 3.5, r"\b(winner|won|prize|lottery|claim now|act now)\b"),
    ("LOTTO_AGENT", 2.0, r"\blottery (agent|department|board)\b"),
    ("SUBJ_ALL_CAPS", 1.0, r"^Subject: [^a-z\r\n]*[A-Z]{4}[^a-z\r\n]*$"),
    ("URIBL_BLACK", 1.7, r"https?://[^\s/]*prize-claim\.example"),
    ("MONEY_FREEMAIL_REPTO", 1.5, r"\b(bank account|wire transfer|\$\d{3,})\b"),
    ("MISSING_MID", 0.5, r"(?!x)x"),
]
_SPAM_RES = [(name, score, re.compile(pattern, re.IGNORECASE | re.MULTILINE)) for name, score, pattern in SPAM_RULES]

#: The EICAR anti-virus test string: every scanner reports it as a virus.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def spam_score(message: bytes) -> tuple[float, list[str]]:
    """Score a message with a small SpamAssassin-like rule set: (score, names of the rules that hit)."""
    text = message.decode("utf-8", "replace")
    hits = [(name, score) for name, score, rx in _SPAM_RES if rx.search(text)]
    return round(sum(s for _, s in hits), 1), [n for n, _ in hits]


def spam_headers(score: float, threshold: float, tests: list[str], host: str) -> list[str]:
    """SpamAssassin's headers (``add_header`` defaults): Checker-Version, Flag (spam only), Level, Status."""
    is_spam = score >= threshold
    stars = "*" * max(0, int(score))
    lines = [f"X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-26) on {host}"]
    if is_spam:
        lines.append("X-Spam-Flag: YES")
    lines.append(f"X-Spam-Level: {stars}")
    status = "Yes" if is_spam else "No"
    test_text = ",".join(tests) if tests else "none"
    lines.append(
        f"X-Spam-Status: {status}, score={score:.1f} required={threshold:.1f} tests={test_text}{CRLF}\tautolearn=no autolearn_force=no version=4.0.1"
    )
    return lines


#: The header an anti-virus scanner adds to a message it found clean.
VIRUS_SCANNED = "X-Virus-Scanned: ClamAV using ClamSMTP"
