"""The Megatron indexed dataset: our shards read by Megatron's own reader and vice versa, O(1)
access, and clear errors on truncated or foreign files."""

from __future__ import annotations

import gzip
import shutil
import warnings

import numpy as np
import pytest

from lamina.tokenize.indexed import IndexedWriter, ShardFormatError, TokenShard, token_dtype
from lamina.tokenize.shards import (
    DocumentEncoder,
    ShardConfig,
    document_files,
    iter_file,
    load_manifest,
    write_shards,
)


@pytest.fixture(scope="module")
def shards_dir(corpus_dir, tokenizer_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_shards(corpus_dir, tokenizer_model, out, ShardConfig(shard_tokens=15_000))
    return out


def megatron_reader():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDataset
    return IndexedDataset


def test_megatron_reads_our_shards_token_for_token(shards_dir, corpus_dir, tokenizer_model):
    IndexedDataset = megatron_reader()
    manifest = load_manifest(shards_dir)
    assert len(manifest["shards"]) > 3
    enc = DocumentEncoder(tokenizer_model)
    for source in ("wikipedia", "c4", "github"):
        # one shard group per document file, in file order, sorted by id inside
        docs = [
            d for f in document_files(corpus_dir, source) for d in sorted(iter_file(f), key=lambda d: d.id)
        ]
        expected = [t for t in enc.encode([d.text for d in docs]) if t is not None]
        got = []
        for rec in (r for r in manifest["shards"] if r["source"] == source):
            prefix = str(shards_dir / rec["name"])
            theirs, ours = IndexedDataset(prefix), TokenShard(prefix)
            assert len(theirs) == len(ours) == rec["documents"]
            assert theirs.sequence_lengths.sum() == ours.num_tokens == rec["tokens"]
            assert list(theirs.document_indices) == list(range(len(ours) + 1))
            for i in range(len(ours)):
                assert theirs[i].dtype == np.uint16
                np.testing.assert_array_equal(theirs[i], ours.doc(i))
                got.append(np.array(theirs[i]))  # a copy: Megatron closes its mmap in __del__
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)
            assert a[-1] == enc.eos_id  # EOS ends every document


def test_we_read_megatron_written_shards(tmp_path):
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 70000, size=n).astype(np.int32) for n in (5, 1, 17, 3)]
    b = IndexedDatasetBuilder(str(tmp_path / "m.bin"), dtype=np.int32)
    for d in docs:
        b.add_item(torch.from_numpy(d))
        b.end_document()
    b.finalize(str(tmp_path / "m.idx"))
    shard = TokenShard(tmp_path / "m.idx")  # the .idx path works as well as the prefix
    assert len(shard) == 4 and shard.dtype == np.int32 and shard.num_tokens == 26
    for i, d in enumerate(docs):
        np.testing.assert_array_equal(shard.doc(i), d)


def test_token_windows_cross_documents(shards_dir):
    shard = TokenShard(shards_dir / "wikipedia_000_00000")
    stream = np.concatenate([shard.doc(i) for i in range(len(shard))])
    assert stream.size == shard.num_tokens == shard.doc_offsets[-1]
    for a, b in [
        (0, 1),
        (3, 500),
        (shard.doc_offsets[2] - 4, shard.doc_offsets[3] + 4),
        (0, shard.num_tokens),
    ]:
        np.testing.assert_array_equal(shard.tokens(a, b), stream[a:b])
    np.testing.assert_array_equal(shard.doc(-1), stream[shard.doc_offsets[-2] :])
    with pytest.raises(IndexError):
        shard.doc(len(shard))
    with pytest.raises(IndexError):
        shard.tokens(0, shard.num_tokens + 1)


def test_dtype_rule_and_int32_writer(tmp_path):
    assert token_dtype(32000) == np.uint16 and token_dtype(65499) == np.uint16
    assert token_dtype(65500) == np.int32 and token_dtype(128256) == np.int32
    with IndexedWriter(tmp_path / "big", np.int32) as w:
        w.add(np.array([100000, 2], dtype=np.int32))
        w.add(np.array([7, 2], dtype=np.int32))
    theirs = megatron_reader()(str(tmp_path / "big"))  # keep it alive: it closes its mmap in __del__
    np.testing.assert_array_equal(theirs[0], [100000, 2])
    np.testing.assert_array_equal(TokenShard(tmp_path / "big").doc(1), [7, 2])
    assert not list(tmp_path.glob("*.tmp"))


def test_writer_failure_leaves_no_shard(tmp_path):
    with pytest.raises(RuntimeError), IndexedWriter(tmp_path / "x") as w:
        w.add(np.array([1, 2], dtype=np.uint16))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def _copy(shards_dir, tmp_path, name="wikipedia_000_00000"):
    for ext in (".bin", ".idx"):
        shutil.copy(shards_dir / f"{name}{ext}", tmp_path / f"s{ext}")
    return tmp_path / "s"


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda p: p.with_suffix(".idx").write_bytes(p.with_suffix(".idx").read_bytes()[:20]),
            "shorter than",
        ),
        (lambda p: p.with_suffix(".idx").write_bytes(p.with_suffix(".idx").read_bytes()[:-8]), "implies"),
        (lambda p: p.with_suffix(".bin").write_bytes(p.with_suffix(".bin").read_bytes()[:-2]), "truncated"),
        (lambda p: p.with_suffix(".idx").write_bytes(gzip.compress(bytes(range(256)) * 4)), "magic"),
        (
            lambda p: p.with_suffix(".idx").write_bytes(
                b"MMIDIDX\x00\x00" + (2).to_bytes(8, "little") + bytes(17)
            ),
            "version",
        ),
    ],
    ids=["truncated_header", "truncated_idx", "truncated_bin", "foreign_gzip", "wrong_version"],
)
def test_damaged_shards_fail_clearly(shards_dir, tmp_path, damage, message):
    prefix = _copy(shards_dir, tmp_path)
    damage(prefix)
    with pytest.raises(ShardFormatError, match=message) as e:
        TokenShard(prefix)
    assert str(tmp_path / "s") in str(e.value)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.idx"):
        TokenShard(tmp_path / "nothing")
