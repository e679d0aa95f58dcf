"""The other sources of the sample world parse with real libraries and match their ground truth."""

from __future__ import annotations

import gzip
import json
import re
import tarfile
import xml.etree.ElementTree as ET

import pyarrow.parquet as pq
import pytest

from lamina.sample.truth import read_truth


@pytest.fixture(scope="module")
def truth(sample_world):
    rows = read_truth(sample_world / "ground_truth.jsonl")
    assert rows == sorted(rows, key=lambda r: (r["pipeline"], r["key"]))
    return {(r["pipeline"], r["key"]): r for r in rows}


def _by(truth, pipeline):
    return {k: r for (p, k), r in truth.items() if p == pipeline}


def test_c4_pages_and_badwords(sample_world, truth):
    pages = []
    for f in sorted((sample_world / "c4").glob("*.json.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            pages += [json.loads(line) for line in fh]
    assert all(set(p) == {"url", "text", "timestamp"} for p in pages)
    c4 = _by(truth, "c4")
    assert {p["url"] for p in pages} <= set(c4)
    reasons = {c4[p["url"]]["reason"] for p in pages}
    assert {
        None,
        "duplicate_url",
        "lorem_ipsum",
        "curly_bracket",
        "bad_words",
        "too_few_sentences",
        "language",
        "too_long",
    } <= reasons
    bad = (sample_world / "c4" / "badwords" / "en.txt").read_text().split()
    assert bad and all(re.fullmatch(r"[a-z]+", w) for w in bad)
    for p in pages:  # a bad word appears exactly where the ground truth says so
        has_bad = any(re.search(rf"(?<!\w){w}(?!\w)", p["text"].lower()) for w in bad)
        assert has_bad == (c4[p["url"]]["reason"] == "bad_words"), p["url"]
        assert ("{" in p["text"]) == (c4[p["url"]]["reason"] == "curly_bracket"), p["url"]
        assert (len(p["text"]) > 190_000) == (c4[p["url"]]["reason"] == "too_long")
    dup = next(p for p in pages if c4[p["url"]]["reason"] == "duplicate_url")
    norm = re.sub(r"^https?://(www\.)?", "", dup["url"]).rstrip("/")
    newer = [
        p for p in pages if p is not dup and re.sub(r"^https?://(www\.)?", "", p["url"]).split("?")[0] == norm
    ]
    assert (
        len(newer) == 1
        and newer[0]["timestamp"] > dup["timestamp"]
        and c4[newer[0]["url"]]["expected"] == "kept"
    )


def test_github_parquet(sample_world, truth):
    table = pq.read_table(next((sample_world / "github").glob("*.parquet")))
    assert {"repo_name", "path", "content", "license", "size", "binary"} <= set(table.column_names)
    rows = table.to_pylist()
    gh = _by(truth, "github")
    assert {f"{r['repo_name']}:{r['path']}" for r in rows} == set(gh)
    reasons = {r["reason"] for r in gh.values()}
    assert reasons == {
        None,
        "license",
        "duplicate_content",
        "extension",
        "max_line_length",
        "mean_line_length",
        "alnum_fraction",
        "alpha_per_token",
    }
    for r in rows:
        row = gh[f"{r['repo_name']}:{r['path']}"]
        if r["binary"]:
            assert r["content"] is None and row["reason"] == "extension"
            continue
        assert r["size"] == len(r["content"].encode())
        lengths = [len(x) for x in r["content"].splitlines()]
        assert (max(lengths) > 1000) == (row["reason"] == "max_line_length"), row
        if row["reason"] is None:
            assert sum(lengths) / len(lengths) <= 100 and r["license"] in (
                "mit",
                "apache-2.0",
                "bsd-3-clause",
                "bsd-2-clause",
            )
    contents = [r["content"] for r in rows if r["content"]]
    assert len(contents) - len(set(contents)) == sum(
        1 for g in gh.values() if g["reason"] == "duplicate_content"
    )


def test_books_have_gutenberg_markers_and_a_near_duplicate(sample_world, truth):
    books = _by(truth, "books")
    files = sorted((sample_world / "books").glob("pg*.txt"))
    assert {f.name for f in files} == set(books) and len(files) >= 5
    bodies = {}
    for f in files:
        text = f.read_text(encoding="utf-8")
        m = re.search(
            r"\*\*\* START OF THE PROJECT GUTENBERG EBOOK (.+?) \*\*\*\n(.*)\n\*\*\* END OF THE PROJECT "
            r"GUTENBERG EBOOK \1 \*\*\*",
            text,
            re.S,
        )
        assert m and text.startswith("The Project Gutenberg eBook of"), f.name
        bodies[f.name] = set(re.findall(r"\S+", m.group(2)))
    (dup,) = [k for k, r in books.items() if r["reason"] == "near_duplicate"]
    best = max((len(bodies[dup] & b) / len(bodies[dup] | b), k) for k, b in bodies.items() if k != dup)
    assert best[0] > 0.9 and books[best[1]]["expected"] == "kept"
    others = [
        len(a & b) / len(a | b)
        for ka, a in bodies.items()
        for kb, b in bodies.items()
        if ka < kb and dup not in (ka, kb) and best[1] not in (ka, kb)
    ]
    assert max(others) < 0.6


def test_arxiv_tarballs(sample_world, truth):
    arxiv = _by(truth, "arxiv")
    seen = set()
    for f in sorted((sample_world / "arxiv").iterdir()):
        pid = f.name.removesuffix(".tar.gz").removesuffix(".gz")
        seen.add(pid)
        if f.name.endswith(".tar.gz"):
            with tarfile.open(f) as tar:
                assert all(m.mtime == tar.getmembers()[0].mtime and m.uid == 0 for m in tar.getmembers())
                tex = "\n".join(
                    tar.extractfile(m).read().decode() for m in tar.getmembers() if m.name.endswith(".tex")
                )
        else:
            tex = gzip.decompress(f.read_bytes()).decode()
        has_section = re.search(r"\\(sub)*section\*?[\[{]", tex) is not None
        assert has_section == (arxiv[pid]["reason"] != "no_section"), pid
        if has_section:
            assert re.search(r"[^\\]%", tex) and "\\%" in tex and ("\\newcommand" in tex or "\\def" in tex)
            assert "\\bibliography{" in tex or "thebibliography" in tex
    assert seen == set(arxiv)
    main = [f for f in (sample_world / "arxiv").glob("*.tar.gz") if arxiv[f.name[:-7]]["kind"] == "paper"][0]
    with tarfile.open(main) as tar:
        text = tar.extractfile("main.tex").read().decode()
    assert "\\input{sections/intro}" in text and "\\newcommand{\\norm}[1]" in text and "\\def\\eps" in text


def test_stackexchange_posts(sample_world, truth):
    se = _by(truth, "stackexchange")
    sites = sorted(p.name for p in (sample_world / "stackexchange").iterdir())
    assert len(sites) == 2
    string_order_differs = False
    for site in sites:
        rows = [r.attrib for r in ET.parse(sample_world / "stackexchange" / site / "Posts.xml").getroot()]
        questions = {r["Id"]: r for r in rows if r["PostTypeId"] == "1"}
        assert {f"{site}:{q}" for q in questions} == {k for k in se if k.startswith(site + ":")}
        for qid, q in questions.items():
            assert q["Title"] and "<p>" in q["Body"]  # the attribute holds HTML, unescaped by the parser
            answers = [r for r in rows if r.get("ParentId") == qid]
            numeric = [int(a["Id"]) for a in sorted(answers, key=lambda a: (-int(a["Score"]), int(a["Id"])))]
            assert se[f"{site}:{qid}"]["answer_order"] == numeric
            as_strings = [int(a["Id"]) for a in sorted(answers, key=lambda a: a["Score"], reverse=True)]
            string_order_differs |= as_strings != numeric
        assert {r["PostTypeId"] for r in rows} >= {"1", "2", "4", "5"}
    assert string_order_differs
