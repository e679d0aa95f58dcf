"""`lamina refilter --corpus OUT --set ccnet.lid_threshold=0.6 [--set ...] [--out OUT2]`.

Re-decides an annotated run (`lamina corpus --annotate`) under new threshold-only settings as a Beam
pipeline (the run's runner options pass through), without its models: the kept documents, the
annotated (threshold-dropped) documents and the statistics are written to OUT2 (default: in place,
through a staging folder, replacing the source's previous outputs; a ledger the run wrote is
rewritten; the source's dropped/ describes the old thresholds and is removed). A setting it cannot
change is refused in one line naming it (exit 2). It prints its time beside the original corpus
run's (run.json).
"""

from __future__ import annotations

import argparse
import sys
import time

from lamina.refilter import (
    C4_BEFORE,
    C4_REFUSED,
    C4_SUPPORTED,
    CHECKS,
    GITHUB_BEFORE,
    GITHUB_REFUSED,
    GITHUB_SUPPORTED,
    REFUSED,
    SUPPORTED,
    TABLES,
    RefilterError,
    parse_overrides,
)


def _listed(*tables) -> str:
    return "; ".join(f"{t}.{k} ({why})" for t, d in tables for k, why in d.items())


EPILOG = (
    "Changed from the annotations: "
    + _listed(("ccnet", SUPPORTED), ("c4", C4_SUPPORTED), ("github", GITHUB_SUPPORTED))
    + ". Refused (rerun lamina corpus): "
    + _listed(("ccnet", REFUSED), ("c4", C4_REFUSED), ("github", GITHUB_REFUSED))
    + f"; every other c4 setting ({C4_BEFORE}); every other github setting ({GITHUB_BEFORE}); every other "
    "table. docs/refilter.md"
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lamina refilter",
        description="New thresholds for an annotated corpus run (lamina corpus --annotate), without a rerun.",
        epilog=EPILOG,
    )
    p.add_argument("--corpus", default="out/corpus", help="the annotated run's --out (default out/corpus)")
    p.add_argument("--out", default=None, help="where to write (default: --corpus, in place)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TABLE.KEY=VALUE",
        help="a new threshold (value read as TOML), e.g. --set ccnet.lid_threshold=0.6",
    )
    p.add_argument(
        "--runner", default=None, help="Beam runner (default: the local multi-process FnApiRunner)"
    )
    return p


def _run_record(corpus: str, source: str) -> dict | None:
    """The run.json record of the command that last wrote `source` under `corpus` (None: no run.json)."""
    from lamina.reports.provenance import read_run_file

    runs = [r for r in (read_run_file(corpus) or {}).get("runs", []) if source in r.get("sources", [])]
    return runs[-1] if runs else None


def _run_config(record: dict | None):
    """The CorpusConfig whose [run] table (shard limits, workers) the run used; the defaults for a
    run without run.json."""
    from lamina.pipelines import options as opts

    table = ((record or {}).get("config") or {}).get("resolved", {}).get("run", {})
    try:
        return opts.CorpusConfig(run=opts._build(opts.RunConfig, table, "run.json [run]"))
    except opts.ConfigError:
        return opts.CorpusConfig()


def _record(original: dict | None, corpus, source, table, cfg, argv, options, started, seconds) -> dict:
    """The run.json record of a refilter: the original run's inputs and models (the documents come
    from them), this command's code, command, runner, options and time, the config as resolved
    with the new table, and `refilter_of` (the corpus it read, the original run's start and time)."""
    import dataclasses

    from apache_beam.options.pipeline_options import StandardOptions

    from lamina.reports.provenance import code_version, utc_now

    original = original or {}
    resolved = dict((original.get("config") or {}).get("resolved") or {})
    resolved[table] = dataclasses.asdict(cfg)
    runner = options.view_as(StandardOptions).runner
    first = original.get("refilter_of") or {
        "started": original.get("started"),
        "seconds": original.get("seconds"),
    }
    return {
        "version": 1,
        "tool": "lamina refilter",
        "sources": [source],
        "started": started,
        "finished": utc_now(),
        "seconds": round(seconds, 3),
        "code": code_version(),
        "command": list(argv),
        "runner": runner if isinstance(runner, str) else type(runner).__name__,
        "beam_options": {
            k: v if isinstance(v, str | int | float | bool | type(None)) else str(v)
            for k, v in sorted(options.get_all_options(drop_default=True).items())
        },
        "config": {"path": (original.get("config") or {}).get("path"), "resolved": resolved},
        "inputs": original.get("inputs") or {},
        "models": original.get("models") or {},
        "refilter_of": {"corpus": corpus, "started": first.get("started"), "seconds": first.get("seconds")},
    }


def _check_beam_args(beam_args: list[str]) -> None:
    """An option neither refilter nor Beam knows that looks like ours (dashes, close to a flag) is a
    mistake, not a Beam option to drop with a warning (`--ot DIR`)."""
    import difflib

    from apache_beam.options.pipeline_options import PipelineOptions

    from lamina.pipelines.corpus import UsageError
    from lamina.pipelines.corpus import _parser as corpus_parser

    known = set(PipelineOptions([]).get_all_options())
    ours = [o for a in _parser()._actions for o in a.option_strings if o.startswith("--")]
    # `lamina corpus`'s own options (--sources, --models, ...) would pass to Beam and be ignored
    corpus_only = {o for a in corpus_parser()._actions for o in a.option_strings if o.startswith("--")}
    for arg in beam_args:
        name = arg[2:].split("=", 1)[0] if arg.startswith("--") else None
        if not name or name in known or name.replace("-", "_") in known:
            continue
        if f"--{name}" in corpus_only:
            raise UsageError(
                f"--{name} is a `lamina corpus` option, not one of refilter's ({', '.join(ours)}): "
                "refilter re-decides the sources its --set tables name (ccnet.*: commoncrawl, c4.*: c4, github.*: github)"
            )
        close = difflib.get_close_matches(f"--{name}", ours, n=1, cutoff=0.6)
        if close or "-" in name:
            hint = (
                f" (did you mean {close[0]}?)" if close else f"; lamina refilter options: {', '.join(ours)}"
            )
            raise UsageError(f"unknown option --{name}{hint}")


def run(argv: list[str], test_pipeline=None) -> dict:
    """Refilter; returns {source: {"stats": ..., "seconds": s, "run_seconds": s or None, "removed":
    [stale folders]}}, or {source: {"job": the PipelineResult}} for a dry run (Dataflow)."""
    from apache_beam.io.filesystems import FileSystems

    from lamina.pipelines import corpus as cp
    from lamina.pipelines import progress
    from lamina.pipelines import refilter as rf
    from lamina.pipelines.accounting import ConservationError, check_conservation
    from lamina.reports.provenance import merge_runs, read_run_file, utc_now, write_run_record

    args, beam_args = _parser().parse_known_args(argv)
    _check_beam_args(beam_args)
    cp.check_runner(args.runner)
    corpus = args.corpus.rstrip("/")
    out = (args.out or corpus).rstrip("/")
    results = {}
    for table, overrides in parse_overrides(args.set).items():
        source, first = TABLES[table]
        stats_path = f"{corpus}/stats/{source}.json"
        if not FileSystems.exists(stats_path):
            raise RefilterError(
                f"{stats_path}: no statistics (run `lamina corpus --annotate --out {corpus}` first)"
            )
        try:
            stats = rf.read_json(stats_path)
            names = [e["stage"] for e in stats["funnel"]]
            names.index(first)
        except (ValueError, KeyError, TypeError) as e:
            raise RefilterError(f"{stats_path}: not the statistics of a {source} run ({e})") from None
        cfg, cutoffs = CHECKS[table](stats.get("settings", {}), overrides, stats_path)
        original = _run_record(corpus, source)
        run_cfg = _run_config(original)
        run_seconds = ((original or {}).get("refilter_of") or original or {}).get("seconds")
        started, clock = utc_now(), time.monotonic()
        staging = f"{out}/{cp.STAGING}"
        p = (
            test_pipeline()
            if test_pipeline
            else cp._pipeline(cp.beam_options(args.runner, beam_args, run_cfg))
        )
        ledger = bool(rf.list_ledger(corpus, source))  # the run's ledger is rewritten, not left stale
        rf.build(p, corpus, staging, stats, cfg, cutoffs, cp.shard_limit(run_cfg), first, ledger)
        if cp._dry_run(p):  # Dataflow's --dry_run=True: the job is built, nothing runs or is written
            results[source] = {"job": p.run()}
            continue
        cp._clear_staging(staging, [source])
        with progress.quiet_stderr():
            p.run().wait_until_finish()
        new_path = f"{staging}/stats/{source}.json"
        new = rf.merge_prefix_samples(rf.read_json(new_path), stats, first)
        rf.write_json(new_path, new)
        try:
            check_conservation(new, new_path)
        except ConservationError as e:
            raise RefilterError(f"{e} (is {corpus}/{cp.ANNOTATED}/{source}/ complete?)") from None
        # the source's dropped/ describes the old thresholds (and a ledger, when the run had none
        # in --corpus): _promote removes them
        stale = [d for d in (f"{out}/dropped/{source}",) if FileSystems.exists(d)]
        if not ledger and rf.list_ledger(out, source):
            stale.append(f"{out}/ledger/source={source}")
        cp._promote(staging, out, source)
        cp._prune_empty(staging)
        seconds = time.monotonic() - clock
        record = _record(original, corpus, source, table, cfg, argv, p.options, started, seconds)
        write_run_record(out, merge_runs(read_run_file(out), record))
        results[source] = {"stats": new, "seconds": seconds, "run_seconds": run_seconds, "removed": stale}
    return results


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from lamina.pipelines.corpus import UsageError

    try:
        results = run(argv)
    except (RefilterError, UsageError) as e:
        print(f"lamina refilter: {e}", file=sys.stderr)
        return 2
    for source, r in results.items():
        if "job" in r:
            print(f"{source}: dry run, the job was built and nothing ran")
            continue
        st = r["stats"]
        drops = ", ".join(f"{k} {n}" for k, n in st["dropped"].items())
        print(f"{source}: {st['documents_in']} in, {st['documents_kept']} kept; dropped: {drops or 'none'}")
        took = f"refilter {r['seconds']:.1f} s"
        if r["run_seconds"]:
            took += f", the corpus run it comes from {r['run_seconds']:.1f} s (run.json): {r['seconds'] / r['run_seconds']:.2f}x"
        print(f"  {took}")
        for d in r["removed"]:
            print(f"  removed {d} (it described the old thresholds; rerun lamina corpus to have it again)")
    from apache_beam.io.filesystems import FileSystems

    args, _ = _parser().parse_known_args(argv)
    out = (args.out or args.corpus).rstrip("/")
    if any("stats" in r for r in results.values()) and FileSystems.exists(f"{out}/shards/manifest.json"):
        # in place: the token shards (and `lamina pretrain` on them) still hold the old kept documents
        print(
            f"  {out}/shards/ hold the documents kept before: rerun `lamina tokenizer shards --corpus {out}`"
        )
    return 0
