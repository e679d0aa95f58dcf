"""Launching torchrun from the tests (imported by the test modules next to it)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys

import pytest


def run_torchrun(args: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    """`torchrun --standalone ARGS` with its output captured. The rendezvous and the workers' store
    bind port 0 (the agent's TCPStore is shared with the workers in torch 2.13), so parallel runs on
    one machine do not collide on ports. On a timeout the agent gets SIGTERM first: it stops its
    workers, which torchrun starts in sessions of their own; a plain kill of the agent would leave
    them running, spinning in their collectives and slowing every later test. Then pytest fails with
    the output so far."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        out = err = ""
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # never wait on pipes a leftover worker may hold open
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                out, err = proc.communicate(timeout=10)
        pytest.fail(
            f"torchrun {' '.join(args)} ran past {timeout:.0f} s (stopped):\n{out[-3000:]}{err[-3000:]}"
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
