"""Bounces: the RFC 3464 delivery status notification a server writes when it gives up (or is delaying).

The shape is the same for every MTA (``multipart/report; report-type=delivery-status``, RFC 3464/6522);
the subject comes from the reporting MTA's module (``BOUNCE_SUBJECT``). The last part carries the original headers.

>>> from datetime import datetime, timezone
>>> from mailhops.topology import Server
>>> dsn = make_dsn(Server("mx.example.net", "mx", "198.51.100.25", mta="exim"),
...                Envelope("alice@example.org", "nobody@example.net"), b"Subject: Hi\\r\\n\\r\\nhello\\r\\n",
...                Reply(550, "5.1.1", "<nobody@example.net>: Unrouteable address"),
...                datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc))
>>> [line for line in dsn.split(b"\\r\\n") if line.startswith((b"Subject:", b"Action:", b"Status:"))]
[b'Subject: Mail delivery failed: returning message to sender', b'Action: failed', b'Status: 5.1.1', b'Subject: Hi']
"""

from __future__ import annotations

import email.policy
import email.utils
import random
from datetime import datetime
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from ..topology import Server
from . import FLAVOURS
from .headers import parse, tz_of
from .smtp import Envelope, Reply


def make_dsn(
    reporter: Server,
    envelope: Envelope,
    original: bytes,
    reply: Reply,
    when: datetime,
    *,
    remote: str | None = None,
    rng: random.Random | None = None,
    final: bool | None = None,
) -> bytes:
    """An RFC 3464 delivery status notification from ``reporter`` to the envelope sender.

    ``final`` says whether the server has given up (``Action: failed``); by default that follows the reply
    (5xx: failed, 4xx: a delay warning, ``Action: delayed``). A message given up after its retries ran out
    is ``failed`` with its last 4.x.x status (RFC 3464 §2.3.3), as Postfix reports a message that outlived
    ``maximal_queue_lifetime``.

    ``multipart/report; report-type=delivery-status`` with a human-readable part, the machine-readable
    ``message/delivery-status`` part (Reporting-MTA, Final-Recipient, Action, Status, Remote-MTA,
    Diagnostic-Code) and the original message's headers (``text/rfc822-headers``, RFC 6522).
    """
    orig = parse(original)
    local_when = when.astimezone(tz_of(reporter))
    status = reply.status or ("5.0.0" if reply.permanent else "4.0.0")
    subject = FLAVOURS[reporter.mta].BOUNCE_SUBJECT.format(subject=orig.get("Subject", ""))
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@{reporter.name}>"
    report["To"] = envelope.mail_from
    report["Subject"] = subject
    report["Date"] = email.utils.format_datetime(local_when)
    report["Message-ID"] = f"<{(rng or random.Random(0)).getrandbits(48):012x}.bounce@{reporter.name}>"
    report["Auto-Submitted"] = "auto-replied"
    where = f" by {remote}" if remote else ""
    human = (
        f"This is the mail system at host {reporter.name}.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        f"<{envelope.rcpt}>: message refused{where}: {reply}\n"
    )
    report.attach(MIMEText(human, "plain", "us-ascii"))
    per_message = Message()
    per_message["Reporting-MTA"] = f"dns; {reporter.name}"
    per_message["Arrival-Date"] = email.utils.format_datetime(local_when)
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {envelope.rcpt}"
    if envelope.original_rcpt and envelope.original_rcpt != envelope.rcpt:
        per_recipient["Original-Recipient"] = f"rfc822; {envelope.original_rcpt}"
    given_up = reply.permanent if final is None else final
    per_recipient["Action"] = "failed" if given_up else "delayed"
    per_recipient["Status"] = status
    if remote:
        per_recipient["Remote-MTA"] = f"dns; {remote}"
    per_recipient["Diagnostic-Code"] = f"smtp; {reply}"
    status_part = Message()
    status_part["Content-Type"] = "message/delivery-status"
    status_part["Content-Description"] = "Delivery report"
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    head = original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").replace("\r\n", "\n")
    headers_part = Message()
    headers_part["Content-Type"] = "text/rfc822-headers"
    headers_part["Content-Description"] = "Undelivered Message Headers"
    headers_part.set_payload(head + "\n")
    report.attach(headers_part)
    return report.as_bytes(policy=email.policy.SMTP)
