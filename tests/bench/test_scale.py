"""`lamina bench scale --quick`: the scale benchmark runs end to end and measures every figure it
prints (figures are printed, never asserted against a speed)."""

from __future__ import annotations

import pytest

from lamina.bench.scale import bench


@pytest.mark.slow
def test_quick_scale_bench_measures_every_figure(sample_models, tmp_path, capsys):
    rows = bench(["--quick", "--models", str(sample_models), "--work", str(tmp_path)])
    printed = capsys.readouterr().out
    assert {(r["scale"], r["source"], r["workers"]) for r in rows} == {
        (n, s, 1) for n in (1, 2) for s in ("commoncrawl", "c4")
    }
    by = {(r["scale"], r["source"]): r for r in rows}
    for s in ("commoncrawl", "c4"):
        one, two = by[(1, s)], by[(2, s)]
        assert two["documents_in"] == 2 * one["documents_in"] > 100  # the 2x world doubles the input
        for r in (one, two):
            assert r["docs_per_s_core"] > 0 and r["wall"] > 0
            assert r["runner_mb"] > 50 and r["worker_mb"] > 50 and r["tree_mb"] >= r["runner_mb"]
            assert r["shuffle_per_input_byte"] > 0 and r["largest_group_bytes"] > 0
            assert r["shards"] >= 1 and r["max_shard"] > 0
            assert r["table"] and all(0 <= p <= 1 and 0 <= q <= 1 for p, q in r["table"].values())
    assert "largest worker peak 2x/1x" in printed and "load average" in printed
