"""A join that loses values fails the run's conservation check, though every document is counted.

Seen once with 2 workers (docs/runners.md): C4's line-dedup join lost about half the line keys the
owner combine sent, and pages came out shorter or dropped as too_few_sentences. Document counts
alone cannot see that when the pages survive, so `count_join`'s tallies must."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest

from lamina.documents import Document
from lamina.pipelines.accounting import (
    JOIN_RECEIVED,
    JOIN_SENT,
    ConservationError,
    Funnel,
    build_stats,
    check_conservation,
    count_join,
)
from lamina.pipelines.ccnet import LineDedup, LineDedupApply

META = {"source": "c4", "pipeline": "c4", "settings": {}}
STAGES = ["clean", "line_dedup"]


def _tallies(sent: int, received: int) -> list:
    return [
        (("clean", "kept", ""), 10),
        (("line_dedup", "kept", ""), 9),
        (("line_dedup", "dropped", "too_few_sentences"), 1),
        (("line_dedup", JOIN_SENT, "owned"), sent),
        (("line_dedup", JOIN_RECEIVED, "owned"), received),
        (("write", "kept", ""), 9),
    ]


def test_equal_join_counts_pass_and_are_reported():
    st = build_stats(_tallies(120, 120), [], [], stage_names=STAGES, meta=META)
    assert st["conservation_ok"]
    assert st["funnel"][1]["joined"] == {"owned": {"sent": 120, "received": 120}}
    assert "joined" not in st["funnel"][0]  # only stages fed by a counted join
    check_conservation(st, "stats/c4.json")


@pytest.mark.parametrize("received", [61, 121])  # values lost, or counted twice
def test_a_join_that_lost_values_fails_conservation(received):
    st = build_stats(_tallies(120, received), [], [], stage_names=STAGES, meta=META)
    # the documents still add up: only the join's counts show the loss
    assert st["documents_in"] == st["documents_kept"] + sum(st["dropped"].values())
    assert not st["conservation_ok"]
    with pytest.raises(ConservationError, match=f"line_dedup owned: 120 sent, {received} received"):
        check_conservation(st, "stats/c4.json")


def test_ccnet_line_dedup_join_is_counted_in_a_real_pipeline(tp, tmp_path):
    """CCNet's unique-line join, counted by `count_join` as CCNet wires it: the two unique lines
    (a line repeated inside one page occurs twice, so is not unique) are sent and received."""
    texts = ["Shared menu line\nFirst page own text", "shared MENU line\nMine\nMine", "Only my words"]
    docs = [
        Document(f"commoncrawl/{i}", "commoncrawl", t, {"url": f"http://x/{i}"}) for i, t in enumerate(texts)
    ]
    stats = tmp_path / "stats.json"
    with tp() as p:
        f = Funnel("commoncrawl", "ccnet")
        dedup = LineDedup("run")
        joined = p | beam.Create(docs) | dedup
        count_join(f, LineDedupApply.name, "uniq", dedup.uniq, joined, "uniq")
        kept = f.apply(joined, LineDedupApply())
        f.finish(kept | beam.Map(lambda d: (("write", "kept", ""), 1)), str(stats), {})
    st = json.loads(stats.read_text())
    assert st["funnel"][0]["joined"] == {"uniq": {"sent": 2, "received": 2}}
    assert st["conservation_ok"] and st["documents_kept"] == 2
