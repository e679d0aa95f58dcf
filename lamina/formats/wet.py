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
  it are kept;
- a file gzipped as ONE stream (not one member per record; `gzip file.warc.wet` does that) is read as
  one decompressed stream, every record of it;
- in an uncompressed (or single-stream) file, a `Content-Length` that lies is caught: a body shorter
  than it said stops at EOF or runs into the next record, so a body that contains a WARC header
  (`\nWARC/1.x\r\nWARC-` , which a WET text body, LF-separated, never holds) is a `malformed_record`
  and reading resumes at that header; a length shorter than the body resyncs on the next `WARC/1.` line.
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
# A WARC header inside a body: the body ran over its record (a Content-Length that lies, plain files).
_HEADER_IN_BODY = re.compile(rb"\nWARC/1\.[01]\r\nWARC-")


@dataclasses.dataclass(frozen=True)
class WetDrop:
    """A record that could not become a document, and why (a drop reason of interfaces.md)."""

    id: str  # stable id of the record: input identity of its file + record index (`record_key`)
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


def input_identity(label: str) -> str:
    """What identifies an input file whatever path it is read from: for a WARC/WET file the dump and
    CommonCrawl's own file name (`CC-MAIN-2023-06/CC-MAIN-20230126210844-...-00000.warc.wet.gz`,
    unique in a crawl: it holds the segment's timestamps), else the path relative to the input root.
    Document ids are made from it and the record's index, so one input read twice repeats its ids and
    `lamina corpus` refuses a file list naming one input twice (docs/inputs.md)."""
    name = label.rstrip("/").rsplit("/", 1)[-1]
    if re.search(r"\.warc(\.wet|\.wat)?(\.gz)?$", name):
        dump = dump_of(label)
        return f"{dump}/{name}" if dump else name
    return label


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


def _single_stream(fileobj: BinaryIO) -> bool:
    """True when the file's first gzip member reaches (or is cut at) the end of the file: one stream
    for the whole file. CC's files have one member per record, the first (warcinfo) a few hundred
    bytes, so this decompresses little for them."""
    end = _next_gzip_member(fileobj, 0)
    size = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    return end is None or end >= size


class _SafeGzip(gzip.GzipFile):
    """A gzip stream whose cut end reads as EOF (with `cut` set), not as an error, and never loses
    the bytes decompressed before the cut (GzipFile.read(n) would discard them with the error). The
    record being read when the cut is met is then a drop (its body ends before its Content-Length)."""

    def __init__(self, fileobj: BinaryIO):
        super().__init__(fileobj=fileobj, mode="rb")
        self.cut = False

    def _piece(self, size: int) -> bytes:
        try:
            return super().read1(size)
        except (EOFError, zlib.error, OSError):
            self.cut = True
            return b""

    def read(self, size=-1):
        parts, want = [], (1 << 62) if size is None or size < 0 else size
        while want > 0:
            piece = self._piece(min(want, 1 << 16))
            if not piece:
                break
            parts.append(piece)
            want -= len(piece)
        return b"".join(parts)

    read1 = read

    def readline(self, size=-1):
        try:
            return super().readline(size)
        except (EOFError, zlib.error, OSError):
            self.cut = True
            return b""


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
        id=record_key(source, file, index),
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
    if gz and _single_stream(f):
        # One gzip stream holding every record: read it decompressed, as a plain file (GzipFile seeks;
        # a resync after a bad record re-decompresses from the start, which only bad records cost).
        f, gz = _SafeGzip(f), False
    items = _iter_records_unchecked(f, gz=gz, label=label, dump=dump, max_bytes=max_bytes, source=source)
    # A gzip file cut short can end inside its last member without warcio noticing (it yields what
    # it could decompress): hold the last item back until its member is proven complete.
    held = None
    for entry in items:
        if held is not None:
            yield held[0]
        held = entry
    cut = isinstance(f, _SafeGzip) and f.cut
    if held is None:
        if cut:
            yield _drop(
                source, "malformed_record", label, 0, "", "", "the gzip stream ends early (truncated)"
            )
        return
    item, offset, index = held
    if cut and isinstance(item, Document):  # the stream was cut after this record: say so, count it
        yield item
        item = _drop(source, "malformed_record", label, index + 1, "", "",
                     "the gzip stream ends early (truncated): records after this one are lost")  # fmt: skip
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
                    item = _convert(record, headers, max_bytes, label, index, dump or info_dump, source, gz)
                # (get_record_offset reads the record to its end: only after its body was read)
                offset = it.get_record_offset() if gz or isinstance(item, _RanOver) else None
                if isinstance(item, _RanOver):  # plain file, a lying Content-Length: resume inside it
                    yield item.drop, None, index
                    index += 1
                    start = _next_plain_record(f, offset)
                    break
                if item is not None:
                    yield item, offset, index
                index += 1
                record_id = url = ""
                last_ok = offset
            else:
                start = None
        except (ArchiveLoadFailed, EOFError, zlib.error, OSError, ValueError) as e:
            detail = f"{type(e).__name__}: {str(e)[:200]}"
            yield _drop(source, "malformed_record", label, index, record_id, url, detail), None, index
            index += 1
            start = _resync(f, gz, start, it, last_ok)


@dataclasses.dataclass(frozen=True)
class _RanOver:
    """A plain file's record whose body holds the next record's header: its drop; resume there."""

    drop: WetDrop


def _header_in(stream, limit: int | None) -> int:
    """Offset of a WARC header inside a record body read from `stream` (at most `limit` bytes, None:
    all, in 1 MiB chunks so a huge body costs no memory), or -1."""
    seen, tail = 0, b""
    while limit is None or seen < limit:
        chunk = stream.read(1 << 20 if limit is None else min(1 << 20, limit - seen))
        if not chunk:
            return -1
        m = _HEADER_IN_BODY.search(tail + chunk)
        if m:
            return seen - len(tail) + m.start()
        tail, seen = (tail + chunk)[-16:], seen + len(chunk)
    return -1


def _convert(record, headers, max_bytes: int, label: str, index: int, dump: str, source: str, gz: bool):
    """A conversion record -> Document, or the WetDrop saying why it cannot be one (`_RanOver` when,
    in a plain file, its Content-Length runs into the next record)."""
    record_id = headers.get_header("WARC-Record-ID") or ""
    url = headers.get_header("WARC-Target-URI") or ""
    length = int(headers.get_header("Content-Length") or 0)

    def drop(reason: str, detail: str) -> WetDrop:
        return _drop(source, reason, label, index, record_id, url, detail)

    def ran_over(at: int) -> _RanOver:
        detail = f"Content-Length {length} runs into the next record (a WARC header at body byte {at})"
        return _RanOver(drop("malformed_record", detail))

    if length > max_bytes:
        if not gz:  # a plain file: make sure the length does not swallow the records after it
            at = _header_in(record.content_stream(), None)
            if at >= 0:
                return ran_over(at)
        return drop("too_long", f"Content-Length {length} > max_bytes {max_bytes}")
    raw = record.content_stream().read(max_bytes + 1)
    if not gz:
        m = _HEADER_IN_BODY.search(raw)
        if m:
            return ran_over(m.start())
    if len(raw) < length:
        return drop(
            "malformed_record", f"body has {len(raw)} bytes, Content-Length says {length} (truncated)"
        )
    body = _decode_body(raw)
    if body is None:
        return drop("invalid_utf8", "body is not valid UTF-8")
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


def record_key(source: str, file: str, index: int) -> str:
    """The id of record `index` of file `file` (a label): input identity + record index (128 bits)."""
    return stable_id(source, input_identity(file), str(index))


def _drop(source: str, reason: str, file: str, index: int, record_id: str, url: str, detail: str) -> WetDrop:
    return WetDrop(
        id=record_key(source, file, index),
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
