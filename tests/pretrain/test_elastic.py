"""Evaluation at any scale and elastic, mixture-aware resume, with the real `lamina pretrain` under
torchrun (gloo, CPU):

- one process, 4 FSDP ranks and (resumed) 2 FSDP ranks give the same validation loss per source on a
  held-out set of 3 windows per source: fewer windows than 4 ranks, which before evaluated nothing;
- a checkpoint written (asynchronously) at dp = 4 resumes at dp = 2 and continues the global sequence
  of samples of the uninterrupted run exactly, with its losses;
- a resume with other mixture weights continues each source from its position: no sample id twice
  over the whole run;
- an asynchronous checkpoint loads bit-exact (the same tensors as a synchronous one of the same step).

Sample ids come from samples.jsonl (`log_samples`), written by the trainer itself. Losses: relative
1e-5 (sharded sums in another order, as in test_distributed.py); validation: relative 1e-6.
"""

import json
import os
import shutil

import pytest
import torch

from lamina.pretrain import checkpoint
from lamina.pretrain.train_config import load_config
from lamina.pretrain.trainer import Trainer
from tests.pretrain.torchrun_launch import run_torchrun

CONFIG = """
model = "tiny"
seq_len = 64
micro_batch = 1
global_batch_tokens = 512
heldout_tokens = 4096
steps = 6
lr = 3.0e-3
warmup_steps = 2
eval_every = 3
eval_sequences = 3
checkpoint_every = 3
keep_checkpoints = 0
log_every = 1
log_samples = true
"""


def torchrun(nproc: int, config, manifest, out, *args: str) -> None:
    cmd = [f"--nproc-per-node={nproc}", "-m", "lamina", "pretrain", "--config", str(config)]
    cmd += ["--manifest", str(manifest), "--out", str(out), *args]
    proc = run_torchrun(cmd, dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def records(out, name="metrics.jsonl") -> list[dict]:
    return [json.loads(x) for x in (out / name).read_text().splitlines() if x.strip()]


def samples(out) -> list[list[str]]:
    got = records(out, "samples.jsonl")
    assert [r["step"] for r in got] == list(range(1, len(got) + 1))
    return [r["samples"] for r in got]


def val(recs: list[dict], step: int) -> dict:
    (r,) = [r for r in recs if r["step"] == step]
    return {k: v for k, v in r.items() if k.startswith("val_loss")}


def resume_dir(src, dst, step: int):
    """A run directory as the dp=4 run left it at `step`: checkpoint, metrics and samples up to there
    (the resume truncates the logs to the checkpoint's step)."""
    dst.mkdir()
    name = f"step_{step:08d}"
    shutil.copytree(src / "checkpoints" / name, dst / "checkpoints" / name)
    (dst / "checkpoints" / "latest").write_text(name + "\n")
    for log in ("metrics.jsonl", "samples.jsonl"):
        shutil.copyfile(src / log, dst / log)
    return dst


@pytest.fixture(scope="module")
def runs(shard_set, tmp_path_factory):
    root = tmp_path_factory.mktemp("elastic")
    config = root / "tiny.toml"
    config.write_text(CONFIG)
    Trainer(load_config(config), shard_set, root / "single").fit()
    torchrun(4, config, shard_set, root / "dp4", "--set", "dp_shard=4", "--set", "async_checkpoint=true")
    return root, config


@pytest.mark.distributed
@pytest.mark.slow
def test_validation_is_the_same_with_1_2_and_4_processes(runs, shard_set):
    root, config = runs
    single, dp4 = records(root / "single"), records(root / "dp4")
    out = resume_dir(root / "dp4", root / "dp2", 3)
    torchrun(2, config, shard_set, out, "--resume", "--set", "dp_shard=2")
    dp2 = records(out)
    for step in (3, 6):
        want = val(single, step)
        assert set(want) == {"val_loss", "val_loss.c4", "val_loss.books"}  # 3 windows < 4 ranks: all there
        assert val(dp4, step) == pytest.approx(want, rel=1e-6)
    assert val(dp2, 6) == pytest.approx(val(single, 6), rel=1e-6)


@pytest.mark.distributed
@pytest.mark.slow
def test_dp4_checkpoint_resumes_at_dp2_with_the_same_global_samples(runs, shard_set):
    root, config = runs
    ref = samples(root / "single")
    assert samples(root / "dp4") == ref  # the layout does not change the data order
    out = root / "dp2"
    if not (out / "samples.jsonl").is_file():
        resume_dir(root / "dp4", out, 3)
        torchrun(2, config, shard_set, out, "--resume", "--set", "dp_shard=2")
    assert samples(out) == ref  # steps 1-3 written at dp=4, 4-6 after the resume at dp=2
    got, want = records(out), records(root / "single")
    assert [r["step"] for r in got] == list(range(1, 7))
    assert [r["loss"] for r in got] == pytest.approx([r["loss"] for r in want], rel=1e-5)
    assert len({s for step in ref for s in step}) == 6 * 8  # no sample twice (no source wrapped)


@pytest.mark.distributed
@pytest.mark.slow
def test_mixture_change_at_resume_repeats_no_sample(runs, fresh_shards):
    root, config = runs
    m = json.loads(fresh_shards.read_text())
    m["mixture"]["weights"] = {"c4": 0.1, "books": 0.9}  # was 0.7 / 0.3
    fresh_shards.write_text(json.dumps(m))
    out = resume_dir(root / "dp4", root / "remix", 3)
    proc = torchrun(2, config, fresh_shards, out, "--resume", "--set", "dp_shard=2")
    assert "mixture weights changed" in proc.stdout
    got = samples(out)
    flat = [s for step in got for s in step]
    assert len(got) == 6 and len(flat) == len(set(flat)) == 6 * 8
    before = {"c4": [], "books": []}
    for step in got[:3]:
        for s in step:
            before[s.split(":")[0]].append(int(s.split(":")[2]))
    for source, windows in before.items():  # after the resume each source goes on where it stopped
        after = [int(s.split(":")[2]) for step in got[3:] for s in step if s.startswith(source + ":")]
        assert after == list(range(len(windows), len(windows) + len(after)))
    books_after = sum(s.startswith("books:") for step in got[3:] for s in step)
    assert books_after > 12  # the new weights are in force (0.9 of 24 slots; 0.3 would give about 7)


def test_async_checkpoint_loads_bit_exact(shard_set, tmp_path):
    """Async and sync runs of the same config: same losses, and their step-2 checkpoints load into
    the same parameters and AdamW moments, bit for bit — although the async run trained on while its
    step-2 files were being written."""
    cfg = load_config(None, ["model=tiny", "seq_len=64", "micro_batch=2", "global_batch_tokens=256"])
    sets = dict(steps=4, checkpoint_every=2, eval_every=0, eval_sequences=2, heldout_tokens=4096, lr=3e-3)
    runs = {}
    for mode in (False, True):
        c = cfg.__class__(**{**cfg.to_dict(), **sets, "async_checkpoint": mode})
        runs[mode] = [r["loss"] for r in Trainer(c, shard_set, tmp_path / str(mode)).fit()]
    assert runs[True] == runs[False]
    loaded = {}
    for mode in (False, True):
        fresh = Trainer(cfg.__class__(**{**cfg.to_dict(), **sets}), shard_set, tmp_path / f"load{mode}")
        step = checkpoint.load(
            tmp_path / str(mode) / "checkpoints" / "step_00000002",
            fresh.model,
            fresh.optimizer,
            fresh.scheduler,
            fresh.loader,
        )
        assert step == 2
        loaded[mode] = fresh
    a, b = loaded[False], loaded[True]
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q), name
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(a.optimizer.state[p][key], b.optimizer.state[q][key]), (name, key)
    assert a.loader.state_dict() == b.loader.state_dict()
    assert (tmp_path / "True" / "checkpoints" / "latest").read_text().strip() == "step_00000004"
    assert not list((tmp_path / "True" / "checkpoints").glob("*.tmp"))
