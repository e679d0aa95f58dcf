"""The CCNet benchmark measures every stage in order (figures are printed, never asserted)."""

from __future__ import annotations

from lamina.bench.ccnet import stage_rates


def test_bench_measures_every_stage(sample_world, sample_models):
    rates = stage_rates(sample_world, sample_models, min_seconds=0.01)
    assert [name for name, _, _ in rates] == [
        "read", "too_short", "duplicate_digest", "line_dedup", "language", "perplexity", "buckets", "wikiref",
    ]  # fmt: skip
    assert all(rate > 0 for _, rate, _ in rates)
    seen = [n for _, _, n in rates]
    assert seen == sorted(seen, reverse=True) and seen[0] > 100  # each stage sees what the last one kept
