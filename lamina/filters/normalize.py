"""cc_net's text normalization, used by line dedup and by the perplexity models.

Same rules as cc_net `text_normalizer.py`: one function for the perplexity models (`normalize`:
lowercase, accents stripped, digits -> 0, unicode punctuation mapped to ASCII, control characters
removed) and one for line dedup (`normalize_for_dedup`: lowercase, digits -> 0, unicode punctuation
and control characters removed). Training and scoring must use the same function, so both live here.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

UNICODE_PUNCT = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"',
    "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?", "！": "!",
    "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~", "’": "'", "…": "...",
    "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]", "％": "%", "►": "-",
}  # fmt: skip
_UNICODE_PUNCT_CLASS = "".join(re.escape(c) for c in UNICODE_PUNCT)
_NON_PRINTING_CLASS = "".join(re.escape(chr(c)) for c in [*range(0, 32), *range(127, 160)])
UNICODE_PUNCT_RE = re.compile(f"[{_UNICODE_PUNCT_CLASS}]")
NON_PRINTING_CHARS_RE = re.compile(f"[{_NON_PRINTING_CLASS}]")
PUNCT_OR_NON_PRINTING_RE = re.compile(f"[{_UNICODE_PUNCT_CLASS}{_NON_PRINTING_CLASS}]")
DIGIT_RE = re.compile(r"\d")


def strip_accents(text: str) -> str:
    """Remove combining marks after NFD decomposition ("café" -> "cafe"). Always the decomposed
    text, as cc_net's (its `if len(output) == line` compares a length with a string, so it never
    returns the input): Hangul syllables come out as jamo, which is what cc_net's models saw."""
    nfd = unicodedata.normalize("NFD", text)
    return "".join(c for c in nfd if unicodedata.category(c) != "Mn")


def replace_unicode_punct(text: str) -> str:
    return "".join(UNICODE_PUNCT.get(c, c) for c in text)


def normalize(line: str, accent: bool = True, case: bool = True, numbers: bool = True) -> str:
    """Normalization for the SentencePiece + KenLM perplexity models (cc_net's `normalize`, punct=1)."""
    line = line.strip()
    if not line:
        return line
    if case:
        line = line.lower()
    if accent:
        line = strip_accents(line)
    if numbers:
        line = DIGIT_RE.sub("0", line)
    line = replace_unicode_punct(line)
    return NON_PRINTING_CHARS_RE.sub("", line)


def normalize_for_dedup(line: str) -> str:
    """Normalization for line dedup: strip, lowercase, digits -> 0, unicode punct and controls removed."""
    line = line.strip()
    if not line:
        return line
    line = DIGIT_RE.sub("0", line.lower())
    return PUNCT_OR_NON_PRINTING_RE.sub("", line)


def line_hash(line: str) -> int:
    """cc_net's line key: sha1 of the dedup-normalized line, first 8 bytes as an unsigned 64-bit int."""
    digest = hashlib.sha1(normalize_for_dedup(line).encode("utf-8")).digest()[:8]
    return int.from_bytes(digest, "little")
