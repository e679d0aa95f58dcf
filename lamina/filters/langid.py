"""Language identification with a fastText supervised model (cc_net's step: top-1 label on the text
with newlines removed; the pipeline drops documents scoring under its threshold, 0.5 in cc_net).

Works with the model `lamina models` trains (`<models>/lid/lid.bin`) and with fastText's own
`lid.176.bin` alike: both label classes `__label__<code>`. The model is loaded on first use and not
pickled, so a Beam `DoFn` can hold a `LanguageIdentifier` and ship it cheaply to workers.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

LABEL_PREFIX = "__label__"
_LOAD_LOCK = threading.Lock()


def load_fasttext(path: str | Path) -> Any:
    """Load a fastText model quietly (fastText warns on stderr about `load_model` for every
    supervised model) with a clear error when the file is missing."""
    import fasttext
    import fasttext.FastText

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"fastText model not found: {path} (train it with `lamina models`)")
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    return fasttext.load_model(str(path))


def one_line(text: str) -> str:
    """The text on one line with runs of whitespace collapsed: fastText reads one example per line."""
    return " ".join(text.split())


class LazyFastText:
    """A fastText model by path, loaded on first use of `model` (once, even when several threads of a
    Beam worker ask at the same time) and never pickled: a DoFn holding one ships only the path."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            with _LOAD_LOCK:
                if self._model is None:
                    self._model = load_fasttext(self.path)
        return self._model

    def __getstate__(self) -> dict:
        return {"path": self.path, "_model": None}


class LanguageIdentifier(LazyFastText):
    """`predict(text) -> (lang, score)`: the top-1 language code and its probability."""

    def labels(self) -> list[str]:
        """The language codes the model knows."""
        return [label.removeprefix(LABEL_PREFIX) for label in self.model.get_labels()]

    def predict(self, text: str) -> tuple[str, float]:
        return self.predict_many([text])[0]

    def predict_many(self, texts: list[str]) -> list[tuple[str, float]]:
        """Batch prediction. (fastText 0.9.3 with numpy 2 fails on `predict(str)`; a list works.)
        Empty texts get ("", 0.0)."""
        lines = [one_line(t) for t in texts]
        todo = [i for i, line in enumerate(lines) if line]
        out: list[tuple[str, float]] = [("", 0.0)] * len(lines)
        if todo:
            labels, probs = self.model.predict([lines[i] for i in todo], k=1)
            for i, label, prob in zip(todo, labels, probs, strict=True):
                out[i] = (label[0].removeprefix(LABEL_PREFIX), min(1.0, float(prob[0])))
        return out


class LangDetect:
    """C4's language test as TFDS runs it (`c4_utils.is_language`): `langdetect` 1.0.9 with
    `DetectorFactory.seed = 0` (deterministic), top prediction and its probability on the page text.
    `predict(text) -> (lang, prob)`; ("", 0.0) where langdetect finds no features (TFDS counts that
    as not the language). Pure Python: docs/models.md gives its cost per document."""

    def __init__(self) -> None:
        self._detect: Any = None

    def _load(self) -> None:
        import langdetect
        from langdetect.lang_detect_exception import LangDetectException

        with _LOAD_LOCK:
            langdetect.DetectorFactory.seed = 0  # TFDS: "make langdetect predictions deterministic"
            self._error = LangDetectException
            self._detect = langdetect.detect_langs

    def predict(self, text: str) -> tuple[str, float]:
        if self._detect is None:
            self._load()
        try:
            predictions = self._detect(text)
        except self._error:
            return "", 0.0
        if not predictions:
            return "", 0.0
        return predictions[0].lang, float(predictions[0].prob)

    def __getstate__(self) -> dict:
        return {"_detect": None}
