"""The Airflow DAGs in dags/, run by the real Airflow of .venv-airflow (`make airflow`).

Airflow is deliberately absent from .venv, so every Airflow check runs in a subprocess with the airflow
venv's python or `airflow` CLI, in a temporary AIRFLOW_HOME on SQLite. The gate and launcher rules
(dags/lamina_gate.py, dags/lamina_launch.py) import no Airflow and are tested here directly. `make test`
depends on `make airflow`: a missing .venv-airflow is a failure that says how to create it, never a skip.

The end-to-end run installs lamina from a wheel built from this tree (what a worker gets from
`make wheel`), copies dags/ alone into a temporary dags folder (no checkout beside it) and runs
`airflow dags test lamina_pipeline` on the sample world: the seven sources through
BeamRunPythonPipelineOperator with the local runner, the gates, tokenizer, shards, report and 4 steps
of pretraining (launcher `local`, asked for explicitly).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
AIRFLOW_VENV = Path(os.environ.get("LAMINA_AIRFLOW_VENV", REPO / ".venv-airflow"))
AIRFLOW_PY = AIRFLOW_VENV / "bin" / "python"
AIRFLOW = AIRFLOW_VENV / "bin" / "airflow"
# The interpreter of the stages: the main venv (lamina's dependencies), lamina itself from the wheel.
WORKER_PY = Path(sys.executable)
KENLM_BIN = Path(os.environ.get("LAMINA_KENLM_BIN", Path.home() / ".cache/lamina/kenlm-0.3.0/bin"))
MARK = "@@RESULT@@"
SOURCES = ["commoncrawl", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange"]

PIPELINE_CHAIN = {
    "plan": sorted(
        ["sample", "models", "gate_corpus", "tokenizer_train", "tokenizer_shards", "gate_tokens"]
        + ["report", "pretrain", "pretrain_wait"]
    ),
    "sample": ["models"],
    "models": [f"corpus_{s}" for s in sorted(SOURCES)],
    **{f"corpus_{s}": ["gate_corpus"] for s in SOURCES},
    "gate_corpus": ["report", "tokenizer_train"],
    "tokenizer_train": ["tokenizer_shards"],
    "tokenizer_shards": ["gate_tokens"],
    "gate_tokens": ["pretrain"],
    "pretrain": ["pretrain_wait"],
    "pretrain_wait": [],
    "report": [],
}


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, DAGS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gate = _module("lamina_gate")
launch = _module("lamina_launch")


# ---- the gate's rules (no Airflow) ----


def _stats(n_in, kept, dropped, ok=True, files=None):
    s = {"documents_in": n_in, "documents_kept": kept, "dropped": dropped, "conservation_ok": ok}
    if files is not None:
        s["files"] = files
    return s


@pytest.mark.parametrize(
    "stats, given, expected",
    [
        ({"c4": _stats(10, 7, {"short": 3})}, None, []),
        (
            {"c4": _stats(100, 12, {"language": 88})},
            {"keep_rate": {"c4": [0.3, 0.9]}},
            ["c4: keep-rate 0.1200 (12 of 100) outside [0.3, 0.9]"],
        ),
        (
            {"c4": _stats(100, 95, {"language": 5}), "books": _stats(4, 4, {})},
            {"keep_rate": {"*": [None, 0.9]}},
            [
                "books: keep-rate 1.0000 (4 of 4) outside [-inf, 0.9]",
                "c4: keep-rate 0.9500 (95 of 100) outside [-inf, 0.9]",
            ],
        ),
        (
            {"c4": _stats(10, 0, {"language": 10})},
            None,
            ["c4: keep-rate 0.0000 (0 of 10) outside [0.001, 1.0]"],
        ),
        ({"c4": _stats(0, 0, {})}, None, ["c4: no input documents (keep-rate band [0.001, 1.0])"]),
        ({"c4": _stats(0, 0, {})}, {"keep_rate": {"c4": [None, None]}}, []),
        (
            {"c4": _stats(10, 7, {"short": 2})},
            None,
            ["c4: conservation fails: documents_in=10 != kept 7 + dropped 2 (conservation_ok=True)"],
        ),
        (
            {"c4": _stats(10, 7, {"short": 3}, ok=False)},
            None,
            ["c4: conservation fails: documents_in=10 != kept 7 + dropped 3 (conservation_ok=False)"],
        ),
        (
            {"cc": _stats(10, 7, {"short": 3}, files={"matched": 5, "read": 3, "failed": 2})},
            None,
            ["cc: 2 input files failed (of 5 matched), at most 0 allowed"],
        ),
        (
            {"cc": _stats(10, 7, {"short": 3}, files={"matched": 5, "read": 3, "failed": 2})},
            {"files_failed": {"cc": 2}},
            [],
        ),
        (
            {
                "cc": _stats(
                    10,
                    7,
                    {"short": 3},
                    files={
                        "matched": 2,
                        "read": 1,
                        "failed": 1,
                        "failed_files": [{"file": "gs://b/x.warc.wet.gz", "error": "not gzip"}],
                    },
                )
            },  # fmt: skip
            None,
            [
                "cc: 1 input files failed (of 2 matched; first: gs://b/x.warc.wet.gz: not gzip), at most 0 allowed"
            ],
        ),
    ],
)
def test_gate_corpus_rules(stats, given, expected):
    """Each rule fails naming the source and the number; a passing corpus gives no problem."""
    assert gate.corpus_problems(stats, gate.merge_bands(given)) == expected


def test_gate_tokens_and_one_line_message():
    manifest = {"sources": {"c4": {"tokens": 5000}, "books": {"tokens": 40}}}
    bands = gate.merge_bands({"tokens": {"books": [100, None]}})
    problems = gate.token_problems(manifest, bands, ["c4", "books", "arxiv"])
    assert problems == ["arxiv: 0 tokens outside [1, inf]", "books: 40 tokens outside [100, inf]"]
    line = gate.one_line("tokens", problems)
    assert "\n" not in line and line.startswith("lamina gate (tokens): 2 problem(s): arxiv: 0 tokens")


@pytest.mark.parametrize(
    "given, message",
    [
        ({"keep": {"*": [0, 1]}}, "unknown check 'keep'"),
        ({"keep_rate": [0, 1]}, "must map a source"),
        ({"keep_rate": {"c4": [0.9, 0.1]}}, "keep_rate[c4] is empty: low 0.9 > high 0.1"),
        ({"keep_rate": {"c4": [0.1]}}, "keep_rate[c4] must be [low, high]"),
        ({"files_failed": {"*": -1}}, "files_failed[*] must be a count"),
    ],
)
def test_gate_rejects_malformed_bands(given, message):
    with pytest.raises(gate.BandError, match=re.escape(message)):
        gate.merge_bands(given)


# ---- where pretraining runs (no Airflow) ----

LAUNCH_SETTINGS = {
    "python": "/opt/lamina/bin/python",
    "cluster_python": "/shared/lamina/bin/python",
    "pretrain_config": "/shared/configs/7b.toml",
    "cluster_manifest": "/lustre/runs/ds=2026-03-01/run=r1/corpus/shards/manifest.json",
    "cluster_pretrain": "/lustre/runs/ds=2026-03-01/run=r1/pretrain",
    "pretrain_resume": True,
    "pretrain_set": ["steps=10", "lr=3e-4"],
    "pretrain_host": "ssh -o BatchMode=yes lamina@login1",
    "slurm_script": "/shared/lamina/scripts/slurm/pretrain.sbatch",
    "slurm_args": ["--nodes=32", "--partition=gpu"],
    "nproc_per_node": 8,
    "partition": "ds=2026-03-01/run=r1",
}


def test_slurm_submit_reuses_the_runs_job_and_parses_the_job_id(tmp_path):
    """The submit script asks squeue for the run's job first (a retry must not submit twice), else
    submits with sbatch --parsable and prints the id last; run against tools on PATH that log argv."""
    s = {**LAUNCH_SETTINGS, "pretrain_launcher": "slurm", "pretrain_host": ""}
    script = launch.launch_script(s)
    name = launch.job_name(s["partition"])
    assert name == launch.job_name("ds=2026-03-01/run=r1") != launch.job_name("ds=2026-03-02/run=r1")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    log = tmp_path / "argv.log"
    # Recorders of the command lines the script sends (SLURM itself does not run here).
    (bin_ / "sbatch").write_text(f'#!/bin/bash\necho "sbatch $*" >> {log}\necho "4242;cluster"\n')
    (bin_ / "squeue").write_text(
        f'#!/bin/bash\necho "squeue $*" >> {log}\ncat {tmp_path}/queued 2>/dev/null || true\n'
    )
    for tool in ("sbatch", "squeue"):
        (bin_ / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}"}
    first = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "4242"
    calls = log.read_text().splitlines()
    assert calls[0] == f"squeue --noheader --name={name} --format=%i"
    assert calls[1] == (
        f"sbatch --parsable --job-name={name} --nodes=32 --partition=gpu {s['slurm_script']} "
        f"{s['pretrain_config']} {s['cluster_manifest']} {s['cluster_pretrain']} --set steps=10 --set lr=3e-4"
    )
    (tmp_path / "queued").write_text("4242\n")
    retry = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert retry.stdout.strip().splitlines()[-1] == "4242"
    assert len(log.read_text().splitlines()) == 3, "a retry with the job queued must not call sbatch"


def test_ssh_launcher_quotes_one_remote_torchrun():
    script = launch.launch_script({**LAUNCH_SETTINGS, "pretrain_launcher": "ssh"})
    run_line = script.strip().splitlines()[-1]
    assert run_line.startswith(
        "ssh -o BatchMode=yes lamina@login1 '/shared/lamina/bin/python -m torch.distributed.run"
    )
    assert "--nproc-per-node=8 -m lamina pretrain --config /shared/configs/7b.toml" in run_line
    assert "--resume --set steps=10 --set lr=3e-4'" in run_line
    assert launch.sacct_argv(LAUNCH_SETTINGS, "77")[-1] == "sacct --noheader --parsable2 -X -j 77 -o State"


@pytest.mark.parametrize(
    "output, verdict",
    [
        ("", "wait"),
        ("PENDING\n", "wait"),
        ("RUNNING\n", "wait"),
        ("REQUEUED\nRUNNING\n", "wait"),
        ("COMPLETED\n", "done"),
        ("FAILED\n", "failed"),
        ("CANCELLED by 1001\n", "failed"),
        ("TIMEOUT\n", "failed"),
        ("OUT_OF_MEMORY\n", "failed"),
        ("NODE_FAIL\n", "failed"),
    ],
)
def test_slurm_states(output, verdict):
    assert launch.slurm_state(output)[0] == verdict


# ---- Airflow ----


def _env(home: Path, dags: Path, pythonpath: str | None = None) -> dict[str, str]:
    """A clean Airflow environment: the given dags folder, SQLite under `home`, no examples."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PYTHONWARNINGS="ignore",
        LAMINA_KENLM_BIN=str(KENLM_BIN),
    )
    return env


def _run(argv: list, env: dict, timeout: int = 120, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in argv], env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def _python(script: str, env: dict, cwd) -> dict:
    """Run `script` with the airflow venv's python; it prints MARK + json as its last result."""
    proc = _run([AIRFLOW_PY, "-c", script], env, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)][-1]
    return json.loads(line[len(MARK) :])


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> dict:
    """A deployment as a team has it: dags/ copied alone into a dags folder, lamina installed from the
    wheel built from this tree, a migrated SQLite Airflow home. Fails (not skips) without .venv-airflow."""
    if not AIRFLOW.exists():
        pytest.fail(f"{AIRFLOW} missing: run `make airflow` (make test does it first)")
    root = tmp_path_factory.mktemp("deployment")
    dags = root / "dags"
    shutil.copytree(DAGS, dags, ignore=shutil.ignore_patterns("__pycache__"))
    wheels, site = root / "wheels", root / "site"
    built = _run(
        [WORKER_PY, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, REPO],
        os.environ,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("lamina-*.whl")
    installed = _run(
        [WORKER_PY, "-m", "pip", "install", "-q", "--no-deps", "--target", site, wheel], os.environ
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    env = _env(root / "airflow_home", dags, pythonpath=str(site))
    proc = _run([AIRFLOW, "db", "migrate"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"root": root, "dags": dags, "site": site, "wheel": wheel, "env": env}


IMPORT_SCRIPT = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags["lamina_pipeline"]
import lamina_pipeline as lp

class Run:
    def __init__(self, run_id, logical_date, run_after=None):
        self.run_id, self.logical_date, self.run_after = run_id, logical_date, run_after

import pendulum
d = pendulum.datetime(2026, 3, 1, tz="UTC")
errors = {{}}
for name, variable, params in [
    ("no_out", {{}}, {{}}),
    ("bad_source", {{"out": "/o"}}, {{"sources": ["c4", "reddit"]}}),
    ("slurm_without_script", {{"out": "/o", "pretrain_config": "/c.toml"}}, {{}}),
    ("unknown_variable_key", {{"out": "/o", "outt": 1}}, {{}}),
    ("bad_model", {{"out": "/o", "pretrain_launcher": "none"}}, {{"model_paths": {{"lid": "x"}}}}),
    ("bad_band", {{"out": "/o", "pretrain_launcher": "none"}}, {{"gate": {{"keep_rate": {{"c4": [2, 1]}}}}}}),
]:
    try:
        lp.resolve(variable, params, lp._partition(Run("manual__x", d)))
    except ValueError as err:
        errors[name] = str(err)
s = lp.resolve(
    {{"out": "gs://bucket/lamina", "runner": "DataflowRunner", "wheel": "gs://bucket/lamina-0.1.0-py3-none-any.whl",
      "pretrain_launcher": "none", "beam_options": {{"temp_location": "gs://bucket/tmp"}},
      "dataflow": {{"project_id": "p", "location": "europe-west4"}}}},
    {{"out": None, "sources": ["c4"], "corpus_config": "/etc/lamina/corpus.toml",
      "model_paths": {{"lid_model": "gs://m/lid.176.bin", "lm_dir": "gs://m/cc_net_lm"}}}},
    lp._partition(Run("scheduled__2026-03-01T00:00:00+00:00", d)),
)
out = {{
    "errors_in_bag": {{k: str(v) for k, v in bag.import_errors.items()}},
    "dags": {{i: {{t.task_id: sorted(t.downstream_task_ids) for t in g.tasks}} for i, g in bag.dags.items()}},
    "beam_tasks": sorted(t.task_id for t in dag.tasks if isinstance(t, BeamRunPythonPipelineOperator)),
    "retries": {{t.task_id: t.retries for t in dag.tasks}},
    "backoff": {{t.task_id: t.retry_exponential_backoff for t in dag.tasks}},
    "errors": errors,
    "run": s["run"], "c4": s["beam"]["c4"], "dataflow_config": s["dataflow_config"]["c4"],
    "no_logical_date": lp._partition(Run("manual__y", None, d)),
}}
print({MARK!r} + json.dumps(out))
"""


def test_dag_parses_alone_and_resolves_settings(deployed):
    """dags/ alone (no checkout beside it) parses; one Beam task per source; remote-facing tasks retry
    with backoff; settings: Variable < params, partition by logical date and run id, clear errors."""
    got = _python(
        IMPORT_SCRIPT.replace("sys.argv[1]", repr(str(deployed["dags"]))), deployed["env"], deployed["root"]
    )
    assert got["errors_in_bag"] == {}
    assert got["dags"]["lamina_pipeline"] == PIPELINE_CHAIN
    assert got["dags"]["lamina_pretrain"] == {
        "plan": ["pretrain", "pretrain_wait"],
        "pretrain": ["pretrain_wait"],
        "pretrain_wait": [],
    }
    assert got["beam_tasks"] == sorted(f"corpus_{s}" for s in SOURCES)
    for task_id in [*got["beam_tasks"], "models", "pretrain", "pretrain_wait"]:
        assert got["retries"][task_id] == 3 and got["backoff"][task_id] is True, task_id
    assert got["retries"]["gate_corpus"] == got["retries"]["gate_tokens"] == 0
    e = got["errors"]
    assert e["no_out"] == "setting out is empty: set it in the Variable lamina or the run's params"
    assert "sources ['c4', 'reddit']: each must be one of commoncrawl" in e["bad_source"]
    assert "slurm needs slurm_script" in e["slurm_without_script"]
    assert "unknown setting(s) ['outt']" in e["unknown_variable_key"]
    assert "keep_rate[c4] is empty" in e["bad_band"]
    assert "model_paths: unknown model(s) ['lid'] (known: lid_model, lm_dir, wikiref_model)" in e["bad_model"]
    run = "gs://bucket/lamina/ds=2026-03-01/run=scheduled__2026-03-01T00_00_00_00_00"
    assert got["run"] == run
    assert got["c4"] == {
        "sources": "c4",
        "input": f"{run}/sample",
        "out": f"{run}/corpus",
        "lid-model": "gs://m/lid.176.bin",
        "lm-dir": "gs://m/cc_net_lm",
        "config": "/etc/lamina/corpus.toml",
        "extra_package": ["gs://bucket/lamina-0.1.0-py3-none-any.whl"],
        "temp_location": "gs://bucket/tmp",
    }
    assert (
        got["dataflow_config"]["project_id"] == "p" and got["dataflow_config"]["location"] == "europe-west4"
    )
    assert re.fullmatch(r"lamina-c4-2026-03-01-[0-9a-f]{8}", got["dataflow_config"]["job_name"])
    assert got["no_logical_date"] == "ds=2026-03-01/run=manual__y"


def _runs(env: dict, dag_id: str = "lamina_pipeline") -> dict[str, dict]:
    """The DAG runs, by logical date (YYYY-MM-DD)."""
    proc = _run([AIRFLOW, "dags", "list-runs", dag_id, "-o", "json"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {r["logical_date"][:10]: r for r in json.loads(proc.stdout.strip().splitlines()[-1])}


def _task_states(env: dict, run_id: str, dag_id: str = "lamina_pipeline") -> dict[str, str]:
    proc = _run([AIRFLOW, "tasks", "states-for-dag-run", dag_id, run_id, "-o", "json"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {t["task_id"]: t["state"] for t in json.loads(proc.stdout.strip().splitlines()[-1])}


def _dags_test(deployed: dict, date: str, conf: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    argv = [AIRFLOW, "dags", "test", "lamina_pipeline", date, "-c", json.dumps(conf)]
    return _run(argv, deployed["env"], timeout=timeout, cwd=deployed["root"])


def test_pretrain_dag_fails_naming_the_missing_shards(deployed, tmp_path):
    """lamina_pretrain on an earlier run's manifest that is not there: one failed task naming the path
    and the task that writes it, no retry, nothing written."""
    manifest = tmp_path / "old" / "corpus" / "shards" / "manifest.json"
    conf = {
        "out": str(tmp_path / "runs"),
        "python": str(WORKER_PY),
        "pretrain_launcher": "local",
        "pretrain_config": str(REPO / "configs/pretrain/tiny.toml"),
        "manifest": str(manifest),
    }
    argv = [AIRFLOW, "dags", "test", "lamina_pretrain", "2026-03-01", "-c", json.dumps(conf)]
    proc = _run(argv, deployed["env"], cwd=deployed["root"])
    assert proc.returncode != 0
    assert f"lamina DAG: missing {manifest} (written by task tokenizer_shards)" in proc.stdout + proc.stderr
    run_id = _runs(deployed["env"], "lamina_pretrain")["2026-03-01"]["run_id"]
    states = _task_states(deployed["env"], run_id, "lamina_pretrain")
    assert states == {"plan": "success", "pretrain": "failed", "pretrain_wait": "upstream_failed"}
    assert not (tmp_path / "runs").exists()


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _partition(out: Path, date: str) -> Path:
    (run,) = (out / f"ds={date}").iterdir()
    return run


@pytest.fixture(scope="module")
def first_run(deployed) -> dict:
    """The whole DAG for 2026-03-01: the team's settings in the Variable `lamina`, the run's in params."""
    variable = {
        "python": str(WORKER_PY),
        "corpus_config": str(REPO / "configs/corpus/tiny.toml"),
        "vocab_size": 2000,
        "pretrain_launcher": "local",
        "pretrain_config": str(REPO / "configs/pretrain/tiny.toml"),
        # The local runner in one process: no SDK worker process to start per source on 2 cores.
        "beam_options": {"direct_running_mode": "in_memory"},
    }
    var = _run([AIRFLOW, "variables", "set", "lamina", json.dumps(variable)], deployed["env"])
    assert var.returncode == 0, var.stderr[-2000:]
    out = deployed["root"] / "out"
    conf = {"out": str(out), "pretrain_set": ["steps=2", "eval_every=2", "log_every=1"]}
    proc = _dags_test(deployed, "2026-03-01", conf)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-8000:]
    run_id = _runs(deployed["env"])["2026-03-01"]["run_id"]
    return {"out": out, "run": _partition(out, "2026-03-01"), "run_id": run_id, "log": log, "conf": conf}


@pytest.mark.slow
def test_pipeline_runs_every_stage_in_its_partition(deployed, first_run):
    states = _task_states(deployed["env"], first_run["run_id"])
    assert states == {t: "success" for t in PIPELINE_CHAIN}
    run = first_run["run"]
    assert run.parent.name == "ds=2026-03-01" and run.name.startswith("run=manual__")
    # The stages' interpreter, in the workers' environment, imports the wheel's lamina, not this checkout.
    where = _run(
        [WORKER_PY, "-c", "import lamina; print(lamina.__file__)"], deployed["env"], cwd=deployed["root"]
    )
    assert where.stdout.strip() == str(deployed["site"] / "lamina" / "__init__.py")
    assert (
        "BeamHook" in first_run["log"] and "lamina_corpus_main.py --runner=DirectRunner" in first_run["log"]
    )
    stats = {p.stem: json.loads(p.read_text()) for p in (run / "corpus" / "stats").glob("*.json")}
    assert set(stats) == set(SOURCES)
    for s in stats.values():
        assert s["conservation_ok"] and s["documents_kept"] > 0
    assert (run / "models" / "lid" / "lid.bin").exists()
    assert (run / "corpus" / "report" / "index.html").exists()
    manifest = json.loads((run / "corpus" / "shards" / "manifest.json").read_text())
    assert set(manifest["sources"]) == set(SOURCES)
    metrics = [json.loads(line) for line in (run / "pretrain" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2] and "val_loss" in metrics[-1]


@pytest.mark.slow
def test_cleared_source_reruns_alone_to_identical_bytes(deployed, first_run):
    """corpus_c4 fails half-way (its outputs gone, a stale file left), is cleared and re-run alone:
    every file of the corpus is byte-identical to the uninterrupted run's, the other sources untouched."""
    corpus = first_run["run"] / "corpus"
    before = _hashes(corpus / "docs") | {f"stats/{k}": v for k, v in _hashes(corpus / "stats").items()}
    docs = corpus / "docs"
    others = {p: p.stat().st_mtime_ns for p in docs.rglob("*") if p.relative_to(docs).parts[0] != "c4"}
    shutil.rmtree(corpus / "docs" / "c4")
    (corpus / "stats" / "c4.json").unlink()
    (corpus / "docs" / "c4").mkdir()
    (corpus / "docs" / "c4" / "partial.jsonl.gz").write_bytes(b"half a file")
    env, run_id = deployed["env"], first_run["run_id"]
    # (the CLI's task regex must not be anchored: "^corpus_c4$" matches nothing in Airflow 3.3.2)
    clear_argv = [
        "tasks",
        "clear",
        "lamina_pipeline",
        "-t",
        "corpus_c4",
        "-s",
        "2026-03-01",
        "-e",
        "2026-03-01",
    ]
    clear = _run([AIRFLOW, *clear_argv, "-y"], env)
    assert clear.returncode == 0, clear.stderr[-2000:]
    assert _task_states(env, run_id)["corpus_c4"] in (None, "none", "")
    rerun = _run(
        [AIRFLOW, "tasks", "test", "lamina_pipeline", "corpus_c4", run_id],
        env,
        timeout=300,
        cwd=deployed["root"],
    )
    assert rerun.returncode == 0, rerun.stdout[-4000:] + rerun.stderr[-3000:]
    after = _hashes(corpus / "docs") | {f"stats/{k}": v for k, v in _hashes(corpus / "stats").items()}
    assert after == before
    assert {p: p.stat().st_mtime_ns for p in others} == others


@pytest.mark.slow
def test_second_logical_date_writes_its_own_partition(deployed, first_run):
    """2026-03-02 on the first run's input, with prebuilt models (its, by path), one source: its own partition,
    the first run's files unchanged, the same input giving the same books documents."""
    first = _hashes(first_run["run"])
    conf = {
        "out": str(first_run["out"]),
        "input": str(first_run["run"] / "sample"),
        "models": str(first_run["run"] / "models"),
        "sources": ["books"],
        "pretrain_launcher": "none",
    }
    proc = _dags_test(deployed, "2026-03-02", conf)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    second = _partition(first_run["out"], "2026-03-02")
    assert second != first_run["run"]
    assert _hashes(first_run["run"]) == first
    assert sorted(p.name for p in (second / "corpus" / "stats").iterdir()) == ["books.json"]
    assert not (second / "models").exists() and not (second / "sample").exists()
    assert _hashes(second / "corpus" / "docs") == {
        k: v for k, v in _hashes(first_run["run"] / "corpus" / "docs").items() if k.startswith("books/")
    }
    states = _task_states(deployed["env"], _runs(deployed["env"])["2026-03-02"]["run_id"])
    assert states["corpus_books"] == states["gate_tokens"] == states["report"] == "success"
    assert {states[f"corpus_{s}"] for s in SOURCES if s != "books"} == {"skipped"}


@pytest.mark.slow
def test_keep_rate_outside_its_band_fails_the_gate_in_one_line(deployed, first_run):
    conf = {
        "out": str(first_run["out"]),
        "input": str(first_run["run"] / "sample"),
        "models": str(first_run["run"] / "models"),
        "sources": ["books"],
        "pretrain_launcher": "none",
        "gate": {"keep_rate": {"books": [0.999, 1.0]}},
    }
    proc = _dags_test(deployed, "2026-03-03", conf)
    assert proc.returncode != 0
    books = json.loads((_partition(first_run["out"], "2026-03-03") / "corpus/stats/books.json").read_text())
    rate = books["documents_kept"] / books["documents_in"]
    assert rate < 0.999
    line = (
        f"lamina gate (corpus): 1 problem(s): books: keep-rate {rate:.4f} "
        f"({books['documents_kept']} of {books['documents_in']}) outside [0.999, 1.0]"
    )
    assert line in proc.stdout + proc.stderr
    states = _task_states(deployed["env"], _runs(deployed["env"])["2026-03-03"]["run_id"])
    assert states["gate_corpus"] == "failed"
    assert states["tokenizer_train"] == states["report"] == "upstream_failed"
