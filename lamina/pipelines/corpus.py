"""`lamina corpus`: run the web source pipelines (CommonCrawl through CCNet, C4) on Beam.

    lamina corpus --input out/sample --models out/models --out out/corpus
    lamina corpus ... --config configs/corpus/tiny.toml --sources commoncrawl --write-dropped
    lamina corpus ... --runner DataflowRunner --project P --region R --temp_location gs://B/tmp \\
        --setup_file ./setup.py          (any Beam option passes through; models may be gs:// paths)

Default runner: Beam's FnApiRunner in multi-process mode (`direct_num_workers` processes), named
directly so Beam does not first try to download Prism. Everything lands under --out:
docs/<source>/<name>-<k>-of-<n>.jsonl.gz, dropped/<source>/<reason>-<k>-of-<n>.jsonl.gz (--write-dropped),
annotated/<source>/ (--annotate, CommonCrawl, C4, GitHub: the threshold-dropped documents with every
score, for `lamina refilter`, docs/refilter.md), stats/<source>.json; shard sizes are bounded by [run] shard_documents / shard_bytes (docs/scale.md).

Before anything runs, the options, the config (types included), the runner and every input are
checked; a user mistake is one line (`lamina corpus: ...`, exit 2), never a traceback. The run writes
into `<out>/.staging/`; only when it succeeded (conservation of documents and files holds, no more
failed input files than `--allow-failed-inputs`) are a source's previous outputs replaced, so a
failed rerun leaves them untouched (docs/inputs.md).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import importlib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from lamina.pipelines import options as opts
from lamina.pipelines import progress, readers
from lamina.pipelines.accounting import Funnel, check_conservation, group_tally
from lamina.pipelines.ledger import WriteLedger
from lamina.pipelines.readers import Fetch, InputError, ReadC4Json, ReadWet, expand_inputs
from lamina.pipelines.writers import FixedName, ShardLimit, WriteDocs, WriteDropped
from lamina.reports import provenance

DEFAULT_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
WEB_SOURCES = ("commoncrawl", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange")
# Sources whose pipeline module lamina.pipelines.<source> exposes CONFIG (its config class) and
# SOURCE_TRANSFORM(spec, config, funnel), a transform with settings() and output_name(); each has
# a --<source>-input option and a [<source>] config table.
MODULE_SOURCES = ("github", "arxiv", "wikipedia", "books", "stackexchange")
STAGING = ".staging"  # <out>/.staging/: where a run writes until it has succeeded
ANNOTATED = "annotated"  # <out>/annotated/<source>/: threshold-dropped documents (--annotate)


class UsageError(ValueError):
    """A mistake on the command line (an unknown option, an unknown runner, no --models): one line."""


class RunFailed(RuntimeError):
    """The run finished but must not replace the previous outputs (failed input files): one line."""


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
        "--input",
        default=None,
        help="sample world / input root (holds cc/, c4/, ...), local or gs://; not needed when every "
        "chosen source has its --<source>-input",
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
        "--annotate",
        action="store_true",
        help="score every document with every model and keep the threshold-dropped ones under "
        "<out>/annotated/, for `lamina refilter` (= ccnet.annotate, c4.annotate and github.annotate true; "
        "docs/refilter.md)",
    )
    p.add_argument(
        "--ledger", action="store_true", help="write one Parquet row per input document to <out>/ledger/"
    )
    p.add_argument("--runner", default=None, help=f"Beam runner (default {DEFAULT_RUNNER}, multi-process)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TABLE.KEY=VALUE",
        help="override one config setting (value read as TOML), e.g. --set ccnet.min_length=200",
    )
    p.add_argument(
        "--allow-failed-inputs",
        type=int,
        default=None,
        metavar="N",
        help="input files that may fail to open/fetch (reported in the statistics); default 0: fail",
    )
    return p


def _our_flags() -> list[str]:
    return [o for a in _parser()._actions for o in a.option_strings if o.startswith("--")]


def check_beam_args(beam_args: list[str]) -> None:
    """Every option `lamina corpus` does not know goes to Beam. One that Beam does not know either and
    that looks like ours (dashes, or close to one of our flags) is a mistake: Beam would only warn and
    drop it (`--write-droped`), so it is an error naming the flag meant."""
    from apache_beam.options.pipeline_options import PipelineOptions

    beam_known = set(PipelineOptions([]).get_all_options())
    ours = _our_flags()
    for arg in beam_args:
        if not arg.startswith("--"):
            continue
        name = arg[2:].split("=", 1)[0]
        if name in beam_known or name.replace("-", "_") in beam_known:
            continue
        close = difflib.get_close_matches(f"--{name}", ours, n=1, cutoff=0.75)
        if close or "-" in name:
            hint = f" (did you mean {close[0]}?)" if close else f"; lamina corpus options: {', '.join(ours)}"
            raise UsageError(f"unknown option --{name}{hint}")


def check_runner(runner: str | None) -> None:
    """A runner Beam knows by name, or a dotted class path that imports; else list the valid ones."""
    if runner is None:
        return
    from apache_beam.runners.runner import _RUNNER_MAP

    if runner.lower() in _RUNNER_MAP or runner.lower().removesuffix("runner") + "runner" in _RUNNER_MAP:
        return
    if "." in runner:
        module, _, cls = runner.rpartition(".")
        try:
            if hasattr(importlib.import_module(module), cls):
                return
        except ImportError:
            pass
    skip = ("Test", "BundleBased", "Switching", "PythonRPC")
    valid = ", ".join(sorted({p.rsplit(".", 1)[1] for p in _RUNNER_MAP.values()}))
    valid = ", ".join(n for n in valid.split(", ") if not n.startswith(skip))
    raise UsageError(f"unknown runner {runner!r}; valid: {valid} (or a full class path)")


def beam_options(runner: str | None, beam_args: list[str], cfg: opts.CorpusConfig) -> PipelineOptions:
    """Beam options: the given runner and arguments, or the local multi-process FnApiRunner."""
    args = list(beam_args)
    if _is_local(runner):
        runner = DEFAULT_RUNNER
        if not any(a.startswith("--direct_num_workers") for a in args):
            args.append(f"--direct_num_workers={cfg.run.direct_num_workers}")
        if not any(a.startswith("--direct_running_mode") for a in args):
            args.append("--direct_running_mode=multi_processing")
    return PipelineOptions([f"--runner={runner}", *args])


def _is_local(runner: str | None) -> bool:
    return runner is None or runner in ("DirectRunner", DEFAULT_RUNNER, "FnApiRunner")


def _under(inp: str, sub: str, flag: str) -> str:
    """`<inp>/<sub>`, the default of `flag`; without --input, a one-line error naming both."""
    if not inp:
        raise InputError(f"no {flag} and no --input: pass {flag} PATH, or --input ROOT that holds {sub}")
    return f"{inp}/{sub}"


def _cc_default(inp: str) -> str:
    _under(inp, "cc/", "--cc-input")
    paths = f"{inp}/cc/wet.paths"
    return paths if FileSystems.exists(paths) else f"{inp}/cc"


def _inputs(spec: str, flag: str, pattern: str = "*.warc.wet.gz") -> list[tuple[str, str]]:
    """expand_inputs, with the flag that sets the input named in its error."""
    try:
        return expand_inputs(spec, pattern=pattern)
    except InputError as e:
        raise InputError(f"{e} (set the input with {flag})") from None


def shard_limit(cfg: opts.CorpusConfig) -> ShardLimit:
    """The output shard size of the `[run]` table."""
    return ShardLimit(cfg.run.shard_documents, cfg.run.shard_bytes)


def write_outputs(
    kept,
    funnel: Funnel,
    source: str,
    out: str,
    name_of,
    settings: dict,
    write_dropped: bool,
    limit: ShardLimit | None = None,
    ledger: bool = False,
):
    """The tail of every branch: the kept documents to `<out>/docs/<source>/<name_of(doc)>-<k>-of-<n>
    .jsonl.gz`, the dropped ones to `<out>/dropped/<source>/` (if `write_dropped`), shards bounded by
    `limit` (None: ShardLimit's defaults), the statistics to `<out>/stats/<source>.json`. Returns the
    statistics' PCollection."""
    written = kept | "write" >> WriteDocs(f"{out}/docs/{source}", name_of, limit=limit)
    if write_dropped:
        _ = funnel.all_drops() | "write_dropped" >> WriteDropped(f"{out}/dropped/{source}", limit)
    if ledger:  # one row per input document: lamina/ledger, docs/reports.md
        _ = (kept, funnel.all_drops("drops_for_ledger")) | "ledger" >> WriteLedger(
            out, source, settings, funnel.originals
        )
    funnel.kept_docs = kept  # kept samples beside the dropped ones (the report shows both)
    written = (written, group_tally(kept)) | "written_and_groups" >> beam.Flatten()
    return funnel.finish(written, f"{out}/stats/{source}.json", settings)


def build_source(
    pbegin,
    source: str,
    spec: str,
    out: str,
    config=None,
    write_dropped: bool = False,
    limit: ShardLimit | None = None,
    ledger: bool = False,
):
    """Apply the branch of one of MODULE_SOURCES to `pbegin` (a pipeline, or a composite's input):
    the module's SOURCE_TRANSFORM on input `spec` (read + filter, every stage in a Funnel), then
    `write_outputs` under `out` (shards bounded by `limit`). `config`: the module's config (None: its
    defaults). Returns the
    statistics' PCollection. `SourceBranch` builds these sources with it, and so do the tests."""
    if source not in MODULE_SOURCES:
        raise ValueError(f"{source!r} is not one of {', '.join(MODULE_SOURCES)}")
    module = importlib.import_module(f"lamina.pipelines.{source}")
    funnel = Funnel(source, source, ledger)
    transform = module.SOURCE_TRANSFORM(spec, module.CONFIG() if config is None else config, funnel)
    kept = pbegin | source >> transform
    settings = transform.settings()  # after the transform is applied: some list the files read
    if getattr(transform.config, "annotate", False) and getattr(transform, "scored_drops", None):
        _ = (  # the threshold-dropped documents with their annotations: lamina refilter
            tuple(transform.scored_drops)
            | "annotated_drops" >> beam.Flatten()
            | "write_annotated" >> WriteDropped(f"{out.rstrip('/')}/{ANNOTATED}/{source}", limit)
        )
    return write_outputs(
        kept, funnel, source, out.rstrip("/"), transform.output_name(), settings, write_dropped, limit, ledger
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
        inp, out = (args.input or "").rstrip("/"), args.out.rstrip("/")
        models = resolve(args, cfg)
        write_dropped = args.write_dropped or cfg.run.write_dropped
        fetch = Fetch(cfg.run.fetch_retries, cfg.run.fetch_backoff_s)
        if source in MODULE_SOURCES:
            spec = getattr(args, f"{source}_input") or _under(inp, f"{source}/", f"--{source}-input")
            try:
                return build_source(
                    pbegin,
                    source,
                    spec,
                    out,
                    getattr(cfg, source),
                    write_dropped,
                    shard_limit(cfg),
                    args.ledger,
                )
            except InputError as e:
                raise InputError(f"{e} (set the input with --{source}-input)") from None
        if source == "commoncrawl":
            funnel = Funnel("commoncrawl", "ccnet", args.ledger)
            read = pbegin | "read" >> ReadWet(
                _inputs(args.cc_input or _cc_default(inp), "--cc-input"), source, cfg.ccnet.max_bytes, fetch
            )
            funnel.add_stage("read", read.dropped, read.tally)
            ccnet = CCNet(models, cfg.ccnet, funnel, self.cutoffs)
            kept = read.docs | "ccnet" >> ccnet
            name_of, settings = output_name, opts.as_dict(cfg.ccnet)
            if cfg.ccnet.annotate:  # the threshold-dropped documents with their scores: lamina refilter
                _ = (
                    tuple(ccnet.scored_drops)
                    | "annotated_drops" >> beam.Flatten()
                    | "write_annotated" >> WriteDropped(f"{out}/{ANNOTATED}/{source}", shard_limit(cfg))
                )
        elif source == "c4":
            funnel = Funnel("c4", "c4", args.ledger)
            reads = []
            if "wet" in cfg.c4.inputs:
                flag = "--cc-input"
                if args.c4_input and not args.cc_input:  # C4 JSON given, the WET half of the default missing
                    flag += (
                        """; C4 also reads WET by default: --set 'c4.inputs=["json"]' reads --c4-input only"""
                    )
                if not (args.cc_input or inp):
                    raise InputError(f"no --cc-input and no --input (set the input with {flag})")
                files = _inputs(args.cc_input or _cc_default(inp), flag)
                reads.append(pbegin | "read_wet" >> ReadWet(files, source, cfg.ccnet.max_bytes, fetch))
            if "json" in cfg.c4.inputs:
                files = _inputs(
                    args.c4_input or _under(inp, "c4/", "--c4-input"), "--c4-input", pattern="*.json.gz"
                )
                reads.append(pbegin | "read_json" >> ReadC4Json(files, source, fetch))
            if not reads:
                raise ValueError(f"c4.inputs must name wet and/or json, not {cfg.c4.inputs}")
            read = _Reads(
                *(
                    tuple(getattr(r, k) for r in reads) | f"flatten_{k}" >> beam.Flatten()
                    for k in ("docs", "dropped", "tally")
                )
            )
            funnel.add_stage("read", read.dropped, read.tally)
            if not (cfg.c4.badwords or inp):
                raise InputError(
                    "c4 bad-words list: no --input (holding c4/badwords): set it with --set c4.badwords=PATH"
                )
            badwords = cfg.c4.badwords or f"{inp}/c4/badwords"
            c4 = C4(models.lid or "", badwords, cfg.c4, funnel)
            kept = read.docs | "c4" >> c4
            if cfg.c4.annotate and c4.scored_drops:  # the pages the language test dropped: lamina refilter
                _ = (
                    tuple(c4.scored_drops)
                    | "annotated_drops" >> beam.Flatten()
                    | "write_annotated" >> WriteDropped(f"{out}/{ANNOTATED}/{source}", shard_limit(cfg))
                )
            # one output per run: <language>-<k>-of-<n>.jsonl.gz
            name_of, settings = FixedName(cfg.c4.language), {**opts.as_dict(cfg.c4), "badwords": badwords}
            if "://" not in badwords:
                from lamina.filters.c4 import bad_words_provenance

                lang = "en" if cfg.c4.language == "all" else cfg.c4.language
                try:
                    settings["badwords_list"] = bad_words_provenance(badwords, lang)
                except OSError as e:  # a missing list: one line before the run, not a worker traceback
                    raise InputError(f"c4 bad-words list: {e} (set it with --set c4.badwords=PATH)") from None
            if cfg.c4.language != "all":
                settings["language_model"] = (
                    "langdetect 1.0.9 (seed 0)" if cfg.c4.language_id == "langdetect" else models.lid
                )
        else:
            raise ValueError(f"unknown source {source!r} (one of {', '.join(WEB_SOURCES)})")
        return write_outputs(
            kept, funnel, source, out, name_of, settings, write_dropped, shard_limit(cfg), args.ledger
        )


@dataclasses.dataclass
class _Reads:
    docs: Any
    dropped: Any
    tally: Any


def _source_outputs(out: str, source: str) -> list[str]:
    """The paths one source's run owns under `out` (folders and the statistics file)."""
    return [f"{out}/docs/{source}", f"{out}/dropped/{source}", f"{out}/stats/{source}.json",
            f"{out}/ledger/source={source}", f"{out}/{ANNOTATED}/{source}"]  # fmt: skip


def _remove(path: str) -> None:
    if "://" not in path:
        p = Path(path)
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        return
    found = [m.path for r in FileSystems.match([path, f"{path}/**"]) for m in r.metadata_list]
    if found:
        FileSystems.delete(found)


def _promote(staging: str, out: str, source: str) -> None:
    """Replace `source`'s previous outputs under `out` by this run's, from `staging`. Local: a
    rename per folder. Remote (gs://...): a rename per file (Beam's filesystems have no folders)."""
    for new, old in zip(_source_outputs(staging, source), _source_outputs(out, source), strict=True):
        _remove(old)
        if "://" not in new:
            if Path(new).exists():
                Path(old).parent.mkdir(parents=True, exist_ok=True)
                Path(new).replace(old)
            continue
        found = sorted(m.path for r in FileSystems.match([new, f"{new}/**"]) for m in r.metadata_list)
        if found:
            FileSystems.rename(found, [old + f[len(new) :] for f in found])


def _prune_empty(folder: str) -> None:
    """Remove the empty folders a promoted staging area leaves (local only; a concurrent run's
    files, for other sources, stay)."""
    if "://" in folder or not Path(folder).is_dir():
        return
    for d in sorted((p for p in Path(folder).rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            d.rmdir()
    with contextlib.suppress(OSError):
        Path(folder).rmdir()


def _clear_staging(staging: str, sources: list[str]) -> None:
    for s in sources:
        for path in _source_outputs(staging, s):
            _remove(path)


def read_stats(out: str, source: str) -> dict:
    with FileSystems.open(f"{out.rstrip('/')}/stats/{source}.json") as f:
        return json.loads(f.read().decode("utf-8"))


@dataclasses.dataclass
class CorpusRun:
    stats: dict[str, dict]  # source -> its statistics JSON (empty for a dry run)
    result: Any  # Beam's PipelineResult (for a Dataflow dry run, `.job` is the built job)


def run(argv: list[str], test_pipeline: beam.Pipeline | None = None) -> CorpusRun:
    """Validate, build and run the pipeline, check conservation and the input files, then replace
    the previous outputs. `test_pipeline`: run on that instead. User mistakes raise ConfigError,
    InputError or UsageError (one line each; `main` prints them), before anything is written."""
    args, beam_args = _parser().parse_known_args(argv)
    check_beam_args(beam_args)
    check_runner(args.runner)
    cfg = opts.load_config(args.config, args.set)
    if args.annotate:
        cfg = dataclasses.replace(
            cfg,
            ccnet=dataclasses.replace(cfg.ccnet, annotate=True),
            c4=dataclasses.replace(cfg.c4, annotate=True),
            github=dataclasses.replace(cfg.github, annotate=True),
        )
    started = provenance.RunClock()
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    for s in sources:
        if s not in WEB_SOURCES:
            raise UsageError(f"unknown source {s!r} in --sources (one of {', '.join(WEB_SOURCES)})")
    from lamina.pipelines.model_paths import prepare, resolve

    dry = any(a.replace(" ", "").lower() in ("--dry_run=true", "--dry_run") for a in beam_args)
    cutoffs = prepare(resolve(args, cfg), cfg, sources, check=not dry)  # every model, before any worker
    allowed = cfg.run.allow_failed_inputs if args.allow_failed_inputs is None else args.allow_failed_inputs
    if allowed < 0:
        raise UsageError(f"--allow-failed-inputs must be >= 0, not {allowed}")
    out = args.out.rstrip("/")
    if "://" not in out and Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder; pass a folder (it is created if missing)")
    staging = f"{out}/{STAGING}"
    staged = argparse.Namespace(**{**vars(args), "out": staging})
    p = test_pipeline or _pipeline(beam_options(args.runner, beam_args, cfg))
    readers.FILES_LISTED.clear()
    for s in sources:  # building the branches expands (and so checks) every input
        _ = p | s >> SourceBranch(s, staged, cfg, cutoffs)
    totals = {s: n for s, n in readers.FILES_LISTED.items() if s in sources}
    if _dry_run(p):
        return CorpusRun({}, p.run())
    _clear_staging(staging, sources)  # a previous failed run's leftovers; the outputs stay
    if test_pipeline is not None or _is_local(args.runner):
        with progress.quiet_stderr(), progress.local_progress(totals, cfg.run.progress_s):
            result = p.run()
            result.wait_until_finish()
    else:
        result = p.run()
        progress.remote_progress(result, cfg.run.progress_s, sources)
        result.wait_until_finish()
    stats = {s: read_stats(staging, s) for s in sources}
    for s, st in stats.items():
        check_conservation(st, f"{staging}/stats/{s}.json")
    _cross_check_metrics(result, stats)
    failed = [(s, f) for s, st in stats.items() for f in st.get("files", {}).get("failed_files", [])]
    if len(failed) > allowed:
        s, first = failed[0]
        more = f" and {len(failed) - 1} more (see {staging}/stats/)" if len(failed) > 1 else ""
        raise RunFailed(
            f"{len(failed)} input file(s) could not be read: {first['file']}: {first.get('error', '')}{more}; "
            f"previous outputs left untouched (pass --allow-failed-inputs {len(failed)} to accept them)"
        )
    for s in sources:
        _promote(staging, out, s)
    _prune_empty(staging)
    provenance.record_corpus_run(args, cfg, sources, argv, p.options, started)
    return CorpusRun(stats, result)


def _pipeline(options: PipelineOptions) -> beam.Pipeline:
    """The Beam pipeline; the runner's own option checks (Dataflow: project, region, temp_location,
    ...) failing are one line naming every missing option, not Beam's traceback."""
    try:
        return beam.Pipeline(options=options)
    except ValueError as e:
        msg = str(e)
        if not msg.startswith("Pipeline has validations errors"):
            raise
        problems = "; ".join(line.strip().rstrip(".") for line in msg.splitlines()[1:] if line.strip())
        runner = options.view_as(StandardOptions).runner
        raise UsageError(f"--runner {runner}: {problems} (docs/real-data.md, 'A Dataflow run')") from None


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
    except (ModelError, opts.ConfigError, InputError, UsageError, RunFailed) as e:
        print(f"lamina corpus: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        # books' cluster rounds ran out (`[books] cluster_rounds` too small): one line, not a
        # worker traceback (the runner re-raises it, or wraps its text in a RuntimeError)
        found = re.search(r"NotConverged: (.*?)(?: \[while running|$)", str(e), flags=re.M)
        if found is None:
            raise
        print(f"lamina corpus: {found.group(1)}", file=sys.stderr)
        return 2
    out = args.out.rstrip("/")
    for s, st in stats.items():
        drops = ", ".join(f"{r} {n}" for r, n in st["dropped"].items())
        print(f"{s}: {st['documents_in']} in, {st['documents_kept']} kept; dropped: {drops or 'none'}")
        files = st.get("files", {})
        if files.get("failed"):
            print(
                f"  {files['failed']} of {files['matched']} input files FAILED (allowed by --allow-failed-inputs):"
            )
            for f in files["failed_files"]:
                print(f"    {f['file']}: {f.get('error', '')}")
        print(f"  documents: {out}/docs/{s}/   statistics: {out}/stats/{s}.json")
    return 0
