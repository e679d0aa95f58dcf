"""The WET reader: real CC files, headers by key, and every kind of damage a counted drop."""

from __future__ import annotations

import pytest

from lamina.documents import stable_id
from lamina.formats.wet import read_wet
from tests.pipelines.wet_fixtures import damaged_records, wet_record, write_wet


def test_reads_real_cc_wet(shared_data):
    docs, drops = read_wet(shared_data / "cc" / "whirlwind.warc.wet.gz", label="whirlwind.warc.wet.gz")
    assert drops == []
    assert len(docs) == 1  # the warcinfo record is not a document
    (doc,) = docs
    m = doc.metadata
    assert m["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert m["digest"] == "sha1:RDTSR52RUHWDA7QK4BK7OUHU3EXTXYUL"
    assert m["record_id"] == "<urn:uuid:ba729a40-ff84-4085-8d48-0a5b2ee0c42d>"
    assert m["date"] == "2024-05-18T01:58:10Z"
    assert m["title"] == "Escopete - Biquipedia, a enciclopedia libre"
    assert m["domain"] == "an.wikipedia.org"
    assert m["dump"] == "CC-MAIN-2024-22"  # from warcinfo isPartOf
    assert m["file"] == "whirlwind.warc.wet.gz"
    # the id: input identity (the file's CC name) + the record's index (warcinfo is record 0)
    assert (
        doc.id == stable_id("commoncrawl", "whirlwind.warc.wet.gz", "1")
        and len(doc.id) == len("commoncrawl/") + 32
    )
    assert not doc.text.startswith("Escopete - Biquipedia")  # the title line is metadata
    assert "Escopete" in doc.text and "\r" not in doc.text


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_damage_is_counted_and_the_file_goes_on(tmp_path, gz):
    path = write_wet(tmp_path / ("x.warc.wet.gz" if gz else "x.warc.wet"), damaged_records(), gz=gz)
    docs, drops = read_wet(path, max_bytes=2_000_000)
    assert [d.metadata["url"] for d in docs] == ["http://example.com/page0", "http://example.com/page4"]
    assert [(d.reason, d.record) for d in drops] == [
        ("invalid_utf8", 1),
        ("malformed_record", 2),
        ("too_long", 3),
    ]
    assert drops[0].record_id == "<urn:uuid:rec-1>" and drops[2].url == "http://example.com/page3"
    assert "GARBAGE" in drops[1].detail and str(path) in drops[1].describe()


def test_truncated_gzip_drops_the_cut_record_only(tmp_path):
    path = write_wet(tmp_path / "cut.warc.wet.gz", damaged_records(big_bytes=10), cut=8)
    docs, drops = read_wet(path)
    assert [d.metadata["url"] for d in docs] == ["http://example.com/page0", "http://example.com/page3"]
    assert drops[-1].reason == "malformed_record" and "truncated" in drops[-1].detail
    assert drops[-1].record_id == "<urn:uuid:rec-4>"
    # cut in the middle of a member's deflate data, too
    path = write_wet(tmp_path / "cut2.warc.wet.gz", [wet_record(0, b"T\n" + b"word " * 2000)] * 2, cut=200)
    docs, drops = read_wet(path)
    assert len(docs) == 1 and [d.reason for d in drops] == ["malformed_record"]


def test_fifty_megabyte_single_line_page_is_too_long(tmp_path):
    path = write_wet(
        tmp_path / "big.warc.wet.gz", [wet_record(0, b"T\n" + b"x" * 50_000_000), wet_record(1, b"T\nok")]
    )
    docs, drops = read_wet(path)
    assert [d.reason for d in drops] == ["too_long"] and len(docs) == 1
