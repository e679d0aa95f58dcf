"""`lamina corpus`: run the web source pipelines (CommonCrawl through CCNet, C4) on Beam.

    lamina corpus --input out/sample --models out/models --out out/corpus
    lamina corpus ... --config configs/corpus/tiny.toml --sources commoncrawl --write-dropped
    lamina corpus ... --runner DataflowRunner --project P --region R --temp_location gs://B/tmp \\
        --setup_file ./setup.py          (any Beam option passes through; models may be gs:// paths)

Default runner: Beam's FnApiRunner in multi-process mode (`direct_num_workers` processes), named
directly so Beam does not first try to download Prism. Everything lands under --out:
docs/<source>/*.jsonl.gz, dropped/<source>/<reason>.jsonl.gz (--write-dropped), stats/<source>.json.
After the run the statistics are read back and conservation (documents in = kept + dropped) is
checked; a run that loses documents fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from lamina.pipelines import options as opts
from lamina.pipelines.accounting import Funnel, check_conservation, group_tally
from lamina.pipelines.ledger import WriteLedger
from lamina.pipelines.readers import ReadC4Json, ReadWet, expand_inputs
from lamina.pipelines.writers import ShardedName, WriteDocs, WriteDropped
from lamina.reports import provenance

DEFAULT_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
WEB_SOURCES = ("commoncrawl", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange")
# Sources whose pipeline module lamina.pipelines.<source> exposes CONFIG (its config class) and
# SOURCE_TRANSFORM(spec, config, funnel), a transform with settings() and output_name(); each has
# a --<source>-input option and a [<source>] config table.
MODULE_SOURCES = ("github", "arxiv", "wikipedia", "books", "stackexchange")
_INPUT_HELP = {
    "github": "GitHub parquet/jsonl files (default <input>/github)",
    "arxiv": "arXiv source files (default <input>/arxiv)",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lamina corpus",
        description="Run the CommonCrawl (CCNet) and C4 pipelines on Beam. Unknown options go to Beam.",
    )
    p.add_argument(
        "--input", required=True, help="sample world / input root (holds cc/ and c4/), local or gs://"
    )
    p.add_argument("--models", default=None, help="models directory of `lamina models` (local or gs://)")
    p.add_argument("--lid-model", default=None, help="LID model file: lid.bin, lid.176.bin or lid.176.ftz")
    p.add_argument(
        "--lm-dir", default=None, help="folder of <lang>.sp.model + <lang>.arpa.bin (ours or cc_net's)"
    )
    p.add_argument("--wikiref-model", default=None, help="reference classifier model file")
    p.add_argument("--out", default="out/corpus", help="output directory (default out/corpus)")
    p.add_argument("--config", default=None, help="TOML config (configs/corpus/default.toml)")
    p.add_argument(
        "--sources",
        default=",".join(WEB_SOURCES),
        help=f"comma-separated subset of {','.join(WEB_SOURCES)} (default: all)",
    )
    p.add_argument(
        "--cc-input", default=None, help="WET glob, folder or wet.paths list (default <input>/cc/wet.paths)"
    )
    p.add_argument("--c4-input", default=None, help="C4 json.gz glob or folder (default <input>/c4)")
    for s in MODULE_SOURCES:
        default_help = f"{s} input folder or glob (default <input>/{s})"
        p.add_argument(f"--{s}-input", default=None, help=_INPUT_HELP.get(s, default_help))
    p.add_argument(
        "--write-dropped", action="store_true", help="also write dropped documents with their reason"
    )
    p.add_argument(
        "--ledger", action="store_true", help="write one Parquet row per input document to <out>/ledger/"
    )
    p.add_argument("--runner", default=None, help=f"Beam runner (default {DEFAULT_RUNNER}, multi-process)")
    return p


def beam_options(runner: str | None, beam_args: list[str], cfg: opts.CorpusConfig) -> PipelineOptions:
    """Beam options: the given runner and arguments, or the local multi-process FnApiRunner."""
    args = list(beam_args)
    if runner is None or runner in ("DirectRunner", DEFAULT_RUNNER, "FnApiRunner"):
        runner = DEFAULT_RUNNER
        if not any(a.startswith("--direct_num_workers") for a in args):
            args.append(f"--direct_num_workers={cfg.run.direct_num_workers}")
        if not any(a.startswith("--direct_running_mode") for a in args):
            args.append("--direct_running_mode=multi_processing")
    return PipelineOptions([f"--runner={runner}", *args])


def _cc_default(inp: str) -> str:
    paths = f"{inp}/cc/wet.paths"
    return paths if FileSystems.exists(paths) else f"{inp}/cc"


def write_outputs(
    kept,
    funnel: Funnel,
    source: str,
    out: str,
    name_of,
    settings: dict,
    write_dropped: bool,
    ledger: bool = False,
):
    """The tail of every branch: the kept documents to `<out>/docs/<source>/<name_of(doc)>.jsonl.gz`,
    the dropped ones to `<out>/dropped/<source>/` (if `write_dropped`), the statistics to
    `<out>/stats/<source>.json`. Returns the statistics' PCollection."""
    written = kept | "write" >> WriteDocs(f"{out}/docs/{source}", name_of)
    if write_dropped:
        _ = funnel.all_drops() | "write_dropped" >> WriteDropped(f"{out}/dropped/{source}")
    if ledger:  # one row per input document: lamina/ledger, docs/reports.md
        _ = (kept, funnel.all_drops("drops_for_ledger")) | "ledger" >> WriteLedger(out, source, settings)
    written = (written, group_tally(kept)) | "written_and_groups" >> beam.Flatten()
    return funnel.finish(written, f"{out}/stats/{source}.json", settings)


def build_source(
    pbegin, source: str, spec: str, out: str, config=None, write_dropped: bool = False, ledger: bool = False
):
    """Apply the branch of one of MODULE_SOURCES to `pbegin` (a pipeline, or a composite's input):
    the module's SOURCE_TRANSFORM on input `spec` (read + filter, every stage in a Funnel), then
    `write_outputs` under `out`. `config`: the module's config (None: its defaults). Returns the
    statistics' PCollection. `SourceBranch` builds these sources with it, and so do the tests."""
    if source not in MODULE_SOURCES:
        raise ValueError(f"{source!r} is not one of {', '.join(MODULE_SOURCES)}")
    module = importlib.import_module(f"lamina.pipelines.{source}")
    funnel = Funnel(source, source)
    transform = module.SOURCE_TRANSFORM(spec, module.CONFIG() if config is None else config, funnel)
    kept = pbegin | source >> transform
    settings = transform.settings()  # after the transform is applied: some list the files read
    return write_outputs(
        kept, funnel, source, out.rstrip("/"), transform.output_name(), settings, write_dropped, ledger
    )


class SourceBranch(beam.PTransform):
    """One source's read -> filter -> write -> statistics branch (labels scoped by the source)."""

    def __init__(self, source: str, args: argparse.Namespace, cfg: opts.CorpusConfig, cutoffs=None):
        super().__init__()
        self.source, self.args, self.cfg = source, args, cfg
        self.cutoffs = cutoffs  # CCNet's, resolved by model_paths.prepare

    def expand(self, pbegin):
        from lamina.pipelines.c4 import C4
        from lamina.pipelines.ccnet import CCNet, output_name
        from lamina.pipelines.model_paths import resolve

        source, args, cfg = self.source, self.args, self.cfg
        inp, out = args.input.rstrip("/"), args.out.rstrip("/")
        models = resolve(args, cfg)
        write_dropped = args.write_dropped or cfg.run.write_dropped
        if source in MODULE_SOURCES:
            spec = getattr(args, f"{source}_input") or f"{inp}/{source}"
            return build_source(pbegin, source, spec, out, getattr(cfg, source), write_dropped, args.ledger)
        if source == "commoncrawl":
            funnel = Funnel("commoncrawl", "ccnet")
            read = pbegin | "read" >> ReadWet(
                expand_inputs(args.cc_input or _cc_default(inp)), source, cfg.ccnet.max_bytes
            )
            funnel.add_stage("read", read.dropped, read.tally)
            kept = read.docs | "ccnet" >> CCNet(models, cfg.ccnet, funnel, self.cutoffs)
            name_of, settings = output_name, opts.as_dict(cfg.ccnet)
        elif source == "c4":
            funnel = Funnel("c4", "c4")
            reads = []
            if "wet" in cfg.c4.inputs:
                files = expand_inputs(args.cc_input or _cc_default(inp))
                reads.append(pbegin | "read_wet" >> ReadWet(files, source, cfg.ccnet.max_bytes))
            if "json" in cfg.c4.inputs:
                files = expand_inputs(args.c4_input or f"{inp}/c4", pattern="*.json.gz")
                reads.append(pbegin | "read_json" >> ReadC4Json(files, source))
            if not reads:
                raise ValueError(f"c4.inputs must name wet and/or json, not {cfg.c4.inputs}")
            read = _Reads(
                *(
                    tuple(getattr(r, k) for r in reads) | f"flatten_{k}" >> beam.Flatten()
                    for k in ("docs", "dropped", "tally")
                )
            )
            funnel.add_stage("read", read.dropped, read.tally)
            badwords = cfg.c4.badwords or f"{inp}/c4/badwords"
            kept = read.docs | "c4" >> C4(models.lid or "", badwords, cfg.c4, funnel)
            # one file per run: <language>.jsonl.gz
            name_of, settings = ShardedName(cfg.c4.language), {**opts.as_dict(cfg.c4), "badwords": badwords}
            if "://" not in badwords:
                from lamina.filters.c4 import bad_words_provenance

                lang = "en" if cfg.c4.language == "all" else cfg.c4.language
                settings["badwords_list"] = bad_words_provenance(badwords, lang)
            if cfg.c4.language != "all":
                settings["language_model"] = (
                    "langdetect 1.0.9 (seed 0)" if cfg.c4.language_id == "langdetect" else models.lid
                )
        else:
            raise ValueError(f"unknown source {source!r} (one of {', '.join(WEB_SOURCES)})")
        return write_outputs(kept, funnel, source, out, name_of, settings, write_dropped, args.ledger)


@dataclasses.dataclass
class _Reads:
    docs: Any
    dropped: Any
    tally: Any


def _clear_local(out: str, source: str) -> None:
    """Remove a previous run's outputs of `source` (local outputs only), so no stale file survives."""
    if "://" in out:
        return
    for sub in ("docs", "dropped"):
        shutil.rmtree(Path(out) / sub / source, ignore_errors=True)
    shutil.rmtree(Path(out) / "ledger" / f"source={source}", ignore_errors=True)
    (Path(out) / "stats" / f"{source}.json").unlink(missing_ok=True)


def read_stats(out: str, source: str) -> dict:
    with FileSystems.open(f"{out.rstrip('/')}/stats/{source}.json") as f:
        return json.loads(f.read().decode("utf-8"))


@dataclasses.dataclass
class CorpusRun:
    stats: dict[str, dict]  # source -> its statistics JSON (empty for a dry run)
    result: Any  # Beam's PipelineResult (for a Dataflow dry run, `.job` is the built job)


def run(argv: list[str], test_pipeline: beam.Pipeline | None = None) -> CorpusRun:
    """Build and run the pipeline, check conservation. `test_pipeline`: run on that instead."""
    args, beam_args = _parser().parse_known_args(argv)
    cfg = opts.load_config(args.config)
    started = provenance.RunClock()
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    for s in sources:
        if s not in WEB_SOURCES:
            raise SystemExit(f"lamina corpus: unknown source {s!r} (one of {', '.join(WEB_SOURCES)})")
    from lamina.pipelines.model_paths import prepare, resolve

    dry = any(a.replace(" ", "").lower() in ("--dry_run=true", "--dry_run") for a in beam_args)
    cutoffs = prepare(resolve(args, cfg), cfg, sources, check=not dry)  # every model, before any worker
    for s in sources:
        _clear_local(args.out, s)
    p = test_pipeline or beam.Pipeline(options=beam_options(args.runner, beam_args, cfg))
    for s in sources:
        _ = p | s >> SourceBranch(s, args, cfg, cutoffs)
    result = p.run()
    result.wait_until_finish()
    if _dry_run(p):
        return CorpusRun({}, result)
    stats = {s: read_stats(args.out, s) for s in sources}
    provenance.record_corpus_run(args, cfg, sources, argv, p.options, started)
    for s, st in stats.items():
        check_conservation(st, f"{args.out}/stats/{s}.json")
    _cross_check_metrics(result, stats)
    return CorpusRun(stats, result)


def _cross_check_metrics(result, stats: dict[str, dict]) -> None:
    """Where the runner reports committed Beam metrics, they must agree with the statistics JSON
    (two independent counts of the same funnel)."""
    try:
        counters = result.metrics().query()["counters"]
    except Exception:  # noqa: BLE001 - runners without metrics support: nothing to compare
        return
    for source, st in stats.items():
        for stage in st["funnel"][1:]:
            ns = f"{source}.{stage['stage']}"
            got = {c.key.metric.name: c.committed for c in counters if c.key.metric.namespace == ns}
            if got and got.get("in") is not None and got["in"] != stage["in"]:
                raise RuntimeError(
                    f"{source}: Beam metrics say {ns} saw {got['in']} documents, the statistics {stage['in']}"
                )


def _dry_run(p: beam.Pipeline) -> bool:
    """`--dry_run=True`: the runner (Dataflow) builds the job without running it; nothing is written."""
    from apache_beam.options.pipeline_options import TestOptions

    return bool(p.options.view_as(TestOptions).dry_run)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, _ = _parser().parse_known_args(argv)
    from lamina.models.check import ModelError

    try:
        stats = run(argv).stats
    except ModelError as e:
        print(f"lamina corpus: {e}", file=sys.stderr)
        return 2
    out = args.out.rstrip("/")
    for s, st in stats.items():
        drops = ", ".join(f"{r} {n}" for r, n in st["dropped"].items())
        print(f"{s}: {st['documents_in']} in, {st['documents_kept']} kept; dropped: {drops or 'none'}")
        print(f"  documents: {out}/docs/{s}/   statistics: {out}/stats/{s}.json")
    return 0
