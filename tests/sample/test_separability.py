"""The sample world does what it exists for: models trained on its Wikipedia separate its pages.

A fastText language id and a SentencePiece + KenLM 5-gram (cc_net's recipe, small sizes) are trained
here on the sample Wikipedia dumps, then applied to the WET pages: English pages are English, noise
is not; spam and word salad are exactly the pages at or above the run's 60th perplexity percentile.
These are the properties the CCNet pipeline's ground truth relies on.
"""

from __future__ import annotations

import bz2
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import mwparserfromhell
import numpy as np
import pytest
from warcio.archiveiterator import ArchiveIterator

from lamina.filters.normalize import normalize
from lamina.sample.truth import read_truth

NS = "{http://www.mediawiki.org/xml/export-0.10/}"
EARLY = {"too_short", "no_lines_left", "duplicate_digest", "malformed_record", "invalid_utf8"}


def _kenlm_bin() -> Path | None:
    for d in (os.environ.get("LAMINA_KENLM_BIN"), Path.home() / ".cache/lamina/kenlm-0.3.0/bin"):
        if d and (Path(d) / "lmplz").exists():
            return Path(d)
    found = shutil.which("lmplz")
    return Path(found).parent if found else None


def _wiki_lines(dump: Path) -> list[str]:
    root = ET.fromstring(bz2.decompress(dump.read_bytes()))
    out = []
    for page in root.iter(NS + "page"):
        if page.findtext(NS + "ns") == "0" and page.find(NS + "redirect") is None:
            text = mwparserfromhell.parse(page.find(f"{NS}revision/{NS}text").text).strip_code()
            out += [ln.strip() for ln in text.split("\n") if len(ln.strip()) > 30]
    return out


@pytest.fixture(scope="module")
def pages(sample_world):
    """(kind, ccnet reason, text) of every readable WET page, with boilerplate lines removed."""
    truth = {r["key"]: r for r in read_truth(sample_world / "ground_truth.jsonl") if r["pipeline"] == "ccnet"}
    out = []
    for rel in (sample_world / "cc" / "wet.paths").read_text().split():
        with open(sample_world / "cc" / rel, "rb") as f:
            for rec in ArchiveIterator(f):
                row = truth.get(rec.rec_headers.get_header("WARC-Record-ID"))
                if rec.rec_type == "conversion" and row["reason"] not in EARLY:
                    out.append((row["kind"], row["reason"], rec.content_stream().read().decode()))
    return out


def test_language_id_trained_on_sample_wikipedia(sample_world, pages, tmp_path):
    fasttext = pytest.importorskip("fasttext")
    train = tmp_path / "lid.txt"
    with open(train, "w", encoding="utf-8") as f:
        for dump in sorted((sample_world / "wikipedia").glob("*.xml.bz2")):
            for line in _wiki_lines(dump):
                f.write(f"__label__{dump.name[:2]} {line.lower()}\n")
    model = fasttext.train_supervised(
        str(train), minn=2, maxn=4, dim=16, epoch=25, lr=0.5, verbose=0, seed=1, thread=1
    )
    labels, probs = model.predict([t.replace("\n", " ").lower() for _, _, t in pages])
    by_kind: dict[str, list[tuple[str, float]]] = {}
    for (kind, _, _), lab, p in zip(pages, labels, probs, strict=True):
        by_kind.setdefault(kind, []).append((lab[0].removeprefix("__label__"), float(p[0])))
    for kind in ("reference", "good", "boilerplate", "non_reference", "spam", "word_salad"):
        assert all(lang == "en" and p >= 0.5 for lang, p in by_kind[kind]), (
            kind,
            min(p for _, p in by_kind[kind]),
        )
    assert all(lang != "en" for lang, _ in by_kind["non_english"])
    assert all(p < 0.5 for _, p in by_kind["gibberish"])


def test_perplexity_tail_is_exactly_spam_and_salad(sample_world, pages, tmp_path):
    spm = pytest.importorskip("sentencepiece")
    kenlm = pytest.importorskip("kenlm")
    bindir = _kenlm_bin()
    if bindir is None:
        pytest.skip("KenLM's lmplz is not built (make tools)")
    lines = [
        normalize(ln)
        for ln in _wiki_lines(sample_world / "wikipedia" / "enwiki-20220801-pages-articles.xml.bz2")
    ]
    (tmp_path / "wiki.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(tmp_path / "wiki.txt"),
        model_prefix=str(tmp_path / "en"),
        vocab_size=1000,
        model_type="unigram",
        character_coverage=0.9995,
        minloglevel=2,
        num_threads=1,
    )
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "en.model"))
    (tmp_path / "wiki.sp").write_text("\n".join(" ".join(sp.encode(ln, out_type=str)) for ln in lines) + "\n")
    with open(tmp_path / "wiki.sp") as src, open(tmp_path / "en.arpa", "w") as dst:
        subprocess.run(
            [str(bindir / "lmplz"), "-o", "5", "--discount_fallback", "-S", "10%", "-T", str(tmp_path)],
            stdin=src,
            stdout=dst,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    lm = kenlm.Model(str(tmp_path / "en.arpa"))
    english = [(kind, reason, text) for kind, reason, text in pages if reason != "language"]
    ppl = []
    for kind, _, text in english:
        lines = text.split("\n")
        if kind == "boilerplate":  # what line dedup leaves: title and the page's own paragraphs
            lines = lines[:1] + [ln for ln in lines[1:] if ln.endswith(".") and len(ln) > 120]
        log10, n = 0.0, 0
        for line in lines:
            pieces = " ".join(sp.encode(normalize(line), out_type=str))
            log10 += lm.score(pieces)
            n += len(pieces.split()) + 1
        ppl.append(10 ** (-log10 / n))
    p60 = float(np.percentile(ppl, 60))
    tail = {i for i, p in enumerate(ppl) if p >= p60}
    assert tail == {i for i, (_, reason, _) in enumerate(english) if reason == "perplexity_tail"}
    fluent = max(p for p, (_, r, _) in zip(ppl, english, strict=True) if r != "perplexity_tail")
    junk = min(p for p, (_, r, _) in zip(ppl, english, strict=True) if r == "perplexity_tail")
    assert junk > 1.5 * fluent, (fluent, junk)  # a clear margin, not a tie at the cutoff
