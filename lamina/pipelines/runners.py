"""Runners beyond the default: Beam's FnApiRunner with its SDK workers in an external worker pool.

    python -m apache_beam.runners.worker.worker_pool_main --service_port=50000 &   # in the worker venv
    lamina corpus --input ... --runner lamina.pipelines.runners.ExternalPoolRunner \\
        --environment_type=EXTERNAL --environment_config=localhost:50000 --direct_num_workers=2

This is the portable Fn API path that Dataflow, Flink and Spark use (the runner talks to SDK workers
over gRPC; each worker is a separate process started by the pool, in whatever environment the pool
runs in), on one machine and with no job-server jar. Beam's own `PortableRunner --job_endpoint=embed`
always runs one worker (its embedded job service builds a plain FnApiRunner and never reads
`--direct_num_workers`); this subclass keeps `--direct_num_workers`. Shuffles stay in the
runner process, as on every FnApiRunner. docs/runners.md has the commands for the real runners.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from apache_beam.options import pipeline_options
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.transforms import environments


class ExternalPoolRunner(FnApiRunner):
    """The FnApiRunner whose default environment is EXTERNAL (`--environment_config=HOST:PORT` of a
    running `worker_pool_main`), with `--direct_num_workers` workers started by that pool."""

    def run_pipeline(self, pipeline, options):
        portable = options.view_as(pipeline_options.PortableOptions)
        if portable.environment_type != "EXTERNAL" or not portable.environment_config:
            raise ValueError(
                "ExternalPoolRunner needs --environment_type=EXTERNAL --environment_config=HOST:PORT "
                "(a running apache_beam.runners.worker.worker_pool_main)"
            )
        self._default_environment = environments.ExternalEnvironment.from_options(portable)
        direct = options.view_as(pipeline_options.DirectOptions)
        # in_memory: the FnApiRunner keeps the environment given above (multi_processing would
        # replace it by local subprocesses); the worker count still comes from direct_num_workers.
        direct.direct_running_mode = "in_memory"
        return super().run_pipeline(pipeline, options)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def worker_pool(
    python: str | Path,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 60.0,
) -> Iterator[tuple[str, int]]:
    """Start `python -m apache_beam.runners.worker.worker_pool_main` and yield its `localhost:PORT`.

    The pool starts each worker as a bare `python -c ...` found on PATH, so the interpreter's folder
    goes first on PATH: workers run in that environment (e.g. the clean worker venv). `env` replaces
    the environment of the pool (and so of its workers); `cwd` its folder (workers' `python -c` puts it
    on sys.path: keep a source tree out of it). Yields (`localhost:PORT`, the pool's pid); the pool and
    its workers are stopped on exit."""
    port = _free_port()
    bindir = str(Path(python).parent)
    env = dict(os.environ if env is None else env)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    proc = subprocess.Popen(
        [str(python), "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:  # the pool opens its port a moment after start
            if proc.poll() is not None:
                err = proc.stderr.read().decode("utf-8", "replace")[-2000:]
                raise RuntimeError(f"worker pool exited with {proc.returncode}: {err}")
            with socket.socket() as s:
                if s.connect_ex(("localhost", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker pool did not open port {port} within {timeout:.0f} s")
            time.sleep(0.2)
        yield f"localhost:{port}", proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)  # the pool and the workers it started (its own session)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (finished pool workers stay as zombies until the pool exits)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out
