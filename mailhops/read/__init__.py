"""Reading real messages: the route of a message, from its headers.

What lives here: the ``Received:`` parser (:mod:`.received`), date parsing (:mod:`.dates`), the
authentication results (:mod:`.auth`), and :func:`analyze` (:mod:`.analyze`), which turns a real
message's header block — or a bounce — into the same :class:`~mailhops.journey.Journey` the simulator
and the live servers produce.

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
