"""Megatron's indexed dataset (`.bin` + `.idx`): our writer and a memory-mapped reader.

The format is Megatron-LM's (`megatron.core.datasets.indexed_dataset`), so Megatron-LM, NeMo and
GPT-NeoX read our shards as they are. Layout (Megatron-LM's MMapIndexedDataset), little-endian, no padding:

    .bin   the token arrays of all sequences, concatenated, no header
    .idx   9 bytes b"MMIDIDX\\x00\\x00" | u64 version (1) | u8 dtype code | u64 N sequences |
           u64 D document indices | int32[N] sequence lengths | int64[N] byte offsets into .bin |
           int64[D] document indices (sequence index where each document starts; 0 first, N last)

We write one sequence per document (so D = N + 1), each ending with EOS. The reader accepts any
Megatron text dataset (several sequences per document too) and checks the header against the file
sizes before mapping anything, so a truncated copy or a foreign file fails with a clear error
instead of returning garbage tokens to a training run.

Reader API (what the pretraining data loader uses)::

    shard = TokenShard("out/corpus/shards/c4_00000")   # prefix, or the .bin/.idx path
    len(shard)                # documents
    shard.num_tokens          # tokens in the shard
    shard.doc(i)              # np.ndarray of document i's tokens (a read-only view), O(1)
    shard.tokens(a, b)        # tokens [a, b) of the shard's token stream, across documents, O(1)
    shard.doc_offsets         # int64[len + 1]: token offset where each document starts
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER = struct.Struct("<9sQBQQ")  # magic, version, dtype code, sequence count, document count

# Megatron's DType codes.
DTYPE_CODES: dict[int, np.dtype] = {
    1: np.dtype(np.uint8),
    2: np.dtype(np.int8),
    3: np.dtype(np.int16),
    4: np.dtype(np.int32),
    5: np.dtype(np.int64),
    6: np.dtype(np.float64),
    7: np.dtype(np.float32),
    8: np.dtype(np.uint16),
}
CODE_OF_DTYPE = {v: k for k, v in DTYPE_CODES.items()}


class ShardFormatError(ValueError):
    """A .bin/.idx pair that is not a valid Megatron indexed dataset (truncated, foreign, corrupt)."""


def token_dtype(vocab_size: int) -> np.dtype:
    """Megatron's rule (`DType.optimal_dtype`): uint16 below 65,500 tokens, else int32."""
    return np.dtype(np.uint16) if vocab_size < 65500 else np.dtype(np.int32)


def _prefix(path: str | os.PathLike) -> str:
    p = os.fspath(path)
    return p[:-4] if p.endswith((".bin", ".idx")) else p


class IndexedWriter:
    """Writes one shard: `add(tokens)` per document, then `close()`.

    Both files are written under `<name>.tmp` names and renamed into place only by `close()`
    (`.bin` first, then `.idx`), so a crashed or retried writer never leaves a shard that looks
    complete. Use as a context manager: an exception removes the temporary files.
    """

    def __init__(self, prefix: str | os.PathLike, dtype: np.dtype | type = np.uint16):
        self.prefix = _prefix(prefix)
        self.dtype = np.dtype(dtype)
        if self.dtype not in CODE_OF_DTYPE:
            raise ValueError(
                f"dtype {self.dtype} has no Megatron code (use one of {sorted(map(str, CODE_OF_DTYPE))})"
            )
        self._bin_tmp = self.prefix + ".bin.tmp"
        self._idx_tmp = self.prefix + ".idx.tmp"
        self._bin = open(self._bin_tmp, "wb")  # noqa: SIM115 (closed by close/abort)
        self._lengths: list[int] = []
        self.num_tokens = 0

    def add(self, tokens: np.ndarray) -> None:
        """Append one document (its tokens already in the shard's dtype, EOS included)."""
        arr = np.asarray(tokens)
        if arr.dtype != self.dtype:
            arr = arr.astype(self.dtype)
        self._bin.write(arr.tobytes())
        self._lengths.append(arr.size)
        self.num_tokens += arr.size

    def __len__(self) -> int:
        return len(self._lengths)

    def close(self) -> None:
        """Write the index and move both files to their final names."""
        self._bin.close()
        n = len(self._lengths)
        lengths = np.asarray(self._lengths, dtype=np.int32)
        pointers = np.zeros(n, dtype=np.int64)
        if n:
            np.cumsum(lengths[:-1].astype(np.int64) * self.dtype.itemsize, out=pointers[1:])
        doc_idx = np.arange(n + 1, dtype=np.int64)
        with open(self._idx_tmp, "wb") as f:
            f.write(HEADER.pack(MAGIC, VERSION, CODE_OF_DTYPE[self.dtype], n, n + 1))
            f.write(lengths.tobytes())
            f.write(pointers.tobytes())
            f.write(doc_idx.tobytes())
        os.replace(self._bin_tmp, self.prefix + ".bin")
        os.replace(self._idx_tmp, self.prefix + ".idx")

    def abort(self) -> None:
        self._bin.close()
        for p in (self._bin_tmp, self._idx_tmp):
            if os.path.exists(p):
                os.remove(p)

    def __enter__(self) -> IndexedWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class TokenShard:
    """A memory-mapped Megatron shard: documents and token windows in O(1).

    Opening validates the header and that the index agrees with both file sizes and with itself
    (contiguous sequences, document indices 0..N non-decreasing); any mismatch raises
    `ShardFormatError` naming the file and what is wrong.
    """

    def __init__(self, prefix: str | os.PathLike):
        self.prefix = _prefix(prefix)
        idx_path, bin_path = Path(self.prefix + ".idx"), Path(self.prefix + ".bin")
        for p in (idx_path, bin_path):
            if not p.is_file():
                raise FileNotFoundError(
                    f"shard file {p} not found (a shard is a .bin and an .idx with the same prefix)"
                )
        idx_size = idx_path.stat().st_size

        def bad(what: str) -> ShardFormatError:
            return ShardFormatError(
                f"{idx_path}: {what}; not a valid Megatron indexed dataset (rewrite the shard)"
            )

        if idx_size < HEADER.size:
            raise bad(f"file is {idx_size} bytes, shorter than the {HEADER.size}-byte header (truncated?)")
        with open(idx_path, "rb") as f:
            magic, version, code, n, d = HEADER.unpack(f.read(HEADER.size))
        if magic != MAGIC:
            raise bad(f"starts with {magic!r}, expected the magic {MAGIC!r} (foreign file?)")
        if version != VERSION:
            raise bad(f"version {version}, only version {VERSION} is known")
        if code not in DTYPE_CODES:
            raise bad(f"unknown dtype code {code}")
        self.dtype = DTYPE_CODES[code]
        expected = HEADER.size + 4 * n + 8 * n + 8 * d
        if idx_size != expected:
            extra = (
                " (a multimodal index with per-sequence modes is not supported)"
                if idx_size == expected + n
                else ""
            )
            raise bad(f"file is {idx_size} bytes, the header (N={n}, D={d}) implies {expected}{extra}")
        idx = np.memmap(idx_path, dtype=np.uint8, mode="r")
        o = HEADER.size
        self.sequence_lengths = idx[o : o + 4 * n].view(np.int32)
        o += 4 * n
        self.sequence_pointers = idx[o : o + 8 * n].view(np.int64)
        o += 8 * n
        self.document_indices = idx[o : o + 8 * d].view(np.int64)

        if d < 1 or self.document_indices[0] != 0 or self.document_indices[-1] != n:
            raise bad(f"document indices must run from 0 to N={n}")
        if np.any(np.diff(self.document_indices) < 0):
            raise bad("document indices decrease")
        if np.any(self.sequence_lengths < 0):
            raise bad("negative sequence length")
        # token offset where each sequence starts; sequences must lie back to back in .bin
        seq_starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(self.sequence_lengths, out=seq_starts[1:])
        if not np.array_equal(self.sequence_pointers, seq_starts[:-1] * self.dtype.itemsize):
            raise bad("sequence byte offsets do not follow the sequence lengths")
        self.num_tokens = int(seq_starts[-1])
        bin_size = bin_path.stat().st_size
        if bin_size != self.num_tokens * self.dtype.itemsize:
            raise ShardFormatError(
                f"{bin_path}: {bin_size} bytes, the index says {self.num_tokens} tokens of {self.dtype} "
                f"= {self.num_tokens * self.dtype.itemsize} bytes (truncated or from another shard?)"
            )
        self.doc_offsets = seq_starts[self.document_indices]  # int64[len + 1]
        if self.num_tokens:
            self._data = np.memmap(bin_path, dtype=self.dtype, mode="r")
        else:
            self._data = np.empty(0, dtype=self.dtype)

    def __len__(self) -> int:
        """Number of documents."""
        return len(self.doc_offsets) - 1

    def doc(self, i: int) -> np.ndarray:
        """Tokens of document `i` (negative indices count from the end), a read-only view."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"document {i} out of range for {self.prefix} with {n} documents")
        i %= n
        return self._data[self.doc_offsets[i] : self.doc_offsets[i + 1]]

    def tokens(self, start: int, stop: int) -> np.ndarray:
        """Tokens [start, stop) of the shard's whole token stream (documents back to back)."""
        if not 0 <= start <= stop <= self.num_tokens:
            raise IndexError(
                f"token window [{start}, {stop}) outside [0, {self.num_tokens}] of {self.prefix}"
            )
        return self._data[start:stop]

    def __repr__(self) -> str:
        return f"TokenShard({self.prefix!r}, documents={len(self)}, tokens={self.num_tokens}, dtype={self.dtype})"
