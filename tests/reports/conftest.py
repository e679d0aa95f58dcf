"""The `make corpus` run the report tests open: sample world -> models -> corpus (every source, drops
written) -> tokenizer -> shards -> report, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reports.browser import Browser, find_chromium


def make_corpus(sample_world: Path, sample_models: Path, out: Path, *extra: str) -> Path:
    """What `make corpus` runs, into `out` (extra options go to `lamina corpus`)."""
    from lamina.pipelines.corpus import main as corpus_main
    from lamina.reports.cli import main as report_main
    from lamina.tokenize.cli import main as tokenizer_main

    argv = ["--input", str(sample_world), "--models", str(sample_models), "--out", str(out)]
    assert corpus_main([*argv, "--ledger", "--write-dropped", *extra]) == 0
    assert tokenizer_main(["train", "--corpus", str(out), "--vocab-size", "2000"]) == 0
    assert tokenizer_main(["shards", "--corpus", str(out)]) == 0
    assert report_main(["--corpus", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def corpus_run(sample_world, sample_models, tmp_path_factory) -> Path:
    """One `make corpus` run on the sample world (its report at <run>/report/index.html)."""
    return make_corpus(sample_world, sample_models, tmp_path_factory.mktemp("make-corpus"))


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("Debian's chromium is not installed (run `make chromium`, as root)")
    b = Browser(binary)
    yield b
    b.close()
