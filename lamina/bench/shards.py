"""`lamina bench shards`: tokens/s/core of our shard-writing path next to SentencePiece's own
`encode` on the same documents, with our overhead as a ratio (aim: at most 10%).

    python -m lamina.bench.shards [--corpus out/corpus] [--repeat 5]

Both sides run in one process on one core (SentencePiece with num_threads=1) and are timed in
CPU seconds (`time.process_time`), so other load on the machine does not skew the ratio.
Baseline: `sp.encode(texts)` over every document. Ours: the same texts through
`DocumentEncoder.encode` (leading-space rule, numpy arrays with EOS) and `write_group` (sort by
id, write .bin/.idx, rename, sha256) into a temporary directory. The documents are those of
`<corpus>/docs` with its tokenizer when they exist; otherwise the Python standard library's own
source files with a 2,000-piece tokenizer trained on them (real text that is always at hand).
"""

from __future__ import annotations

import argparse
import sysconfig
import tempfile
import time
from pathlib import Path

import sentencepiece as spm

from lamina.tokenize.shards import DocumentEncoder, ShardConfig, iter_documents, list_sources, write_group


def _stdlib_documents(limit_chars: int = 8_000_000) -> list[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    docs, total = [], 0
    for p in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        try:
            text = p.read_text("utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        docs.append((str(p.relative_to(root)), text))
        total += len(text)
        if total >= limit_chars:
            break
    return docs


def _load(corpus: Path, tmp: Path) -> tuple[list[tuple[str, str]], Path, str]:
    model = corpus / "tokenizer" / "tokenizer.model"
    if model.is_file() and (corpus / "docs").is_dir():
        docs = [(d.id, d.text) for s in list_sources(corpus) for d in iter_documents(corpus, s)]
        return docs, model, f"{corpus}/docs with {model}"
    from lamina.tokenize.train import train_from_lines

    docs = _stdlib_documents()
    lines = [line for _, t in docs[: len(docs) // 4] for line in t.split("\n") if line.strip()]
    model = train_from_lines(lines, tmp / "tok", 2000, num_threads=1)
    return docs, model, "Python standard library sources (no corpus found), tokenizer trained on a quarter"


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def bench(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="lamina bench shards")
    ap.add_argument("--corpus", default="out/corpus", help="a corpus run with docs/ and tokenizer/")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each side; the fastest counts")
    args = ap.parse_args(argv or [])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        docs, model, what = _load(Path(args.corpus), tmp)
        texts = [t for _, t in docs]
        sp = spm.SentencePieceProcessor(model_file=str(model), num_threads=1)
        encoder = DocumentEncoder(model)
        config = ShardConfig(shard_tokens=50_000_000)
        n_tokens = sum(len(x) for x in sp.encode(texts))
        n_chars = sum(len(t) for t in texts)

        def baseline() -> None:
            sp.encode(texts)

        def ours() -> None:
            items, batch = [], 256
            for i in range(0, len(docs), batch):
                part = docs[i : i + batch]
                arrays = encoder.encode([t for _, t in part])
                items += [(d, a) for (d, _), a in zip(part, arrays, strict=True) if a is not None]
            write_group("bench", 0, items, tmp / "shards", config, encoder.dtype)

        t_base = _best(baseline, args.repeat)
        t_ours = _best(ours, args.repeat)
    base_rate, ours_rate = n_tokens / t_base, n_tokens / t_ours
    overhead = t_ours / t_base - 1
    print(f"text: {what}")
    print(
        f"      {len(docs)} documents, {n_chars:,} characters, {n_tokens:,} tokens (vocab {sp.get_piece_size()})"
    )
    print(f"{'':34}{'tokens/s/core':>16}{'CPU s':>10}")
    print(f"{'sentencepiece encode (baseline)':34}{base_rate:>16,.0f}{t_base:>10.3f}")
    print(f"{'lamina shard writer':34}{ours_rate:>16,.0f}{t_ours:>10.3f}")
    print(f"overhead of the shard writer: {overhead:+.1%} (aim <= +10%)")
    return {"baseline_tokens_per_s": base_rate, "ours_tokens_per_s": ours_rate, "overhead": overhead}


def main(argv: list[str] | None = None) -> int:
    bench(argv)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
