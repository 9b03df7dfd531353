"""Benchmark the live mode: messages per second through the real three-hops chain, and latency.

Usage::

    python bench/live.py [--messages 400] [--senders 16] [--latency-runs 100]

Prints ``name: value`` lines. Everything runs on 127.0.0.1 in this one process: the client, the
submission server (STARTTLS + AUTH), the MX (STARTTLS), the mailbox server (LMTP into a Maildir,
fsync'ed by :mod:`mailbox` as Dovecot does), the DNS server, and the relays' queue workers.

- ``latency_*``: one message at a time with :meth:`LiveTopology.send` (a new submission session per
  message, like a desktop mail client), from connecting to the submission server until the message
  is stored in the Maildir and every session that carried it has ended. Target: median < 20 ms.
- ``msgs_per_s_session_each``: ``--senders`` threads call ``send`` concurrently, each message with its
  own TLS + AUTH submission session. Target: >= 100 msg/s on a 2-core machine.
- ``cpu_ms_per_msg_session_each_*``: where that run's CPU went, per message: ``client`` is the sending
  threads (smtplib, STARTTLS, AUTH), ``loop_<server>`` each server's event-loop thread (aiosmtpd, TLS,
  spooling, Maildir), ``queue_<server>`` its relay workers (the client side of the next hop). Read
  from POSIX per-thread CPU clocks; absent where ``time.pthread_getcpuclockid`` is missing.
- ``msgs_per_s_client_processes``: the same per-message sessions (STARTTLS + AUTH each), but sent by
  ``--client-procs`` separate processes of 8 threads each, as real clients would be: the servers' process
  no longer shares its interpreter lock with the load generator. Timed until the last message is stored.
- ``msgs_per_s_app_sessions``: ``--senders`` threads each keep one authenticated submission session
  open and send their share over it (an application flushing a batch with smtplib), timed until the
  last message is in the Maildir; ``app_latency_ms_median`` is per message, from ``sendmail`` until
  the mailbox stored it.

Why ``msgs_per_s_session_each`` stays below 100 on 2 cores (measured with this script, py-spy and
yappi, November 2026): the run costs about 15 ms of CPU per message, and the Python part of it is
serialised by the one interpreter lock, so the process gets little more than one core's worth of work
done. No single hot spot: the submission server's loop alone takes about 5 ms per message (a new
connection each time: aiosmtpd builds its command tables with ``inspect.getmembers`` on every new
connection, about 0.6 ms; a TLS handshake through asyncio's pure-Python ``sslproto``; two EHLOs, AUTH,
the spool file written before the 250), the MX and mailbox loops about 2 ms each, the relays' workers
about 2 ms, and the in-process client about 3.5 ms. Moving the client out (``client_processes``) or
keeping its session open (``app_sessions``) shows the servers' own ceiling. TLS session resumption on
the client side (as Thunderbird does) was measured at about 0.1 ms saved per handshake with this P-256
key, so it is not offered as a separate figure.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import smtplib
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailhops import scenarios  # noqa: E402
from mailhops.journey import Journey  # noqa: E402
from mailhops.live import LiveTopology  # noqa: E402

MESSAGE = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bench %d\r\nMessage-ID: <%d.bench@example.org>\r\n\r\nHello Bob.\r\n"


def _thread_cpu() -> dict[str, float]:
    """CPU seconds used so far by the servers' threads, by role (POSIX per-thread clocks; empty elsewhere)."""
    out: dict[str, float] = {}
    if not hasattr(time, "pthread_getcpuclockid"):
        return out
    for thread in threading.enumerate():
        name = thread.name
        if name.startswith("mailhops-server-"):
            group = "loop_" + name.removeprefix("mailhops-server-").split(".")[0]
        elif name.startswith("mailhops-queue-"):
            group = "queue_" + name.removeprefix("mailhops-queue-").split(".")[0]
        else:
            continue
        try:
            spent = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))  # type: ignore[arg-type]
        except (OSError, TypeError):
            continue
        out[group] = out.get(group, 0.0) + spent
    return out


def _client_process(job: tuple[int, list[int], int]) -> int:
    """Send one message per SMTP session (STARTTLS + AUTH each), from a separate process."""
    port, numbers, threads = job

    def one(i: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as session:
            session.starttls()
            session.login("alice", "mailhops")
            session.sendmail("alice@example.org", ["bob@example.net"], MESSAGE % (i, i))

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, numbers))
    return len(numbers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--latency-runs", type=int, default=100)
    parser.add_argument("--client-procs", type=int, default=2)
    args = parser.parse_args()
    sc = scenarios.get("three-hops")
    stored: dict[str, float] = {}
    lock = threading.Lock()

    def on_event(what: str, journey, item) -> None:  # noqa: ANN001
        if what == "outcome" and journey.message is not None:
            for line in journey.message.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    with lock:
                        stored[line.split(b":", 1)[1].strip().decode()] = time.perf_counter()

    print(f"cpus: {os.cpu_count()}")
    with LiveTopology(sc.build(), on_event=on_event, workers=4) as live:
        for _ in range(20):  # warm-up: imports, caches, the first TLS handshakes
            live.send(sc.sender, sc.recipient)

        latencies = []
        for _ in range(args.latency_runs):
            start = time.perf_counter()
            journey = live.send(sc.sender, sc.recipient)
            latencies.append(time.perf_counter() - start)
            assert journey.outcome.kind == "delivered"
        latencies.sort()
        print(f"latency_ms_median: {statistics.median(latencies) * 1000:.1f}")
        print(f"latency_ms_p90: {latencies[int(len(latencies) * 0.9)] * 1000:.1f}")

        client_cpu: list[float] = []

        def send_one(_: int) -> Journey:
            begin = time.thread_time()
            journey = live.send(sc.sender, sc.recipient, timeout=120)
            with lock:
                client_cpu.append(time.thread_time() - begin)
            return journey

        before_threads = _thread_cpu()
        start, cpu = time.perf_counter(), time.process_time()
        with concurrent.futures.ThreadPoolExecutor(args.senders) as pool:
            journeys = list(pool.map(send_one, range(args.messages)))
        elapsed = time.perf_counter() - start
        total_cpu = time.process_time() - cpu
        after_threads = _thread_cpu()
        assert all(j.outcome.kind == "delivered" for j in journeys)
        print(f"msgs_per_s_session_each: {args.messages / elapsed:.1f}")
        print(f"cpu_ms_per_msg_session_each: {total_cpu / args.messages * 1000:.1f}")
        print(f"cpu_ms_per_msg_session_each_client: {sum(client_cpu) / args.messages * 1000:.1f}")
        for group in sorted(after_threads):
            spent = after_threads[group] - before_threads.get(group, 0.0)
            print(f"cpu_ms_per_msg_session_each_{group}: {spent / args.messages * 1000:.1f}")

        port = live.ports["smtp.example.org"]
        with multiprocessing.get_context("spawn").Pool(args.client_procs) as procs:
            procs.map(_client_process, [(port, [10**6 + k], 1) for k in range(args.client_procs)])  # warm-up
            warm = [f"<{10**6 + k}.bench@example.org>" for k in range(args.client_procs)]
            while not all(w in stored for w in warm):
                time.sleep(0.002)
            stored.clear()
            start = time.perf_counter()
            jobs = [(port, list(range(2 * 10**6 + k, 2 * 10**6 + args.messages, args.client_procs)), 8)
                    for k in range(args.client_procs)]
            procs.map(_client_process, jobs)
            deadline = time.monotonic() + 120
            while len(stored) < args.messages and time.monotonic() < deadline:
                time.sleep(0.002)
        assert len(stored) >= args.messages, (len(stored), args.messages)
        print(f"msgs_per_s_client_processes: {args.messages / (max(stored.values()) - start):.1f}")

        before = len(live.maildir(sc.recipient))
        sent: dict[str, float] = {}

        def app(worker: int) -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as session:
                session.starttls()
                session.login("alice", live.password)
                for i in range(worker, args.messages, args.senders):
                    msg_id = f"<{i}.bench@example.org>"
                    with lock:
                        sent[msg_id] = time.perf_counter()
                    session.sendmail(sc.sender, [sc.recipient], MESSAGE % (i, i))

        stored.clear()
        start, cpu = time.perf_counter(), time.process_time()
        with concurrent.futures.ThreadPoolExecutor(args.senders) as pool:
            list(pool.map(app, range(args.senders)))
        deadline = time.monotonic() + 120
        while len(stored) < args.messages and time.monotonic() < deadline:
            time.sleep(0.002)
        elapsed = max(stored.values()) - start
        delivered = len(live.maildir(sc.recipient)) - before
        assert delivered == args.messages, (delivered, args.messages)
        print(f"msgs_per_s_app_sessions: {args.messages / elapsed:.1f}")
        print(f"cpu_ms_per_msg_app_sessions: {(time.process_time() - cpu) / args.messages * 1000:.1f}")
        app_latency = [stored[k] - sent[k] for k in sent if k in stored]
        print(f"app_latency_ms_median: {statistics.median(app_latency) * 1000:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
