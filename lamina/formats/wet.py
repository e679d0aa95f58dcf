"""Common Crawl WET files -> `Document`s, with every unreadable record a counted drop.

A WET file is a sequence of WARC/1.0 records, in CC's files one gzip member per record. Records are
parsed by warcio and their headers read BY KEY (cc_net parses them by position and breaks on the
2020+ dumps that added `WARC-Identified-Content-Language`: cc_net issues 16 and 45). Each `conversion`
record becomes one `Document`; `warcinfo` records only tell us the dump (`isPartOf`).

Bad input never stops the file silently and never crashes the run:
- a record whose `Content-Length` exceeds `max_bytes` is skipped unread -> `too_long`
  (a 50 MB single-line page costs no memory);
- a record warcio cannot parse (bad header, bad length, broken gzip member) -> `malformed_record`,
  and reading resumes at the next gzip member (or, in a plain file, the next `WARC/1.0` line);
- a body that is not UTF-8 -> `invalid_utf8`;
- a file cut short (truncated gzip) -> one `malformed_record` for the cut record, the records before
  it are kept.
Drops are yielded as `WetDrop`s in file order, between the documents, so a caller can count them.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from lamina.documents import Document, stable_id

# Records larger than this (bytes of body, from Content-Length) are dropped as `too_long`.
# Real WET bodies are capped by CC's extractor at about 1 MB; cc_net never sees larger ones.
DEFAULT_MAX_BYTES = 2_000_000

_DUMP_RE = re.compile(r"CC-MAIN-\d{4}-\d{2}")
_GZIP_MAGIC = b"\x1f\x8b"
_WARC_LINE = b"WARC/1."


@dataclasses.dataclass(frozen=True)
class WetDrop:
    """A record that could not become a document, and why (a drop reason of interfaces.md)."""

    id: str  # stable id: of the WARC-Record-ID when it was read, else of file + record index
    reason: str  # "too_long" | "malformed_record" | "invalid_utf8"
    file: str  # the file label the record came from
    record: int  # 0-based index of the record in its file (warcinfo included)
    record_id: str  # WARC-Record-ID, or "" when the header could not be read
    url: str  # WARC-Target-URI, or ""
    detail: str  # what was wrong, for a human

    def describe(self) -> str:
        return f"{self.file}: record {self.record} {self.record_id or ''}: {self.reason}: {self.detail}"


def dump_of(path: str) -> str:
    """The CC dump name (`CC-MAIN-2022-05`) found in a path, or ""."""
    m = _DUMP_RE.search(path)
    return m.group(0) if m else ""


def domain_of(url: str) -> str:
    """The host of a URL, lowercased (cc_net's `source_domain`)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _is_gzip(fileobj: BinaryIO) -> bool:
    head = fileobj.read(2)
    fileobj.seek(0)
    return head == _GZIP_MAGIC


def _next_gzip_member(fileobj: BinaryIO, start: int) -> int | None:
    """Offset of the gzip member after the one beginning at `start`, or None if the file ends
    inside it (truncated) or `start` is not a member. Decompresses in chunks, discarding output."""
    fileobj.seek(start)
    d = zlib.decompressobj(wbits=31)
    consumed = 0
    try:
        while not d.eof:
            chunk = fileobj.read(1 << 16)
            if not chunk:
                return None
            d.decompress(chunk, 1 << 20)
            while d.unconsumed_tail and not d.eof:
                d.decompress(d.unconsumed_tail, 1 << 20)
            consumed += len(chunk) - len(d.unused_data)
    except zlib.error:
        return _scan_for_gzip_magic(fileobj, start + 1)
    return start + consumed


def _scan_for_gzip_magic(fileobj: BinaryIO, start: int) -> int | None:
    """Next offset >= start holding gzip's magic bytes (resync after a corrupt member)."""
    return _scan_for(fileobj, start, _GZIP_MAGIC + b"\x08")


def _scan_for(fileobj: BinaryIO, start: int, needle: bytes) -> int | None:
    fileobj.seek(start)
    offset, tail = start, b""
    while True:
        chunk = fileobj.read(1 << 16)
        if not chunk:
            return None
        buf = tail + chunk
        i = buf.find(needle)
        if i >= 0:
            return offset - len(tail) + i
        tail = buf[-(len(needle) - 1) :]
        offset += len(chunk)


def _next_plain_record(fileobj: BinaryIO, start: int) -> int | None:
    """Offset of the next line starting with `WARC/1.` after `start` in an uncompressed file."""
    pos = _scan_for(fileobj, start + 1, b"\n" + _WARC_LINE)
    return None if pos is None else pos + 1


def _decode_body(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _document(headers, body: str, *, file: str, index: int, dump: str, source: str) -> Document:
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    title = lines[0].strip() if lines else ""
    text = "\n".join(lines[1:]).strip("\n")
    record_id = headers.get_header("WARC-Record-ID") or ""
    url = headers.get_header("WARC-Target-URI") or ""
    return Document(
        id=stable_id(source, record_id),
        source=source,
        text=text,
        metadata={
            "url": url,
            "date": headers.get_header("WARC-Date") or "",
            "digest": headers.get_header("WARC-Block-Digest") or "",
            "record_id": record_id,
            "title": title,
            "domain": domain_of(url),
            "dump": dump,
            "file": file,
            "record": index,  # 0-based record index in the file: "first occurrence" order for dedup
        },
    )


def iter_wet(
    path: str | Path,
    *,
    fileobj: BinaryIO | None = None,
    label: str | None = None,
    dump: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    source: str = "commoncrawl",
) -> Iterator[Document | WetDrop]:
    """Yield one `Document` per conversion record of a WET file and one `WetDrop` per bad record.

    path: the file (plain or gzip; CC's per-record gzip members make resync after a bad record exact).
    fileobj: an open seekable binary file to read instead of opening `path` (e.g. from Beam's
      filesystems); `path` then only names it.
    label: how documents name their file (metadata `file`), default `str(path)`; pass a path relative
      to the input root so that outputs do not depend on where the input lies.
    dump: the dump name; default: from `warcinfo`'s isPartOf, else a `CC-MAIN-YYYY-WW` in the path.
    The document's text is the body without its first line, which is the page title (cc_net).
    """
    label = str(path) if label is None else label
    path_dump = dump if dump is not None else dump_of(str(path))
    own = fileobj is None
    f: BinaryIO = open(path, "rb") if own else fileobj  # noqa: SIM115 - closed in finally
    if not f.seekable():
        f = io.BytesIO(f.read())
    try:
        yield from _iter_records(f, label=label, dump=path_dump, max_bytes=max_bytes, source=source)
    finally:
        if own:
            f.close()


def _iter_records(
    f: BinaryIO, *, label: str, dump: str, max_bytes: int, source: str
) -> Iterator[Document | WetDrop]:
    gz = _is_gzip(f)
    items = _iter_records_unchecked(f, gz=gz, label=label, dump=dump, max_bytes=max_bytes, source=source)
    # A gzip file cut short can end inside its last member without warcio noticing (it yields what
    # it could decompress): hold the last item back until its member is proven complete.
    held = None
    for entry in items:
        if held is not None:
            yield held[0]
        held = entry
    if held is None:
        return
    item, offset, index = held
    if gz and offset is not None and isinstance(item, Document) and _next_gzip_member(f, offset) is None:
        m = item.metadata
        item = WetDrop(item.id, "malformed_record", label, index, m["record_id"], m["url"],
                       "the file ends inside this record's gzip member (truncated gzip)")  # fmt: skip
    yield item


def _iter_records_unchecked(
    f: BinaryIO, *, gz: bool, label: str, dump: str, max_bytes: int, source: str
) -> Iterator[tuple[Document | WetDrop, int | None, int]]:
    """(item, raw offset of its gzip member or None, record index) for every record of the file."""
    index = 0  # record index in the file
    start: int | None = 0  # raw offset where the current ArchiveIterator begins
    info_dump = ""
    while start is not None:
        f.seek(start)
        it = ArchiveIterator(f, check_digests=False)
        last_ok = None  # raw offset of the last record parsed completely (gzip only)
        record_id = url = ""
        try:
            for record in it:
                headers = record.rec_headers
                record_id = headers.get_header("WARC-Record-ID") or ""
                url = headers.get_header("WARC-Target-URI") or ""
                item = None
                if record.rec_type == "warcinfo":
                    fields = record.content_stream().read(1 << 16).decode("utf-8", "replace")
                    m = re.search(r"^isPartOf:\s*(\S+)", fields, re.MULTILINE)
                    info_dump = m.group(1) if m else info_dump
                elif record.rec_type == "conversion":
                    item = _convert(record, headers, max_bytes, label, index, dump or info_dump, source)
                # (get_record_offset reads the record to its end: only after its body was read)
                offset = it.get_record_offset() if gz else None  # absolute in the file
                if item is not None:
                    yield item, offset, index
                index += 1
                record_id = url = ""
                last_ok = offset
        except (ArchiveLoadFailed, EOFError, zlib.error, OSError, ValueError) as e:
            detail = f"{type(e).__name__}: {str(e)[:200]}"
            yield _drop(source, "malformed_record", label, index, record_id, url, detail), None, index
            index += 1
            start = _resync(f, gz, start, it, last_ok)
            continue
        start = None


def _convert(record, headers, max_bytes: int, label: str, index: int, dump: str, source: str):
    """A conversion record -> Document, or the WetDrop saying why it cannot be one."""
    record_id = headers.get_header("WARC-Record-ID") or ""
    url = headers.get_header("WARC-Target-URI") or ""
    length = int(headers.get_header("Content-Length") or 0)
    if length > max_bytes:
        return _drop(
            source,
            "too_long",
            label,
            index,
            record_id,
            url,
            f"Content-Length {length} > max_bytes {max_bytes}",
        )
    raw = record.content_stream().read(max_bytes + 1)
    if len(raw) < length:
        detail = f"body has {len(raw)} bytes, Content-Length says {length} (truncated)"
        return _drop(source, "malformed_record", label, index, record_id, url, detail)
    body = _decode_body(raw)
    if body is None:
        return _drop(source, "invalid_utf8", label, index, record_id, url, "body is not valid UTF-8")
    return _document(headers, body, file=label, index=index, dump=dump, source=source)


def _resync(f: BinaryIO, gz: bool, start: int, it: ArchiveIterator, last_ok: int | None) -> int | None:
    """Where to resume after a record warcio could not read: the member (gzip) or `WARC/1.` line
    (plain) after the bad record, or None when the file ends (truncated)."""
    if gz:
        # The bad member begins after the last good one (or at `start`); skip exactly one member.
        bad = start if last_ok is None else _next_gzip_member(f, last_ok)
        if bad is None:
            return None
        return _next_gzip_member(f, bad)
    offset = getattr(it, "offset", start)  # absolute: where warcio was when it failed
    return _next_plain_record(f, max(offset, start))


def _drop(source: str, reason: str, file: str, index: int, record_id: str, url: str, detail: str) -> WetDrop:
    key = record_id or f"{file}#{index}"
    return WetDrop(
        id=stable_id(source, key),
        reason=reason,
        file=file,
        record=index,
        record_id=record_id,
        url=url,
        detail=detail,
    )


def read_wet(path: str | Path, **kwargs) -> tuple[list[Document], list[WetDrop]]:
    """All documents and drops of one file (small files and tests)."""
    docs: list[Document] = []
    drops: list[WetDrop] = []
    for item in iter_wet(path, **kwargs):
        (docs if isinstance(item, Document) else drops).append(item)
    return docs, drops


def open_maybe_gzip(path: str | Path) -> BinaryIO:
    """Open a file, decompressing it if it is gzip (used for wet.paths(.gz) lists)."""
    f = open(path, "rb")  # noqa: SIM115
    if _is_gzip(f):
        return gzip.GzipFile(fileobj=f)
    return f
