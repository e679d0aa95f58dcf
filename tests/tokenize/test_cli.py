"""`lamina tokenizer train` from the command line (the shards command runs in test_shards)."""

from __future__ import annotations

import json
import shutil
import warnings

from lamina.cli import main as lamina


def test_cli_train_writes_model_vocab_and_card(corpus_dir, tokenizer_model, tmp_path, capsys):
    shutil.copytree(corpus_dir / "docs", tmp_path / "docs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = lamina(
            [
                "tokenizer",
                "train",
                "--corpus",
                str(tmp_path),
                "--vocab-size",
                "1200",
                "--sample-chars",
                "300000",
            ]
        )
    assert rc == 0 and "tokenizer.model" in capsys.readouterr().out
    out = tmp_path / "tokenizer"
    card = json.loads((out / "card.json").read_text())
    assert card["vocab_size"] == 1200 and set(card["sources"]) == {"c4", "github", "wikipedia"}
    # same pieces as the fixture's model, trained with 2 threads: the thread count does not matter
    assert (out / "tokenizer.vocab").read_bytes() == (tokenizer_model.parent / "tokenizer.vocab").read_bytes()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_cli_shards_without_a_tokenizer_says_what_to_run(corpus_dir, tmp_path):
    import pytest

    shutil.copytree(corpus_dir / "docs", tmp_path / "docs")
    with pytest.raises(SystemExit, match="lamina tokenizer train"):
        lamina(["tokenizer", "shards", "--corpus", str(tmp_path)])
