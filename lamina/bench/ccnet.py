"""`lamina bench ccnet`: documents per second per core of the CCNet chain, stage by stage and whole.

Two views, printed side by side so later work can compare:
- each stage's own work on the sample world's documents, in this process (one core), repeated
  until it has run for at least `min_seconds`: what the stage costs without Beam;
- the whole chain as a Beam pipeline on the in-process FnApiRunner (one core), wall time from
  pipeline start to statistics written: what Beam's shuffles, serialization and start-up add.
Needs the sample world and its models: `--sample DIR --models DIR` (default out/sample, out/models);
when they are missing, they are generated into a temporary folder first (a few minutes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lamina.documents import Document


def _rate(fn: Callable[[list], object], items: list, min_seconds: float) -> float:
    """Items per second of `fn(items)`, repeated until `min_seconds` have passed."""
    n, t0 = 0, time.perf_counter()
    while True:
        fn(items)
        n += len(items)
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return n / dt


def stage_rates(sample: Path, models: Path, min_seconds: float = 1.0) -> list[tuple[str, float, int]]:
    """(stage, documents/s on one core, documents the stage saw) for each CCNet stage, in order."""
    from lamina.formats.wet import read_wet
    from lamina.pipelines.ccnet import Buckets, LanguageId, LineDedupApply, Perplexity, TooShort, WikiRef
    from lamina.pipelines.readers import expand_inputs

    files = expand_inputs(str(sample / "cc" / "wet.paths"))

    def read(_):
        out = []
        for path, label in files:
            out.extend(read_wet(path, label=label)[0])
        return out

    docs: list[Document] = read(None)
    rates = [("read", _rate(lambda _: read(None), docs, min_seconds), len(docs))]

    too_short = TooShort(300)
    rates.append(
        ("too_short", _rate(lambda ds: [too_short.apply(d) for d in ds], docs, min_seconds), len(docs))
    )
    docs = [d for d in docs if len(d.text) >= 300]

    def digest(ds):
        first = {}
        for d in ds:
            first.setdefault(d.metadata["digest"], d)
        return list(first.values())

    rates.append(("duplicate_digest", _rate(digest, docs, min_seconds), len(docs)))
    docs = digest(docs)

    def line_dedup(ds):
        from collections import Counter

        from lamina.filters.lines import line_hashes

        counts = Counter(h for d in ds for h in line_hashes(d.text))
        apply = LineDedupApply()  # its input: each document with its lines that occur once
        joined = (
            (d.id, {"doc": [d], "uniq": [h for h in line_hashes(d.text) if counts[h] == 1]}) for d in ds
        )
        return [r for e in joined for r in apply.results(e)]

    rates.append(("line_dedup", _rate(line_dedup, docs, min_seconds), len(docs)))
    docs = [d for d in line_dedup(docs) if isinstance(d, Document)]

    lid = LanguageId(str(models / "lid" / "lid.bin"), ("en",), 0.5)
    lid.setup()
    rates.append(("language", _rate(lambda ds: [lid.apply(d) for d in ds], docs, min_seconds), len(docs)))
    docs = [r for r in (lid.apply(d) for d in docs) if isinstance(r, Document)]

    ppl = Perplexity(str(models / "lm"), ("en",))
    ppl.setup()
    rates.append(("perplexity", _rate(lambda ds: [ppl.apply(d) for d in ds], docs, min_seconds), len(docs)))
    docs = [ppl.apply(d) for d in docs]

    buckets = Buckets(("head", "middle"))
    cut = {"en": (340.0, 520.0)}
    rates.append(
        (
            "buckets",
            _rate(lambda ds: [buckets.apply(d, cutoffs=cut) for d in ds], docs, min_seconds),
            len(docs),
        )
    )

    wiki = WikiRef(str(models / "wikiref" / "wikiref.bin"), 0.25)
    wiki.setup()
    rates.append(("wikiref", _rate(lambda ds: [wiki.apply(d) for d in ds], docs, min_seconds), len(docs)))
    return rates


def beam_rate(sample: Path, models: Path, out: Path) -> tuple[float, int, float]:
    """(documents/s/core, documents in, seconds) of the whole CCNet pipeline on one in-process core."""
    from lamina.pipelines.corpus import DEFAULT_RUNNER, run

    t0 = time.perf_counter()
    stats = run(
        ["--input", str(sample), "--models", str(models), "--out", str(out), "--sources", "commoncrawl",
         f"--runner={DEFAULT_RUNNER}", "--direct_num_workers=1", "--direct_running_mode=in_memory"]
    ).stats["commoncrawl"]  # fmt: skip
    dt = time.perf_counter() - t0
    return stats["documents_in"] / dt, stats["documents_in"], dt


def _ensure_inputs(sample: Path | None, models: Path | None, tmp: Path) -> tuple[Path, Path]:
    if sample is not None and models is not None and sample.is_dir() and models.is_dir():
        return sample, models
    from lamina.models import train_all
    from lamina.sample import write_sample_world

    print(f"sample world and models not found: generating them under {tmp}", flush=True)
    sample = write_sample_world(tmp / "sample", seed=0)
    train_all(sample, tmp / "models")
    return sample, tmp / "models"


def bench(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="lamina bench ccnet")
    ap.add_argument("--sample", type=Path, default=Path("out/sample"))
    ap.add_argument("--models", type=Path, default=Path("out/models"))
    ap.add_argument("--min-seconds", type=float, default=1.0, help="time each stage at least this long")
    args = ap.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="lamina-bench-") as tmp:
        _bench(args, Path(tmp))


def _bench(args: argparse.Namespace, tmp: Path) -> None:
    sample, models = _ensure_inputs(args.sample, args.models, tmp)
    rates = stage_rates(sample, models, args.min_seconds)
    print(f"{'stage':<18}{'docs in':>9}{'docs/s/core':>14}   (pure Python, one core, no Beam)")
    for name, rate, n in rates:
        print(f"{name:<18}{n:>9}{rate:>14.0f}")
    chain = 1.0 / sum(1.0 / r for _, r, _ in rates)
    print(f"{'chain (sum)':<18}{rates[0][2]:>9}{chain:>14.0f}")
    rate, n, dt = beam_rate(sample, models, tmp / "corpus")
    print(
        f"{'Beam pipeline':<18}{n:>9}{rate:>14.1f}   (in-process FnApiRunner, {dt:.1f} s wall incl. start-up)"
    )
    print(f"Beam / pure chain: {rate / chain:.3f}")


def main(argv: list[str] | None = None) -> int:
    bench(argv)
    return 0
