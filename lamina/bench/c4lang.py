"""`lamina bench c4lang`: what C4's language test costs per page, langdetect (TFDS's) side by side
with fastText LID, on the real C4 pages (alternated A/B rounds, medians, ratio)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lamina.bench.langid import LLAMA_LANGUAGES, SHARED_DATA, SHARED_MULTILINGUAL
from lamina.filters.langid import LanguageIdentifier
from lamina.models.lid import LidConfig, lid_examples_from_corpus, train_lid


def c4_pages(path: Path | None = None) -> list[str]:
    import gzip
    import json

    path = path or SHARED_DATA / "c4" / "c4-en-train.00000-of-01024.head.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def bench(argv: list[str] | None = None) -> dict:
    """C4's language test per document: langdetect (TFDS's, seeded) vs fastText LID (a model trained
    here on lingua's sentences, same settings as `lamina models`), alternated A/B over `--rounds`
    rounds on the real C4 pages; medians of the per-document times and their ratio."""
    import statistics

    from lamina.filters.langid import LangDetect

    ap = argparse.ArgumentParser(prog="lamina bench c4lang")
    ap.add_argument("--pages", type=Path, default=None, help="C4 json.gz (default the real C4 sample)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=300, help="pages per round")
    ap.add_argument("--data", type=Path, default=SHARED_MULTILINGUAL, help="holds lingua_sentences/")
    args = ap.parse_args(argv or [])
    pages = c4_pages(args.pages)[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        examples = [(lang, t) for lang, t in lid_examples_from_corpus(args.data / "lingua_sentences")
                    if lang in LLAMA_LANGUAGES]  # fmt: skip
        train_lid(examples, Path(tmp), LidConfig(), {"corpus": "lingua_sentences (20 LLaMA languages)"})
        ft = LanguageIdentifier(Path(tmp) / "lid" / "lid.bin")
        ld = LangDetect()
        ft.predict("warm up"), ld.predict("warm up the detector")
        times: dict[str, list[float]] = {"langdetect": [], "fasttext": []}
        decisions: dict[str, int] = {}
        for _ in range(args.rounds):
            for name, fn, threshold in (
                ("langdetect", ld.predict, 0.99),
                ("fasttext", lambda t: ft.predict(t.replace("\n", " ")), 0.99),
            ):
                t0 = time.perf_counter()
                kept = sum(lang == "en" and p >= threshold for lang, p in map(fn, pages))
                times[name].append((time.perf_counter() - t0) / len(pages))
                decisions[name] = kept
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"C4 language test on {len(pages)} real C4 pages, {args.rounds} alternated rounds, median ms/page:")
    for k in ms:
        print(f"  {k:<11} {ms[k]:8.2f} ms/page   kept at 0.99: {decisions[k]}/{len(pages)}")
    print(f"  langdetect / fasttext: {ms['langdetect'] / ms['fasttext']:.0f}x the time per page")
    return {"ms_per_page": ms, "kept": decisions, "pages": len(pages)}
