"""The one escaping function every text in a diagram goes through.

Graphviz reads labels twice: once as DOT (quotes, and backslash sequences such as ``\\N`` which
expands to the node's ID) and once as HTML-like markup (``<``, ``>``, ``&``). A host name, an
address like ``<alice@example.org>`` or a header line copied from a real message must come out
exactly as written, so :func:`escape_label` turns any value into text that is safe in both plain
(quoted) labels and HTML-like labels:

1. unfold header lines (RFC 5322 §2.2.3: a CRLF followed by white space is removed), and turn any
   remaining line break or tab into a space;
2. replace characters that cannot appear in an SVG (XML 1.0) document -- control characters, lone
   surrogates, U+FFFE/U+FFFF -- by U+FFFD, the replacement character;
3. :func:`html.escape` (``&``, ``<``, ``>``, both quotes);
4. double every backslash, so ``C:\\mail`` and ``\\N`` are not read as Graphviz escapes.

>>> escape_label("<alice@example.org>")
'&lt;alice@example.org&gt;'
>>> print(escape_label("C:\\\\mail \\\\N end\\\\"))
C:\\\\mail \\\\N end\\\\
>>> display_text("Received: from a\\r\\n\\tby b")
'Received: from a by b'
"""

from __future__ import annotations

import html
import re
import textwrap

__all__ = ["display_text", "escape_label", "wrap_label"]

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_BREAKS = re.compile(r"[\r\n\t\v\f]")
# Characters XML 1.0 forbids (C0 controls other than tab/LF/CR, surrogates, U+FFFE/U+FFFF), plus C1
# controls and DEL, which no font draws.
_UNDRAWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def display_text(value: object) -> str:
    """The text a reader sees for ``value``: unfolded, on one line, with undrawable characters replaced.

    ``None`` becomes the empty string; anything else goes through :func:`str` first.

    >>> display_text("a\\r\\n b")
    'a b'
    >>> display_text("bell\\x07")
    'bell\\ufffd'
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _FOLD.sub("", text)
    text = _BREAKS.sub(" ", text)
    return _UNDRAWABLE.sub("\ufffd", text)


def escape_label(value: object) -> str:
    """Escape ``value`` for a Graphviz label, plain or HTML-like (see the module docstring).

    >>> escape_label('a < b & c "quoted" {braces} host:587')
    'a &lt; b &amp; c &quot;quoted&quot; {braces} host:587'
    """
    return html.escape(display_text(value), quote=True).replace("\\", "\\\\")


def wrap_label(value: object, width: int) -> list[str]:
    """Split ``value`` into escaped lines of at most ``width`` characters, for long header lines.

    Breaks at spaces when it can, inside long words (a DKIM signature) when it must; the pieces
    joined with single spaces give back :func:`display_text` of the value, apart from runs of spaces.

    >>> wrap_label("Received: from laptop.example.org by smtp.example.org", 34)
    ['Received: from laptop.example.org', 'by smtp.example.org']
    """
    text = display_text(value)
    if len(text) <= width:
        return [escape_label(text)]
    lines = textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=False) or [""]
    return [escape_label(line) for line in lines]
