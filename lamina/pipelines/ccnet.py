"""The CCNet pipeline as one composite PTransform: WET documents in, annotated kept documents out.

Stage order (each a setting in `CCNetConfig`):
  read (too_long, malformed_record, invalid_utf8; readers.py)
  -> too_short: fewer than `min_length` characters
  -> duplicate_digest: exact dedup on WARC-Block-Digest; the first occurrence by (dump, file, record)
     wins. It runs BEFORE line dedup: with a run-wide line-dedup scope, two copies of one page would
     otherwise make every line of both copies a duplicate and erase both. (RedPajama's digest dedup is
     not a cc_net stage, so cc_net's own order below is unchanged.)
  -> line dedup (no_lines_left): cc_net semantics, a line whose hash occurs more than once in the
     scope ("run" or "dump") is removed everywhere, its first occurrence included; a combine per line
     hash (count capped at 2, owner) then a join back by document id: no worker ever holds the
     documents of one hash (`LineDedup`; docs/scale.md has the shuffle volumes)
  -> language: fastText LID on the text with newlines removed; kept languages, score >= threshold
  -> perplexity: per-language SentencePiece + KenLM (annotates only), the whole document scored as
     one text (`scoring = "document"`, cc_net's) or line by line
  -> buckets (perplexity_tail): cutoffs per language, fixed (the LM card's, a preset or given numbers:
     a document's bucket does not depend on the rest of the run) or this run's p30/p60 ("run");
     head < p30 <= middle < p60 <= tail; buckets not in `keep_buckets` are dropped
  -> wikiref: P(wiki) of the Wikipedia-reference classifier >= threshold (can be disabled)
Kept documents carry cc_net's fields: language, language_score, perplexity, bucket, wiki_prob,
original_nlines, nlines.

The stages after line dedup are threshold-only (`Scored`: a model's annotation, then a pure
decision on it). With `annotate = true` (`lamina corpus --annotate`) every document reaching LID is
scored by every model (LID, the LM of its language where the run has one, the reference
classifier) before any of them decides, and the documents these stages drop are written with their
annotations under annotated/commoncrawl/, so `lamina refilter` can re-decide new thresholds
without the models (docs/refilter.md). The kept outputs and statistics are the same either way.
"""

from __future__ import annotations

import copy
from typing import Any

import apache_beam as beam

from lamina.documents import Document
from lamina.filters.lines import line_hashes, remove_lines
from lamina.pipelines.accounting import (
    Dropped,
    Funnel,
    KeepFirst,
    Meta,
    Originals,
    Stage,
    count_join,
    first_per_key,
    group_size,
    join_by_id,
    text_length,
)
from lamina.pipelines.options import CCNetConfig
from lamina.pipelines.readers import localize


class TooShort(Stage):
    name = "too_short"

    def __init__(self, min_length: int):
        self.min_length = min_length

    def apply(self, doc: Document, **side) -> Document | Dropped:
        if len(doc.text) < self.min_length:
            return Dropped("too_short", doc, f"{len(doc.text)} < {self.min_length} characters")
        return doc


class DigestDedup(KeepFirst):
    """Of the documents with one WARC-Block-Digest, the first by (dump, file, record) is kept.
    Input: the join of `LineDedup(scope, digest=True)`; a kept document passes that join on to
    `LineDedupApply` (its unique-line hashes come with it)."""

    name = "duplicate_digest"
    what = "digest"

    def key(self, doc: Document) -> str:
        return doc.metadata.get("digest") or doc.id

    def order(self, doc: Document):
        m = doc.metadata
        return (m.get("dump", ""), m.get("file", ""), int(m.get("record", 0)), doc.id)

    def kept(self, element, doc: Document):
        return doc.id, {"doc": [doc], "uniq": element[1]["uniq"]}


class LineDedupApply(Stage):
    """Input: (id, {"doc": [document], "uniq": [hashes of its lines that occur once in the scope]}).
    Every other line of the document is a duplicate and is removed."""

    name = "line_dedup"
    counts_lines = True

    def results(self, element, **side):
        _, grouped = element
        docs, uniq = list(grouped["doc"]), set(grouped["uniq"])
        group_size().update(len(docs) + len(uniq), sum(len(d.text) for d in docs) + 8 * len(uniq))
        for doc in docs:
            dups = {h for h in line_hashes(doc.text) if h not in uniq}
            text, n_in, n_kept = remove_lines(doc.text, dups)
            out = doc.replace(text=text).with_metadata(original_nlines=n_in, nlines=n_kept)
            if n_kept == 0:
                yield Dropped("no_lines_left", out.replace(text=doc.text), f"all {n_in} lines are duplicates")
            else:
                yield out

    def lines_of(self, element, result) -> int:
        doc = result.doc if isinstance(result, Dropped) else result
        return int(doc.metadata["original_nlines"])


def _scope(doc: Document, scope: str) -> str:
    return doc.metadata.get("dump", "") if scope == "dump" else ""


class LinePayload:
    """A document's line-dedup record: (scope, its line hashes), 8 bytes a line instead of the text."""

    def __init__(self, scope: str):
        self.scope = scope

    def __call__(self, doc: Document):
        return _scope(doc, self.scope), tuple(line_hashes(doc.text))


class CountOwner(beam.CombineFn):
    """Per line hash: (occurrences capped at 2, smallest document id holding it). A bounded
    accumulator, lifted before the shuffle: only whether a hash occurs more than once matters, and a
    hash that occurs once has exactly one owner. A hot hash ("Skip to content", in 10^8 pages) costs
    one accumulator per bundle, never a list of its documents."""

    def create_accumulator(self):
        return (0, None)

    def add_input(self, acc, doc_id):
        n, owner = acc
        return (min(n + 1, 2), doc_id if owner is None or doc_id < owner else owner)

    def merge_accumulators(self, accs):
        n, owner = 0, None
        for m, o in accs:
            n = min(n + m, 2)
            if o is not None and (owner is None or o < owner):
                owner = o
        return (n, owner)

    def extract_output(self, acc):
        return acc


class CountOwners(CountOwner):
    """`CountOwner` plus the second smallest distinct document id: (count capped at 2, smallest,
    second smallest). Used instead of CountOwner only with `--ledger`: a `no_lines_left` document's
    owner of a line is the smallest id holding it other than its own (`Originals`). Still a
    bounded accumulator of two ids."""

    def create_accumulator(self):
        return (0, None, None)

    def add_input(self, acc, doc_id):
        return self.merge_accumulators([acc, (1, doc_id, None)])

    def merge_accumulators(self, accs):
        n, ids = 0, set()
        for m, a, b in accs:
            n = min(n + m, 2)
            ids.update(i for i in (a, b) if i is not None)
        low = sorted(ids)[:2]
        return (n, *low, *([None] * (2 - len(low))))


def _owners_as_owner(kv):
    """CountOwners' output in CountOwner's form, for `_unique_lines`."""
    key, (n, owner, _) = kv
    return key, (n, owner)


def _shared_line(kv):
    """((scope, hash), (n, smallest, second)) -> ((scope, hash), (ids...)) for a repeated line."""
    key, (n, a, b) = kv
    if n > 1:
        yield key, tuple(i for i in (a, b) if i is not None)


class LineKeys:
    """The (scope, hash) of each distinct line of a document (`Originals.keys` of no_lines_left)."""

    def __init__(self, scope: str):
        self.payload = LinePayload(scope)

    def __call__(self, doc: Document):
        scope, hashes = self.payload(doc)
        return sorted({(scope, h) for h in hashes})


def _line_elements(record):
    """(id, (scope, hashes)) -> ((scope, hash), id) for every content line (repeats included)."""
    doc_id, (scope, hashes) = record
    for h in hashes:
        yield (scope, h), doc_id


def _unique_lines(kv):
    """((scope, hash), (count, owner)) -> (owner, hash) for a hash that occurs exactly once."""
    (_, h), (n, owner) = kv
    if n == 1:
        yield owner, h


class LineDedup(beam.PTransform):
    """The shuffle half of line dedup (and of digest dedup with `digest=True`): documents ->
    (id, {"doc": [document], "uniq": [hashes of its lines occurring once in the scope]}, and
    "first": [digests this id won] with `digest=True`) for `DigestDedup` then `LineDedupApply`.

    No list of the documents of a line hash is ever built: `CountOwner` says per hash whether it
    occurs once and, if so, who holds it; a document's unique lines are joined back by its id (a
    group of one document plus at most its own lines), and every other line of it is a duplicate.
    With `digest=True` the line records come from the digest winners' small records (the winner
    carries its line hashes through the digest combine), so line dedup counts only the first copy of
    a page, and the documents are shuffled once for both dedups."""

    def __init__(self, scope: str, digest: bool = False, originals: dict | None = None):
        """`originals`: a Funnel's (with `--ledger`): digest winners and line owners are registered
        for the ledger (`CountOwners` instead of `CountOwner`); None: the graph without them."""
        super().__init__()
        self.scope = scope
        self.digest = digest
        self.originals = originals
        self.uniq = None  # after expand: the (id, hash) pairs sent into the join (for `count_join`)
        self.first = None  # after expand with digest: the (id, digest) winners sent into the join

    def expand(self, docs):
        payload = LinePayload(self.scope)
        tagged = {}
        if self.digest:
            winners = first_per_key(
                docs, DigestDedup(), payload=payload, label="first_digest", originals=self.originals
            )
            tagged["first"] = self.first = winners | "digest_winner" >> beam.Map(lambda kv: (kv[1][1], kv[0]))
            records = winners | "winner_lines" >> beam.Map(lambda kv: (kv[1][1], kv[1][2]))
        else:
            records = docs | "doc_lines" >> beam.Map(lambda d, f=payload: (d.id, f(d)))
        lines = records | "line_keys" >> beam.FlatMap(_line_elements)
        if self.originals is None:
            counted = lines | "count_lines" >> beam.CombinePerKey(CountOwner())
        else:
            owners = lines | "count_lines" >> beam.CombinePerKey(CountOwners())
            shared = owners | "shared_lines" >> beam.FlatMap(_shared_line)
            self.originals[(LineDedupApply.name, "no_lines_left")] = Originals(LineKeys(self.scope), shared)
            counted = owners | "count_owner" >> beam.Map(_owners_as_owner)
        tagged["uniq"] = counted | "unique_lines" >> beam.FlatMap(_unique_lines)
        self.uniq = tagged["uniq"]
        return join_by_id(docs, "join_lines", **tagged)


class Scored(Stage):
    """A threshold-only stage (docs/refilter.md): `annotate(doc)` measures (a model, in `setup()`),
    `decide(doc)` is the pure verdict on the recorded annotations and the stage's settings, so
    `lamina refilter` re-decides from stored annotations with the run's own code. `annotated`:
    the annotations are already there (annotate mode scored every document first, or refilter);
    the stage then only decides and loads no model."""

    annotated = False

    def annotate(self, doc: Document) -> Document:
        return doc

    def decide(self, doc: Document, **side) -> Document | Dropped:
        return doc

    def apply(self, doc: Document, **side) -> Document | Dropped:
        return self.decide(doc if self.annotated else self.annotate(doc), **side)


class Annotate(beam.DoFn):
    """Annotate mode: `stage.annotate` on every document (no decision, nothing dropped), so a
    document a threshold drops is still scored by the stages after it (its model loads once per
    worker, in `setup()`)."""

    def __init__(self, stage: Scored):
        self.stage = stage

    def setup(self):
        self.stage.setup()

    def process(self, doc):
        yield self.stage.annotate(doc)


class LanguageId(Scored):
    name = "language"

    def __init__(self, model: str, languages: tuple[str, ...], threshold: float):
        self.model = model
        self.languages = tuple(languages)
        self.threshold = threshold
        self._lid = None

    def setup(self):
        if self.annotated:
            return
        from lamina.filters.langid import LanguageIdentifier

        self._lid = LanguageIdentifier(localize(self.model))

    def annotate(self, doc: Document) -> Document:
        lang, score = self._lid.predict(doc.text.replace("\n", " "))
        return doc.with_metadata(language=lang, language_score=round(float(score), 4))

    def decide(self, doc: Document, **side) -> Document | Dropped:
        # on the recorded (rounded) score: the record explains the verdict, refilter repeats it
        lang, score = doc.metadata["language"], doc.metadata["language_score"]
        if lang not in self.languages or score < self.threshold:
            return Dropped("language", doc, f"{lang} {score:.3f}")
        return doc


MAX_PERPLEXITY = 1e9  # stored for documents with no scorable text (always the tail bucket)


class Perplexity(Scored):
    """Annotates the perplexity under the document's language's model (never drops). In annotate
    mode a document whose language has no LM here (a language the run does not keep) is left
    without `perplexity`: refilter refuses the settings that would need it."""

    name = "perplexity"

    def __init__(self, lm_dir: str, languages: tuple[str, ...], scoring: str = "document"):
        self.lm_dir = lm_dir.rstrip("/")
        self.languages = tuple(languages)
        self.scoring = scoring
        self._scorers: dict[str, Any] = {}

    def setup(self):
        if self.annotated:
            return
        from lamina.filters.perplexity import PerplexityScorer

        for lang in self.languages:
            sp = localize(f"{self.lm_dir}/{lang}.sp.model")
            lm = localize(f"{self.lm_dir}/{lang}.arpa.bin")
            self._scorers[lang] = PerplexityScorer(sp, lm, self.scoring)

    def annotate(self, doc: Document) -> Document:
        scorer = self._scorers.get(doc.metadata["language"])
        if scorer is None:  # annotate mode only: the stage itself sees kept languages only
            return doc
        ppl = float(scorer.perplexity(doc.text))
        # A text with no scorable line has infinite perplexity; JSON has no infinity, so cap it.
        return doc.with_metadata(perplexity=round(min(ppl, MAX_PERPLEXITY), 1))


def bucket_of(perplexity: float, cutoffs: tuple[float, float]) -> str:
    low, high = cutoffs
    return "head" if perplexity < low else "middle" if perplexity < high else "tail"


class Buckets(Scored):
    """head / middle / tail by the language's cutoffs: `fixed` {lang: (p30, p60)}, else read from the
    LM cards in `lm_dir` when the worker starts (`card_scoring`), else a side input computed from
    the run."""

    name = "buckets"

    def __init__(
        self, keep: tuple[str, ...], fixed: dict | None = None, lm_dir: str = "", card_scoring: str = ""
    ):
        self.keep = tuple(keep)
        self.fixed = dict(fixed) if fixed else None
        self.lm_dir = lm_dir
        self.card_scoring = card_scoring

    def setup(self):
        if self.fixed is None and self.lm_dir:
            from lamina.models.check import lm_cutoffs

            self.fixed = _CardCutoffs(self.lm_dir, self.card_scoring, lm_cutoffs)

    def decide(self, doc: Document, cutoffs=None, **side) -> Document | Dropped:
        cutoffs = self.fixed if self.fixed is not None else cutoffs
        lang = doc.metadata["language"]
        if lang not in cutoffs:
            raise KeyError(f"ccnet.cutoffs has no perplexity cutoffs for language {lang!r} (doc {doc.id})")
        bucket = bucket_of(doc.metadata["perplexity"], tuple(cutoffs[lang]))
        doc = doc.with_metadata(bucket=bucket)
        if bucket not in self.keep:
            return Dropped(
                f"perplexity_{bucket}",
                doc,
                f"perplexity {doc.metadata['perplexity']} cutoffs {cutoffs[lang]}",
            )
        return doc


class _CardCutoffs(dict):
    """{lang: (p30, p60)} read from `<lm_dir>/<lang>.card.json` on first use of each language."""

    def __init__(self, lm_dir: str, scoring: str, read):
        super().__init__()
        self.lm_dir, self.scoring, self.read = lm_dir, scoring, read

    def __missing__(self, lang):
        got = self.read(self.lm_dir, lang, self.scoring)
        if got is None:
            raise KeyError(f"{self.lm_dir}/{lang}.card.json has no {self.scoring} cutoffs")
        self[lang] = got
        return got

    def __contains__(self, lang):
        try:
            self[lang]
        except KeyError:
            return False
        return True


class WikiRef(Scored):
    name = "wikiref"

    def __init__(self, model: str, threshold: float):
        self.model = model
        self.threshold = threshold
        self._clf = None

    def setup(self):
        if self.annotated:
            return
        from lamina.filters.wikiref import WikiRefClassifier

        self._clf = WikiRefClassifier(localize(self.model))

    def annotate(self, doc: Document) -> Document:
        return doc.with_metadata(wiki_prob=round(float(self._clf.prob(doc.text)), 4))

    def decide(self, doc: Document, **side) -> Document | Dropped:
        p = doc.metadata["wiki_prob"]  # the recorded (rounded) value, as LanguageId's score
        if p < self.threshold:
            return Dropped("wikiref", doc, f"P(wiki) {p:.3f} < {self.threshold}")
        return doc


def _percentile_cutoffs(kv, percentiles):
    lang, quantiles = kv  # 101 quantiles: quantiles[k] is the k-th percentile
    return lang, (float(quantiles[percentiles[0]]), float(quantiles[percentiles[1]]))


class CCNet(beam.PTransform):
    """Documents (from `ReadWet`) -> kept, annotated documents; every stage registered in `funnel`."""

    def __init__(self, models, config: CCNetConfig, funnel: Funnel, cutoffs: dict | None = None):
        """`models`: a `ModelPaths` (lid, lm, wikiref), or a `lamina models` folder. `cutoffs`: the
        fixed ones `model_paths.prepare` resolved, {lang: {"p30", "p60", "origin"}}; None or {} with
        `cutoffs = "model"`: the workers read the LM cards."""
        super().__init__()
        if isinstance(models, str):
            from lamina.pipelines.model_paths import ModelPaths

            root = models.rstrip("/")
            models = ModelPaths(f"{root}/lid/lid.bin", f"{root}/lm", f"{root}/wikiref/wikiref.bin")
        self.models = models
        self.config = config
        self.funnel = funnel
        self.cutoffs = cutoffs or {}
        self.scored_drops: list = []  # after expand: the drops of the threshold-only stages

    def expand(self, docs):
        cfg, f = self.config, self.funnel
        docs = f.apply(docs, TooShort(cfg.min_length))
        f.measure("length", TooShort.name, text_length, thresholds=[("min_length", "keep >=")])
        dedup = LineDedup(cfg.dedup_scope, digest=cfg.digest_dedup, originals=f.originals)
        joined = docs | "dedup_shuffle" >> dedup
        count_join(f, LineDedupApply.name, "uniq", dedup.uniq, joined, "uniq")  # a lost hash: a failed run
        if cfg.digest_dedup:
            count_join(f, DigestDedup.name, "first", dedup.first, joined, "first")
            joined = f.apply(joined, DigestDedup())
        docs = f.apply(joined, LineDedupApply())
        return self.scored(docs, annotated=False)

    def scored(self, docs, annotated: bool):
        """The threshold-only stages after line dedup (LID -> perplexity -> buckets -> wikiref),
        each a per-document decision on annotations. `annotated`: the documents already carry
        them (`lamina refilter` re-deciding stored documents): no model loads. Otherwise with
        `annotate` set, every document reaching LID is scored by every model first, and the drops
        of these stages are kept in `scored_drops` (corpus.py writes them under annotated/)."""
        cfg, f = self.config, self.funnel
        first = len(f.drops)
        lid = LanguageId(self.models.lid, cfg.languages, cfg.lid_threshold)
        ppl = Perplexity(self.models.lm, cfg.languages, cfg.scoring)
        wiki = WikiRef(self.models.wikiref, cfg.wikiref_threshold) if cfg.wikiref else None
        if cfg.annotate and not annotated:
            for stage in (lid, ppl, wiki):
                if stage is not None:
                    # a copy: the stage below only decides (it loads no model)
                    docs = docs | f"annotate_{stage.name}" >> beam.ParDo(Annotate(copy.copy(stage)))
            annotated = True
        for stage in (lid, ppl, wiki):
            if stage is not None:
                stage.annotated = annotated
        docs = f.apply(docs, lid)
        f.measure(
            "language_score",
            LanguageId.name,
            Meta("language_score"),
            group=Meta("language"),
            thresholds=[("lid_threshold", "keep >=")],
        )
        docs = f.apply(docs, ppl)
        if cfg.cutoffs == "run":
            cutoffs = (
                docs
                | "lang_ppl" >> beam.Map(lambda d: (d.metadata["language"], d.metadata["perplexity"]))
                | "quantiles" >> beam.transforms.stats.ApproximateQuantiles.PerKey(num_quantiles=101)
                | "cutoffs" >> beam.Map(_percentile_cutoffs, percentiles=cfg.cutoff_percentiles)
            )
            f.setting(
                "cutoffs_applied",
                cutoffs
                | "cutoffs_dict" >> beam.combiners.ToDict()
                | "cutoffs_origin"
                >> beam.Map(
                    lambda d, p=cfg.cutoff_percentiles: {
                        k: {"p30": v[0], "p60": v[1], "origin": f"run: p{p[0]}/p{p[1]} of this run"}
                        for k, v in sorted(d.items())
                    }
                ),
            )
            buckets = Buckets(cfg.keep_buckets)
            buckets.annotated = annotated
            docs = f.apply(docs, buckets, cutoffs=beam.pvalue.AsDict(cutoffs))
        else:
            fixed = {k: (v["p30"], v["p60"]) for k, v in self.cutoffs.items()} or cfg.given_cutoffs()
            f.setting(
                "cutoffs_applied",
                docs.pipeline
                | "cutoffs_fixed"
                >> beam.Create(
                    [self.cutoffs or {"origin": f"model cards in {self.models.lm} (read by workers)"}]
                ),
            )
            buckets = Buckets(cfg.keep_buckets, fixed=fixed, lm_dir=self.models.lm, card_scoring=cfg.scoring)
            buckets.annotated = annotated
            docs = f.apply(docs, buckets)
        # every page that reached the buckets, drawn by bucket; the cutoffs: settings.cutoffs_applied
        f.measure(
            "perplexity",
            Buckets.name,
            Meta("perplexity"),
            group=Meta("language"),
            kept_outcome=Meta("bucket"),
        )
        if wiki is not None:
            docs = f.apply(docs, wiki)
            f.measure(
                "wiki_prob", WikiRef.name, Meta("wiki_prob"), thresholds=[("wikiref_threshold", "keep >=")]
            )
        self.scored_drops = f.drops[first:]
        return docs


# The stages `scored` runs, in order: what `lamina refilter` re-decides (docs/refilter.md).
SCORED_STAGES = ("language", "perplexity", "buckets", "wikiref")


def output_name(doc: Document) -> str:
    """`<lang>_<bucket>`, the CC output file of a document (interfaces.md)."""
    return f"{doc.metadata['language']}_{doc.metadata['bucket']}"
