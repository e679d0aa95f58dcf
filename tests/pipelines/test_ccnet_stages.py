"""CCNet's model-free stages on documents built here: line dedup (cc_net semantics, both scopes),
digest dedup (first occurrence wins), and the funnel/statistics arithmetic."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from lamina.documents import Document
from lamina.filters.lines import line_hashes, remove_lines
from lamina.pipelines.accounting import (
    ConservationError,
    Funnel,
    build_stats,
    check_conservation,
)
from lamina.pipelines.ccnet import DigestDedup, LineDedup, LineDedupApply, TooShort, bucket_of


def doc(
    i: int,
    text: str,
    dump: str = "CC-MAIN-2022-05",
    digest: str | None = None,
    file: str = "a",
    record: int = 0,
):
    meta = {
        "dump": dump,
        "digest": digest or f"sha1:{i}",
        "file": file,
        "record": record,
        "url": f"http://x/{i}",
    }
    return Document(f"commoncrawl/{i:04d}", "commoncrawl", text, meta)


def test_remove_lines_is_normalized_and_counts():
    text = "Home\nA unique sentence here.\n\n  HOME  \nPage 3 of 12"
    kept, n_in, n_kept = remove_lines(text, {line_hashes("home")[0], line_hashes("page 7 of 99")[0]})
    assert kept == "A unique sentence here." and (n_in, n_kept) == (4, 1)


def test_line_dedup_removes_every_occurrence_and_empty_documents(tp):
    docs = [
        doc(1, "Shared menu line\nFirst page own text"),
        doc(2, "shared MENU line\nSecond page own text\nSecond page own text"),  # repeat inside a page
        doc(3, "Shared menu line"),  # nothing left
        doc(4, "Only my words", dump="CC-MAIN-2022-21"),
    ]
    with tp() as p:
        f = Funnel("commoncrawl", "ccnet")
        kept = f.apply(p | beam.Create(docs) | LineDedup("run"), LineDedupApply())
        got = kept | beam.Map(lambda d: (d.id, d.text, d.metadata["original_nlines"], d.metadata["nlines"]))
        drops = f.all_drops() | beam.Map(lambda sd: (sd[1].doc.id, sd[1].reason, sd[1].doc.text))
        assert_that(
            got,
            equal_to(
                [
                    ("commoncrawl/0001", "First page own text", 2, 1),
                    ("commoncrawl/0004", "Only my words", 1, 1),
                ]
            ),
            label="kept",
        )
        # the dropped document keeps its original text, so it can be inspected
        assert_that(drops, equal_to([("commoncrawl/0002", "no_lines_left", docs[1].text),
                                     ("commoncrawl/0003", "no_lines_left", docs[2].text)]), label="drops")  # fmt: skip


def test_line_dedup_scope_dump_keeps_lines_shared_across_dumps(tp):
    docs = [
        doc(1, "Shared line\nOne", dump="D1"),
        doc(2, "Shared line\nTwo", dump="D2"),
        doc(3, "Shared line\nThree", dump="D2"),
    ]
    with tp() as p:
        kept = p | beam.Create(docs) | LineDedup("dump") | beam.ParDo(_Apply())
        assert_that(kept, equal_to([("commoncrawl/0001", "Shared line\nOne"), ("commoncrawl/0002", "Two"),
                                    ("commoncrawl/0003", "Three")]))  # fmt: skip


class _Apply(beam.DoFn):
    def process(self, element):
        for r in LineDedupApply().results(element):
            yield r.id, r.text


def test_digest_dedup_first_by_dump_file_record_wins(tp):
    docs = [
        doc(5, "x" * 10, dump="CC-MAIN-2022-21", digest="sha1:S", file="a", record=0),
        doc(6, "x" * 10, dump="CC-MAIN-2022-05", digest="sha1:S", file="b", record=7),
        doc(7, "x" * 10, dump="CC-MAIN-2022-05", digest="sha1:S", file="b", record=3),
        doc(8, "y" * 10, dump="CC-MAIN-2022-05", digest="sha1:T"),
    ]
    with tp() as p:
        f = Funnel("commoncrawl", "ccnet")
        joined = p | beam.Create(docs) | LineDedup("run", digest=True)
        kept = f.apply(joined, DigestDedup()) | beam.Map(lambda d: d[0])
        drops = f.all_drops() | beam.Map(lambda sd: (sd[1].doc.id, sd[1].reason))
        assert_that(kept, equal_to(["commoncrawl/0007", "commoncrawl/0008"]), label="kept")
        assert_that(drops, equal_to([("commoncrawl/0005", "duplicate_digest"), ("commoncrawl/0006", "duplicate_digest")]),
                    label="drops")  # fmt: skip


def test_too_short_and_buckets():
    assert TooShort(300).apply(doc(1, "a" * 299)).reason == "too_short"
    assert TooShort(300).apply(doc(1, "a" * 300)).id == "commoncrawl/0001"
    assert [bucket_of(p, (340.0, 520.0)) for p in (339.9, 340.0, 519.9, 520.0)] == [
        "head",
        "middle",
        "middle",
        "tail",
    ]


def test_build_stats_checks_conservation_and_chaining():
    totals = [
        (("read", "kept", ""), 9), (("read", "dropped", "invalid_utf8"), 1),
        (("too_short", "kept", ""), 7), (("too_short", "dropped", "too_short"), 2),
        (("write", "kept", ""), 7),
    ]  # fmt: skip
    meta = {"source": "commoncrawl", "pipeline": "ccnet", "settings": {}}
    st = build_stats(
        totals,
        [(("perplexity", "en"), [(2, 5.0), (1, 3.0)])],
        [],
        stage_names=["read", "too_short"],
        meta=meta,
    )
    assert (st["documents_in"], st["documents_kept"], st["conservation_ok"]) == (10, 7, True)
    assert st["dropped"] == {"invalid_utf8": 1, "too_short": 2}
    assert st["distributions"] == {  # (name, group) keys: kept documents, counted by their sample
        "perplexity": {
            "stage": None,
            "thresholds": [],
            "groups": {"en": {"kept": {"kept": True, "n": 2, "values": [3.0, 5.0]}}},
        }
    }
    assert st["funnel"][1] == {"stage": "too_short", "in": 9, "kept": 7, "dropped": {"too_short": 2}}
    lost = [t for t in totals if t[0][0] != "write"] + [(("write", "kept", ""), 6)]  # a document went missing
    bad = build_stats(lost, [], [], stage_names=["read", "too_short"], meta=meta)
    assert bad["conservation_ok"] is False
    check_conservation(st, "ok.json")
    with pytest.raises(ConservationError, match="bad.json: conservation fails: documents_in=10 but kept=6"):
        check_conservation(bad, "bad.json")


def test_read_wet_counts_damage_and_the_run_goes_on(tp, tmp_path, shared_data):
    from lamina.pipelines.readers import ReadWet, expand_inputs
    from tests.pipelines.wet_fixtures import damaged_records, write_wet

    (tmp_path / "in").mkdir()
    write_wet(tmp_path / "in" / "damaged.warc.wet.gz", damaged_records(big_bytes=50_000_000))  # 50 MB line
    write_wet(tmp_path / "in" / "cut.warc.wet.gz", damaged_records(big_bytes=10), cut=8)  # truncated gzip
    (tmp_path / "in" / "real.warc.wet.gz").write_bytes(
        (shared_data / "cc" / "whirlwind.warc.wet.gz").read_bytes()
    )
    files = expand_inputs(str(tmp_path / "in"))
    assert [label for _, label in files] == ["cut.warc.wet.gz", "damaged.warc.wet.gz", "real.warc.wet.gz"]
    with tp() as p:
        read = p | ReadWet(files)
        kept = read.docs | "urls" >> beam.Map(lambda d: d.metadata["url"])
        drops = read.dropped | beam.Map(
            lambda sd: (sd[1].doc.metadata["file"], sd[1].doc.metadata["record"], sd[1].reason)
        )
        assert_that(
            kept,
            equal_to(["http://example.com/page0", "http://example.com/page3", "http://example.com/page0",
                      "http://example.com/page4", "https://an.wikipedia.org/wiki/Escopete"]),
            label="kept",
        )  # fmt: skip
        assert_that(
            drops,
            equal_to([("cut.warc.wet.gz", 1, "invalid_utf8"), ("cut.warc.wet.gz", 2, "malformed_record"),
                      ("cut.warc.wet.gz", 4, "malformed_record"), ("damaged.warc.wet.gz", 1, "invalid_utf8"),
                      ("damaged.warc.wet.gz", 2, "malformed_record"), ("damaged.warc.wet.gz", 3, "too_long")]),
            label="drops",
        )  # fmt: skip


def test_wet_paths_lists_local_relative_and_commoncrawl_paths(tmp_path, sample_world):
    import gzip as gz

    from lamina.pipelines.readers import expand_inputs

    local = expand_inputs(str(sample_world / "cc" / "wet.paths"))
    assert len(local) == 6 and all(Path(p).is_file() for p, _ in local)
    assert local[0][1].startswith("CC-MAIN-2022-05/")  # labels relative to the list: location-free
    listing = "crawl-data/CC-MAIN-2022-05/segments/1/wet/x.warc.wet.gz\n\n# comment\n/abs/y.warc.wet.gz\n"
    (tmp_path / "wet.paths.gz").write_bytes(gz.compress(listing.encode()))
    assert expand_inputs(str(tmp_path / "wet.paths.gz")) == [
        ("https://data.commoncrawl.org/crawl-data/CC-MAIN-2022-05/segments/1/wet/x.warc.wet.gz",
         "crawl-data/CC-MAIN-2022-05/segments/1/wet/x.warc.wet.gz"),
        ("/abs/y.warc.wet.gz", "/abs/y.warc.wet.gz"),
    ]  # fmt: skip
