"""Hand-built WET files with the damage real crawls show (bad header, bad UTF-8, huge page, cut file)."""

from __future__ import annotations

import gzip
from pathlib import Path


def wet_record(i: int, body: bytes, *, first: bytes = b"WARC/1.0", digest: str | None = None) -> bytes:
    """One WARC/1.0 conversion record with CC's headers (CRLF), body `body`."""
    digest_b = (digest or f"sha1:D{i}").encode()
    head = (
        first + b"\r\nWARC-Type: conversion\r\n"
        b"WARC-Target-URI: http://example.com/page%d\r\n"
        b"WARC-Date: 2022-01-17T00:00:00Z\r\n"
        b"WARC-Record-ID: <urn:uuid:rec-%d>\r\n"
        b"WARC-Refers-To: <urn:uuid:ref-%d>\r\n"
        b"WARC-Block-Digest: " + digest_b + b"\r\n"
        b"WARC-Identified-Content-Language: eng\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Length: %d\r\n\r\n"
    ) % (i, i, i, len(body))
    return head + body + b"\r\n\r\n"


def damaged_records(big_bytes: int = 3_000_000) -> list[bytes]:
    """good, invalid UTF-8, malformed header, one huge single-line page, good."""
    return [
        wet_record(0, b"Title zero\nThe first page is fine and has a line of text."),
        wet_record(1, b"Title one\nbad \xff\xfe bytes"),
        wet_record(2, b"whatever", first=b"GARBAGE/1.0"),
        wet_record(3, b"Title three\n" + b"a" * big_bytes),
        wet_record(4, b"Title four\nThe last page is fine too."),
    ]


def write_wet(path: Path, records: list[bytes], *, gz: bool = True, cut: int = 0) -> Path:
    """Write records as CC does (one gzip member each) or plain; drop the last `cut` bytes."""
    data = b"".join(gzip.compress(r, mtime=0) for r in records) if gz else b"".join(records)
    path.write_bytes(data[: len(data) - cut] if cut else data)
    return path
