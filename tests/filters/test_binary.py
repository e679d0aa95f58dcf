"""The control-character half of the `binary` rule (the NUL half is tested in
tests/pipelines/test_inputs.py): binary content without a NUL in its first 8,000 characters."""

from __future__ import annotations

import random

from lamina.filters.binary import MAX_CONTROL_FRACTION, NUL_PREFIX_CHARS, binary_reason


def test_random_bytes_without_nul_are_binary_by_their_control_characters():
    raw = bytes(b for b in random.Random(2).randbytes(20_000) if b)  # no NUL: only the fraction can tell
    why = binary_reason(raw.decode("latin-1"))
    assert "control characters" in why, why


def test_the_control_fraction_threshold_is_exact():
    prose = "ordinary words of a page " * 400  # 10,000 characters
    at = int(MAX_CONTROL_FRACTION * len(prose))  # controls replacing characters: the length is kept
    assert binary_reason("\x01" * at + prose[at:]) == ""
    assert "control characters" in binary_reason("\x01" * (at + 1) + prose[at + 1 :])


def test_a_late_nul_alone_is_not_binary():
    """git's test looks at the first 8,000 characters only; past them a stray NUL is one control."""
    text = "x" * NUL_PREFIX_CHARS + "\x00" + "y" * 1000
    assert binary_reason(text) == ""
    assert binary_reason("\x00" + text).startswith("NUL character at offset 0")
