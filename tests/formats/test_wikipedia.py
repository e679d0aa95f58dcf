"""The Wikipedia dump reader and cleaner, on the real en/bg/uk dumps and on broken input."""

from __future__ import annotations

import bz2
import collections
import gzip
import io
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lamina.documents import stable_id
from lamina.filters.wikitext import WikitextCleaner, clean_wikitext, ref_urls
from lamina.formats.wikipedia import WikiDrop, WikipediaFormatError, dump_language, read_dump

MARKUP = ("[[", "]]", "{{", "}}", "<ref", "{|", "|}", "&lt;", "thumb|", "''")
EN = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
UK = "ukwiki-20230501-pages-articles-multistream-head.xml.bz2"
BG16 = "bgwiki-latest-pages-articles-shortened.UTF-16.xml.bz2"
BG8 = "bgwiki-latest-pages-articles-shortened.utf8.xml.bz2"
TABLES = "enwiki-table-markup.xml.bz2"


@pytest.fixture(scope="module")
def real(shared_data):
    """Each real dump read once: name -> (documents, drops)."""
    wiki = shared_data / "wikipedia"
    return {name: read_dump(wiki / name) for name in (EN, UK, BG16, BG8, TABLES)}


def _reasons(drops) -> dict[str, int]:
    return dict(collections.Counter(d.reason for d in drops))


def _without_file(doc) -> dict:
    """The document's JSON form less `metadata.file` (the path of the dump it was read from)."""
    d = json.loads(doc.to_json())
    del d["metadata"]["file"]
    return d


def _assert_no_markup(docs) -> None:
    for doc in docs:
        for mark in MARKUP:
            assert mark not in doc.text, (
                doc.metadata["title"],
                mark,
                doc.text[doc.text.find(mark) - 80 :][:160],
            )


@pytest.mark.slow  # the real dumps are parsed and cleaned once: ~30 s of CPU
def test_english_dump_counts_and_clean_text(real):
    # ../shared/data/wikipedia/PROVENANCE.md: 206 pages, 205 in namespace 0, 100 redirects (one of them outside namespace 0).
    docs, drops = real[EN]
    assert len(docs) + len(drops) == 206
    assert _reasons(drops) == {"redirect": 99, "namespace": 1}
    assert len(docs) == 106
    _assert_no_markup(docs)
    anarchism = next(d for d in docs if d.metadata["title"] == "Anarchism")
    assert anarchism.id == stable_id("wikipedia", "en", anarchism.metadata["page_id"])
    assert anarchism.metadata["url"] == "https://en.wikipedia.org/wiki/Anarchism"
    assert anarchism.metadata["lang"] == "en"
    assert anarchism.text.startswith("Anarchism is a political philosophy")
    assert "\n\n" in anarchism.text  # sections joined with blank lines
    assert sum(len(d.text) for d in docs) > 2_000_000


@pytest.mark.slow  # the real dumps are parsed and cleaned once: ~30 s of CPU
def test_ukrainian_dump(real):
    # ../shared/data/wikipedia/PROVENANCE.md: 532 pages (525 in namespace 0), 16 redirects (3 of them outside namespace 0).
    docs, drops = real[UK]
    assert len(docs) + len(drops) == 532
    assert _reasons(drops) == {"namespace": 7, "redirect": 13}
    _assert_no_markup(docs)
    assert all(d.metadata["lang"] == "uk" for d in docs)
    # Localized file links ([[Файл:...|thumb|...]]) leave no "px" / "thumb" residue.
    assert not any("мініатюра|" in d.text or "px|" in d.text for d in docs)


@pytest.mark.slow  # the real dumps are parsed and cleaned once: ~30 s of CPU
def test_bulgarian_utf16_and_utf8_give_the_same_documents(real):
    docs16, drops16 = real[BG16]
    docs8, drops8 = real[BG8]
    # Identical documents (id, text, every metadata field) except `file`, the dump each was read from.
    assert [_without_file(d) for d in docs16] == [_without_file(d) for d in docs8]
    assert all(Path(d.metadata["file"]).name == BG16 for d in docs16)
    assert all(Path(d.metadata["file"]).name == BG8 for d in docs8)
    assert len(docs8) == 1 and _reasons(drops8) == {"namespace": 2}
    assert docs8[0].metadata["title"] == "Григориански календар"
    _assert_no_markup(docs8)


@pytest.mark.slow  # the real dumps are parsed and cleaned once: ~30 s of CPU
def test_tables_removed(real, shared_data):
    docs, drops = real[TABLES]
    assert len(docs) == 5 and not drops
    _assert_no_markup(docs)
    raw = bz2.decompress((shared_data / "wikipedia" / TABLES).read_bytes()).decode()
    assert raw.count("{|") >= 5  # the input really is table-heavy
    for doc in docs:
        assert "||" not in doc.text and "rowspan" not in doc.text and "colspan" not in doc.text


@pytest.mark.parametrize(
    ("wikitext", "kept", "gone"),
    [
        ("A [[Paris|city]] and [[Lyon]].", ["A city and Lyon."], ["Paris"]),
        ("Text[[File:X.jpg|thumb|A caption]] more.", ["Text more."], ["caption", "X.jpg"]),
        ("Text[[Image:X.jpg|thumb|Cap]].", ["Text."], ["Cap"]),
        ("Fact.<ref>{{cite web|url=http://a.example/x|title=T}}</ref> Next.", ["Fact. Next."], ["a.example"]),
        ("Fact.<ref name=a/> Next.", ["Fact. Next."], ["<ref"]),
        ("Before\n{| class=wikitable\n|-\n| cell1 || cell2\n|}\nAfter", ["Before", "After"], ["cell1"]),
        ("Body <!-- hidden note --> end.", ["Body end."], ["hidden"]),
        ("Body.\n\n== References ==\n{{Reflist|30em}}\n", ["Body.", "References"], ["Reflist", "30em"]),
        ("Body.\n[[Category:Anarchism]]\n[[de:Anarchismus]]", ["Body."], ["Anarchism", "Anarchismus"]),
        ("Intro.\n\n== History ==\nOld.", ["Intro.\n\nHistory\nOld."], []),
        ("'''Bold''' and ''italic''.", ["Bold and italic."], ["'''"]),
        # Unbalanced quotes that strip_code leaves: dropped, a possessive keeps its apostrophe.
        ("The ''Iliad'''s hero. ''The Reader'' (1977).", ["The Iliad's hero. The Reader (1977)."], ["''"]),
        ("A ''dangling italic to the end\n", ["A dangling italic to the end"], ["''"]),
    ],
)
def test_cleaner_table(wikitext, kept, gone):
    text = clean_wikitext(wikitext)
    for k in kept:
        assert k in text, (text, k)
    for g in gone:
        assert g not in text, (text, g)


def test_localized_file_links():
    assert clean_wikitext("Текст[[Файл:Карта.png|мини|Надпис]] още.", "bg") == "Текст още."
    assert clean_wikitext("Text[[Datei:K.png|mini|Bildtext]] mehr.", "de") == "Text mehr."
    assert clean_wikitext("Tekst[[Plik:K.png|mały|Podpis]] dalej.", "pl") == "Tekst dalej."
    # The dump's own <siteinfo> names work even for a language the table lacks.
    assert WikitextCleaner("xx", extra_media=["Dosiero"]).clean("A[[Dosiero:K.png|x]] b.") == "A b."


def test_ref_urls():
    wikitext = (
        "A.<ref>{{cite web |url=https://news.example.org/a?id=1 |title=A}}</ref>"
        "B.<ref name=b>[http://b.example.com/page Title]</ref> C [http://not-a-ref.example]"
        "<ref>https://news.example.org/a?id=1</ref>"
    )
    assert ref_urls(wikitext) == ["https://news.example.org/a?id=1", "http://b.example.com/page"]


def test_dump_language():
    assert dump_language("/x/enwiki-20220801-pages-articles.xml.bz2") == "en"
    assert dump_language("bgwiki-latest-pages-articles.xml") == "bg"
    assert dump_language("pages.xml") == ""


# --- broken input -----------------------------------------------------------------------------------

HEADER = '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" xml:lang="en">\n'


def _page(pid: int, title: str, text: str, ns: int = 0) -> str:
    return (
        f"<page><title>{title}</title><ns>{ns}</ns><id>{pid}</id><revision><id>9{pid}</id>"
        f'<text xml:space="preserve">{text}</text></revision></page>\n'
    )


def _dump(*pages: str) -> str:
    return HEADER + "".join(pages) + "</mediawiki>\n"


def _run_isolated(path: Path, on_error: str = "raise", mem_mb: int = 600, timeout: int = 60):
    """Read `path` in a child process under a memory cap and a timeout: a hang or a memory climb
    fails the test instead of the machine."""
    code = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({mem_mb} << 20, {mem_mb} << 20))
        from lamina.formats.wikipedia import read_dump, WikipediaFormatError
        try:
            docs, drops = read_dump({str(path)!r}, on_error={on_error!r})
            print("OK", len(docs), [(d.reason, d.key) for d in drops])
        except WikipediaFormatError as e:
            print("ERROR", e)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def test_truncated_bz2_names_file_and_page(tmp_path):
    rng = random.Random(0)
    words = [f"w{rng.randrange(10**6)}" for _ in range(200_000)]  # ~1.6 MB: several 100 kB bz2 blocks
    body = _dump(*(_page(i, f"Page {i}", " ".join(words[i * 5000 : (i + 1) * 5000])) for i in range(40)))
    data = bz2.compress(body.encode(), compresslevel=1)
    path = tmp_path / "enwiki-cut.xml.bz2"
    path.write_bytes(data[: len(data) // 2])
    out = _run_isolated(path)
    assert out.startswith("ERROR") and str(path) in out and "truncated" in out and "page" in out
    # As a counted drop instead: the pages before the cut are kept, then one `truncated` drop.
    out = _run_isolated(path, on_error="drop")
    assert out.startswith("OK") and "'truncated'" in out
    n_docs = int(out.split()[1])
    assert 0 < n_docs < 40


def test_broken_xml_names_the_page(tmp_path):
    path = tmp_path / "enwiki-broken.xml"
    path.write_text(HEADER + _page(1, "Good", "Fine text.") + "<page><title>Bad one</title><ns>0</ns><id>2</id>"
                    "<revision><text>unclosed <b></text></revision></page></mediawiki>")  # fmt: skip
    with pytest.raises(WikipediaFormatError) as e:
        read_dump(path)
    msg = str(e.value)
    assert str(path) in msg and "malformed_xml" in msg and "id=2" in msg and "Bad one" in msg
    docs, drops = read_dump(path, on_error="drop")
    assert [d.metadata["title"] for d in docs] == ["Good"]
    assert [(d.reason, d.key) for d in drops] == [("malformed_xml", "en:2")]


def test_xml_cut_mid_page(tmp_path):
    path = tmp_path / "enwiki-cut.xml"
    path.write_text(
        HEADER + _page(1, "Good", "Fine text.") + "<page><title>Half</title><ns>0</ns><id>7</id><rev"
    )
    with pytest.raises(WikipediaFormatError, match=r"id=7 title='Half'"):
        read_dump(path)


def test_invalid_utf8_names_the_page(tmp_path):
    path = tmp_path / "enwiki-bad.xml"
    good = _page(1, "Good", "Fine text.").encode()
    bad = _page(5, "Latin1", "caf\xe9").encode("latin-1")
    path.write_bytes(HEADER.encode() + good + bad + b"</mediawiki>")
    with pytest.raises(WikipediaFormatError) as e:
        read_dump(path)
    assert "invalid_encoding" in str(e.value) and "id=5" in str(e.value) and str(path) in str(e.value)
    docs, drops = read_dump(path, on_error="drop")
    assert len(docs) == 1 and drops[0].reason == "invalid_encoding" and drops[0].key == "en:5"


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE mediawiki [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<mediawiki><page><title>Bomb</title><ns>0</ns><id>1</id><revision><text>&lol9;</text></revision></page></mediawiki>
"""


def test_billion_laughs_is_refused_fast(tmp_path):
    path = tmp_path / "enwiki-bomb.xml"
    path.write_text(BILLION_LAUGHS)
    out = _run_isolated(path, mem_mb=400, timeout=30)
    assert out.startswith("ERROR") and "entit" in out and str(path) in out
    external = tmp_path / "enwiki-xxe.xml"
    external.write_text('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        "<mediawiki><page><title>X</title><ns>0</ns><id>1</id><revision><text>&x;</text>"
                        "</revision></page></mediawiki>")  # fmt: skip
    out = _run_isolated(external, mem_mb=400, timeout=30)
    assert out.startswith("ERROR") and "root:" not in out


def test_huge_page_is_dropped_with_bounded_memory(tmp_path):
    # 250 MB of text in one page: read under a 450 MB address-space cap (keeping the page would need
    # twice its size), dropped as too_long, and the page after it still read.
    path = tmp_path / "enwiki-huge.xml"
    with open(path, "w") as f:
        f.write(HEADER + "<page><title>Huge</title><ns>0</ns><id>3</id><revision><text>")
        chunk = "word " * 200_000
        for _ in range(250):
            f.write(chunk)
        f.write("</text></revision></page>" + _page(4, "Small", "Fine text.") + "</mediawiki>")
    out = _run_isolated(path, mem_mb=450, timeout=120)
    assert out == "OK 1 [('too_long', 'en:3')]"


def test_redirect_namespace_and_empty_drops(tmp_path):
    path = tmp_path / "svwiki-x.xml"
    path.write_text(
        HEADER.replace('"en"', '"sv"')
        + '<page><title>R</title><ns>0</ns><id>1</id><redirect title="T" /><revision><text>#OMDIRIGERING [[T]]'
        "</text></revision></page>\n"
        + _page(2, "Wikipedia:Om", "Projekt.", ns=4)
        + _page(3, "Tom", "{{Infobox}}[[Fil:a.png|miniatyr|Bild]]")
        + _page(4, "Artikel", "En riktig [[mening]] här.")
        + "</mediawiki>"
    )
    docs, drops = read_dump(path)
    assert [(d.reason, d.key) for d in drops] == [
        ("redirect", "sv:1"),
        ("namespace", "sv:2"),
        ("empty", "sv:3"),
    ]
    assert all(isinstance(d, WikiDrop) for d in drops)
    assert [d.text for d in docs] == ["En riktig mening här."]
    assert docs[0].metadata == {
        "title": "Artikel",
        "url": "https://sv.wikipedia.org/wiki/Artikel",
        "lang": "sv",
        "page_id": "4",
        "file": str(path),
    }


class _Unseekable(io.RawIOBase):
    """A read-only stream that cannot seek or peek (like a socket or a cloud-storage download)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        chunk = self._data.read(len(buf))
        buf[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("compress", [bz2.compress, gzip.compress, lambda b: b])
def test_reads_an_open_unseekable_stream_and_leaves_it_open(compress, tmp_path):
    data = compress(_dump(_page(1, "One", "First [[page]]."), _page(2, "Two", "Second page.")).encode())
    stream = _Unseekable(data)
    docs, drops = read_dump("dewiki-latest-pages-articles.xml.bz2", fileobj=stream, label="de/dump")
    assert [d.text for d in docs] == ["First page.", "Second page."] and not drops
    assert docs[0].metadata["lang"] == "de" and docs[0].metadata["file"] == "de/dump"
    assert not stream.closed


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "enwiki-empty.xml"
    path.write_bytes(b"")
    with pytest.raises(WikipediaFormatError, match="empty"):
        read_dump(path)
