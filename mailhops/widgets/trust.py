"""The trust lab: switch SRS, ARC, a mailing list's footer, the receiver's trust in ARC and the sender's DMARC
policy, and watch what every receiving server concludes about who really sent the message.

Plain functions first (no widgets, tested without Jupyter): :class:`TrustSettings` says what to change,
:func:`run_trust` runs the scenario changed that way, :func:`trust_receipts` reads back, hop by hop, what each
receiving server wrote in its ``Authentication-Results`` (SPF, every DKIM signature, ARC, DMARC) and what it
did, :func:`trust_report` says it in words and :func:`trust_changes` says what changed between two runs. The
answers are read from the headers the simulated servers wrote (with :mod:`authres`, like any reader of real
mail), so the lab shows exactly what a student would find in the message.

Alignment is DMARC's relaxed alignment (RFC 7489 §3.1, the default): the domain SPF or DKIM authenticated and
the ``From:`` domain must have the same organizational domain. Without a public-suffix list (mailhops works
offline) the organizational domain is approximated by :func:`mailhops.read.auth.org_domain`, which is exact for
the example domains of the lessons.

>>> before = trust_receipts(TrustSettings("forwarding"))
>>> [(r.spf, r.dmarc) for r in before]  # at the forwarder, then at Bob's MX
[('pass', 'pass'), ('fail', 'pass')]
>>> after = trust_receipts(TrustSettings("forwarding", srs=True))
>>> trust_changes(before, after)[0].startswith("mx.example.net: SPF fail -> pass for alumni.")  # the forwarder's domain
True
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, fields, replace
from typing import Any

import ipywidgets as W
import srslib

from .. import scenarios as sc
from ..dns import dns_for
from ..errors import MailhopsError
from ..journey import Hop, Journey
from ..mta.trust import QUARANTINE_FIELD, SRS_SECRET
from ..read.auth import org_domain, parse_authentication_results
from ..topology import Topology, domain_of
from .views import MONO, PAPER, DiagramView, error_html, style_widget

__all__ = [
    "TRUST_SCENARIOS",
    "Receipt",
    "TrustLab",
    "TrustSettings",
    "relevant_trust_settings",
    "run_trust",
    "srs_reverse",
    "trust_changes",
    "trust_defaults",
    "trust_receipts",
    "trust_report",
    "with_trust",
]

#: The scenarios the lab offers, with what each one shows.
TRUST_SCENARIOS: dict[str, str] = {
    "forwarding": "Alice writes to Bob's alumni address; the alumni server forwards to bob@example.net",
    "mailing-list": "Alice writes to a mailing list; the list sends a copy to its member Bob",
    "dmarc-reject": "a spammer's server sends a message with From: alice@example.org",
}

#: The DMARC policies the lab offers for the From: domain (RFC 7489 §6.3, tag ``p``).
DMARC_CHOICES: tuple[str, ...] = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class TrustSettings:
    """What to change in a scenario; ``None`` keeps the scenario's own setting.

    ``srs``: the forwarder rewrites the envelope sender with SRS; ``arc``: the forwarder or list adds an ARC set;
    ``footer``: the list tags the Subject and adds a footer; ``trust_arc``: the recipient's MX trusts a valid
    ARC chain when DMARC fails; ``dmarc``: the DMARC policy of the ``From:`` domain (``none``, ``quarantine`` or
    ``reject``).
    """

    scenario: str = "forwarding"
    srs: bool | None = None
    arc: bool | None = None
    footer: bool | None = None
    trust_arc: bool | None = None
    dmarc: str | None = None


def _forwarders(topology: Topology) -> list:
    return [s for s in topology.servers.values() if s.role == "forwarder"]


def _recipient_mxs(topology: Topology) -> list:
    """The MX servers the message finally reaches (a forwarder or list is the MX of the address written to, but it
    sends the message on; the trust switches are about the receiving MX behind it)."""
    return [s for s in topology.servers.values() if s.role == "mx"]


def _from_domain(scenario: sc.Scenario) -> str:
    return domain_of(scenario.from_header or scenario.sender)


def _check_name(name: str) -> sc.Scenario:
    if name not in TRUST_SCENARIOS:
        raise MailhopsError(f"The trust lab knows the scenarios {', '.join(TRUST_SCENARIOS)}, not {name!r}.")
    return sc.get(name)


def relevant_trust_settings(name: str) -> tuple[str, ...]:
    """The settings that change something in scenario ``name`` (the lab hides the others).

    >>> relevant_trust_settings("mailing-list")
    ('arc', 'footer', 'trust_arc', 'dmarc')
    """
    topology = _check_name(name).build()
    forwarders = _forwarders(topology)
    out = []
    if any(not f.mailing_list for f in forwarders):
        out.append("srs")
    if forwarders:
        out.append("arc")
    if any(f.mailing_list for f in forwarders):
        out.append("footer")
    if forwarders:
        out.append("trust_arc")
    out.append("dmarc")
    return tuple(out)


def trust_defaults(name: str) -> TrustSettings:
    """The settings that reproduce scenario ``name`` as built.

    >>> trust_defaults("mailing-list")
    TrustSettings(scenario='mailing-list', srs=False, arc=True, footer=True, trust_arc=True, dmarc='reject')
    """
    scenario = _check_name(name)
    topology = scenario.build()
    forwarders = _forwarders(topology)
    mxs = _recipient_mxs(topology)
    dom = topology.domains.get(_from_domain(scenario))
    return TrustSettings(name, srs=any(f.srs for f in forwarders), arc=any(f.arc for f in forwarders),
                         footer=any(f.mailing_list and f.list_footer for f in forwarders),
                         trust_arc=all(m.trust_arc for m in mxs), dmarc=dom.dmarc if dom else None)


def build_trust(settings: TrustSettings, *, enforce: bool = True) -> Topology:
    """The scenario's topology changed by ``settings`` (``enforce=False``: no MX refuses on DMARC)."""
    scenario = _check_name(settings.scenario)
    topology = scenario.build()
    for server in _forwarders(topology):
        if settings.srs is not None and not server.mailing_list:
            server.srs = settings.srs
        if settings.arc is not None:
            server.arc = settings.arc
        if settings.footer is not None and server.mailing_list:
            server.list_footer = settings.footer
    for server in _recipient_mxs(topology):
        if settings.trust_arc is not None:
            server.trust_arc = settings.trust_arc
    if not enforce:
        for server in topology.servers.values():
            server.dmarc_enforce = False
    if settings.dmarc is not None:
        if settings.dmarc not in DMARC_CHOICES:
            raise MailhopsError(f"The DMARC policy must be one of {', '.join(DMARC_CHOICES)}, not {settings.dmarc!r}.")
        topology.domains[_from_domain(scenario)].dmarc = settings.dmarc
    return topology


@functools.lru_cache(maxsize=64)
def _run(settings: TrustSettings, enforce: bool, seed: int) -> tuple[Journey, Topology]:
    topology = build_trust(settings, enforce=enforce)
    journey = sc.get(settings.scenario).run(topology=topology, seed=seed)
    return journey, topology


def run_trust(settings: TrustSettings, *, seed: int = 0) -> tuple[Journey, Topology]:
    """Run the scenario changed by ``settings``: (journey, topology). Cached: the same settings run once.

    >>> journey, _ = run_trust(TrustSettings("mailing-list", arc=False))
    >>> journey.outcome.kind, journey.outcome.status
    ('rejected', '5.7.26')
    """
    return _run(settings, True, seed)


# ---------------------------------------------------------------------------------------------- #
# what each receiving server concluded


@dataclass(frozen=True)
class Receipt:
    """What one receiving server concluded about the message, read from the fields it wrote.

    ``dkim`` holds (signing domain ``d=``, result) for every signature it checked; ``refused`` is its SMTP reply
    when it refused the message (then the results are those it reached before refusing: it wrote no header).
    """

    hop: int | None
    server: str
    client_ip: str
    mail_from: str
    spf: str
    spf_domain: str
    dkim: tuple[tuple[str, str], ...]
    arc: str
    dmarc: str
    policy: str
    from_domain: str
    fields: tuple[str, ...] = ()
    refused: str | None = None

    @property
    def spf_aligned(self) -> bool:
        """Is the domain SPF checked aligned with the From: domain (relaxed, RFC 7489 §3.1.2)?"""
        return _aligned(self.spf_domain, self.from_domain)

    def dkim_aligned(self, domain: str) -> bool:
        """Is the signing domain ``domain`` aligned with the From: domain (relaxed, RFC 7489 §3.1.1)?"""
        return _aligned(domain, self.from_domain)

    @property
    def dmarc_passed_by(self) -> tuple[str, ...]:
        """The mechanisms that made DMARC pass: ``spf`` and/or ``dkim`` when they passed for an aligned domain."""
        out = []
        if self.spf == "pass" and self.spf_aligned:
            out.append("spf")
        if any(result == "pass" and self.dkim_aligned(d) for d, result in self.dkim):
            out.append("dkim")
        return tuple(out)

    @property
    def quarantined(self) -> bool:
        """Accepted, but marked for the recipient's Junk folder: DMARC failed for a ``p=quarantine`` domain."""
        return self.refused is None and any(f.lower().startswith(QUARANTINE_FIELD.lower() + ":") for f in self.fields)

    @property
    def arc_override(self) -> bool:
        """Accepted although DMARC failed for a ``p=reject`` or ``p=quarantine`` domain, because it trusted a valid
        ARC chain."""
        return (self.refused is None and not self.quarantined and self.dmarc == "fail"
                and self.policy in ("reject", "quarantine") and self.arc == "pass")

    @property
    def fate(self) -> str:
        """What the server did with the message, in a few words."""
        if self.refused:
            return f"refused during SMTP: {self.refused}"
        if self.quarantined:
            return "accepted, marked for Junk: DMARC failed and the policy is p=quarantine"
        if self.arc_override:
            return "accepted: DMARC failed, but it trusted the ARC chain"
        return "accepted"


def _aligned(domain: str, from_domain: str) -> bool:
    if not domain or not from_domain:
        return False
    return (org_domain(domain) or domain.lower()) == (org_domain(from_domain) or from_domain.lower())


def _value(field: str) -> tuple[str, str]:
    name, _, value = field.partition(":")
    return name.strip().lower(), value


def _policy(comment: str | None) -> str:
    match = re.search(r"\bp=(\w+)", comment or "")
    return match.group(1).lower() if match else ""


def _receipt(hop: Hop, fallback_policy: str, refused: str | None = None) -> Receipt | None:
    """The receipt of one hop from the Authentication-Results it added, or ``None`` when it added none."""
    spf, spf_domain, arc, dmarc, policy, from_domain = "none", "", "none", "none", "", ""
    dkim: list[tuple[str, str]] = []
    shown: list[str] = []
    found = False
    for field in hop.added_headers:
        name, value = _value(field)
        if name in ("received-spf", "arc-seal", "arc-message-signature", "arc-authentication-results", "dkim-signature",
                    QUARANTINE_FIELD.lower()):
            shown.append(field)
        if name != "authentication-results":
            continue
        shown.append(field)
        authserv_id, results, _problems = parse_authentication_results(value)
        if authserv_id not in (None, hop.by_server, hop.by_name):
            continue
        found = True
        for r in results:
            props = r["properties"]
            if r["method"] == "spf":
                spf = r["result"]
                checked = props.get("smtp.mailfrom") or props.get("smtp.helo") or ""
                spf_domain = domain_of(checked) if "@" in checked else checked.lower()
            elif r["method"] == "dkim":
                signer = props.get("header.d") or props.get("header.i", "").lstrip("@")
                dkim.append((signer.lower(), r["result"]))
            elif r["method"] == "arc":
                arc = r["result"]
            elif r["method"] == "dmarc":
                dmarc, policy = r["result"], _policy(r["comment"])
                from_domain = props.get("header.from", "").lower()
    if not found:
        return None
    return Receipt(hop.n if refused is None else None, hop.by_server or hop.by_name or "?", hop.ip or "",
                   hop.envelope_from or "", spf, spf_domain, tuple(dkim), arc, dmarc, policy or fallback_policy,
                   from_domain, tuple(f.replace("\r\n", "\n") for f in shown), refused)


def trust_receipts(settings: TrustSettings, *, seed: int = 0) -> list[Receipt]:
    """What every receiving server concluded, in the order the message reached them.

    A server that refused the message during SMTP wrote no header; its receipt is read from the same journey
    run with no server enforcing DMARC (the checks are the same; only the decision differs), and carries its reply.

    >>> [(r.server, r.dmarc, r.refused) for r in trust_receipts(TrustSettings("dmarc-reject"))]
    [('mx.example.net', 'fail', '550 5.7.1 rejected by DMARC policy for example.org')]
    """
    journey, topology = run_trust(settings, seed=seed)
    scenario = sc.get(settings.scenario)
    dom = topology.domains.get(_from_domain(scenario))
    fallback = (dom.dmarc or "") if dom else ""
    out = [r for r in (_receipt(h, fallback) for h in journey.hops) if r is not None]
    refusing = [a for a in journey.attempts if a.status == "rejected"]
    if refusing and journey.outcome is not None and journey.outcome.kind == "rejected":
        replay, _ = _run(settings, False, seed)
        refused_by = refusing[-1].by_server
        for hop in replay.hops:
            if hop.by_server == refused_by:
                receipt = _receipt(hop, fallback, refused=journey.outcome.reply or journey.outcome.status)
                if receipt is not None:
                    out.append(receipt)
                break
    return out


def _dkim_words(r: Receipt) -> str:
    if not r.dkim:
        return "no signature"
    return ", ".join(f"{res} for {d} ({'aligned with From:' if r.dkim_aligned(d) else 'not aligned'})" for d, res in r.dkim)


def _spf_words(r: Receipt) -> str:
    aligned = ("aligned with From:" if r.spf_aligned else f"not aligned with From: {r.from_domain}" if r.from_domain
               else "no From: domain")
    return f"{r.spf} for {r.spf_domain or '?'} ({aligned})"


def _dmarc_words(r: Receipt) -> str:
    words = f"{r.dmarc} for From: {r.from_domain or '?'} (p={r.policy or 'none published'})"
    if r.dmarc == "pass" and r.dmarc_passed_by:
        words += " through aligned " + " and ".join(m.upper() for m in r.dmarc_passed_by)
    return words


def trust_report(settings: TrustSettings, *, seed: int = 0) -> str:
    """Every receiving server's conclusions, in words, then the outcome.

    >>> print(trust_report(TrustSettings("forwarding")).splitlines()[7])
    hop 3: mx.example.net, connection from 198.51.100.200, MAIL FROM <alice@example.org>
    """
    journey, _ = run_trust(settings, seed=seed)
    changed = [f"{f.name}={getattr(settings, f.name)}" for f in fields(settings)[1:] if getattr(settings, f.name) is not None]
    lines = [f"Scenario {settings.scenario}" + (f" ({', '.join(changed)})" if changed else " (as built)")]
    for r in trust_receipts(settings, seed=seed):
        where = f"hop {r.hop}" if r.hop is not None else "refused"
        lines += [f"{where}: {r.server}, connection from {r.client_ip}, MAIL FROM <{r.mail_from}>",
                  f"  SPF    {_spf_words(r)}", f"  DKIM   {_dkim_words(r)}", f"  ARC    {r.arc}",
                  f"  DMARC  {_dmarc_words(r)}", f"  => {r.fate}"]
    if journey.outcome is not None:
        lines.append(f"Outcome: {journey.outcome.kind} ({journey.outcome.status}). {journey.outcome.detail}")
    return "\n".join(lines)


def trust_changes(before: list[Receipt], after: list[Receipt]) -> list[str]:
    """What changed, server by server, between two runs (``[]`` when nothing did)."""
    old = {r.server: r for r in before}
    out = []
    for r in after:
        prev = old.pop(r.server, None)
        if prev is None:
            out.append(f"{r.server}: now receives the message")
            continue
        if (prev.spf, prev.spf_domain) != (r.spf, r.spf_domain):
            out.append(f"{r.server}: SPF {prev.spf} -> {_spf_words(r)}")
        if prev.dkim != r.dkim:
            out.append(f"{r.server}: DKIM {_dkim_words(prev)} -> {_dkim_words(r)}")
        if prev.arc != r.arc:
            out.append(f"{r.server}: ARC {prev.arc} -> {r.arc}")
        if (prev.dmarc, prev.policy) != (r.dmarc, r.policy):
            out.append(f"{r.server}: DMARC {prev.dmarc} (p={prev.policy}) -> {r.dmarc} (p={r.policy})")
        if prev.fate != r.fate:
            out.append(f"{r.server}: {prev.fate} -> {r.fate}")
    out += [f"{server}: no longer receives the message" for server in old]
    return out


def srs_reverse(address: str) -> str:
    """Where the forwarder sends a bounce that comes back to an SRS address it made (the original sender).

    >>> journey, _ = run_trust(TrustSettings("forwarding", srs=True))
    >>> srs_reverse(journey.hops[-1].envelope_from)
    'alice@example.org'
    >>> srs_reverse("SRS0=AAAA=BC=example.org=alice@alumni.example.edu")
    'The forwarder would refuse this bounce: the hash in the address is not one it made (srslib says: Invalid hash).'
    """
    try:
        return srslib.SRS(SRS_SECRET, validity_days=100000).reverse(address)
    except srslib.Error as err:
        reason = str(err).rstrip(".") or type(err).__name__
        if isinstance(err, srslib.InvalidHashError):
            reason = "Invalid hash"
        return f"The forwarder would refuse this bounce: the hash in the address is not one it made (srslib says: {reason})."


# ---------------------------------------------------------------------------------------------- #
# the widget

_COLOURS = {"pass": ("#1d4d2b", "#e8f5ec"), "fail": ("#8b1a1a", "#fdecea"), "permerror": ("#8b1a1a", "#fdecea"),
            "neutral": ("#7a3a00", "#fff4e5"), "softfail": ("#7a3a00", "#fff4e5")}


def _cell(result: str, detail: str) -> str:
    fg, bg = _COLOURS.get(result, ("#444", "#f3f3f3"))
    return (f'<td style="background:{bg};color:{fg};padding:3px 6px;vertical-align:top"><b>{html.escape(result)}</b>'
            f'<br><span style="font-size:11px">{detail}</span></td>')


def _receipts_html(receipts: list[Receipt]) -> str:
    head = "".join(f'<th style="text-align:left;padding:3px 6px">{h}</th>' for h in
                   ("hop", "receiving server", "SPF", "DKIM", "ARC", "DMARC", "what it did"))
    rows = []
    for r in receipts:
        spf_detail = html.escape(f"for {r.spf_domain or '?'}: " + ("aligned" if r.spf_aligned else "not aligned"))
        dkim_result = next((res for _, res in r.dkim if res == "pass"), r.dkim[0][1] if r.dkim else "none")
        dkim_detail = "<br>".join(html.escape(f"{res}: d={d} ({'aligned' if r.dkim_aligned(d) else 'not aligned'})")
                                  for d, res in r.dkim) or "no signature"
        dmarc_detail = html.escape(f"From: {r.from_domain or '?'}, p={r.policy or '-'}"
                                   + (f"; via {' + '.join(r.dmarc_passed_by).upper()}" if r.dmarc == "pass" else ""))
        fate = html.escape(r.fate)
        fate_style = ("color:#8b1a1a" if r.refused else
                      "color:#7a3a00" if r.arc_override or r.quarantined else "color:#1d4d2b")
        rows.append(
            f'<tr class="mh-receipt" data-server="{html.escape(r.server)}">'
            f'<td style="padding:3px 6px;vertical-align:top">{r.hop if r.hop is not None else "&#8212;"}</td>'
            f'<td style="padding:3px 6px;vertical-align:top"><b>{html.escape(r.server)}</b><br><span style="font-size:11px">'
            f'from {html.escape(r.client_ip)}<br>MAIL FROM &lt;{html.escape(r.mail_from)}&gt;</span></td>'
            f'{_cell(r.spf, spf_detail)}{_cell(dkim_result, dkim_detail)}{_cell(r.arc, "")}'
            f'{_cell(r.dmarc, dmarc_detail)}<td style="padding:3px 6px;vertical-align:top;{fate_style}">{fate}</td></tr>')
    return (f'<div style="{PAPER}overflow:auto"><table class="mailhops-trust" style="border-collapse:collapse;'
            f'font-size:13px;width:100%"><tr style="border-bottom:1px solid #ccc">{head}</tr>{"".join(rows)}</table></div>')


def _fields_html(receipts: list[Receipt]) -> str:
    blocks = []
    for r in receipts:
        title = (f"hop {r.hop}: what {r.server} added" if r.hop is not None
                 else f"{r.server} refused the message, so it wrote nothing; these are the fields it would have written")
        text = "\n".join(r.fields)
        blocks.append(f'<div style="font-family:sans-serif;font-weight:bold;margin-top:6px">{html.escape(title)}</div>'
                      f'<div style="font-family:{MONO};font-size:12px;white-space:pre-wrap">{html.escape(text)}</div>')
    return f'<div style="{PAPER}max-height:420px;overflow:auto">{"".join(blocks)}</div>'


def _records_html(topology: Topology, receipts: list[Receipt]) -> str:
    view = dns_for(topology)
    rows: list[str] = []
    seen: set[str] = set()

    def add(name: str, record: str | None) -> None:
        if name in seen:
            return
        seen.add(name)
        shown = record if record is not None else "(no record)"
        shown = re.sub(r"(p=[A-Za-z0-9+/]{16})[A-Za-z0-9+/=]+", r"\1...", shown)
        rows.append(f"{name}. TXT \"{shown}\"")

    for r in receipts:
        if r.spf_domain:
            add(r.spf_domain, view.spf_record(r.spf_domain))
        for d, _res in r.dkim:
            dom = topology.domains.get(d)
            if dom is not None and dom.dkim_selector:
                add(f"{dom.dkim_selector}._domainkey.{d}", view.dkim_record(d))
        if r.from_domain:
            add(f"_dmarc.{r.from_domain}", view.dmarc_record(r.from_domain))
    text = "\n".join(rows)
    return (f'<div style="{PAPER}"><div style="font-family:sans-serif;font-size:12px;color:#555">The DNS records the '
            f"receiving servers read (keys shortened). <code>mailhops dns SCENARIO</code> prints every zone.</div>"
            f'<div style="font-family:{MONO};font-size:12px;white-space:pre-wrap">{html.escape(text)}</div></div>')


class TrustLab(W.VBox):
    """Pick a situation, switch SRS, ARC, the list footer, the receiver's trust in ARC and the DMARC policy, and see
    what each receiving server concluded (a table, the fields it wrote, the DNS records it read) and the route.

    >>> lab = TrustLab("forwarding")
    >>> lab.srs.value = True
    >>> [r.spf for r in lab.receipts]
    ['pass', 'pass']
    >>> lab.changes.value.count("SPF fail -&gt; pass")
    1
    """

    def __init__(self, scenario: str = "forwarding", *, seed: int = 0, draw: bool = True) -> None:
        _check_name(scenario)
        self.seed = seed
        self.draw_diagram = draw
        self._loading = False
        self.journey: Journey | None = None
        self.topology: Topology | None = None
        self.receipts: list[Receipt] = []
        self._build_controls(scenario)
        super().__init__(self._lay_out())
        self._wire_callbacks()
        self._load(scenario)

    # -- construction ------------------------------------------------------------------------------
    def _build_controls(self, scenario: str) -> None:
        """The scenario picker, one switch per setting, the views (summary, changes, tabs, diagram)."""
        self.picker = W.Dropdown(options=[(f"{n}: {text}", n) for n, text in TRUST_SCENARIOS.items()], value=scenario,
                                 description="Situation", layout=W.Layout(width="640px"))
        def switch(description: str) -> W.Checkbox:  # each its own Layout: hiding one must not hide the others
            return W.Checkbox(description=description, indent=False, layout=W.Layout(width="auto"))

        self.srs = switch("the forwarder rewrites the envelope sender (SRS)")
        self.arc = switch("the forwarder / list adds an ARC set (ARC-Seal, ...)")
        self.footer = switch("the list tags the Subject and adds a footer")
        self.trust_arc = switch("Bob's MX trusts ARC sets from this forwarder / list")
        self.dmarc = W.ToggleButtons(options=[(f"p={p}", p) for p in DMARC_CHOICES], description="DMARC of From:",
                                     style={"description_width": "110px"},
                                     tooltips=["ask receivers for nothing (only reports)",
                                               "ask receivers to refuse mail that fails DMARC"])
        self.summary = W.HTML()
        self.outcome = W.HTML()
        self.changes = W.HTML()
        self.table = W.HTML()
        self.fields_view = W.HTML()
        self.records = W.HTML()
        self.diagram = DiagramView()

    def _lay_out(self) -> list[W.Widget]:
        """Picker and summary, the switches boxed, the outcome and what changed, the tabs, the route."""
        self._rows = {"srs": self.srs, "arc": self.arc, "footer": self.footer, "trust_arc": self.trust_arc,
                      "dmarc": self.dmarc}
        switches = W.VBox(list(self._rows.values()), layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.tabs = W.Tab(children=[self.table, self.fields_view, self.records])
        self.tabs.titles = ("Verdicts", "Fields written", "DNS records")
        return [style_widget(), self.picker, self.summary, switches, self.outcome, self.changes, self.tabs, self.diagram]

    def _wire_callbacks(self) -> None:
        """Another situation loads its defaults; any switch runs the journey again."""
        self.picker.observe(lambda c: self._load(c["new"]), "value")
        for control in self._rows.values():
            control.observe(lambda _c: self.refresh(), "value")

    # -- state -------------------------------------------------------------------------------------
    @property
    def settings(self) -> TrustSettings:
        """The settings the switches show now (``None`` for those hidden in this situation)."""
        shown = relevant_trust_settings(self.picker.value)
        return TrustSettings(self.picker.value, **{name: control.value if name in shown else None
                                                   for name, control in self._rows.items()})

    def _load(self, name: str) -> None:
        self._loading = True
        try:
            defaults = trust_defaults(name)
            shown = relevant_trust_settings(name)
            for key, control in self._rows.items():
                control.layout.display = "" if key in shown else "none"
                value = getattr(defaults, key)
                if value is not None and (key != "dmarc" or value in DMARC_CHOICES):
                    control.value = value
            self.summary.value = (f'<div style="margin:4px 0">{html.escape(sc.get(name).summary)}</div>')
            self.receipts = []
        finally:
            self._loading = False
        self.refresh(first=True)

    def refresh(self, *, first: bool = False) -> None:
        """Run the journey with the switches' settings and show what every receiving server concluded."""
        if self._loading:
            return
        try:
            journey, topology = run_trust(self.settings, seed=self.seed)
            receipts = trust_receipts(self.settings, seed=self.seed)
        except MailhopsError as err:
            self.outcome.value = error_html(str(err))
            return
        before = self.receipts
        self.journey, self.topology, self.receipts = journey, topology, receipts
        o = journey.outcome
        if o is not None:
            colour = "#1d4d2b" if o.kind == "delivered" else "#8b1a1a"
            self.outcome.value = (f'<div class="mailhops-trust-outcome" style="color:{colour};margin:4px 0"><b>Outcome: '
                                  f"{html.escape(o.kind)} ({html.escape(o.status)})</b> &#8212; {html.escape(o.detail)}</div>")
        changed = [] if first else trust_changes(before, receipts)
        if first:
            self.changes.value = ""
        elif changed:
            items = "".join(f"<li>{html.escape(c)}</li>" for c in changed)
            self.changes.value = (f'<div class="mailhops-trust-changes" style="background:#fff3bf;padding:4px 8px">'
                                  f"<b>What changed:</b><ul style=\"margin:2px 0\">{items}</ul></div>")
        else:
            self.changes.value = ('<div class="mailhops-trust-changes" style="color:#555;padding:4px 8px">'
                                  "Nothing changed in what the servers concluded.</div>")
        self.table.value = _receipts_html(receipts)
        self.fields_view.value = _fields_html(receipts)
        self.records.value = _records_html(topology, receipts)
        if self.draw_diagram:
            self.diagram.draw(journey, cache_key=self.settings)


def with_trust(settings: TrustSettings, **changes: Any) -> TrustSettings:
    """A copy of ``settings`` with ``changes`` (a tiny helper for lesson cells)."""
    return replace(settings, **changes)
