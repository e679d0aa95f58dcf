"""`lamina bench langid`: LID trained on lingua's 75-language sentences, measured on the Universal
Declaration of Human Rights paragraph by paragraph for the 20 LLaMA Wikipedia languages.
(`lamina bench c4lang` is `c4lang.py`.)"""

from __future__ import annotations

import argparse
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from lamina.filters.langid import LanguageIdentifier
from lamina.models.common import REPO, accuracy
from lamina.models.lid import LidConfig, lid_examples_from_corpus, train_lid
from lamina.models.wikipedia import paragraphs

SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_MULTILINGUAL = SHARED_DATA / "multilingual"
# The 20 languages of LLaMA's Wikipedia, and the UDHR file that holds each (ISO 639-3 names; Serbian
# in Cyrillic like lingua's sr.txt; both Portuguese variants).
LLAMA_LANGUAGES = ("bg", "ca", "cs", "da", "de", "en", "es", "fr", "hr", "hu",
                   "it", "nl", "pl", "pt", "ro", "ru", "sl", "sr", "sv", "uk")  # fmt: skip
UDHR_FILES = {
    "bg": ["bul"], "ca": ["cat"], "cs": ["ces"], "da": ["dan"], "de": ["deu"], "en": ["eng"],
    "es": ["spa"], "fr": ["fra"], "hr": ["hrv"], "hu": ["hun"], "it": ["ita"], "nl": ["nld"],
    "pl": ["pol"], "pt": ["por_PT", "por_BR"], "ro": ["ron"], "ru": ["rus"], "sl": ["slv"],
    "sr": ["srp_cyrl"], "sv": ["swe"], "uk": ["ukr"],
}  # fmt: skip


def udhr_paragraphs(
    zip_path: Path, languages: Iterable[str] = LLAMA_LANGUAGES, min_chars: int = 100
) -> list[tuple[str, str]]:
    """(lang, paragraph) for each line of 100+ characters of the UDHR files of `languages`."""
    out = []
    with zipfile.ZipFile(zip_path) as z:
        for lang in languages:
            for name in UDHR_FILES[lang]:
                text = z.read(f"udhr2/{name}.txt").decode("utf-8")
                out += [(lang, p) for p in paragraphs(text, min_chars)]
    return out


def udhr_accuracy(lid_path: Path, zip_path: Path, languages: Iterable[str] = LLAMA_LANGUAGES) -> dict:
    """Accuracy of a LID model on UDHR paragraphs: overall, per language, and the confusions."""
    lid = LanguageIdentifier(lid_path)
    examples = udhr_paragraphs(zip_path, languages)
    preds = [lang for lang, _ in lid.predict_many([t for _, t in examples])]
    confusions = Counter(
        (gold, pred) for (gold, _), pred in zip(examples, preds, strict=True) if gold != pred
    )
    acc, per = accuracy(lambda texts: preds, examples)
    return {"paragraphs": len(examples), "accuracy": acc, "per_language": per,
            "confusions": {f"{g}->{p}": n for (g, p), n in confusions.most_common()}}  # fmt: skip


def bench(argv: list[str] | None = None) -> dict:
    """Train LID on lingua's sentences (75 languages) and print its UDHR paragraph accuracy."""
    ap = argparse.ArgumentParser(prog="lamina bench langid")
    ap.add_argument(
        "--data", type=Path, default=SHARED_MULTILINGUAL, help="holds lingua_sentences/ and udhr2.zip"
    )
    args = ap.parse_args(argv or [])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        card = train_lid(lid_examples_from_corpus(args.data / "lingua_sentences"), Path(tmp), LidConfig(),
                         {"corpus": "lingua_sentences"})  # fmt: skip
        seconds = time.time() - t0
        result = udhr_accuracy(Path(tmp) / "lid" / "lid.bin", args.data / "udhr2.zip")
    print(f"LID trained on lingua_sentences ({len(card['labels'])} languages) in {seconds:.1f} s; "
          f"held-out sentence accuracy {card['held_out']['accuracy']}")  # fmt: skip
    print(
        f"UDHR, {result['paragraphs']} paragraphs of 100+ chars, 20 LLaMA languages: accuracy {result['accuracy']}"
    )
    print("  " + " ".join(f"{k}={v:.2f}" for k, v in result["per_language"].items()))
    if result["confusions"]:
        print("  confusions: " + ", ".join(f"{k} x{v}" for k, v in list(result["confusions"].items())[:10]))
    return {**result, "train_seconds": round(seconds, 1), "held_out_accuracy": card["held_out"]["accuracy"]}
