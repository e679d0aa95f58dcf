"""The sample Wikipedia dumps: MediaWiki export XML, markup present, citations point into the WET files."""

from __future__ import annotations

import bz2
import re
import xml.etree.ElementTree as ET

from warcio.archiveiterator import ArchiveIterator

from lamina.sample.truth import read_truth

NS = "{http://www.mediawiki.org/xml/export-0.10/}"


def _pages(path):
    root = ET.fromstring(bz2.decompress(path.read_bytes()))
    assert root.tag == NS + "mediawiki" and root.find(NS + "siteinfo/" + NS + "namespaces") is not None
    for page in root.iter(NS + "page"):
        yield {
            "title": page.findtext(NS + "title"),
            "ns": int(page.findtext(NS + "ns")),
            "id": int(page.findtext(NS + "id")),
            "redirect": page.find(NS + "redirect") is not None,
            "text": page.find(f"{NS}revision/{NS}text").text or "",
        }


def test_dumps_in_six_languages_with_ground_truth(sample_world):
    truth = {
        r["key"]: r for r in read_truth(sample_world / "ground_truth.jsonl") if r["pipeline"] == "wikipedia"
    }
    dumps = sorted((sample_world / "wikipedia").glob("*wiki-20220801-pages-articles.xml.bz2"))
    assert [d.name[:2] for d in dumps] == ["de", "en", "es", "fr", "it", "ru"]
    for d in dumps:
        lang = d.name[:2]
        root = ET.fromstring(bz2.decompress(d.read_bytes()))
        assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == lang
        pages = list(_pages(d))
        articles = [p for p in pages if p["ns"] == 0 and not p["redirect"]]
        assert 40 <= len(articles) <= 80
        assert any(p["redirect"] for p in pages) and any(p["ns"] != 0 for p in pages)
        for p in pages:
            row = truth[f"{lang}:{p['id']}"]
            expected = "kept" if p["ns"] == 0 and not p["redirect"] else "dropped"
            assert row["expected"] == expected


def test_english_markup_and_citations_resolve(sample_world):
    text = "\n".join(
        p["text"] for p in _pages(sample_world / "wikipedia" / "enwiki-20220801-pages-articles.xml.bz2")
    )
    for marker in (
        "'''",
        "[[",
        "|",
        "{{Infobox",
        '{| class="wikitable"',
        "[[File:",
        "<ref>{{cite web |url=",
        "<ref name=",
        "<!--",
        "== ",
        "{{Reflist}}",
    ):
        assert marker in text, marker
    urls = set(re.findall(r"\|url=(\S+)", text)) | set(re.findall(r"<ref name=\"r\d\">\[(\S+) ", text))
    assert len(urls) >= 30
    wet_urls = set()
    for rel in (sample_world / "cc" / "wet.paths").read_text().split():
        if not rel.endswith("00099.warc.wet.gz"):
            with open(sample_world / "cc" / rel, "rb") as f:
                wet_urls |= {
                    r.rec_headers.get_header("WARC-Target-URI")
                    for r in ArchiveIterator(f)
                    if r.rec_type == "conversion"
                }
    assert urls <= wet_urls
