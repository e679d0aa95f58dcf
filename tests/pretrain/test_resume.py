"""A run killed with SIGKILL mid-training and resumed with --resume continues with exactly the losses
of an uninterrupted run (CPU, same seed): bit-for-bit equal, every step. And SIGTERM stops a run
cleanly with a checkpoint at the step it reached. All runs are real `lamina pretrain` subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

CONFIG = """
model = "tiny"
seq_len = 64
micro_batch = 2
global_batch_tokens = 256
heldout_tokens = 4096
steps = 40
lr = 3.0e-3
warmup_steps = 4
eval_every = 10
eval_sequences = 4
checkpoint_every = 5
keep_checkpoints = 2
log_every = 10
"""


def command(config, manifest, out, resume=False):
    cmd = [sys.executable, "-m", "lamina", "pretrain", "--config", str(config), "--manifest", str(manifest)]
    return cmd + ["--out", str(out)] + (["--resume"] if resume else [])


ENV = dict(os.environ, OMP_NUM_THREADS="1")


def run(cmd) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def metrics(out) -> list[dict]:
    path = out / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def start_and_signal(cmd, out, sig, at_step: int) -> subprocess.Popen:
    """Start a run and send `sig` once metrics.jsonl shows step `at_step` (mid-training)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        done = metrics(out)
        if done and done[-1]["step"] >= at_step:
            proc.send_signal(sig)
            break
        time.sleep(0.01)
    proc.wait(timeout=120)
    return proc


@pytest.fixture(scope="module")
def uninterrupted(shard_set, tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    config = root / "tiny.toml"
    config.write_text(CONFIG)
    run(command(config, shard_set, root / "straight"))
    ref = metrics(root / "straight")
    assert [r["step"] for r in ref] == list(range(1, 41))
    return root, config, ref


def same_curve(got: list[dict], ref: list[dict]) -> None:
    assert [r["step"] for r in got] == [r["step"] for r in ref]
    for key in ("loss", "lr", "grad_norm"):
        assert [r[key] for r in got] == [r[key] for r in ref], key  # exactly equal
    assert got[-1]["val_loss"] == ref[-1]["val_loss"]


@pytest.mark.slow
def test_sigkill_then_resume_continues_the_same_losses(uninterrupted, shard_set):
    root, config, ref = uninterrupted
    out = root / "killed"
    proc = start_and_signal(command(config, shard_set, out), out, signal.SIGKILL, at_step=12)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    reached = metrics(out)[-1]["step"]
    assert 12 <= reached < 40
    latest = (out / "checkpoints" / "latest").read_text().strip()
    assert int(latest.split("_")[1]) == reached // 5 * 5  # the newest complete checkpoint
    proc = run(command(config, shard_set, out, resume=True))
    assert f"resumed from {out / 'checkpoints' / latest}" in proc.stdout
    same_curve(metrics(out), ref)
    # TensorBoard reads as one run too: the killed run's steps after the checkpoint are purged
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = EventAccumulator(str(out / "tb"))
    tb.Reload()
    events = tb.Scalars("loss")
    assert [e.step for e in events] == list(range(1, 41))
    assert [e.value for e in events] == pytest.approx([r["loss"] for r in ref], rel=1e-6)
    kept = sorted(p.name for p in (out / "checkpoints").iterdir() if p.is_dir())
    assert kept == ["step_00000035", "step_00000040"]  # keep_checkpoints = 2


def test_sigterm_checkpoints_and_exits_cleanly(uninterrupted, shard_set):
    root, config, ref = uninterrupted
    out = root / "terminated"
    proc = start_and_signal(command(config, shard_set, out), out, signal.SIGTERM, at_step=7)
    output = proc.stdout.read()
    assert proc.returncode == 0, output[-2000:]
    stopped = metrics(out)[-1]["step"]
    assert 7 <= stopped < 40 and f"SIGTERM: checkpoint written at step {stopped}" in output
    assert (out / "checkpoints" / "latest").read_text().strip() == f"step_{stopped:08d}"
    run(command(config, shard_set, out, resume=True))
    same_curve(metrics(out), ref)
