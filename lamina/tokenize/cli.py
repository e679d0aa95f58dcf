"""`lamina tokenizer train | shards`.

    lamina tokenizer train  --corpus out/corpus [--vocab-size 32000] [--sample-chars N] [--mixture S=W,...]
    lamina tokenizer shards --corpus out/corpus [--shard-tokens N] [--bos] [--tokenizer PATH]
                            [--buckets B] [--mixture S=W,...] [--runner R] [Beam options ...]

`train` writes `<corpus>/tokenizer/tokenizer.model` (+ `.vocab`, `card.json`); `shards` writes
`<corpus>/shards/<source>_<nnnnn>.bin/.idx` and `<corpus>/shards/manifest.json`. Options it does
not know are Beam pipeline options (`--runner DataflowRunner --project ...`); the local default
is Beam's FnApiRunner in multi-process mode.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

FNAPI = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lamina tokenizer", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the SentencePiece BPE tokenizer on the filtered corpus")
    t.add_argument("--corpus", required=True, help="a corpus run directory (with docs/<source>/)")
    t.add_argument("--vocab-size", type=int, default=32000, help="vocabulary size (LLaMA: 32000)")
    t.add_argument("--sample-chars", type=int, default=100_000_000, help="characters of training text")
    t.add_argument("--mixture", default=None, help="SOURCE=WEIGHT,... (default: LLaMA Table 1)")
    t.add_argument("--out", default=None, help="output directory (default: <corpus>/tokenizer)")
    s = sub.add_parser("shards", help="tokenize the filtered documents into Megatron shards")
    s.add_argument("--corpus", required=True, help="a corpus run directory (with docs/<source>/)")
    s.add_argument("--shard-tokens", type=int, default=100_000_000, help="target tokens per shard")
    s.add_argument("--bos", action="store_true", help="put BOS before every document (EOS always ends one)")
    s.add_argument(
        "--tokenizer", default=None, help="tokenizer.model (default: <corpus>/tokenizer/tokenizer.model)"
    )
    s.add_argument("--buckets", type=int, default=1, help="hash buckets per source (parallel writers)")
    s.add_argument("--mixture", default=None, help="SOURCE=WEIGHT,... (default: LLaMA Table 1)")
    s.add_argument("--out", default=None, help="output directory (default: <corpus>/shards)")
    s.add_argument("--runner", default=None, help="Beam runner (default: FnApiRunner, multi-process)")
    return p


def main(argv: list[str]) -> int:
    args, beam_args = _parser().parse_known_args(argv)
    from lamina.tokenize.mixture import parse_weights

    weights = parse_weights(args.mixture) if args.mixture else None
    if args.command == "train":
        if beam_args:
            _parser().error(f"unknown options {beam_args}")
        from lamina.tokenize.train import TokenizerConfig, train

        config = TokenizerConfig(vocab_size=args.vocab_size, sample_chars=args.sample_chars, weights=weights)
        try:
            model = train(args.corpus, config, Path(args.out) if args.out else None)
        except (ValueError, FileNotFoundError) as e:  # no corpus, a vocabulary that cannot fit it
            print(f"lamina tokenizer train: {e}", file=sys.stderr)
            return 2
        print(f"tokenizer: {model} (vocab {args.vocab_size}; card {model.parent / 'card.json'})")
        return 0

    tokenizer = args.tokenizer or os.path.join(args.corpus, "tokenizer", "tokenizer.model")
    if not os.path.isfile(tokenizer):
        raise SystemExit(
            f"lamina tokenizer shards: {tokenizer} not found; run `lamina tokenizer train` first"
        )
    from lamina.pipelines import shards as pipeline
    from lamina.tokenize.shards import ShardConfig, load_manifest

    out = args.out or os.path.join(args.corpus, "shards")
    if args.runner:
        beam_args = [f"--runner={args.runner}", *beam_args]
    else:
        beam_args = [
            f"--runner={FNAPI}",
            "--direct_running_mode=multi_processing",
            f"--direct_num_workers={os.cpu_count() or 1}",
            *beam_args,
        ]
    config = ShardConfig(shard_tokens=args.shard_tokens, bos=args.bos, buckets=args.buckets, weights=weights)
    import time

    from lamina.tokenize.shards import list_sources
    from lamina.tokenize.train import progress

    started = time.monotonic()
    files = sorted(p for p in Path(args.corpus, "docs").glob("*/*") if p.is_file())
    runner = next((a.split("=", 1)[1] for a in beam_args if a.startswith("--runner=")), "?").rsplit(".", 1)[
        -1
    ]
    progress(
        f"shards: tokenizing {len(files):,} document files of {len(list_sources(Path(args.corpus)))} sources "
        f"on {runner} -> {out}",
        started,
    )
    manifest_path = pipeline.run(args.corpus, tokenizer, out, config, beam_args)
    progress("shards: written", started)
    m = load_manifest(manifest_path)
    print(
        f"shards: {len(m['shards'])} shards, {m['documents']} documents, {m['tokens']} tokens -> {manifest_path}"
    )
    for source, v in m["sources"].items():
        w = m["mixture"]["weights"].get(source, 0.0)
        print(
            f"  {source:<14} {v['shards']:>4} shards {v['documents']:>9} docs {v['tokens']:>12} tokens  weight {w:.4f}"
        )
    return 0
