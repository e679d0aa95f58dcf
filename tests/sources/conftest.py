"""Helpers of the Wikipedia, Books and StackExchange pipeline tests: run one source's composite
transform on an in-process Beam pipeline and read back what it wrote."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from lamina.documents import Document
from lamina.pipelines.accounting import Funnel, check_conservation
from lamina.pipelines.writers import WriteDocs, WriteDropped

FN_API_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"


class Branch(beam.PTransform):
    """One source's whole branch, as `lamina corpus`'s SourceBranch builds it: the source's
    transform (read + filter, stages in a Funnel), then write, dropped, statistics."""

    def __init__(self, source: str, module, spec: str, out: Path, config=None, write_dropped: bool = False):
        super().__init__()
        self.source, self.module, self.spec, self.out = source, module, spec, str(out)
        self.config, self.write_dropped = config, write_dropped

    def expand(self, pbegin):
        m, source, out = self.module, self.source, self.out
        config = self.config or m.CONFIG()
        funnel = Funnel(source, source)
        src = m.SOURCE_TRANSFORM(self.spec, config, funnel)
        kept = pbegin | source >> src
        written = kept | "write" >> WriteDocs(f"{out}/docs/{source}", m.output_name())
        if self.write_dropped:
            _ = funnel.all_drops() | "write_dropped" >> WriteDropped(f"{out}/dropped/{source}")
        return funnel.finish(written, f"{out}/stats/{source}.json", src.settings())


def run_source(source: str, spec, out: Path, config=None, write_dropped: bool = False) -> dict:
    """Run one source's branch in process on input `spec`; return its statistics, checked."""
    import importlib

    module = importlib.import_module(f"lamina.pipelines.{source}")
    with TestPipeline(runner=FN_API_RUNNER, options=PipelineOptions([])) as p:
        _ = p | source >> Branch(source, module, str(spec), out, config, write_dropped)
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
