"""Gmail: the Received line, replies, ids and hop limit of Google's mail servers (``mx.google.com``).

Modelled on real Gmail mail: the Received line reads ``from HELO (RDNS. [IP]) by mx.google.com with
ESMTPS id ...si1234567ab.12.2026.03.02.09.00.05 for <RCPT> (version=TLS1_3 cipher=... bits=256/256);`` with
the date on its own line, continuation lines indented by eight spaces, and Gmail writes Received-SPF and
Authentication-Results just *below* its Received line (Postfix writes them above its own); replies end in
``- gsmtp``; bounces are "Delivery Status Notification (Failure)". Gmail writes its dates in Pacific time
(``-0800 (PST)`` / ``-0700 (PDT)``, :data:`PACIFIC`), and the time stamp at the end of the SMTP id is the
header's own time; MX ids carry ``si``, submission (ESMTPSA) ids ``sm``; ``(Google Transport Security)`` is
written only on hops between Google's own servers, a TLS hop from outside gets ``(version=TLS1_3 ...)`` and a
plain one nothing. The bounce (:func:`bounce`) is Gmail's "Address not found" notification from
``Mail Delivery Subsystem <mailer-daemon@googlemail.com>`` with ``X-Failed-Recipients``, a text and HTML
alternative ("** Address not found **", "The response from the remote server was:") and the delivery-status
part (checked against the shape of real Gmail bounces as bounce processors such as flufl.bounce read them).
Google publishes no hop limit: mailhops
uses RFC 5321 §6.3's suggested minimum of 100 and RFC 3463's X.4.6 "routing loop detected" (``DOCUMENTED``
is False).

>>> str(unknown_user("nobody@gmail.com"))
'550 5.1.1 The email account that you tried to reach does not exist. - gsmtp'
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import TYPE_CHECKING

from ..topology import Server
from .dsn import Failure, part, report, returned_message, status_part
from .headers import CRLF, PACIFIC, count_fields, rfc5322_date, tcp_info
from .smtp import Envelope, Reply, Session, parse_reply

if TYPE_CHECKING:  # the verdict of mailhops.mta.trust, which imports this module
    from .trust import Verdict

NAME = "gmail"
SOFTWARE = "Google"
HOP_LIMIT = 100
LOOP_REPLY = "554 5.4.6 Routing loop detected"
DOCUMENTED = False
WITH_WORD: str | None = None
SPF_BELOW_RECEIVED = True
RECIPIENT_OK = "Ok"
BOUNCE_SUBJECT = "Delivery Status Notification (Failure)"

_SEP = CRLF + "        "


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
    """Gmail's Received line: the reverse name with its trailing dot, the TLS comment after FOR."""
    parts = [f"from {tcp_info(helo, rdns, ip, dot='.')}", f"by {by_name} with {protocol} id {queue_id}"]
    if rcpt:
        parts.append(f"for <{rcpt}>")
    if _internal(helo, by_name):
        parts.append("(Google Transport Security);")
    elif tls:
        parts.append("(version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);")
    else:
        parts[-1] += ";"
    parts.append(rfc5322_date(date.astimezone(PACIFIC), zone_comment=True))
    return "Received: " + _SEP.join(parts)


def _internal(helo: str | None, by_name: str) -> bool:
    """Is the hop between two of the same provider's servers (same parent domain)?"""
    if not helo or helo.startswith("["):
        return False
    return helo.lower().split(".")[-2:] == by_name.lower().split(".")[-2:]


def extra_received(rng: random.Random, when: datetime) -> list[str]:
    """Gmail writes one Received line per hop."""
    return []


def from_name(claimed: str | None, reverse: str | None) -> str | None:
    """``from HELO (RDNS. [IP])``; "unknown" when the client gave no usable name and has no PTR."""
    return claimed or reverse or "unknown"


def queue_id(server: Server, rng: random.Random, when: datetime) -> str | None:
    """A Gmail SMTP id: two hex runs, ``si`` (MX) or ``sm`` (submission) and a number, then the time stamp
    in Pacific time, the same second as the Received header's date."""
    u = when.astimezone(PACIFIC)
    a, b = f"{rng.getrandbits(52):013x}", f"{rng.getrandbits(44):011x}"  # 13 and 11 hex digits, in one draw each
    kind = "sm" if server.role == "submission" else "si"
    return (f"{a}-{b}{kind}{rng.randint(1000000, 9999999)}{rng.choice('abcdef')}{rng.choice('abcdef')}"
            f".{rng.randint(1, 999)}.{u:%Y.%m.%d.%H.%M.%S}")


def greeting(server: Server, when: datetime) -> Reply:
    return Reply(220, "", f"{server.name} ESMTP - gsmtp")


def unknown_user(rcpt: str) -> Reply:
    return Reply(550, "5.1.1", "The email account that you tried to reach does not exist. - gsmtp")


def relay_denied(rcpt: str) -> Reply:
    return Reply(550, "5.7.1", "Relaying denied. - gsmtp")


def accepted_reply(server: Server, qid: str | None, rcpt: str, when: datetime, message_id: str) -> Reply:
    return Reply(250, "2.0.0", f"OK  {int(when.timestamp())} {qid} - gsmtp")


def loop_reply(message: bytes, limit: int) -> Reply | None:
    """Counting Received headers, refused at the limit (an assumption: Google documents none)."""
    return parse_reply(LOOP_REPLY) if count_fields(message, ("received",)) >= limit else None


def loop_after_accept(message: bytes, limit: int, envelope: Envelope | None, via: str | None) -> Reply | None:
    """Looping mail is refused during SMTP (:func:`loop_reply`)."""
    return None


def local_injection(server: Server, when: datetime, qid: str | None, rcpt: str | None = None) -> str | None:
    """Bounces Gmail writes itself carry no Received line in mailhops."""
    return None


def organisation_headers(server: Server, session: Session) -> list[str]:
    """Gmail adds no headers of its own besides Received (and the SPF lines below it)."""
    return []


def bounce(f: Failure) -> bytes:
    """Gmail's "Address not found" bounce (Delivery Status Notification (Failure))."""
    host = f.reporter.name
    local = f.local()
    outer = "".join(f.rng.choice("0123456789abcdef") for _ in range(28))
    inner = "".join(f.rng.choice("0123456789abcdef") for _ in range(28))
    headers = [("From", "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"), ("To", f.envelope.mail_from),
               ("Auto-Submitted", "auto-replied"), ("Subject", BOUNCE_SUBJECT)]
    original_id = f.header("Message-ID")
    if original_id:
        headers += [("References", original_id), ("In-Reply-To", original_id)]
    headers += [("X-Failed-Recipients", f.rcpt),
                ("Message-ID", f"<{outer[:24]}.{f.rng.randrange(10**9)}@{host}>"),
                ("Date", rfc5322_date(local)),
                ("Content-Type", f'multipart/report; boundary="{outer}"; report-type=delivery-status')]
    why = (f"The response from the remote server was:\n{f.reply}\n" if f.remote
           else f"The response was:\n{f.reply}\n")
    plain = ("\n** Address not found **\n\n"
             f"Your message wasn't delivered to {f.rcpt} because the address couldn't be found, or is unable "
             "to receive mail.\n\nLearn more here: https://support.google.com/mail/?p=NoSuchUser\n\n" + why)
    html = (f"<html><body><h2>Address not found</h2><p>Your message wasn't delivered to <b>{f.rcpt}</b> "
            "because the address couldn't be found, or is unable to receive mail.</p></body></html>\n")
    alternative = part([("Content-Type", f'multipart/alternative; boundary="{inner}"')],
                       [part([("Content-Type", 'text/plain; charset="UTF-8"')], plain),
                        part([("Content-Type", 'text/html; charset="UTF-8"')], html)])
    per_message = [("Reporting-MTA", "dns; googlemail.com"), ("Received-From-MTA", f"dns; {f.envelope.mail_from}"),
                   ("Arrival-Date", rfc5322_date(f.arrived, zone_comment=True))]
    if original_id:
        per_message.append(("X-Original-Message-ID", original_id))
    per_rcpt = [("Final-Recipient", f"rfc822; {f.rcpt}"), ("Action", f.action), ("Status", f.status)]
    if f.remote:
        per_rcpt.append(("Remote-MTA", f"dns; {f.remote}. {f.remote_ip}, the server for the domain "
                                       f"{f.rcpt.rpartition('@')[2]}."))
    per_rcpt += [("Diagnostic-Code", f"smtp; {f.reply}"),
                 ("Last-Attempt-Date", rfc5322_date(local, zone_comment=True))]
    status = status_part([("Content-Type", "message/delivery-status")], per_message, per_rcpt)
    returned = part([("Content-Type", "message/rfc822")], [returned_message(f.original)])
    return report(headers, [alternative, status, returned])


# -- Authentication-Results (trust across hops, see mailhops.mta.trust) ------------------------------------


def received_spf(verdict: Verdict) -> str:
    """Gmail's Received-SPF: ``google.com`` as the receiver in the comment, the sender's whole address, and only
    ``client-ip=`` after it (as in real Gmail mail: ``Received-SPF: pass (google.com: domain of x@example.org
    designates 192.0.2.25 as permitted sender) client-ip=192.0.2.25;``), the same words as its
    Authentication-Results.

    >>> from types import SimpleNamespace as V
    >>> received_spf(V(spf="softfail", mail_from="alice@example.org", ip="192.0.2.25", helo="smtp.example.org"))
    'Received-SPF: softfail (google.com: domain of transitioning alice@example.org does not designate 192.0.2.25 as permitted sender) client-ip=192.0.2.25;'
    """
    return f"Received-SPF: {verdict.spf} ({_spf_comment(verdict)[1:-1]}) client-ip={verdict.ip};"


def _spf_comment(verdict: Verdict) -> str:
    who = verdict.mail_from or f"postmaster@{verdict.helo}"
    if verdict.spf == "pass":
        return f"(google.com: domain of {who} designates {verdict.ip} as permitted sender)"
    if verdict.spf == "fail":
        return f"(google.com: domain of {who} does not designate {verdict.ip} as permitted sender)"
    if verdict.spf == "softfail":
        return f"(google.com: domain of transitioning {who} does not designate {verdict.ip} as permitted sender)"
    if verdict.spf == "none":
        return f"(google.com: {who} does not designate permitted sender hosts)"
    return f"(google.com: {verdict.ip} is neither permitted nor denied by best guess record for domain of {who})"


def authentication_results(verdict: Verdict, qid: str | None, spf_fields: list[str] | None = None) -> list[str]:
    """Gmail's one Authentication-Results field, below its Received-SPF: ``dkim=`` per signature, ``arc=``
    with what the newest ARC set says, ``spf=`` with Google's comment, ``dmarc=`` with the policy in
    capitals (``(p=REJECT sp=REJECT dis=NONE)``); continuation lines indented by seven spaces, as in real
    Gmail mail."""
    sep = ";" + CRLF + "       "
    parts = []
    for d in verdict.dkim:
        result = "neutral (body hash did not verify)" if d.reason == "body hash did not verify" else d.result
        parts.append(f"dkim={result} header.i={d.identity} header.s={d.selector} header.b={d.b}")
    if verdict.arc.instance:
        parts.append(f"arc={verdict.arc.result} (i={verdict.arc.instance})")
    comment = _spf_comment(verdict)
    prop = f"smtp.mailfrom={verdict.mail_from}" if verdict.mail_from else f"smtp.helo={verdict.helo}"
    parts.append(f"spf={verdict.spf} {comment} {prop}")
    if verdict.from_domain:
        policy = (verdict.dmarc_policy or "none").upper()
        dis = (verdict.disposition if verdict.dmarc == "fail" else "none").upper()
        parts.append(f"dmarc={verdict.dmarc} (p={policy} sp={policy} dis={dis}) header.from={verdict.from_domain}")
    received_spf = [f for f in (spf_fields or []) if f.startswith("Received-SPF:")]
    return received_spf + [f"Authentication-Results: {verdict.authserv_id}" + sep + sep.join(parts)]


def dmarc_reject(domain: str) -> Reply:
    """Gmail's refusal of mail failing DMARC for a ``p=reject`` domain (5.7.26, as its bounces show)."""
    return Reply(550, "5.7.26", f"Unauthenticated email from {domain} is not accepted due to domain's DMARC policy. "
                 f"Please contact the administrator of {domain} domain if this was a legitimate mail. To learn about "
                 "the DMARC initiative, go to https://support.google.com/mail/?p=DmarcRejection - gsmtp")
