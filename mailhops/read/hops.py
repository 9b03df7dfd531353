"""The chain of ``Received`` headers, read into hops oldest first, with the delay of each hop.

Every server prepends its ``Received`` header, so the bottom-most is the oldest: hop 1. Each hop is
read by :func:`~mailhops.read.received.parse_received`; its delay is the time since the previous
dated hop. :func:`hop_json` gives a hop as the ``mailhops analyze --format json`` document shows it.

>>> [h.by_name for h in hops_from_received(["from b.example.net by c.example.net", "from a.example.org by b.example.net"])]
['b.example.net', 'c.example.net']
"""

from __future__ import annotations

from typing import Any

from ..journey import Hop
from .received import merge_companion_stamps, parse_received

__all__ = ["hops_from_received", "hop_json", "MAX_HOPS", "HOP_KEYS"]

#: Received headers beyond this many are kept raw, not parsed: no real path is that long
#: (RFC 5321 §6.3 asks for a hop limit of at least 100), so it is a loop or an attack.
MAX_HOPS = 500

#: The keys of a hop in the JSON document, in order.
HOP_KEYS = ("n", "from_name", "helo", "rdns", "ip", "by_name", "by_ip", "with", "tls", "auth", "id", "for", "via",
            "date_utc", "delay_s", "mta", "envelope_from", "raw", "problems")


def hops_from_received(values_top_first: list[str]) -> list[Hop]:
    """Hops, oldest first, from Received header values as they appear in a message (newest on top).

    Each hop's ``delay_s`` is the time since the previous dated hop (the first hop has none, as in a
    simulated journey); a negative delay is kept and flagged in the hop's problems.

    >>> hops = hops_from_received(["from b.example.net by c.example.net; 2 Mar 2026 09:00:00 +0000",
    ...                            "from a.example.org by b.example.net; 2 Mar 2026 09:00:30 +0000"])
    >>> [(h.n, h.by_name, h.delay_s) for h in hops], hops[1].problems
    ([(1, 'b.example.net', None), (2, 'c.example.net', -30.0)], ['dated 30 s before hop 1 (clock skew between the servers)'])
    """
    hops: list[Hop] = []
    for k, value in enumerate(reversed(values_top_first)):
        if k >= MAX_HOPS:
            hops.append(Hop(n=k + 1, raw=" ".join(value.split())[:2000],
                            problems=[f"not parsed: more than {MAX_HOPS} Received headers (a mail loop?)"]))
        else:
            hops.append(parse_received(value, n=k + 1))
    hops = merge_companion_stamps(hops)  # qmail's two stamps of one hop
    _set_delays(hops)
    return hops


def _set_delays(hops: list[Hop]) -> None:
    """Each dated hop's ``delay_s`` since the previous dated hop; a negative one is flagged."""
    previous = None
    previous_label = ""
    for hop in hops:
        if hop.date is None:
            continue
        if previous is not None:
            hop.delay_s = (hop.date - previous).total_seconds()
            if hop.delay_s < 0:
                hint = (" (a pull by fetchmail/getmail, or clock skew)" if hop.mta in ("fetchmail", "getmail")
                        else " (clock skew between the servers)")
                hop.problems.append(f"dated {-hop.delay_s:.0f} s before {previous_label}{hint}")
        previous = hop.date
        previous_label = f"hop {hop.n}"


def hop_json(hop: Hop) -> dict[str, Any]:
    """The hop as the JSON document shows it: the keys of :data:`HOP_KEYS`, in that order.

    >>> list(hop_json(Hop(n=1)))[:4]
    ['n', 'from_name', 'helo', 'rdns']
    """
    d = hop.to_dict()
    return {k: d[k] for k in HOP_KEYS}
