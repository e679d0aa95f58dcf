"""`lamina bench datatrove` finds the datatrove venv `make datatrove-venv` builds, and says it skipped
when that venv is missing (datatrove cannot live in .venv: its fastText wheel clashes with
`fasttext`, docs/benchmarks.md)."""

from __future__ import annotations

import hashlib
import subprocess

from lamina.bench import datatrove as bench_datatrove
from lamina.bench.datatrove import REPO, bench, datatrove_python


def test_skips_with_a_message_without_the_venv(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAMINA_DATATROVE_VENV", str(tmp_path / "absent"))
    assert datatrove_python() is None
    assert bench([]) is None
    assert "bench datatrove skipped" in capsys.readouterr().out


def test_venv_path_is_the_makefiles(monkeypatch, tmp_path):
    # the Makefile keys the cached venv by the hash of requirements-datatrove.txt; so does the bench
    monkeypatch.delenv("LAMINA_DATATROVE_VENV", raising=False)
    monkeypatch.setenv("LAMINA_CACHE", str(tmp_path))
    made = subprocess.run(
        ["make", "-s", "-n", "datatrove-venv", f"LAMINA_CACHE={tmp_path}"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    key = hashlib.sha256(bench_datatrove.REQUIREMENTS.read_bytes()).hexdigest()[:12]
    assert f"{tmp_path}/datatrove-venv-{key}" in made.stdout
    venv = tmp_path / f"datatrove-venv-{key}"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    assert datatrove_python() is None  # not complete until make's stamp is written
    (venv / ".installed").write_text("")
    assert datatrove_python() == venv / "bin" / "python"
