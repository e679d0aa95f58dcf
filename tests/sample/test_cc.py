"""The sample world's WET files: real WARC/1.0 read by warcio, digests, duplicates, ground truth."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter

import pytest
from warcio.archiveiterator import ArchiveIterator

from lamina.filters.normalize import line_hash
from lamina.sample.truth import read_truth


def _wet_records(world):
    """(file, headers, body bytes) of every conversion record of the well-formed WET files."""
    out = []
    for rel in (world / "cc" / "wet.paths").read_text().split():
        if rel.endswith("00099.warc.wet.gz"):
            continue  # the deliberately malformed file
        with open(world / "cc" / rel, "rb") as f:
            types = []
            for rec in ArchiveIterator(f):
                types.append(rec.rec_type)
                if rec.rec_type == "conversion":
                    out.append((rel, rec.rec_headers, rec.content_stream().read()))
        assert types[0] == "warcinfo" and set(types[1:]) == {"conversion"}, rel
    return out


@pytest.fixture(scope="module")
def records(sample_world):
    return _wet_records(sample_world)


@pytest.fixture(scope="module")
def truth(sample_world):
    return {(r["pipeline"], r["key"]): r for r in read_truth(sample_world / "ground_truth.jsonl")}


def test_wet_paths_list_two_dumps(sample_world):
    paths = (sample_world / "cc" / "wet.paths").read_text().split()
    assert {p.split("/")[0] for p in paths} == {"CC-MAIN-2022-05", "CC-MAIN-2022-21"}
    assert all((sample_world / "cc" / p).is_file() and p.endswith(".warc.wet.gz") for p in paths)


def test_headers_digest_and_length_are_real(records):
    assert len(records) >= 150
    for rel, h, body in records:
        for key in (
            "WARC-Target-URI",
            "WARC-Date",
            "WARC-Record-ID",
            "WARC-Refers-To",
            "WARC-Identified-Content-Language",
        ):
            assert h.get_header(key), (rel, key)
        assert h.get_header("Content-Type") == "text/plain"
        assert int(h.get_header("Content-Length")) == len(body)
        digest = "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()
        assert h.get_header("WARC-Block-Digest") == digest
        assert h.get_header("WARC-Record-ID").startswith("<urn:uuid:")
        body.decode("utf-8")


def test_every_page_has_ccnet_and_c4_truth(records, truth):
    for _, h, _ in records:
        rid = h.get_header("WARC-Record-ID")
        assert ("ccnet", rid) in truth and ("c4", rid) in truth, rid
    wet_ids = {h.get_header("WARC-Record-ID") for _, h, _ in records}
    ccnet_keys = {k for p, k in truth if p == "ccnet"}
    assert ccnet_keys - wet_ids == {
        r["key"]
        for r in truth.values()
        if r["kind"] in ("invalid_utf8", "malformed_record") and r["pipeline"] == "ccnet"
    }


def test_duplicates_share_digest_and_later_copy_is_dropped(records, truth):
    by_digest: dict[str, list] = {}
    for _, h, _ in records:
        by_digest.setdefault(h.get_header("WARC-Block-Digest"), []).append(h)
    groups = [g for g in by_digest.values() if len(g) > 1]
    assert len(groups) == 8
    for g in groups:
        g.sort(key=lambda h: h.get_header("WARC-Date"))
        first, later = (truth[("ccnet", h.get_header("WARC-Record-ID"))] for h in g)
        assert first["expected"] == "kept" and later["reason"] == "duplicate_digest"
        assert g[0].get_header("WARC-Record-ID") != g[1].get_header("WARC-Record-ID")
        assert g[0].get_header("WARC-Target-URI") == g[1].get_header("WARC-Target-URI")
        c4_first = truth[("c4", g[0].get_header("WARC-Record-ID"))]
        assert c4_first["reason"] == "duplicate_url"  # C4 keeps the newest page of a URL


def test_line_dedup_removes_exactly_the_boilerplate(records, truth):
    """Lines repeated across pages are only the intended boilerplate (duplicates excluded, as digest
    dedup runs first); boilerplate-only pages lose every line, other pages lose none of their text."""
    kinds = {
        h.get_header("WARC-Record-ID"): truth[("ccnet", h.get_header("WARC-Record-ID"))]["kind"]
        for _, h, _ in records
    }
    docs = [
        (kinds[h.get_header("WARC-Record-ID")], body.decode().split("\n"))
        for _, h, body in records
        if kinds[h.get_header("WARC-Record-ID")] != "duplicate"
    ]
    counts = Counter(line_hash(ln) for _, lines in docs for ln in lines)
    for kind, lines in docs:
        repeated = [ln for ln in lines if counts[line_hash(ln)] > 1]
        if kind == "boilerplate_only":
            assert repeated == lines and len("\n".join(lines)) >= 300
        elif kind == "boilerplate":
            assert 8 <= len(repeated) < len(lines)
        else:
            assert repeated == [], (kind, repeated)


def test_lengths_match_too_short(records, truth):
    for _, h, body in records:
        row = truth[("ccnet", h.get_header("WARC-Record-ID"))]
        assert (len(body.decode()) < 300) == (row["reason"] == "too_short"), row


def test_perplexity_tail_cutoff_is_unambiguous(truth):
    """Spam + salad are the top 40% of the N English pages reaching the perplexity stage, with
    0.6 * (N - 1) an integer equal to the number of fluent pages: whatever interpolation a percentile
    uses (linear, lower, higher, nearest, nearest-rank), p60 is the least perplexing junk page, and
    run-computed cutoffs (tail >= p60) put exactly spam and salad in the tail."""
    rows = [r for r in truth.values() if r["pipeline"] == "ccnet"]
    early = {"too_short", "malformed_record", "invalid_utf8", "no_lines_left", "language", "duplicate_digest"}
    reach = [r for r in rows if r["reason"] not in early]
    tail = [r for r in reach if r["reason"] == "perplexity_tail"]
    assert {r["kind"] for r in tail} == {"spam", "word_salad"}
    fluent = len(reach) - len(tail)
    assert 6 * (len(reach) - 1) == 10 * fluent and 3 * (len(reach) - 1) % 10 == 0


def test_malformed_file(sample_world, truth):
    rel = next(
        p for p in (sample_world / "cc" / "wet.paths").read_text().split() if p.endswith("00099.warc.wet.gz")
    )
    reasons = sorted(
        r["reason"]
        for r in truth.values()
        if r["pipeline"] == "ccnet" and r["kind"] in ("invalid_utf8", "malformed_record")
    )
    assert reasons == ["invalid_utf8", "malformed_record"]
    by_reason = {r["reason"]: r["key"] for r in truth.values() if r["pipeline"] == "ccnet"}
    seen = {}
    with open(sample_world / "cc" / rel, "rb") as f:
        for rec in ArchiveIterator(f):
            seen[rec.rec_headers.get_header("WARC-Record-ID")] = (
                rec.rec_headers,
                rec.content_stream().read(),
            )
    headers, body = seen[by_reason["invalid_utf8"]]
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    headers, body = seen[by_reason["malformed_record"]]
    assert int(headers.get_header("Content-Length")) > len(body)  # the file ends inside the record
