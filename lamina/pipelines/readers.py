"""Reading the web sources in Beam: WET files (a glob or a `wet.paths` list) and C4 json.gz files.

The file list is expanded when the pipeline is built (sorted, so runs are reproducible) and each
file is read by one worker (`Reshuffle` spreads files over workers). Parsing is the pure-Python
`lamina.formats.wet`; a record it cannot read becomes a counted drop here, and a file that cannot be
opened is one counted drop naming the file, so one bad file never stops the run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from lamina.documents import Document, stable_id
from lamina.formats.wet import DEFAULT_MAX_BYTES, WetDrop, iter_wet
from lamina.pipelines.accounting import DROPPED, TALLY, Dropped

READ = "read"
CC_BASE_URL = "https://data.commoncrawl.org/"


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
        return out
    if FileSystems.exists(spec) and not _looks_like_dir(spec):
        return [(spec, spec.rsplit("/", 1)[-1])]
    glob = spec if any(c in spec for c in "*?[") else f"{spec.rstrip('/')}/**{pattern}"
    root = glob.split("*", 1)[0].rsplit("/", 1)[0]
    matches = sorted(m.path for r in FileSystems.match([glob]) for m in r.metadata_list)
    if not matches:
        raise FileNotFoundError(f"no input files match {glob}")
    return [(m, m[len(root) :].lstrip("/")) for m in matches]


def _looks_like_dir(path: str) -> bool:
    return "://" not in path and os.path.isdir(path)


def _open(path: str):
    if _is_url(path):
        tmp = tempfile.TemporaryFile()
        with urllib.request.urlopen(path, timeout=120) as r:  # noqa: S310 - user-given CC URL
            shutil.copyfileobj(r, tmp)
        tmp.seek(0)
        return tmp
    return FileSystems.open(path, compression_type="uncompressed")


def _as_dropped(d: WetDrop, source: str) -> Dropped:
    meta = {"url": d.url, "record_id": d.record_id, "file": d.file, "record": d.record}
    return Dropped(d.reason, Document(d.id, source, "", meta), d.detail)


class _ReadWetFn(beam.DoFn):
    def __init__(self, source: str, max_bytes: int):
        self.source = source
        self.max_bytes = max_bytes

    def process(self, path_label):
        path, label = path_label
        try:
            f = _open(path)
        except Exception as e:  # noqa: BLE001 - a file we cannot open is a counted drop, not a crash
            doc = Document(stable_id(self.source, label), self.source, "", {"file": label})
            yield from read_drop(Dropped("malformed_record", doc, f"cannot open {path}: {e}"))
            return
        with f:
            for item in iter_wet(path, fileobj=f, label=label, max_bytes=self.max_bytes, source=self.source):
                if isinstance(item, WetDrop):
                    yield from read_drop(_as_dropped(item, self.source))
                else:
                    yield from read_kept(item)


def read_drop(d: Dropped):
    """A reader's counted drop (every source's `read` stage): its tally and the (stage, Dropped) pair
    on the DROPPED output."""
    yield TaggedOutput(TALLY, ((READ, "dropped", d.reason), 1))
    yield TaggedOutput(DROPPED, (READ, d))


def read_kept(item):
    """A reader's kept element (a Document, or what the source's first stage takes): its tally, then
    the element on the main output."""
    yield TaggedOutput(TALLY, ((READ, "kept", ""), 1))
    yield item


class ReadWet(beam.PTransform):
    """WET files -> Documents (main output), (stage, Dropped) (`dropped`), tallies (`tally`)."""

    def __init__(
        self, files: list[tuple[str, str]], source: str = "commoncrawl", max_bytes: int = DEFAULT_MAX_BYTES
    ):
        super().__init__()
        self.files = files
        self.source = source
        self.max_bytes = max_bytes

    def expand(self, pbegin):
        return (
            pbegin
            | "files" >> beam.Create(self.files)
            | "spread_files" >> beam.Reshuffle()
            | "read_wet"
            >> beam.ParDo(_ReadWetFn(self.source, self.max_bytes)).with_outputs(DROPPED, TALLY, main="docs")
        )


class _ReadC4JsonFn(beam.DoFn):
    """C4's own files: one JSON object per line with url, text, timestamp."""

    def __init__(self, source: str):
        self.source = source

    def process(self, path_label):
        import gzip
        import io

        path, label = path_label
        with FileSystems.open(path, compression_type="uncompressed") as raw:
            stream = gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw
            lines = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="\n")
            n = 0
            while True:
                doc_id = stable_id(self.source, label, str(n))
                try:
                    line = lines.readline()
                except (UnicodeDecodeError, EOFError, OSError) as e:
                    doc = Document(doc_id, self.source, "", {"file": label, "record": n})
                    yield from read_drop(Dropped("malformed_record", doc, f"{label} line {n + 1}: {e}"))
                    return
                if not line:
                    return
                try:
                    d = json.loads(line)
                    url, text = str(d["url"]), str(d["text"])
                except (ValueError, KeyError, TypeError) as e:
                    doc = Document(doc_id, self.source, "", {"file": label, "record": n})
                    yield from read_drop(Dropped("malformed_record", doc, f"{label} line {n + 1}: {e}"))
                    n += 1
                    continue
                meta = {"url": url, "timestamp": str(d.get("timestamp", "")), "file": label, "record": n}
                yield from read_kept(Document(doc_id, self.source, text, meta))
                n += 1


class ReadC4Json(beam.PTransform):
    """C4 json(.gz) files -> Documents with url and timestamp, plus drops and tallies like ReadWet."""

    def __init__(self, files: list[tuple[str, str]], source: str = "c4"):
        super().__init__()
        self.files = files
        self.source = source

    def expand(self, pbegin):
        return (
            pbegin
            | "files" >> beam.Create(self.files)
            | "spread_files" >> beam.Reshuffle()
            | "read_c4_json"
            >> beam.ParDo(_ReadC4JsonFn(self.source)).with_outputs(DROPPED, TALLY, main="docs")
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
