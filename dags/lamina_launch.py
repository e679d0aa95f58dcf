"""Where pretraining runs: the commands the lamina_pipeline DAG sends to a training host or SLURM.

No Airflow here (tested directly). Three launchers, chosen by the `pretrain_launcher` setting:

    slurm  `sbatch --parsable` of the cluster's pretrain.sbatch on the submit host (through
           `pretrain_host`, an ssh command, or on the worker when that is empty), then polled with
           `sacct` until the job ends. The job is named after the run, so a retried submit finds the
           job already queued or running (`squeue --name`) and waits for it instead of submitting twice.
    ssh    `torchrun ... -m lamina pretrain ...` on `pretrain_host`, the task waiting for it to end.
    local  `python -m lamina pretrain` on the Airflow worker itself: only when asked for (tests, demos).
"""

from __future__ import annotations

import hashlib
import re
import shlex

LAUNCHERS = ("slurm", "ssh", "local", "none")

# sacct's job states (`sacct -X -n -P -o State`); "CANCELLED by 123" carries the canceller.
SLURM_WAITING = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD",
                 "REQUEUE_FED", "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "RESV_DEL_HOLD"}  # fmt: skip
SLURM_DONE = "COMPLETED"


def job_name(partition: str) -> str:
    """A SLURM job name unique to one DAG run's partition (the name a retried submit looks for)."""
    return "lamina-" + hashlib.sha1(partition.encode()).hexdigest()[:12]


def pretrain_argv(python: str, s: dict) -> list[str]:
    """`lamina pretrain` on the run's shards into the run's pretrain folder (paths as the host sees them)."""
    argv = [python, "-m", "lamina", "pretrain", "--config", s["pretrain_config"]]
    argv += ["--manifest", s["cluster_manifest"], "--out", s["cluster_pretrain"]]
    if s["pretrain_resume"]:
        argv.append("--resume")
    for kv in s["pretrain_set"]:
        argv += ["--set", kv]
    return argv


def _remote(host: str, argv: list[str]) -> list[str]:
    """`argv` run through the ssh command `host` (one shell-quoted remote command), or as is."""
    return [*shlex.split(host), shlex.join(argv)] if host else argv


def launch_script(s: dict) -> str:
    """The bash script of the `pretrain` task for launchers ssh and local (it runs to the end), and
    for slurm (it submits, or finds the run's job already queued, and prints the job id last)."""
    launcher = s["pretrain_launcher"]
    if launcher == "none":
        return 'echo "pretrain_launcher=none: not pretraining"\n'
    if launcher == "local":
        argv = pretrain_argv(s["python"], s)
        return "set -euo pipefail\n" + f'echo "+ {shlex.join(argv)}"\n' + shlex.join(argv) + "\n"
    if launcher == "ssh":
        torchrun = [
            s["cluster_python"],
            "-m",
            "torch.distributed.run",
            f"--nproc-per-node={s['nproc_per_node']}",
        ]
        remote = torchrun + pretrain_argv(s["cluster_python"], s)[1:]
        argv = _remote(s["pretrain_host"], remote)
        return "set -euo pipefail\n" + f'echo "+ {shlex.join(argv)}"\n' + shlex.join(argv) + "\n"
    if launcher != "slurm":
        raise ValueError(f"pretrain_launcher must be one of {', '.join(LAUNCHERS)}, not {launcher!r}")
    name = job_name(s["partition"])
    sbatch = ["sbatch", "--parsable", f"--job-name={name}", *s["slurm_args"], s["slurm_script"]]
    sbatch += [s["pretrain_config"], s["cluster_manifest"], s["cluster_pretrain"]]
    for kv in s["pretrain_set"]:
        sbatch += ["--set", kv]
    squeue = ["squeue", "--noheader", f"--name={name}", "--format=%i"]
    return (
        "set -euo pipefail\n"
        f"existing=$({shlex.join(_remote(s['pretrain_host'], squeue))} | head -n 1)\n"
        'if [ -n "$existing" ]; then echo "job of this run already queued: $existing"; echo "$existing"; '
        "exit 0; fi\n"
        f'echo "+ {shlex.join(sbatch)}"\n'
        f"{shlex.join(_remote(s['pretrain_host'], sbatch))} | cut -d';' -f1 | tail -n 1\n"
    )


def sacct_argv(s: dict, job_id: str) -> list[str]:
    return _remote(
        s["pretrain_host"], ["sacct", "--noheader", "--parsable2", "-X", "-j", job_id, "-o", "State"]
    )


def slurm_state(sacct_output: str) -> tuple[str, str]:
    """("wait" | "done" | "failed", the state) from `sacct -X -n -P -o State` of one job.

    Empty output (sacct has not seen the job yet, right after sbatch) is "wait". A requeued job shows
    its latest state last.
    """
    lines = [ln.strip() for ln in sacct_output.splitlines() if ln.strip()]
    if not lines:
        return "wait", "UNKNOWN (not yet in sacct)"
    state = lines[-1]
    base = re.split(r"[\s+]", state)[0]
    if base == SLURM_DONE:
        return "done", state
    if base in SLURM_WAITING:
        return "wait", state
    return "failed", state
