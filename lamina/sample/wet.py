"""CommonCrawl WET files: WARC/1.0 `warcinfo` + `conversion` records, one gzip member per record.

Byte-for-byte the layout of real CC WET files (see ../shared/data/cc/whirlwind.warc.wet.gz):
header lines ending in CRLF, a blank line, the UTF-8 body (title line, then text), then CRLF CRLF.
`WARC-Block-Digest` is the real `sha1:` + base32 SHA-1 of the body, so exact duplicates share it.
Gzip members are written with mtime 0, so files are byte-identical for a seed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import uuid
from dataclasses import dataclass

LANG3 = {"en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "ru": "rus"}


def block_digest(body: bytes) -> str:
    """`sha1:` + base32 of the SHA-1 of a record block, as WARC-Block-Digest holds it."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def record_uuid(bits: int) -> str:
    """A WARC-Record-ID from 128 random bits: `<urn:uuid:...>` (version-4 layout)."""
    return f"<urn:uuid:{uuid.UUID(int=bits, version=4)}>"


@dataclass
class WetRecord:
    """One `conversion` record."""

    url: str  # WARC-Target-URI
    date: str  # WARC-Date, ISO 8601 with Z
    record_id: str  # WARC-Record-ID (`<urn:uuid:...>`)
    refers_to: str  # WARC-Refers-To: the record id of the WARC response it was converted from
    language: str  # WARC-Identified-Content-Language (ISO 639-3, comma separated)
    body: bytes  # title line + text, UTF-8 (or deliberately broken bytes)
    content_length: int | None = None  # the header value; None = the true length of body


def _member(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    return buf.getvalue()


def warcinfo(filename: str, dump: str, date: str, record_id: str) -> bytes:
    fields = (
        "Software-Info: lamina-sample-world\r\n"
        f"Extracted-Date: {date}\r\n"
        "robots: checked via crawler-commons\r\n"
        f"isPartOf: {dump}\r\n"
        "operator: Lamina sample world (generated, no real crawl)\r\n"
        f"description: Generated sample of {dump}\r\n"
        "publisher: Lamina\r\n"
    ).encode()
    head = (
        "WARC/1.0\r\nWARC-Type: warcinfo\r\n"
        f"WARC-Date: {date}\r\nWARC-Filename: {filename}\r\nWARC-Record-ID: {record_id}\r\n"
        f"Content-Type: application/warc-fields\r\nContent-Length: {len(fields)}\r\n"
        f"WARC-Block-Digest: {block_digest(fields)}\r\n\r\n"
    ).encode()
    return head + fields + b"\r\n\r\n"


def conversion(rec: WetRecord) -> bytes:
    length = len(rec.body) if rec.content_length is None else rec.content_length
    head = (
        "WARC/1.0\r\nWARC-Type: conversion\r\n"
        f"WARC-Target-URI: {rec.url}\r\nWARC-Date: {rec.date}\r\nWARC-Record-ID: {rec.record_id}\r\n"
        f"WARC-Refers-To: {rec.refers_to}\r\nWARC-Block-Digest: {block_digest(rec.body)}\r\n"
        f"WARC-Identified-Content-Language: {rec.language}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    return head + rec.body + b"\r\n\r\n"


def wet_file_bytes(filename: str, dump: str, date: str, info_id: str, records: list[WetRecord]) -> bytes:
    """A whole .warc.wet.gz: warcinfo then the conversion records, each its own gzip member."""
    parts = [_member(warcinfo(filename, dump, date, info_id))]
    parts += [_member(conversion(r)) for r in records]
    return b"".join(parts)
