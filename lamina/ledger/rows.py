"""Ledger rows from a run's verdicts (pure Python, no Beam): `kept_row(doc)`, `dropped_row(stage, d,
settings)`, and the table's schema.

The measured value of a drop comes from the document's annotations (`language_score`, `perplexity`,
`wiki_prob`) or its text (length); the threshold from the run's settings, or for a perplexity tail
from the cutoffs named in the drop's detail (the run may compute them). For exact duplicates
(digest, URL, content hash) `duplicate_key` is what the document shares with its original.
`duplicate_of` is the original's id. Here, a books near-duplicate's is the representative's key
its detail names; with `--ledger`, `lamina.pipelines.ledger.NameOriginals` replaces it with the
representative's id and fills in the others from what the dedup stages register: the key's winner
of an exact duplicate, the majority owner of the lines of a line-dedup drop (docs/reports.md).
"""

from __future__ import annotations

import re
from typing import Any

# Column name -> pyarrow type name (kept as strings so this module does not import pyarrow).
SCHEMA: list[tuple[str, str]] = [
    ("id", "string"),  # Document.id
    ("key", "string"),  # the input's own key: WARC-Record-ID, C4 url, repo:path, pg<N>.txt, ...
    ("file", "string"),  # input file (label relative to the input root)
    ("record", "int64"),  # 0-based record in that file (or row, for Posts.xml), null when unknown
    ("outcome", "string"),  # "kept" or "dropped"
    ("stage", "string"),  # the stage that dropped it (null when kept)
    ("reason", "string"),  # the drop reason (null when kept)
    ("value", "float64"),  # the measured value the decision used (null when none)
    ("threshold", "float64"),  # the threshold it was held to (null when none)
    ("duplicate_of", "string"),  # the original's id: key winner, line owner, books cluster head
    ("duplicate_key", "string"),  # what a duplicate shares with its original (digest, URL, content hash)
    ("detail", "string"),  # the decision's detail as the stage wrote it
    ("bucket", "string"),  # language_bucket of a kept document (the report's group)
]

# reason -> (annotation holding the measured value, or "chars" for the text's length; setting key)
MEASURES: dict[str, tuple[str, str | None]] = {
    "language": ("language_score", "lid_threshold"),
    "perplexity_tail": ("perplexity", None),
    "wikiref": ("wiki_prob", "wikiref_threshold"),
    "too_short": ("chars", "min_length"),
    "too_long": ("chars", "max_page_length"),
    "max_line_length": ("max_line_length", "max_line_length"),
    "mean_line_length": ("mean_line_length", "max_mean_line_length"),
    "alnum_fraction": ("alnum_fraction", "min_alnum_fraction"),
    "alpha_per_token": ("alpha_per_token", "min_alpha_per_token"),
}
_DUPLICATE_OF = [
    re.compile(r"^near-duplicate of (?P<of>\S+) \("),  # books' MinHash clusters: the representative
]
_DUPLICATE_KEY = [
    re.compile(r"^same (?P<what>.+?) as an earlier document \((?P=what) (?P<key>.+)\)$"),  # KeepFirst
    re.compile(r"^a newer page has the same URL \((?P<key>.+)\)$"),  # C4's URL dedup
]
_CUTOFFS = re.compile(r"cutoffs \(?\[?\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def truth_key(metadata: dict) -> str | None:
    """The key ground truth and users name a document by (see interfaces.md, the sample world)."""
    for k in ("record_id", "key", "url"):
        if metadata.get(k):
            return str(metadata[k])
    return None


def _record(metadata: dict) -> int | None:
    for k in ("record", "row"):
        v = metadata.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def _float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    return None


def _base(doc) -> dict[str, Any]:
    m = doc.metadata
    return {"id": doc.id, "key": truth_key(m), "file": m.get("file"), "record": _record(m)}


def kept_row(doc) -> dict[str, Any]:
    m = doc.metadata
    bucket = "_".join(str(m[k]) for k in ("language", "bucket") if m.get(k)) or None
    return {**_base(doc), "outcome": "kept", "stage": None, "reason": None, "value": None,
            "threshold": None, "duplicate_of": None, "duplicate_key": None, "detail": None,
            "bucket": bucket}  # fmt: skip


def duplicate_of(detail: str) -> str | None:
    for pattern in _DUPLICATE_OF:
        m = pattern.search(detail or "")
        if m:
            return m.group("of")
    return None


def duplicate_key(detail: str) -> str | None:
    for pattern in _DUPLICATE_KEY:
        m = pattern.search(detail or "")
        if m:
            return m.group("key")
    return None


def dropped_row(stage: str, dropped, settings: dict) -> dict[str, Any]:
    """The row of a `Dropped(reason, doc, detail)` verdict of `stage`."""
    doc, reason, detail = dropped.doc, dropped.reason, dropped.detail or ""
    value = threshold = None
    annotation, setting = MEASURES.get(reason, (None, None))
    if annotation == "chars":
        value = float(len(doc.text)) if doc.text else _first_number(detail)
    elif annotation:  # the annotation, else the value the detail states first ("mean line 131.0 > 100")
        value = _float(doc.metadata.get(annotation))
        value = _first_number(detail) if value is None else value
    if setting:
        threshold = _float(settings.get(setting))
    if reason.startswith("perplexity_"):
        m = _CUTOFFS.search(detail)
        if m:  # the tail starts above the upper cutoff; another bucket dropped is above the lower
            threshold = float(m.group(2) if reason == "perplexity_tail" else m.group(1))
    return {**_base(doc), "outcome": "dropped", "stage": stage, "reason": reason, "value": value,
            "threshold": threshold, "duplicate_of": duplicate_of(detail),
            "duplicate_key": duplicate_key(detail), "detail": detail or None, "bucket": None}  # fmt: skip


def _first_number(text: str) -> float | None:
    m = _NUMBER.search(text or "")
    return float(m.group(0)) if m else None
