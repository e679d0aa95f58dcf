"""The ledger's originals at scale, on real Beam (FnApiRunner): a dropped duplicate names its
original by id -- the key's winner, or the majority owner of its lines -- through the bounded
fan-out join of `lamina.pipelines.ledger`, and no group anywhere holds the documents of a hot key
(a digest served 3,000 times, boilerplate lines in 3,000 pages); checked with the `lamina.scale`
group-size metrics every grouped DoFn reports."""

from __future__ import annotations

from collections import Counter

import apache_beam as beam
import pyarrow.dataset as ds
from apache_beam.testing.util import assert_that, equal_to

from lamina.documents import Document, stable_id
from lamina.filters import c4 as rules
from lamina.pipelines.accounting import Funnel
from lamina.pipelines.c4 import C4
from lamina.pipelines.ccnet import DigestDedup, LineDedup, LineDedupApply
from lamina.pipelines.ledger import SALTS, KeyedLookup, WriteLedger
from lamina.pipelines.options import C4PipelineConfig
from tests.pipelines.conftest import in_process_pipeline
from tests.pipelines.test_scale import group_metric, letters


def _rows(out, source: str) -> dict[str, dict]:
    table = ds.dataset(str(out / "ledger"), format="parquet", partitioning="hive").to_table()
    return {r["id"]: r for r in table.to_pylist() if r["source"] == source}


def test_keyed_lookup_answers_every_request_in_bounded_groups():
    """Every request gets its key's value (None for a key without one), a hot key's 20,000
    requests included, while a group holds one value and about 20,000 / SALTS requests."""
    hot = [("hot", f"r{i}") for i in range(20_000)]
    p = in_process_pipeline()
    values = p | "values" >> beam.Create([("a", "A"), ("hot", "H"), ("unasked", "U")])
    requests = p | "requests" >> beam.Create([("a", "x"), ("b", "y"), *hot])
    answers = (values, requests) | KeyedLookup()
    assert_that(
        answers
        | beam.Map(lambda kv: kv[1] if kv[0].startswith("r") else kv)
        | beam.combiners.Count.PerElement(),
        equal_to([(("x", "A"), 1), (("y", None), 1), ("H", 20_000)]),
    )
    result = p.run()
    result.wait_until_finish()
    _, largest = group_metric(result, "group_elements")
    assert largest <= 60  # the mean is 20,000 / 4,096 = 4.9; a group of the key's requests is 20,000
    _, largest_bytes = group_metric(result, "group_bytes")
    assert largest_bytes <= 8 * SALTS  # the salt set of the hot key (or one group's request tags)


def test_hot_digest_and_boilerplate_lines_name_their_originals(tmp_path):
    """CCNet's dedup with --ledger: 3,000 copies of one page (one digest) name the first copy;
    1,000 pages of nothing but boilerplate (lines also in 1,000 kept pages) drop as no_lines_left
    and name the smallest other id holding their lines; no group holds more than a few records."""
    page = "The same page body\nwith two lines"
    boiler = "Skip to content\nMenu and search\nContact the editors"
    docs = [
        Document(stable_id("commoncrawl", f"copy{i}"), "commoncrawl", page,
                 {"digest": "sha1:HOT", "dump": "D", "file": "f", "record": i})
        for i in range(3_000)
    ] + [
        Document(stable_id("commoncrawl", f"boiler{i}"), "commoncrawl", boiler + ("" if i % 2 else f"\nOwn words {letters(i)}"),
                 {"digest": f"sha1:{i}", "dump": "D", "file": "g", "record": i})
        for i in range(2_000)
    ]  # fmt: skip
    p = in_process_pipeline()
    f = Funnel("commoncrawl", "ccnet", ledger=True)
    joined = f.apply(
        p | beam.Create(docs) | LineDedup("run", digest=True, originals=f.originals), DigestDedup()
    )
    kept = f.apply(joined, LineDedupApply())
    _ = (kept, f.all_drops()) | WriteLedger(str(tmp_path), "commoncrawl", {}, f.originals)
    result = p.run()
    result.wait_until_finish()
    rows = _rows(tmp_path, "commoncrawl")
    assert len(rows) == len(docs)
    first = docs[0].id  # the first copy by (dump, file, record)
    holders = sorted(d.id for d in docs[3_000:])  # every boilerplate line is in all 2,000 of them
    expected = {d.id: first for d in docs[1:3_000]}
    expected |= {d.id: holders[1] if d.id == holders[0] else holders[0] for d in docs[3_001::2]}
    named = {i: r["duplicate_of"] for i, r in rows.items() if r["outcome"] == "dropped"}
    assert Counter(r["reason"] for r in rows.values() if r["outcome"] == "dropped") == {
        "duplicate_digest": 2_999, "no_lines_left": 1_000}  # fmt: skip
    assert named == expected
    _, largest = group_metric(result, "group_elements")
    assert largest <= 40  # one document and its own lines, or a (key, salt) group of the lookup


def test_c4_page_dropped_after_line_dedup_names_the_owner_of_most_of_its_lines(tmp_path):
    """C4's line dedup keeps a line in the page with the smallest md5(url) (TFDS); a page left with
    too few sentences names the page owning most of the lines it lost (ties by smallest id)."""
    sentences = [
        f"The old mill by the river {letters(i)} was rebuilt in the year of the flood." for i in range(9)
    ]
    ranked = sorted((f"http://site{k}.org/page", k) for k in range(40))
    ranked.sort(key=lambda u: rules.line_owner_rank(u[0]))
    a, b, c = (u for u, _ in ranked[:3])  # by line-owner rank: a owns first, then b, then c
    pages = [
        (a, sentences[0:4]),  # a keeps its 4 lines
        (b, sentences[4:9]),  # b keeps its 5 lines
        (c, [sentences[0], *sentences[4:7]]),  # c loses 1 line to a and 3 to b: too few left
    ]
    docs = [Document(stable_id("c4", u), "c4", "\n".join(lines), {"url": u, "timestamp": "2019-01-01"})
            for u, lines in pages]  # fmt: skip
    badwords = tmp_path / "badwords.txt"
    badwords.write_text("zzzzunlisted\n", encoding="utf-8")
    p = in_process_pipeline()
    f = Funnel("c4", "c4", ledger=True)
    kept = p | beam.Create(docs) | C4("", str(badwords), C4PipelineConfig(language="all"), f)
    _ = (kept, f.all_drops()) | WriteLedger(str(tmp_path), "c4", {}, f.originals)
    p.run().wait_until_finish()
    rows = _rows(tmp_path, "c4")
    dropped = [r for r in rows.values() if r["outcome"] == "dropped"]
    assert [(r["reason"], r["stage"], r["id"]) for r in dropped] == [
        ("too_few_sentences", "line_dedup", docs[2].id)
    ]
    assert dropped[0]["duplicate_of"] == docs[1].id


def test_shuffle_volume_measures_what_the_ledger_adds():
    """`shuffle_volume`'s "ledger" design: a digest copy and a page of nothing but shared lines are
    named through small records (no document body), and a run without copies adds nothing."""
    from lamina.pipelines.shuffle_volume import measure

    def page(i, digest, text):
        meta = {"digest": digest, "dump": "D", "file": "f", "record": i}
        return Document(stable_id("commoncrawl", str(i)), "commoncrawl", text, meta)

    body = "Skip to content\nthe own sentence of the first page"
    docs = [page(0, "sha1:A", body), page(1, "sha1:A", body), page(2, "sha1:B", "Skip to content\nMenu"),
            page(3, "sha1:C", "Skip to content\nMenu\nwords of its own")]  # fmt: skip
    _, shuffles = measure(docs)
    by = {s.stage.split(" (")[0]: s for s in shuffles if s.design == "ledger"}
    assert not any(s.bodies for s in by.values())
    assert by["digest: join_salts values"].elements == 1  # the one shared digest's winner
    assert by["digest: salts_per_key"].elements == 1  # its one copy
    assert by["lines: salts_per_key"].elements == 2  # page 2's two lines, both shared with page 3
    assert by["join_original"].elements == 2 * 2  # the copy and page 2: row + original each
    _, alone = measure([docs[0], docs[3]])
    assert sum(s.elements for s in alone if s.design == "ledger") == 1  # "Skip to content" value only
