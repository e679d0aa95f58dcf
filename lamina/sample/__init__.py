"""`lamina sample`: the generated sample world — small inputs in the real formats of all seven
sources, written with text the project itself generates, plus `ground_truth.jsonl` stating what each
pipeline should do with each document (docs/interfaces.md, "The sample world").

The same seed gives byte-identical files (fixed gzip/tar mtimes, seeded randomness only).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

from lamina.sample.text import TOPICS, TextGen
from lamina.sample.truth import Truth

EN_ARTICLES = 80  # English Wikipedia articles (the first CITED of them cite a reference web page)
CITED = 60
COMMERCE_ARTICLES = 5  # encyclopedic articles about trade, so shop/forum vocabulary is not all unseen
EVERYDAY_ARTICLES = 10  # encyclopedic articles about shopping and forums (the language of chatty pages)
SPAM_ARTICLES = 1  # encyclopedic articles about keyword spam (its words are English to language id)


def write_sample_world(out: Path, seed: int = 0) -> Path:
    """Write the whole sample world under `out` (created; existing generated parts are replaced)."""
    from lamina.sample import cc, wikipedia
    from lamina.sample.readme import write_readme

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for part in ("cc", "c4", "wikipedia", "github", "books", "arxiv", "stackexchange"):
        shutil.rmtree(out / part, ignore_errors=True)
    truth = Truth()
    gen = TextGen(random.Random(f"{seed}:entities"))
    entities = [
        gen.entity(TOPICS[i % len(TOPICS)])
        for i in range(EN_ARTICLES - COMMERCE_ARTICLES - EVERYDAY_ARTICLES - SPAM_ARTICLES)
    ]
    entities += [gen.entity("commerce") for _ in range(COMMERCE_ARTICLES)]
    entities += [gen.entity("everyday") for _ in range(EVERYDAY_ARTICLES)]
    entities += [gen.entity("spam") for _ in range(SPAM_ARTICLES)]
    pages, citations = cc.plan_web(seed, entities[:CITED])
    wikipedia.write_wikipedia(out / "wikipedia", seed, truth, entities, citations)
    cc.write_cc(out / "cc", seed, pages, truth)
    for name in ("c4", "github", "books", "arxiv", "stackexchange"):
        module = _optional(name)
        if module is not None:
            module.write(out / name, seed, truth)
    truth.write(out / "ground_truth.jsonl")
    write_readme(out, truth, pages)
    return out


def _optional(name: str):
    """The writer module of a source (`lamina.sample.<name>_world`), or None if not built yet."""
    import importlib

    try:
        return importlib.import_module(f"lamina.sample.{name}_world")
    except ModuleNotFoundError as e:
        if e.name != f"lamina.sample.{name}_world":
            raise
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lamina sample", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out", type=Path, default=Path("out/sample"), help="directory to write (default out/sample)"
    )
    ap.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives identical files")
    ap.add_argument(
        "--scale",
        type=int,
        default=1,
        help="write N copies of the world (unique ids, same kinds in the same proportions; "
        "lamina/sample/scale.py); default 1",
    )
    args = ap.parse_args(argv)
    if args.scale < 1:
        ap.error(f"--scale must be >= 1, not {args.scale}")
    path = write_sample_world(args.out, args.seed)
    if args.scale > 1:
        from lamina.sample.scale import scale_world

        t0 = time.perf_counter()
        got = scale_world(path, args.scale, args.seed)
        dt = time.perf_counter() - t0
        print(
            f"scaled world: {args.scale} copies, {got['documents']} documents in {dt:.1f} s "
            f"({got['documents'] / dt:.0f} documents/s)"
        )
    print(f"sample world written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
