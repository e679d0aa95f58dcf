"""Train the corpus tokenizer: SentencePiece BPE with LLaMA-1's exact trainer settings.

The settings are those in LLaMA's released `tokenizer.model` (its `trainer_spec`;
docs/tokenizer.md): BPE, split digits, byte fallback (so no text is ever `<unk>`), identity
normalization with the dummy prefix and no whitespace squeezing (so decode(encode(x)) == x),
ids unk 0 / bos 1 / eos 2, no pad.

The training text is a sample of the filtered corpus drawn across sources by the mixture weights:
source s gets `weights[s] * sample_chars` characters, filled with its documents in the order of a
hash of their id (a deterministic pseudo-random sample that does not favour the first files).
Same corpus + same config -> byte-identical `tokenizer.model`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import sentencepiece as spm

from lamina.tokenize import mixture
from lamina.tokenize.shards import iter_documents, list_sources, sha256_file


@dataclasses.dataclass(frozen=True)
class TokenizerConfig:
    vocab_size: int = 32000  # pieces incl. <unk>/<s>/</s> and the 256 byte pieces (LLaMA: 32000)
    sample_chars: int = 100_000_000  # characters of corpus text the trainer sees, over all sources
    weights: Mapping[str, float] | None = None  # source -> mixture weight; None = LLaMA Table 1
    num_threads: int = 0  # trainer threads; 0 = os.cpu_count() (BPE's result does not depend on it)
    seed: int = 0  # salt of the document-order hash (a different seed draws a different sample)


# LLaMA-1's trainer_spec, field for field (the values that differ from SentencePiece's defaults,
# plus the ones the recipe names explicitly).
LLAMA_TRAINER_SPEC: dict[str, object] = {
    "model_type": "bpe",
    "character_coverage": 0.99995,
    "split_digits": True,
    "byte_fallback": True,
    "allow_whitespace_only_pieces": True,
    "split_by_unicode_script": True,
    "split_by_whitespace": True,
    "split_by_number": True,
    "max_sentencepiece_length": 16,
    "max_sentence_length": 4192,
    "normalization_rule_name": "identity",
    "add_dummy_prefix": True,
    "remove_extra_whitespaces": False,
    "unk_id": 0,
    "bos_id": 1,
    "eos_id": 2,
    "pad_id": -1,
    "vocabulary_output_piece_score": True,
    "hard_vocab_limit": True,
    "treat_whitespace_as_suffix": False,
}


PROGRESS_S = 10.0  # seconds between progress lines while a source is read


def progress(message: str, started: float) -> None:
    """One progress line on stderr: `lamina tokenizer [H:MM:SS] message` (elapsed since `started`)."""
    elapsed = int(time.monotonic() - started)
    stamp = f"{elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}"
    print(f"lamina tokenizer [{stamp}] {message}", file=sys.stderr, flush=True)


def _order_key(doc_id: str, seed: int) -> bytes:
    return hashlib.sha1(f"{seed}\x1f{doc_id}".encode()).digest()


def sample_source(
    corpus: Path, source: str, budget_chars: int, seed: int = 0, started: float | None = None
) -> tuple[list[str], int, int]:
    """The documents of `source` with the smallest id hashes, up to `budget_chars` characters.

    One pass with a bounded heap (memory ~ the budget), so a source far larger than its share is
    never held in memory. Returns (texts in hash order, documents seen, characters seen). With
    `started` (a time.monotonic() value), prints a progress line every PROGRESS_S seconds.
    """
    heap: list[tuple[bytes, str, str]] = []  # max-heap by hash via negated bytes
    held = seen_docs = seen_chars = 0
    t0 = time.monotonic()
    next_line = t0 + PROGRESS_S
    for doc in iter_documents(corpus, source):
        seen_docs += 1
        if started is not None and time.monotonic() >= next_line:
            rate = seen_docs / max(time.monotonic() - t0, 1e-9)
            progress(f"{source}: {seen_docs:,} documents read ({rate:,.0f}/s)", started)
            next_line += PROGRESS_S
        seen_chars += len(doc.text)
        key = _order_key(doc.id, seed)
        neg = bytes(255 - b for b in key)
        heapq.heappush(heap, (neg, doc.id, doc.text))
        held += len(doc.text)
        # drop the largest-hash documents while the rest still fill the budget
        while heap and held - len(heap[0][2]) >= budget_chars:
            held -= len(heapq.heappop(heap)[2])
    chosen = sorted(heap, key=lambda t: (bytes(255 - b for b in t[0]), t[1]))
    return [t[2] for t in chosen], seen_docs, seen_chars


def training_sample(
    corpus: Path, config: TokenizerConfig, started: float | None = None
) -> tuple[list[str], dict]:
    """The trainer's sentences (non-empty lines of the sampled documents) and what was drawn.
    With `started`, prints what each source gave (and reading progress) on stderr."""
    sources = list_sources(corpus)
    weights = mixture.renormalize(sources, config.weights)
    lines: list[str] = []
    drawn: dict[str, dict] = {}
    for i, (source, w) in enumerate(weights.items(), 1):
        budget = int(round(w * config.sample_chars))
        texts, n_docs, n_chars = sample_source(corpus, source, budget, config.seed, started)
        chars = sum(len(t) for t in texts)
        if started is not None:
            progress(
                f"{source} ({i}/{len(weights)}): sampled {len(texts):,} of {n_docs:,} documents, "
                f"{chars:,} of {n_chars:,} characters (weight {w:.3f})",
                started,
            )
        drawn[source] = {
            "weight": w,
            "budget_chars": budget,
            "sampled_documents": len(texts),
            "sampled_chars": chars,
            "source_documents": n_docs,
            "source_chars": n_chars,
        }
        for t in texts:
            lines.extend(line for line in t.split("\n") if line.strip())
    return lines, drawn


META_PIECES = 3 + 256  # <unk> <s> </s> and the byte-fallback pieces <0x00>..<0xFF>
MIN_COVERAGE = 0.98  # SentencePiece rejects a character_coverage below this


def fit_character_coverage(lines: list[str], vocab_size: int, coverage: float) -> float:
    """LLaMA's `coverage` when the characters it requires fit the vocabulary, else a lower one.

    SentencePiece makes every character up to `coverage` of the text a piece, and refuses to train
    when those exceed `vocab_size - 259` ("Vocabulary size is smaller than required_chars"). At
    32000 they always fit; a small vocabulary on multilingual text (the sample world's 2000, the
    tests') does not. Then the most frequent characters up to half the free vocabulary are kept
    (half leaves room for merges, but never below a coverage of 0.98) and the rarer ones fall back to byte pieces: nothing becomes
    <unk>. Mirrors SentencePiece's own count (trainer_interface.cc): characters by frequency,
    spaces as U+2581, each sentence with its dummy-prefix space.
    """
    counts = Counter()
    for line in lines:
        counts.update(line)
    counts["\u2581"] += counts.pop(" ", 0) + len(lines)
    total = sum(counts.values())
    freqs = sorted(counts.values(), reverse=True)

    def needed(cov: float) -> int:
        acc = n = 0
        for f in freqs:
            if acc / total >= cov:
                break
            acc += f
            n += 1
        return n

    room = vocab_size - META_PIECES - 16  # keep a few pieces for merges
    if needed(coverage) <= room:
        return coverage
    fitted = max(MIN_COVERAGE, sum(freqs[: max(1, room // 2)]) / total - 1e-9)
    if needed(fitted) > room:
        raise ValueError(
            f"vocab_size {vocab_size} cannot hold the {needed(fitted)} characters that even SentencePiece's "
            f"lowest character_coverage ({MIN_COVERAGE}) requires on this corpus; use a larger --vocab-size"
        )
    return fitted


def train_from_lines(
    lines: list[str],
    out_dir: Path,
    vocab_size: int,
    num_threads: int = 0,
    character_coverage: float | None = None,
) -> Path:
    """Train on `lines` and write `out_dir/tokenizer.model` + `.vocab` atomically."""
    if not lines:
        raise ValueError("no training text: the sample is empty (are the corpus documents empty?)")
    if vocab_size <= META_PIECES + 16:
        raise ValueError(
            f"vocab_size {vocab_size} is too small: {META_PIECES} pieces are reserved (specials + bytes)"
        )
    spec = dict(LLAMA_TRAINER_SPEC)
    if character_coverage is not None:
        spec["character_coverage"] = character_coverage
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tokenizer-", dir=out_dir))
    try:
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines),
                model_prefix=str(tmp / "tokenizer"),
                vocab_size=vocab_size,
                num_threads=num_threads or os.cpu_count() or 1,
                input_sentence_size=0,  # the sample is already drawn; use all of it
                shuffle_input_sentence=False,
                minloglevel=2,
                **spec,
            )
        except RuntimeError as e:  # a small corpus cannot fill the vocabulary: "... <= 5075."
            most = re.search(r"Vocabulary size too high \(\d+\)\. Please set it to a value <= (\d+)", str(e))
            if most is None:
                raise
            raise ValueError(
                f"vocab_size {vocab_size} is too large for this corpus' sample ({len(lines):,} lines): "
                f"SentencePiece can make at most {most.group(1)} pieces of it; pass a smaller --vocab-size"
            ) from None
        _clear_model_prefix(tmp / "tokenizer.model")
        for name in ("tokenizer.vocab", "tokenizer.model"):  # model last: its presence means done
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir / "tokenizer.model"


def _clear_model_prefix(path: Path) -> None:
    """SentencePiece stores the (temporary, absolute) output path in the model's trainer_spec;
    replace it with the plain name so the model's bytes depend only on the text and settings."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    m.ParseFromString(path.read_bytes())
    m.trainer_spec.model_prefix = "tokenizer"
    path.write_bytes(m.SerializeToString(deterministic=True))


def train(
    corpus: str | os.PathLike, config: TokenizerConfig = TokenizerConfig(), out_dir: Path | None = None
) -> Path:
    """Train on a mixture-weighted sample of `<corpus>/docs`; write `<corpus>/tokenizer/` + card."""
    corpus = Path(corpus)
    out_dir = Path(out_dir) if out_dir else corpus / "tokenizer"
    started = time.monotonic()
    lines, drawn = training_sample(corpus, config, started)
    coverage = fit_character_coverage(
        lines, config.vocab_size, float(LLAMA_TRAINER_SPEC["character_coverage"])
    )
    progress(
        f"training SentencePiece BPE on {len(lines):,} lines (vocab {config.vocab_size:,}, "
        f"character coverage {coverage:g}, {config.num_threads} threads)",
        started,
    )
    model = train_from_lines(lines, out_dir, config.vocab_size, config.num_threads, coverage)
    progress(f"written {model}", started)
    card = {
        "kind": "sentencepiece-bpe",
        "model": "tokenizer.model",
        "sha256": sha256_file(model),
        "vocab_size": config.vocab_size,
        "trainer_spec": {**LLAMA_TRAINER_SPEC, "character_coverage": coverage},
        "character_coverage_note": "LLaMA's 0.99995 unless the vocabulary is too small for it (fit_character_coverage)",
        "sample_chars": config.sample_chars,
        "seed": config.seed,
        "training_lines": len(lines),
        "sources": drawn,
        "sentencepiece": spm.__version__,
    }
    tmp = out_dir / "card.json.tmp"
    tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out_dir / "card.json")
    return model
