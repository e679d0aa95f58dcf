"""Language id: a fastText supervised model with character n-grams (lid.176's settings), trained on
Wikipedia paragraphs labelled with the dump's language, or on a labelled corpus.

Memory: examples are drawn per language with a seeded reservoir of `max_per_language` (+ its
held-out share), so a full dump never sits in memory: at most that many paragraphs per language.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from lamina.filters.langid import LABEL_PREFIX, LanguageIdentifier, one_line
from lamina.models.common import UsageError, accuracy, fasttext_train, fingerprint, write_json


@dataclasses.dataclass(frozen=True)
class LidConfig:
    dim: int = 16  # embedding size (lid.176: 16)
    epoch: int = 10  # passes over the training text (at least; see min_examples_seen)
    # More passes on small corpora, until training has seen this many examples: at 10 passes over the
    # sample world's ~2,000 Wikipedia paragraphs the model was under-trained and scored fluent English
    # shop and forum pages 0.983-0.989, under C4's 0.99; ~25 passes score them >= 0.995 while character
    # noise stays under 0.45 (cc_net's 0.5). Large corpora (lingua's 75,000 sentences) keep `epoch`.
    min_examples_seen: int = 50_000
    lr: float = 0.5  # learning rate
    minn: int = 2  # shortest character n-gram (lid.176: 2)
    maxn: int = 4  # longest character n-gram (lid.176: 4)
    word_ngrams: int = 2  # word n-grams; 2 also avoids fastText's NaN on tiny data
    bucket: int = 400_000  # hash buckets for n-grams (size of the model: bucket * dim * 4 bytes)
    min_chars: int = 20  # paragraphs shorter than this are not used (headings, list items)
    holdout: float = 0.1  # fraction of examples per language held out for the accuracy in the card
    max_per_language: int = 20_000  # training examples per language (a seeded sample of big dumps)
    threads: int = 2  # fastText threads (1 makes training bit-for-bit deterministic)
    seed: int = 0  # sampling and fastText seed


def iter_lid_corpus(path: Path) -> Iterator[tuple[str, str]]:
    """(lang, text) from a directory of `<lang>.txt` (one example per line) or a fastText-format file
    (`__label__<lang> text` per line), read line by line."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise FileNotFoundError(f"{path}: no <lang>.txt files")
        for f in files:
            with open(f, encoding="utf-8") as fh:
                yield from ((f.stem, t) for t in (one_line(x) for x in fh) if t)
        return
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            label, _, text = line.strip().partition(" ")
            if not label.startswith(LABEL_PREFIX) or not text.strip():
                raise UsageError(f"{path}:{n}: expected '__label__<lang> text', got {line[:80]!r}")
            yield label.removeprefix(LABEL_PREFIX), one_line(text)


def lid_examples_from_corpus(path: Path) -> list[tuple[str, str]]:
    """`iter_lid_corpus` as a list (small corpora, tests)."""
    return list(iter_lid_corpus(path))


def sample_per_language(examples: Iterable[tuple[str, str]], size: int, seed: int) -> tuple[dict, dict]:
    """A seeded uniform sample (reservoir, algorithm R) of at most `size` texts per language, in one
    pass. Returns ({lang: texts}, {lang: examples seen})."""
    kept: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    rngs: dict[str, random.Random] = {}
    for lang, text in examples:
        n = seen.get(lang, 0)
        seen[lang] = n + 1
        box = kept.setdefault(lang, [])
        if n < size:
            box.append(text)
        else:
            rng = rngs.setdefault(lang, random.Random(f"{seed}:{lang}"))
            j = rng.randrange(n + 1)
            if j < size:
                box[j] = text
    return kept, seen


def train_lid(examples: Iterable[tuple[str, str]], out_dir: Path, cfg: LidConfig, trained_on: dict) -> dict:
    """Train the fastText LID model on (lang, text) examples (any iterable, read once); write
    lid/lid.bin and lid/card.json."""
    rng = random.Random(cfg.seed)
    size = math.ceil(cfg.max_per_language / (1 - cfg.holdout))
    by_lang, seen = sample_per_language(examples, size, cfg.seed)
    if len(by_lang) < 2:
        raise UsageError(
            f"language id needs at least 2 languages, got {sorted(by_lang)}: pass dumps (--wikipedia) or a "
            "--lid-corpus of two or more languages, or --only lm wikiref to train the others"
        )
    train: list[tuple[str, str]] = []
    held: list[tuple[str, str]] = []
    for lang in sorted(by_lang):
        texts = by_lang[lang]
        rng.shuffle(texts)
        n_held = int(len(texts) * cfg.holdout) if len(texts) >= 10 else 0
        held += [(lang, t) for t in texts[:n_held]]
        train += [(lang, t) for t in texts[n_held:][: cfg.max_per_language]]
    rng.shuffle(train)
    epoch = max(cfg.epoch, math.ceil(cfg.min_examples_seen / len(train)))
    out = Path(out_dir) / "lid"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    lr_used = fasttext_train(
        (f"{LABEL_PREFIX}{lang} {text}" for lang, text in train), out / "lid.bin",
        dim=cfg.dim, epoch=epoch, lr=cfg.lr, minn=cfg.minn, maxn=cfg.maxn, wordNgrams=cfg.word_ngrams,
        bucket=cfg.bucket, thread=cfg.threads, seed=cfg.seed, loss="softmax",
    )  # fmt: skip
    lid = LanguageIdentifier(out / "lid.bin")
    acc, per = accuracy(lambda texts: [lang for lang, _ in lid.predict_many(texts)], held)
    card = {
        "model": "fastText supervised language id (character n-grams)",
        "file": "lid.bin",
        "labels": sorted(by_lang),
        "trained_on": {
            **trained_on,
            "examples": len(train),
            "per_language": {k: len(v) for k, v in sorted(by_lang.items())},
            "seen_per_language": dict(sorted(seen.items())),
        },
        "settings": {**dataclasses.asdict(cfg), "lr_used": lr_used, "epoch_used": epoch},
        "held_out": {"examples": len(held), "accuracy": acc, "per_language": per},
        **fingerprint(out / "lid.bin"),
        "train_seconds": round(time.time() - t0, 1),
    }
    write_json(out / "card.json", card)
    return card
