"""`lamina bench books --scales 1 --repeats 1`: both designs (components in this tree, the gathered
edges of the peer revision) run on the sample world, write the same documents and drops, and every
figure is measured (printed, never asserted against a speed)."""

from __future__ import annotations

import subprocess

import pytest

from lamina.bench.books import PEER, REPO, bench


@pytest.mark.slow
def test_books_bench_runs_both_designs_with_identical_outputs(tmp_path, capsys):
    have_peer = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{PEER}^{{commit}}"], check=False)
    if have_peer.returncode != 0:
        pytest.skip(f"the peer revision {PEER} is not in this clone")
    (row,) = bench(["--scales", "1", "--repeats", "1", "--work", str(tmp_path)])
    printed = capsys.readouterr().out
    assert row["identical"], printed
    for design in ("components", "peer"):
        m = row[design]
        assert m["books"] == 6 and m["wall"] > 0 and m["shuffle"] > 0 and m["elements"] > 0
    # the join by node moves the book bodies once more; the rounds add records, never fewer
    assert row["components"]["shuffle"] > row["peer"]["shuffle"]
    assert "components / peer: wall" in printed and "byte-identical" in printed
