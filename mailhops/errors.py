"""One exception hierarchy, rooted in :class:`MailhopsError`, so callers can catch everything at once.

>>> try:
...     raise TopologyError("The domain example.org has no MX and no A record.")
... except MailhopsError as err:
...     print(err)
The domain example.org has no MX and no A record.
"""

from __future__ import annotations


class MailhopsError(Exception):
    """Base class of every error mailhops raises on purpose; the message is one readable sentence."""


class TopologyError(MailhopsError, ValueError):
    """A topology is inconsistent: a missing server, a domain nobody can reach, a bad address."""


class UnknownScenarioError(MailhopsError, KeyError):
    """A scenario name that :mod:`mailhops.scenarios` does not know."""

    def __str__(self) -> str:  # KeyError would add quotes around the sentence
        return str(self.args[0]) if self.args else ""


class HeaderValueError(MailhopsError, ValueError):
    """A header name or value that would break the message (CR or LF inside, non-printable name)."""


class DNSLookupError(MailhopsError):
    """A DNS lookup failed (offline, timeout, server failure) — not proof that a name does not exist."""


class RenderError(MailhopsError):
    """A diagram could not be drawn (for example Graphviz ``dot`` is missing); the message says how to fix it."""


class LiveError(MailhopsError):
    """The real-SMTP mode could not start or finish (port in use, server crashed, timeout)."""
