"""`lamina bench langid` and `lamina bench c4lang` at their smallest, on the real samples: each trains
its LID on lingua's sentences and prints its figures; the figures are the benchmark's, so only what
must hold whatever the machine is checked (C4's own pages pass TFDS's langdetect test)."""

from __future__ import annotations

import pytest

from lamina.bench import c4lang, langid


def test_c4lang_times_both_tests_on_real_c4_pages(shared_data, capsys):
    r = c4lang.bench(["--rounds", "1", "--limit", "20", "--data", str(shared_data / "multilingual")])
    out = capsys.readouterr().out
    assert "C4 language test on 20 real C4 pages, 1 alternated rounds" in out
    assert r["pages"] == 20 and set(r["ms_per_page"]) == {"langdetect", "fasttext"}
    assert all(ms > 0 for ms in r["ms_per_page"].values())
    # C4 kept only pages langdetect (seeded as TFDS does) calls English at >= 0.99
    assert r["kept"]["langdetect"] == 20
    assert 0 <= r["kept"]["fasttext"] <= 20


@pytest.mark.slow  # trains the 75-language LID: ~35 s
def test_langid_prints_udhr_accuracy_per_llama_language(shared_data, capsys):
    r = langid.bench(["--data", str(shared_data / "multilingual")])
    out = capsys.readouterr().out
    assert "UDHR," in out and "20 LLaMA languages: accuracy" in out
    assert set(r["per_language"]) == set(langid.LLAMA_LANGUAGES)
    # wiring, not quality (tests/models/test_langid.py holds the floor): labels and UDHR files line up
    assert r["paragraphs"] > 500 and 0.9 < r["accuracy"] <= 1 and r["train_seconds"] > 0
