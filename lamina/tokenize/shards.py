"""Filtered documents -> Megatron token shards per source, and the manifest that lists them.

Pure Python (no Beam): `lamina.pipelines.shards` runs the same functions on Beam; `write_shards`
here is the plain single-process reference the Beam path is tested against.

What goes into a shard, per document: [BOS] (only with `bos=True`) + the SentencePiece ids of the
document text + EOS. Text normalization (one rule, `prepare_text`): leading spaces (U+0020) are
removed. Why: SentencePiece's dummy prefix turns a leading " x" into `▁ ▁x`, while Hugging Face's
converted LlamaTokenizer gives `▁x` (docs/tokenizer.md); leading tabs, newlines and
other characters tokenize identically in both, so only spaces are stripped. After this, both
tokenizers give identical ids on every document we encode, and a model trained on our shards sees
the same ids at inference through transformers. Documents empty after this are dropped and
counted (`dropped.empty` in the manifest).

Shards: per source, per group -- one group per (document file, hash bucket): the corpus writes every
output as bounded files `<name>-<k>-of-<n>.jsonl.gz` (pipelines/writers.py), so a group holds at most
one document file's tokens (divided by `buckets`), never a whole source -- documents sorted by id
and packed into shards that close once they reach `shard_tokens` (documents are never split).
Group g = file index (in sorted name order) x buckets + bucket; names are `<source>_<nnnnn>` when a
source has one group, else `<source>_<ggg>_<nnnnn>`. Every shard is written under a temporary name
and renamed when complete; the manifest, written last, lists them all.
The same documents, tokenizer and config give byte-identical shards and manifest.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from lamina.documents import Document
from lamina.tokenize import mixture
from lamina.tokenize.indexed import IndexedWriter, token_dtype

MANIFEST = "manifest.json"
LEADING_WHITESPACE_RULE = (
    "leading_spaces_stripped"  # recorded in the manifest: how document text was normalized
)


@dataclasses.dataclass(frozen=True)
class ShardConfig:
    shard_tokens: int = 100_000_000  # target tokens per shard (~200 MB as uint16); a shard closes at >= this
    bos: bool = False  # put BOS before every document (EOS always ends one)
    buckets: int = 1  # hash buckets per document file (groups = files x buckets); 1 = one per file
    weights: Mapping[str, float] | None = None  # mixture weights; None = LLaMA Table 1


# ---------------------------------------------------------------------------------------------
# Reading a corpus run's documents


def list_sources(corpus: str | os.PathLike) -> list[str]:
    """Sources with documents under `<corpus>/docs/<source>/*.jsonl.gz`, in LLaMA's order."""
    docs = Path(corpus) / "docs"
    if not docs.is_dir():
        raise FileNotFoundError(f"{docs} not found: run `lamina corpus --out {corpus}` first")
    names = [p.name for p in docs.iterdir() if p.is_dir() and any(p.glob("*.jsonl.gz"))]
    if not names:
        raise FileNotFoundError(f"{docs} holds no <source>/*.jsonl.gz files")
    return mixture._ordered(names)


def document_files(corpus: str | os.PathLike, source: str) -> list[Path]:
    """The document files of `source`, in name order (their index numbers the shard groups)."""
    return sorted((Path(corpus) / "docs" / source).glob("*.jsonl.gz"))


def iter_file(path: Path) -> Iterator[Document]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                yield parse_line(line, f"{path}:{lineno}")


def parse_line(line: str | bytes, where: str) -> Document:
    """One JSON line -> Document, or a ValueError naming the file and line."""
    try:
        return Document.from_json(line)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"{where}: not a Document JSON line ({type(e).__name__}: {e}); the corpus file is corrupt"
        ) from None


def iter_documents(corpus: str | os.PathLike, source: str) -> Iterator[Document]:
    """Every kept document of `source`, files in name order, lines in file order."""
    for path in document_files(corpus, source):
        yield from iter_file(path)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Encoding


def prepare_text(text: str) -> str:
    """The one normalization before encoding: drop leading spaces (see the module docstring)."""
    return text.lstrip(" ")


class DocumentEncoder:
    """Text -> the token array stored in a shard. Loads SentencePiece on construction; build it in
    a Beam DoFn's `setup()`, not its constructor."""

    def __init__(self, model_path: str | os.PathLike, bos: bool = False, num_threads: int = 1):
        import sentencepiece as spm

        self.model_path = os.fspath(model_path)
        # one thread: Beam parallelizes over workers; SentencePiece's default (all cores) would
        # oversubscribe them
        self.sp = spm.SentencePieceProcessor(model_file=self.model_path, num_threads=num_threads)
        self.vocab_size = self.sp.get_piece_size()
        self.dtype = token_dtype(self.vocab_size)
        self.bos = bos
        self.bos_id, self.eos_id = self.sp.bos_id(), self.sp.eos_id()
        if self.eos_id < 0 or (bos and self.bos_id < 0):
            raise ValueError(
                f"{self.model_path}: the tokenizer has no EOS/BOS id (train it with `lamina tokenizer train`)"
            )

    def encode(self, texts: list[str]) -> list[np.ndarray | None]:
        """Token arrays ([BOS] ids EOS) for a batch of texts; None for a text empty after prepare."""
        prepared = [prepare_text(t) for t in texts]
        out: list[np.ndarray | None] = []
        head = 1 if self.bos else 0
        for text, ids in zip(prepared, self.sp.encode(prepared), strict=True):
            if not text:
                out.append(None)
                continue
            arr = np.empty(len(ids) + head + 1, dtype=self.dtype)
            if head:
                arr[0] = self.bos_id
            arr[head:-1] = ids
            arr[-1] = self.eos_id
            out.append(arr)
        return out


# ---------------------------------------------------------------------------------------------
# Writing


def bucket_of(doc_id: str, buckets: int) -> int:
    """Deterministic bucket of a document (stable across processes, unlike hash())."""
    if buckets <= 1:
        return 0
    return int.from_bytes(hashlib.sha1(doc_id.encode()).digest()[:8], "big") % buckets


def group_of(file_index: int, doc_id: str, buckets: int) -> int:
    """The shard group of a document: its file's index x buckets + its hash bucket."""
    return file_index * max(buckets, 1) + bucket_of(doc_id, buckets)


def shard_name(source: str, group: int, index: int, groups: int) -> str:
    return f"{source}_{index:05d}" if groups <= 1 else f"{source}_{group:03d}_{index:05d}"


def write_group(
    source: str,
    bucket: int,
    items: Iterable[tuple[str, np.ndarray]],
    out_dir: str | os.PathLike,
    config: ShardConfig,
    dtype: np.dtype,
    groups: int | None = None,
) -> list[dict]:
    """Write one (source, group)'s documents, sorted by id, as shards; return their records.
    `bucket` is the group number, `groups` the source's number of groups (default config.buckets).

    `items` are (document id, token array) in any order: sorting here makes the output
    independent of the order documents arrived in (Beam bundles, worker count).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(items, key=lambda t: t[0])
    if any(
        a[0] == b[0] for a, b in zip(ordered, ordered[1:], strict=False)
    ):  # duplicate ids: order them by content
        ordered.sort(key=lambda t: (t[0], t[1].tobytes()))
    records: list[dict] = []
    writer: IndexedWriter | None = None

    def finish() -> None:
        name = Path(writer.prefix).name
        writer.close()
        records.append(
            {
                "name": name,
                "source": source,
                "documents": len(writer),
                "tokens": writer.num_tokens,
                "bin_sha256": sha256_file(writer.prefix + ".bin"),
                "idx_sha256": sha256_file(writer.prefix + ".idx"),
            }
        )

    try:
        for _, tokens in ordered:
            if writer is None:
                name = shard_name(source, bucket, len(records), config.buckets if groups is None else groups)
                writer = IndexedWriter(out_dir / name, dtype)
            writer.add(tokens)
            if writer.num_tokens >= config.shard_tokens:
                finish()
                writer = None
        if writer is not None:
            finish()
            writer = None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return records


def build_manifest(
    records: Iterable[dict],
    dropped: Mapping[str, Mapping[str, int]],
    config: ShardConfig,
    tokenizer_path: str | os.PathLike,
    out_dir: str | os.PathLike,
) -> dict:
    """The manifest: every shard with its counts and checksums, per-source totals, the mixture
    (renormalized over the sources that have shards), the tokenizer's checksum."""
    import sentencepiece as spm

    records = sorted(records, key=lambda r: (_source_rank(r["source"]), r["name"]))
    sp = spm.SentencePieceProcessor(model_file=os.fspath(tokenizer_path))
    vocab = sp.get_piece_size()
    sources: dict[str, dict] = {}
    for s in mixture._ordered({r["source"] for r in records} | set(dropped)):
        rs = [r for r in records if r["source"] == s]
        sources[s] = {
            "documents": sum(r["documents"] for r in rs),
            "tokens": sum(r["tokens"] for r in rs),
            "shards": len(rs),
            "dropped": dict(sorted((dropped.get(s) or {}).items())),
        }
    with_data = [s for s, v in sources.items() if v["tokens"] > 0]
    configured = dict(mixture.LLAMA_WEIGHTS if config.weights is None else config.weights)
    return {
        "format": "megatron-indexed-dataset",
        "version": 1,
        "dtype": str(token_dtype(vocab)),
        "vocab_size": vocab,
        "bos_id": sp.bos_id(),
        "eos_id": sp.eos_id(),
        "bos": config.bos,
        "leading_whitespace": LEADING_WHITESPACE_RULE,
        "tokenizer": {
            "path": os.path.relpath(os.path.abspath(tokenizer_path), os.path.abspath(out_dir)),
            "sha256": sha256_file(tokenizer_path),
        },
        "shard_tokens": config.shard_tokens,
        "buckets": config.buckets,
        "mixture": {"weights": mixture.renormalize(with_data, configured), "configured": configured},
        "documents": sum(v["documents"] for v in sources.values()),
        "tokens": sum(v["tokens"] for v in sources.values()),
        "sources": sources,
        "shards": records,
    }


def write_manifest(manifest: dict, out_dir: str | os.PathLike) -> Path:
    path = Path(out_dir) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(
        json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    os.replace(tmp, path)
    return path


def load_manifest(path: str | os.PathLike) -> dict:
    """Read a manifest (a shards directory or the manifest.json path)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    return json.loads(path.read_text(encoding="utf-8"))


def _source_rank(source: str) -> tuple[int, str]:
    from lamina.documents import SOURCES

    return (SOURCES.index(source), "") if source in SOURCES else (len(SOURCES), source)


def write_shards(
    corpus: str | os.PathLike,
    tokenizer_path: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    config: ShardConfig = ShardConfig(),
    batch_size: int = 256,
) -> Path:
    """The single-process reference: every source of `<corpus>/docs` -> `<out_dir>` + manifest.

    Holds one group's token arrays in memory at a time (one document file's at most).
    """
    out_dir = Path(out_dir) if out_dir else Path(corpus) / "shards"
    encoder = DocumentEncoder(tokenizer_path, bos=config.bos)
    records: list[dict] = []
    dropped: dict[str, dict[str, int]] = {}
    for source in list_sources(corpus):
        files = document_files(corpus, source)
        n_groups = len(files) * max(config.buckets, 1)
        for index, path in enumerate(files):
            groups: dict[int, list[tuple[str, np.ndarray]]] = {}
            for batch in _batches(iter_file(path), batch_size):
                for doc, tokens in zip(batch, encoder.encode([d.text for d in batch]), strict=True):
                    if tokens is None:
                        counts = dropped.setdefault(source, {})
                        counts["empty"] = counts.get("empty", 0) + 1
                    else:
                        groups.setdefault(group_of(index, doc.id, config.buckets), []).append(
                            (doc.id, tokens)
                        )
            for g in sorted(groups):
                records += write_group(source, g, groups[g], out_dir, config, encoder.dtype, n_groups)
    write_manifest(build_manifest(records, dropped, config, tokenizer_path, out_dir), out_dir)
    return out_dir


def _batches(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
