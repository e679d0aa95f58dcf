"""StackExchange data-dump `Posts.xml` -> posts, streaming, and their HTML bodies -> plain text.

A dump's `Posts.xml` is one `<posts>` element with one `<row .../>` per post; the attributes carry
everything (`Id`, `PostTypeId` 1 = question, 2 = answer, `ParentId` of an answer, `Score`, `Title`,
`Body` as escaped HTML, `Tags`, `CreationDate`, ...). Stack Overflow's is about 100 GB, so rows are
read with `defusedxml`'s `iterparse` (no DTDs, no entity expansion) and each row is cleared from the
tree as soon as it is read: memory holds one row at a time.

`iter_posts` yields `Post`s and `PostDrop`s; it never raises on bad data. A row without a numeric
`Id`/`PostTypeId`/`Score` (or an answer without `ParentId`) is a `malformed_record` drop naming the
file and row; broken XML or compression ends the file with one `malformed_xml` drop naming the last
good row (rows before it were yielded). Files: `Posts.xml`, gzip or bzip2 (sniffed).

`html_to_text` removes the markup with the standard library's `html.parser`: entities decoded,
block elements (p, li, pre, headings, ...) on their own lines, list items prefixed "- ", and the
text of `<pre>`/`<code>` blocks kept verbatim (its line breaks and indentation are the content).
"""

from __future__ import annotations

import dataclasses
import html.parser
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from lamina.formats.wikipedia import open_decompressed  # gzip/bzip2 sniffing of a byte stream

QUESTION, ANSWER = 1, 2


@dataclasses.dataclass(frozen=True)
class Post:
    """One row of Posts.xml (only what threads need)."""

    site: str  # e.g. "coffee.stackexchange.com"
    id: int
    post_type: int  # 1 question, 2 answer, 3-8 wiki/tag/nomination posts
    parent_id: int | None  # the question of an answer
    score: int
    title: str  # questions only
    body: str  # HTML as in the dump (unescaped XML attribute)
    tags: str  # "<tag1><tag2>"
    created: str  # CreationDate
    file: str  # the file label
    row: int  # 0-based row number in the file


@dataclasses.dataclass(frozen=True)
class PostDrop:
    """A row (or the rest of a file) that is not a post."""

    site: str
    reason: str  # malformed_record | malformed_xml
    file: str
    row: int  # the row number; for malformed_xml the number of rows read before the break
    post_id: str  # the row's Id attribute, "" when absent
    detail: str  # for a human: what was wrong, where

    def describe(self) -> str:
        return f"{self.file}: row {self.row} (Id={self.post_id or '?'}): {self.reason}: {self.detail}"


_SITE_SUFFIX = re.compile(r"[-_.]?Posts\.xml(?:\.gz|\.bz2|\.7z)?$", re.IGNORECASE)


def site_of(label: str) -> str:
    """The site of a Posts file: `<site>/Posts.xml` (the dump's layout) -> the folder name;
    `<site>-Posts.xml.gz` -> the prefix."""
    p = Path(label)
    prefix = _SITE_SUFFIX.sub("", p.name)
    if prefix:
        return prefix
    return p.parent.name or "unknown"


def _int(value: str | None, field: str) -> int:
    if value is None:
        raise ValueError(f"no {field}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{field}={value!r} is not an integer") from None


def iter_posts(
    path: str | Path, *, fileobj: BinaryIO | None = None, label: str | None = None, site: str | None = None
) -> Iterator[Post | PostDrop]:
    """Every row of one Posts.xml (see the module docstring)."""
    label = str(path) if label is None else label
    site = site or site_of(label)
    raw = open(path, "rb") if fileobj is None else fileobj  # noqa: SIM115 - closed below if ours
    row = 0
    last_id = ""
    try:
        stream = open_decompressed(raw)
        root = None
        try:
            for event, elem in iterparse(stream, events=("start", "end"), forbid_dtd=True):
                if root is None:
                    root = elem
                    continue
                if event != "end" or elem.tag != "row":
                    continue
                a = elem.attrib
                try:
                    post_type = _int(a.get("PostTypeId"), "PostTypeId")
                    post = Post(
                        site=site,
                        id=_int(a.get("Id"), "Id"),
                        post_type=post_type,
                        parent_id=_int(a.get("ParentId"), "ParentId") if post_type == ANSWER else None,
                        score=_int(a.get("Score", "0"), "Score"),
                        title=a.get("Title", ""),
                        body=a.get("Body", ""),
                        tags=a.get("Tags", ""),
                        created=a.get("CreationDate", ""),
                        file=label,
                        row=row,
                    )
                    last_id = str(post.id)
                    yield post
                except ValueError as e:
                    yield PostDrop(site, "malformed_record", label, row, a.get("Id", ""), str(e))
                row += 1
                root.clear()  # bounded memory: drop the rows read so far from the tree
        except (ParseError, DefusedXmlException, EOFError, OSError) as e:
            where = (
                f"after row {row - 1} (last post read: Id={last_id or None})"
                if row
                else "before the first row"
            )
            yield PostDrop(site, "malformed_xml", label, row, "", f"{type(e).__name__}: {e}; {where}")
    finally:
        if fileobj is None:
            raw.close()


_BLOCK = {
    "p", "div", "br", "li", "ul", "ol", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "table", "tr", "dl", "dt", "dd",
}  # fmt: skip
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


class _TextExtractor(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.cur: list[str] = []
        self.pre = 0  # depth of <pre>: text kept verbatim

    def _flush(self) -> None:
        text = "".join(self.cur)
        self.cur = []
        if self.pre:
            return
        text = text.strip()
        if text:
            self.lines.append(text)

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCK and not self.pre:
            self._flush()
            if tag == "li":
                self.cur.append("- ")
        if tag == "pre":
            self.pre += 1
        elif tag in ("td", "th") and self.cur:
            self.cur.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag in ("br", "hr") and not self.pre:
            self._flush()
        elif tag == "br":
            self.cur.append("\n")

    def handle_endtag(self, tag):
        if tag == "pre" and self.pre:
            self.pre -= 1
            if not self.pre:
                code = "".join(self.cur).strip("\n")
                self.cur = []
                if code.strip():
                    self.lines.append(code)
            return
        if tag in _BLOCK and not self.pre:
            self._flush()

    def handle_data(self, data):
        self.cur.append(data if self.pre else _SPACES.sub(" ", data))

    def text(self) -> str:
        self.close()
        if self.pre:  # an unclosed <pre>: keep its text
            self.pre = 0
            code = "".join(self.cur).strip("\n")
            self.cur = []
            if code.strip():
                self.lines.append(code)
        self._flush()
        return "\n".join(self.lines)


def html_to_text(body: str) -> str:
    """Plain text of a post's HTML body (see the module docstring)."""
    p = _TextExtractor()
    p.feed(body)
    return p.text()
