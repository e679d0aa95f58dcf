"""The tests' torchrun launcher (torchrun_launch.py): a run past its timeout fails the test with the
output so far and leaves no worker behind (torchrun starts workers in sessions of their own, so
killing the agent alone would orphan them, spinning in their collectives)."""

from __future__ import annotations

import os
import time

import pytest

from tests.pretrain.torchrun_launch import run_torchrun

HANGING_WORKER = """
import os, sys, time
with open(sys.argv[1] + "." + os.environ["RANK"], "w") as f:
    f.write(str(os.getpid()))
print("worker up", flush=True)
time.sleep(3600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for our purposes
        return f.read().split(") ", 1)[1][0] != "Z"


@pytest.mark.distributed
def test_a_run_past_its_timeout_fails_and_stops_its_workers(tmp_path):
    script = tmp_path / "hang.py"
    script.write_text(HANGING_WORKER)
    pids = tmp_path / "pid"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with pytest.raises(pytest.fail.Exception, match="ran past 15 s") as failed:
        run_torchrun(["--nproc-per-node=2", str(script), str(pids)], env, timeout=15)
    workers = [int((tmp_path / f"pid.{rank}").read_text()) for rank in (0, 1)]
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), f"workers {workers} outlived the launcher"
    assert "worker up" in str(failed.value)  # the output so far is in the failure
