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
import re
from typing import Any

from .headers import first_value, split_headers, values
from .hops import hop_json, hops_from_received

__all__ = ["bounce_writer", "read_returned_message", "describe_returned"]

#: How each MTA's bounce gives itself away (checked against the MTAs' sources and real bounces; see the
#: docstrings of :mod:`mailhops.mta.postfix`, ``exim``, ``sendmail``, ``qmail``, ``exchange``, ``gmail``):
#: (MTA, a header name/value or a body phrase that only it writes).
_FINGERPRINTS: tuple[tuple[str, str, str], ...] = (
    ("gmail", "from", "mailer-daemon@googlemail.com"),
    ("exchange", "x-ms-exchange-message-is-ndr", ""),
    ("exchange", "body", "Delivery has failed to these recipients or groups:"),
    ("exim", "body", "This message was created automatically by mail delivery software."),
    ("sendmail", "from", "Mail Delivery Subsystem"),
    ("sendmail", "body", "----- Transcript of session follows -----"),
    ("qmail", "body", "This is the qmail-send program at"),
    ("postfix", "body", "X-Postfix-Queue-ID:"),
    ("postfix", "body", "This is the mail system at host"),
)

_NAMES = {"postfix": "Postfix", "exim": "Exim", "sendmail": "Sendmail", "qmail": "qmail",
          "exchange": "Microsoft Exchange", "gmail": "Gmail"}


def bounce_writer(headers: list[tuple[str, str]], text: str) -> str | None:
    """Which MTA wrote this bounce (``"postfix"``, ``"exim"``, ...), from what only that MTA writes; else None.

    >>> bounce_writer([("From", "MAILER-DAEMON@mx.example.net")], "Hi. This is the qmail-send program at mx.example.net.")
    'qmail'
    """
    for mta, where, what in _FINGERPRINTS:
        if where == "body":
            if what in text:
                return mta
            continue
        value = first_value(headers, where)
        if value is not None and what.lower() in value.lower():
            return mta
    return None


def _read_qmail(text: str) -> dict[str, Any] | None:
    """qmail-send's plain-text bounce (QSBMF): the failed address, qmail-remote's words, the returned copy."""
    body = text.replace("\r\n", "\n").split("\n\n", 1)[-1]
    intro, _, rest = body.partition("\n\n")
    if "qmail-send program" not in intro:
        return None
    paragraphs, _, copy = rest.partition("--- Below this line is a copy of the message.")
    result: dict[str, Any] = {}
    for paragraph in paragraphs.strip().split("\n\n"):
        head, _, words = paragraph.partition("\n")
        if head.startswith("<") and head.endswith(">:"):
            result["final_recipient"] = f"rfc822; {head[1:-2]}"
            result["action"] = "failed"
            said = next((line.split(": ", 1)[1] for line in words.splitlines() if line.startswith("Remote host said:")),
                        " ".join(words.split()))
            result["diagnostic"] = said
            code = re.search(r"\b([245]\.\d{1,3}\.\d{1,3})\b|\(#([245]\.\d{1,3}\.\d{1,3})\)", said)
            result["status"] = (code.group(1) or code.group(2)) if code else "5.0.0"
            break
    inner_headers, _ = split_headers(copy.lstrip("\n"))
    received = values(inner_headers, "received")
    result["received"] = len(received)
    result["hops"] = [hop_json(h) for h in hops_from_received(received)]
    return result

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
    if len(text) > 10_000_000:
        return None
    if "multipart/report" not in content_type.lower():
        plain = _read_qmail(text) if "qmail-send program" in text else None
        if plain is not None:
            plain.update(mta="qmail", mta_name=_NAMES["qmail"])
        return plain
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
    writer = bounce_writer(headers, text)
    if result and writer is not None:
        result["mta"], result["mta_name"] = writer, _NAMES[writer]
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
    if returned.get("mta_name"):
        what += f" written by {returned['mta_name']}"
    lines = [f"This is {what} ({status or 'no delivery status'}{' for ' + who if who else ''})"
             + (f": {why}." if why else ".")]
    if returned.get("hops"):
        last = returned["hops"][-1]
        lines.append(f"The returned message had crossed {len(returned['hops'])} hop(s), the last one into "
                     f"{last.get('by_name') or 'an unnamed server'}.")
    return lines
