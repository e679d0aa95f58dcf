"""`lamina report --compare A B` of two sample runs whose perplexity cutoffs differ: the head/middle
split that moved, the cutoffs and settings side by side, the funnel stage by stage, and the documents
whose outcome changed (from both ledgers), as HTML and as JSON."""

from __future__ import annotations

import json
import re
from collections import Counter

import pyarrow.dataset as ds
import pytest

from lamina.pipelines.corpus import main as corpus_main
from lamina.reports.cli import main as report_main

pytestmark = pytest.mark.slow
CUTOFFS = (10.0, 30.0)  # the sample LM card's are about (3.6, 42): this moves pages between the buckets


@pytest.fixture(scope="module")
def run_b(corpus_run, sample_world, sample_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("run-b")
    argv = ["--input", str(sample_world), "--models", str(sample_models), "--out", str(out), "--ledger",
            "--sources", "commoncrawl", "--set", f"ccnet.cutoffs={{en=[{CUTOFFS[0]}, {CUTOFFS[1]}]}}"]  # fmt: skip
    assert corpus_main(argv) == 0
    return out


def _ledger(run):
    part = run / "ledger" / "source=commoncrawl"
    return {r["id"]: r for r in ds.dataset(str(part), format="parquet").to_table().to_pylist()}


def test_compare_shows_the_moved_split(corpus_run, run_b, tmp_path):
    out = tmp_path / "cmp"
    assert report_main(["--compare", str(corpus_run), str(run_b), "--out", str(out)]) == 0
    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    page = (out / "compare.html").read_text(encoding="utf-8")
    a = json.loads((corpus_run / "stats" / "commoncrawl.json").read_text())
    b = json.loads((run_b / "stats" / "commoncrawl.json").read_text())
    cc = data["sources"]["commoncrawl"]
    assert cc["in"] == "both" and data["sources"]["c4"]["in"] == "A only"
    # c4 is only in A (B ran commoncrawl alone; both wrote ledgers): no claim that a ledger is missing
    assert data["sources"]["c4"]["changed_documents"] is None
    assert page.count("needs both runs' ledgers") == 0
    # The head/middle split, both runs' numbers as their statistics give them, and the move shown.
    for g in ("en_head", "en_middle"):
        va, vb = a["kept_by_group"].get(g, 0), b["kept_by_group"].get(g, 0)
        assert cc["kept_by_group"][g] == {"a": va, "b": vb, "delta": vb - va}
        row = re.search(rf'<tr data-group="{g}">(.*?)</tr>', page).group(1)
        assert f"<td>{va:,}</td><td>{vb:,}</td>" in row
    assert a["kept_by_group"] != b["kept_by_group"]  # the cutoffs did move it
    # The cutoffs applied, side by side, and the settings that differ.
    pa, pb = a["settings"]["cutoffs_applied"]["en"], b["settings"]["cutoffs_applied"]["en"]
    assert [m["value"] for m in cc["thresholds"]["b"]["perplexity"]["en"]] == list(CUTOFFS)
    assert [m["value"] for m in cc["thresholds"]["a"]["perplexity"]["en"]] == [pa["p30"], pa["p60"]]
    assert f"perplexity en: {pb['p30']:g}, {pb['p60']:g}" in page
    assert cc["settings_changed"]["cutoffs_applied.en.p60"] == {"a": pa["p60"], "b": pb["p60"]}
    # Stage by stage: the buckets stage's drops, A -> B.
    buckets = next(s for s in cc["stages"] if s["stage"] == "buckets")
    assert buckets["dropped"]["perplexity_tail"] == {
        "a": a["dropped"].get("perplexity_tail", 0),
        "b": b["dropped"].get("perplexity_tail", 0),
    }
    # The documents whose outcome changed: the same transitions as the two ledgers, compared here.
    la, lb = _ledger(corpus_run), _ledger(run_b)

    def outcome(r):
        return r["reason"] or f"kept ({r['bucket']})"

    want = Counter(f"{outcome(la[i])} -> {outcome(lb[i])}" for i in lb if outcome(la[i]) != outcome(lb[i]))
    got = {t: v["n"] for t, v in cc["changed_documents"]["transitions"].items()}
    assert got == dict(want) and sum(want.values()) > 0
    assert cc["changed_documents"]["joined_on"] == "id"
    moved = "kept (en_middle) -> kept (en_head)"
    if moved in want:
        sample = cc["changed_documents"]["transitions"][moved]["sample"]
        assert all(outcome(la[d["id"]]) == "kept (en_middle)" and outcome(lb[d["id"]]) == "kept (en_head)"
                   for d in sample)  # fmt: skip
        assert f"{moved}: {want[moved]:,}".replace(">", "&gt;") in page


def test_compare_needs_two_runs(tmp_path, capsys):
    assert report_main(["--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "no statistics files in" in capsys.readouterr().err
