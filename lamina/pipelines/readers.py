"""Reading the web sources in Beam: WET files (a glob or a `wet.paths` list) and C4 json.gz files.

The file list is expanded when the pipeline is built (sorted, so runs are reproducible) and each
file is read by one worker (`Reshuffle` spreads files over workers). Parsing is the pure-Python
`lamina.formats.wet`; a record it cannot read becomes a counted drop here.

Files are accounted like documents (docs/inputs.md): every reader tallies each file it was given as
`read` or `failed` (with the error) beside the `matched` count of the list, so the statistics hold
files matched = read + failed; `lamina corpus` fails a run with a failed file unless
`--allow-failed-inputs N` tolerates it. URLs are fetched with retries and exponential backoff
(CommonCrawl answers 503 under load). A file listed twice (the same input identity, `input_identity`)
is an error before the run, never a silent repeat.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from lamina.documents import Document, stable_id
from lamina.filters.binary import BINARY, binary_reason
from lamina.formats.wet import DEFAULT_MAX_BYTES, WetDrop, input_identity, iter_wet
from lamina.pipelines.accounting import DROPPED, FILES, TALLY, Dropped

READ = "read"
CC_BASE_URL = "https://data.commoncrawl.org/"
FETCH_RETRIES = 5  # attempts after the first for a URL that fails with a 5xx/429 or a network error
FETCH_BACKOFF_S = 1.0  # seconds before the first retry, doubled for each next one (1+2+4+8+16 = 31 s)
_RETRY_HTTP = (408, 425, 429, 500, 502, 503, 504)


class InputError(ValueError):
    """A user's input mistake found before the run (no file matches, a file listed twice): one line."""


class NoInputFiles(InputError):
    """No file matches an input (a source that looks for several patterns catches it)."""


@dataclasses.dataclass(frozen=True)
class Fetch:
    """How URLs are fetched: retries after the first attempt, first backoff in seconds (doubling)."""

    retries: int = FETCH_RETRIES
    backoff_s: float = FETCH_BACKOFF_S


def _is_url(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def expand_inputs(spec: str, pattern: str = "*.warc.wet.gz") -> list[tuple[str, str]]:
    """(path, label) of every input file. `spec` is a file, a directory (searched recursively for
    `pattern`), a glob, or a `wet.paths`/`wet.paths.gz` list (one path or URL per line, relative
    paths taken from the list's folder; CC's own `crawl-data/...` paths not found there are fetched from
    data.commoncrawl.org). Labels are paths relative to the input root, so documents
    do not depend on where the input lies."""
    name = spec.rstrip("/").rsplit("/", 1)[-1]
    if name.startswith("wet.paths"):
        with FileSystems.open(spec, compression_type="uncompressed") as f:
            raw = f.read()
        if spec.endswith(".gz"):
            import gzip

            raw = gzip.decompress(raw)
        root = spec.rsplit("/", 1)[0] if "/" in spec else "."
        out = []
        for line in raw.decode("utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            full = line if _is_url(line) or "://" in line or line.startswith("/") else f"{root}/{line}"
            if line.startswith("crawl-data/") and not FileSystems.exists(full):
                full = CC_BASE_URL + line  # CC's own wet.paths.gz: paths relative to its HTTP server
            out.append((full, line))
        if not out:
            raise InputError(f"{spec} lists no input files")
        return _no_duplicates(out, spec)
    if FileSystems.exists(spec) and not _looks_like_dir(spec):
        return [(spec, spec.rsplit("/", 1)[-1])]
    glob = spec if any(c in spec for c in "*?[") else f"{spec.rstrip('/')}/**{pattern}"
    root = glob.split("*", 1)[0].rsplit("/", 1)[0]
    try:
        matches = sorted(m.path for r in FileSystems.match([glob]) for m in r.metadata_list)
    except Exception as e:  # noqa: BLE001 - Beam raises BeamIOError for an unreadable root
        raise InputError(f"cannot list input files {glob}: {e}") from None
    if not matches:
        where = glob if glob == spec else f"{pattern} under {spec}"
        raise NoInputFiles(f"no input files match {where}")
    return _no_duplicates([(m, m[len(root) :].lstrip("/")) for m in matches], glob)


def _no_duplicates(files: list[tuple[str, str]], spec: str) -> list[tuple[str, str]]:
    """The files, or an InputError naming the first input given twice. Two entries are the same input
    when their identity (`input_identity`: dump + CommonCrawl file name for WET/WARC files, else the
    path relative to the input root) is the same: their documents would get the same ids and be
    repeated in the corpus. An error, not a counted drop: feeding a file twice is always a mistake
    in the file list, and it costs nothing to refuse it before any worker starts (docs/inputs.md)."""
    seen: dict[str, str] = {}
    for path, label in files:
        key = input_identity(label)
        if key in seen:
            raise InputError(
                f"{spec}: the same input is given twice: {seen[key]} and {path} (both {key}); remove one"
            )
        seen[key] = path
    return files


def _looks_like_dir(path: str) -> bool:
    return "://" not in path and os.path.isdir(path)


def open_input(path: str, fetch: Fetch = Fetch(), sleep=time.sleep):
    """A readable binary file: a URL is fetched whole into a temporary file (retried with backoff on
    429/5xx and network errors, `fetch`), anything else opened through Beam's filesystems."""
    if not _is_url(path):
        return FileSystems.open(path, compression_type="uncompressed")
    attempt = 0
    while True:
        tmp = tempfile.TemporaryFile()
        try:
            with urllib.request.urlopen(path, timeout=120) as r:  # noqa: S310 - user-given CC URL
                shutil.copyfileobj(r, tmp)
            tmp.seek(0)
            return tmp
        except Exception as e:  # noqa: BLE001 - which errors are retried is decided below
            tmp.close()
            retry = not isinstance(e, urllib.error.HTTPError) or e.code in _RETRY_HTTP
            if not retry or attempt >= fetch.retries:
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                raise OSError(f"{_describe(e)}{tries}") from None
            sleep(fetch.backoff_s * 2**attempt)
            attempt += 1


def _describe(e: Exception) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"{type(e.reason).__name__}: {e.reason}"
    return f"{type(e).__name__}: {e}"


def empty_input(f) -> bool:
    """True when an opened input holds no byte (left at its start otherwise). A zero-byte WET or
    .gz file is never data (a gzip of nothing is 20 bytes, a WET file holds a warcinfo record):
    it is an interrupted download or copy, so a failed file, not a file read with no records."""
    if f.read(1):
        f.seek(0)
        return False
    return True


EMPTY_FILE = "empty file (0 bytes): an interrupted download or copy? fetch it again"


def file_read():
    """A reader's tally of one file read to its end (its bad records are counted drops)."""
    yield TaggedOutput(TALLY, ((FILES, "read", ""), 1))


def file_failed(label: str, error: Exception | str):
    """A reader's tally of one file that could not be opened or fetched, with the error."""
    yield TaggedOutput(TALLY, ((FILES, "failed", f"{label}: {error}"), 1))


@dataclasses.dataclass
class ReadOutputs:
    """A reader's three outputs, by attribute or by tag like Beam's DoOutputsTuple."""

    docs: Any
    dropped: Any
    tally: Any

    def __getitem__(self, tag: str):
        return {"docs": self.docs, DROPPED: self.dropped, TALLY: self.tally}[tag]


# source -> input files listed for it in the pipeline being built (for the progress line's totals)
FILES_LISTED: dict[str, int] = {}


def read_files(
    pbegin, files: list[tuple[str, str]], fn: beam.DoFn, label: str, source: str = ""
) -> ReadOutputs:
    """The reader of a file list: Create -> Reshuffle (one file per worker at a time) -> `fn`, whose
    tallies get the `files matched` count of the list beside the read/failed ones `fn` emits. `fn`
    runs inside `progress.ProgressFn`, which reports documents and files read on the local runner."""
    from lamina.pipelines.progress import ProgressFn

    source = source or label
    FILES_LISTED[source] = FILES_LISTED.get(source, 0) + len(files)
    fn = ProgressFn(fn, source)
    listed = pbegin | "files" >> beam.Create(files)
    matched = listed | "files_matched" >> beam.Map(lambda _: ((FILES, "matched", ""), 1))
    outs = (
        listed
        | "spread_files" >> beam.Reshuffle()
        | label >> beam.ParDo(fn).with_outputs(DROPPED, TALLY, main="docs")
    )
    tally = (outs[TALLY], matched) | f"{label}_tallies" >> beam.Flatten()
    return ReadOutputs(outs.docs, outs[DROPPED], tally)


def _as_dropped(d: WetDrop, source: str) -> Dropped:
    meta = {"url": d.url, "record_id": d.record_id, "file": d.file, "record": d.record}
    return Dropped(d.reason, Document(d.id, source, "", meta), d.detail)


class _ReadWetFn(beam.DoFn):
    def __init__(self, source: str, max_bytes: int, fetch: Fetch):
        self.source = source
        self.max_bytes = max_bytes
        self.fetch = fetch

    def process(self, path_label):
        path, label = path_label
        try:
            f = open_input(path, self.fetch)
        except Exception as e:  # noqa: BLE001 - a file we cannot open is a failed file, counted
            yield from file_failed(path, e)
            return
        if empty_input(f):
            f.close()
            yield from file_failed(path, EMPTY_FILE)
            return
        with f:
            for item in iter_wet(path, fileobj=f, label=label, max_bytes=self.max_bytes, source=self.source):
                if isinstance(item, WetDrop):
                    yield from read_drop(_as_dropped(item, self.source))
                else:
                    yield from read_kept(item)
        yield from file_read()


def read_drop(d: Dropped):
    """A reader's counted drop (every source's `read` stage): its tally and the (stage, Dropped) pair
    on the DROPPED output."""
    yield TaggedOutput(TALLY, ((READ, "dropped", d.reason), 1))
    yield TaggedOutput(DROPPED, (READ, d))


def read_kept(item):
    """A reader's kept element (a Document, or what the source's first stage takes): its tally, then
    the element on the main output. A Document whose text is binary (`lamina.filters.binary`) is
    the counted drop `binary` instead."""
    if isinstance(item, Document):
        why = binary_reason(item.text)
        if why:
            yield from read_drop(Dropped(BINARY, item, why))
            return
    yield TaggedOutput(TALLY, ((READ, "kept", ""), 1))
    yield item


class ReadWet(beam.PTransform):
    """WET files -> Documents (main output), (stage, Dropped) (`dropped`), tallies (`tally`)."""

    def __init__(
        self,
        files: list[tuple[str, str]],
        source: str = "commoncrawl",
        max_bytes: int = DEFAULT_MAX_BYTES,
        fetch: Fetch = Fetch(),
    ):
        super().__init__()
        self.files = files
        self.source = source
        self.max_bytes = max_bytes
        self.fetch = fetch

    def expand(self, pbegin):
        return read_files(
            pbegin, self.files, _ReadWetFn(self.source, self.max_bytes, self.fetch), "read_wet", self.source
        )


class _ReadC4JsonFn(beam.DoFn):
    """C4's own files: one JSON object per line with url, text, timestamp. Each line is decoded on
    its own, so a bad byte or a broken object costs that line only (a `malformed_record` naming the
    file and its line number) and the rest of the file is read; a cut gzip ends the file with one."""

    def __init__(self, source: str, fetch: Fetch):
        self.source = source
        self.fetch = fetch

    def process(self, path_label):
        import gzip

        path, label = path_label
        try:
            raw = open_input(path, self.fetch)
        except Exception as e:  # noqa: BLE001 - a file we cannot open is a failed file, counted
            yield from file_failed(path, e)
            return
        if path.endswith(".gz") and empty_input(raw):
            raw.close()
            yield from file_failed(path, EMPTY_FILE)
            return
        identity = input_identity(label)
        with raw:
            stream = gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw
            n = 0
            while True:
                doc_id = stable_id(self.source, identity, str(n))
                try:
                    line = stream.readline()
                except (EOFError, OSError, gzip.BadGzipFile) as e:
                    detail = f"{label} line {n + 1}: the file ends here: {type(e).__name__}: {e}"
                    yield from read_drop(Dropped("malformed_record", self._empty(doc_id, label, n), detail))
                    break
                if not line:
                    break
                try:
                    d = json.loads(line.decode("utf-8"))
                    url, text = str(d["url"]), str(d["text"])
                except (ValueError, KeyError, TypeError) as e:
                    detail = f"{label} line {n + 1}: {type(e).__name__}: {str(e)[:200]}"
                    yield from read_drop(Dropped("malformed_record", self._empty(doc_id, label, n), detail))
                    n += 1
                    continue
                meta = {"url": url, "timestamp": str(d.get("timestamp", "")), "file": label, "record": n}
                yield from read_kept(Document(doc_id, self.source, text, meta))
                n += 1
        yield from file_read()

    def _empty(self, doc_id: str, label: str, n: int) -> Document:
        return Document(doc_id, self.source, "", {"file": label, "record": n})


class ReadC4Json(beam.PTransform):
    """C4 json(.gz) files -> Documents with url and timestamp, plus drops and tallies like ReadWet."""

    def __init__(self, files: list[tuple[str, str]], source: str = "c4", fetch: Fetch = Fetch()):
        super().__init__()
        self.files = files
        self.source = source
        self.fetch = fetch

    def expand(self, pbegin):
        return read_files(
            pbegin, self.files, _ReadC4JsonFn(self.source, self.fetch), "read_c4_json", self.source
        )


def localize(path: str, cache_dir: str | None = None) -> str:
    """A local path for a model file that may live on gs:// (or any Beam filesystem): remote files
    are copied once per worker into a temporary folder; local paths are returned as they are."""
    if "://" not in path:
        return path
    root = Path(cache_dir or os.path.join(tempfile.gettempdir(), "lamina-models"))
    local = root / path.replace("://", "/")
    if not local.exists():
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(local.name + f".tmp{os.getpid()}")
        with FileSystems.open(path, compression_type="uncompressed") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, local)
    return str(local)
