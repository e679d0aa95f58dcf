"""A small shard set from REAL text for the trainer tests: C4 pages and a Gutenberg book from
../shared/data, tokenized as bytes (256 bytes + EOS) so no tokenizer training is needed, written with
the tokenizer helper's Megatron writer, plus a manifest in the shards' format (checksums included).
Byte-level English is learnable fast: a tiny model's loss falls from ln(257) ~ 5.5 within tens of steps.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lamina.tokenize.indexed import IndexedWriter
from lamina.tokenize.shards import sha256_file, write_manifest

EOS = 256
# 256 bytes + EOS: 257 does not split evenly over a 2x2 (FSDP x TP) mesh, which init_weights must handle.
VOCAB = 257


def _docs(shared: Path) -> dict[str, list[bytes]]:
    with gzip.open(shared / "c4" / "c4-en-train.00000-of-01024.head.json.gz", "rt", encoding="utf-8") as f:
        c4 = [json.loads(line)["text"].encode() for _, line in zip(range(200), f, strict=False)]
    book = (shared / "books" / "12-0.txt").read_text(encoding="utf-8", errors="replace")
    books = [p.strip().encode() for p in book.split("\n\n") if len(p.strip()) > 200][:300]
    return {"c4": c4, "books": books}


def write_shard_set(shared: Path, out: Path, weights: dict[str, float] | None = None) -> Path:
    """Two shards per source (so windows straddle shard boundaries) and manifest.json in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    weights = weights or {"c4": 0.7, "books": 0.3}
    records, sources = [], {}
    for source, docs in _docs(shared).items():
        half = len(docs) // 2
        for i, part in enumerate((docs[:half], docs[half:])):
            name = f"{source}_{i:05d}"
            with IndexedWriter(out / name, np.uint16) as w:
                for d in part:
                    w.add(np.append(np.frombuffer(d, dtype=np.uint8).astype(np.uint16), EOS))
                n_docs, n_tok = len(w), w.num_tokens
            records.append(
                {
                    "name": name,
                    "source": source,
                    "documents": n_docs,
                    "tokens": n_tok,
                    "bin_sha256": sha256_file(out / f"{name}.bin"),
                    "idx_sha256": sha256_file(out / f"{name}.idx"),
                }
            )
        sources[source] = {
            "documents": sum(r["documents"] for r in records if r["source"] == source),
            "tokens": sum(r["tokens"] for r in records if r["source"] == source),
        }
    manifest = {
        "format": "megatron-indexed-dataset",
        "version": 1,
        "dtype": "uint16",
        "vocab_size": VOCAB,
        "eos_id": EOS,
        "bos_id": -1,
        "mixture": {"weights": weights},
        "sources": sources,
        "shards": records,
    }
    write_manifest(manifest, out)
    return out / "manifest.json"


@pytest.fixture(scope="session")
def shard_set(shared_data, tmp_path_factory) -> Path:
    """manifest.json of the byte-level shard set (read-only: copy it with `fresh_shards` to modify)."""
    return write_shard_set(shared_data, tmp_path_factory.mktemp("shards"))


@pytest.fixture
def fresh_shards(shard_set, tmp_path) -> Path:
    """A private copy of the shard set that a test may break; returns its manifest path."""
    dst = tmp_path / "shards"
    shutil.copytree(shard_set.parent, dst)
    return dst / "manifest.json"
