"""Document perplexity under a per-language KenLM model, as cc_net computes it.

Each line is normalized (`lamina.filters.normalize.normalize`: lowercase, accents stripped, digits
-> 0, punctuation mapped), cut into SentencePiece pieces and scored by the 5-gram model (log10, with
<s> and </s>). Document perplexity = 10^(-sum(line scores) / sum(pieces + 1 per line)), rounded to
0.1 as cc_net stores it. (cc_net normalizes the whole document before splitting it into lines, and
its normalization removes newlines, so it effectively scores one long line; we score real lines,
as the formula and the models' training text intend.)

The models are trained on the same normalized, tokenized Wikipedia lines by `lamina models`.
Loaded on first use; not pickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lamina.filters.normalize import normalize


def pieces(sp: Any, line: str) -> list[str]:
    """SentencePiece pieces of one normalized line (empty for a blank line)."""
    norm = normalize(line)
    return sp.encode(norm, out_type=str) if norm else []


class PerplexityScorer:
    """`perplexity(text) -> float` (lower = more like the language's Wikipedia)."""

    def __init__(self, sp_model: str | Path, kenlm_model: str | Path):
        self.sp_model = str(sp_model)
        self.kenlm_model = str(kenlm_model)
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

    def log_score(self, text: str) -> tuple[float, int]:
        """(sum of log10 line scores, sum of pieces + 1 per line) over the non-blank lines."""
        if self._lm is None:
            self._load()
        total, length = 0.0, 0
        for line in text.split("\n"):
            toks = pieces(self._sp, line)
            if toks:
                total += self._lm.score(" ".join(toks), bos=True, eos=True)
                length += len(toks) + 1
        return total, length

    def perplexity(self, text: str) -> float:
        """Perplexity of the document; +inf for a text with no scorable line."""
        total, length = self.log_score(text)
        if length == 0:
            return float("inf")
        return round(10.0 ** (-total / length), 1)

    def __getstate__(self) -> dict:
        return {"sp_model": self.sp_model, "kenlm_model": self.kenlm_model, "_sp": None, "_lm": None}
