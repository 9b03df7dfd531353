"""What a content filter looks at and writes, whichever MTA it sits on: a small SpamAssassin-like score,
EICAR, and the headers SpamAssassin, amavisd-new and ClamSMTP add.

Checked against SpamAssassin's PerMsgStatus.pm (the ``X-Spam-Status`` template ``_YESNO_, score=_SCORE_
required=_REQD_ tests=_TESTS_ autolearn=_AUTOLEARN_ version=_VERSION_``, test names sorted and joined with
commas, the header wrapped at 79 columns after a space or comma with a tab before each continuation line),
its ``subject_is_all_caps`` eval test (letters, at least two words, nothing in lower case), amavisd-new's
defaults (``X-Virus-Scanned: amavisd-new at DOMAIN``, ``X-Spam-Flag``/``Score``/``Level``/``Status`` with
``tagged_above=`` and ``tests=[NAME=SCORE, ...]``, its Received line ``by localhost (HOST [127.0.0.1])
(amavisd-new, port 10024)`` and Postfix's re-injection on port 10025) and clamsmtpd's
``X-Virus-Scanned: ClamAV using ClamSMTP``.

>>> score, tests = spam_score(b"Subject: WINNER\\r\\n\\r\\nClaim now: $5000 to your bank account")
>>> score, tests
(5.0, ['BAYES_99', 'MONEY_FREEMAIL_REPTO'])
>>> spam_headers(score, 5.0, tests, "filter.example.net")[1]
'X-Spam-Flag: YES'
>>> spam_score(b"Subject: YOU HAVE WON\\r\\n\\r\\nhello")[1]
['BAYES_99', 'SUBJ_ALL_CAPS']
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime

from .headers import CRLF, rfc5322_date

#: Real SpamAssassin rule names with illustrative scores (actual scores depend on version and training).
#: A pattern of ``None`` means an eval test written in Python (:data:`EVAL_TESTS`).
SPAM_RULES: list[tuple[str, float, str | None]] = [
    ("BAYES_99", 3.5, r"\b(winner|won|prize|lottery|claim now|act now)\b"),
    ("LOTTO_AGENT", 2.0, r"\blottery (agent|department|board)\b"),
    ("SUBJ_ALL_CAPS", 1.0, None),
    ("URIBL_BLACK", 1.7, r"https?://[^\s/]*prize-claim\.example"),
    ("MONEY_FREEMAIL_REPTO", 1.5, r"\b(bank account|wire transfer|\$\d{3,})\b"),
    ("MISSING_MID", 0.5, r"(?!x)x"),
]
_SPAM_RES = [(name, score, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
             for name, score, pattern in SPAM_RULES if pattern is not None]

_SUBJECT_RE = re.compile(r"^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def subject_is_all_caps(message: str) -> bool:
    """SpamAssassin's ``subject_is_all_caps``: a subject of two words or more with letters, none in lower case.

    >>> subject_is_all_caps("Subject: YOU HAVE WON A PRIZE\\r\\n\\r\\n"), subject_is_all_caps("Subject: Hi YOU\\r\\n\\r\\n")
    (True, False)
    """
    head = message.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    m = _SUBJECT_RE.search(head)
    if m is None:
        return False
    subject = re.sub(r"\r?\n[ \t]+", " ", m.group(1)).strip()
    return len(subject.split()) >= 2 and any(c.isalpha() for c in subject) and subject == subject.upper()


#: The eval tests (SpamAssassin's Perl functions), by rule name.
EVAL_TESTS: dict[str, Callable[[str], bool]] = {"SUBJ_ALL_CAPS": subject_is_all_caps}
_SCORES = {name: score for name, score, _ in SPAM_RULES}

#: The EICAR anti-virus test string: every scanner reports it as a virus.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

#: The header an anti-virus scanner behind ClamSMTP adds to a message it found clean.
VIRUS_SCANNED = "X-Virus-Scanned: ClamAV using ClamSMTP"

#: amavisd-new's ports: Postfix hands it the message on 10024, it re-injects on 10025.
AMAVIS_PORT, REINJECT_PORT = 10024, 10025
#: clamsmtpd listens on 10025 and hands the message back to Postfix on 10026.
CLAMSMTP_PORT, CLAMSMTP_REINJECT_PORT = 10025, 10026


def spam_score(message: bytes) -> tuple[float, list[str]]:
    """Score a message with a small SpamAssassin-like rule set: (score, names of the rules that hit, sorted)."""
    text = message.decode("utf-8", "replace")
    hits = [name for name, _score, rx in _SPAM_RES if rx.search(text)]
    hits += [name for name, test in EVAL_TESTS.items() if test(text)]
    return round(sum(_SCORES[n] for n in hits), 1), sorted(hits)


def wrap_header(text: str, *, width: int = 79) -> str:
    """Fold a header as SpamAssassin's ``Util::wrap`` does: break after a space or a comma, tab-indented.

    >>> wrap_header("X-Spam-Status: Yes, score=9.7 required=5.0 tests=BAYES_99,LOTTO_AGENT,MONEY_FREEMAIL_REPTO,"
    ...             "SUBJ_ALL_CAPS,URIBL_BLACK autolearn=no autolearn_force=no version=4.0.1").split("\\r\\n\\t")
    ['X-Spam-Status: Yes, score=9.7 required=5.0 tests=BAYES_99,LOTTO_AGENT,', 'MONEY_FREEMAIL_REPTO,SUBJ_ALL_CAPS,URIBL_BLACK autolearn=no', 'autolearn_force=no version=4.0.1']
    """
    pieces = re.findall(r"[^ ,]+[ ,]?|[ ,]", text)
    lines: list[str] = []
    line = ""
    for piece in pieces:
        if line and len(line.expandtabs(8)) + len(piece.rstrip(" ")) > width:
            lines.append(line.rstrip(" "))
            line = "\t"
        line += piece
    lines.append(line.rstrip(" "))
    return CRLF.join(lines)


def spam_headers(score: float, threshold: float, tests: list[str], host: str) -> list[str]:
    """SpamAssassin's headers (``add_header`` defaults): Checker-Version, Flag (spam only), Level, Status."""
    is_spam = score >= threshold
    stars = "*" * max(0, int(score))
    lines = [f"X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-26) on {host}"]
    if is_spam:
        lines.append("X-Spam-Flag: YES")
    lines.append(f"X-Spam-Level: {stars}")
    status = "Yes" if is_spam else "No"
    test_text = ",".join(sorted(tests)) if tests else "none"
    lines.append(wrap_header(f"X-Spam-Status: {status}, score={score:.1f} required={threshold:.1f} tests={test_text} "
                             "autolearn=no autolearn_force=no version=4.0.1"))
    return lines


def amavis_headers(score: float, threshold: float, tests: list[str], domain: str) -> list[str]:
    """The headers amavisd-new adds (its defaults, with ``$sa_tag_level_deflt`` undefined: ``-999``), in its order
    (X-Virus-Scanned, X-Spam-Flag, Score, Level, Status), above its Received line; ``tests=[...]`` starts a new
    line and long lists wrap after a comma at 78 columns, tab-indented, as real amavisd-new headers show.

    >>> amavis_headers(1.0, 5.0, ["SUBJ_ALL_CAPS"], "example.net")[-1]
    'X-Spam-Status: No, score=1 tagged_above=-999 required=5\\r\\n\\ttests=[SUBJ_ALL_CAPS=1] autolearn=no autolearn_force=no'
    """
    is_spam = score >= threshold
    listed = ", ".join(f"{name}={_SCORES.get(name, 0):g}" for name in sorted(tests))
    return [
        f"X-Virus-Scanned: amavisd-new at {domain}",
        f"X-Spam-Flag: {'YES' if is_spam else 'NO'}",
        f"X-Spam-Score: {score:g}",
        f"X-Spam-Level: {'*' * max(0, int(score))}",
        f"X-Spam-Status: {'Yes' if is_spam else 'No'}, score={score:g} tagged_above=-999 required={threshold:g}"
        + CRLF + wrap_header(f"\ttests=[{listed}] autolearn=no autolearn_force=no", width=78),
    ]


#: The characters of amavisd-new's mail_id (its ``b64encode``d random bits, with ``-`` and ``_``).
_AMAVIS_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def amavis_id(rng: random.Random) -> str:
    """An amavisd-new mail_id as its Received line shows it: twelve base64url characters (``QWa-jRKRUm-Z``).

    >>> len(amavis_id(random.Random(1)))
    12
    """
    return "".join(rng.choice(_AMAVIS_ID_CHARS) for _ in range(12))


def amavis_replies(queue_id: str, pid: int, verdict: str) -> str:
    """amavisd-new's reply to the end of DATA, as Postfix's smtp client logs it: after re-injecting the message
    (``from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as QUEUEID``, the re-injection's own reply), or
    for spam it discards (``final_spam_destiny = D_DISCARD``) or bounces (``D_BOUNCE``).

    >>> amavis_replies("546CC60A4F", 4711, "pass")
    '250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 546CC60A4F'
    >>> amavis_replies("", 4711, "drop")
    '250 2.7.0 Ok, discarded, id=04711-01 - spam'
    """
    if verdict == "drop":
        return f"250 2.7.0 Ok, discarded, id={pid:05d}-01 - spam"
    if verdict == "bounce":
        return f"250 2.5.0 Ok, id={pid:05d}-01, BOUNCE"
    return f"250 2.0.0 from MTA(smtp:[127.0.0.1]:{REINJECT_PORT}): 250 2.0.0 Ok: queued as {queue_id}"


def amavis_received(host: str, queue_id: str, rcpt: str, date: datetime) -> str:
    """amavisd-new's Received line for the message Postfix handed it on port 10024.

    >>> from datetime import timezone
    >>> print(amavis_received("filter.example.net", "AbC12dEf3gH4", "bob@example.net",
    ...                       datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))  # doctest: +NORMALIZE_WHITESPACE
    Received: from filter.example.net ([127.0.0.1])
        by localhost (filter.example.net [127.0.0.1]) (amavisd-new, port 10024)
        with ESMTP id AbC12dEf3gH4 for <bob@example.net>;
        Mon,  2 Mar 2026 09:00:05 +0000 (UTC)
    """
    return (f"Received: from {host} ([127.0.0.1]){CRLF}\tby localhost ({host} [127.0.0.1]) (amavisd-new, port "
            f"{AMAVIS_PORT}){CRLF}\twith ESMTP id {queue_id} for <{rcpt}>;{CRLF}\t"
            f"{rfc5322_date(date, zone_comment=True, day=' 2')}")
