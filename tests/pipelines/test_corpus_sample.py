"""`lamina corpus` on the sample world, end to end with the trained models: the ground truth is met
(precision and recall per drop reason), every run checks conservation, two runs on different
runners (multi-process FnApiRunner, PortableRunner on the portable Fn API) write identical bytes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lamina.documents import Document
from lamina.pipelines.corpus import main, run
from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS

# (pipeline, outcome) -> (minimum precision, minimum recall) on the sample world. The aim is
# 0.95 for language, duplicates and spam (perplexity_tail). C4 keeps English at score >= 0.99 (TFDS's
# number): with 10 passes over its ~2,000 Wikipedia paragraphs the sample LID scored English shop pages
# 0.983-0.989 (C4 language precision 0.83-0.90 over world seeds 0-2); trained until it has seen 50,000
# examples (LidConfig.min_examples_seen, ~26 passes) it scores every English page >= 0.995 and character
# noise <= 0.43, and C4 language precision and recall are 1.0 on seeds 0-2. Below the aim, and why:
# - wikiref (measured 1.0/1.0 on seed 0, 1.0/0.93 on seeds 1-2): a classifier trained on ~60 cited pages
#   and as many random ones; a good page drawn as a random negative can fall below RedPajama's 0.25.
TARGETS = {
    ("ccnet", "language"): (0.95, 0.95),
    ("ccnet", "duplicate_digest"): (0.95, 0.95),
    ("ccnet", "no_lines_left"): (0.95, 0.95),
    ("ccnet", "perplexity_tail"): (0.95, 0.95),
    ("ccnet", "too_short"): (0.95, 0.95),
    ("ccnet", "invalid_utf8"): (1.0, 1.0),
    ("ccnet", "malformed_record"): (1.0, 1.0),
    # The LM card's fixed cutoffs (the default) come from the pages as the run scores them (line dedup
    # included), so p60 is the lowest spam/salad page and no tail page reaches wikiref: measured 1.0
    ("ccnet", "wikiref"): (0.90, 0.90),
    ("ccnet", "kept"): (0.95, 0.95),
    ("c4", "language"): (0.95, 0.95),
    ("c4", "duplicate_url"): (0.95, 0.95),
    ("c4", "too_few_sentences"): (0.95, 0.95),
    ("c4", "too_long"): (1.0, 1.0),
    ("c4", "lorem_ipsum"): (1.0, 1.0),
    ("c4", "curly_bracket"): (1.0, 1.0),
    ("c4", "bad_words"): (1.0, 1.0),
    ("c4", "kept"): (0.95, 0.90),
}
SOURCE_OF = {"ccnet": "commoncrawl", "c4": "c4"}


def _read(path: Path) -> list[Document]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [Document.from_json(line) for line in f]


def outcomes(out: Path, source: str) -> dict[str, str]:
    """Record key (WARC-Record-ID, or url for C4 json pages) -> "kept" or the drop reason."""
    got: dict[str, str] = {}
    for path in sorted((out / "docs" / source).glob("*.jsonl.gz")):
        for d in _read(path):
            got[d.metadata.get("record_id") or d.metadata["url"]] = "kept"
    for path in sorted((out / "dropped" / source).glob("*.jsonl.gz")):
        for d in _read(path):
            got[d.metadata.get("record_id") or d.metadata["url"]] = d.metadata["drop_reason"]
    return got


def precision_recall(truth: dict[str, str], got: dict[str, str]) -> dict[str, tuple[float, float, int]]:
    """reason -> (precision, recall, documents expected)."""
    classes = sorted(set(truth.values()) | set(got.values()))
    table = {}
    for c in classes:
        expected = {k for k, v in truth.items() if v == c}
        predicted = {k for k, v in got.items() if v == c and k in truth}
        hit = len(expected & predicted)
        table[c] = (
            hit / len(predicted) if predicted else 1.0,
            hit / len(expected) if expected else 1.0,
            len(expected),
        )
    return table


def ground_truth(sample_world: Path, pipeline: str) -> dict[str, str]:
    truth = {}
    with open(sample_world / "ground_truth.jsonl", encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            if t["pipeline"] == pipeline:
                truth[t["key"]] = "kept" if t["expected"] == "kept" else t["reason"]
    return truth


@pytest.fixture(scope="module")
def corpus_out(sample_world, sample_models, tmp_path_factory) -> Path:
    """One `lamina corpus` run, as `make corpus` does it: default runner (multi-process, 2 workers)."""
    out = tmp_path_factory.mktemp("corpus")
    argv = [
        "--input",
        str(sample_world),
        "--models",
        str(sample_models),
        "--out",
        str(out),
        "--write-dropped",
    ]
    assert main(argv) == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", ["ccnet", "c4"])
def test_ground_truth_is_met(corpus_out, sample_world, pipeline, capsys):
    truth = ground_truth(sample_world, pipeline)
    got = outcomes(corpus_out, SOURCE_OF[pipeline])
    missing = set(truth) - set(got)
    assert not missing, f"{len(missing)} documents of the ground truth have no outcome: {sorted(missing)[:3]}"
    table = precision_recall(truth, got)
    with capsys.disabled():
        print(f"\n{pipeline}: reason, precision, recall, expected")
        for c, (p, r, n) in table.items():
            print(f"  {c:<20} {p:6.3f} {r:6.3f} {n:5d}")
    for (pl, c), (min_p, min_r) in TARGETS.items():
        if pl == pipeline:
            p, r, n = table[c]
            assert p >= min_p and r >= min_r, (
                f"{pipeline} {c}: precision {p:.3f} recall {r:.3f} ({n} expected)"
            )
    stats = json.loads((corpus_out / "stats" / f"{SOURCE_OF[pipeline]}.json").read_text())
    assert stats["conservation_ok"] and stats["documents_in"] == len(truth)
    assert stats["documents_in"] == stats["documents_kept"] + sum(stats["dropped"].values())


@pytest.mark.slow
def test_commoncrawl_outputs_carry_ccnet_fields(corpus_out):
    stats = json.loads((corpus_out / "stats" / "commoncrawl.json").read_text())
    names = sorted(p.name for p in (corpus_out / "docs" / "commoncrawl").glob("*.jsonl.gz"))
    # the sample world is far below the default shard limit: one shard per output
    assert names and set(names) <= {"en_head-00000-of-00001.jsonl.gz", "en_middle-00000-of-00001.jsonl.gz"}
    for name in names:
        docs = _read(corpus_out / "docs" / "commoncrawl" / name)
        assert [d.id for d in docs] == sorted(d.id for d in docs)
        for d in docs:
            m = d.metadata
            assert m["language"] == "en" and m["language_score"] >= 0.5 and m["wiki_prob"] >= 0.25
            assert f"{m['language']}_{m['bucket']}-00000-of-00001.jsonl.gz" == name and m["perplexity"] > 0
            assert m["nlines"] <= m["original_nlines"] and m["nlines"] == len(d.text.split("\n"))
            assert {"url", "date", "digest", "record_id", "title", "domain", "dump", "file"} <= set(m)
    assert [s["stage"] for s in stats["funnel"]] == [
        "read", "too_short", "duplicate_digest", "line_dedup", "language", "perplexity", "buckets", "wikiref",
    ]  # fmt: skip
    assert set(stats["distributions"]) == {"length", "language_score", "perplexity", "wiki_prob"}
    assert "en" in stats["distributions"]["perplexity"]["groups"]
    assert all(len(v) <= 5 for v in stats["samples"].values()) and "perplexity_tail" in stats["samples"]


def _tree_bytes(root: Path) -> dict[str, bytes]:
    """Every output file's bytes; run.json (the run's provenance: times, command) differs by design."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "run.json"
    }


@pytest.mark.slow
def test_portable_runner_writes_identical_bytes(corpus_out, sample_world, sample_models, tmp_path):
    """The portable Fn API path (what Dataflow, Flink and Spark run) gives byte-identical outputs to
    the multi-process local run: outputs are deterministic whatever the runner and the bundling."""
    out = tmp_path / "portable"
    argv = ["--input", str(sample_world), "--models", str(sample_models), "--out", str(out), "--write-dropped",
            "--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]  # fmt: skip
    stats = run(argv).stats
    assert all(s["conservation_ok"] for s in stats.values())
    first, second = _tree_bytes(corpus_out), _tree_bytes(out)
    assert sorted(first) == sorted(second)
    assert [k for k in first if first[k] != second[k]] == []


@pytest.mark.slow
def test_rerun_in_process_is_identical_and_clears_stale_files(
    corpus_out, sample_world, sample_models, tmp_path
):
    out = tmp_path / "again"
    (out / "docs" / "commoncrawl").mkdir(parents=True)
    (out / "docs" / "commoncrawl" / "en_tail-00000-of-00001.jsonl.gz").write_bytes(
        b"stale"
    )  # from an earlier config
    argv = ["--input", str(sample_world), "--models", str(sample_models), "--out", str(out), "--write-dropped",
            f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
    run(argv)
    assert _tree_bytes(corpus_out) == _tree_bytes(out)
