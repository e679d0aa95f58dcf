"""The C4 expectations in the ground truth follow from C4's rules (TFDS c4_utils), applied here directly.

Language is the one rule not re-checked here (it needs a model; see test_separability): pages the
truth drops for `language` must pass every other rule. No C4-valid line is shared by two pages, so
C4's line dedup cannot change any outcome.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter

from warcio.archiveiterator import ArchiveIterator

from lamina.sample.truth import read_truth

POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")


def c4_verdict(text: str, badwords: list[str]) -> tuple[str | None, list[str]]:
    """(reason or None, kept lines) by C4's rules (docs/sources.md), language excepted."""
    if len(text) > 190_000:
        return "too_long", []
    kept, sentences = [], 0
    for line in text.split("\n"):
        line = CITATION.sub("", line.strip())
        if any(len(w) > 1000 for w in line.split()):
            continue
        if not line.endswith((".", "?", "!", '"')) or line.endswith("..."):
            continue
        if len(line.split()) < 5:
            continue
        low = line.lower()
        if "lorem ipsum" in low:
            return "lorem_ipsum", []
        if "javascript" in low:
            continue
        if "{" in line:
            return "curly_bracket", []
        if any(p in low for p in POLICY):
            continue
        sentences += len(re.findall(r"[.!?](?:\s|$)", line))
        kept.append(line)
    if sentences < 3:
        return "too_few_sentences", kept
    if any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text.lower()) for w in badwords):
        return "bad_words", kept
    return None, kept


def _docs(world):
    truth = {r["key"]: r for r in read_truth(world / "ground_truth.jsonl") if r["pipeline"] == "c4"}
    for rel in (world / "cc" / "wet.paths").read_text().split():
        with open(world / "cc" / rel, "rb") as f:
            for rec in ArchiveIterator(f):
                if rec.rec_type == "conversion":
                    body = rec.content_stream().read()
                    row = truth[rec.rec_headers.get_header("WARC-Record-ID")]
                    if row["reason"] not in ("invalid_utf8", "malformed_record"):
                        yield row, body.decode()
    for f in sorted((world / "c4").glob("*.json.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                page = json.loads(line)
                yield truth[page["url"]], page["text"]


def test_c4_truth_follows_the_rules(sample_world):
    badwords = (sample_world / "c4" / "badwords" / "en.txt").read_text().split()
    valid_lines: Counter = Counter()
    checked = Counter()
    for row, text in _docs(sample_world):
        reason, kept = c4_verdict(text, badwords)
        if row["reason"] == "duplicate_url":
            continue  # URL dedup comes first; its newer copy is checked like any page
        expected = None if row["reason"] == "language" else row["reason"]
        assert reason == expected, (row["key"], row["kind"], reason, expected)
        valid_lines.update({ln.lower() for ln in kept})
        checked[row["reason"]] += 1
    assert [ln for ln, n in valid_lines.items() if n > 1] == []
    assert {
        "lorem_ipsum",
        "curly_bracket",
        "bad_words",
        "too_few_sentences",
        "language",
        "too_long",
        None,
    } <= set(checked)
