"""Benchmark the header analyzer: speed on the dev corpus against mail-parser, and adversarial worst cases.

Usage::

    bash ../shared/corpus/get_dev_corpus.sh tests/data/corpus   # once (git-ignored)
    pip install mail-parser                                      # optional, benchmark only
    python bench/analyze.py [--corpus tests/data/corpus] [--repeat 3]

Prints ``name: value`` lines. Both parsers get the same Received values (as the stdlib ``email``
package returns them from each message, extracted before timing) and produce hops with dates and
delays: mailhops' :func:`~mailhops.read.hops.hops_from_received` against mail-parser's
``receiveds_parsing`` (the function behind ``MailParser.received``). They take turns on chunks of 40
messages, each chunk counting its fastest of ``--repeat`` rounds, so a busy machine slows both alike.
Target: mailhops >= 4x mail-parser's rate; every 1 MB adversarial header block in < 1 s.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import logging
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailhops.read.analyze import analyze  # noqa: E402
from mailhops.read.hops import hops_from_received  # noqa: E402


def load_corpus(folder: Path) -> tuple[list[list[str]], list[bytes]]:
    received: list[list[str]] = []
    messages: list[bytes] = []
    for path in sorted(folder.glob("*/*.eml")):
        data = path.read_bytes()
        messages.append(data)
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        values = [str(v) for v in (msg.get_all("Received") or [])]
        if values:
            received.append(values)
    return received, messages


def interleaved_rates(funcs: dict, items: list, count: int, repeat: int, chunk: int = 40) -> dict[str, float]:
    """Headers per second of each function. The functions take turns on small chunks of the corpus
    (the order alternating), so that a busy machine slows them alike; each chunk keeps its fastest
    of ``repeat`` rounds."""
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    total = dict.fromkeys(funcs, 0.0)
    names = list(funcs)
    for k, part in enumerate(chunks):
        best = dict.fromkeys(funcs, float("inf"))
        for r in range(repeat):
            order = names if (k + r) % 2 == 0 else names[::-1]
            for name in order:
                func = funcs[name]
                start = time.perf_counter()
                for item in part:
                    func(item)
                best[name] = min(best[name], time.perf_counter() - start)
        for name in names:
            total[name] += best[name]
    return {name: (count / t if t > 0 else float("inf")) for name, t in total.items()}


def report_yield(journeys) -> None:
    """Of the Received headers that contain a FROM, BY or date, the share that yields it; and the shapes of
    those that do not (letters and digits masked: the corpus holds real people's data)."""
    from mailhops.read.analyze import field_yield

    seen, got, raw_missed = field_yield(journeys)
    missed = [re.sub(r"[a-z]", "a", re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", raw)))[:90] for raw in raw_missed]
    for key in seen:
        print(f"corpus_{key}_yield_percent: {100 * got[key] / max(seen[key], 1):.3f} ({got[key]}/{seen[key]})")
    print(f"corpus_unparsed_headers: {len(missed)}")
    for shape in missed[:20]:
        print(f"corpus_unparsed_shape: {shape}")


MB = 1 << 20


def adversarial_blocks() -> dict[str, str]:
    """1 MB header blocks built to make a careless parser backtrack or loop."""
    return {
        "nested_parens": "Received: from a " + "(" * MB + "\n\n",
        "unbalanced_closers": "Received: " + ")" * MB + "\n\n",
        "semicolons": "Received: from a by b" + ";" * MB + "\n\n",
        "keywords": "Received: " + "from by with id for via " * (MB // 24) + "\n\n",
        "brackets_angles": "Received: from " + "[<" * (MB // 2) + "\n\n",
        "date_lookalikes": "Received: from a by b " + "Mon, 1 Jan 2000 " * (MB // 16) + "\n\n",
        "digits_colons": "Received: from a by b; " + "1:" * (MB // 2) + "\n\n",
        "many_short_received": "Received: from a.example.org by b.example.org; 2 Mar 2026 09:00:05 +0000\n" * (MB // 75),
        "folded_lines": "Received: from a\n" + " by b\n" * (MB // 6) + "\n",
        "lost_indentation": "Received: from a\n" + "by b (x [192.0.2.1]) with id for\n" * (MB // 33) + "\n",
        "auth_results": "Authentication-Results: x; " + "spf=pass smtp.mailfrom=a; " * (MB // 26) + "\n\n",
        "many_auth_results": "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=a\n" * (MB // 62),
        "many_dkim_signatures": "DKIM-Signature: v=1; d=example.org; s=s; b=x\n" * (MB // 44),
        "many_x_received": "X-Received: by 2001:db8::1 with SMTP id a; 2 Mar 2026 09:00:05 +0000\n" * (MB // 70),
        "ipv6_like": "Received: from a (" + "1:2:3:4:5:6:7:8 " * (MB // 16) + ") by b; 2 Mar 2026 09:00:05 +0000\n\n",
        "binary_noise": bytes(range(256)).decode("latin-1") * (MB // 256),
        "bounce_report_parts": "Content-Type: multipart/report; boundary=x\n\n"
                               + "--x\nContent-Type: message/rfc822\n\nReceived: a\n\n" * (MB // 50),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "tests" / "data" / "corpus"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # mail-parser logs at debug level on every header

    corpus = Path(args.corpus)
    if corpus.is_dir():
        received, messages = load_corpus(corpus)
        n = sum(len(r) for r in received)
        print(f"corpus_messages: {len(messages)}")
        print(f"corpus_received_headers: {n}")
        funcs = {"mailhops": hops_from_received}
        try:
            from mailparser import utils as mp_utils
        except ImportError:
            mp_utils = None
        else:

            def clauses_only(values: list[str]) -> None:
                for v in values:
                    try:
                        mp_utils.parse_received(v)
                    except Exception:  # noqa: BLE001 - mail-parser raises on unclosed comments
                        pass

            funcs["mailparser"] = mp_utils.receiveds_parsing
            funcs["mailparser_clauses_only"] = clauses_only
        rates = interleaved_rates(funcs, received, n, args.repeat)
        print(f"mailhops_headers_per_s: {rates['mailhops']:.0f}")
        if mp_utils is None:
            print("mailparser_headers_per_s: n/a (pip install mail-parser to compare)")
        else:
            print(f"mailparser_headers_per_s: {rates['mailparser']:.0f}")
            print(f"ratio_vs_mailparser: {rates['mailhops'] / rates['mailparser']:.2f}")
            print(f"mailparser_clauses_only_headers_per_s: {rates['mailparser_clauses_only']:.0f}")
            print(f"ratio_vs_mailparser_clauses_only: {rates['mailhops'] / rates['mailparser_clauses_only']:.2f}")
        start = time.perf_counter()
        crashes = 0
        journeys = []
        for data in messages:
            try:
                journeys.append(analyze(data))
            except Exception:  # noqa: BLE001 - counted: the target is 0
                crashes += 1
        whole = time.perf_counter() - start
        print(f"mailhops_analyze_messages_per_s: {len(messages) / whole:.0f}")
        print(f"mailhops_analyze_headers_per_s: {n / whole:.0f}")
        print(f"corpus_crashes: {crashes}")
        report_yield(journeys)
    else:
        print(f"corpus: absent ({corpus}); run ../shared/corpus/get_dev_corpus.sh {corpus}")

    worst_name, worst = "", 0.0
    for name, block in adversarial_blocks().items():
        start = time.perf_counter()
        analyze(block)
        took = time.perf_counter() - start
        print(f"adversarial_{name}_s: {took:.3f}")
        if took > worst:
            worst_name, worst = name, took
    print(f"adversarial_worst_case: {worst_name}")
    print(f"adversarial_worst_s: {worst:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
