"""Deterministic, idempotent, bounded outputs: sharded files, sorted, fixed gzip header, written to a
temporary name and renamed when complete, through Beam's filesystems (local paths, gs://, ...).

Every output name (`<lang>_<bucket>` for CCNet, a language for C4 and Wikipedia, a site for
StackExchange, `books`, `github`, `arxiv`, a drop reason under dropped/) is written as
`<name>-<shard>-of-<n>.jsonl.gz`, so no worker ever holds a whole output:

- n is derived from a count: a small combine per name sums (documents, JSON bytes) -- combiner-lifted,
  one accumulator per name and bundle -- and n = max(ceil(documents / limit.documents),
  ceil(bytes / limit.bytes)). Counting first (rather than a fixed n from an estimate) gives the
  named size to every output, large or small: a 30-document site gets one file, `en_head` of a dump
  gets thousands, and a rerun on the same input gets the same n. The count is a side input of a few
  hundred names at most (languages x buckets, sites, drop reasons).
- a document goes to shard sha1(id) mod n: deterministic, independent of bundles and workers, and
  balanced, so a shard holds limit documents (or bytes) on average; the largest of n shards exceeds
  the mean by a few standard deviations of a binomial, about 3 * sqrt(limit) documents (+10% at a
  1,000-document limit, +1% at 100,000). The limit is a mean, not a hard cap: a hard cap would need
  every document's rank, i.e. a global sort or a second shuffle of the bodies.
- inside a shard, lines are sorted by (id, JSON line): byte-identical on every rerun and runner.
  Every one of the n shards is written, an empty one as an empty gzip, so `-of-<n>` names n files.
- one shard is written by one worker: it holds that shard's (id, JSON line) pairs to sort them, at
  most about limit.documents documents or limit.bytes bytes (plus the binomial excess above); the gzip
  is streamed to a unique temporary file and renamed over the final name, so a retried bundle never
  leaves a partial file under a final name (cc_net does the same with its `.tmp` files).

Each write emits Beam Distributions `lamina.scale` / `group_elements` and `group_bytes` (the
documents and JSON bytes of the shard it held), like every DoFn that iterates a grouped value.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import math
import uuid
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from lamina.documents import Document

SCALE_NAMESPACE = "lamina.scale"  # Beam metrics namespace of the grouped-value sizes


class GroupSize:
    """The two Distributions every DoFn that iterates a grouped value updates once per group:
    `lamina.scale/group_elements` (values in the group) and `lamina.scale/group_bytes` (their
    payload size: characters of texts / JSON lines, token bytes, 8 per line hash). Build in setup()
    or lazily."""

    def __init__(self):
        self.elements = Metrics.distribution(SCALE_NAMESPACE, "group_elements")
        self.bytes = Metrics.distribution(SCALE_NAMESPACE, "group_bytes")

    def update(self, elements: int, nbytes: int) -> None:
        self.elements.update(int(elements))
        self.bytes.update(int(nbytes))


def _mkdirs(parent: str) -> None:
    if not FileSystems.exists(parent):
        try:
            FileSystems.mkdirs(parent)
        except OSError:  # another worker created it meanwhile (Beam wraps FileExistsError)
            if not FileSystems.exists(parent):
                raise


def _replace(tmp: str, path: str) -> None:
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically: a unique temporary sibling, then rename over the target."""
    _mkdirs(path.rsplit("/", 1)[0])
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    with FileSystems.create(tmp, mime_type="application/octet-stream") as f:
        f.write(data)
    _replace(tmp, path)


def write_gzip_lines(path: str, lines: Iterable[str]) -> None:
    """Stream `lines` (each + "\\n") gzipped to `path`, atomically (temporary sibling, then rename).
    mtime 0 and no file name in the header: the same bytes every run, equal to `gzip_lines`."""
    _mkdirs(path.rsplit("/", 1)[0])
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        with FileSystems.create(tmp, mime_type="application/octet-stream") as f:
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=6) as gz:
                for line in lines:
                    gz.write(line.encode("utf-8"))
                    gz.write(b"\n")
    except BaseException:
        if FileSystems.exists(tmp):
            FileSystems.delete([tmp])
        raise
    _replace(tmp, path)


def gzip_lines(lines: list[str]) -> bytes:
    """gzip of the lines (each + "\\n"), with mtime 0 and no file name: the same bytes every run."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        for line in lines:
            gz.write(line.encode("utf-8"))
            gz.write(b"\n")
    return buf.getvalue()


@dataclasses.dataclass(frozen=True)
class ShardLimit:
    """The size of one output file, as a mean over a name's shards (see the module docstring)."""

    documents: int = 100_000  # documents per shard file (mean); >= 1
    bytes: int = 1_000_000_000  # uncompressed JSON bytes per shard file (mean); 0 = no byte bound

    def __post_init__(self):
        if self.documents < 1 or self.bytes < 0:
            raise ValueError(
                f"shard limit: documents must be >= 1 and bytes >= 0, not {self.documents}, {self.bytes}"
            )

    def shards(self, documents: int, nbytes: int) -> int:
        """n for an output of `documents` documents and `nbytes` JSON bytes."""
        n = math.ceil(documents / self.documents)
        if self.bytes:
            n = max(n, math.ceil(nbytes / self.bytes))
        return max(1, n)


def shard_of(doc_id: str, n: int) -> int:
    """The shard (0..n-1) of a document: sha1 of its id, so the same on every run and worker."""
    if n <= 1:
        return 0
    return int.from_bytes(hashlib.sha1(doc_id.encode("utf-8")).digest()[:8], "big") % n


def shard_file(name: str, shard: int, n: int) -> str:
    return f"{name}-{shard:05d}-of-{n:05d}.jsonl.gz"


class FixedName:
    """Names every document's output `name` (one output, sharded by the writer). A class, not a
    closure, so Beam pickles it plainly."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, doc: Document) -> str:
        return self.name


class MetadataName:
    """Names a document's output by one of its metadata fields (a language, a site, a drop
    reason); `default` when the field is missing or empty (None: the field is required)."""

    def __init__(self, field: str, default: str | None = None):
        self.field = field
        self.default = default

    def __call__(self, doc: Document) -> str:
        if self.default is None:
            return doc.metadata[self.field]
        return doc.metadata.get(self.field) or self.default


class _SumPairs(beam.CombineFn):
    """(documents, bytes) summed: a bounded accumulator, lifted before the shuffle."""

    def create_accumulator(self):
        return (0, 0)

    def add_input(self, acc, value):
        return (acc[0] + value[0], acc[1] + value[1])

    def merge_accumulators(self, accs):
        docs = nbytes = 0
        for a, b in accs:
            docs += a
            nbytes += b
        return (docs, nbytes)

    def extract_output(self, acc):
        return acc


def _as_line(doc: Document, name_of) -> tuple[str, str, str]:
    return name_of(doc), doc.id, doc.to_json()


def _every_shard(kv, limit: ShardLimit):
    """((name, k, n), None) for every shard of a name: an empty shard is still written (as an empty
    gzip), so `-of-<n>` always names n files."""
    name, (docs, nbytes) = kv
    n = limit.shards(docs, nbytes)
    for k in range(n):
        yield (name, k, n), None


def _assign(e, counts, limit: ShardLimit):
    name, doc_id, line = e
    n = limit.shards(*counts[name])
    return (name, shard_of(doc_id, n), n), (doc_id, line)


class _WriteShard(beam.DoFn):
    """((name, shard, n), [(id, JSON line)]) -> the shard file; outputs its document count."""

    def __init__(self, directory: str):
        self.directory = directory

    def setup(self):
        self.size = GroupSize()

    def process(self, element):
        (name, shard, n), items = element
        items = sorted(i for i in items if i is not None)  # (id, line): whatever the bundles' order
        self.size.update(len(items), sum(len(line) for _, line in items))
        write_gzip_lines(f"{self.directory}/{shard_file(name, shard, n)}", (line for _, line in items))
        yield len(items)


class WriteDocs(beam.PTransform):
    """Write documents to `<directory>/<name>-<shard>-of-<n>.jsonl.gz` (name = `name_of(doc)`), each
    shard sorted by document id and bounded by `limit` (module docstring). Outputs the tally
    (("write", "kept", ""), n) per file, for the statistics.

    Shuffles: the (name, documents, bytes) count (combined: one small element per name and bundle)
    and the JSON lines once, keyed by (name, shard)."""

    def __init__(self, directory: str, name_of, label: str = "write", limit: ShardLimit | None = None):
        super().__init__()
        self.directory = directory
        self.name_of = name_of
        self.label_ = label
        self.limit = limit or ShardLimit()

    def expand(self, docs):
        lines = docs | "to_json" >> beam.Map(_as_line, name_of=self.name_of)
        counts = (
            lines
            | "size_of" >> beam.Map(lambda e: (e[0], (1, len(e[2].encode("utf-8")))))
            | "count_per_name" >> beam.CombinePerKey(_SumPairs())
        )
        assigned = lines | "assign_shard" >> beam.Map(_assign, beam.pvalue.AsDict(counts), limit=self.limit)
        every = counts | "every_shard" >> beam.FlatMap(_every_shard, limit=self.limit)
        written = (
            (assigned, every)
            | "with_empty_shards" >> beam.Flatten()
            | "group_by_shard" >> beam.GroupByKey()
            | "write_shards" >> beam.ParDo(_WriteShard(self.directory))
        )
        return written | "count_written" >> beam.Map(lambda n: (("write", "kept", ""), n))


def dropped_document(stage: str, d) -> Document:
    """A dropped document as written under dropped/: its metadata says which stage and why."""
    return d.doc.with_metadata(drop_stage=stage, drop_reason=d.reason, drop_detail=d.detail)


class WriteDropped(beam.PTransform):
    """Write (stage, Dropped) pairs to `<directory>/<reason>-<shard>-of-<n>.jsonl.gz`, sorted by id."""

    def __init__(self, directory: str, limit: ShardLimit | None = None):
        super().__init__()
        self.directory = directory
        self.limit = limit

    def expand(self, drops):
        docs = drops | "as_documents" >> beam.Map(lambda sd: dropped_document(*sd))
        return docs | "write_dropped" >> WriteDocs(
            self.directory, MetadataName("drop_reason"), limit=self.limit
        )
