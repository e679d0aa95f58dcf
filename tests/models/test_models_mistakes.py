"""`lamina models` user mistakes: one line naming what to fix, exit 2, no traceback. Before, a dump
without a language in its name or `--languages` matching no dump trained nothing and exited 0, and
a one-language LID or a bad `--lid-corpus` line was a traceback."""

from __future__ import annotations

import shutil

import pytest

from lamina.models import main

EN = "wikipedia/enwiki-table-markup.xml.bz2"


def _argv(kind: str, shared_data, tmp_path) -> tuple[list[str], str]:
    if kind == "missing_dump":
        return [
            "--wikipedia",
            str(tmp_path / "enwiki-20220801-pages-articles.xml.bz2"),
        ], "no Wikipedia dump at"
    if kind == "unnamed_dump":
        shutil.copy(shared_data / EN, tmp_path / "dump.xml.bz2")
        return [
            "--wikipedia",
            str(tmp_path / "dump.xml.bz2"),
        ], "dump.xml.bz2: the dump's language comes from its name"
    if kind == "no_such_language":
        return ["--wikipedia", str(shared_data / EN), "--languages", "de"], "--languages de: no dump of these"
    if kind == "one_language_lid":
        return [
            "--wikipedia",
            str(shared_data / EN),
            "--only",
            "lid",
        ], "needs at least 2 languages, got ['en']"
    if kind == "bad_lid_corpus":
        (tmp_path / "bad.ft").write_text("__label__en fine\nhello world\n")
        return [
            "--lid-corpus",
            str(tmp_path / "bad.ft"),
            "--only",
            "lid",
        ], "bad.ft:2: expected '__label__<lang>"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["missing_dump", "unnamed_dump", "no_such_language", "one_language_lid", "bad_lid_corpus"]
)
def test_lamina_models_mistakes_are_one_line(kind, shared_data, tmp_path, capsys):
    argv, expected = _argv(kind, shared_data, tmp_path)
    out = tmp_path / "m"
    assert main(["--sample", str(tmp_path / "none"), "--out", str(out), *argv]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("lamina models [")]
    assert len(err) == 1 and err[0].startswith("lamina models: ") and expected in err[0], err
    assert not (out / "lid" / "lid.bin").exists() and not list(out.glob("lm/*"))
