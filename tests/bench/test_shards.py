"""`lamina bench shards` on a corpus run directory (docs/ and tokenizer/): both rates and the ratio.
The text is real (the standard library's own sources); the figures are only printed, so only their
presence and sign are checked."""

from __future__ import annotations

import gzip
import sysconfig
from pathlib import Path

import pytest

from lamina.bench.shards import bench
from lamina.documents import Document, stable_id
from lamina.tokenize.train import train_from_lines

FILES = ("json/decoder.py", "json/encoder.py", "textwrap.py", "shlex.py", "fnmatch.py", "heapq.py")


def test_bench_prints_both_rates_and_the_ratio(tmp_path, capsys):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [(stdlib / f).read_text("utf-8") for f in FILES]
    (tmp_path / "docs" / "github").mkdir(parents=True)
    with gzip.open(tmp_path / "docs" / "github" / "part-00000.jsonl.gz", "wt", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(Document(stable_id("github", "part-00000", str(i)), "github", t).to_json() + "\n")
    lines = [line for t in texts for line in t.split("\n") if line.strip()]
    train_from_lines(lines, tmp_path / "tokenizer", 600, num_threads=1)

    r = bench(["--corpus", str(tmp_path), "--repeat", "1"])
    out = capsys.readouterr().out
    assert f"text: {tmp_path}/docs with" in out  # the corpus's documents, not the fallback
    assert f"{len(texts)} documents" in out
    assert "sentencepiece encode (baseline)" in out and "overhead of the shard writer" in out
    assert r["baseline_tokens_per_s"] > 0 and r["ours_tokens_per_s"] > 0
    assert r["overhead"] == pytest.approx(r["baseline_tokens_per_s"] / r["ours_tokens_per_s"] - 1)
