"""Reading a bounce: the delivery status of an RFC 3464 report and the route of the returned message.

A bounce is a ``multipart/report; report-type=delivery-status`` message (RFC 3464/6522). Its
``message/delivery-status`` part says what failed and why (``Action``, ``Status``,
``Diagnostic-Code``...); its ``message/rfc822`` or ``text/rfc822-headers`` part carries the returned
message's headers, whose own Received headers tell where the original went before it failed.

>>> report = (
...     "Content-Type: multipart/report; report-type=delivery-status; boundary=x\\n\\n"
...     "--x\\nContent-Type: message/delivery-status\\n\\nReporting-MTA: dns; mx.example.net\\n\\n"
...     "Final-Recipient: rfc822; bob@example.net\\nAction: failed\\nStatus: 5.1.1\\n\\n"
...     "--x\\nContent-Type: text/rfc822-headers\\n\\n"
...     "Received: from a.example.org by mx.example.net; 2 Mar 2026 09:00:05 +0000\\n\\n--x--\\n")
>>> from mailhops.read.headers import split_headers
>>> returned = read_returned_message(split_headers(report)[0], report)
>>> returned["action"], returned["status"], returned["received"], returned["hops"][0]["by_name"]
('failed', '5.1.1', 1, 'mx.example.net')
>>> describe_returned(returned)
['This is a bounce (failed 5.1.1 for bob@example.net).', 'The returned message had crossed 1 hop(s), the last one into mx.example.net.']
"""

from __future__ import annotations

import email
import email.message
import email.policy
from typing import Any

from .headers import first_value, split_headers, values
from .hops import hop_json, hops_from_received

__all__ = ["read_returned_message", "describe_returned"]

#: The fields of a delivery status (RFC 3464 §2.2, §2.3) and their keys in ``summary["returned_message"]``.
DSN_FIELDS = {"final-recipient": "final_recipient", "original-recipient": "original_recipient", "action": "action",
              "status": "status", "diagnostic-code": "diagnostic", "remote-mta": "remote_mta",
              "reporting-mta": "reporting_mta"}

_RETURNED_KINDS = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")


def read_returned_message(headers: list[tuple[str, str]], text: str) -> dict[str, Any] | None:
    """For a bounce (RFC 3464 ``multipart/report``): the delivery status and the route of the returned message.

    ``headers`` are the bounce's own fields, ``text`` the whole bounce. Returns None for any other
    message; a report that cannot be read gives what was read plus a ``"problem"``. The first value of
    each delivery-status field wins, and the first returned message gives ``"received"`` (how many
    Received headers it carries) and ``"hops"``; the keys come in the order the parts are read.
    """
    content_type = first_value(headers, "content-type") or ""
    if "multipart/report" not in content_type.lower() or len(text) > 10_000_000:
        return None
    if text.count("\n--") > 1000:  # a report has a handful of parts; thousands are an attack, not a bounce
        return {"problem": "the bounce's report has too many parts to be read"}
    result: dict[str, Any] = {}
    try:
        msg = email.message_from_string(text, policy=email.policy.compat32)
        for part in msg.walk():
            kind = part.get_content_type()
            if kind == "message/delivery-status":
                _read_delivery_status(part, result)
            elif kind in _RETURNED_KINDS and "hops" not in result:
                received = _returned_received(part, kind)
                result["received"] = len(received)
                result["hops"] = [hop_json(h) for h in hops_from_received(received)]
    except Exception as err:  # a malformed report is a problem to show, not a crash  # noqa: BLE001
        result["problem"] = f"the bounce's report could not be read ({type(err).__name__})"
    return result or None


def _read_delivery_status(part: email.message.Message, result: dict[str, Any]) -> None:
    """The fields of a ``message/delivery-status`` part (the per-message block, then one per recipient)
    into ``result``, unfolded; a field already read is kept."""
    blocks = part.get_payload()
    for block in blocks if isinstance(blocks, list) else []:
        for name, key in DSN_FIELDS.items():
            value = block.get(name)
            if value is not None and key not in result:
                result[key] = " ".join(str(value).split())


def _returned_received(part: email.message.Message, kind: str) -> list[str]:
    """The Received values (top first) of the returned message a report part carries, whole or headers only."""
    if kind == "message/rfc822" and isinstance(part.get_payload(), list) and part.get_payload():
        inner = part.get_payload()[0]
        return [str(v) for v in inner.get_all("Received", [])]
    payload = part.get_payload(decode=True) or b""
    inner_headers, _ = split_headers(payload.decode("utf-8", "replace"))
    return values(inner_headers, "received")


def describe_returned(returned: dict[str, Any]) -> list[str]:
    """What :func:`read_returned_message` found, in a sentence or two for the text table."""
    status = " ".join(x for x in (returned.get("action"), returned.get("status")) if x)
    who = (returned.get("final_recipient") or "").split(";")[-1].strip()
    why = returned.get("diagnostic")
    what = "a bounce" if (returned.get("action") or "failed").lower() == "failed" else "a delivery report"
    lines = [f"This is {what} ({status or 'no delivery status'}{' for ' + who if who else ''})"
             + (f": {why}." if why else ".")]
    if returned.get("hops"):
        last = returned["hops"][-1]
        lines.append(f"The returned message had crossed {len(returned['hops'])} hop(s), the last one into "
                     f"{last.get('by_name') or 'an unnamed server'}.")
    return lines
