"""`lamina report` on statistics files written per the contract (docs/interfaces.md, "Statistics of a
run"): the pages hold the numbers, the plots and the escaped samples; bad files are clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lamina.reports.cli import main
from lamina.reports.stats import load_stats, perplexity_cutoffs

EVIL = '<script>alert("x")</script> & <b>bold</b>'


def ccnet_stats() -> dict:
    funnel = [
        {"stage": "read", "in": 1000, "kept": 990, "dropped": {"malformed_record": 6, "invalid_utf8": 4}},
        {"stage": "min_length", "in": 990, "kept": 900, "dropped": {"too_short": 90}},
        {"stage": "line_dedup", "in": 900, "kept": 880, "dropped": {"no_lines_left": 20},
         "lines_in": 30000, "lines_kept": 21000},
        {"stage": "language", "in": 880, "kept": 700, "dropped": {"language": 180}},
        {"stage": "perplexity", "in": 700, "kept": 450, "dropped": {"perplexity_tail": 250}},
        {"stage": "digest_dedup", "in": 450, "kept": 430, "dropped": {"duplicate_digest": 20}},
        {"stage": "wikiref", "in": 430, "kept": 400, "dropped": {"wikiref": 30}},
    ]  # fmt: skip
    dropped: dict[str, int] = {}
    for st in funnel:
        for r, n in st["dropped"].items():
            dropped[r] = dropped.get(r, 0) + n
    ppl_en = [50 + 13 * i for i in range(60)]
    ppl_de = [120 + 21 * i for i in range(40)]
    return {
        "source": "commoncrawl",
        "pipeline": "ccnet",
        "documents_in": 1000,
        "documents_kept": 400,
        "dropped": dropped,
        "conservation_ok": True,
        "funnel": funnel,
        "distributions": {
            "perplexity": {"en": ppl_en, "de": ppl_de},
            "language_score": [0.5 + i / 200 for i in range(100)],
            "length": [300 + 97 * i for i in range(100)] + [float("nan")],
        },
        "samples": {
            "too_short": [{"id": "d1", "url": "http://example.com/a?x=1&y=2", "text": EVIL}],
            "language": [
                {
                    "id": "d2",
                    "url": "http://example.de/",
                    "text": "Ein kurzer deutscher Text.",
                    "detail": "de 0.97 <not en>",
                }
            ],
        },
        "settings": {"perplexity": {"cutoffs": {"en": [340, 520], "de": [400, 700]}}, "lid_threshold": 0.5},
    }


def c4_stats() -> dict:
    return {
        "source": "c4",
        "pipeline": "c4",
        "documents_in": 200,
        "documents_kept": 150,
        "dropped": {"language": 10, "curly_bracket": 15, "too_few_sentences": 25},
        "conservation_ok": True,
        "funnel": [
            {"stage": "language", "in": 200, "kept": 190, "dropped": {"language": 10}},
            {
                "stage": "clean",
                "in": 190,
                "kept": 150,
                "dropped": {"curly_bracket": 15, "too_few_sentences": 25},
                "lines_in": 5000,
                "lines_kept": 2100,
            },
        ],  # fmt: skip
        "distributions": {"length": [400 + i for i in range(150)]},
        "samples": {},
        "settings": {},
    }


def write_corpus(tmp_path: Path, **sources: dict) -> Path:
    corpus = tmp_path / "corpus"
    (corpus / "stats").mkdir(parents=True)
    for name, data in sources.items():
        (corpus / "stats" / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    corpus = write_corpus(tmp_path_factory.mktemp("r"), commoncrawl=ccnet_stats(), c4=c4_stats())
    assert main(["--corpus", str(corpus)]) == 0
    return corpus / "report"  # the default --out


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


def test_index_overview(report):
    index = (report / "index.html").read_text(encoding="utf-8")
    names = {p.name for p in report.iterdir()}
    assert names == {"index.html", "commoncrawl.html", "c4.html", "report.json"}
    for text in ('href="commoncrawl.html"', 'href="c4.html"', "1,000", "400", "40.0%", "75.0%",
                 "all conserved", 'href="report.json"'):  # fmt: skip
        assert text in index, text
    # LLaMA Table 1 order: commoncrawl before c4; Table 1's figures beside each row.
    assert index.index('data-source="commoncrawl"') < index.index('data-source="c4"')
    assert '<td data-field="llama_weight" data-v="0.67">67.0%</td>' in index
    assert '<td data-field="llama_epochs" data-v="1.1">1.1</td>' in index
    # Documents of different sources are not summed: the "all sources" row has bytes/tokens only.
    total_row = re.search(r'<tr data-source="all">.*?</tr>', index, flags=re.S).group(0)
    assert "1,200" not in total_row and "550" not in total_row
    # No manifest and no run record in this corpus: said, not guessed.
    assert "shards/manifest.json (no tokens or mixture" in index and "run.json (no provenance" in index
    assert len(_svgs(index)) == 1
    data = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert [r["source"] for r in data["sources"]] == ["commoncrawl", "c4"]
    assert data["totals"]["tokens_kept"] is None and data["sources"][0]["tokens_kept"] is None


def test_source_page(report):
    page = (report / "commoncrawl.html").read_text(encoding="utf-8")
    for stage in ("read", "min_length", "line_dedup", "language", "perplexity", "digest_dedup", "wikiref"):
        assert f'<td class="name">{stage}</td>' in page
    assert "30,000" in page and "21,000" in page and "70.0%" in page  # lines of the line-dedup stage
    assert "perplexity_tail: 250" in page
    # Funnel chart, drops chart, three histograms: inline SVG, ids unique in the page.
    svgs = _svgs(page)
    assert len(svgs) == 5
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    # The cutoffs are drawn on the perplexity plot with their values as text, and named beside it.
    ppl = re.search(r'<figure data-dist="perplexity">.*?</figure>', page, flags=re.S).group(0)
    for g, values in (("en", ("340", "520")), ("de", ("400", "700"))):
        for i, v in enumerate(values):
            label = re.search(
                rf'id="f\d+-perplexity-threshold-{g}-{i}".*?<text[^>]*>([^<]*)</text>', ppl, re.S
            )
            assert label and label.group(1).startswith(f"{g} {v}"), (g, v)
    assert 'data-group="en" data-v="340.0">340</span>' in page
    assert "1 NaN/infinite values were left out" in page
    # The sampled page text is escaped, never live HTML.
    assert (
        "<script>alert" not in page
        and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in page
    )
    assert "http://example.com/a?x=1&amp;y=2" in page
    assert "de 0.97 &lt;not en&gt;" in page  # the drop's detail, when the run recorded one
    # Self-contained: nothing loaded from anywhere else.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    c4_page = (report / "c4.html").read_text(encoding="utf-8")
    assert "no sampled documents" in c4_page and "5,000" in c4_page


def test_histograms_hold_every_value():
    """Bins start at the smallest value and end at the largest, on log scales too (a float edge
    must not cut off the extremes: arXiv's "n=4" used to draw 3)."""
    from lamina.reports.plots import histogram_data

    for values, log in (([3.0, 17.0, 1234.5, 99999.0], True), ([0.1 * i for i in range(7)], False),
                        ([5.0, 5.0, 5.0], True), ([-2.0, 0.0, 3.5], True), ([1e-9, 1.0], True)):  # fmt: skip
        h = histogram_data({"a": values, "b": values[:2]}, log)
        assert h["edges"][0] <= min(values) and h["edges"][-1] >= max(values)
        assert sum(h["groups"]["a"]["counts"]) == len(values), (values, log)
        assert sum(h["groups"]["b"]["counts"]) == 2


def test_rerun_is_identical_and_atomic(report, tmp_path):
    out = tmp_path / "again"
    assert main(["--corpus", str(report.parent), "--out", str(out)]) == 0
    for name in ("index.html", "commoncrawl.html", "c4.html", "report.json"):
        assert (out / name).read_bytes() == (report / name).read_bytes(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in out.iterdir())  # readable by others


def test_broken_conservation_is_shown(tmp_path, capsys):
    bad = c4_stats()
    bad["documents_kept"] = 160  # 200 != 160 + 50
    corpus = write_corpus(tmp_path, c4=bad)
    assert main(["--corpus", str(corpus), "--out", str(tmp_path / "rep")]) == 0
    index = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    assert "broken" in index and "200 &ne; 160 + 50" in index
    assert "run recorded conservation_ok=true" in index  # the run's own flag disagrees with its counts
    assert "conservation broken for c4" in capsys.readouterr().err


def test_stale_shards_are_said_not_shown_as_this_corpus_tokens(tmp_path, capsys):
    """Shards written before the kept documents changed (`lamina refilter` in place keeps 400 of
    the 450 the shards hold): their tokens are not this corpus', so the page says so and shows none
    for that source (nor a total); a source whose shards match keeps its tokens."""
    corpus = write_corpus(tmp_path, commoncrawl=ccnet_stats(), c4=c4_stats())
    (corpus / "shards").mkdir()
    manifest = {
        "tokens": 9000,
        "mixture": {"weights": {"commoncrawl": 0.8, "c4": 0.2}},
        "sources": {
            "commoncrawl": {"documents": 449, "dropped": {"empty": 1}, "shards": 1, "tokens": 7000},
            "c4": {"documents": 148, "dropped": {"empty": 2}, "shards": 1, "tokens": 2000},
        },
    }
    (corpus / "shards" / "manifest.json").write_text(json.dumps(manifest))
    assert main(["--corpus", str(corpus)]) == 0
    err = capsys.readouterr().err
    assert (
        "commoncrawl's tokens: shards/manifest.json is stale (450 documents sharded, the statistics keep 400"
        in err
    )
    assert "c4" not in err  # 148 + 2 dropped empty = 150 kept: current
    data = json.loads((corpus / "report" / "report.json").read_text())
    rows = {r["source"]: r for r in data["sources"]}
    assert rows["commoncrawl"]["tokens_kept"] is None and rows["c4"]["tokens_kept"] == 2000
    assert data["totals"]["tokens_kept"] is None
    assert "is stale" in (corpus / "report" / "index.html").read_text(encoding="utf-8")


def _without(key):
    d = c4_stats()
    del d[key]
    return d


def _with(path, value):
    d = c4_stats()
    target = d
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return d


MALFORMED = [
    ("missing_documents_in", _without("documents_in"), "missing field 'documents_in'"),
    ("missing_funnel", _without("funnel"), "missing field 'funnel'"),
    ("negative_kept", _with(["documents_kept"], -1), "'documents_kept' must be a non-negative integer"),
    ("dropped_not_object", _with(["dropped"], [1, 2]), "'dropped' must be an object"),
    ("stage_without_in", _with(["funnel", 0], {"stage": "x", "kept": 1}), "missing field 'funnel[0].in'"),
    ("string_in_distribution", _with(["distributions", "length"], [1, "two"]), "item 1 is not a number"),
    ("wrong_source", _with(["source"], "books"), "file is named for 'c4'"),
    ("not_an_object", [1, 2, 3], "top level must be a JSON object"),
]


@pytest.mark.parametrize("name,data,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_stats_name_the_file(tmp_path, capsys, name, data, message):
    corpus = write_corpus(tmp_path, c4=data)
    assert main(["--corpus", str(corpus)]) == 2
    err = capsys.readouterr().err
    assert str(corpus / "stats" / "c4.json") in err and message in err
    assert not (corpus / "report").exists()  # nothing half-written


def test_invalid_json_and_no_stats(tmp_path, capsys):
    corpus = write_corpus(tmp_path)
    assert main(["--corpus", str(corpus)]) == 2
    assert "no statistics files in" in capsys.readouterr().err
    (corpus / "stats" / "books.json").write_text('{"documents_in": 3,', encoding="utf-8")
    assert main(["--corpus", str(corpus)]) == 2
    err = capsys.readouterr().err
    assert "books.json: not valid JSON (line 1" in err


def test_perplexity_cutoff_settings_forms(tmp_path):
    assert perplexity_cutoffs({"ppl_cutoffs": {"en": [340, 520]}}, ["en"]) == {"en": [340.0, 520.0]}
    assert perplexity_cutoffs({"cutoffs": [340, 520]}, ["en", "de"]) == {
        "en": [340.0, 520.0],
        "de": [340.0, 520.0],
    }
    assert perplexity_cutoffs({"a": {"cutoffs": {"en": {"p30": 340, "p60": 520}}}}, ["en"]) == {
        "en": [340.0, 520.0]
    }
    assert perplexity_cutoffs({"cutoffs": "computed"}, ["en"]) == {}
    # The percentiles are not perplexities: a run that records only them has no cutoffs to draw.
    assert perplexity_cutoffs({"cutoffs": "run", "cutoff_percentiles": [30, 60]}, ["en"]) == {}
    # What the run recorded it applied wins, whatever else the settings hold.
    applied = {"en": {"p30": 3.2, "p60": 38.9, "origin": "run: p30/p60 of this run"}}
    assert perplexity_cutoffs({"cutoff_percentiles": [30, 60], "cutoffs_applied": applied}, ["en"]) == {
        "en": [3.2, 38.9]
    }
    assert perplexity_cutoffs({}, ["en"]) == {}
    # And the contract's example file parses with every optional field absent.
    minimal = {"documents_in": 3, "documents_kept": 2, "dropped": {"language": 1}, "funnel": []}
    p = tmp_path / "wikipedia.json"
    p.write_text(json.dumps(minimal), encoding="utf-8")
    s = load_stats(p)
    assert s.source == "wikipedia" and s.conserved and s.conservation_ok_reported is None
