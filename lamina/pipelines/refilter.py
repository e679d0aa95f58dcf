"""Beam: an annotated run's documents re-decided under new thresholds (`lamina refilter`,
docs/refilter.md).

Input: `<corpus>/docs/<source>/` (the kept documents) and `<corpus>/annotated/<source>/` (the
documents the threshold-only stages dropped, with their annotations), i.e. every document that
reached the first threshold-only stage, as it reached it. They go through the SAME stage objects as
the run (`CCNet.scored` / `C4.scored` with `annotated=True`: each stage's pure `decide`, no model),
then the run's
own writer and `Funnel` (`corpus.write_outputs`), so the outputs and statistics have the run's shape:
a full rerun with the new settings gives the same kept set, the same annotated/ and the same counts.

The stages before the first threshold-only stage (read, too_short, dedup) are not rerun: their
funnel entries and the files' accounting are fed to the Funnel as the tallies the run summed, so
conservation is computed (and checked) as in a run, and a missing or extra document in the store
breaks the chain (line_dedup kept != language in). What those stages sampled (their drop samples
and the `length` distribution of every input document) is copied from the run's statistics.

A worker holds one input line at a time; the writer's bounds are the run's ([run] shard limits from
run.json, else the defaults); the driver lists the input files (one name per shard file) and reads
and writes the small statistics JSON.
"""

from __future__ import annotations

import json
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from lamina.documents import Document
from lamina.pipelines.accounting import FILES, JOIN_RECEIVED, JOIN_SENT, Funnel

DECISION_FIELDS = ("bucket", "drop_stage", "drop_reason", "drop_detail")  # re-decided, not annotations
# the distributions a source records before its first threshold-only stage (copied from the run)
PREFIX_DISTRIBUTIONS = {"commoncrawl": ("length",), "c4": ("length",), "github": ("length",)}


def stage_tallies(entry: dict) -> list[tuple[tuple[str, str, str], int]]:
    """The tallies ((stage, field, reason), n) that `build_stats` turns into this funnel entry."""
    name = entry["stage"]
    out = [((name, "kept", ""), entry["kept"])]
    out += [((name, "dropped", r), n) for r, n in entry.get("dropped", {}).items()]
    for tag, j in entry.get("joined", {}).items():
        out += [((name, JOIN_SENT, tag), j["sent"]), ((name, JOIN_RECEIVED, tag), j["received"])]
    skip = {"stage", "in", "kept", "dropped", "joined"}
    out += [((name, k, ""), v) for k, v in entry.items() if k not in skip and isinstance(v, int)]
    return out


def file_tallies(files: dict) -> list[tuple[tuple[str, str, str], int]]:
    """The `FILES` tallies of the statistics' `files`."""
    out = [((FILES, "matched", ""), files.get("matched", 0)), ((FILES, "read", ""), files.get("read", 0))]
    for f in files.get("failed_files", []):
        out.append(((FILES, "failed", f"{f['file']}: {f['error']}" if f.get("error") else f["file"]), 1))
    return out


def _parse(element, strip: tuple[str, ...] = DECISION_FIELDS) -> Document:
    path, line = element
    try:
        doc = Document.from_json(line)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a document line ({e})") from None
    m = {k: v for k, v in doc.metadata.items() if k not in strip}
    return doc.replace(metadata=m)


def list_ledger(corpus: str, source: str) -> list[str]:
    """The Parquet files of a run's ledger of `source` (none when it wrote no ledger)."""
    from lamina.pipelines.ledger import ledger_dir

    found = FileSystems.match([f"{ledger_dir(corpus, source)}/*.parquet"])[0].metadata_list
    return sorted(m.path for m in found)


def list_files(folder: str) -> list[str]:
    """The *.jsonl.gz files of a run's output folder (none when it does not exist)."""
    found = FileSystems.match([f"{folder}/*.jsonl.gz"])[0].metadata_list
    return sorted(m.path for m in found)


def build(
    p, corpus: str, out: str, stats: dict, cfg, cutoffs: dict, limit, first: str = "language", ledger=False
):
    """Apply the refilter of the run whose statistics are `stats` to pipeline `p`: read from
    `corpus`, write under `out`. `cfg`: the new config of its table (CCNetConfig, C4PipelineConfig,
    GitHubPipelineConfig); `cutoffs`: CCNet's fixed cutoffs to apply. `ledger`: the run wrote one
    (`--ledger`): the re-decided documents get new rows, the rows of the stages before `first`
    are copied from the run's ledger (`copy_ledger_rows`)."""
    from lamina.pipelines.corpus import ANNOTATED, write_outputs
    from lamina.pipelines.writers import WriteDropped

    source = stats["source"]
    funnel = Funnel(source, stats["pipeline"])
    names = [e["stage"] for e in stats["funnel"]]
    for entry in stats["funnel"][: names.index(first)]:
        name, tallies = entry["stage"], stage_tallies(entry)
        funnel.add_stage(
            name,
            p | f"{name}_drops" >> beam.Create([]),
            p | f"{name}_tallies" >> beam.Create(tallies),
        )
    funnel.add_tally(p | "file_tallies" >> beam.Create(file_tallies(stats.get("files", {}))))
    files = list_files(f"{corpus}/docs/{source}") + list_files(f"{corpus}/{ANNOTATED}/{source}")
    docs = (
        p
        | "files" >> beam.Create(files)
        | "read_lines" >> beam.io.ReadAllFromText(with_filename=True)
        | "parse" >> beam.Map(_parse, strip=DECISION_FIELDS + _unscored(source, cfg))
    )
    kept, drops, name_of, settings = _scored(source, docs, funnel, cfg, cutoffs, stats.get("settings", {}))
    _ = (
        tuple(drops)
        | "annotated_drops" >> beam.Flatten()
        | "write_annotated" >> WriteDropped(f"{out}/{ANNOTATED}/{source}", limit)
    )
    if ledger:
        copy_ledger_rows(p, corpus, out, source, set(names[: names.index(first)]))
    return write_outputs(kept, funnel, source, out, name_of, settings, False, limit, ledger)


def copy_ledger_rows(p, corpus: str, out: str, source: str, stages: set[str]) -> None:
    """The run's ledger rows of the documents `stages` dropped (they do not change) ->
    `<out>/ledger/source=<source>/prefix-SSSSS-of-NNNNN.parquet`, beside the new rows. A worker
    holds one row group at a time."""
    from lamina.pipelines.ledger import arrow_schema, ledger_dir

    _ = (
        p
        | "ledger_old_rows" >> beam.io.ReadFromParquet(f"{ledger_dir(corpus, source)}/*.parquet")
        | "ledger_prefix_rows"
        >> beam.Filter(lambda r, s=frozenset(stages): r["outcome"] != "kept" and r["stage"] in s)
        | "ledger_prefix_parquet"
        >> beam.io.WriteToParquet(
            f"{ledger_dir(out, source)}/prefix", arrow_schema(), file_name_suffix=".parquet", codec="zstd"
        )
    )


def _unscored(source: str, cfg) -> tuple[str, ...]:
    """Annotations of a stage the new settings turn off: a full rerun would not have them."""
    if source == "commoncrawl" and not cfg.wikiref:
        return ("wiki_prob",)
    return ()


def _scored(source: str, docs, funnel: Funnel, cfg, cutoffs: dict, recorded: dict):
    """(kept, the threshold stages' drops, the output namer, the statistics' settings): the source's
    own threshold-only stages, deciding only (`annotated=True`: no model loads)."""
    from lamina.pipelines.options import as_dict

    if source == "commoncrawl":
        from lamina.pipelines.ccnet import CCNet, output_name
        from lamina.pipelines.model_paths import ModelPaths

        ccnet = CCNet(ModelPaths("", "", ""), cfg, funnel, cutoffs)
        kept = ccnet.scored(docs, annotated=True)
        return kept, ccnet.scored_drops, output_name, as_dict(cfg)
    if source == "c4":
        from lamina.pipelines.c4 import C4
        from lamina.pipelines.writers import FixedName

        c4 = C4("", "", cfg, funnel)
        kept = c4.scored(docs, annotated=True)
        fields = as_dict(cfg)  # + what the run recorded beside its config (the bad-words list, the model)
        extra = {k: v for k, v in recorded.items() if k not in fields}
        return kept, c4.scored_drops, FixedName(cfg.language), {**fields, **extra}
    if source == "github":
        import dataclasses

        from lamina.pipelines.github import GitHub
        from lamina.pipelines.writers import FixedName

        github = GitHub(cfg, funnel)
        kept = github.scored(docs, annotated=True)
        return kept, github.scored_drops, FixedName("github"), dataclasses.asdict(cfg)
    raise ValueError(f"refilter does not know source {source!r}")


def merge_prefix_samples(new: dict, old: dict, first: str) -> dict:
    """`new` (the refilter's statistics) with what the stages before `first` sampled taken from the
    run's: their drop reasons' samples, the distributions no re-decided stage records, and the
    lines entering `first`."""
    names = [e["stage"] for e in old["funnel"]]
    prefix_reasons = {r for e in old["funnel"][: names.index(first)] for r in e.get("dropped", {})}
    samples = dict(new.get("samples", {}))
    for r in prefix_reasons:
        if r in old.get("samples", {}):
            samples[r] = old["samples"][r]
    # the first re-decided stage sees the same documents as in the run: its input lines are the
    # run's (a stage that edits text, GitHub's quality, counts them on the text before its edit)
    funnel = [dict(e) for e in new["funnel"]]
    at = names.index(first)
    if "lines_in" in old["funnel"][at] and "lines_in" in funnel[at]:
        funnel[at]["lines_in"] = old["funnel"][at]["lines_in"]
    dists = dict(new.get("distributions", {}))
    for name in PREFIX_DISTRIBUTIONS.get(old["source"], ()):
        if name in old.get("distributions", {}):
            dists[name] = old["distributions"][name]
    return {
        **new,
        "funnel": funnel,
        "distributions": dict(sorted(dists.items())),
        "samples": dict(sorted(samples.items())),
    }


def read_json(path: str) -> dict:
    with FileSystems.open(path) as f:
        return json.loads(f.read().decode("utf-8"))


def write_json(path: str, data: Any) -> None:
    """As `accounting._write_stats` writes the statistics (the same bytes for the same dict)."""
    from lamina.pipelines.writers import write_bytes

    write_bytes(
        path, (json.dumps(data, indent=1, sort_keys=False, ensure_ascii=False) + "\n").encode("utf-8")
    )
