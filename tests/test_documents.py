from lamina.documents import Document, stable_id
from lamina.filters.normalize import line_hash, normalize, normalize_for_dedup


def test_stable_id_is_deterministic_and_distinct():
    assert stable_id("commoncrawl", "<urn:uuid:1>") == stable_id("commoncrawl", "<urn:uuid:1>")
    assert stable_id("commoncrawl", "<urn:uuid:1>") != stable_id("commoncrawl", "<urn:uuid:2>")
    assert stable_id("c4", "a", "b") != stable_id("c4", "ab")  # parts are separated, not concatenated


def test_document_json_round_trip_is_byte_stable():
    doc = Document("c4/1", "c4", "Zürich\nline two", {"url": "http://x", "b": 1, "a": [1, 2]})
    line = doc.to_json()
    assert Document.from_json(line) == doc
    assert Document.from_json(line).to_json() == line
    assert doc.with_metadata(language="de").metadata == {**doc.metadata, "language": "de"}


def test_normalize_for_dedup_matches_cc_net():
    # lowercase, digits -> 0, unicode punctuation and control characters removed, ascii punctuation kept
    assert normalize_for_dedup("  Copyright © 2021 ACME „Inc.“\x07 ") == "copyright © 0000 acme inc."
    assert normalize_for_dedup("") == ""
    assert line_hash("Posted on 12 May") == line_hash("posted on 99 may")
    assert line_hash("Posted on 12 May") != line_hash("Posted in 12 May")


def test_normalize_for_perplexity_strips_accents_and_maps_punctuation():
    assert normalize("Café — «Olé» 42！") == 'cafe  -  "ole" 00!'
