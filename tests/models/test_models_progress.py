"""`lamina models` shows progress: it printed nothing at all for the minutes a real dump takes."""

from __future__ import annotations

import lamina.models.cli as models_cli
from lamina.models import main


def test_lamina_models_says_what_it_reads_and_when_each_model_is_written(
    shared_data, tmp_path, capsys, monkeypatch
):
    lines = []
    for lang in ("en", "de", "ru"):
        text = (shared_data / "multilingual" / "lingua_sentences" / f"{lang}.txt").read_text().splitlines()
        lines += [f"__label__{lang} {t}" for t in text[:300]]
    corpus = tmp_path / "train.ft"
    corpus.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(models_cli, "PROGRESS_S", 0.0)  # a line per item read: every reader is seen
    assert main(["--sample", str(tmp_path / "none"), "--out", str(tmp_path / "m"), "--lid-corpus", str(corpus),
                 "--only", "lid"]) == 0  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    assert all(line.startswith("lamina models [") for line in err), err
    assert f"lid: reading {corpus}" in err[0]
    assert any("lid: paragraphs: 450 read (" in line for line in err), err[:5]
    assert any("lid: paragraphs: 900 read in " in line for line in err), err[-3:]
    assert "lid written: " in err[-1] and str(tmp_path / "m" / "lid") in err[-1]
