"""`run.json`: a corpus run records its inputs (with checksums of the file lists), its models (card
checksums), the resolved config, the runner and options, the code version and its times; runs of
different sources into one directory keep each other's records; the report shows them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from lamina.reports import provenance
from lamina.reports.cli import main as report_main
from tests.reports.test_report import c4_stats, write_corpus


def test_inputs_and_models_are_described(sample_world, tmp_path):
    inputs = provenance.describe_inputs(
        {"books": str(sample_world / "books"), "commoncrawl": str(sample_world / "cc" / "wet.paths")}
    )
    books = sorted(p for p in (sample_world / "books").rglob("*") if p.is_file())
    assert inputs["books"]["files"] == len(books) > 0
    assert inputs["books"]["bytes"] == sum(p.stat().st_size for p in books)
    lines = [x for x in (sample_world / "cc" / "wet.paths").read_text().splitlines() if x.strip()]
    assert inputs["commoncrawl"]["files"] == len(lines) > 0  # the list's entries, not the list file
    # The checksum follows the file list: a changed input changes it, the same input does not.
    again = provenance.describe_inputs({"books": str(sample_world / "books")})
    assert again["books"]["list_sha256"] == inputs["books"]["list_sha256"]
    copy = tmp_path / "books"
    shutil.copytree(sample_world / "books", copy)
    before = provenance.describe_inputs({"b": str(copy)})["b"]["list_sha256"]
    target = copy / books[0].relative_to(sample_world / "books")
    target.write_bytes(target.read_bytes() + b"x")  # same names, one size differs
    assert provenance.describe_inputs({"b": str(copy)})["b"]["list_sha256"] != before
    assert provenance.describe_inputs({"none": str(tmp_path / "missing")})["none"]["files"] == 0

    models = tmp_path / "models"
    (models / "lid").mkdir(parents=True)
    (models / "lid" / "card.json").write_text('{"a": 1}')
    (models / "lid" / "lid.bin").write_bytes(b"big")
    (models / "lm").mkdir()
    (models / "lm" / "en.card.json").write_text("{}")
    (models / "lm" / "en.arpa.bin").write_bytes(b"12345")
    described = provenance.describe_models(
        {"lid": str(models / "lid" / "lid.bin"), "lm": str(models / "lm"), "wikiref": None}
    )
    assert described["wikiref"] is None  # not used by the run
    assert described["lid"]["files"] == {str(models / "lid" / "lid.bin"): 3}
    assert described["lid"]["cards"] == {
        str(models / "lid" / "card.json"): hashlib.sha256(b'{"a": 1}').hexdigest()
    }
    assert described["lm"]["files"] == {str(models / "lm" / "en.arpa.bin"): 5}  # cards are not files
    assert list(described["lm"]["cards"]) == [str(models / "lm" / "en.card.json")]


def _record(sources, started="2026-01-01T00:00:00Z"):
    return {"sources": sources, "started": started}


def test_runs_of_different_sources_keep_each_others_records():
    first = provenance.merge_runs(None, _record(["commoncrawl", "c4"], "t1"))
    second = provenance.merge_runs(first, _record(["c4"], "t2"))
    assert [(r["sources"], r["started"]) for r in second["runs"]] == [(["commoncrawl"], "t1"), (["c4"], "t2")]
    third = provenance.merge_runs(second, _record(["commoncrawl", "c4"], "t3"))
    assert [r["started"] for r in third["runs"]] == ["t3"]


def test_report_shows_the_run_record(tmp_path, capsys):
    corpus = write_corpus(tmp_path, c4=c4_stats())
    record = provenance.build_run_record(
        argv=["--input", "in", "--models", "m"],
        runner="FnApiRunner",
        beam_options={"direct_num_workers": 2},
        config_path="configs/corpus/tiny.toml",
        resolved_config={"c4": {"lid_threshold": 0.99}},
        inputs={"c4": str(tmp_path)},
        models={"lid": str(tmp_path / "no-models" / "lid.bin"), "lm": None, "wikiref": None},
        started="2026-12-01T10:00:00Z",
        finished="2026-12-01T10:05:00Z",
        seconds=300.0,
    )
    assert record["code"]["version"] and record["code"]["package"]
    provenance.write_run_record(str(corpus), provenance.merge_runs(None, {**record, "sources": ["c4"]}))
    assert report_main(["--corpus", str(corpus)]) == 0
    index = (corpus / "report" / "index.html").read_text(encoding="utf-8")
    for text in ("2026-12-01T10:00:00Z / 2026-12-01T10:05:00Z", "lamina corpus --input in --models m",
                 "configs/corpus/tiny.toml", "FnApiRunner", record["code"]["version"]):  # fmt: skip
        assert text in index, text
    data = json.loads((corpus / "report" / "report.json").read_text(encoding="utf-8"))
    assert data["provenance"]["runs"][0]["config"]["resolved"] == {"c4": {"lid_threshold": 0.99}}
    (corpus / "run.json").write_text("[1]")
    assert report_main(["--corpus", str(corpus)]) == 2
    assert "run.json: not a run record" in capsys.readouterr().err
    assert Path(corpus / "report" / "index.html").exists()  # the earlier report is left as it was
