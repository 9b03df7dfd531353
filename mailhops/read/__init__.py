"""Reading real messages: the route of a message, from its headers.

What lives here, in the order :func:`analyze` uses it:

- :mod:`.headers` — the source (text, bytes or path) read as text and split into header fields, repaired.
- :mod:`.received` — one ``Received`` header read into a :class:`~mailhops.journey.Hop`, step by step.
- :mod:`.dates` — the dates MTAs write, RFC 5322 and the many that are not.
- :mod:`.hops` — the chain of ``Received`` headers into hops oldest first, with their delays.
- :mod:`.auth` — the authentication results (SPF, DKIM, DMARC, ARC) and which of them to trust.
- :mod:`.bounce` — a bounce's RFC 3464 report: why delivery failed and the returned message's route.
- :mod:`.analyze` — :func:`analyze`, which composes them into the same :class:`~mailhops.journey.Journey`
  the simulator and the live servers produce; the JSON document and the text table.

May use: the records only (:mod:`mailhops.journey`, :mod:`mailhops.errors`). Reading never simulates,
draws or touches the network.

>>> from mailhops.read import analyze
>>> raw = (b"Received: from mail.example.org (mail.example.org [192.0.2.25])\\r\\n"
...        b"\\tby mx.example.net (Postfix) with ESMTPS id 4ABC1234D5\\r\\n"
...        b"\\tfor <bob@example.net>; Mon,  2 Mar 2026 09:00:05 +0000 (UTC)\\r\\n\\r\\n")
>>> [(h.from_name, h.by_name, h.with_) for h in analyze(raw).hops]
[('mail.example.org', 'mx.example.net', 'ESMTPS')]
"""

from __future__ import annotations

from .analyze import analyze, journey_table, to_json_dict

__all__ = ["analyze", "journey_table", "to_json_dict"]
