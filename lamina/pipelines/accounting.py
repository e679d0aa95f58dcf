"""Counting what every stage keeps and drops, and the statistics JSON of a run.

One generic wrapper (`Funnel.apply`) runs any `Stage` (a pure decision: element -> Document or
`Dropped(reason, doc)`) as a ParDo that
- increments Beam Metrics counters `<source>.<stage>` / `in`, `kept`, `dropped.<reason>` (live in the
  runner's UI);
- sends drops to a tagged side output, so they can be written aside with their reason;
- emits small tally records ((stage, field, reason), n) that the run sums into the funnel.
The statistics JSON is computed from those tallies inside the pipeline (not from Metrics, which
some runners report only as "attempted" or not at all in a dry run), and written by the pipeline's
last step, so it is the same on every runner. Conservation (documents_in == kept + sum of drops,
each stage's input == the previous stage's output, and input files matched == read + failed) is
computed there and re-checked by
`lamina corpus` after the run, which fails the run when it does not hold.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from lamina.documents import Document

DROPPED = "dropped"
TALLY = "tally"
FILES = "files"  # the tallies ((FILES, matched | read | failed, error), n) of the input files
MAX_DISTRIBUTION_VALUES = 10_000  # interfaces.md: at most 10,000 values per distribution group and outcome
NO_GROUP = "(none)"  # the group of a document whose group value is empty (langdetect found no language)
KEPT = "kept"  # the outcome of a kept document in a distribution (a dropped one's is its drop reason)
SAMPLES_PER_REASON = 5
SAMPLE_TEXT_CHARS = 1_000
JOIN_SENT, JOIN_RECEIVED = "join_sent", "join_received"  # tally fields of `count_join`
KEPT_SAMPLES = "(kept)"  # the samples' key of kept documents (not a drop reason)


@dataclasses.dataclass(frozen=True)
class Dropped:
    """A stage's verdict against a document: the reason (interfaces.md names) and the document."""

    reason: str
    doc: Document
    detail: str = ""


class Stage:
    """One decision of a pipeline. Subclasses keep only paths and settings in __init__ (they are
    pickled to workers) and load models in `setup()`. `apply` returns the (possibly annotated)
    document to keep it, or `Dropped`. `counts_lines`: the stage removes lines, count them."""

    name = "stage"
    counts_lines = False

    def setup(self) -> None:
        pass

    def apply(self, element: Any, **side: Any) -> Document | Dropped:
        raise NotImplementedError

    def results(self, element: Any, **side: Any) -> Iterable[Document | Dropped]:
        """The verdicts for one input element; one per document (a grouped element, as in dedup,
        holds several documents and gets several verdicts)."""
        return (self.apply(element, **side),)

    def lines_of(self, element: Any, result: Document | Dropped) -> int:
        """Lines the result's document had before the stage (only for `counts_lines` stages)."""
        return 0


class KeepFirst(Stage):
    """Exact dedup: of the documents sharing `key(doc)`, the first by `order(doc)` is kept and every
    other one drops as `name`. Subclasses set `name` (the drop reason), `what` (the shared thing, for
    the detail), `key` and `order`.

    Input: (id, {"doc": [documents with that id], "first": [keys this id won], ...}) as built by
    `KeepFirstDedup` (or `first_per_key` + `join_by_id`): the winner of each key is found on small
    records and joined back by id, so no worker ever holds (or sorts) the documents sharing a key,
    however many share it (identical LICENSE files, vendored JS, a page served 10^5 times)."""

    what = "key"

    def key(self, doc: Document) -> str:
        raise NotImplementedError

    def order(self, doc: Document):
        return doc.id

    def kept(self, element, doc: Document):
        """What a kept document continues as (the document; a subclass may pass the join on)."""
        return doc

    def detail(self, key: str) -> str:
        """The drop detail of a document that is not the first of `key`."""
        return f"same {self.what} as an earlier document ({self.what} {key})"

    def results(self, element, **side):
        _, grouped = element
        docs = sorted(grouped["doc"], key=self.order)  # the documents of one id: normally one
        group_size().update(len(docs), sum(len(d.text) for d in docs))
        won, seen = set(grouped["first"]), set()
        for d in docs:
            k = self.key(d)
            if k in won and k not in seen:
                seen.add(k)
                yield self.kept(element, d)
            else:
                yield Dropped(self.name, d, self.detail(k))


_GROUP_SIZE = None


def group_size():
    """The `lamina.scale` group-size Distributions (writers.GroupSize; they report to whichever
    DoFn is running, so one instance serves every stage)."""
    global _GROUP_SIZE
    if _GROUP_SIZE is None:
        from lamina.pipelines.writers import GroupSize

        _GROUP_SIZE = GroupSize()
    return _GROUP_SIZE


class _Min(beam.CombineFn):
    """The smallest value: an accumulator of one value, whatever the number of inputs."""

    def create_accumulator(self):
        return None

    def add_input(self, acc, value):
        return value if acc is None or value < acc else acc

    def merge_accumulators(self, accs):
        out = None
        for a in accs:
            if a is not None and (out is None or a < out):
                out = a
        return out

    def extract_output(self, acc):
        return acc


class MinCount(beam.CombineFn):
    """(the smallest value, number of values capped at 2): `_Min` plus whether the key is shared,
    still an accumulator of one value and one small int. Used instead of `_Min` only with
    `--ledger`, where the keys shared by several documents name their original (`Originals`)."""

    def create_accumulator(self):
        return (None, 0)

    def add_input(self, acc, value):
        low, n = acc
        return (value if low is None or value < low else low, min(n + 1, 2))

    def merge_accumulators(self, accs):
        low, n = None, 0
        for v, m in accs:
            if v is not None and (low is None or v < low):
                low = v
            n = min(n + m, 2)
        return (low, n)

    def extract_output(self, acc):
        return acc


@dataclasses.dataclass(frozen=True)
class Originals:
    """How the ledger names the original of a document a dedup stage dropped (`--ledger` only).
    `keys(doc)`: the keys the dropped document shares (its digest / URL / content hash, or its line
    hashes; a `keys.of_drop(dropped)` method instead reads them from the verdict); `values`: (key, (candidate ids, best first)) for every key held by more than one
    document. A dropped document's original is the first candidate of each of its keys that is not
    itself, and over several keys (lines) the most frequent of those, ties by smallest id
    (`lamina.pipelines.ledger.NameOriginals`, a bounded fan-out join)."""

    keys: Any
    values: beam.PCollection


class KeyOf:
    """A KeepFirst's key of a dropped copy, as a one-key tuple (`Originals.keys`)."""

    def __init__(self, stage: KeepFirst):
        self.stage = stage

    def __call__(self, doc: Document) -> tuple[str]:
        return (self.stage.key(doc),)


def _shared_first(kv):
    """(key, ((order, id, payload), n)) -> (key, (id,)) for a key held by more than one document."""
    key, ((_, doc_id, _), n) = kv
    if n > 1:
        yield key, (doc_id,)


def _first_record(doc: Document, stage: KeepFirst, payload):
    return stage.key(doc), (stage.order(doc), doc.id, payload(doc) if payload else None)


def first_per_key(docs, stage: KeepFirst, payload=None, label: str = "first", originals=None):
    """(key, (order, id, payload(doc))) of the first document of every key, from small records
    (no text) and a combine whose accumulator is one record: bounded for a key of any size.
    `payload`: a small per-document value the caller needs of the winners (or None). `originals`
    (a Funnel's, with `--ledger`): the combine also counts (`MinCount`), and the winners of shared
    keys are registered as the originals of the stage's drops; None (no ledger): the graph is the
    same as without the ledger feature, so outputs are byte-identical."""
    records = docs | f"{label}_record" >> beam.Map(_first_record, stage=stage, payload=payload)
    if originals is None:
        return records | f"{label}_per_key" >> beam.CombinePerKey(_Min())
    counted = records | f"{label}_per_key" >> beam.CombinePerKey(MinCount())
    shared = counted | f"{label}_shared" >> beam.FlatMap(_shared_first)
    originals[(stage.name, stage.name)] = Originals(KeyOf(stage), shared)
    return counted | f"{label}_winner" >> beam.Map(lambda kv: (kv[0], kv[1][0]))


def join_by_id(docs, label: str = "join_by_id", **tagged):
    """(id, {"doc": [documents], tag: [values]...}): the documents joined with (id, value) pairs,
    the one shuffle of the document bodies a dedup needs."""
    by_id = docs | f"{label}_key" >> beam.Map(lambda d: (d.id, d))
    return {"doc": by_id, **tagged} | label >> beam.CoGroupByKey()


def count_join(funnel: Funnel, stage: str, tag: str, sent, joined, label: str) -> None:
    """Tally the (id, value) pairs `sent` into a join under `tag` and those the joined groups hold,
    as ((stage, join_sent | join_received, tag), n): `build_stats` fails conservation when they
    differ. The document counts do not see a lost value (a C4 page that lost the line keys it owns
    still passes, shorter, or drops as too_few_sentences), so a shuffle that loses values would
    otherwise change outputs silently."""
    funnel.add_tally(sent | f"{label}_sent" >> beam.Map(lambda _, k=(stage, JOIN_SENT, tag): (k, 1)))
    funnel.add_tally(
        joined
        | f"{label}_received"
        >> beam.Map(lambda kv, k=(stage, JOIN_RECEIVED, tag): (k, sum(1 for _ in kv[1][tag])))
    )


class KeepFirstDedup(beam.PTransform):
    """documents -> the input of `stage` (a KeepFirst): winners found with `first_per_key`, joined
    back by id. Shuffles: one small record per document (combined), one (id, key) per key, and the
    documents once (keyed by id). With `funnel`, the winners sent into the join and received are
    counted (`count_join`): a lost winner would otherwise drop as a duplicate, counted."""

    def __init__(self, stage: KeepFirst, funnel: Funnel | None = None):
        super().__init__()
        self.stage = stage
        self.funnel = funnel

    def expand(self, docs):
        originals = self.funnel.originals if self.funnel is not None else None
        firsts = first_per_key(docs, self.stage, originals=originals) | "first_id" >> beam.Map(
            lambda kv: (kv[1][1], kv[0])
        )
        joined = join_by_id(docs, first=firsts)
        if self.funnel is not None:
            count_join(self.funnel, self.stage.name, "first", firsts, joined, "first")
        return joined


def _nlines(doc: Document) -> int:
    return sum(1 for line in doc.text.split("\n") if line.strip())


class _StageDoFn(beam.DoFn):
    def __init__(self, source: str, stage: Stage):
        self.source = source
        self.stage = stage
        self._counters: dict[str, Any] = {}

    def setup(self):
        self.stage.setup()

    def _count(self, name: str, n: int = 1) -> None:
        c = self._counters.get(name)
        if c is None:
            c = self._counters[name] = Metrics.counter(f"{self.source}.{self.stage.name}", name)
        c.inc(n)

    def process(self, element, **side):
        name = self.stage.name
        for result in self.stage.results(element, **side):
            self._count("in")
            if self.stage.counts_lines:
                lines_in = self.stage.lines_of(element, result)
                lines_kept = 0 if isinstance(result, Dropped) else _nlines(result)
                yield TaggedOutput(TALLY, ((name, "lines_in", ""), lines_in))
                yield TaggedOutput(TALLY, ((name, "lines_kept", ""), lines_kept))
            yield TaggedOutput(TALLY, _bytes_tally(name, result))  # for the report's bytes in/kept
            if isinstance(result, Dropped):
                self._count(f"dropped.{result.reason}")
                yield TaggedOutput(TALLY, ((name, "dropped", result.reason), 1))
                yield TaggedOutput(DROPPED, (name, result))
            else:
                self._count("kept")
                yield TaggedOutput(TALLY, ((name, "kept", ""), 1))
                yield result


def _bytes_tally(stage: str, result: Document | Dropped) -> tuple[tuple[str, str, str], int]:
    """((stage, "bytes_kept" | "bytes_dropped", ""), UTF-8 bytes of the document's text as the stage
    left it); `build_stats` turns these into each stage's and the source's bytes."""
    if isinstance(result, Dropped):
        return (stage, "bytes_dropped", ""), len(result.doc.text.encode("utf-8"))
    return (stage, "bytes_kept", ""), sum(len(d.text.encode("utf-8")) for d in _kept_documents(result))


def _kept_documents(result) -> list[Document]:
    """The documents of a kept result: the Document, or those of a join a KeepFirst passes on
    (`KeepFirst.kept`: (id, {"doc": [documents], ...}), as CCNet's digest dedup hands line dedup)."""
    if isinstance(result, Document):
        return [result]
    return list(result[1]["doc"])


class Meta:
    """doc -> doc.metadata[key]: a picklable value (or group) accessor for `Funnel.measure`."""

    def __init__(self, key: str):
        self.key = key

    def __call__(self, doc: Document):
        return doc.metadata[self.key]


def text_length(doc: Document) -> int:
    """Characters of the document's text (the `length` distributions)."""
    return len(doc.text)


def kept_group(doc: Document) -> str:
    """The language and bucket a kept document counts under in the report ("en_head", "en", "all")."""
    m = doc.metadata
    return "_".join(str(m[k]) for k in ("language", "bucket") if m.get(k)) or "all"


def group_tally(kept: beam.PCollection) -> beam.PCollection:
    """(("write", "group", kept_group(doc)), 1) per kept document: `kept_by_group` in the stats."""
    return kept | "group_tally" >> beam.Map(lambda d: (("write", "group", kept_group(d)), 1))


def _hash01(key: str) -> int:
    """A deterministic pseudo-random rank of a document id (for sampling values and examples)."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big")


class Funnel:
    """Builds a pipeline's stages while recording what the statistics need.

    Usage: `docs = funnel.apply(docs, SomeStage(...))` for each stage in order; `funnel.add_stage(
    name, kept, dropped, tally)` for a stage written by hand (the reader); `funnel.distribution(name,
    pcoll_of_(group, id, value))`; then `funnel.finish(kept_count_tally, stats_path, settings)`.
    """

    def __init__(self, source: str, pipeline: str, ledger: bool = False):
        self.source = source
        self.pipeline = pipeline
        # With --ledger: {(stage, reason): Originals} the dedup stages register, so the ledger names
        # each dropped duplicate's original (lamina/pipelines/ledger.py); None without the ledger.
        self.originals: dict[tuple[str, str], Originals] | None = {} if ledger else None
        self.stage_names: list[str] = []
        self.drops: list[beam.PCollection] = []
        self.tallies: list[beam.PCollection] = []
        self.distributions: list[beam.PCollection] = []
        self.dist_meta: dict[str, dict] = {}  # name -> {"stage", "thresholds"} (`measure`, `distribution`)
        self.outputs: dict[str, tuple[beam.PCollection, beam.PCollection]] = {}  # stage -> (kept, drops)
        self.settings_from: dict[str, beam.PCollection] = {}
        self.kept_docs: beam.PCollection | None = None  # set by the writer: kept samples in the stats

    def setting(self, name: str, pcoll: beam.PCollection) -> None:
        """Record `settings[name]` of the statistics from a pipeline value: `pcoll`'s one element (a
        value known only once the run has seen its data, e.g. cutoffs computed from the run)."""
        self.settings_from[name] = pcoll

    def apply(self, pcoll: beam.PCollection, stage: Stage, **side_inputs: Any) -> beam.PCollection:
        """Run `stage` on `pcoll` (side inputs are passed to `stage.results` by name)."""
        outs = pcoll | f"{stage.name}" >> beam.ParDo(
            _StageDoFn(self.source, stage), **side_inputs
        ).with_outputs(DROPPED, TALLY, main="kept")
        self.add_stage(stage.name, outs[DROPPED], outs[TALLY])
        self.outputs[stage.name] = (outs.kept, outs[DROPPED])
        return outs.kept

    def add_stage(self, name: str, dropped: beam.PCollection, tally: beam.PCollection) -> None:
        """Register a stage whose outputs were built by hand: drops as (stage, Dropped), tallies as
        ((stage, field, reason), n) with field in kept | dropped | lines_in | lines_kept."""
        self.stage_names.append(name)
        self.drops.append(dropped)
        self.tallies.append(tally)

    def add_tally(self, tally: beam.PCollection) -> None:
        """Add tallies that belong to no stage (a reader's file tallies, `FILES`)."""
        self.tallies.append(tally)

    def distribution(self, pcoll: beam.PCollection, name: str, stage: str = "", outcome: str = KEPT) -> None:
        """Record a distribution of documents that all share one outcome (by default the kept
        documents after `stage`, "" = after the last stage): elements (group or "", doc id, value).
        A quantity that decides a stage's drops is recorded with `measure` instead."""
        self.dist_meta[name] = {"stage": stage or None, "of": "kept", "thresholds": []}
        self.distributions.append(
            pcoll
            | f"dist_{name}" >> beam.Map(lambda e, n=name, o=outcome: ((n, e[0], o, o == KEPT), e[1], e[2]))
        )

    def measure(
        self,
        name: str,
        stage: str,
        value,
        group=None,
        kept_outcome=None,
        thresholds: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Record the distribution of the quantity `value(doc)` that decides `stage`'s drops, over
        EVERY document that reached the stage (a stage run by `apply`): each value is tagged with
        the document's outcome there, `kept` (or `kept_outcome(doc)`, e.g. its bucket) or the drop
        reason. `group(doc)`: the group it is drawn in (e.g. its language; None: one group).
        `thresholds`: (setting, "keep >=" | "keep <=") the report draws, their values read from the
        run's settings. Each (group, outcome) is sampled by id hash (uniform within it) to at most
        `MAX_DISTRIBUTION_VALUES` values; its true size is counted beside the sample."""
        kept, drops = self.outputs[stage]
        self.dist_meta[name] = {
            "stage": stage,
            "of": "all",  # every document that reached the stage (`distribution`: "kept" ones only)
            "thresholds": [{"setting": k, "keep": w} for k, w in thresholds],
        }

        def tag(doc, outcome, is_kept):
            g = (group(doc) or NO_GROUP) if group else ""  # "" is the ungrouped distribution's one group
            return (name, g, outcome, is_kept), doc.id, value(doc)

        self.distributions.append(
            (
                kept
                | f"measure_{name}_kept"
                >> beam.Map(lambda d: tag(d, kept_outcome(d) if kept_outcome else KEPT, True)),
                drops | f"measure_{name}_dropped" >> beam.Map(lambda sd: tag(sd[1].doc, sd[1].reason, False)),
            )
            | f"measure_{name}" >> beam.Flatten()
        )

    def all_drops(self, label: str = "all_drops") -> beam.PCollection:
        return tuple(self.drops) | label >> beam.Flatten()

    def finish(self, written_tally: beam.PCollection, stats_path: str, settings: dict) -> beam.PCollection:
        """Sum the tallies, sample distributions and dropped examples, and write `stats_path`.
        `written_tally`: ((\"write\", \"kept\", \"\"), n) for every document written."""
        p = written_tally.pipeline
        totals = (
            (*self.tallies, written_tally)
            | "flatten_tallies" >> beam.Flatten()
            | "sum_tallies" >> beam.CombinePerKey(sum)
            | "tallies_list" >> beam.combiners.ToList()
        )
        if self.distributions:
            flat = tuple(self.distributions) | "flatten_dists" >> beam.Flatten()
            dists = (
                flat
                | "dist_rank" >> beam.Map(lambda e: (e[0], (_hash01(e[1]), e[2])))
                | "dist_top" >> beam.combiners.Top.PerKey(MAX_DISTRIBUTION_VALUES, key=lambda v: v[0])
                | "dists_list" >> beam.combiners.ToList()
            )
            dist_counts = (
                flat
                | "dist_one" >> beam.Map(lambda e: (e[0], 1))
                | "dist_count" >> beam.CombinePerKey(sum)
                | "dist_counts_list" >> beam.combiners.ToList()
            )
        else:
            dists = p | "no_dists" >> beam.Create([[]])
            dist_counts = p | "no_dist_counts" >> beam.Create([[]])
        ranked = self.all_drops("flatten_drops_for_samples") | "sample_rank" >> beam.Map(
            lambda sd: (sd[1].reason, (_hash01(sd[1].doc.id), _sample(sd[1])))
        )
        if self.kept_docs is not None:  # the report's kept samples, ranked the same way
            kept = self.kept_docs | "kept_sample_rank" >> beam.Map(
                lambda d: (KEPT_SAMPLES, (_hash01(d.id), _sample(Dropped(KEPT_SAMPLES, d, kept_group(d)))))
            )
            ranked = (ranked, kept) | "flatten_samples" >> beam.Flatten()
        samples = (
            ranked
            | "sample_top" >> beam.combiners.Top.PerKey(SAMPLES_PER_REASON, key=lambda v: v[0])
            | "samples_list" >> beam.combiners.ToList()
        )
        stage_names = list(self.stage_names)
        meta = {
            "source": self.source,
            "pipeline": self.pipeline,
            "settings": settings,
            "distributions": dict(self.dist_meta),
        }
        extra = (
            tuple(
                pc | f"setting_{name}" >> beam.Map(lambda v, n=name: (n, v))
                for name, pc in sorted(self.settings_from.items())
            )
            | "flatten_settings" >> beam.Flatten()
            | "settings_dict" >> beam.combiners.ToDict()
            if self.settings_from
            else p | "no_extra_settings" >> beam.Create([{}])
        )
        return (
            p
            | "stats_trigger" >> beam.Create([stats_path])
            | "write_stats"
            >> beam.Map(
                _write_stats,
                beam.pvalue.AsSingleton(totals),
                beam.pvalue.AsSingleton(dists),
                beam.pvalue.AsSingleton(samples),
                beam.pvalue.AsSingleton(extra),
                beam.pvalue.AsSingleton(dist_counts),
                stage_names=stage_names,
                meta=meta,
            )
        )


def _sample(d: Dropped) -> dict:
    m = d.doc.metadata
    out = {"id": d.doc.id, "url": m.get("url", ""), "text": d.doc.text[:SAMPLE_TEXT_CHARS]}
    where = {"title": m.get("title"), "path": m.get("path") or m.get("file")}  # for the report's samples
    out.update({k: str(v) for k, v in where.items() if v})
    if d.detail:
        out["detail"] = d.detail
    return out


def build_stats(
    totals: Iterable[tuple[tuple[str, str, str], int]],
    dists: Iterable[tuple[tuple[str, str], list]],
    samples: Iterable[tuple[str, list]],
    *,
    stage_names: list[str],
    meta: dict,
    dist_counts: Iterable[tuple[tuple, int]] = (),
) -> dict:
    """The statistics dict of interfaces.md from the summed tallies (pure; tested directly).
    `dists`: ((name, group, outcome, kept), [(rank, value)]) samples, `dist_counts` the documents
    behind each ((name, group) keys: kept documents, counted by their sample)."""
    t: dict[tuple[str, str, str], int] = dict(totals)
    funnel = []
    dropped: dict[str, int] = {}
    for name in stage_names:
        kept = t.get((name, "kept", ""), 0)
        drops = {r: n for (s, f, r), n in sorted(t.items()) if s == name and f == "dropped"}
        entry: dict[str, Any] = {
            "stage": name,
            "in": kept + sum(drops.values()),
            "kept": kept,
            "dropped": drops,
        }
        for f in ("bytes_kept", "bytes_dropped"):
            if (name, f, "") in t:
                entry[f] = t[(name, f, "")]
        if (name, "lines_in", "") in t:
            entry["lines_in"] = t[(name, "lines_in", "")]
            entry["lines_kept"] = t[(name, "lines_kept", "")]
        tags = sorted({r for (s, f, r) in t if s == name and f in (JOIN_SENT, JOIN_RECEIVED)})
        if tags:  # the values joined into this stage's input (`count_join`)
            entry["joined"] = {
                g: {"sent": t.get((name, JOIN_SENT, g), 0), "received": t.get((name, JOIN_RECEIVED, g), 0)}
                for g in tags
            }
        funnel.append(entry)
        for r, n in drops.items():
            dropped[r] = dropped.get(r, 0) + n
    documents_in = funnel[0]["in"] if funnel else 0
    documents_kept = t.get(("write", "kept", ""), 0)
    chained = all(a["kept"] == b["in"] for a, b in zip(funnel, funnel[1:], strict=False))
    last_ok = (funnel[-1]["kept"] if funnel else 0) == documents_kept
    conservation_ok = documents_in == documents_kept + sum(dropped.values()) and chained and last_ok
    joins_ok = all(j["sent"] == j["received"] for e in funnel for j in e.get("joined", {}).values())
    conservation_ok = conservation_ok and joins_ok
    files = file_stats(t)
    conservation_ok = conservation_ok and files["conservation_ok"]
    distributions = build_distributions(dists, dict(dist_counts), meta.get("distributions", {}))
    groups = {r: n for (s, f, r), n in sorted(t.items()) if s == "write" and f == "group"}
    # Stages run through Funnel.apply tally bytes (hand-built read stages do not, and come first).
    measured = [e for e in funnel if "bytes_kept" in e or "bytes_dropped" in e]
    sample_out = {
        reason: [s for _, s in sorted(ranked, key=lambda r: r[0])] for reason, ranked in sorted(samples)
    }
    return {
        "source": meta["source"],
        "pipeline": meta["pipeline"],
        "documents_in": documents_in,
        "documents_kept": documents_kept,
        "dropped": dict(sorted(dropped.items())),
        "conservation_ok": conservation_ok,
        "files": files,
        # UTF-8 text bytes reaching the first filter stage (parsed documents) and leaving the last
        **(
            {
                "bytes_in": measured[0].get("bytes_kept", 0) + measured[0].get("bytes_dropped", 0),
                "bytes_kept": funnel[-1].get("bytes_kept", 0),
            }
            if measured
            else {}
        ),  # fmt: skip
        **({"kept_by_group": groups} if groups else {}),  # kept documents per language(_bucket)
        "funnel": funnel,
        "distributions": distributions,
        "samples": sample_out,
        "settings": meta["settings"],
    }


def build_distributions(dists, counts: dict, described: dict) -> dict:
    """The statistics' `distributions`: name -> {"stage", "thresholds", "groups": {group: {outcome:
    {"kept", "n", "values"}}}}: `n` documents had that outcome at the stage, `values` is a uniform
    sample of at most `MAX_DISTRIBUTION_VALUES` of their values (ordered by id hash)."""
    out: dict[str, Any] = {}
    for key, ranked in sorted(dists, key=lambda kv: tuple(map(str, kv[0]))):
        name, group, outcome, kept = key if len(key) == 4 else (*key, KEPT, True)
        values = [v for _, v in sorted(ranked, key=lambda r: r[0])]
        d = out.setdefault(name, {**described.get(name, {"stage": None, "thresholds": []}), "groups": {}})
        d["groups"].setdefault(group, {})[outcome] = {
            "kept": kept,
            "n": counts.get(tuple(key), len(values)),
            "values": values,
        }
    return out


def file_stats(t: dict[tuple[str, str, str], int]) -> dict:
    """The statistics' `files`: matched (listed), read, failed, each failed file with its error,
    and whether matched == read + failed (a file neither read nor failed was lost)."""
    failed = sorted(r for (s, f, r), n in t.items() if s == FILES and f == "failed" for _ in range(n))
    matched, read = t.get((FILES, "matched", ""), 0), t.get((FILES, "read", ""), 0)
    return {
        "matched": matched,
        "read": read,
        "failed": len(failed),
        "failed_files": [dict(zip(("file", "error"), r.split(": ", 1), strict=False)) for r in failed],
        "conservation_ok": matched == read + len(failed),
    }


def _write_stats(path: str, totals, dists, samples, extra, dist_counts, *, stage_names, meta) -> str:
    from lamina.pipelines.writers import write_bytes

    meta = {**meta, "settings": {**meta["settings"], **extra}}
    stats = build_stats(totals, dists, samples, stage_names=stage_names, meta=meta, dist_counts=dist_counts)
    write_bytes(
        path, (json.dumps(stats, indent=1, sort_keys=False, ensure_ascii=False) + "\n").encode("utf-8")
    )
    return path


class ConservationError(RuntimeError):
    pass


def check_conservation(stats: dict, where: str) -> None:
    """Raise if a run's statistics do not add up (documents lost or counted twice)."""
    dropped = sum(stats["dropped"].values())
    files = stats.get("files")
    if files and not files["conservation_ok"]:
        raise ConservationError(
            f"{where}: file accounting fails: {files['matched']} files matched but {files['read']} read"
            f" + {files['failed']} failed"
        )
    lost = [
        f"{e['stage']} {tag}: {j['sent']} sent, {j['received']} received"
        for e in stats.get("funnel", [])
        for tag, j in e.get("joined", {}).items()
        if j["sent"] != j["received"]
    ]
    if lost:
        raise ConservationError(f"{where}: a join lost or duplicated values: " + "; ".join(lost))
    if not stats.get("conservation_ok") or stats["documents_in"] != stats["documents_kept"] + dropped:
        raise ConservationError(
            f"{where}: conservation fails: documents_in={stats['documents_in']} but kept="
            f"{stats['documents_kept']} + dropped={dropped}; funnel: "
            + ", ".join(f"{s['stage']} in={s['in']} kept={s['kept']}" for s in stats["funnel"])
        )
