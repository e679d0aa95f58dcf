"""Beam: filtered documents -> Megatron token shards + manifest (`lamina tokenizer shards`).

    Read/<source> (every document file, in parallel) -> Encode (SentencePiece, loaded in setup)
      -> key (source, group) -> GroupByKey -> WriteShards (sort by id, pack, write-then-rename)
      -> WriteManifest

A group is one document file x hash bucket (`lamina.tokenize.shards.group_of`): the corpus writes
bounded document files (`<name>-<k>-of-<n>.jsonl.gz`), so a worker holds at most one file's token
arrays, and a source of any size is written by as many workers as it has files. Encoding, the
expensive part, runs in parallel on every worker. Determinism regardless of bundle order and worker
count: each group is sorted by document id before it is written (`write_group`), shard names depend
only on that order, and the manifest sorts its records. The output equals
`lamina.tokenize.shards.write_shards` (the plain single-process reference) byte for byte, which a
test checks. Each WriteShards call emits the `lamina.scale` group_elements / group_bytes
Distributions (documents and token bytes of its group).

The shards directory must be a filesystem every worker can write (local, NFS, a GCS FUSE mount):
shards are written with plain file I/O so that the rename is atomic.
"""

from __future__ import annotations

import os

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from lamina.tokenize import shards as S


@beam.typehints.with_output_types(tuple[tuple[str, int], tuple[str, bytes]])
class EncodeDocuments(beam.DoFn):
    """(source, (file, JSON line)) -> ((source, group), (doc id, token bytes)); drops to a tagged
    output. `file_index`: {source: {file base name: index}} (the groups' numbering)."""

    DROPPED = "dropped"

    def __init__(self, tokenizer_path: str, bos: bool, buckets: int, file_index: dict[str, dict[str, int]]):
        # paths and settings only; the model loads in setup()
        self.tokenizer_path, self.bos, self.buckets = tokenizer_path, bos, buckets
        self.file_index = file_index

    def setup(self) -> None:
        self.encoder = S.DocumentEncoder(self.tokenizer_path, bos=self.bos)
        self.documents = Metrics.counter("shards", "documents")
        self.tokens = Metrics.counter("shards", "tokens")
        self.empty = Metrics.counter("shards", "dropped_empty")

    def process(self, element):
        source, (filename, line) = element
        if not line.strip():
            return
        doc = S.parse_line(line, f"{filename} (record starting {line[:80]!r})")
        (tokens,) = self.encoder.encode([doc.text])
        if tokens is None:
            self.empty.inc()
            yield beam.pvalue.TaggedOutput(self.DROPPED, (source, "empty"))
            return
        self.documents.inc()
        self.tokens.inc(tokens.size)
        index = self.file_index[source][os.path.basename(filename)]
        yield (source, S.group_of(index, doc.id, self.buckets)), (doc.id, tokens.tobytes())


class WriteShards(beam.DoFn):
    """((source, group), [(id, token bytes)]) -> one record per shard written."""

    def __init__(self, out_dir: str, config: S.ShardConfig, dtype: str, groups: dict[str, int]):
        self.out_dir, self.config, self.dtype, self.groups = out_dir, config, dtype, groups

    def setup(self):
        from lamina.pipelines.writers import GroupSize

        self.size = GroupSize()

    def process(self, element):
        (source, group), items = element
        dtype = np.dtype(self.dtype)
        items = list(items)  # one document file's tokens at most: write_group sorts them anyway
        self.size.update(len(items), sum(len(b) for _, b in items))
        arrays = ((doc_id, np.frombuffer(b, dtype=dtype)) for doc_id, b in items)
        yield from S.write_group(source, group, arrays, self.out_dir, self.config, dtype, self.groups[source])


class TokenizeToShards(beam.PTransform):
    """Documents of every source -> shards under `out_dir` and `out_dir/manifest.json`.

    Input: a PCollection of (source, (filename, JSON line)). Output: the shard records.
    `files`: {source: [document file base names, in order]} (they number the groups).
    """

    def __init__(self, tokenizer_path: str, out_dir: str, config: S.ShardConfig, files: dict[str, list[str]]):
        super().__init__()
        self.tokenizer_path, self.out_dir, self.config = os.fspath(tokenizer_path), os.fspath(out_dir), config
        self.file_index = {s: {name: i for i, name in enumerate(names)} for s, names in files.items()}
        self.groups = {s: len(names) * max(config.buckets, 1) for s, names in files.items()}

    def expand(self, lines):
        dtype = str(S.DocumentEncoder(self.tokenizer_path).dtype)  # read once at construction time
        encoded = lines | "Encode" >> beam.ParDo(
            EncodeDocuments(self.tokenizer_path, self.config.bos, self.config.buckets, self.file_index)
        ).with_outputs(EncodeDocuments.DROPPED, main="tokens")
        records = (
            encoded.tokens
            | "GroupBySourceBucket" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(WriteShards(self.out_dir, self.config, dtype, self.groups))
        )
        dropped = encoded[EncodeDocuments.DROPPED] | "CountDropped" >> beam.combiners.Count.PerElement()
        _ = (
            records
            | "AllRecords" >> beam.combiners.ToList()
            | "WriteManifest"
            >> beam.Map(
                _write_manifest, beam.pvalue.AsList(dropped), self.config, self.tokenizer_path, self.out_dir
            )
        )
        return records


def _write_manifest(records, dropped, config, tokenizer_path, out_dir) -> str:
    by_source: dict[str, dict[str, int]] = {}
    for (source, reason), n in dropped:
        by_source.setdefault(source, {})[reason] = n
    manifest = S.build_manifest(records, by_source, config, tokenizer_path, out_dir)
    return str(S.write_manifest(manifest, out_dir))


def build(pipeline: beam.Pipeline, corpus: str, tokenizer_path: str, out_dir: str, config: S.ShardConfig):
    """Add the read + tokenize + write steps for every source of `<corpus>/docs` to `pipeline`."""
    per_source, files = [], {}
    for source in S.list_sources(corpus):
        files[source] = [p.name for p in S.document_files(corpus, source)]
        pattern = os.path.join(os.fspath(corpus), "docs", source, "*.jsonl.gz")
        per_source.append(
            pipeline
            | f"Read/{source}" >> beam.io.ReadFromTextWithFilename(pattern)
            | f"Key/{source}" >> beam.Map(lambda fl, s=source: (s, fl))
        )
    return (
        per_source
        | "Flatten" >> beam.Flatten()
        | "Tokenize" >> TokenizeToShards(tokenizer_path, out_dir, config, files)
    )


def run(
    corpus: str,
    tokenizer_path: str,
    out_dir: str,
    config: S.ShardConfig | None = None,
    pipeline_args: list[str] | None = None,
    test_pipeline: beam.Pipeline | None = None,
) -> str:
    """Run the shard pipeline; returns the manifest path."""
    from apache_beam.options.pipeline_options import PipelineOptions

    config = config or S.ShardConfig()
    os.makedirs(out_dir, exist_ok=True)
    if test_pipeline is not None:
        build(test_pipeline, corpus, tokenizer_path, out_dir, config)
        test_pipeline.run().wait_until_finish()
    else:
        with beam.Pipeline(options=PipelineOptions(pipeline_args or [])) as p:
            build(p, corpus, tokenizer_path, out_dir, config)
    return os.path.join(out_dir, S.MANIFEST)
