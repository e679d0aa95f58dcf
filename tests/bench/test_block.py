"""`lamina bench block`: every checkpointing mode's table, single-process and under TP=2 (gloo). The
step times are only printed; the bytes are deterministic, so the TP table's are checked exactly."""

import pytest

from lamina.bench.block import bench
from lamina.pretrain.config import preset


def test_bench_prints_every_mode_side_by_side(capsys):
    assert (
        bench(["--preset", "tiny", "--batch", "1", "--seq", "32", "--repeats", "1", "--no-cuda", "--tp", "0"])
        == 0
    )
    out = capsys.readouterr().out
    for title in ("CPU, fp32:", "bf16 autocast", "bf16 parameters"):
        table = out.split(title)[1].split("\n")[2:6]
        assert [line.split()[0] for line in table] == ["none", "full", "selective", "manual"], table
        assert table[0].split()[3] == "1.00"  # ratios against "none"


@pytest.mark.distributed
def test_bench_tp2_table_manual_keeps_a_tp_th_of_the_single_process_bytes(capfd):
    """`lamina bench block --tp 2`: the TP=2 table (2 gloo processes) has every mode, and manual's bytes
    per rank are exactly half of the single-process manual block's: x, h at T/2 tokens, q, k, v, o and
    the logsumexp for half the heads, a and b for half the hidden units, all at T tokens."""
    args = ["--preset", "tiny", "--batch", "1", "--seq", "32", "--repeats", "1", "--tp", "2", "--tp-only"]
    assert bench(args) == 0
    out = capfd.readouterr().out
    table = out.split("TP=2 (gloo, 2 processes")[1].split("\n")[2:6]
    rows = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in table}
    assert list(rows) == ["none", "full", "selective", "manual"], table
    cfg, T, tp = preset("tiny"), 32, 2
    single = T * ((6 * cfg.dim + 2 * cfg.hidden_dim) * 4 + 4 * cfg.n_heads)  # fp32, B = 1
    assert rows["manual"] * tp == single
    assert rows["full"] == T // tp * cfg.dim * 4  # only the input shard
    assert rows["manual"] < rows["selective"] < rows["none"]
    assert "manual vs selective: bytes x" in out and "vs full: bytes x" in out
