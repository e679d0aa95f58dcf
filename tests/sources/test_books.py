"""The Books pipeline: Gutenberg boilerplate removal (table tests), MinHash near-duplicates (fast
shingle hashing against the plain reference), and the Beam pipeline on the sample world's ground
truth and on nine real Gutenberg books with one near-duplicate pair."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from lamina.filters import books as nd
from lamina.formats.gutenberg import decode_book, strip_gutenberg
from tests.sources.conftest import read_docs, run_source, tree_bytes, truth_rows

BOOK = "Chapter 1.\n\nIt was a dark night.\nThe end."


@pytest.mark.parametrize(
    ("text", "markers"),
    [
        (f"The Project Gutenberg eBook of X\r\n\r\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\r\n\r\n"
         f"{BOOK}\r\n\r\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\r\nSection 1. License...\r\n", "start_end"),
        (f"Title: X\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\n{BOOK}\n\nEnd of the Project Gutenberg"
         f" EBook of X, by Y\n\n*** END OF THIS PROJECT GUTENBERG EBOOK X ***\n\nlicense", "start_end"),
        (f"header\n***START OF THE PROJECT GUTENBERG EBOOK X***\n{BOOK}\n   *** END OF THE PROJECT GUTENBERG EBOOK"
         " X ***\n", "start_end"),
        (f"The Project Gutenberg Etext of X\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n"
         f"{BOOK}\nEnd of The Project Gutenberg Etext of X\n", "small_print"),
        (f"*** START OF THE PROJECT GUTENBERG EBOOK X ***\n{BOOK}\n", "start_only"),
        (f"{BOOK}\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nlicense\n", "end_only"),
        (BOOK, "none"),
    ],
)  # fmt: skip
def test_gutenberg_markers(text, markers):
    s = strip_gutenberg(text)
    assert (s.text, s.markers) == (BOOK, markers)


def test_decode_falls_back_to_cp1252_and_removes_the_bom():
    assert decode_book("\ufeffcafé".encode()) == ("café", "utf-8-sig")
    assert decode_book("“café”".encode("cp1252")) == ("“café”", "cp1252")


def test_vectorized_shingle_hashes_equal_the_plain_reference():
    text = "It is a truth universally acknowledged, that a single man — in possession of a good fortune…"
    ref = np.unique(np.array([nd.shingle_hash(s) for s in nd.shingles(text)], dtype=np.uint64))
    assert np.array_equal(nd.shingle_hashes(text), ref)
    assert len(ref) == len(nd.shingles(text))  # no collisions on this text


def test_threshold_mapping_and_clusters():
    assert nd.jaccard_threshold(0.9) == pytest.approx(0.9 / 1.1)
    bands, rows = nd.band_params(nd.jaccard_threshold(0.9))
    assert bands * rows <= nd.NUM_PERM
    # a chain a-b, b-c is one cluster whose representative is the smallest node
    assert nd.clusters([("b", "c"), ("a", "b"), ("x", "y")]) == {
        "a": "a",
        "b": "a",
        "c": "a",
        "x": "x",
        "y": "x",
    }
    names = ["pg20100.txt", "pg1342_2023-edition.txt", "pg1342_2015-edition.txt", "pg9.txt"]
    assert sorted(names, key=nd.book_rank) == ["pg9.txt", "pg1342_2015-edition.txt", "pg1342_2023-edition.txt",
                                              "pg20100.txt"]  # fmt: skip


def test_sample_world_meets_ground_truth(sample_world, tmp_path):
    st = run_source("books", sample_world / "books", tmp_path, write_dropped=True)
    truth = truth_rows(sample_world, "books")
    got = {d.metadata["key"]: ("kept", None) for d in read_docs(tmp_path / "docs" / "books")}
    got |= {
        d.metadata["key"]: ("dropped", d.metadata["drop_reason"])
        for d in read_docs(tmp_path / "dropped" / "books")
    }
    assert got == {k: (r["expected"], r["reason"]) for k, r in truth.items()}
    assert st["conservation_ok"] and st["documents_in"] == len(truth)
    assert [s["stage"] for s in st["funnel"]] == ["read", "strip_boilerplate", "near_duplicate"]
    strip = st["funnel"][1]
    assert strip["lines_kept"] < strip["lines_in"]
    # the lines the stage removed are exactly the header and footer lines it reports per book
    boiler = st["distributions"]["boilerplate_lines"]["groups"]
    assert strip["lines_in"] - strip["lines_kept"] == sum(boiler["start_end"]["kept"]["values"])
    assert set(boiler) == {"start_end"} and set(boiler["start_end"]) == {"kept"}
    assert (st["settings"]["lsh_bands"], st["settings"]["lsh_rows"], st["settings"]["jaccard_threshold"]) == (
        9,
        14,
        0.8182,
    )


# Lines of Gutenberg's header and license that must not survive (the book text itself may mention
# Project Gutenberg in an editor's note, e.g. Moby Dick's and Little Women's prefaces).
LICENSE = re.compile(
    r"PROJECT GUTENBERG|Project Gutenberg[- ]tm|START OF TH|END OF TH|gutenberg\.org/license|"
    r"This e[Bb]ook is for the use of anyone|Release [Dd]ate:|End of (the )?Project Gutenberg"
)


def test_real_books_one_near_duplicate_no_license_left_byte_identical(shared_data, tmp_path):
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        st = run_source("books", shared_data / "books", out, write_dropped=True)
        outs.append(out)
    assert tree_bytes(outs[0]) == tree_bytes(outs[1])
    assert st["documents_in"] == 9 and st["dropped"] == {"near_duplicate": 1}
    kept = read_docs(outs[0] / "docs" / "books")
    dropped = read_docs(outs[0] / "dropped" / "books")
    assert [d.metadata["key"] for d in dropped] == ["pg1342_2023-edition.txt"]
    assert "pg1342_2015-edition.txt" in dropped[0].metadata["drop_detail"]
    assert len(kept) == 8 and "pg1342_2015-edition.txt" in {d.metadata["key"] for d in kept}
    for d in kept:
        assert not LICENSE.search(d.text), (d.metadata["key"], LICENSE.search(d.text).group())
        assert d.metadata["markers"] == "start_end"
        assert len(d.text) > 100_000
    # the pair is far above the threshold, every other pair far below
    sigs = {d.metadata["key"]: nd.signature(d.text) for d in kept + dropped}
    jac = {(a, b): nd.estimated_jaccard(sigs[a], sigs[b]) for a, b in itertools.combinations(sorted(sigs), 2)}
    assert jac.pop(("pg1342_2015-edition.txt", "pg1342_2023-edition.txt")) > 0.88
    assert max(jac.values()) < 0.5
    assert {d.metadata["encoding"] for d in kept} == {"utf-8-sig", "cp1252"}


def test_clusters_unmarked_and_empty_books_in_the_pipeline(tmp_path):
    """Three copies of one book (a cluster: only the first-numbered is kept), a book without
    Gutenberg markers (kept whole), a file with nothing between its markers (`empty`)."""
    words = " ".join(f"w{i % 97}x{i % 13}" for i in range(4000))
    other = " ".join(f"z{i % 89}q{i % 7}" for i in range(4000))
    wrap = "Title: T\n*** START OF THE PROJECT GUTENBERG EBOOK T ***\n{}\n*** END OF THE PROJECT GUTENBERG EBOOK T ***\nlicense"
    (tmp_path / "in").mkdir()
    for name, body in [("pg10.txt", words), ("pg9.txt", words + " extra"), ("pg100.txt", words.upper()),
                       ("pg11.txt", other), ("pg12.txt", "")]:  # fmt: skip
        (tmp_path / "in" / name).write_text(wrap.format(body), encoding="utf-8")
    (tmp_path / "in" / "plain.txt").write_text("A plain book.\nNo wrapper at all.\n", encoding="utf-8")
    st = run_source("books", tmp_path / "in", tmp_path / "out", write_dropped=True)
    assert st["dropped"] == {"near_duplicate": 2, "empty": 1}
    kept = {d.metadata["key"]: d for d in read_docs(tmp_path / "out" / "docs" / "books")}
    assert sorted(kept, key=nd.book_rank) == ["pg9.txt", "pg11.txt", "plain.txt"]
    assert kept["plain.txt"].metadata["markers"] == "none"
    assert kept["plain.txt"].text == "A plain book.\nNo wrapper at all."
    assert st["distributions"]["boilerplate_lines"]["groups"]["none"]["kept"]["values"] == [0]
    dropped = {
        d.metadata["key"]: d.metadata["drop_detail"]
        for d in read_docs(tmp_path / "out" / "dropped" / "books")
    }
    assert set(dropped) == {"pg10.txt", "pg100.txt", "pg12.txt"}
    assert (
        "near-duplicate of pg9.txt" in dropped["pg10.txt"]
        and "near-duplicate of pg9.txt" in dropped["pg100.txt"]
    )
