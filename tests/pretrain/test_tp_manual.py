"""The hand-written block backward under tensor + sequence parallelism (tp_block.py), with torchrun on
gloo: one block against single-process autograd (output, input gradient, every parameter gradient,
their DTensor placements), the collectives it dispatches and their overlap with the GEMMs, and the
real `lamina pretrain` with TP=2 and FSDP x TP (2x2) in manual mode against one process.

Tolerances: fp32 relative 1e-5 (measured ~3e-7: sharded matmuls and reduce-scatters sum in another
order); bf16 autocast relative 3e-2 against fp32-reference autograd under the same autocast (as
test_remat.py's single-device bf16 test).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lamina.pretrain.train_config import TrainConfig, load_config
from lamina.pretrain.trainer import Trainer
from tests.pretrain.test_distributed import CONFIG  # the same tiny run as the FSDP/TP tests
from tests.pretrain.torchrun_launch import run_torchrun

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("tp_block_worker.py")
ENV = dict(
    os.environ, OMP_NUM_THREADS="1", PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
)


def _torchrun(nproc: int, *args: str) -> subprocess.CompletedProcess:
    proc = run_torchrun([f"--nproc-per-node={nproc}", *args], ENV)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _block_run(tmp_path_factory, nproc: int, precision: str) -> dict:
    out = tmp_path_factory.mktemp(f"tp{nproc}-{precision}") / "result.json"
    _torchrun(nproc, str(WORKER), str(out), precision)
    return json.loads(out.read_text())


def test_config_accepts_manual_under_tp_and_refuses_async_tp_without_compile():
    assert TrainConfig(tp=2, checkpointing="manual").checkpointing == "manual"
    for name in ("33b", "65b"):
        cfg = load_config(REPO / "configs" / "pretrain" / f"{name}.toml")
        assert cfg.tp > 1 and cfg.checkpointing == "manual" and cfg.async_tp and cfg.compile
    with pytest.raises(ValueError, match="async_tp = true needs compile = true"):
        load_config(None, ["tp=2", "async_tp=true", "compile=false"])


def test_tp_must_split_heads_and_feed_forward_units_evenly():
    from lamina.pretrain.config import ModelConfig
    from lamina.pretrain.parallelize import tp_shape_error

    cfg = ModelConfig(dim=64, n_layers=1, n_heads=4, vocab_size=11, multiple_of=1)  # hidden 170
    assert cfg.hidden_dim == 170 and tp_shape_error(cfg, 2) is None
    assert "does not divide n_heads 4" in tp_shape_error(cfg, 8)
    assert "feed-forward width 170" in tp_shape_error(cfg, 4)  # 4 | n_heads, not 170
    for name in ("7b", "13b", "33b", "65b"):  # every preset splits over the TP degrees LLaMA used
        p = load_config(REPO / "configs" / "pretrain" / f"{name}.toml").model_config(32000)
        assert all(tp_shape_error(p, tp) is None for tp in (1, 2, 4, 8) if p.n_heads % tp == 0), name


@pytest.mark.distributed
def test_pretrain_with_an_uneven_feed_forward_split_is_one_line(reference, shard_set):
    """Without the check DTensor's row-parallel w2 fails deep in a matmul with a traceback per rank."""
    root, config, _ = reference
    args = ["--nproc-per-node=2", "-m", "lamina", "pretrain", "--config", str(config)]
    args += ["--manifest", str(shard_set), "--out", str(root / "odd")]
    proc = run_torchrun([*args, "--set", "tp=2", "--set", "model_overrides.multiple_of=171"], ENV)
    # torchrun prints its own ChildFailedError traceback; no frame of lamina's code may appear
    assert proc.returncode != 0 and "lamina/pretrain/" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lamina pretrain: ")]
    assert len(lines) == 2 and "feed-forward width 171" in lines[0], proc.stderr[-3000:]


@pytest.fixture(scope="module")
def tp2(tmp_path_factory) -> dict:
    return _block_run(tmp_path_factory, 2, "fp32")


def _assert_block_matches(row: dict, tol: float) -> None:
    assert row["out_type"] == "Tensor"  # the local sequence shard, as the TP plan passes it on
    assert row["out"] < tol and row["input"] < tol, row
    assert len(row["grads"]) == 9
    for name, g in row["grads"].items():
        assert g["rel"] < tol, (name, g)
        assert g["dtensor"] and g["placements_match"] and g["dtype_match"], (name, g)


@pytest.mark.distributed
def test_tp2_manual_block_equals_one_process_fp32(tp2):
    _assert_block_matches(tp2["modes"]["manual"], 1e-5)


@pytest.mark.distributed
def test_tp2_manual_block_tracks_autograd_under_bf16_autocast(tmp_path_factory):
    result = _block_run(tmp_path_factory, 2, "bf16-autocast")
    _assert_block_matches(result["modes"]["manual"], 3e-2)


@pytest.mark.distributed
def test_tp4_manual_block_equals_one_process_fp32(tmp_path_factory):
    result = _block_run(tmp_path_factory, 4, "fp32")
    _assert_block_matches(result["modes"]["manual"], 1e-5)
    assert result["modes"]["manual"]["backward"] == {"all_gather": 4, "reduce_scatter": 2, "all_reduce": 2}


@pytest.mark.distributed
def test_manual_backward_runs_exactly_the_listed_collectives(tp2):
    manual = tp2["modes"]["manual"]
    # forward: AG before wq/wk/wv and w1/w3, RS after wo and w2
    assert manual["forward"] == {"all_gather": 2, "reduce_scatter": 2}
    # backward: AG of grad_out, xn2, dh, xn1; RS of dxn2, dxn1; AR of the two norm-weight gradients
    assert manual["backward"] == {"all_gather": 4, "reduce_scatter": 2, "all_reduce": 2}
    starts = [e.split(" ", 1)[1] for e in manual["events"] if e.startswith("start ")]
    assert starts == [
        "all_gather grad_out",
        "all_gather xn2",
        "reduce_scatter dxn2",
        "all_reduce dg2",
        "all_gather dh",
        "all_gather xn1",
        "reduce_scatter dxn1",
        "all_reduce dg1",
    ]


@pytest.mark.distributed
def test_manual_backward_waits_only_after_the_overlapped_gemms_are_issued(tp2):
    events = tp2["modes"]["manual"]["events"]
    at = {e: i for i, e in enumerate(events)}
    overlaps = {
        # async collective: the GEMMs issued between its start and its wait
        "all_gather xn2": ["gemm ds", "gemm dw2", "gemm dxn2"],
        "reduce_scatter dxn2": ["gemm dw1", "gemm dw3"],
        "all_gather xn1": ["gemm dwo", "gemm do", "gemm dxn1"],
        "reduce_scatter dxn1": ["gemm dwq", "gemm dwk", "gemm dwv"],
    }
    for what, gemms in overlaps.items():
        for gemm in gemms:
            assert at[f"start {what}"] < at[gemm] < at[f"wait {what}"], (what, gemm, events)
    # the weight GEMMs that read the re-gathered input come after its wait
    assert at["wait all_gather xn2"] < at["gemm dw1"] and at["wait all_gather xn1"] < at["gemm dwq"]
    # dg2's all-reduce runs during the whole attention backward
    assert at["start all_reduce dg2"] < at["gemm dxn1"] < at["wait all_reduce dg2"]


@pytest.mark.distributed
def test_selective_keeps_the_tp_collectives_full_recomputes_them(tp2):
    """Under TP, "selective" saves the functional collectives' outputs, so its backward dispatches the
    collectives of plain autograd ("none") and no more; "full" re-runs the forward's."""
    modes = tp2["modes"]
    collectives = ("all_gather", "reduce_scatter", "all_reduce")

    def count(mode):
        return {k: modes[mode]["backward"].get(k, 0) for k in collectives}

    assert count("selective") == count("none")
    assert sum(count("full").values()) > sum(count("none").values())
    for mode in ("none", "selective", "full"):
        assert modes[mode]["out"] < 1e-5 and modes[mode]["input"] < 1e-5, mode


@pytest.fixture(scope="module")
def reference(shard_set, tmp_path_factory):
    """One process, plain autograd: the losses and gradient norms every parallel run must give."""
    root = tmp_path_factory.mktemp("tp-cli")
    config = root / "tiny.toml"
    config.write_text(CONFIG)
    return root, config, Trainer(load_config(config), shard_set, root / "single").fit()


def _pretrain(nproc: int, config, manifest, out, *sets: str) -> list[dict]:
    args = [
        "-m",
        "lamina",
        "pretrain",
        "--config",
        str(config),
        "--manifest",
        str(manifest),
        "--out",
        str(out),
    ]
    for s in sets:
        args += ["--set", s]
    _torchrun(nproc, *args)
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _assert_same_run(got: list[dict], ref: list[dict]) -> None:
    assert [r["step"] for r in got] == [r["step"] for r in ref]
    for g, r in zip(got, ref, strict=True):
        assert g["loss"] == pytest.approx(r["loss"], rel=1e-5), (g, r)
        assert g["grad_norm"] == pytest.approx(r["grad_norm"], rel=1e-5), (g, r)  # gradients, globally
    assert got[-1]["val_loss"] == pytest.approx(ref[-1]["val_loss"], rel=1e-5)
    assert ref[-1]["loss"] < ref[0]["loss"] - 0.5  # it trained


@pytest.mark.distributed
def test_pretrain_tp2_manual_equals_one_process(reference, shard_set):
    root, config, ref = reference
    _assert_same_run(_pretrain(2, config, shard_set, root / "tp2", "tp=2", "checkpointing=manual"), ref)


@pytest.mark.distributed
def test_pretrain_fsdp_x_tp_2x2_manual_equals_one_process(reference, shard_set):
    root, config, ref = reference
    got = _pretrain(4, config, shard_set, root / "2x2", "tp=2", "dp_shard=2", "checkpointing=manual")
    _assert_same_run(got, ref)


@pytest.mark.distributed
def test_loss_parallel_keeps_logits_sharded_by_vocabulary(tp2):
    """With loss parallel (the default under TP) no rank holds full-vocabulary logits: they stay a
    vocabulary-sharded DTensor (11 = 6 + 5 over 2 ranks, uneven), and the loss, the per-token losses
    (evaluation) and every gradient equal one process; without it each rank gets all 11."""
    on, off = tp2["loss_parallel"]["True"], tp2["loss_parallel"]["False"]
    assert on["logits_type"] == "DTensor" and on["logits_placements"] == ["S(2)"] and on["local_vocab"] == 6
    assert off["logits_type"] == "Tensor" and off["local_vocab"] == 11
    for row in (on, off):
        assert row["loss_type"] == "Tensor"  # local_loss: a plain scalar for logging and accumulation
        assert row["loss"] < 1e-5 and row["per_token"] < 1e-5 and row["grads"] < 1e-5, row
