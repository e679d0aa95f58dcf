"""Document perplexity under a per-language KenLM model, as cc_net computes it.

Text is normalized (`lamina.filters.normalize.normalize`: lowercase, accents stripped, digits -> 0,
punctuation mapped, control characters removed), cut into SentencePiece pieces and scored by the
5-gram model (log10, with <s> and </s>). Perplexity = 10^(-sum(scores) / sum(pieces + 1)), rounded
to 0.1 as cc_net stores it. Two scorings (`SCORINGS`):
  document  cc_net's: the WHOLE document is normalized as one text. cc_net's normalization removes
            control characters, newlines included, so the lines are glued into one long "line" and
            scored once. cc_net's published cutoffs (en 340/520) only mean something this way.
  line      each non-blank line normalized and scored on its own, the sums taken over lines.
The models are trained on normalized Wikipedia lines by `lamina models`. Loaded on first use; not
pickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lamina.filters.normalize import normalize

SCORINGS = ("document", "line")


def pieces(sp: Any, line: str) -> list[str]:
    """SentencePiece pieces of one normalized line (empty for a blank line)."""
    norm = normalize(line)
    return sp.encode(norm, out_type=str) if norm else []


class PerplexityScorer:
    """`perplexity(text) -> float` (lower = more like the language's Wikipedia)."""

    def __init__(self, sp_model: str | Path, kenlm_model: str | Path, scoring: str = "document"):
        if scoring not in SCORINGS:
            raise ValueError(f"perplexity scoring must be one of {', '.join(SCORINGS)}, not {scoring!r}")
        self.sp_model = str(sp_model)
        self.kenlm_model = str(kenlm_model)
        self.scoring = scoring
        self._sp: Any = None
        self._lm: Any = None

    def _load(self) -> None:
        import kenlm
        import sentencepiece

        for path in (self.sp_model, self.kenlm_model):
            if not Path(path).is_file():
                raise FileNotFoundError(f"perplexity model not found: {path} (train it with `lamina models`)")
        self._sp = sentencepiece.SentencePieceProcessor(model_file=self.sp_model)
        self._lm = kenlm.Model(self.kenlm_model)

    def log_score(self, text: str, scoring: str | None = None) -> tuple[float, int]:
        """(sum of log10 scores, sum of pieces + 1 per scored unit): the whole document as one unit
        (`document`) or each non-blank line (`line`)."""
        if self._lm is None:
            self._load()
        units = [text] if (scoring or self.scoring) == "document" else text.split("\n")
        total, length = 0.0, 0
        for unit in units:
            toks = pieces(self._sp, unit)
            if toks:
                total += self._lm.score(" ".join(toks), bos=True, eos=True)
                length += len(toks) + 1
        return total, length

    def perplexity(self, text: str, scoring: str | None = None) -> float:
        """Perplexity of the document; +inf for a text with nothing to score."""
        total, length = self.log_score(text, scoring)
        if length == 0:
            return float("inf")
        return round(10.0 ** (-total / length), 1)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_sp": None, "_lm": None}
