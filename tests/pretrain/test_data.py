"""The loader: windows packed across documents, mixture sampling, rank slices independent of the
layout, determinism, state round trip, held-out split; and the checks at start that name the file."""

import json
from collections import Counter

import numpy as np
import pytest
import torch

from lamina.pretrain.data import DataError, DataLoader, open_corpus
from tests.pretrain.conftest import EOS


def loader(manifest, **kw):
    args = dict(seq_len=64, micro_batch=2, grad_accum=2, dp_rank=0, dp_size=1, seed=0, heldout_tokens=4096)
    args.update(kw)
    return DataLoader(open_corpus(manifest), **args)


def test_windows_are_consecutive_stream_tokens_packed_across_documents(shard_set):
    corpus = open_corpus(shard_set)
    stream = corpus.streams["books"]
    assert stream.num_tokens == sum(s.num_tokens for s in stream.shards)
    # a window straddling the boundary between the two books shards equals the concatenated documents
    edge = int(stream.starts[1])
    both = np.concatenate([stream.shards[0].tokens(edge - 10, edge), stream.shards[1].tokens(0, 10)])
    assert np.array_equal(stream.tokens(edge - 10, edge + 10), both)
    dl = loader(shard_set)
    w0, w1 = dl._window("books", 0), dl._window("books", 1)
    assert len(w0) == 65 and w0[-1] == w1[0]  # seq_len + 1, next window starts at the last target
    batch = dl.next_batch()
    assert batch.shape == (2, 2, 65) and batch.dtype == torch.int64
    assert int(batch.max()) <= EOS
    # packed across documents: the window holding document 0's EOS goes on into document 1
    end0 = int(stream.shards[0].doc_offsets[1])  # first token of document 1
    w = dl._window("books", (end0 - 1) // 64)
    k = (end0 - 1) % 64
    assert w[k] == EOS and k + 1 < len(w) and w[k + 1] == stream.shards[0].doc(1)[0]


def test_same_seed_same_batches_other_seed_differs(shard_set):
    a, b, c = loader(shard_set), loader(shard_set), loader(shard_set, seed=1)
    xs = [a.next_batch() for _ in range(3)]
    assert all(torch.equal(x, b.next_batch()) for x in xs)
    assert not all(torch.equal(x, c.next_batch()) for x in xs)


def test_rank_slices_cover_the_single_process_batch(shard_set):
    # one process, 2 accumulation micro-steps of 2 rows == two dp ranks, 1 micro-step of 2 rows each
    single = loader(shard_set, micro_batch=2, grad_accum=2)
    ranks = [loader(shard_set, micro_batch=2, grad_accum=1, dp_rank=r, dp_size=2) for r in range(2)]
    for _ in range(3):
        ref = single.next_batch().reshape(-1, 65)
        got = torch.cat([dl.next_batch().reshape(-1, 65) for dl in ranks])
        assert torch.equal(ref, got)
        assert not torch.equal(got[:2], got[2:])  # ranks read different data


def test_sources_are_sampled_by_the_mixture_weights(shard_set):
    dl = loader(shard_set, micro_batch=8, grad_accum=4, heldout_tokens=0)
    for _ in range(40):
        dl.next_batch()
    draws = dl.positions["c4"] + dl.train_samples["c4"] * dl.epochs["c4"]
    draws_b = dl.positions["books"] + dl.train_samples["books"] * dl.epochs["books"]
    share = draws / (draws + draws_b)
    assert draws + draws_b == 40 * 32
    assert abs(share - 0.7) < 0.05, share  # 1280 draws: 3 standard deviations ~ 0.04


def test_small_source_wraps_into_a_new_epoch(shard_set):
    dl = loader(shard_set, seq_len=128, micro_batch=16, grad_accum=4, heldout_tokens=0)
    n = dl.train_samples["books"]
    for _ in range(int(2 * n / (64 * 0.3)) + 5):
        dl.next_batch()
    assert dl.epochs["books"] >= 1 and 0 <= dl.positions["books"] < n


def test_state_round_trip_continues_identically(shard_set):
    a = loader(shard_set)
    for _ in range(5):
        a.next_batch()
    state = json.loads(json.dumps(a.state_dict()))
    b = loader(shard_set)
    b.load_state_dict(state)
    for _ in range(5):
        assert torch.equal(a.next_batch(), b.next_batch())
    with pytest.raises(DataError, match="seq_len"):
        loader(shard_set, seq_len=32).load_state_dict(state)


def test_heldout_windows_lie_after_the_training_region(shard_set):
    dl = loader(shard_set, heldout_tokens=4096)
    for source in dl.sources:
        train = dl.train_tokens[source]
        assert dl.corpus.streams[source].num_tokens - train == 4096
        assert (dl.train_samples[source] * 64 + 1) <= train  # last training window ends before it
        batches = dl.heldout_batches(source, 6)
        assert len(batches) == 3 and batches[0][0].shape == (2, 65) and all(m.all() for _, m in batches)
        first = dl.corpus.streams[source].tokens(train, train + 65)
        assert np.array_equal(batches[0][0][0].numpy(), first)
        again = dl.heldout_batches(source, 6)
        assert all(torch.equal(x[0], y[0]) for x, y in zip(batches, again, strict=True))


def unmasked(batches) -> torch.Tensor:
    return torch.cat([tokens[mask] for tokens, mask in batches])


@pytest.mark.parametrize("dp", [2, 4, 8])
def test_heldout_set_is_the_same_for_any_dp_padded_and_masked(shard_set, dp):
    """5 windows, micro-batch 2: before, dp 2 evaluated 4 windows and dp 4 or 8 none at all. Now every
    layout evaluates exactly the 5 windows of one process, each once; every rank runs the same number
    of micro-batches (FSDP needs that), the padding masked out."""
    single = unmasked(loader(shard_set).heldout_batches("c4", 5))
    assert len(single) == 5
    ranks = [loader(shard_set, dp_rank=r, dp_size=dp).heldout_batches("c4", 5) for r in range(dp)]
    assert len({len(b) for b in ranks}) == 1  # equal micro-batch counts on every rank
    assert len(ranks[0]) == -(-5 // (dp * 2))
    got = {r: unmasked(b) for r, b in enumerate(ranks)}
    order = sorted((r + dp * j, r, j) for r in range(dp) for j in range(len(got[r])))  # window r + dp j
    assert [w for w, _, _ in order] == [0, 1, 2, 3, 4]
    assert torch.equal(torch.stack([got[r][j] for _, r, j in order]), single)


def test_empty_heldout_slice_is_a_one_line_error_and_zero_turns_validation_off(shard_set):
    with pytest.raises(
        DataError, match=r"held-out slice \(60 tokens.*cannot hold one validation window of 65"
    ):
        loader(shard_set, heldout_tokens=60)
    assert loader(shard_set, heldout_tokens=0).heldout_batches("c4", 8) == []


def test_a_source_whose_tenth_is_below_one_window_still_gets_one(shard_set):
    dl = loader(shard_set, seq_len=20_000, heldout_tokens=10**6)
    books = dl.corpus.streams["books"].num_tokens
    assert books // 10 < 20_001 and dl.train_tokens["books"] == books - 20_001
    assert dl.heldout_samples["books"] == 1 and len(dl.heldout_batches("books", 8)) == 1
    c4 = dl.corpus.streams["c4"].num_tokens  # a larger source keeps its tenth
    assert dl.train_tokens["c4"] == c4 - c4 // 10


def test_state_has_no_layout_dp4_resumes_at_dp2_with_the_same_global_samples(shard_set):
    """The data half of elastic resume: a dp=4 state continues at dp=2 (twice the accumulation) with
    the samples the dp=4 run would have drawn, and every dp=2 rank reads its own slice of them."""
    a = loader(shard_set, micro_batch=1, grad_accum=1, dp_size=4)
    for _ in range(3):
        a.next_batch()
    state = a.state_dict()
    ref = []
    for _ in range(3):
        a.next_batch()
        ref.append(a.last_samples)
    b = [loader(shard_set, micro_batch=1, grad_accum=2, dp_size=2, dp_rank=r) for r in (0, 1)]
    for x in b:
        x.load_state_dict(state)
    for want in ref:
        batches = [x.next_batch() for x in b]  # (2 accum, 1 row, 65) per rank
        assert b[0].last_samples == b[1].last_samples == want
        whole = loader(shard_set, micro_batch=1, grad_accum=2, dp_size=2)
        for accum in range(2):  # slot order (micro-step, dp rank, row): rank r holds slot 2 accum + r
            for r in (0, 1):
                source, _, window = want[2 * accum + r].split(":")
                assert np.array_equal(batches[r][accum, 0].numpy(), whole._window(source, int(window)))


def reweigh(manifest, weights: dict) -> None:
    m = json.loads(manifest.read_text())
    m["mixture"]["weights"] = weights
    manifest.write_text(json.dumps(m))


def test_mixture_change_at_resume_continues_each_source_without_repeats(shard_set, fresh_shards):
    """0.7/0.3 -> 0.1/0.9 -> books only -> back: every source goes on from its own position under the
    new weights (a source at weight 0 keeps its place), so no sample id comes twice."""
    a = loader(shard_set)
    seen = []

    def draw(dl, steps):
        for _ in range(steps):
            dl.next_batch()
            seen.extend(dl.last_samples)

    draw(a, 10)
    state, plan = a.state_dict(), [({"c4": 0.1, "books": 0.9}, 10), ({"c4": 0.0, "books": 1.0}, 5)]
    for weights, steps in plan + [({"c4": 0.7, "books": 0.3}, 5)]:
        reweigh(fresh_shards, weights)
        b = loader(fresh_shards)
        was = json.loads(state["json"])["positions"]
        b.load_state_dict(state)
        assert b.positions == was and b.resumed_weights is not None
        before = Counter(x.split(":")[0] for x in seen)
        draw(b, steps)
        drawn = Counter(x.split(":")[0] for x in seen) - before
        assert set(drawn) == {s for s, w in weights.items() if w > 0}
        for source in b.sources:  # windows continue consecutively from the checkpoint's position
            mine = [int(x.split(":")[2]) for x in seen[-steps * 4 :] if x.startswith(source + ":")]
            assert mine == list(range(was[source], was[source] + len(mine)))
        state = b.state_dict()
    assert len(seen) == len(set(seen)) == 30 * 4
    assert json.loads(state["json"])["positions"]["c4"] > 0  # c4's place survived the books-only leg


# ---- validation at start: every failure names the file


def test_missing_shard_file_is_named(fresh_shards):
    (fresh_shards.parent / "c4_00001.bin").unlink()
    with pytest.raises(DataError, match=r"c4_00001\.bin: shard file listed in .* is missing"):
        open_corpus(fresh_shards)


def test_truncated_shard_is_named(fresh_shards):
    path = fresh_shards.parent / "books_00000.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"books_00000\.bin"):
        open_corpus(fresh_shards, verify="size")


def test_corrupt_shard_same_size_fails_the_checksum(fresh_shards):
    path = fresh_shards.parent / "c4_00000.bin"
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    open_corpus(fresh_shards, verify="size")  # sizes and index still agree: only the checksum can tell
    with pytest.raises(DataError, match=r"c4_00000\.bin: sha256 .* does not match"):
        open_corpus(fresh_shards)


def test_manifest_counts_that_do_not_match_the_shards(fresh_shards):
    m = json.loads(fresh_shards.read_text())
    m["shards"][0]["tokens"] += 1
    fresh_shards.write_text(json.dumps(m))
    with pytest.raises(
        DataError, match=r"c4_00000\.bin/\.idx: holds \d+ documents and \d+ tokens, the manifest"
    ):
        open_corpus(fresh_shards, verify="size")


def test_foreign_index_file_is_named(fresh_shards):
    (fresh_shards.parent / "books_00001.idx").write_bytes(b"not an index at all, just bytes" * 4)
    with pytest.raises(DataError, match=r"books_00001\.idx"):
        open_corpus(fresh_shards, verify="size")


def test_mixture_weight_for_a_source_without_shards(fresh_shards):
    m = json.loads(fresh_shards.read_text())
    m["mixture"]["weights"]["arxiv"] = 0.1
    fresh_shards.write_text(json.dumps(m))
    with pytest.raises(DataError, match=r"weight to \['arxiv'\]"):
        open_corpus(fresh_shards, verify="size")


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="manifest not found"):
        open_corpus(tmp_path / "nope" / "manifest.json")


def test_source_too_small_for_one_sequence(shard_set):
    with pytest.raises(DataError, match="too few for one training sequence"):
        loader(shard_set, seq_len=200_000)


def test_mixture_counts_per_source(shard_set):
    """Sanity of the counting helper above: each step draws exactly grad_accum x dp x micro slots."""
    dl = loader(shard_set, micro_batch=3, grad_accum=2, dp_size=2, heldout_tokens=0)
    before = Counter(dl.positions)
    dl.next_batch()
    assert sum(dl.positions.values()) - sum(before.values()) == 12
