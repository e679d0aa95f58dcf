"""Helpers of the source pipeline tests: run one source's branch (as `lamina corpus` builds it,
`corpus.build_source`) on an in-process Beam pipeline and read back what it wrote."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from lamina.documents import Document
from lamina.pipelines.accounting import check_conservation
from lamina.pipelines.corpus import build_source

FN_API_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"


def run_source(source: str, spec, out: Path, config=None, write_dropped: bool = False) -> dict:
    """Run one source's branch in process on input `spec`; return its statistics, checked."""
    with TestPipeline(runner=FN_API_RUNNER, options=PipelineOptions([])) as p:
        build_source(p, source, str(spec), str(out), config, write_dropped)
    stats = json.loads((out / "stats" / f"{source}.json").read_text(encoding="utf-8"))
    check_conservation(stats, str(out / "stats" / f"{source}.json"))
    return stats


def read_docs(folder: Path) -> list[Document]:
    """Every document of every .jsonl.gz file under `folder` (file order, then line order)."""
    docs = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            docs.extend(Document.from_json(line) for line in f)
    return docs


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under `root` (for byte-identical run comparisons)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def truth_rows(sample_world: Path, pipeline: str) -> dict[str, dict]:
    from lamina.sample.truth import read_truth

    return {r["key"]: r for r in read_truth(sample_world / "ground_truth.jsonl") if r["pipeline"] == pipeline}
