"""Names from an export are untrusted: never let them drive the terminal or forge a line.

``printable`` escapes as GNU ``ls --quoting-style=escape`` does: C escapes for the usual
control characters (``\\n``, ``\\t``, ``\\a``...), a backslash doubled, and every other
character that is not safe on a terminal as the octal of its UTF-8 bytes (``\\033`` for ESC,
``\\342\\200\\256`` for U+202E). Unsafe: C0 and C1 controls, DEL, the bidirectional overrides
and isolates (U+202A-U+202E, U+2066-U+2069: they reorder what follows, "Trojan Source",
CVE-2021-42574), the Unicode line and paragraph separators, and lone surrogates (bytes that
were not UTF-8, kept by ``surrogateescape``: shown as the byte they stand for).
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
}


def _escape(m: re.Match[str]) -> str:
    char = m.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    # A lone surrogate from U+DC80 to U+DCFF stands for a raw byte that was not UTF-8.
    lone = 0xDC80 <= code <= 0xDCFF
    raw = bytes([code - 0xDC00]) if lone else char.encode("utf-8", "surrogatepass")
    return "".join(f"\\{b:03o}" for b in raw)


def printable(text: str) -> str:
    """``text`` with every character unsafe on a terminal escaped (see the module docstring).

    The result holds no control character at all (tab and newline included), so it can
    neither start a new line nor move the cursor. Pure ASCII text without backslashes is
    returned unchanged."""
    if text.isascii() and text.isprintable() and "\\" not in text:  # the common case, in C
        return text
    return _UNSAFE.sub(_escape, text)
