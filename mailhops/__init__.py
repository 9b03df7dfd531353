"""mailhops: see why an email crosses several servers before it lands.

>>> import mailhops
>>> journey = mailhops.run_scenario("three-hops")
>>> journey.outcome.kind
'delivered'
>>> [hop.with_ for hop in journey.hops]
['ESMTPSA', 'ESMTPS', 'LMTP']
"""

from __future__ import annotations

from .errors import (
    DNSLookupError,
    HeaderValueError,
    LiveError,
    MailhopsError,
    RenderError,
    TopologyError,
    UnknownScenarioError,
)
from .journey import OUTCOME_KINDS, Hop, Journey, Lookup, Outcome, SmtpLine
from .topology import ROLES, Domain, Server, Topology, User

__version__ = "0.1.0"

__all__ = [
    "DNSLookupError",
    "Domain",
    "HeaderValueError",
    "Hop",
    "Journey",
    "LiveError",
    "Lookup",
    "MTAS",
    "MailhopsError",
    "OUTCOME_KINDS",
    "Outcome",
    "ROLES",
    "RenderError",
    "Server",
    "SmtpLine",
    "Topology",
    "TopologyError",
    "UnknownScenarioError",
    "User",
    "count_hops",
    "export",
    "export_frames",
    "render_journey",
    "render_topology",
    "run_scenario",
    "scenario_names",
    "send",
    "to_svg",
]


def __getattr__(name: str):  # lazy: keeps `import mailhops` fast (graphviz, ipywidgets load on use)
    if name == "send":
        from .simulate import send

        return send
    if name == "MTAS":  # the MTA facts live with the MTAs (mailhops.mta), above the records
        from .mta import MTAS

        return MTAS
    if name == "count_hops":
        from .mta.headers import count_hops

        return count_hops
    if name in ("render_topology", "render_journey", "export", "export_frames", "to_svg"):
        from . import draw

        return getattr(draw, name)
    if name in ("run_scenario", "scenario_names", "get_scenario"):
        from . import scenarios

        return {"run_scenario": scenarios.run, "scenario_names": scenarios.names,
                "get_scenario": scenarios.get}[name]
    raise AttributeError(f"module 'mailhops' has no attribute {name!r}")
