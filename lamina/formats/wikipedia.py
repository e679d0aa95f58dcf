"""Wikipedia `pages-articles` XML dumps -> `Document`s, streaming, with every skipped page counted.

A dump is one `<mediawiki>` element: a `<siteinfo>` (namespace names, base URL) and then one `<page>`
per article (`<title>`, `<ns>`, `<id>`, optional `<redirect title=.../>`, `<revision><text>`).
LLaMA kept namespace 0 without redirects; the markup is cleaned by `lamina.filters.wikitext`.

Why a hand-driven expat parser rather than ElementTree: it keeps nothing but the page being read
(bounded memory on a 90 GB dump; a page's text is capped by `max_text_chars`), it forbids entity
declarations outright (a billion-laughs or external-entity document fails at its DTD, before any
expansion — what defusedxml does), and it knows exactly which page it is in when the input breaks.
Bytes are decoded here, incrementally and strictly, so invalid UTF-8 is reported as such; a UTF-16
file (BOM, or `<\\0` start, or an `encoding=` declaration) is decoded too.

Broken input never hangs and never passes silently: a truncated .bz2, malformed XML or undecodable
bytes raise `WikipediaFormatError` naming the file and the page being read (the pages before it have
already been yielded); with `on_error="drop"` they become one `WikiDrop` (`truncated`,
`malformed_xml`, `invalid_encoding`) and the file ends there.
"""

from __future__ import annotations

import bz2
import codecs
import dataclasses
import gzip
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote
from xml.parsers import expat

from lamina.documents import Document, stable_id
from lamina.filters.wikitext import WikitextCleaner

SOURCE = "wikipedia"
# Pages whose wikitext is longer are dropped as `too_long` without being kept in memory. The largest
# real articles are about 1.5 M characters of wikitext.
DEFAULT_MAX_TEXT_CHARS = 5_000_000
CHUNK_BYTES = 1 << 18  # bytes read from the (decompressed) file per parser feed

_LANG_RE = re.compile(r"^([a-z]{2,3}(?:_[a-z]+)*)wiki")
_DECL_ENCODING_RE = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_REDIRECT_TEXT_RE = re.compile(r"^\s*#\s*REDIRECT\b", re.IGNORECASE)


class WikipediaFormatError(ValueError):
    """The dump cannot be read on from here; the message names the file and the page."""


@dataclasses.dataclass(frozen=True)
class Page:
    """One `<page>` as it is in the dump (raw wikitext)."""

    file: str  # the file label
    lang: str  # the dump's language code
    page_id: str  # <id> of the page
    title: str
    ns: int  # namespace number (0 = articles)
    redirect: bool  # a <redirect/> element was present (or the text is #REDIRECT ...)
    text: str  # wikitext of the (last) revision; "" when too long
    too_long: bool = False  # the text exceeded max_text_chars and was not kept

    @property
    def key(self) -> str:
        """`<lang>:<page id>`, the ground-truth key of interfaces.md."""
        return f"{self.lang}:{self.page_id}"


@dataclasses.dataclass(frozen=True)
class WikiDrop:
    """A page that did not become a document, and why."""

    id: str  # stable_id("wikipedia", lang, page_id), or of the file when no page id was read
    reason: str  # redirect | namespace | empty | too_long | truncated | malformed_xml | invalid_encoding
    file: str
    key: str  # "<lang>:<page id>", "" when unknown
    title: str
    detail: str  # for a human

    def describe(self) -> str:
        return f"{self.file}: page {self.key or '?'} {self.title!r}: {self.reason}: {self.detail}"


@dataclasses.dataclass
class SiteInfo:
    """What `<siteinfo>` tells the cleaner: localized namespace names and the wiki's base URL."""

    namespaces: dict[int, str] = dataclasses.field(default_factory=dict)
    base: str = ""
    lang: str = ""  # xml:lang of <mediawiki>


def dump_language(path: str | Path) -> str:
    """The language of a dump from its file name (`bgwiki-...` -> "bg", `zh_yuewiki` -> "zh_yue")."""
    m = _LANG_RE.match(Path(str(path)).name)
    return m.group(1) if m else ""


class _Prefixed(io.RawIOBase):
    """A stream with its first bytes (read for sniffing) put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        if self._head:
            n = min(len(buf), len(self._head))
            buf[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def open_decompressed(raw: BinaryIO) -> BinaryIO:
    """The decompressed byte stream of `raw`; bzip2 and gzip are recognized by their magic bytes.
    Works on unseekable streams (the sniffed bytes are put back)."""
    head = raw.read(3)
    stream: BinaryIO = io.BufferedReader(_Prefixed(head, raw), CHUNK_BYTES)
    if head.startswith(b"BZh"):
        return bz2.BZ2File(stream)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=stream)
    return stream


def _sniff_encoding(head: bytes) -> tuple[str, int]:
    """(codec, bytes of BOM to skip) from the first bytes of the XML."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    if head.startswith(b"<\x00"):
        return "utf-16-le", 0
    if head.startswith(b"\x00<"):
        return "utf-16-be", 0
    m = _DECL_ENCODING_RE.match(head)
    if m:
        name = m.group(1).decode("ascii").lower()
        try:
            return codecs.lookup(name).name, 0
        except LookupError:
            raise WikipediaFormatError(f"unknown XML encoding {name!r}") from None
    return "utf-8", 0


class _PageCollector:
    """expat handlers: a small state machine that assembles one page at a time."""

    _FIELDS = {
        ("page", "title"),
        ("page", "ns"),
        ("page", "id"),
        ("revision", "text"),
        ("namespaces", "namespace"),
    }

    def __init__(self, file: str, lang: str, max_text_chars: int):
        self.file, self.lang, self.max_chars = file, lang, max_text_chars
        self.site = SiteInfo()
        self.stack: list[str] = []
        self.ready: list[Page] = []
        self.page: dict | None = None  # the page being read
        self.buf: list[str] | None = None  # character data of the field being read
        self.buf_len = 0
        self.overflow = False
        self.attrs: dict[str, str] = {}
        self.last_key = ""  # the last complete page, for error messages

    def describe_position(self) -> str:
        if self.page is not None:
            pid = self.page.get("id", "?")
            title = self.page.get("title")
            return f"in page id={pid} title={title!r}" + (
                f" (after page {self.last_key})" if self.last_key else " (the first page)"
            )
        return f"after page {self.last_key}" if self.last_key else "before the first page"

    def start(self, name: str, attrs: dict[str, str]) -> None:
        name = name.rpartition(":")[2]
        parent = self.stack[-1] if self.stack else ""
        self.stack.append(name)
        if name == "mediawiki" and parent == "":
            self.site.lang = attrs.get("xml:lang", "")
        elif name == "page":
            self.page = {"redirect": False}
        elif name == "redirect" and parent == "page" and self.page is not None:
            self.page["redirect"] = True
        elif name == "base" and parent == "siteinfo":
            self.buf, self.buf_len, self.overflow = [], 0, False
        if (parent, name) in self._FIELDS:
            self.buf, self.buf_len, self.overflow, self.attrs = [], 0, False, attrs

    def data(self, text: str) -> None:
        if self.buf is None or self.overflow:
            return
        self.buf_len += len(text)
        if self.buf_len > self.max_chars:
            self.overflow, self.buf = True, []  # stop keeping it: memory stays bounded
        else:
            self.buf.append(text)

    def end(self, name: str) -> None:
        name = name.rpartition(":")[2]
        self.stack.pop()
        parent = self.stack[-1] if self.stack else ""
        value = "".join(self.buf) if self.buf is not None else ""
        if (parent, name) in self._FIELDS or (parent, name) == ("siteinfo", "base"):
            self.buf = None
        if self.page is not None and parent == "page" and name in ("title", "ns", "id"):
            if name not in self.page:  # <id> of <revision> is nested deeper; only the page's counts
                self.page[name] = value.strip() if name != "title" else value
        elif self.page is not None and (parent, name) == ("revision", "text"):
            self.page["text"] = value  # the last revision wins (pages-articles has one)
            self.page["too_long"] = self.overflow
        elif (parent, name) == ("namespaces", "namespace"):
            try:
                self.site.namespaces[int(self.attrs.get("key", ""))] = value.strip()
            except ValueError:
                pass
        elif (parent, name) == ("siteinfo", "base"):
            self.site.base = value.strip()
        elif name == "page" and self.page is not None:
            self._finish_page()

    def _finish_page(self) -> None:
        p, self.page = self.page, None
        title = p.get("title", "")
        text = p.get("text", "")
        try:
            ns = int(p["ns"]) if p.get("ns") else self._ns_from_title(title)
        except ValueError:
            ns = -99
        page = Page(
            file=self.file,
            lang=self.lang,
            page_id=p.get("id", ""),
            title=title,
            ns=ns,
            redirect=bool(p.get("redirect")) or bool(_REDIRECT_TEXT_RE.match(text[:100])),
            text="" if p.get("too_long") else text,
            too_long=bool(p.get("too_long")),
        )
        self.last_key = f"id={page.page_id} title={page.title!r}"
        self.ready.append(page)

    def _ns_from_title(self, title: str) -> int:
        """Old schemas have no <ns>: the namespace is the title's prefix."""
        prefix = title.partition(":")[0] if ":" in title else ""
        for key, name in self.site.namespaces.items():
            if name and prefix.lower() == name.lower():
                return key
        return 0


def _forbid_entities(*args) -> None:
    raise WikipediaFormatError("the XML declares entities (an entity-expansion attack?); dumps never do")


def _new_parser(collector: _PageCollector) -> expat.XMLParserType:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    parser.CharacterDataHandler = collector.data
    parser.EntityDeclHandler = _forbid_entities
    parser.UnparsedEntityDeclHandler = _forbid_entities
    parser.ExternalEntityRefHandler = lambda *a: _forbid_entities()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def iter_pages(
    path: str | Path,
    *,
    fileobj: BinaryIO | None = None,
    label: str | None = None,
    lang: str | None = None,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    on_error: str = "raise",
    site: SiteInfo | None = None,
) -> Iterator[Page | WikiDrop]:
    """Every `<page>` of a dump (all namespaces, redirects included), in file order.

    path: .xml, .xml.bz2 or .xml.gz (the compression is sniffed, not taken from the name).
    fileobj: an open binary file to read instead of opening `path` (e.g. from Beam's filesystems).
    label: how documents name their file (default `str(path)`).
    lang: the dump language; default from the file name (`enwiki-...`), else `<mediawiki xml:lang>`.
    on_error: "raise" -> `WikipediaFormatError`; "drop" -> one `WikiDrop` and the file ends.
    site: filled in with the dump's `<siteinfo>` as it is read.
    """
    if on_error not in ("raise", "drop"):
        raise ValueError(f"on_error must be 'raise' or 'drop', not {on_error!r}")
    label = str(path) if label is None else label
    lang = lang or dump_language(label) or dump_language(path)
    collector = _PageCollector(label, lang, max_text_chars)
    if site is not None:
        collector.site = site
    parser = _new_parser(collector)
    raw = open(path, "rb") if fileobj is None else fileobj  # noqa: SIM115 - closed below if ours
    try:
        yield from _drive(open_decompressed(raw), parser, collector, label, on_error)
    finally:
        if fileobj is None:
            raw.close()


def _drive(stream, parser, collector: _PageCollector, label: str, on_error: str) -> Iterator[Page | WikiDrop]:
    decoder = None
    reason, detail = "", ""
    try:
        while True:
            try:
                chunk = stream.read(CHUNK_BYTES)
            except EOFError as e:
                reason, detail = "truncated", f"the compressed file ends early ({e})"
                break
            except OSError as e:
                reason, detail = "truncated", f"the compressed data is corrupt ({e})"
                break
            if decoder is None:
                if not chunk:
                    reason, detail = "malformed_xml", "the file is empty"
                    break
                codec, skip = _sniff_encoding(chunk[:200])
                decoder = codecs.getincrementaldecoder(codec)(errors="strict")
                chunk = chunk[skip:]
            final = not chunk
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as e:
                # Parse what came before the bad bytes, so that the error names the right page.
                try:
                    parser.Parse(bytes(e.object[: e.start]).decode(codec, "ignore"), False)
                except (expat.ExpatError, WikipediaFormatError):
                    pass
                reason, detail = "invalid_encoding", f"bytes that are not valid {codec}: {e.reason}"
                break
            parser.Parse(text, final)
            if not collector.lang:
                collector.lang = collector.site.lang
            pages, collector.ready = collector.ready, []
            for page in pages:
                yield dataclasses.replace(page, lang=page.lang or collector.lang)
            if final:
                return
    except expat.ExpatError as e:
        reason, detail = "malformed_xml", f"{expat.ErrorString(e.code)} at line {e.lineno}, column {e.offset}"
    except WikipediaFormatError as e:
        reason, detail = "malformed_xml", str(e)
    # Pages completed before the break are good: hand them out first.
    for page in collector.ready:
        yield dataclasses.replace(page, lang=page.lang or collector.lang)
    collector.ready = []
    where = collector.describe_position()
    if on_error == "raise":
        raise WikipediaFormatError(f"{label}: {reason}: {detail}; {where}")
    page = collector.page or {}
    pid = page.get("id", "")
    key = f"{collector.lang}:{pid}" if pid else ""
    yield WikiDrop(
        id=stable_id(SOURCE, collector.lang, pid) if pid else stable_id(SOURCE, label, where),
        reason=reason,
        file=label,
        key=key,
        title=page.get("title", ""),
        detail=f"{detail}; {where}",
    )


def page_url(lang: str, title: str, base: str = "") -> str:
    """The article's URL: from `<siteinfo><base>` when known, else `https://<lang>.wikipedia.org`."""
    root = base.rsplit("/wiki/", 1)[0] if "/wiki/" in base else f"https://{lang}.wikipedia.org"
    return f"{root}/wiki/{quote(title.replace(' ', '_'), safe='/:()_,-.!~*')}"


def page_to_document(
    page: Page, cleaner: WikitextCleaner, site: SiteInfo | None = None
) -> Document | WikiDrop:
    """A namespace-0, non-redirect page with text left after cleaning -> `Document`; else a drop."""
    reason, detail = "", ""
    if page.ns != 0:
        reason, detail = "namespace", f"namespace {page.ns}"
    elif page.redirect:
        reason, detail = "redirect", "a redirect page"
    elif page.too_long:
        reason, detail = "too_long", "wikitext longer than max_text_chars"
    else:
        text = cleaner.clean(page.text)
        if not text.strip():
            reason, detail = "empty", "no text left after cleaning"
    if reason:
        return WikiDrop(
            id=stable_id(SOURCE, page.lang, page.page_id),
            reason=reason,
            file=page.file,
            key=page.key,
            title=page.title,
            detail=detail,
        )
    return Document(
        id=stable_id(SOURCE, page.lang, page.page_id),
        source=SOURCE,
        text=text,
        metadata={
            "title": page.title,
            "url": page_url(page.lang, page.title, site.base if site else ""),
            "lang": page.lang,
            "page_id": page.page_id,
            "file": page.file,
        },
    )


def cleaner_for(lang: str, site: SiteInfo) -> WikitextCleaner:
    """A cleaner that also knows the dump's own names of the File, Media and Category namespaces."""
    media = [site.namespaces.get(6, ""), site.namespaces.get(-2, "")]
    return WikitextCleaner(lang, extra_media=media, extra_category=[site.namespaces.get(14, "")])


def read_wikipedia(path: str | Path, **kwargs) -> Iterator[Document | WikiDrop]:
    """Documents of the articles of one dump, and a `WikiDrop` for every other page (same keyword
    arguments as `iter_pages`)."""
    site = SiteInfo()
    cleaner: WikitextCleaner | None = None
    for item in iter_pages(path, site=site, **kwargs):
        if isinstance(item, WikiDrop):
            yield item
            continue
        if cleaner is None or cleaner.lang != item.lang:
            cleaner = cleaner_for(item.lang, site)
        yield page_to_document(item, cleaner, site)


def read_dump(path: str | Path, **kwargs) -> tuple[list[Document], list[WikiDrop]]:
    """All documents and drops of one dump (small files and tests)."""
    docs: list[Document] = []
    drops: list[WikiDrop] = []
    for item in read_wikipedia(path, **kwargs):
        (docs if isinstance(item, Document) else drops).append(item)
    return docs, drops
