"""Lines of a document for cc_net's line dedup: splitting, hashing, and removal (pure Python).

A document's lines are its text split on "\\n" (WET bodies have no "\\r" left, see formats/wet.py).
Each line is keyed by `normalize.line_hash` (sha1 of the dedup-normalized line, first 8 bytes as
uint64), so "Home", "home" and "HOME " are the same line, and "Page 1 of 12" equals "Page 2 of 13".
The shuffle that decides which hashes are duplicates is in lamina/pipelines/ccnet.py; this module
only says what a line is and removes the ones the shuffle named.
"""

from __future__ import annotations

from collections.abc import Iterable

from lamina.filters.normalize import line_hash


def split_lines(text: str) -> list[str]:
    """The lines of a document, as line dedup sees them."""
    return text.split("\n")


def content_lines(text: str) -> list[str]:
    """The non-blank lines: blank lines are layout, not content, and are neither counted nor kept."""
    return [line for line in split_lines(text) if line.strip()]


def line_hashes(text: str) -> list[int]:
    """One hash per content line, in order (repeats included: a line repeated inside one page is a
    duplicate too, as in cc_net)."""
    return [line_hash(line) for line in content_lines(text)]


def remove_lines(text: str, duplicates: Iterable[int]) -> tuple[str, int, int]:
    """Remove every line whose hash is in `duplicates` (cc_net: the first occurrence too).

    Returns (kept text, original line count, kept line count). Blank lines are not content: a kept
    text has no blank lines, and they count neither as kept nor as original lines.
    """
    dup = set(duplicates)
    lines = content_lines(text)
    kept = [line for line in lines if line_hash(line) not in dup]
    return "\n".join(kept), len(lines), len(kept)
