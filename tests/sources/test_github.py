"""GitHub: the RedPajama rules as table tests, the BigQuery row readers, and the Beam pipeline on the
sample world against its ground truth (every file's verdict and reason), conservation and re-run bytes."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline

from lamina.filters import github as rules
from lamina.formats import github as fmt
from lamina.pipelines import github as gh
from lamina.pipelines.corpus import build_source

FN_API_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"

CODE = "def mean(values):\n    return sum(values) / len(values)\n"


LINE_1000 = ("word " * 200)[:1000]
LINE_99 = ("value " * 20)[:99]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (CODE, None),
        ("x = 1\n" * 20 + LINE_1000 + "\n", None),  # longest line exactly 1000 characters: kept
        ("x = 1\n" * 20 + LINE_1000 + "s\n", rules.MAX_LINE_LENGTH),  # 1001
        ((LINE_99 + "\n") * 9, None),  # 900 characters / 9 lines = 100.0: kept
        ((LINE_99 + "s\n") * 9, rules.MEAN_LINE_LENGTH),  # 909 / 9 = 101
        ("+---+ |   | +---+ value\n", rules.ALNUM_FRACTION),  # 5 alphanumeric of 24 = 0.21
        ("+--+ value\n", None),  # 5 of 11 = 0.45
        ("ab, c,\n" * 5, None),  # 3 letters / 2 words = 1.5: kept
        ("0x10, 0x20, 0x30, 0x40,\n" * 8, rules.ALPHA_PER_TOKEN),  # 4 letters / 4 words = 1.0
        ("", rules.ALNUM_FRACTION),  # nothing left (e.g. a file that was all license header)
        ("# Copyright 2020 A\n# MIT\n", rules.ALNUM_FRACTION),  # only a license header: empty after the cut
    ],
)
def test_quality_thresholds(text, reason):
    assert rules.quality(text).reason == reason


def test_mean_line_length_is_redpajamas_chars_per_line():
    # RedPajama: len(content) / number of lines (newlines count as characters)
    s = rules.text_stats("ab\ncd\n")
    assert s.mean_line_length == 3.0 and s.max_line_length == 2


def test_alpha_per_token_definitions():
    text = "foo(bar, baz);\n"
    assert rules.count_tokens(text) == 2  # whitespace words: "foo(bar," "baz);"
    assert rules.count_tokens(text, rules.GitHubConfig(token_mode="pretoken")) == 7
    with pytest.raises(ValueError, match="token_mode"):
        rules.GitHubConfig(token_mode="bpe")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a leading /* ... */ block containing "copyright" is cut, whatever its case
        ("/*\n * Copyright 2020 A\n * Apache-2.0\n */\n\nint x;\n", "int x;\n"),
        ("  /* COPYRIGHT (c) B */ int y;\n", "int y;\n"),
        # a leading block comment without "copyright" is code documentation: kept
        ("/* Parse the header. */\nint x;\n", "/* Parse the header. */\nint x;\n"),
        # otherwise leading //, # and -- comment lines and blank lines are cut
        ("# Copyright (c) 2021\n# SPDX: MIT\n\nimport os\n", "import os\n"),
        ("// generated\n\n// more\nvar a = 1;\n// trailing stays\n", "var a = 1;\n// trailing stays\n"),
        ("-- schema v2\nSELECT 1;\n", "SELECT 1;\n"),
        ("    # indented comment\nx = 1\n", "x = 1\n"),
        # code first: nothing is cut, not even a later copyright block
        ("int x;\n/* Copyright 2020 */\n", "int x;\n/* Copyright 2020 */\n"),
    ],
)
def test_boilerplate_removal(text, expected):
    assert rules.remove_boilerplate(text) == expected


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("src/a.py", True),
        ("Dockerfile", True),
        ("docker/Dockerfile", True),
        ("build/Makefile", True),
        ("lib/x.C", True),
        ("lib/x.cc", True),
        ("docs/index.rst", True),
        ("data/values.csv", False),
        ("poetry.lock", False),
        ("logo.png", False),
        ("makefile", False),  # RedPajama matches case-sensitively
        ("README", False),
    ],
)
def test_extension_whitelist(path, ok):
    assert rules.extension_ok(path) is ok


@pytest.mark.parametrize(
    ("lic", "ok"),
    [("mit", True), ("MIT", True), ("apache-2.0", True), ("bsd-3-clause", True), ("bsd-2-clause", True),
     ("gpl-3.0", False), ("lgpl-2.1", False), ("", False), (None, False)],
)  # fmt: skip
def test_license_whitelist(lic, ok):
    assert rules.license_ok(lic) is ok


def test_jsonl_rows_gzip_and_bad_lines_are_named():
    rows = [
        json.dumps({"repo_name": "a/b", "path": "x.py", "content": CODE, "license": "mit"}),
        "{not json",
        json.dumps({"path": "y.py", "content": "x", "license": "mit"}),
        json.dumps([1, 2]),
    ]
    raw = gzip.compress(("\n".join(rows) + "\n").encode())
    out = list(fmt.iter_rows(io.BytesIO(raw), "rows-000.jsonl.gz"))
    assert out[0].metadata["key"] == "a/b:x.py" and out[0].text == CODE
    assert out[0].id == fmt.stable_id("github", "a/b:x.py")
    assert [type(o).__name__ for o in out] == ["Document", "RowDrop", "RowDrop", "RowDrop"]
    assert "rows-000.jsonl.gz line 2" in out[1].detail and "row 2: no repo_name/path" in out[2].detail
    assert "line 4: not a JSON object" in out[3].detail


def test_plain_jsonl_rows():
    raw = json.dumps({"repo_name": "a/b", "path": "Makefile", "content": "all:\n", "license": "mit"}).encode()
    (doc,) = list(fmt.iter_rows(io.BytesIO(raw + b"\n\n"), "rows.jsonl"))
    assert doc.text == "all:\n" and doc.metadata["url"] == "https://github.com/a/b/blob/HEAD/Makefile"


def test_corrupt_parquet_is_one_named_drop():
    (d,) = list(fmt.iter_rows(io.BytesIO(b"PAR1 this is not parquet"), "bad.parquet"))
    assert isinstance(d, fmt.RowDrop) and d.file == "bad.parquet" and "not a readable parquet" in d.detail


def test_bigquery_sql_is_redpajamas_join_with_parameters():
    sql, params = fmt.bigquery_sql(rules.PERMISSIVE_LICENSES, limit=1000)
    assert "FROM `bigquery-public-data.github_repos.files` AS f" in sql
    assert "JOIN `bigquery-public-data.github_repos.contents` AS c ON f.id = c.id" in sql
    assert "JOIN `bigquery-public-data.github_repos.licenses` AS l ON f.repo_name = l.repo_name" in sql
    assert "WHERE l.license IN UNNEST(@licenses) AND NOT c.binary" in sql
    assert sql.endswith("LIMIT @limit") and "'mit'" not in sql and "apache" not in sql  # parameters
    assert params == {"licenses": ["mit", "apache-2.0", "bsd-2-clause", "bsd-3-clause"], "limit": 1000}
    qp = fmt._query_parameters(params)  # the real google-cloud-bigquery parameter objects
    assert [p.to_api_repr()["parameterType"]["type"] for p in qp] == ["ARRAY", "INT64"]
    export, _ = fmt.bigquery_export_sql("gs://bucket/github/*.parquet", ("mit",))
    assert export.startswith("EXPORT DATA OPTIONS(uri='gs://bucket/github/*.parquet', format='PARQUET'")
    with pytest.raises(ValueError, match="gs://"):
        fmt.bigquery_export_sql("/tmp/x.parquet", ("mit",))


def _run(world: Path, out: Path) -> dict:
    p = BeamPipeline(runner=FN_API_RUNNER, options=PipelineOptions([]))
    build_source(p, "github", str(world / "github"), str(out), gh.GitHubPipelineConfig(), write_dropped=True)
    p.run().wait_until_finish()
    return json.loads((out / "stats" / "github.json").read_text())


def _verdicts(out: Path) -> dict[str, tuple[str, str | None]]:
    got = {}
    for f in sorted((out / "docs" / "github").glob("*.jsonl.gz")):
        for line in gzip.open(f, "rt", encoding="utf-8"):
            got[json.loads(line)["metadata"]["key"]] = ("kept", None)
    for f in sorted((out / "dropped" / "github").glob("*.jsonl.gz")):
        for line in gzip.open(f, "rt", encoding="utf-8"):
            m = json.loads(line)["metadata"]
            got[m["key"]] = ("dropped", m["drop_reason"])
    return got


def _files(out: Path) -> dict[str, bytes]:
    return {str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*")) if f.is_file()}


def test_pipeline_meets_sample_ground_truth_and_reruns_byte_identical(sample_world, tmp_path):
    st = _run(sample_world, tmp_path / "a")
    truth = {
        t["key"]: (t["expected"], t["reason"])
        for t in map(json.loads, (sample_world / "ground_truth.jsonl").read_text().splitlines())
        if t["pipeline"] == "github"
    }
    assert _verdicts(tmp_path / "a") == truth
    assert st["conservation_ok"] and st["documents_in"] == len(truth) == 46
    assert st["documents_in"] == st["documents_kept"] + sum(st["dropped"].values())
    assert [s["stage"] for s in st["funnel"]] == [
        "read",
        "license",
        "duplicate_content",
        "extension",
        "quality",
    ]
    assert st["dropped"] == {
        "alnum_fraction": 1, "alpha_per_token": 1, "duplicate_content": 3, "extension": 3, "license": 4,
        "max_line_length": 1, "mean_line_length": 1,
    }  # fmt: skip
    kept = {
        json.loads(line)["metadata"]["key"]: json.loads(line)["text"]
        for line in gzip.open(
            tmp_path / "a" / "docs" / "github" / "github-00000-of-00001.jsonl.gz", "rt", encoding="utf-8"
        )
    }
    # license headers are cut, the code after them kept
    assert kept["river-tools/licensed:src/minmax.c"].startswith("#include <stdio.h>")
    assert kept["river-tools/licensed:scripts/mean.py"].startswith('"""Mean cubes."""')
    # the duplicate's first copy by (repo_name, path) is the one kept
    assert "octo-labs/stats-0:src/mean_square.py" in kept
    _run(sample_world, tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
