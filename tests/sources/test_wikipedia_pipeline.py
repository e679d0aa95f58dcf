"""The Wikipedia pipeline on Beam: the sample world's ground truth exactly, conservation, real
English dumps with no markup left, byte-identical outputs across runs."""

from __future__ import annotations

import re

from lamina.filters.wikitext import remove_stray_quotes
from lamina.pipelines.wikipedia import WikipediaConfig, select_dumps
from tests.sources.conftest import read_docs, run_source, tree_bytes, truth_rows

# Wiki markup that cleaning must remove: templates, links, tables, refs, bold/italic quotes,
# headings, comments, HTML tags.
MARKUP = re.compile(
    r"\{\{|\}\}|\[\[|\]\]|\{\||\|\}|<ref|</ref|<!--|'''|''|^=+ .* =+$|</?(?:div|span|table|small|br)\b",
    re.MULTILINE,
)


def test_sample_world_meets_ground_truth_byte_identical(sample_world, tmp_path):
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        st = run_source("wikipedia", sample_world / "wikipedia", out, write_dropped=True)
        outs.append(out)
    assert tree_bytes(outs[0]) == tree_bytes(outs[1])
    truth = truth_rows(sample_world, "wikipedia")
    kept = {d.metadata["key"]: d for d in read_docs(out / "docs" / "wikipedia")}
    dropped = {d.metadata["key"]: d.metadata["drop_reason"] for d in read_docs(out / "dropped" / "wikipedia")}
    got = {k: ("kept", None) for k in kept} | {k: ("dropped", r) for k, r in dropped.items()}
    want = {k: (r["expected"], r["reason"]) for k, r in truth.items()}
    assert got == want
    assert st["conservation_ok"] and st["documents_in"] == len(truth)
    assert st["documents_kept"] == sum(r["expected"] == "kept" for r in truth.values())
    assert [s["stage"] for s in st["funnel"]] == ["read", "articles"]
    assert set(st["dropped"]) == {"redirect", "namespace"}
    assert sorted(p.name for p in (out / "docs" / "wikipedia").iterdir()) == [
        f"{lang}-00000-of-00001.jsonl.gz" for lang in ("de", "en", "es", "fr", "it", "ru")
    ]
    assert not [k for k, d in kept.items() if MARKUP.search(d.text)]


def test_real_english_dumps_no_markup_left(shared_data, tmp_path):
    st = run_source("wikipedia", shared_data / "wikipedia" / "enwiki*", tmp_path)
    assert st["conservation_ok"]
    docs = read_docs(tmp_path / "docs" / "wikipedia")
    assert len(docs) == st["documents_kept"] >= 20, st["dropped"]
    assert {d.metadata["lang"] for d in docs} == {"en"}
    assert set(st["dropped"]) <= {"redirect", "namespace", "empty"}
    leftovers = {d.metadata["title"]: MARKUP.findall(d.text)[:3] for d in docs if MARKUP.search(d.text)}
    assert not leftovers
    assert all(d.text.strip() for d in docs)


def test_dumps_of_other_languages_are_skipped_and_listed():
    files = [("/x/enwiki-1.xml.bz2", "enwiki-1.xml.bz2"), ("/x/jawiki-1.xml.bz2", "jawiki-1.xml.bz2")]
    keep, skipped = select_dumps(files, WikipediaConfig().languages)
    assert keep == files[:1] and skipped == ["jawiki-1.xml.bz2"]


def test_stray_quote_runs_left_by_the_cleaner_are_removed():
    assert remove_stray_quotes("the Iliad'''s description") == "the Iliad's description"
    assert remove_stray_quotes("Death of Achilles'' (Baltimore") == "Death of Achilles (Baltimore"
    assert remove_stray_quotes("no atoms''\nnext") == "no atoms\nnext"
    assert remove_stray_quotes("Achilles' reaction, rock 'n' roll") == "Achilles' reaction, rock 'n' roll"
