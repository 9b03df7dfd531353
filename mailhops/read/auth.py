"""What the receiving side concluded about a message's authenticity.

Reads ``Authentication-Results`` (RFC 8601, with the :mod:`authres` package), ``Received-SPF``
(RFC 7208 §9.1), ``ARC-Seal`` / ``ARC-Authentication-Results`` (RFC 8617) and the domains of the
``DKIM-Signature`` headers (RFC 6376).

Anyone on the way can write an ``Authentication-Results`` header, so RFC 8601 §5 tells a reader to
trust only those written by its own side. Here that means: the results whose authserv-id belongs to
the *receiving domain* (the domain of the server that took the message last), and only those above
the first ``Received`` header written outside that domain (older ones were already in the message
when it arrived); when several servers of that domain wrote results, only the topmost server's
(its authserv-id) count. Everything else is shown as untrusted, with the reason. A header without an
authserv-id (Microsoft 365 writes them so) counts only when it is the topmost one, and the result says so.

>>> headers = [
...     ("Authentication-Results", "mx.example.net; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org"),
...     ("Received", "from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.net; 2 Mar 2026 09:00:05 +0000"),
...     ("Authentication-Results", "mail.example.org; dkim=fail header.d=example.org"),
... ]
>>> auth = analyze_auth(headers, ["mx.example.net"])
>>> auth["trusted_authserv_id"], auth["spf"], auth["dkim"], len(auth["untrusted"])
('mx.example.net', 'pass', 'pass', 1)
"""

from __future__ import annotations

import re
from typing import Any

import authres

__all__ = ["analyze_auth", "org_domain", "parse_authentication_results", "parse_tag_list"]

_CONTEXT = authres.all_features()
#: At most this many headers of each authentication kind are read.
MAX_AUTH_HEADERS = 50
_AUTH_HEADERS = frozenset({"authentication-results", "received-spf", "dkim-signature", "arc-seal",
                           "arc-authentication-results", "arc-message-signature"})
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ac", "gov", "edu", "or", "ne", "go", "gv", "mil", "ltd", "plc"})
_METHOD_RE = re.compile(r"([A-Za-z][\w-]{0,40})\s*=\s*([A-Za-z]{1,20})")
_PROP_RE = re.compile(r"([A-Za-z][\w-]{0,20}\.[A-Za-z][\w.-]{0,40})\s*=\s*(\"[^\"]{0,300}\"|[^\s;()]{1,300})")
_KV_RE = re.compile(r"([A-Za-z][\w.-]{0,40})\s*=\s*(\"[^\"]{0,300}\"|[^\s;]{1,300})")


def org_domain(host: str | None) -> str | None:
    """A rough organizational domain: the last two labels, or three under ``co.uk``-like suffixes.

    No public-suffix list ships with mailhops (it works offline), so this is an approximation.

    >>> org_domain("mx1.mail.example.co.uk"), org_domain("mx.google.com"), org_domain("localhost")
    ('example.co.uk', 'google.com', None)
    """
    if not host or "." not in host:
        return None
    labels = host.lower().rstrip(".").split(".")
    if all(label.isdigit() for label in labels) or ":" in host:
        return None
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _result_dict(method: str, result: str, reason: str | None = None, comment: str | None = None,
                 properties: dict[str, str] | None = None) -> dict[str, Any]:
    return {"method": method.lower(), "result": result.lower(), "reason": reason, "comment": comment,
            "properties": properties or {}}


def parse_authentication_results(value: str) -> tuple[str | None, list[dict[str, Any]], list[str]]:
    """``(authserv_id, results, problems)`` of one Authentication-Results value; never raises.

    Uses :mod:`authres`; values it refuses (Microsoft 365 writes no authserv-id) are read leniently.

    >>> parse_authentication_results("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.org; "
    ...     "dkim=none (message not signed) header.d=none;dmarc=none action=none header.from=example.org;")[:2]
    (None, [{'method': 'spf', 'result': 'pass', 'reason': None, 'comment': None, 'properties': {'smtp.mailfrom': 'example.org'}}, {'method': 'dkim', 'result': 'none', 'reason': None, 'comment': None, 'properties': {'header.d': 'none'}}, {'method': 'dmarc', 'result': 'none', 'reason': None, 'comment': None, 'properties': {'header.from': 'example.org'}}])
    """
    text = " ".join(str(value).split())[:20000]
    try:
        header = _CONTEXT.parse_value(text)
        results = []
        for r in header.results:
            props = {f"{p.type}.{p.name}": str(p.value) for p in r.properties}
            results.append(_result_dict(str(r.method), str(r.result), r.reason and str(r.reason),
                                        r.result_comment and str(r.result_comment), props))
        return (str(header.authserv_id) if header.authserv_id else None), results, []
    except Exception:  # noqa: BLE001 - authres raises several kinds; fall back to a lenient reading
        pass
    return _lenient(text)


def _lenient(text: str) -> tuple[str | None, list[dict[str, Any]], list[str]]:
    parts = [p.strip() for p in text.split(";")]
    authserv_id = None
    if parts and parts[0] and "=" not in parts[0].split("(")[0]:
        authserv_id = parts[0].split()[0]
        parts = parts[1:]
    results = []
    for part in parts:
        outside = re.sub(r"\([^()]{0,500}\)", " ", part)
        m = _METHOD_RE.match(outside.strip())
        if not m or "." in m.group(1):
            continue
        props = {k: v.strip('"') for k, v in _PROP_RE.findall(outside[m.end():])}
        results.append(_result_dict(m.group(1), m.group(2), properties=props))
    problems = [] if results else ["Authentication-Results could not be read"]
    return authserv_id, results, problems


def parse_tag_list(value: str) -> dict[str, str]:
    """The ``tag=value`` pairs of a DKIM-Signature or ARC header (RFC 6376 §3.2).

    >>> parse_tag_list("v=1; a=rsa-sha256; d=example.org; s=sel1; b=abc def")["d"]
    'example.org'
    """
    tags: dict[str, str] = {}
    for part in str(value).split(";")[:64]:
        name, eq, val = part.partition("=")
        if eq:
            tags.setdefault(name.strip().lower(), "".join(val.split()))
    return tags


def _received_spf(value: str) -> dict[str, Any]:
    text = " ".join(str(value).split())[:5000]
    result = text.split(None, 1)[0].lower().rstrip(";") if text else ""
    outside = re.sub(r"\([^()]{0,1000}\)", " ", text)
    pairs = {k.lower(): v.strip('"') for k, v in _KV_RE.findall(outside)}
    comment = re.search(r"\(([^()]{0,1000})\)", text)
    return {"result": result, "comment": comment.group(1) if comment else None,
            "client_ip": pairs.get("client-ip"), "envelope_from": pairs.get("envelope-from"),
            "helo": pairs.get("helo"), "receiver": pairs.get("receiver")}


def _by_host(received_value: str) -> str | None:
    from .received import parse_received

    return parse_received(received_value).by_name


def _is_dns_name(host: str | None) -> bool:
    return bool(host) and "." in host and ":" not in host and not host.replace(".", "").isdigit()  # type: ignore[union-attr]


def analyze_auth(headers: list[tuple[str, str]], by_names_newest_first: list[str | None] | None = None) -> dict[str, Any]:
    """Authentication verdicts from a message's headers (``(name, value)`` pairs, top first).

    ``by_names_newest_first`` are the ``by`` hosts of the Received headers, newest first (the
    analyzer passes them so they are parsed once); the first DNS name among them is the receiving host.
    The steps: find the receiving side and where its part of the header block ends, sort the
    Authentication-Results into trusted and untrusted, read Received-SPF, DKIM and ARC headers, conclude.
    """
    lower = _bounded(headers)
    receiving_host, receiving_domain, boundary = _receiving_side(lower, by_names_newest_first)
    trusted_id, trusted, untrusted, problems = _sort_results(lower, boundary, receiving_domain)
    spf_headers = _received_spf_headers(lower, boundary)
    verdicts = _verdicts(trusted, spf_headers)
    return {
        "receiving_host": receiving_host,
        "receiving_domain": receiving_domain,
        "trusted_authserv_id": trusted_id,
        **verdicts,
        "results": trusted,
        "untrusted": untrusted,
        "received_spf": spf_headers,
        "dkim_signatures": _dkim_signatures(lower),
        "arc_sets": _arc_sets(lower),
        "conclusion": _conclusion(trusted, verdicts, trusted_id or receiving_host),
        "note": _note(receiving_domain, untrusted),
        "problems": problems,
    }


def _bounded(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers with lower-case names, at most :data:`MAX_AUTH_HEADERS` of each authentication kind:
    a real message carries a handful of these; hundreds mean a loop or an attack, and are not read."""
    seen: dict[str, int] = {}
    kept = []
    for name, value in headers:
        name = name.lower()
        if name in _AUTH_HEADERS:
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > MAX_AUTH_HEADERS:
                continue
        kept.append((name, value))
    return kept


def _receiving_side(lower: list[tuple[str, str]],
                    by_names_newest_first: list[str | None] | None) -> tuple[str | None, str | None, int]:
    """``(receiving host, receiving domain, boundary)``: the host that took the message last, its
    organizational domain, and the index of the first Received header written outside that domain
    (where the receiving domain's part of the header block ends)."""
    received_positions = [i for i, (name, _) in enumerate(lower) if name == "received"]
    if by_names_newest_first is None:
        by_names_newest_first = [_by_host(lower[i][1]) for i in received_positions]
    receiving_host = next((h for h in by_names_newest_first if _is_dns_name(h)), None)
    receiving_domain = org_domain(receiving_host)
    boundary = len(lower)
    for pos, host in zip(received_positions, by_names_newest_first, strict=False):
        if _is_dns_name(host) and org_domain(host) != receiving_domain:
            boundary = pos
            break
    return receiving_host, receiving_domain, boundary


def _sort_results(lower: list[tuple[str, str]], boundary: int, receiving_domain: str | None
                  ) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """``(trusted authserv-id, trusted results, untrusted headers, problems)`` of the Authentication-Results.

    Trusted: the topmost results written inside the receiving domain (one authserv-id), or a topmost
    header without authserv-id. Each untrusted header keeps its results and the reason.
    """
    trusted_id: str | None = None
    trusted: list[dict[str, Any]] = []
    untrusted: list[dict[str, Any]] = []
    problems: list[str] = []
    missing_id_trusted = False
    for i, (name, value) in enumerate(lower):
        if name != "authentication-results":
            continue
        authserv_id, results, probs = parse_authentication_results(value)
        problems.extend(probs)
        entry = {"authserv_id": authserv_id, "results": results}
        ours = authserv_id is not None and receiving_domain is not None and (
            org_domain(authserv_id) == receiving_domain or authserv_id.lower() == receiving_domain)
        if i >= boundary:
            entry["reason"] = "written before the message reached the receiving domain"
            untrusted.append(entry)
        elif authserv_id is None and trusted_id is None and not trusted:
            entry["reason"] = "no authserv-id; taken as the receiving side's own (Microsoft 365 writes it so)"
            missing_id_trusted = True
            trusted.extend(results)
            trusted_id = None
        elif ours and (trusted_id is None or authserv_id == trusted_id) and not missing_id_trusted:
            trusted_id = authserv_id
            trusted.extend(results)
        else:
            entry["reason"] = _untrusted_reason(authserv_id, ours, receiving_domain)
            untrusted.append(entry)
    return trusted_id, trusted, untrusted, problems


def _untrusted_reason(authserv_id: str | None, ours: bool, receiving_domain: str | None) -> str:
    """Why results written inside the receiving side's part of the header block are not trusted."""
    if receiving_domain is None:
        return "no Received header names the receiving server, so nothing can be trusted"
    if not ours:
        return f"authserv-id {authserv_id} is not the receiving domain {receiving_domain}"
    return "not the topmost results of the receiving domain"


def _received_spf_headers(lower: list[tuple[str, str]], boundary: int) -> list[dict[str, Any]]:
    """Every Received-SPF header read; only the topmost one inside the receiving domain is trusted."""
    spf_headers: list[dict[str, Any]] = []
    for i, (name, value) in enumerate(lower):
        if name == "received-spf":
            item = _received_spf(value)
            item["trusted"] = i < boundary and not any(s["trusted"] for s in spf_headers)
            spf_headers.append(item)
    return spf_headers


def _dkim_signatures(lower: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The signing domain, selector, algorithm and identity of each DKIM-Signature."""
    dkim = []
    for name, value in lower:
        if name == "dkim-signature":
            tags = parse_tag_list(value)
            dkim.append({"d": tags.get("d"), "s": tags.get("s"), "a": tags.get("a"), "i": tags.get("i")})
    return dkim


def _arc_sets(lower: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The ARC sets (RFC 8617) by instance ``i=``: the seal's chain validation and the results it carries."""
    arc: dict[str, dict[str, Any]] = {}
    for name, value in lower:
        if name == "arc-seal":
            tags = parse_tag_list(value)
            arc.setdefault(tags.get("i", "?"), {}).update({"i": tags.get("i"), "cv": tags.get("cv"), "d": tags.get("d")})
        elif name == "arc-authentication-results":
            m = re.match(r"\s*i\s*=\s*(\d{1,3})\s*;(.*)", " ".join(value.split()), re.S)
            if m:
                aid, results, _ = parse_authentication_results(m.group(2))
                arc.setdefault(m.group(1), {}).update({"i": m.group(1), "authserv_id": aid, "results": results})
    return [arc[k] for k in sorted(arc, key=lambda k: int(k) if k.isdigit() else 0)]


def _verdicts(trusted: list[dict[str, Any]], spf_headers: list[dict[str, Any]]) -> dict[str, str | None]:
    """The first trusted result of SPF, DKIM, DMARC and ARC; SPF from a trusted Received-SPF if need be."""
    verdicts: dict[str, str | None] = {}
    for method in ("spf", "dkim", "dmarc", "arc"):
        verdicts[method] = next((r["result"] for r in trusted if r["method"] == method), None)
    if verdicts["spf"] is None:
        trusted_spf = next((s for s in spf_headers if s["trusted"]), None)
        if trusted_spf:
            verdicts["spf"] = trusted_spf["result"]
    return verdicts


def _conclusion(trusted: list[dict[str, Any]], verdicts: dict[str, str | None], who: str | None) -> str:
    """One sentence: who concluded what, and which domains a passing DKIM signature names."""
    if not (trusted or verdicts["spf"]):
        return "No authentication results from the receiving domain were found."
    said = ", ".join(f"{m.upper()} {v}" for m, v in verdicts.items() if v)
    dkim_domains = [r["properties"].get("header.d") or r["properties"].get("header.i") for r in trusted
                    if r["method"] == "dkim" and r["result"] == "pass"]
    extra = f" (DKIM signed by {', '.join(sorted({d.lstrip('@') for d in dkim_domains if d}))})" if any(dkim_domains) else ""
    return f"{who or 'the receiving server'} concluded: {said}{extra}."


def _note(receiving_domain: str | None, untrusted: list[dict[str, Any]]) -> str:
    """Why only some results are trusted, and how many others are shown as untrusted."""
    note = (f"Only the topmost results written inside the receiving domain ({receiving_domain or 'unknown'}) are "
            "trusted: any server before it could have written the others.")
    if untrusted:
        note += f" {len(untrusted)} other Authentication-Results header(s) are shown as untrusted."
    return note
