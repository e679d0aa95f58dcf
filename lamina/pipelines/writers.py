"""Deterministic, idempotent outputs: sorted, fixed gzip header, written to a temporary name and
renamed when complete, through Beam's filesystems (local paths, gs://, ...).

A retried or re-run stage therefore writes byte-identical files and never leaves a half file under
the final name (cc_net does the same with its `.tmp` files).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import uuid

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from lamina.documents import Document


def write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically: a unique temporary sibling, then rename over the target."""
    parent = path.rsplit("/", 1)[0]
    if not FileSystems.exists(parent):
        try:
            FileSystems.mkdirs(parent)
        except OSError:  # another worker created it meanwhile (Beam wraps FileExistsError)
            if not FileSystems.exists(parent):
                raise
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    with FileSystems.create(tmp, mime_type="application/octet-stream") as f:
        f.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def gzip_lines(lines: list[str]) -> bytes:
    """gzip of the lines (each + "\\n"), with mtime 0 and no file name: the same bytes every run."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        for line in lines:
            gz.write(line.encode("utf-8"))
            gz.write(b"\n")
    return buf.getvalue()


class ShardedName:
    """Names a kept document's output file: `<prefix>` (num_shards 1), else `<prefix>_<k:05d>` with
    k = sha1(document id) mod num_shards. A class, not a closure, so Beam pickles it plainly."""

    def __init__(self, prefix: str, num_shards: int = 1):
        self.prefix = prefix
        self.num_shards = num_shards

    def __call__(self, doc: Document) -> str:
        if self.num_shards == 1:
            return self.prefix
        k = int(hashlib.sha1(doc.id.encode()).hexdigest()[:8], 16) % self.num_shards
        return f"{self.prefix}_{k:05d}"


class MetadataName:
    """Names a document's output file by one of its metadata fields (a language, a site, a drop
    reason); `default` when the field is missing or empty (None: the field is required)."""

    def __init__(self, field: str, default: str | None = None):
        self.field = field
        self.default = default

    def __call__(self, doc: Document) -> str:
        if self.default is None:
            return doc.metadata[self.field]
        return doc.metadata.get(self.field) or self.default


def _write_group(kv, directory: str) -> int:
    name, docs = kv
    docs = sorted(docs, key=lambda d: d.id)
    path = f"{directory}/{name}.jsonl.gz"
    write_bytes(path, gzip_lines([d.to_json() for d in docs]))
    return len(docs)


class WriteDocs(beam.PTransform):
    """Write documents to `<directory>/<name(doc)>.jsonl.gz`, each file sorted by document id.
    Outputs the tally (("write", "kept", ""), n) per file, for the statistics."""

    def __init__(self, directory: str, name_of, label: str = "write"):
        super().__init__()
        self.directory = directory
        self.name_of = name_of
        self.label_ = label

    def expand(self, docs):
        groups = (
            docs
            | "key_by_file" >> beam.Map(lambda d, f=self.name_of: (f(d), d))
            | "group_by_file" >> beam.GroupByKey()
        )
        written = groups | "write_files" >> beam.Map(_write_group, directory=self.directory)
        return written | "count_written" >> beam.Map(lambda n: (("write", "kept", ""), n))


def dropped_document(stage: str, d) -> Document:
    """A dropped document as written under dropped/: its metadata says which stage and why."""
    return d.doc.with_metadata(drop_stage=stage, drop_reason=d.reason, drop_detail=d.detail)


class WriteDropped(beam.PTransform):
    """Write (stage, Dropped) pairs to `<directory>/<reason>.jsonl.gz`, sorted by id."""

    def __init__(self, directory: str):
        super().__init__()
        self.directory = directory

    def expand(self, drops):
        docs = drops | "as_documents" >> beam.Map(lambda sd: dropped_document(*sd))
        return docs | "write_dropped" >> WriteDocs(self.directory, MetadataName("drop_reason"))
