"""`lamina bench`: the registry lists every benchmark, each one's `--help` shows that benchmark's own
options and runs nothing, an unknown name is a usage error, and docs/benchmarks.md documents each."""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import pytest

from lamina import bench
from lamina.cli import main as lamina

REPO = Path(__file__).resolve().parents[2]


def test_bench_help_after_a_name_shows_that_benchmarks_options(capsys):
    """`lamina bench block --help` (how a user finds --tp-only) prints block's options and runs nothing;
    `lamina bench --help` lists the benchmarks."""
    with pytest.raises(SystemExit) as done:
        bench.main(["block", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "usage: lamina bench block" in out and "--tp-only" in out and "bytes/block" not in out
    assert bench.main(["--help"]) == 0 and "block" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(bench.BENCHES))
def test_every_benchmark_lives_in_lamina_bench_and_answers_help(name, capsys):
    module, _ = bench.BENCHES[name]
    assert module.startswith("lamina.bench."), module  # no benchmark outside the package
    with pytest.raises(SystemExit) as done:
        importlib.import_module(module).bench(["--help"])
    assert done.value.code == 0
    assert f"usage: lamina bench {name}" in capsys.readouterr().out


def test_lamina_bench_help_lists_every_benchmark_and_refuses_an_unknown_one(capsys):
    assert lamina(["bench", "--help"]) == 0
    listed = re.findall(r"^  (\S+)\s", capsys.readouterr().out, flags=re.M)
    assert listed == list(bench.BENCHES)
    assert lamina(["bench", "nosuch"]) == 2  # the usage, and nothing runs
    got = capsys.readouterr()
    assert "usage: lamina bench" in got.out
    assert got.err.strip() == "lamina bench: unknown benchmark(s) nosuch"  # which name was wrong


def test_every_benchmark_is_documented_in_docs_benchmarks():
    page = (REPO / "docs" / "benchmarks.md").read_text()
    missing = [n for n in bench.BENCHES if f"lamina bench {n}" not in page]
    assert missing == [], f"docs/benchmarks.md does not document: {missing}"


def test_make_bench_runs_the_named_benchmarks_and_builds_datatrove_only_for_it():
    """`make bench BENCH="ccnet shards"` runs exactly those and does not build the datatrove venv;
    `make bench` (all) and `BENCH=datatrove` try to build it first. Dry runs (`make -n`)."""

    def dry(*args: str) -> str:
        # -o venv -o tools: their recipes hold $(MAKE), which runs even under -n (a KenLM build)
        cmd = ["make", "-n", "-s", "-o", "venv", "-o", "tools", "bench", *args]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    some = dry("BENCH=ccnet shards")
    assert some.strip().splitlines()[-1].endswith("-m lamina bench ccnet shards")
    # the venv's path (echoed when built, created when not) names it either way
    assert "datatrove-venv" not in some
    assert "datatrove-venv" in dry("BENCH=datatrove")
    every = dry()
    assert "datatrove-venv" in every
    assert every.strip().splitlines()[-1].endswith("-m lamina bench")
