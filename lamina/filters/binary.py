"""Binary content posing as text: the `binary` drop of every text source (pure Python, no Beam).

A text is binary when
- it holds a NUL in its first 8,000 characters (git's own test for a binary file), or
- more than `MAX_CONTROL_FRACTION` of its characters are control characters: C0 controls other than
  tab, line feed, vertical tab, form feed and carriage return, DEL, and the C1 controls U+0080-U+009F
  (random bytes decoded as Latin-1 are about a quarter C0/C1 controls; real prose and code hold
  none, or a stray escape or two).
The check is one regex search per text (C speed); only a text that holds a control character at all
is counted character by character.
"""

from __future__ import annotations

import re

BINARY = "binary"  # the drop reason
MAX_CONTROL_FRACTION = 0.01  # of characters; above it a text is binary
NUL_PREFIX_CHARS = 8_000  # a NUL this early makes a text binary (git's `buffer_is_binary`)
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def binary_reason(text: str, max_fraction: float = MAX_CONTROL_FRACTION) -> str:
    """ "" for text; else a one-line detail saying why it is binary (the caller drops it as BINARY)."""
    if _CONTROL.search(text) is None:
        return ""
    nul = text.find("\x00", 0, NUL_PREFIX_CHARS)
    if nul >= 0:
        return f"NUL character at offset {nul}"
    n = len(_CONTROL.findall(text))
    if n > max_fraction * len(text):
        return f"{n} control characters in {len(text)} ({n / len(text):.1%} > {max_fraction:.0%})"
    return ""
