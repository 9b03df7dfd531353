"""Postfix: the Received line, replies, queue ids and hop limit of Postfix 3.x.

Checked against Postfix's sources and documentation: smtpd.c writes the Received line (``from HELO
(RDNS [IP])``, the ``(using TLS...)`` comments, ``with ESMTPS id QUEUEID``, ``for <RCPT>``, the date with
``%e`` and the ``(ZONE)`` comment; since Postfix 3.4 a TLS 1.3 session adds the ``key-exchange ...
server-signature ... server-digest ...`` continuation) and writes the headers a policy service asks it to PREPEND (policyd-spf's
Received-SPF) just before it; cleanup counts the Received headers including the one smtpd adds against
``hopcount_limit`` (50) and smtpd refuses with ``554 5.4.0 Error: too many hops``; the bounce daemon's
subject is "Undelivered Mail Returned to Sender"; mail made on the server itself (a bounce) gets cleanup's
``Received: by HOST (Postfix) id QUEUEID`` line and a ``Message-Id: <YYYYMMDDhhmmss.QUEUEID@HOST>``. Short
queue ids are five hex digits of the arrival's microseconds (at most ``F423F``) followed by the queue file's
inode number in hex (``queue_id``). The bounce (:func:`bounce`) follows bounce_template.c's default failure
template and bounce_notify_util.c (``Content-Description: Notification`` / ``Delivery report`` /
``Undelivered Message``, ``X-Postfix-Queue-ID``, ``X-Postfix-Sender``, the Arrival-Date of the original,
``host X[IP] said: ... (in reply to RCPT TO command)`` wrapped at 79 columns with four spaces, the whole
original as ``message/rfc822`` unless larger than ``bounce_size_limit``), and was compared with a real Postfix
2.x bounce in the development corpus (tests/data/corpus, pypi-lamson). local(8) refuses an alias or .forward
loop with ``5.4.6 mail forwarding loop for ADDRESS`` when the message already has ``Delivered-To: ADDRESS``.

>>> from datetime import datetime, timezone
>>> print(received(helo="[192.168.1.23]", rdns=None, ip="203.0.113.45", by_name="smtp.example.org",
...                protocol="ESMTPSA", queue_id="4ABC1234D5", rcpt=None,
...                date=datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc)))  # doctest: +NORMALIZE_WHITESPACE
Received: from [192.168.1.23] (unknown [203.0.113.45])
	by smtp.example.org (Postfix) with ESMTPSA id 4ABC1234D5; Mon,  2 Mar 2026 09:00:05 +0000 (UTC)
>>> str(relay_denied("victim@example.com"))
'550 5.7.1 <victim@example.com>: Relay access denied'
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..topology import Server
from .dsn import Failure, boundary_header, original_head, part, report, returned_message, status_part, too_large, wrap
from .headers import CRLF, count_fields, rfc5322_date, tcp_info, tz_of
from .smtp import Envelope, Reply, Session, parse_reply

if TYPE_CHECKING:  # the verdict of mailhops.mta.trust, which imports this module
    from .trust import Verdict

NAME = "postfix"
SOFTWARE = "Postfix"
HOP_LIMIT = 50
LOOP_REPLY = "554 5.4.0 Error: too many hops"
DOCUMENTED = True
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = False
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "Undelivered Mail Returned to Sender"

#: The reply code mailhops' Postfix servers use for ``reject_unauth_destination``: they are configured with
#: ``relay_domains_reject_code = 550`` (Postfix's own default is 554), so that every MTA of a lesson refuses
#: relaying with 550 5.7.1, the code RFC 5321 §4.2.2 and RFC 3463 give for "not accepted by policy".
RELAY_DOMAINS_REJECT_CODE = 550

#: What ``content_filter`` hands each message to on a Postfix server of a given role, over loopback: amavisd-new
#: on a spam filter (``smtp-amavis:[127.0.0.1]:10024``, re-injected into the second smtpd on 127.0.0.1:10025)
#: and ClamSMTP on a virus scanner (clamsmtpd on 10025, handing it back on 10026). See
#: :func:`mailhops.mta.roles.filter_hops`.
CONTENT_FILTERS: dict[str, str] = {"filter": "amavis", "antivirus": "clamsmtp"}

_TLS = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
_TLS13 = " key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"
#: Postfix local(8) and qmail-local detect alias/.forward loops by their own Delivered-To line.
DELIVERED_TO_LOOPS = True


def received(
    *,
    helo: str | None,
    rdns: str | None,
    ip: str,
    by_name: str,
    protocol: str,
    queue_id: str,
    rcpt: str | None,
    date: datetime,
    envelope_from: str | None = None,
    by_ip: str | None = None,
    tls: bool = False,
    auth_user: str | None = None,
    software: str | None = None,
) -> str:
    """Postfix smtpd's Received line: tab-folded, the TLS comments on their own lines."""
    lines = [f"from {tcp_info(helo, rdns, ip)}"]
    if tls:
        lines.append(f"(using {_TLS}")
        lines.append(f"{_TLS13})")
        lines.append("(No client certificate requested)")
    lines.append(f"by {by_name} (Postfix) with {protocol} id {queue_id}")
    tail = rfc5322_date(date, zone_comment=True, day=" 2")
    if rcpt:
        lines.append(f"for <{rcpt}>; {tail}")
    else:
        lines[-1] += f"; {tail}"
    return "Received: " + (CRLF + "\t").join(lines)


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Postfix writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from HELO (RDNS [IP])``; "unknown" when the client gave no usable name and has no PTR."""
    return claimed or reverse or "unknown"


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """A short Postfix queue id: five hex digits of microseconds, then the queue file's inode number in hex.

    >>> queue_id(Server("mx.example.net", "mx", "198.51.100.25"), random.Random(1),
    ...          datetime(2026, 3, 2, 9, 0, 5, 270230))[:5]
    '41F39'
    """
    usec = (when.microsecond // 1000) * 1000 + rng.randrange(1000)
    return f"{usec:05X}{rng.randrange(0x100000, 0x1000000):X}"


def greeting(server: Server, when: datetime) -> Reply:
    """``smtpd_banner``'s default, ``$myhostname ESMTP $mail_name``."""
    return Reply(220, "", f"{server.name} ESMTP Postfix")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.1", f"<{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table")


def relay_denied(rcpt: str) -> Reply:
    return Reply(RELAY_DOMAINS_REJECT_CODE, "5.7.1", f"<{rcpt}>: Relay access denied")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    return Reply(250, "2.0.0", f"Ok: queued as {qid}")


# -- when delivery fails: client restrictions and the retry schedule (see mailhops.mta.policy) ---------------

#: The queue manager's retry settings (postconf defaults): the wait before a deferred message is tried again is
#: its age in the queue, at least ``minimal_backoff_time`` and at most ``maximal_backoff_time`` (qmgr_active.c),
#: until it is ``maximal_queue_lifetime`` old and bounces; ``delay_warning_time`` is off (0h) by default, and
#: sites that want delay warnings usually set it to 4h.
MINIMAL_BACKOFF_TIME = 300
MAXIMAL_BACKOFF_TIME = 4000
MAXIMAL_QUEUE_LIFETIME = 5 * 86400
DELAY_WARNING_TIME = 4 * 3600


def backoff(age_s: float) -> float:
    """How long a message that has waited ``age_s`` seconds waits after its next failed attempt.

    >>> backoff(0), backoff(1200), backoff(86400)
    (300, 1200, 4000)
    """
    return min(max(age_s, MINIMAL_BACKOFF_TIME), MAXIMAL_BACKOFF_TIME)


def retry_times(lifetime: float = MAXIMAL_QUEUE_LIFETIME) -> list[float]:
    """The ages (seconds since arrival) at which a message that keeps failing is tried again, until it bounces.

    >>> retry_times()[:6], len(retry_times())
    ([300, 600, 1200, 2400, 4800, 8800], 111)
    """
    ages: list[float] = []
    age: float = 0
    while True:
        age += backoff(age)
        if age >= lifetime:
            return ages
        ages.append(age)


def unknown_client(ip: str) -> Reply:
    """``reject_unknown_reverse_client_hostname``: the client's address has no PTR name."""
    return Reply(450, "4.7.1", f"Client host rejected: cannot find your reverse hostname, [{ip}]")


def rbl_reply(ip: str, blocklist: str, reason: str) -> Reply:
    """``reject_rbl_client``: ``default_rbl_reply`` with ``maps_rbl_reject_code`` (554) and the list's TXT reason."""
    return Reply(554, "5.7.1", f"Service unavailable; Client host [{ip}] blocked using {blocklist}"
                               + (f"; {reason}" if reason else ""))


def spf_refusal(rcpt: str) -> Reply:
    """pypolicyd-spf's refusal of an SPF fail, as smtpd passes it on at RCPT."""
    return Reply(550, "5.7.23", f"<{rcpt}>: Recipient address rejected: Message rejected due to: SPF fail - "
                                "not authorized")


def greylisted() -> Reply:
    """rspamd's soft reject (its greylist module) through the milter, at the end of DATA."""
    return Reply(451, "4.7.1", "Try again later")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """cleanup counts the Received headers plus the one smtpd is adding; at the limit, smtpd refuses."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received",)) + 1 >= limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """Postfix refuses looping mail during SMTP (:func:`loop_reply`), never after accepting it."""
    return None


def forwarding_loop(address: str) -> Reply:
    """local(8)'s refusal of a message that already carries ``Delivered-To: ADDRESS`` (alias/.forward loop)."""
    return Reply(554, "5.4.6", f"mail forwarding loop for {address}")


#: What the Received line on a locally made bounce names (see :func:`local_injection`): the FROM word, the
#: WITH word as read back, whether it names the recipient (FOR) and the host (BY).
LOCAL_HOP: dict[str, object] = {"from_name": None, "with_": None, "for_": False, "by": True}

def local_injection(server: Server, when: datetime, qid: str | None, rcpt: str | None = None) -> str | None:
    """The Received line cleanup stamps on mail made on the server itself (a bounce).

    >>> from datetime import datetime, timezone
    >>> print(local_injection(Server("mx.example.net", "mx", "198.51.100.25"),
    ...                       datetime(2026, 3, 2, 9, 0, 5, tzinfo=timezone.utc), "4ABC123DEF0"))  # doctest: +NORMALIZE_WHITESPACE
    Received: by mx.example.net (Postfix)
        id 4ABC123DEF0; Mon,  2 Mar 2026 09:00:05 +0000 (UTC)
    """
    local = when.astimezone(tz_of(server))
    return f"Received: by {server.name} (Postfix)\r\n\tid {qid}; {rfc5322_date(local, zone_comment=True, day=' 2')}"


def organisation_headers(server: Server, session: Session) -> list[str]:
    """Postfix adds no headers of its own besides Received."""
    return []


_FAILED = """\
This is the mail system at host {host}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system
"""

_DELAYED = """\
This is the mail system at host {host}.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for 4.0 hour(s).
It will be retried until it is 5.0 day(s) old.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system
"""


def reason(f: Failure) -> str:
    """The per-recipient text of a Postfix bounce, as the smtp client or local delivery logged it.

    >>> from datetime import datetime, timezone
    >>> f = Failure(Server("smtp.example.org", "submission", "192.0.2.25"), Envelope("alice@example.org",
    ...             "nobody@example.net"), b"", Reply(550, "5.1.1", "User unknown"), datetime(2026, 3, 2),
    ...             remote="mx.example.net", remote_ip="198.51.100.25", command="RCPT TO")
    >>> reason(f)
    'host mx.example.net[198.51.100.25] said: 550 5.1.1 User unknown (in reply to RCPT TO command)'
    """
    if f.remote:
        return f"host {f.remote}[{f.remote_ip}] said: {f.reply} (in reply to {f.command or 'end of DATA'} command)"
    return f.reply.text


def bounce(f: Failure) -> bytes:
    """The bounce Postfix's bounce(8) daemon writes (headers as cleanup completes them; Received added apart)."""
    host = f.reporter.name
    local = f.local()
    utc = local.astimezone(timezone.utc)
    boundary = f"{f.original_qid or f.qid}.{int(f.when.timestamp())}/{host}"
    headers = [
        ("Date", rfc5322_date(local, zone_comment=True, day=" 2")),
        ("From", f"MAILER-DAEMON@{host} (Mail Delivery System)"),
        ("Subject", BOUNCE_SUBJECT if f.given_up else "Delayed Mail (still being retried)"),
        ("To", f.envelope.mail_from),
        ("Auto-Submitted", "auto-replied"),
        ("MIME-Version", "1.0"),
        ("Content-Type", boundary_header("report", boundary)),
        ("Message-Id", f"<{utc:%Y%m%d%H%M%S}.{f.qid}@{host}>"),
    ]
    text = (_FAILED if f.given_up else _DELAYED).format(host=host) + "\n" + wrap(f"<{f.rcpt}>: {reason(f)}") + "\n"
    notification = part([("Content-Description", "Notification"), ("Content-Type", "text/plain; charset=us-ascii")],
                        text)
    per_message = [("Reporting-MTA", f"dns; {host}")]
    if f.original_qid:
        per_message.append(("X-Postfix-Queue-ID", f.original_qid))
    per_message += [("X-Postfix-Sender", f"rfc822; {f.envelope.mail_from}"),
                    ("Arrival-Date", rfc5322_date(f.arrived, zone_comment=True, day=" 2"))]
    per_rcpt = [("Final-Recipient", f"rfc822; {f.rcpt}")]
    if f.envelope.original_rcpt and f.envelope.original_rcpt != f.rcpt:
        per_rcpt.append(("Original-Recipient", f"rfc822;{f.envelope.original_rcpt}"))
    per_rcpt += [("Action", f.action), ("Status", f.status)]
    if f.remote:
        per_rcpt.append(("Remote-MTA", f"dns; {f.remote}"))
        diagnostic = f"smtp; {f.reply}"
    else:
        diagnostic = f"X-Postfix; {f.reply.text}"
    per_rcpt.append(("Diagnostic-Code", wrap(f"Diagnostic-Code: {diagnostic}")[len("Diagnostic-Code: "):]))
    if not f.given_up:
        per_rcpt.append(("Will-Retry-Until", rfc5322_date(f.arrived + timedelta(days=5), day=" 2", zone_comment=True)))
    status = status_part([("Content-Description", "Delivery report"), ("Content-Type", "message/delivery-status")],
                         per_message, per_rcpt)
    headers_only = too_large(f.original) or not f.given_up
    undelivered = "Undelivered Message Headers" if headers_only else "Undelivered Message"
    returned = part([("Content-Description", undelivered),
                     ("Content-Type", "text/rfc822-headers" if headers_only else "message/rfc822")],
                    original_head(f.original) if headers_only else [returned_message(f.original)])
    return report(headers, [notification, status, returned], preamble="This is a MIME-encapsulated message.\n")


# -- Received-SPF: pypolicyd-spf, the policy service Postfix sites run (check_policy_service) ----------------


def received_spf(verdict: Verdict) -> str:
    """The Received-SPF pypolicyd-spf asks smtpd to PREPEND (its default ``Header_Type = SPF``): the result
    capitalised, the identity checked in the comment and again as ``identity=``, then ``client-ip``, ``helo``,
    ``envelope-from`` (``<>`` for a bounce) and ``receiver=<UNKNOWN>`` (policyd-spf leaves the receiver unset),
    on one line with its trailing space. A bounce whose HELO name has no SPF record gets policyd-spf's own
    ``None (no SPF record) identity=no SPF record``. Checked against real headers (lists.01.org and osuosl.org
    Postfix relays, e.g. ``Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=198.175.65.15;
    helo=mgamail.intel.com; envelope-from=lkp@intel.com; receiver=<UNKNOWN> ``).

    >>> from types import SimpleNamespace as V
    >>> received_spf(V(spf="pass", mail_from="alice@example.org", ip="192.0.2.25", helo="smtp.example.org"))
    'Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.25; helo=smtp.example.org; envelope-from=alice@example.org; receiver=<UNKNOWN> '
    >>> received_spf(V(spf="none", mail_from="", ip="192.0.2.25", helo="smtp.example.org"))[:65]
    'Received-SPF: None (no SPF record) identity=no SPF record; client'
    """
    identity = "mailfrom" if verdict.mail_from else "helo"
    if not verdict.mail_from and verdict.spf == "none":
        identity = "no SPF record"
    return (f"Received-SPF: {verdict.spf.capitalize()} ({identity}) identity={identity}; client-ip={verdict.ip}; "
            f"helo={verdict.helo}; envelope-from={verdict.mail_from or '<>'}; receiver=<UNKNOWN> ")


# -- Authentication-Results: the milter stack (trust across hops, see mailhops.mta.trust) ------------------


def authentication_results(verdict: Verdict, qid: str | None, spf_fields: list[str] | None = None) -> list[str]:
    """What a Postfix MX with the usual milters writes, topmost first: OpenDMARC's line, OpenARC's (when the
    message has an ARC set), OpenDKIM's (one result per signature), then policyd-spf's ``spf_fields``.

    Each milter writes its own Authentication-Results field with the server's name as authserv-id, in the
    forms of OpenDMARC (``dmarc=pass (p=none dis=none) header.from=``), OpenARC (``arc=pass
    smtp.remote-ip=``) and OpenDKIM 2.11 (``dkim=pass (1024-bit key; unprotected) header.d= header.i=
    header.a= header.s= header.b=``, as in real list mail); Postfix puts them above its Received line.
    """
    me = verdict.authserv_id
    fields = []
    policy = verdict.dmarc_policy or "none"
    dis = verdict.disposition if verdict.dmarc == "fail" else "none"
    fields.append(f"Authentication-Results: {me}; dmarc={verdict.dmarc} (p={policy} dis={dis}) "
                  f"header.from={verdict.from_domain}")
    if verdict.arc.result != "none" or verdict.arc.instance:
        fields.append(f"Authentication-Results: {me}; arc={verdict.arc.result} smtp.remote-ip={verdict.ip}")
    if verdict.dkim:
        lines = []
        for d in verdict.dkim:
            reason = f' reason="{d.reason}"' if d.result != "pass" and d.reason else ""
            bits = f" ({d.bits}-bit key; unprotected)" if d.bits else ""
            lines.append(f"dkim={d.result}{reason}{bits} header.d={d.domain} header.i={d.identity} "
                         f"header.a={d.algorithm} header.s={d.selector} header.b={d.b}")
        fields.append(f"Authentication-Results: {me};{CRLF}\t" + f";{CRLF}\t".join(lines))
    return fields + list(spf_fields or [])
