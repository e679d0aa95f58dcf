"""`lamina report` on statistics files written per the contract (docs/interfaces.md, "Statistics of a
run"): the pages hold the numbers, the plots and the escaped samples; bad files are clear errors."""

from __future__ import annotations

import base64
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


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_index_overview(report):
    index = (report / "index.html").read_text(encoding="utf-8")
    assert {p.name for p in report.iterdir()} == {"index.html", "commoncrawl.html", "c4.html"}
    for text in ('href="commoncrawl.html"', 'href="c4.html"', "1,000", "400", "40.0%", "75.0%",
                 "perplexity_<wbr>tail", "curly_<wbr>bracket", "250", "1,200", "550", "all conserved"):  # fmt: skip
        assert text in index, text
    # One column per reason over all sources; a reason a source never uses is an empty cell.
    header = re.search(r"<tr><th class=\"name\">source</th>.*?</tr>", index).group(0)
    assert header.count("<th>") == 3 + 10  # in, kept, kept %, then the 10 distinct reasons
    assert len(_images(index)) == 1


def test_source_page(report):
    page = (report / "commoncrawl.html").read_text(encoding="utf-8")
    for stage in ("read", "min_length", "line_dedup", "language", "perplexity", "digest_dedup", "wikiref"):
        assert f'<td class="name">{stage}</td>' in page
    assert "30,000" in page and "21,000" in page and "70.0%" in page  # lines of the line-dedup stage
    assert "perplexity_tail: 250" in page
    # Funnel chart, drops chart, three histograms: all real PNGs.
    images = _images(page)
    assert len(images) == 5 and all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images)
    assert "en: 340, 520" in page and "de: 400, 700" in page  # cutoffs named under the perplexity plot
    assert "1 NaN/infinite values were left out" in page
    # The sampled page text is escaped, never live HTML.
    assert (
        "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in page
    )
    assert "http://example.com/a?x=1&amp;y=2" in page
    assert "de 0.97 &lt;not en&gt;" in page  # the drop's detail, when the run recorded one
    # Self-contained: nothing loaded from anywhere else.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    c4_page = (report / "c4.html").read_text(encoding="utf-8")
    assert "no sampled dropped documents" in c4_page and "5,000" in c4_page


def test_rerun_is_identical_and_atomic(report, tmp_path):
    out = tmp_path / "again"
    assert main(["--corpus", str(report.parent), "--out", str(out)]) == 0
    for name in ("index.html", "commoncrawl.html", "c4.html"):
        assert (out / name).read_bytes() == (report / name).read_bytes(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_broken_conservation_is_shown(tmp_path, capsys):
    bad = c4_stats()
    bad["documents_kept"] = 160  # 200 != 160 + 50
    corpus = write_corpus(tmp_path, c4=bad)
    assert main(["--corpus", str(corpus), "--out", str(tmp_path / "rep")]) == 0
    index = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    assert "broken" in index and "200 &ne; 160 + 50" in index
    assert "run recorded conservation_ok=true" in index  # the run's own flag disagrees with its counts
    assert "conservation broken for c4" in capsys.readouterr().err


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
    assert perplexity_cutoffs({}, ["en"]) == {}
    # And the contract's example file parses with every optional field absent.
    minimal = {"documents_in": 3, "documents_kept": 2, "dropped": {"language": 1}, "funnel": []}
    p = tmp_path / "wikipedia.json"
    p.write_text(json.dumps(minimal), encoding="utf-8")
    s = load_stats(p)
    assert s.source == "wikipedia" and s.conserved and s.conservation_ok_reported is None
