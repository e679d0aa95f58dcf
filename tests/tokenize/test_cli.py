"""`lamina tokenizer train` from the command line (the shards command runs in test_shards)."""

from __future__ import annotations

import json
import shutil

from lamina.cli import main as lamina
from tests.tokenize.conftest import train_cli


def test_cli_train_writes_model_vocab_and_card(corpus_dir, tokenizer_model, tmp_path, capsys):
    shutil.copytree(corpus_dir / "docs", tmp_path / "docs")
    rc = train_cli(tmp_path, "--vocab-size", "1200", "--sample-chars", "300000")
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


def _error(capsys) -> str:
    """The one error line of stderr (the progress lines above it are not errors), no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("lamina tokenizer train: ")]
    assert err.strip().splitlines()[-1] == line
    return line


def test_cli_train_mistakes_are_one_line(corpus_dir, tmp_path, capsys):
    """A vocabulary the corpus cannot fill (the default 32,000 on a small corpus), a too small one,
    and a corpus that is not there: one line and exit 2, not SentencePiece's or Python's traceback."""
    shutil.copytree(corpus_dir / "docs", tmp_path / "docs")
    rc = train_cli(tmp_path, "--sample-chars", "60000")
    err = _error(capsys)
    assert rc == 2, err
    assert (
        err.startswith("lamina tokenizer train: vocab_size 32000 is too large")
        and "smaller --vocab-size" in err
    )
    assert not (tmp_path / "tokenizer" / "tokenizer.model").exists()
    rc = train_cli(tmp_path, "--vocab-size", "400", "--sample-chars", "60000")
    err = _error(capsys)
    assert rc == 2 and "larger --vocab-size" in err, err
    assert lamina(["tokenizer", "train", "--corpus", str(tmp_path / "nowhere")]) == 2
    err = _error(capsys)
    assert "nowhere/docs not found" in err, err
