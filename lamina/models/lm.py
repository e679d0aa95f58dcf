"""Perplexity models: per-language SentencePiece unigram + KenLM 5-gram on cc_net-normalized
Wikipedia lines (cc_net's recipe), and the fixed bucket cutoffs that go with them.

Streaming: the dump is read once, page by page; training lines go to a temporary file (their
character count sets the vocabulary), SentencePiece samples at most `max_sentences` of them, and
the pieces are piped into `lmplz`'s stdin line by line. Held-out pages (a deterministic tenth, by
page-id hash) go to a second file and are scored one at a time. Nothing holds a whole dump.

Cutoffs (cc_net's cutoff.csv approach): p30/p60 of the document perplexity of a sample of the
domain the buckets are for, computed once here and written into the card, so that a corpus run
uses fixed numbers and a document's bucket does not depend on the rest of the run. The sample is
web pages of the language (`cutoff_docs`, e.g. the WET pages or C4 pages given to `lamina models`)
when there are at least `min_cutoff_docs` of them, else the held-out Wikipedia pages (which score
lower than the web: cutoffs from them put more of the web in tail). The card says which.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from lamina.documents import Document
from lamina.filters.normalize import normalize
from lamina.filters.perplexity import SCORINGS, PerplexityScorer
from lamina.models.common import fingerprint, frac_hash, kenlm_bin, run_tool, write_json


@dataclasses.dataclass(frozen=True)
class LmConfig:
    vocab_size: int = 65536  # SentencePiece vocabulary (cc_net); capped by `chars_per_piece` on small data
    chars_per_piece: int = 200  # at most one vocabulary piece per this many training characters
    min_vocab: int = 200  # never fewer pieces than this
    character_coverage: float = 0.9995  # cc_net's SentencePiece setting
    max_sentences: int = 2_000_000  # lines SentencePiece samples for its vocabulary (its memory)
    order: int = 5  # KenLM n-gram order (cc_net: 5)
    lmplz_memory: str = "256M"  # lmplz -S (its default takes 80% of RAM)
    holdout: float = 0.1  # fraction of pages held out (by page-id hash) for the card's perplexity
    max_held_out: int = 2_000  # held-out pages at most (the first ones of the dump), all scored
    cutoff_percentiles: tuple[int, int] = (30, 60)  # head < first <= middle < second <= tail (percent)
    min_cutoff_docs: int = 20  # web pages needed to take the cutoffs from them, else held-out Wikipedia
    threads: int = 2  # SentencePiece training threads


def lm_lines(docs: Iterable[Document]) -> Iterable[str]:
    """cc_net-normalized non-blank lines of the documents (the LM's training text, before pieces)."""
    return (n for d in docs for n in (normalize(line) for line in d.text.split("\n")) if n)


def percentile(sorted_values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank below, as numpy's 'lower'), of values sorted ascending."""
    return float(sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))])


def cutoffs_of(perplexities: list[float], percentiles: tuple[int, int]) -> dict:
    pp = sorted(perplexities)
    return {f"p{p}": round(percentile(pp, p), 1) for p in percentiles}


def percentile_interval(sorted_values: list[float], p: float, z: float = 1.645) -> list[float]:
    """A 90% (z = 1.645) confidence interval for the p-th percentile of the population the sorted
    sample was drawn from: the order statistics at ranks n*q -/+ z*sqrt(n*q*(1-q)) (the normal
    approximation of the binomial count below the true percentile). How far a cutoff from this
    sample can be off: about +-7 ranks of 50 pages at p60, +-25 of 900."""
    n, q = len(sorted_values), p / 100
    half = z * (n * q * (1 - q)) ** 0.5
    lo, hi = max(0, int(n * q - half)), min(n - 1, int(n * q + half + 1))
    return [round(sorted_values[lo], 1), round(sorted_values[hi], 1)]


def intervals_of(perplexities: list[float], percentiles: tuple[int, int]) -> dict:
    pp = sorted(perplexities)
    return {f"p{p}": percentile_interval(pp, p) for p in percentiles}


def _pipe_pieces(sp, lines_file: Path, lmplz: list[str], arpa: Path, what: str) -> int:
    """Encode `lines_file` line by line into lmplz's stdin; the ARPA model goes to `arpa`."""
    n_tokens = 0
    with open(arpa, "wb") as fout, tempfile.TemporaryFile() as ferr:
        proc = subprocess.Popen(lmplz, stdin=subprocess.PIPE, stdout=fout, stderr=ferr)
        try:
            with open(lines_file, encoding="utf-8") as fin:
                for line in fin:
                    toks = sp.encode(line.rstrip("\n"), out_type=str)
                    n_tokens += len(toks)
                    proc.stdin.write((" ".join(toks) + "\n").encode("utf-8"))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = proc.wait()
        if rc != 0:
            ferr.seek(0)
            tail = ferr.read().decode("utf-8", "replace")[-1500:]
            raise RuntimeError(f"{what} failed (exit {rc}): {' '.join(lmplz)}\n{tail}")
    return n_tokens


def train_lm(
    lang: str,
    docs: Iterable[Document],
    out_dir: Path,
    cfg: LmConfig,
    trained_on: dict,
    cutoff_docs: Iterable[str] = (),
    cutoff_source: str = "",
) -> dict:
    """SentencePiece + KenLM 5-gram for one language from its Wikipedia pages (any iterable, read
    once); writes lm/<lang>.{sp.model,arpa.bin,card.json}. `cutoff_docs`: web page texts of the
    language for the card's fixed cutoffs (`cutoff_source` names them)."""
    import sentencepiece as spm

    out = Path(out_dir) / "lm"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        lines_file, held_file = tmpd / "lines.txt", tmpd / "held.jsonl"
        pages = held_pages = n_lines = chars = 0
        with open(lines_file, "w", encoding="utf-8") as fl, open(held_file, "w", encoding="utf-8") as fh:
            for d in docs:
                # at most max_held_out pages are held out (all are scored): on a full dump the rest
                # of the hash's tenth trains, instead of 10% of the dump going unused
                if frac_hash(d.id) < cfg.holdout and held_pages < cfg.max_held_out:
                    held_pages += 1
                    fh.write(json.dumps({"id": d.metadata.get("page_id", d.id), "text": d.text}) + "\n")
                    continue
                pages += 1
                for line in lm_lines([d]):
                    n_lines += 1
                    chars += len(line)
                    fl.write(line + "\n")
        if n_lines == 0 and held_pages:  # every page fell in the held-out tenth: train on them instead
            with open(held_file, encoding="utf-8") as fh, open(lines_file, "w", encoding="utf-8") as fl:
                for row in fh:
                    doc = Document(id="held", source="wikipedia", text=json.loads(row)["text"])
                    for line in lm_lines([doc]):
                        n_lines += 1
                        chars += len(line)
                        fl.write(line + "\n")
            pages, held_pages = held_pages, 0
            held_file.write_text("")
        if n_lines == 0:
            raise ValueError(f"no {lang} text to train a language model on ({trained_on})")
        vocab = max(cfg.min_vocab, min(cfg.vocab_size, chars // cfg.chars_per_piece))
        prefix = tmpd / f"{lang}.sp"
        spm.SentencePieceTrainer.train(
            input=str(lines_file), model_prefix=str(prefix), vocab_size=vocab, model_type="unigram",
            character_coverage=cfg.character_coverage, hard_vocab_limit=False, num_threads=cfg.threads,
            max_sentence_length=1 << 16, input_sentence_size=cfg.max_sentences,
            shuffle_input_sentence=True, minloglevel=2,
        )  # fmt: skip
        sp = spm.SentencePieceProcessor(model_file=str(prefix) + ".model")
        arpa = tmpd / f"{lang}.arpa"
        lmplz_args = ["-o", str(cfg.order), "-S", cfg.lmplz_memory, "--discount_fallback"]
        lmplz = [kenlm_bin("lmplz"), *lmplz_args, "-T", str(tmpd)]
        n_tokens = _pipe_pieces(sp, lines_file, lmplz, arpa, f"lmplz ({lang})")
        binary = tmpd / f"{lang}.arpa.bin"
        run_tool([kenlm_bin("build_binary"), str(arpa), str(binary)], what=f"build_binary ({lang})")
        os.replace(str(prefix) + ".model", out / f"{lang}.sp.model")
        os.replace(binary, out / f"{lang}.arpa.bin")
        scorer = PerplexityScorer(out / f"{lang}.sp.model", out / f"{lang}.arpa.bin")
        held_ids: list[str] = []
        held_pp: dict[str, list[float]] = {s: [] for s in SCORINGS}
        with open(held_file, encoding="utf-8") as fh:
            for row in fh:
                if len(held_ids) >= cfg.max_held_out:
                    break
                page = json.loads(row)
                held_ids.append(page["id"])
                for s in SCORINGS:
                    held_pp[s].append(scorer.perplexity(page["text"], s))
    web_pp: dict[str, list[float]] = {s: [] for s in SCORINGS}
    for text in cutoff_docs:
        for s in SCORINGS:
            web_pp[s].append(scorer.perplexity(text, s))
    use_web = len(web_pp["document"]) >= cfg.min_cutoff_docs
    sample = web_pp if use_web else held_pp
    cutoffs = None
    if sample["document"]:
        cutoffs = {
            "origin": (
                f"web sample: {len(sample['document'])} pages of {cutoff_source}"
                if use_web
                else f"held-out Wikipedia: {len(sample['document'])} pages"
                + (f" (only {len(web_pp['document'])} web pages of {cutoff_source})" if cutoff_source else "")
            ),
            "documents": len(sample["document"]),
            "percentiles": list(cfg.cutoff_percentiles),
            **{s: cutoffs_of(sample[s], cfg.cutoff_percentiles) for s in SCORINGS},
            # the sampling uncertainty of each cutoff (percentile_interval): a few dozen pages give
            # cutoffs that a second sample of the same domain would move by a lot
            "interval_90": {s: intervals_of(sample[s], cfg.cutoff_percentiles) for s in SCORINGS},
        }
    card = {
        "model": "SentencePiece unigram + KenLM n-gram on cc_net-normalized Wikipedia lines",
        "language": lang,
        "files": {
            "sentencepiece": {"file": f"{lang}.sp.model", **fingerprint(out / f"{lang}.sp.model")},
            "kenlm": {"file": f"{lang}.arpa.bin", **fingerprint(out / f"{lang}.arpa.bin")},
        },
        "trained_on": {**trained_on, "pages": pages, "lines": n_lines, "chars": chars, "tokens": n_tokens},
        "sentencepiece": {
            "vocab_size": sp.get_piece_size(),
            "vocab_size_asked": vocab,
            "model_type": "unigram",
            "character_coverage": cfg.character_coverage,
        },  # fmt: skip
        "kenlm": {
            "order": cfg.order,
            "lmplz_args": lmplz_args,
            "bytes": (out / f"{lang}.arpa.bin").stat().st_size,
        },
        "held_out": {
            "pages": held_pages,
            "page_ids": sorted(held_ids),
            # under document scoring (cc_net's), and per scoring
            "median_perplexity": round(statistics.median(held_pp["document"]), 1) if held_ids else None,
            "median_perplexity_by_scoring": {
                s: round(statistics.median(v), 1) if v else None for s, v in held_pp.items()
            },
        },
        "cutoffs": cutoffs,
        "settings": dataclasses.asdict(cfg),
        "train_seconds": round(time.time() - t0, 1),
    }
    write_json(out / f"{lang}.card.json", card)
    return card
