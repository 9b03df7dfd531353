"""Benchmark the live mode: messages per second through the real three-hops chain, and latency.

Usage::

    python bench/live.py [--messages 1200] [--client-procs 2] [--sessions 16] [--latency-runs 100]

Prints ``name: value`` lines. The servers run on 127.0.0.1 in this process, as a notebook runs them:
the submission server (STARTTLS + AUTH), the MX (STARTTLS), the mailbox server (LMTP into a Maildir,
fsync'ed by :mod:`mailbox` as Dovecot does), the DNS server, and the relays' queue workers. Every
message is counted once it is stored in the Maildir (the mailbox server's outcome event).

- ``latency_ms_median`` (target < 20), ``latency_ms_p90``: one message at a time with
  :meth:`LiveTopology.send` (a new STARTTLS + AUTH session per message, like a desktop mail client),
  from connecting to the submission server until the message is stored in the Maildir and every
  session that carried it has ended.
- ``msgs_per_s`` (target >= 100): the three-hops chain under load. ``--client-procs`` separate
  processes run ``--sessions`` SMTP sessions in parallel between them; each session does STARTTLS
  and AUTH once and then submits its share of the ``--messages`` messages, as a webmail front end
  or an application's outgoing queue talks to its submission server. Timed from the first
  connection until the last message is in the Maildir.
- ``msgs_per_s_session_each``: the same load, but every message in its own session (connect,
  STARTTLS, AUTH, one message, QUIT), as ``smtp-source`` does without ``-d`` and as desktop clients do.
  ``cpu_ms_per_msg_session_each_servers`` / ``_clients`` / ``_total`` is where that run's CPU went,
  and ``cpu_ceiling_msgs_per_s_session_each`` = cores / total CPU per message is the most this machine
  could carry even if every core were busy all the time with perfect parallelism.
- ``msgs_per_s_session_each_in_process``: per-message sessions sent by ``--sessions`` threads of this
  very process (the load generator shares the servers' interpreter lock), with where the CPU went
  by thread (``cpu_ms_per_msg_in_process_*``: ``client`` the sending threads, ``loop_<server>`` each
  server's event loop, ``queue_<server>`` its relay workers; POSIX per-thread clocks).

- ``soak_rss_mb_before`` / ``soak_rss_mb_after`` / ``soak_rss_growth_mb`` (target growth < 20 MB) and
  ``soak_msgs_per_s``: ``--soak`` messages (default 5,000) through the same chain from the client processes,
  with the resident memory of this process (the servers) read from ``/proc`` before and after, each once
  the queues are idle and 3 s have passed; ``soak_rss_mb_peak`` and ``soak_queued_peak`` are the highest
  resident memory and queue backlog seen during the soak (sampled every 0.2 s).

What the memory target took (November 2026, 5,000 messages over 16 long sessions): growth was 35-45 MB
because a session that stays open held every journey it had carried until it ended (about 5,000 in
memory at the end), and the submission server took messages far faster than the relays passed them on
(a backlog of 2,500-3,100). A transaction's journeys are now let go when the next MAIL starts, and the
servers pause a new message while more than 100 wait (Postfix's ``in_flow_delay``): growth +1 to +3 MB,
backlog about 200. glibc's ``malloc_trim`` once a queue is idle (:mod:`mailhops.live.memory`) then gives
back the memory a burst left free (the settled resident size fell from about 135 MB to 70 MB);
``MALLOC_ARENA_MAX=2`` alone left the growth at 37 MB.

What slowed ``msgs_per_s`` since the per-read timeout (profiled per thread with ``cProfile`` on thread CPU
time, 1,000 messages): aiosmtpd cancels and re-creates its timer at every reset, and a reset for every
line read filled each event loop's timer heap with cancelled timers (about a tenth of the servers' CPU);
a reset now only moves the deadline. Still costly and outside the live package: authheaders re-reads
the Public Suffix List (0.7 s of CPU) each time the DMARC cache of :mod:`mailhops.mta.trust` misses.

``machine_speed_sim_journeys_per_s_before`` / ``_after`` time the simulator (pure CPU, no network) just before
and after: this virtual machine's speed drifts by a quarter or more within minutes, and these two numbers
show which phase a run fell into.

What a new session per message costs (measured with this script and py-spy, November 2026): about
11-17 ms of CPU per message in total on this 2-core virtual machine (servers 8-13 ms, the smtplib clients
the rest), so ``msgs_per_s_session_each`` lands between about 80 and 130 depending on the machine's phase,
and below that when the clients share the servers' interpreter lock (``_in_process``). What brought it
down from about 20 ms: the servers list PIPELINING and the relays pipeline MAIL, RCPT and DATA (two round
trips fewer per hop, as Postfix does), a multi-line reply leaves in one write, and aiosmtpd no longer
rebuilds its command tables with ``inspect.getmembers`` on every connection. What did not help: more
event loops per server (two or three threads sharing the listening socket) and more relay workers made it
slower (more threads contending for one interpreter lock cost more CPU per message); TLS session tickets
off made no measurable difference. Keeping the session open (``msgs_per_s``) removes the handshake, AUTH
and two EHLOs from every message, which is how mail programs that send much (webmail, applications) talk
to their server.
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
from mailhops.live import LiveTopology  # noqa: E402

MESSAGE = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bench %d\r\nMessage-ID: <%d.bench@example.org>\r\n\r\nHello Bob.\r\n"
SENDER, RECIPIENT, LOGIN, PASSWORD = "alice@example.org", "bob@example.net", "alice", "mailhops"


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


def _rss_mb() -> float:
    """The resident memory of this process now, in MB (``/proc/self/statm``; the peak where there is no /proc)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _settled_rss(live: LiveTopology) -> float:
    """The resident memory once every queue is idle and the servers had time to give freed memory back (MB)."""
    import gc

    deadline = time.monotonic() + 60
    while (live.pending() or not all(n.mail is None or n.mail.queue.idle() for n in live._nodes.values())) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    gc.collect()
    time.sleep(3.0)  # mailhops.live.memory gives freed memory back at most every 2 s, when a queue goes idle
    return _rss_mb()


def _one_session(where: tuple[str, int], numbers: list[int]) -> None:
    """One SMTP session: STARTTLS, AUTH, then every message in ``numbers``."""
    with smtplib.SMTP(where[0], where[1], timeout=30) as session:
        session.starttls()
        session.login(LOGIN, PASSWORD)
        for i in numbers:
            session.sendmail(SENDER, [RECIPIENT], MESSAGE % (i, i))


def _client_process(job: tuple[tuple[str, int], list[int], int, bool]) -> float:
    """A separate client process: ``threads`` sessions in parallel; returns the CPU seconds it used."""
    port, numbers, threads, session_each = job
    cpu = time.process_time()
    if session_each:
        parts = [[i] for i in numbers]
    else:
        parts = [numbers[k::threads] for k in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda part: _one_session(port, part), parts))
    return time.process_time() - cpu


def _machine_speed(seconds: float = 1.0) -> float:
    """Simulated three-hops journeys per second: a CPU-only yardstick for how fast this machine is right now."""
    from mailhops.simulate import send

    topology = scenarios.get("three-hops").build()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        send(topology, SENDER, RECIPIENT, seed=n)
        n += 1
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1200)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=16, help="SMTP sessions in parallel, over all client processes")
    parser.add_argument("--latency-runs", type=int, default=100)
    parser.add_argument("--soak", type=int, default=5000, help="messages of the memory soak (0: no soak)")
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

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 300
        while len(stored) < count and time.monotonic() < deadline:
            time.sleep(0.002)
        if len(stored) < count:
            raise SystemExit(f"only {len(stored)} of {count} messages reached the Maildir")

    cpus = os.cpu_count() or 1
    print(f"cpus: {cpus}")
    print(f"machine_speed_sim_journeys_per_s_before: {_machine_speed():.0f}")
    procs_n, per_proc = args.client_procs, max(1, args.sessions // args.client_procs)
    with LiveTopology(sc.build(), on_event=on_event, workers=4) as live:
        port = live.address_of("smtp.example.org")
        for _ in range(20):  # warm-up: imports, caches, the first TLS handshakes
            live.send(sc.sender, sc.recipient)

        latencies = []
        for _ in range(args.latency_runs):
            start = time.perf_counter()
            journey = live.send(sc.sender, sc.recipient)
            latencies.append(time.perf_counter() - start)
            assert journey.outcome is not None and journey.outcome.kind == "delivered"
        latencies.sort()
        print(f"latency_ms_median: {statistics.median(latencies) * 1000:.1f}")
        print(f"latency_ms_p90: {latencies[int(len(latencies) * 0.9)] * 1000:.1f}")

        def load(base: int, session_each: bool, count: int | None = None) -> tuple[float, float, float]:
            """Send --messages (or ``count``) from the client processes; (msgs/s, server CPU s, client CPU s)."""
            count = count or args.messages
            stored.clear()
            jobs = [(port, list(range(base + k, base + count, procs_n)), per_proc, session_each)
                    for k in range(procs_n)]
            start, cpu = time.perf_counter(), time.process_time()
            client_cpu = sum(procs.map(_client_process, jobs))
            wait_for(count)
            rate = count / (max(stored.values()) - start)
            return rate, time.process_time() - cpu, client_cpu

        with multiprocessing.get_context("spawn").Pool(procs_n) as procs:
            procs.map(_client_process, [(port, [10**6 + k], 1, True) for k in range(procs_n)])  # warm-up
            wait_for(procs_n)
            rate, _, _ = load(2 * 10**6, session_each=False)
            print(f"msgs_per_s: {rate:.1f}")
            rate, server_cpu, client_cpu = load(3 * 10**6, session_each=True)
            per_msg = (server_cpu + client_cpu) / args.messages
            print(f"msgs_per_s_session_each: {rate:.1f}")
            print(f"cpu_ms_per_msg_session_each_servers: {server_cpu / args.messages * 1000:.1f}")
            print(f"cpu_ms_per_msg_session_each_clients: {client_cpu / args.messages * 1000:.1f}")
            print(f"cpu_ms_per_msg_session_each_total: {per_msg * 1000:.1f}")
            print(f"cpu_ceiling_msgs_per_s_session_each: {cpus / per_msg:.0f}")
            if args.soak:
                before = _settled_rss(live)
                peak = [before, 0]
                sampling = threading.Event()

                def sample() -> None:  # the highest resident memory and backlog while the soak runs
                    while not sampling.wait(0.2):
                        peak[0], peak[1] = max(peak[0], _rss_mb()), max(peak[1], len(live.pending()))

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                rate, _, _ = load(4 * 10**6, session_each=False, count=args.soak)
                sampling.set()
                sampler.join()
                after = _settled_rss(live)
                print(f"soak_messages: {args.soak}")
                print(f"soak_msgs_per_s: {rate:.1f}")
                print(f"soak_rss_mb_before: {before:.1f}")
                print(f"soak_rss_mb_peak: {peak[0]:.1f}")
                print(f"soak_rss_mb_after: {after:.1f}")
                print(f"soak_rss_growth_mb: {after - before:.1f}")
                print(f"soak_queued_peak: {peak[1]}")
                print(f"soak_journeys_kept: {len(live.journal)}")

        client_cpu_in: list[float] = []

        def send_one(_: int) -> None:
            begin = time.thread_time()
            journey = live.send(sc.sender, sc.recipient, timeout=120)
            assert journey.outcome is not None and journey.outcome.kind == "delivered"
            with lock:
                client_cpu_in.append(time.thread_time() - begin)

        before_threads = _thread_cpu()
        messages = args.messages // 2
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.sessions) as pool:
            list(pool.map(send_one, range(messages)))
        elapsed = time.perf_counter() - start
        after_threads = _thread_cpu()
        print(f"msgs_per_s_session_each_in_process: {messages / elapsed:.1f}")
        print(f"cpu_ms_per_msg_in_process_client: {sum(client_cpu_in) / messages * 1000:.1f}")
        for group in sorted(after_threads):
            spent = after_threads[group] - before_threads.get(group, 0.0)
            print(f"cpu_ms_per_msg_in_process_{group}: {spent / messages * 1000:.1f}")
    print(f"machine_speed_sim_journeys_per_s_after: {_machine_speed():.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
