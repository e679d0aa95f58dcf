"""The CCNet statistics record the perplexity cutoffs a run applied per language, and where they came
from: the LM card (the default), or this run's own percentiles."""

from __future__ import annotations

import json

from lamina.pipelines.corpus import run
from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS


def _run(sample_world, sample_models, tmp_path, toml: str) -> dict:
    tmp_path.mkdir(parents=True)
    config = tmp_path / "c.toml"
    config.write_text(toml)
    argv = ["--input", str(sample_world), "--models", str(sample_models), "--out", str(tmp_path / "out"),
            "--config", str(config), "--sources", "commoncrawl", f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
    return run(argv).stats["commoncrawl"]


def test_cutoffs_applied_and_their_origin_are_in_the_statistics(sample_world, sample_models, tmp_path):
    card = json.loads((sample_models / "lm" / "en.card.json").read_text())["cutoffs"]
    st = _run(sample_world, sample_models, tmp_path / "model", "[ccnet]\nwikiref = false\n")
    applied = st["settings"]["cutoffs_applied"]["en"]
    assert applied["origin"] == f"model card {sample_models / 'lm'}/en.card.json"
    assert (applied["p30"], applied["p60"]) == (card["document"]["p30"], card["document"]["p60"])
    line = _run(
        sample_world, sample_models, tmp_path / "line", '[ccnet]\nwikiref = false\nscoring = "line"\n'
    )
    assert line["settings"]["cutoffs_applied"]["en"]["p60"] == card["line"]["p60"]
    st = _run(sample_world, sample_models, tmp_path / "run", '[ccnet]\nwikiref = false\ncutoffs = "run"\n')
    applied = st["settings"]["cutoffs_applied"]["en"]
    assert applied["origin"].startswith("run: p30/p60") and applied["p30"] < applied["p60"]


def _buckets(out) -> dict[str, str]:
    import gzip

    got = {}
    for f in sorted((out / "docs" / "commoncrawl").glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                got[row["metadata"]["record_id"]] = row["metadata"]["bucket"]  # ids include the file label
    return got


def test_with_fixed_cutoffs_a_documents_bucket_does_not_depend_on_the_rest_of_the_run(
    sample_world, sample_models, tmp_path
):
    """One dump run alone and the same dump run with another: every document of the first dump gets
    the same bucket (per-dump line dedup, so its text is the same in both runs; every bucket kept)."""
    toml = '[ccnet]\nwikiref = false\ndedup_scope = "dump"\nkeep_buckets = ["head", "middle", "tail"]\n'
    dump = sorted((sample_world / "cc").glob("CC-MAIN-*"))[0]
    alone, both = tmp_path / "alone", tmp_path / "both"
    for where, cc in ((alone, dump), (both, sample_world / "cc")):
        where.mkdir()
        (where / "c.toml").write_text(toml)
        argv = ["--input", str(sample_world), "--models", str(sample_models), "--out", str(where / "out"),
                "--config", str(where / "c.toml"), "--sources", "commoncrawl", "--cc-input", str(cc),
                f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
        run(argv)
    a, b = _buckets(alone / "out"), _buckets(both / "out")
    assert len(a) >= 30 and len(b) > len(a) and set(a) <= set(b)
    assert {i: b[i] for i in a} == a
    assert {"head", "middle", "tail"} <= set(a.values())
