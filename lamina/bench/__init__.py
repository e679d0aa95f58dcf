"""`lamina bench [NAME ...]`: every benchmark prints its figures next to a baseline run in the same
process, as ratios (never asserted by timed tests). Every benchmark lives here, one module each, named
for what it measures; the parts they measure (lamina/models, pipelines, tokenize, pretrain) hold no
benchmark code. docs/benchmarks.md lists them and the figures they measured.

This package's own import stays light (the standard library only): `datatrove_side.py` runs as
`python -m lamina.bench.datatrove_side` inside the datatrove venv, which has none of lamina's
dependencies."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "langid": ("lamina.bench.langid", "language id accuracy on real multilingual text"),
    "c4lang": ("lamina.bench.c4lang", "C4 language test: langdetect vs fastText ms/page"),
    "ccnet": ("lamina.bench.ccnet", "documents/s/core of the CCNet chain and each stage"),
    "shards": ("lamina.bench.shards", "tokens/s/core of the shard writer vs SentencePiece encode"),
    "block": ("lamina.bench.block", "activation bytes and step time per checkpointing mode"),
    "train": ("lamina.bench.train", "trainer tokens/s vs a Hugging Face LlamaForCausalLM step"),
    "scale": ("lamina.bench.scale", "corpus on 1x/10x/100x worlds: docs/s/core, memory, 1 vs 2"),
    "books": ("lamina.bench.books", "books near-dup clusters: components vs gathered edges, wall + shuffle"),
    "refilter": ("lamina.bench.refilter", "lamina refilter vs the full rerun; --annotate vs a plain run"),
    "datatrove": (
        "lamina.bench.datatrove",
        "C4 and CCNet chains vs datatrove: docs/s/core, agreement",
    ),
}


def main(argv: list[str] | None = None) -> int:
    """`lamina bench [NAME ...] [-- OPTIONS]`: options after the names (from the first one starting
    with `-`) go to each named benchmark, e.g. `lamina bench scale --quick`."""
    argv = list(argv or [])
    # -h/--help first lists the benchmarks; after a name it goes to that benchmark (its options)
    first_opt = next(
        (i for i, a in enumerate(argv) if a.startswith("-") and (i > 0 or a not in ("-h", "--help"))),
        len(argv),
    )
    names, options = argv[:first_opt], argv[first_opt:]
    if options[:1] == ["--"]:
        options = options[1:]
    names = names or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES and n not in ("-h", "--help")]
    if unknown or "--help" in names or "-h" in names:
        width = max(map(len, BENCHES))
        print(
            "usage: lamina bench [NAME ...]\n"
            + "\n".join(f"  {k:<{width}}  {v[1]}" for k, v in BENCHES.items())
        )
        if unknown:
            print(f"lamina bench: unknown benchmark(s) {', '.join(unknown)}", file=sys.stderr)
            return 2
        return 0
    for name in names:
        module, what = BENCHES[name]
        print(f"\n== bench {name}: {what} ==", flush=True)
        importlib.import_module(module).bench(options)
    return 0
