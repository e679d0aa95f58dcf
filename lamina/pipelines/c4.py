"""The C4 pipeline as one composite PTransform, over C4-style json pages or the CC WET documents.

Stage order, TFDS `c4.py`'s: read -> too_long (190,000 characters) -> duplicate_url (newest page per
normalized URL) -> clean (TFDS `clean_page`: lorem_ipsum, curly_bracket, too_few_sentences) -> line
dedup (too_few_sentences) -> bad_words -> language (TFDS's test by default: langdetect, seeded, says
English with probability >= 0.99; or fastText LID with its own threshold; TFDS identifies the
language last, because cleaning can change a page's main language).

The rules themselves are the pure functions of `lamina.filters.c4`; this module only wires them.
Line dedup is a Beam shuffle: every line keyed by md5 of its stripped lowercased text is kept in one
page only, the page with the smallest md5(url) (TFDS's choice; ties by id), found with a combiner.
"""

from __future__ import annotations

import apache_beam as beam

from lamina.documents import Document
from lamina.filters import c4 as rules
from lamina.pipelines.accounting import (
    Dropped,
    Funnel,
    KeepFirst,
    KeepFirstDedup,
    Meta,
    MinCount,
    Originals,
    Stage,
    count_join,
    group_size,
    text_length,
)
from lamina.pipelines.options import C4PipelineConfig
from lamina.pipelines.readers import localize


def _rules_config(cfg: C4PipelineConfig) -> rules.C4Config:
    return rules.C4Config(
        min_words_per_line=cfg.min_words_per_line,
        min_sentences=cfg.min_sentences,
        max_word_length=cfg.max_word_length,
        max_page_length=cfg.max_page_length,
    )


def _timestamp(doc: Document) -> str:
    return str(doc.metadata.get("timestamp") or doc.metadata.get("date") or "")


class TooLong(Stage):
    name = "too_long"

    def __init__(self, cfg: rules.C4Config):
        self.cfg = cfg

    def apply(self, doc, **side):
        if rules.is_too_long(doc.text, self.cfg):
            return Dropped(rules.TOO_LONG, doc, f"{len(doc.text)} > {self.cfg.max_page_length} characters")
        return doc


class UrlDedup(KeepFirst):
    """Of the pages with one normalized URL, the newest (timestamp) is kept; ties: smallest id.
    Found on small records and joined back by id (accounting.KeepFirst): no worker holds the pages
    of one URL."""

    name = "duplicate_url"
    what = "url"

    def key(self, doc: Document) -> str:
        return rules.normalize_url(doc.metadata.get("url", "")) or doc.id

    def order(self, doc: Document):
        return (_neg(_timestamp(doc)), doc.id)

    def detail(self, key: str) -> str:
        return f"a newer page has the same URL ({key})"


def _neg(s: str) -> tuple:
    """Sort key that orders strings descending (newest ISO timestamp first)."""
    return tuple(-ord(c) for c in s) + (1,)


class Clean(Stage):
    name = "clean"
    counts_lines = True

    def __init__(self, cfg: rules.C4Config):
        self.cfg = cfg

    def apply(self, doc, **side):
        r = rules.clean_page(doc.text, self.cfg)
        if not r.kept:
            return Dropped(r.reason, doc)
        return doc.replace(text=r.text)

    def lines_of(self, element, result):
        return sum(1 for line in element.text.splitlines() if line.strip())


class LineDedupApply(Stage):
    """Input: (id, {"doc": [page], "owned": [line keys this page owns]})."""

    name = "line_dedup"
    counts_lines = True

    def __init__(self, cfg: rules.C4Config):
        self.cfg = cfg

    def results(self, element, **side):
        _, grouped = element
        docs, owned = list(grouped["doc"]), set(grouped["owned"])
        group_size().update(
            len(docs) + len(owned), sum(len(d.text) for d in docs) + sum(len(str(k)) for k in owned)
        )
        for doc in docs:
            r = rules.remove_duplicate_lines(doc.text, owned, self.cfg)
            yield Dropped(r.reason, doc, "after line dedup") if not r.kept else doc.replace(text=r.text)

    def lines_of(self, element, result):
        doc = result.doc if isinstance(result, Dropped) else element[1]["doc"][0]
        return len(doc.text.split("\n"))


def _line_claims(doc: Document):
    rank = rules.line_owner_rank(doc.metadata.get("url", ""))
    for key in sorted({rules.c4_line_key(line) for line in doc.text.split("\n")}):
        yield key, (rank, doc.id)


class LineKeys:
    """The line keys of a page (`Originals.keys` of a page dropped after line dedup)."""

    def __call__(self, doc: Document):
        return sorted({rules.c4_line_key(line) for line in doc.text.split("\n")})


def _shared_line(kv):
    """(line key, ((rank, id), pages)) -> (line key, (owner id,)) for a line in several pages."""
    key, ((_, owner), n) = kv
    if n > 1:
        yield key, (owner,)


class BadWords(Stage):
    name = "bad_words"

    def __init__(self, path: str, language: str):
        self.path = path
        self.language = language
        self._re = None

    def setup(self):
        self._re = rules.compile_bad_words(
            rules.load_bad_words(localize(self.path), self.language), self.language
        )

    def apply(self, doc, **side):
        word = rules.find_bad_word(doc.text, self._re)
        return Dropped(rules.BAD_WORDS, doc, "a listed word") if word else doc


class Language(Stage):
    """`model`: "langdetect" (TFDS: on the page text as it is) or the path of a fastText LID model
    (on the text with newlines removed, as cc_net). Threshold-only, like CCNet's `Scored` stages:
    `annotate` measures, `decide` is the pure verdict on the recorded score (`lamina refilter`
    re-decides with `annotated` set, loading no model)."""

    name = "language"
    annotated = False

    def __init__(self, model: str, language: str, threshold: float):
        self.model = model
        self.language = language
        self.threshold = threshold
        self._lid = None

    def setup(self):
        if self.annotated:
            return
        from lamina.filters.langid import LangDetect, LanguageIdentifier

        self._lid = LangDetect() if self.model == "langdetect" else LanguageIdentifier(localize(self.model))

    def annotate(self, doc):
        text = doc.text if self.model == "langdetect" else doc.text.replace("\n", " ")
        lang, score = self._lid.predict(text)
        return doc.with_metadata(language=lang, language_score=round(float(score), 4))

    def decide(self, doc, **side):
        lang, score = doc.metadata["language"], doc.metadata["language_score"]  # the recorded score
        if lang != self.language or score < self.threshold:
            return Dropped("language", doc, f"{lang} {score:.3f}")
        return doc

    def apply(self, doc, **side):
        return self.decide(doc if self.annotated else self.annotate(doc))


class C4(beam.PTransform):
    """Pages -> C4-clean pages; every stage registered in `funnel`."""

    def __init__(self, lid_model: str, badwords: str, config: C4PipelineConfig, funnel: Funnel):
        """`lid_model`: the fastText LID path (used with language_id = "fasttext")."""
        super().__init__()
        self.lid_model = lid_model
        self.badwords = badwords
        self.config = config
        self.funnel = funnel
        self.scored_drops: list = []  # after expand: the drops of the language stage

    def expand(self, docs):
        cfg, f = self.config, self.funnel
        rc = _rules_config(cfg)
        docs = f.apply(docs, TooLong(rc))
        f.measure("length", TooLong.name, text_length, thresholds=[("max_page_length", "keep <=")])
        docs = f.apply(docs | "url_dedup_shuffle" >> KeepFirstDedup(UrlDedup(), f), UrlDedup())
        docs = f.apply(docs, Clean(rc))
        claims = docs | "line_claims" >> beam.FlatMap(_line_claims)
        if f.originals is None:
            owners = claims | "line_owner" >> beam.CombinePerKey(min)
        else:  # --ledger: a page dropped after line dedup names the majority owner of its lines
            counted = claims | "line_owner" >> beam.CombinePerKey(MinCount())
            shared = counted | "shared_lines" >> beam.FlatMap(_shared_line)
            f.originals[(LineDedupApply.name, rules.TOO_FEW_SENTENCES)] = Originals(LineKeys(), shared)
            owners = counted | "line_owner_first" >> beam.Map(lambda kv: (kv[0], kv[1][0]))
        owned = owners | "owner_id" >> beam.Map(lambda kv: (kv[1][1], kv[0]))
        joined = {"doc": docs | "page_by_id" >> beam.Map(lambda d: (d.id, d)), "owned": owned} | (
            "join_owned" >> beam.CoGroupByKey()
        )
        count_join(f, LineDedupApply.name, "owned", owned, joined, "owned")  # a lost key: a failed run
        docs = f.apply(joined, LineDedupApply(rc))
        docs = f.apply(docs, BadWords(self.badwords, "en" if cfg.language == "all" else cfg.language))
        if cfg.language != "all":  # TFDS's lang="all" keeps every language and skips language id
            docs = self.scored(docs, annotated=False)
        return docs

    def scored(self, docs, annotated: bool):
        """The language stage, C4's only threshold-only stage (it is last: every page reaching it is
        scored). `annotated`: the pages carry their score (`lamina refilter`): no model loads. Its
        drops are kept in `scored_drops` (written under annotated/ with `annotate`)."""
        cfg, f = self.config, self.funnel
        if cfg.language_id == "langdetect":
            lid = Language("langdetect", cfg.language, cfg.lid_threshold)
        else:
            lid = Language(self.lid_model, cfg.language, cfg.fasttext_threshold)
        lid.annotated = annotated
        docs = f.apply(docs, lid)
        self.scored_drops = [f.drops[-1]]
        threshold = "lid_threshold" if cfg.language_id == "langdetect" else "fasttext_threshold"
        f.measure(  # every page that reached language id, the dropped ones included
            "language_score",
            Language.name,
            Meta("language_score"),
            group=Meta("language"),
            thresholds=[(threshold, "keep >=")],
        )
        return docs
