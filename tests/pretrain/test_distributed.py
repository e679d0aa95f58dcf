"""Parallel runs (torchrun, gloo on CPU, the real `lamina pretrain` command) give the losses of one
process on the same batches: FSDP2 over 2 ranks, TP+SP over 2 ranks, and FSDP2 x TP on a 2x2 mesh.

Tolerance: relative 1e-5 on every step's training loss and on the final validation loss. The
parallel runs sum the same numbers in a different order (sharded matmuls, reduce-scatter of
gradients), so they are not bit-identical; measured differences are around 1e-7 (fp32).
"""

import json
import os
import shutil

import pytest
import torch

from lamina.pretrain.train_config import load_config
from lamina.pretrain.trainer import Trainer
from tests.pretrain.torchrun_launch import run_torchrun

RTOL = 1e-5
CONFIG = """
model = "tiny"
seq_len = 64
micro_batch = 2
global_batch_tokens = 256
heldout_tokens = 4096
steps = 4
lr = 3.0e-3
warmup_steps = 2
eval_every = 0
eval_sequences = 8
checkpoint_every = 0
log_every = 1
"""

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def setup(shard_set, tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    config = root / "tiny.toml"
    config.write_text(CONFIG)
    trainer = Trainer(load_config(config), shard_set, root / "single")
    ref = trainer.fit()
    return root, config, ref, trainer


def torchrun(nproc: int, config, manifest, out, *sets: str) -> list[dict]:
    cmd = [f"--nproc-per-node={nproc}"]
    cmd += [
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
        cmd += ["--set", s]
    proc = run_torchrun(cmd, dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def assert_same_losses(got: list[dict], ref: list[dict]) -> float:
    assert [r["step"] for r in got] == [r["step"] for r in ref]
    worst = 0.0
    for g, r in zip(got, ref, strict=True):
        assert g["loss"] == pytest.approx(r["loss"], rel=RTOL), (g, r)
        worst = max(worst, abs(g["loss"] - r["loss"]))
    assert got[-1]["val_loss"] == pytest.approx(ref[-1]["val_loss"], rel=RTOL)
    assert ref[-1]["loss"] < ref[0]["loss"] - 0.5  # it trained
    print(f"max |loss difference| vs one process: {worst:.3g}")  # shown with pytest -s
    return worst


@pytest.fixture(scope="module")
def fsdp_run(setup, shard_set):
    """One 2-rank FSDP2 run per module: its losses (for the equality test) and its checkpoint (for the
    resume test), so either test runs alone, in any order."""
    root, config, _, _ = setup
    out = root / "fsdp"
    return torchrun(2, config, shard_set, out, "dp_shard=2"), out


def test_fsdp2_two_ranks_equal_one_process(setup, fsdp_run):
    _, _, ref, _ = setup
    got, out = fsdp_run
    assert_same_losses(got, ref)
    ckpt = out / "checkpoints" / "step_00000004"
    assert sorted(p.name for p in ckpt.glob("*.distcp")) == [
        "__0_0.distcp",
        "__1_0.distcp",
    ]  # each rank its shard


def test_two_rank_fsdp_checkpoint_resumes_in_one_process(setup, fsdp_run, shard_set, tmp_path):
    """DCP reshards by name: the 2-rank FSDP2 checkpoint loads into a single process with the weights,
    AdamW moments and data position of the single-process run at the same step."""
    _, config, _, single = setup
    _, out = fsdp_run
    assert (out / "checkpoints" / "latest").is_file(), "the 2-rank run wrote no checkpoints/latest"
    shutil.copytree(out / "checkpoints", tmp_path / "checkpoints")
    resumed = Trainer(load_config(config), shard_set, tmp_path, resume=True)
    assert resumed.step == 4 and resumed.loader.state_dict() == single.loader.state_dict()
    ref = dict(single.model.named_parameters())
    for name, p in resumed.model.named_parameters():
        torch.testing.assert_close(p, ref[name], rtol=1e-5, atol=1e-7)
        for key in ("exp_avg", "exp_avg_sq"):
            got, want = resumed.optimizer.state[p][key], single.optimizer.state[ref[name]][key]
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-9)


def test_tp_sp_two_ranks_equal_one_process(setup, shard_set):
    root, config, ref, _ = setup
    got = torchrun(2, config, shard_set, root / "tp", "tp=2")
    assert_same_losses(got, ref)


@pytest.mark.slow
def test_fsdp2_x_tp_2x2_equals_one_process(setup, shard_set):
    root, config, ref, _ = setup
    got = torchrun(4, config, shard_set, root / "2d", "tp=2", "dp_shard=2")
    assert_same_losses(got, ref)


META_INIT_WORKER = """
import sys
import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from lamina.pretrain.config import preset
from lamina.pretrain.model import Transformer
from lamina.pretrain.parallelize import parallelize
from lamina.pretrain.train_config import TrainConfig

dist.init_process_group("gloo")
cfg_model = preset("tiny", vocab_size=257)  # 257 rows: uneven shards on 2 ranks
eager = Transformer(cfg_model)
eager.init_weights(seed=3)
want = dict(eager.named_parameters())
for dp, tp in ((2, 1), (1, 2)):
    mesh = init_device_mesh("cpu", (dp, tp), mesh_dim_names=("dp_shard", "tp"))
    with torch.device("meta"):
        model = Transformer(cfg_model)
    model = parallelize(model, mesh, TrainConfig(tp=tp, dp_shard=dp))
    model.to_empty(device="cpu")
    model.init_weights(seed=3)
    for name, p in model.named_parameters():
        assert type(p).__name__ == "DTensor", name
        assert p.to_local().numel() < p.numel() or p.dim() == 1, (name, "not sharded")
        assert torch.equal(p.full_tensor(), want[name]), (dp, tp, name)
print("meta init equal", dist.get_rank(), flush=True)
dist.destroy_process_group()
"""


def test_meta_init_under_fsdp_and_tp_equals_eager_init(tmp_path):
    """Materialized from the meta device and initialized shard by shard (FSDP2 over 2 ranks, then TP
    over 2 ranks), every parameter equals the eager single-process initialization of the same seed,
    bit for bit, while each rank holds only its shard."""
    script = tmp_path / "worker.py"
    script.write_text(META_INIT_WORKER)
    proc = run_torchrun(["--nproc-per-node=2", str(script)], dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("meta init equal") == 2
