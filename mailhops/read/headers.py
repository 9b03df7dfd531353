"""A message's header block: the source read as text, then split into ``(name, value)`` fields.

What people paste is rarely a clean message: :func:`split_headers` tolerates CRLF or LF, an mbox
``From`` line, folded lines that lost their indentation, and a missing blank line before the body, and
says what it repaired. :func:`read_source` turns a str, bytes or path into that text.

>>> fields, repaired = split_headers("Received: from a.example.org\\n by b.example.org; 2 Mar 2026 09:00:05 +0000\\n\\nHi")
>>> fields, repaired
([('Received', 'from a.example.org by b.example.org; 2 Mar 2026 09:00:05 +0000')], [])
>>> first_value(fields, "date", "received")
'from a.example.org by b.example.org; 2 Mar 2026 09:00:05 +0000'
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import MailhopsError

__all__ = ["read_source", "split_headers", "values", "first_value"]

_FIELD = re.compile(r"([!-9;-~]{1,100})[ \t]*:")
_CONTINUES_TRACE = re.compile(
    r"(?:from|by|via|with|id|for)\s|[(;\[]|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b|\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\b",
    re.IGNORECASE,
)
_TRACE_NAMES = frozenset({"received", "x-received", "authentication-results", "arc-authentication-results",
                          "arc-seal", "arc-message-signature", "dkim-signature", "received-spf"})


def read_source(source: str | bytes | os.PathLike[str]) -> tuple[str, bytes | None, list[str]]:
    """``(text, original bytes, notes)`` from a str, bytes or path.

    A missing or unreadable file given as a path raises :class:`~mailhops.errors.MailhopsError`; bytes
    that are not UTF-8 are read as Latin-1, with a note.

    >>> read_source(b"Subject: caf\\xe9\\n")
    ('Subject: café\\n', b'Subject: caf\\xe9\\n', ['the message is not UTF-8; read as Latin-1'])
    """
    if isinstance(source, os.PathLike):
        path = Path(source)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise MailhopsError(f"The file {path} does not exist.") from None
        except IsADirectoryError:
            raise MailhopsError(f"{path} is a folder, not a message file.") from None
        except OSError as err:
            raise MailhopsError(f"The file {path} could not be read ({err.strerror or err}).") from None
        source = data
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        try:
            return data.decode("utf-8"), data, []
        except UnicodeDecodeError:
            return data.decode("latin-1"), data, ["the message is not UTF-8; read as Latin-1"]
    if isinstance(source, str):
        if "\n" not in source and ":" not in source and 0 < len(source) < 4096:
            # a lone word: a file name rather than a header block
            if os.path.isfile(source):
                return read_source(Path(source))
            return "", None, [f"{source!r} looks like a file name, but there is no such file"]
        return source, None, []
    return "", None, [f"cannot read a {type(source).__name__}; expected text, bytes or a path"]


def split_headers(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The header fields of a message as ``(name, value)`` pairs, top first, plus what was repaired.

    The stdlib :mod:`email` parser stops at the first line that is neither a field nor indented, which
    loses the rest of a pasted header block whose folded lines lost their indentation; this splitter
    re-attaches such lines to a trace header they continue, and otherwise takes them as the start of
    the body (a missing blank line).

    >>> split_headers("From alice@example.org Mon Mar  2 09:00:00 2026\\nReceived: from a.example.org\\nby b.example.org; "
    ...               "2 Mar 2026 09:00:05 +0000\\nSubject: hi\\nHello Bob")
    ([('Received', 'from a.example.org by b.example.org; 2 Mar 2026 09:00:05 +0000'), ('Subject', 'hi')], ['a folded line lost its indentation', 'no blank line between the headers and the body'])
    """
    problems: list[str] = []
    headers: list[tuple[str, list[str]]] = []  # (name, value parts): parts joined once at the end
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lost = False
    for line in lines[_first_field_line(lines):]:
        if not line.strip():
            if headers:
                break
            continue
        if line[0] in " \t":
            if headers:
                headers[-1][1].append(line.strip())
            else:
                problems.append("the header block starts with an indented line")
                headers.append(("", [line.strip()]))
            continue
        m = _FIELD.match(line)
        if m:
            headers.append((m.group(1), [line[m.end():].strip()]))
            continue
        if headers and headers[-1][0].lower() in _TRACE_NAMES and _CONTINUES_TRACE.match(line):
            headers[-1][1].append(line.strip())  # a folded trace line that lost its indentation
            lost = True
            continue
        if headers:
            problems.append("no blank line between the headers and the body")
        else:
            if "the text does not start with a header field" not in problems:
                problems.append("the text does not start with a header field")
            continue
        break
    if lost:
        problems.insert(0, "a folded line lost its indentation")
    return [(name, " ".join(parts)) for name, parts in headers if name], problems


def _first_field_line(lines: list[str]) -> int:
    """The index of the first line of the header block: past leading blank lines and an mbox ``From`` line."""
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and lines[i].startswith("From ") and not _FIELD.match(lines[i]):
        i += 1  # mbox separator line
    return i


def values(headers: list[tuple[str, str]], name: str) -> list[str]:
    """The values of every field called ``name`` (lower case), top first."""
    return [value for field, value in headers if field.lower() == name]


def first_value(headers: list[tuple[str, str]], *names: str) -> str | None:
    """The value of the topmost field called one of ``names`` (lower case); None if there is none."""
    return next((value for field, value in headers if field.lower() in names), None)
