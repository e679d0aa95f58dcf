"""SentencePiece + KenLM perplexity: cc_net's formula, and a model trained on the real English dump."""

from __future__ import annotations

import json
import math
import pickle
import random
import statistics

import kenlm
import pytest
import sentencepiece

from lamina.filters.normalize import normalize
from lamina.filters.perplexity import PerplexityScorer
from lamina.formats.wikipedia import read_dump
from lamina.models import main

EN = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
KEYWORDS = ["cheap", "viagra", "casino", "online", "best", "price", "buy", "free", "loans", "download",
            "crack", "hot", "deals", "click", "here", "win", "bonus", "replica", "watches", "pills"]  # fmt: skip


def keyword_spam(rng: random.Random) -> str:
    return "\n".join(" ".join(rng.choice(KEYWORDS) for _ in range(rng.randint(8, 20))) for _ in range(20))


def gibberish(rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"

    def word() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(2, 9)))

    return "\n".join(" ".join(word() for _ in range(15)) for _ in range(20))


def test_formula_is_cc_nets(sample_models):
    """line scoring: 10^(-sum(line log10 scores) / sum(pieces + 1 per line)) on normalized lines, blank
    lines skipped; document scoring (cc_net's): the whole text normalized (newlines removed) and scored
    as one sentence."""
    sp_path, lm_path = sample_models / "lm" / "en.sp.model", sample_models / "lm" / "en.arpa.bin"
    scorer = PerplexityScorer(sp_path, lm_path, scoring="line")
    text = "The River Flows through 12 Towns.\n\n  It was Founded in 1850 by settlers.  \n"
    sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_path))
    lm = kenlm.Model(str(lm_path))
    total = length = 0
    for line in text.split("\n"):
        if normalize(line):
            pieces = sp.encode(normalize(line), out_type=str)
            total += lm.score(" ".join(pieces), bos=True, eos=True)
            length += len(pieces) + 1
    assert scorer.perplexity(text) == round(10 ** (-total / length), 1)
    glued = sp.encode(normalize(text), out_type=str)
    assert "\n" not in normalize(text)
    doc_pp = round(10 ** (-lm.score(" ".join(glued), bos=True, eos=True) / (len(glued) + 1)), 1)
    assert PerplexityScorer(sp_path, lm_path).perplexity(text) == doc_pp != scorer.perplexity(text)
    # Normalization: case, digits and accents do not change the score.
    assert scorer.perplexity("The river flows through 12 towns.") == scorer.perplexity(
        "the RIVER flows through 99 towns."
    )
    assert scorer.perplexity("") == math.inf
    clone = pickle.loads(pickle.dumps(scorer))
    assert clone._lm is None and clone.perplexity(text) == scorer.perplexity(text)


@pytest.mark.slow  # cleans the English dump and trains SentencePiece + KenLM on it: ~40 s
def test_english_kenlm_separates_held_out_pages_from_spam_and_gibberish(shared_data, tmp_path, capsys):
    dump = shared_data / "wikipedia" / EN
    assert main(["--sample", str(tmp_path / "none"), "--out", str(tmp_path / "m"), "--wikipedia", str(dump),
                 "--only", "lm"]) == 0  # fmt: skip
    card = json.loads((tmp_path / "m" / "lm" / "en.card.json").read_text())
    held = set(card["held_out"]["page_ids"])
    assert 5 <= len(held) <= 25 and card["trained_on"]["pages"] >= 80  # most pages trained on
    scorer = PerplexityScorer(tmp_path / "m" / "lm" / "en.sp.model", tmp_path / "m" / "lm" / "en.arpa.bin")
    docs, _ = read_dump(dump)
    held_pp = [scorer.perplexity(d.text) for d in docs if d.metadata["page_id"] in held]
    assert len(held_pp) == len(held)
    rng = random.Random(0)
    spam_pp = [scorer.perplexity(keyword_spam(rng)) for _ in range(20)]
    gib_pp = [scorer.perplexity(gibberish(rng)) for _ in range(20)]
    med = statistics.median(held_pp)
    with capsys.disabled():
        print(f"\nen KenLM: held-out pages median {med:.0f} (max {max(held_pp):.0f}); keyword spam median "
              f"{statistics.median(spam_pp):.0f} (min {min(spam_pp):.0f}, {statistics.median(spam_pp) / med:.1f}x); "
              f"gibberish median {statistics.median(gib_pp):.0f} (min {min(gib_pp):.0f}, "
              f"{statistics.median(gib_pp) / med:.1f}x)")  # fmt: skip
    # Measured: held-out median ~311 (cc_net's English p30 is 340), spam ~4500 (~15x), gibberish ~2300
    # (~7x), and every held-out page below every spam and gibberish text.
    assert statistics.median(spam_pp) >= 4 * med
    assert statistics.median(gib_pp) >= 4 * med
    assert max(held_pp) < min(spam_pp + gib_pp)
    assert card["held_out"]["median_perplexity"] == pytest.approx(med, abs=0.11)


def test_normalize_always_returns_the_decomposed_text_as_cc_net():
    """cc_net's strip_accents returns the NFD text with combining marks removed even when there is no
    mark to remove (its early return never fires), so Hangul reaches its models as jamo."""
    import unicodedata

    assert normalize("Señora Café") == "senora cafe"
    hangul = "한국어 위키백과"
    assert normalize(hangul) == unicodedata.normalize("NFD", hangul) != hangul
    assert normalize("Plain ASCII 42") == "plain ascii 00"


def test_percentile_interval_narrows_with_the_sample():
    """The card's 90% interval of a cutoff: a few dozen pages leave the p60 wide open, 900 pin it."""
    from lamina.models.lm import percentile, percentile_interval

    rng = random.Random(0)
    for n, max_width in ((50, 450), (900, 120)):
        values = sorted(1000 * rng.random() for _ in range(n))  # "perplexities" uniform: true p60 600
        lo, hi = percentile_interval(values, 60)
        assert lo <= percentile(values, 60) <= hi and lo < 600 < hi
        assert hi - lo <= max_width, (n, lo, hi)
    small = percentile_interval(sorted(1000 * rng.random() for _ in range(50)), 60)
    assert small[1] - small[0] > 150  # 50 pages: +-7 ranks
    assert percentile_interval([3.0], 60) == [3.0, 3.0]
