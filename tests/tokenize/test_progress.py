"""`lamina tokenizer` says what it reads and does on stderr (long work must not be silent)."""

from __future__ import annotations

import shutil

from tests.tokenize.conftest import train_cli


def test_tokenizer_train_prints_each_source_and_the_training_step(corpus_dir, tmp_path, capsys):
    shutil.copytree(corpus_dir / "docs", tmp_path / "docs")
    rc = train_cli(tmp_path, "--vocab-size", "1200", "--sample-chars", "200000")
    err = capsys.readouterr().err
    assert rc == 0
    lines = [line for line in err.splitlines() if line.startswith("lamina tokenizer [")]
    for i, source in enumerate(("c4", "github", "wikipedia"), 1):  # LLaMA's order, one line each
        assert any(f"] {source} ({i}/3): sampled " in line and " documents" in line for line in lines), err
    assert any("training SentencePiece BPE on " in line and "vocab 1,200" in line for line in lines), err
    assert lines[-1].endswith(str(tmp_path / "tokenizer" / "tokenizer.model")), err
