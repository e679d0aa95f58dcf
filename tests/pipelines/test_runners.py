"""The pipeline beyond the local runner: the Dataflow job is built offline (dry run) with the package
staged from setup.py and models read from gs:// paths."""

from __future__ import annotations

from pathlib import Path

from lamina.pipelines.corpus import run

REPO = Path(__file__).resolve().parents[2]


def test_dataflow_job_builds_offline_with_setup_py(sample_world, shared_data, tmp_path):
    argv = [
        "--input", str(sample_world), "--models", "gs://placeholder-bucket/models",
        "--out", "gs://placeholder-bucket/corpus", "--sources", "commoncrawl,c4",
        "--runner=DataflowRunner", "--project=placeholder-project", "--region=us-central1",
        "--temp_location=gs://placeholder-bucket/tmp", "--dry_run=True", f"--setup_file={REPO / 'setup.py'}",
    ]  # fmt: skip
    corpus = run(argv)
    assert corpus.stats == {}  # nothing ran
    job = corpus.result.job
    staged = {
        d.role_payload.decode("utf-8", "replace")
        for env in job.proto_pipeline.components.environments.values()
        for d in env.dependencies
    }
    assert any("workflow.tar.gz" in s for s in staged), staged  # the sdist built from setup.py
    names = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
    for stage in (
        "too_short",
        "duplicate_digest",
        "line_dedup",
        "language",
        "perplexity",
        "buckets",
        "wikiref",
    ):
        assert f"commoncrawl/ccnet/{stage}" in names
    for stage in ("duplicate_url", "clean", "line_dedup", "bad_words", "language"):
        assert f"c4/c4/{stage}" in names
    assert "commoncrawl/write_stats" in names and "c4/write_stats" in names
