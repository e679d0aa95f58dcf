"""The CCNet pipeline as one composite PTransform: WET documents in, annotated kept documents out.

Stage order (each a setting in `CCNetConfig`):
  read (too_long, malformed_record, invalid_utf8; readers.py)
  -> too_short: fewer than `min_length` characters
  -> duplicate_digest: exact dedup on WARC-Block-Digest; the first occurrence by (dump, file, record)
     wins. It runs BEFORE line dedup: with a run-wide line-dedup scope, two copies of one page would
     otherwise make every line of both copies a duplicate and erase both. (RedPajama's digest dedup is
     not a cc_net stage, so cc_net's own order below is unchanged.)
  -> line dedup (no_lines_left): cc_net semantics, a line whose hash occurs more than once in the
     scope ("run" or "dump") is removed everywhere, its first occurrence included; done as a Beam
     shuffle (line hash -> document ids), never a set held by one worker
  -> language: fastText LID on the text with newlines removed; kept languages, score >= threshold
  -> perplexity: per-language SentencePiece + KenLM (annotates only), the whole document scored as
     one text (`scoring = "document"`, cc_net's) or line by line
  -> buckets (perplexity_tail): cutoffs per language, fixed (the LM card's, a preset or given numbers:
     a document's bucket does not depend on the rest of the run) or this run's p30/p60 ("run");
     head < p30 <= middle < p60 <= tail; buckets not in `keep_buckets` are dropped
  -> wikiref: P(wiki) of the Wikipedia-reference classifier >= threshold (can be disabled)
Kept documents carry cc_net's fields: language, language_score, perplexity, bucket, wiki_prob,
original_nlines, nlines.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from lamina.documents import Document
from lamina.filters.lines import line_hashes, remove_lines
from lamina.pipelines.accounting import Dropped, Funnel, KeepFirst, Stage
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
    """Input: (digest, documents with that digest). The first by (dump, file, record) is kept."""

    name = "duplicate_digest"
    what = "digest"

    def order(self, doc: Document):
        m = doc.metadata
        return (m.get("dump", ""), m.get("file", ""), int(m.get("record", 0)), doc.id)


class LineDedupApply(Stage):
    """Input: (id, {"doc": [document], "dups": [line hashes that are duplicates in its scope]})."""

    name = "line_dedup"
    counts_lines = True

    def results(self, element, **side):
        _, grouped = element
        dups = set(grouped["dups"])
        for doc in grouped["doc"]:
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


def _line_keys(doc: Document, scope: str):
    s = _scope(doc, scope)
    for h in line_hashes(doc.text):
        yield (s, h), doc.id


def _duplicates(kv):
    """(scope, hash), ids -> (id, hash) for every document holding a line seen more than once."""
    (_, h), ids = kv
    ids = list(ids)
    if len(ids) > 1:
        for doc_id in sorted(set(ids)):
            yield doc_id, h


class LineDedup(beam.PTransform):
    """The shuffle half of line dedup: documents -> (id, {"doc", "dups"}) for `LineDedupApply`."""

    def __init__(self, scope: str):
        super().__init__()
        self.scope = scope

    def expand(self, docs):
        dups = (
            docs
            | "line_keys" >> beam.FlatMap(_line_keys, scope=self.scope)
            | "group_lines" >> beam.GroupByKey()
            | "duplicate_lines" >> beam.FlatMap(_duplicates)
        )
        by_id = docs | "doc_by_id" >> beam.Map(lambda d: (d.id, d))
        return {"doc": by_id, "dups": dups} | "join_dups" >> beam.CoGroupByKey()


class LanguageId(Stage):
    name = "language"

    def __init__(self, model: str, languages: tuple[str, ...], threshold: float):
        self.model = model
        self.languages = tuple(languages)
        self.threshold = threshold
        self._lid = None

    def setup(self):
        from lamina.filters.langid import LanguageIdentifier

        self._lid = LanguageIdentifier(localize(self.model))

    def apply(self, doc: Document, **side) -> Document | Dropped:
        lang, score = self._lid.predict(doc.text.replace("\n", " "))
        doc = doc.with_metadata(language=lang, language_score=round(float(score), 4))
        if lang not in self.languages or score < self.threshold:
            return Dropped("language", doc, f"{lang} {score:.3f}")
        return doc


MAX_PERPLEXITY = 1e9  # stored for documents with no scorable text (always the tail bucket)


class Perplexity(Stage):
    """Annotates the perplexity under the document's language's model (never drops)."""

    name = "perplexity"

    def __init__(self, lm_dir: str, languages: tuple[str, ...], scoring: str = "document"):
        self.lm_dir = lm_dir.rstrip("/")
        self.languages = tuple(languages)
        self.scoring = scoring
        self._scorers: dict[str, Any] = {}

    def setup(self):
        from lamina.filters.perplexity import PerplexityScorer

        for lang in self.languages:
            sp = localize(f"{self.lm_dir}/{lang}.sp.model")
            lm = localize(f"{self.lm_dir}/{lang}.arpa.bin")
            self._scorers[lang] = PerplexityScorer(sp, lm, self.scoring)

    def apply(self, doc: Document, **side) -> Document | Dropped:
        ppl = float(self._scorers[doc.metadata["language"]].perplexity(doc.text))
        # A text with no scorable line has infinite perplexity; JSON has no infinity, so cap it.
        return doc.with_metadata(perplexity=round(min(ppl, MAX_PERPLEXITY), 1))


def bucket_of(perplexity: float, cutoffs: tuple[float, float]) -> str:
    low, high = cutoffs
    return "head" if perplexity < low else "middle" if perplexity < high else "tail"


class Buckets(Stage):
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

    def apply(self, doc: Document, cutoffs=None, **side) -> Document | Dropped:
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


class WikiRef(Stage):
    name = "wikiref"

    def __init__(self, model: str, threshold: float):
        self.model = model
        self.threshold = threshold
        self._clf = None

    def setup(self):
        from lamina.filters.wikiref import WikiRefClassifier

        self._clf = WikiRefClassifier(localize(self.model))

    def apply(self, doc: Document, **side) -> Document | Dropped:
        p = float(self._clf.prob(doc.text))
        doc = doc.with_metadata(wiki_prob=round(p, 4))
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

    def expand(self, docs):
        cfg, f = self.config, self.funnel
        f.distribution(docs | "length" >> beam.Map(lambda d: ("", d.id, len(d.text))), "length")
        docs = f.apply(docs, TooShort(cfg.min_length))
        if cfg.digest_dedup:
            grouped = (
                docs
                | "key_digest" >> beam.Map(lambda d: (d.metadata.get("digest") or d.id, d))
                | "group_digest" >> beam.GroupByKey()
            )
            docs = f.apply(grouped, DigestDedup())
        docs = f.apply(docs | "line_dedup_shuffle" >> LineDedup(cfg.dedup_scope), LineDedupApply())
        docs = f.apply(docs, LanguageId(self.models.lid, cfg.languages, cfg.lid_threshold))
        lid_all = (
            docs,
            f.drops[-1] | "lid_dropped_docs" >> beam.Map(lambda sd: sd[1].doc),
        ) | "lid_all" >> beam.Flatten()
        f.distribution(
            lid_all
            | "lid_scores"
            >> beam.Map(lambda d: (d.metadata["language"], d.id, d.metadata["language_score"])),
            "language_score",
        )
        docs = f.apply(docs, Perplexity(self.models.lm, cfg.languages, cfg.scoring))
        f.distribution(
            docs
            | "ppl_values" >> beam.Map(lambda d: (d.metadata["language"], d.id, d.metadata["perplexity"])),
            "perplexity",
        )
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
            docs = f.apply(docs, buckets)
        if cfg.wikiref:
            docs = f.apply(docs, WikiRef(self.models.wikiref, cfg.wikiref_threshold))
        return docs


def output_name(doc: Document) -> str:
    """`<lang>_<bucket>`, the CC output file of a document (interfaces.md)."""
    return f"{doc.metadata['language']}_{doc.metadata['bucket']}"
