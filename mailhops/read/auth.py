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
authserv-id (Microsoft 365 writes them so) counts only when it is the topmost one, and the result says so;
Microsoft 365's own hosts (``outlook.com``, ``office365.com``) count as one organisation, and an on-premises
Exchange server fed by Microsoft 365 (hybrid) takes Microsoft 365's results as its own.

Besides the verdicts it lists each ``DKIM-Signature`` (``d``, ``s``, ``a``, the signed fields ``h``), the ARC
chain (each set's ``i``, ``cv`` and sealer, and whether the chain is well formed, RFC 8617 §5.2) and, hop by
hop, which server wrote which results (``by_hop``).

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


#: Organisational domains one operator runs as one mail system (its hosts hand mail to each other).
OPERATORS = {"outlook.com": "Microsoft 365", "office365.com": "Microsoft 365", "microsoft.com": "Microsoft 365"}


def _org_key(host: str | None) -> str | None:
    """The organisation a host belongs to: its organisational domain, or the operator running it.

    >>> _org_key("BN9PR03CA0567.outlook.office365.com"), _org_key("x.mail.protection.outlook.com")
    ('Microsoft 365', 'Microsoft 365')
    """
    org = org_domain(host)
    return OPERATORS.get(org, org) if org else None


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
    Authentication-Results into trusted and untrusted, read Received-SPF, DKIM and ARC headers, say which
    hop wrote which results, conclude.
    """
    lower = _bounded(headers)
    received_positions = [i for i, (name, _) in enumerate(lower) if name == "received"]
    if by_names_newest_first is None:
        by_names_newest_first = [_by_host(lower[i][1]) for i in received_positions]
    side = _receiving_side(lower, received_positions, by_names_newest_first)
    receiving_host, receiving_domain, boundary, allowed, hybrid = side
    trusted_id, trusted, untrusted, problems, read = _sort_results(lower, boundary, receiving_domain, allowed)
    spf_headers = _received_spf_headers(lower, boundary)
    verdicts = _verdicts(trusted, spf_headers)
    by_hop = _by_hop(read, received_positions, by_names_newest_first)
    writer = next((h for h in by_hop if h["trusted"]), None)
    who = trusted_id or (f"{writer['by_name']} (no authserv-id, as Microsoft 365 writes it)"
                         if writer and writer["by_name"] else None) or receiving_host
    arc_sets = _arc_sets(lower)
    return {
        "receiving_host": receiving_host,
        "receiving_domain": receiving_domain,
        "trusted_authserv_id": trusted_id,
        **verdicts,
        "results": trusted,
        "untrusted": untrusted,
        "received_spf": spf_headers,
        "dkim_signatures": _dkim_signatures(lower),
        "arc_sets": arc_sets,
        "arc_chain": arc_chain(arc_sets),
        "by_hop": by_hop,
        "trusted_hop": writer["hop"] if writer else None,
        "trusted_by": writer["by_name"] if writer else None,
        "conclusion": _conclusion(trusted, verdicts, who),
        "note": _note(receiving_domain, untrusted) + (
            " The receiving organisation's on-premises Exchange takes its mail from Microsoft 365 (hybrid), so "
            "Microsoft 365's results count as its own." if hybrid else ""),
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


def _receiving_side(lower: list[tuple[str, str]], received_positions: list[int],
                    by_names_newest_first: list[str | None]) -> tuple[str | None, str | None, int, set[str], bool]:
    """``(receiving host, receiving domain, boundary, organisations of the receiving side, hybrid)``: the host
    that took the message last, its organisational domain, and the index of the first Received header written
    outside the receiving side (where its part of the header block ends).

    The receiving side is the receiving host's organisation (Microsoft 365's hosts count as one), plus
    Microsoft 365 when the organisation's own Exchange took the message from it (a hybrid set-up: the
    organisation's mail comes in through Microsoft 365)."""
    receiving_host = next((h for h in by_names_newest_first if _is_dns_name(h)), None)
    receiving_domain = org_domain(receiving_host)
    allowed = {k for k in (_org_key(receiving_host), receiving_domain) if k}
    boundary, hybrid, previous = len(lower), False, None
    for pos, host in zip(received_positions, by_names_newest_first, strict=False):
        if _is_dns_name(host) and _org_key(host) not in allowed:
            inside = previous is not None and "microsoft smtp server" in " ".join(lower[previous][1].split()).lower()
            if _org_key(host) == "Microsoft 365" and inside and not hybrid:
                allowed.add("Microsoft 365")
                hybrid = True
            else:
                boundary = pos
                break
        previous = pos
    return receiving_host, receiving_domain, boundary, allowed, hybrid


def _sort_results(lower: list[tuple[str, str]], boundary: int, receiving_domain: str | None, allowed: set[str]
                  ) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]], list[str], list[tuple]]:
    """``(trusted authserv-id, trusted results, untrusted headers, problems, every header read)`` of the
    Authentication-Results; each header read is ``(index, authserv-id, results, trusted)``.

    Trusted: the topmost results written inside the receiving side (one authserv-id), or a topmost
    header without authserv-id. Each untrusted header keeps its results and the reason.
    """
    trusted_id: str | None = None
    trusted: list[dict[str, Any]] = []
    untrusted: list[dict[str, Any]] = []
    problems: list[str] = []
    read: list[tuple] = []
    missing_id_trusted = False
    for i, (name, value) in enumerate(lower):
        if name != "authentication-results":
            continue
        authserv_id, results, probs = parse_authentication_results(value)
        problems.extend(probs)
        entry = {"authserv_id": authserv_id, "results": results}
        ours = authserv_id is not None and receiving_domain is not None and (
            _org_key(authserv_id) in allowed or authserv_id.lower() == receiving_domain)
        is_trusted = False
        if i >= boundary:
            entry["reason"] = "written before the message reached the receiving domain"
            untrusted.append(entry)
        elif authserv_id is None and trusted_id is None and not trusted:
            entry["reason"] = "no authserv-id; taken as the receiving side's own (Microsoft 365 writes it so)"
            missing_id_trusted = is_trusted = True
            trusted.extend(results)
        elif ours and (trusted_id is None or authserv_id == trusted_id) and not missing_id_trusted:
            trusted_id = authserv_id
            trusted.extend(results)
            is_trusted = True
        else:
            entry["reason"] = _untrusted_reason(authserv_id, ours, receiving_domain)
            untrusted.append(entry)
        read.append((i, authserv_id, results, is_trusted))
    return trusted_id, trusted, untrusted, problems, read


def _first_of_each(results: list[dict[str, Any]]) -> dict[str, str]:
    """``{method: result}``, the first result of each method, in the header's order."""
    out: dict[str, str] = {}
    for r in results:
        out.setdefault(r["method"], r["result"])
    return out


def _by_hop(read: list[tuple], received_positions: list[int], by_names_newest_first: list[str | None]
            ) -> list[dict[str, Any]]:
    """Which hop wrote each Authentication-Results header, oldest hop first.

    The writer is the server its authserv-id names (the nearest Received ``by`` that host); a header
    without authserv-id belongs to the Received just below it (Microsoft 365 writes it above its own)."""
    count = len(received_positions)
    out = []
    for i, authserv_id, results, trusted in read:
        k = None
        if authserv_id:
            named = [j for j, host in enumerate(by_names_newest_first[:count])
                     if host and host.lower().rstrip(".") == authserv_id.lower().rstrip(".")]
            k = min(named, key=lambda j: abs(received_positions[j] - i)) if named else None
        else:
            k = next((j for j, pos in enumerate(received_positions) if pos > i), None)
        out.append({
            "hop": count - k if k is not None else None,
            "by_name": by_names_newest_first[k] if k is not None and k < len(by_names_newest_first) else None,
            "authserv_id": authserv_id,
            "results": _first_of_each(results),
            "trusted": trusted,
        })
    out.sort(key=lambda h: (h["hop"] is None, h["hop"] or 0))
    merged: list[dict[str, Any]] = []
    for entry in out:  # a Postfix stack writes one header per milter (OpenDMARC, OpenDKIM, policyd-spf): one hop
        last = merged[-1] if merged else None
        if last and entry["hop"] is not None and (last["hop"], last["authserv_id"], last["trusted"]) == (
                entry["hop"], entry["authserv_id"], entry["trusted"]):
            last["results"] = {**entry["results"], **last["results"]}
        else:
            merged.append(entry)
    return merged


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
            dkim.append({"d": tags.get("d"), "s": tags.get("s"), "a": tags.get("a"), "i": tags.get("i"),
                         "h": [h.lower() for h in tags.get("h", "").split(":") if h][:64], "c": tags.get("c"),
                         "t": tags.get("t")})
    return dkim


def _arc_sets(lower: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The ARC sets (RFC 8617) by instance ``i=``: the seal's chain validation (``cv``) and sealer (``d``, ``s``),
    the message signature's signed fields, the results it carries, and how many of each header it has."""
    arc: dict[str, dict[str, Any]] = {}
    for name, value in lower:
        if name == "arc-seal":
            tags = parse_tag_list(value)
            entry = arc.setdefault(tags.get("i", "?"), {})
            entry.update({"i": tags.get("i"), "cv": tags.get("cv"), "d": tags.get("d"), "s": tags.get("s")})
        elif name == "arc-message-signature":
            tags = parse_tag_list(value)
            entry = arc.setdefault(tags.get("i", "?"), {})
            entry.update({"i": tags.get("i"), "ams_d": tags.get("d"),
                          "ams_h": [h.lower() for h in tags.get("h", "").split(":") if h][:64]})
        elif name == "arc-authentication-results":
            m = re.match(r"\s*i\s*=\s*(\d{1,3})\s*;(.*)", " ".join(value.split()), re.S)
            if not m:
                continue
            aid, results, _ = parse_authentication_results(m.group(2))
            entry = arc.setdefault(m.group(1), {})
            entry.update({"i": m.group(1), "authserv_id": aid, "results": results})
        else:
            continue
        counts = entry.setdefault("headers", {"arc-seal": 0, "arc-message-signature": 0, "arc-authentication-results": 0})
        counts[name] += 1
    return [arc[k] for k in sorted(arc, key=lambda k: int(k) if k.isdigit() else 0)]


def arc_chain(sets: list[dict[str, Any]]) -> dict[str, Any]:
    """The shape of an ARC chain (RFC 8617 §5.2, steps that need no DNS): ``structure`` is ``none`` (no ARC
    headers), ``fail`` (a set missing or doubled, a gap in ``i=``, more than 50 sets, ``cv=fail``, or a ``cv``
    that does not match its place: ``none`` for ``i=1``, ``pass`` after) or ``well-formed`` (the signatures
    themselves are checked only by ``mailhops analyze --verify``); the sealers, newest last.

    >>> arc_chain([{"i": "1", "cv": "none", "d": "lists.example.com",
    ...             "headers": {"arc-seal": 1, "arc-message-signature": 1, "arc-authentication-results": 1}}])
    {'structure': 'well-formed', 'instances': 1, 'cv': 'none', 'sealers': ['lists.example.com'], 'problems': []}
    """
    if not sets:
        return {"structure": "none", "instances": 0, "cv": None, "sealers": [], "problems": []}
    problems = []
    numbers = [int(s["i"]) if str(s.get("i", "")).isdigit() else 0 for s in sets]
    if numbers != list(range(1, len(sets) + 1)):
        problems.append(f"the instances are {numbers}, not 1 to {len(sets)} without a gap")
    if len(sets) > 50:
        problems.append("more than 50 ARC sets (RFC 8617 §4.2.1)")
    for n, entry in zip(numbers, sets, strict=True):
        counts = entry.get("headers", {})
        odd = [name for name in ("arc-seal", "arc-message-signature", "arc-authentication-results")
               if counts.get(name, 0) != 1]
        if odd:
            problems.append(f"set i={n} has not exactly one of: {', '.join(odd)}")
        cv = (entry.get("cv") or "").lower()
        expected = "none" if n == 1 else "pass"
        if cv == "fail":
            problems.append(f"set i={n} says cv=fail: a sealer found the chain broken")
        elif cv != expected:
            problems.append(f"set i={n} has cv={cv or 'nothing'}, expected cv={expected}")
    return {"structure": "fail" if problems else "well-formed", "instances": len(sets), "cv": sets[-1].get("cv"),
            "sealers": [s.get("d") for s in sets], "problems": problems}


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
