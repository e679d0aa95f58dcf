"""`lamina bench train` (lamina/bench/train.py) at its smallest: the tiny preset, a short
sequence, one timed step, no compile, no 1B run. A smoke test of the code path `make bench` runs;
the figures themselves belong to the benchmark, so only their presence and sign are checked."""

from __future__ import annotations

import re

from lamina.bench.train import bench

RATE = r"([\d,]+) tokens/s"


def test_bench_train_prints_both_rates_and_the_ratio(capsys):
    argv = ["--preset", "tiny", "--seq", "32", "--batch", "2", "--steps", "1", "--no-compile", "--skip-1b"]
    r = bench(argv)["small"]
    out = capsys.readouterr().out
    hf = re.search(r"HF LlamaForCausalLM \(sdpa\)\s+" + RATE, out)
    ours = re.search(r"ours \(eager\)\s+" + RATE + r"\s+([\d.]+)x HF", out)
    assert hf and ours, out
    assert int(hf.group(1).replace(",", "")) > 0 and int(ours.group(1).replace(",", "")) > 0
    assert float(ours.group(2)) > 0
    assert r["hf"] > 0 and r["ours"] > 0 and "ours_compiled" not in r  # --no-compile honoured
    assert ours.group(2) == f"{r['ours'] / r['hf']:.2f}"  # the printed ratio is ours / HF
    assert "batch 2 x seq 32" in out and "tiny" in out
