"""Shard writing: contents (EOS/BOS, order, normalization, drops), target sizes, the manifest,
byte-identical output on a rerun, and the Beam transform equal to the plain reference."""

from __future__ import annotations

import gzip
import json
import warnings

import numpy as np
import pytest
import sentencepiece as spm

from lamina.documents import Document
from lamina.tokenize.indexed import TokenShard
from lamina.tokenize.shards import (
    ShardConfig,
    document_files,
    iter_file,
    load_manifest,
    prepare_text,
    sha256_file,
    write_shards,
)

FNAPI = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"


def quiet_write(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_shards(*args, **kwargs)


def files(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@pytest.fixture(scope="module")
def reference(corpus_dir, tokenizer_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    quiet_write(corpus_dir, tokenizer_model, out, ShardConfig(shard_tokens=12_000))
    return out


def test_documents_sorted_by_id_with_eos_and_stripped_leading_spaces(reference, corpus_dir, tokenizer_model):
    """Wikipedia has two document files: one shard group each, in file order, sorted by id inside."""
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model))
    m = load_manifest(reference)
    files = document_files(corpus_dir, "wikipedia")
    assert len(files) == 2
    docs = [
        d
        for path in files
        for d in sorted((d for d in iter_file(path) if prepare_text(d.text)), key=lambda d: d.id)
    ]
    stored = [
        TokenShard(reference / r["name"]).doc(i)
        for r in m["shards"]
        if r["source"] == "wikipedia"
        for i in range(r["documents"])
    ]
    assert len(stored) == len(docs)
    for doc, tokens in zip(docs, stored, strict=True):
        assert tokens[-1] == sp.eos_id() and sp.eos_id() not in tokens[:-1] and sp.bos_id() not in tokens
        assert sp.decode(tokens[:-1].tolist()) == doc.text.lstrip(" ")
    assert "   leading spaces are stripped before encoding" in [d.text for d in docs]
    assert m["sources"]["wikipedia"]["dropped"] == {"empty": 1}  # the all-spaces document
    assert m["sources"]["wikipedia"]["documents"] == len(docs)


def test_shards_close_at_the_target_size(reference):
    """One shard series per document file (group): `<source>_<nnnnn>` for a source of one file,
    `<source>_<ggg>_<nnnnn>` for wikipedia's two; each series closes its shards at the target."""
    m = load_manifest(reference)
    for source, prefixes in (
        ("wikipedia", ["wikipedia_000", "wikipedia_001"]),
        ("c4", ["c4"]),
        ("github", ["github"]),
    ):
        names = [r["name"] for r in m["shards"] if r["source"] == source]
        assert sorted({n.rsplit("_", 1)[0] for n in names}) == prefixes
        for prefix in prefixes:
            recs = [r for r in m["shards"] if r["name"].rsplit("_", 1)[0] == prefix]
            assert [r["name"] for r in recs] == [f"{prefix}_{i:05d}" for i in range(len(recs))]
            for r in recs[:-1]:  # every shard but the last reaches the target; one document less would not
                shard = TokenShard(reference / r["name"])
                assert shard.num_tokens >= 12_000 > shard.num_tokens - shard.doc(-1).size
            assert recs[-1]["tokens"] > 0
    assert len([r for r in m["shards"] if r["source"] == "wikipedia"]) >= 3


def test_manifest_lists_every_shard_with_checksums_and_mixture(reference, tokenizer_model):
    m = load_manifest(reference)
    on_disk = sorted(p.stem for p in reference.glob("*.bin"))
    assert sorted(r["name"] for r in m["shards"]) == on_disk
    assert sorted(p.stem for p in reference.glob("*.idx")) == on_disk and not list(reference.glob("*.tmp"))
    for r in m["shards"]:
        assert r["bin_sha256"] == sha256_file(reference / f"{r['name']}.bin")
        assert r["idx_sha256"] == sha256_file(reference / f"{r['name']}.idx")
        shard = TokenShard(reference / r["name"])
        assert (len(shard), shard.num_tokens) == (r["documents"], r["tokens"])
    assert m["tokens"] == sum(r["tokens"] for r in m["shards"])
    assert m["tokenizer"]["sha256"] == sha256_file(tokenizer_model)
    assert (reference / m["tokenizer"]["path"]).resolve() == tokenizer_model.resolve()  # relative path
    w = m["mixture"]["weights"]
    assert list(w) == ["c4", "github", "wikipedia"] and abs(sum(w.values()) - 1) < 1e-12
    assert w["c4"] == pytest.approx(0.15 / 0.24) and w["github"] == pytest.approx(0.045 / 0.24)
    assert (m["dtype"], m["vocab_size"], m["eos_id"], m["bos"]) == ("uint16", 1200, 2, False)
    assert m["leading_whitespace"] == "leading_spaces_stripped"


def test_same_input_twice_gives_byte_identical_shards(reference, corpus_dir, tokenizer_model, tmp_path):
    quiet_write(corpus_dir, tokenizer_model, tmp_path, ShardConfig(shard_tokens=12_000))
    assert files(tmp_path) == files(reference)


def test_bos_option_and_buckets(corpus_dir, tokenizer_model, tmp_path):
    quiet_write(corpus_dir, tokenizer_model, tmp_path, ShardConfig(shard_tokens=10**9, bos=True, buckets=3))
    m = load_manifest(tmp_path)
    assert m["bos"] is True and m["buckets"] == 3
    assert {r["name"] for r in m["shards"] if r["source"] == "c4"} == {f"c4_{b:03d}_00000" for b in range(3)}
    for r in m["shards"]:
        shard = TokenShard(tmp_path / r["name"])
        for i in range(len(shard)):
            d = shard.doc(i)
            assert d[0] == 1 and d[-1] == 2 and 1 not in d[1:-1]


def test_corrupt_document_line_names_file_and_line(tmp_path, tokenizer_model):
    d = tmp_path / "docs" / "books"
    d.mkdir(parents=True)
    with gzip.open(d / "x.jsonl.gz", "wt") as f:
        f.write(Document("books/1", "books", "fine").to_json() + "\n")
        f.write('{"id": "books/2", "text": truncated\n')
    with pytest.raises(ValueError, match=r"x.jsonl.gz:2: not a Document JSON line"):
        quiet_write(tmp_path, tokenizer_model, tmp_path / "shards")
    assert not (tmp_path / "shards" / "manifest.json").exists()


def test_beam_pipeline_equals_the_reference(reference, corpus_dir, tokenizer_model, tmp_path):
    """Real Beam (FnApiRunner), the shard path the CLI runs: byte-identical to the plain writer."""
    from lamina.tokenize.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(
            [
                "shards",
                "--corpus",
                str(corpus_dir),
                "--tokenizer",
                str(tokenizer_model),
                "--out",
                str(tmp_path),
                "--shard-tokens",
                "12000",
                "--runner",
                FNAPI,
                "--direct_num_workers=2",
            ]
        )
    assert rc == 0
    assert files(tmp_path) == files(reference)
    assert json.loads((tmp_path / "manifest.json").read_text())["sources"]["wikipedia"]["dropped"] == {
        "empty": 1
    }


def test_reader_arrays_are_views_not_copies(reference):
    shard = TokenShard(reference / "c4_00000")
    assert isinstance(shard.doc(0), np.ndarray) and not shard.doc(0).flags.writeable
