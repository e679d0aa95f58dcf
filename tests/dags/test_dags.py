"""The Airflow DAGs in dags/, run by the real Airflow of .venv-airflow (`make airflow`).

Airflow is deliberately absent from .venv, so every check runs in a subprocess with the airflow venv's
python or `airflow` CLI, in a temporary AIRFLOW_HOME on SQLite. `make test` depends on `make airflow`:
a missing .venv-airflow is a failure that says how to create it, never a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
AIRFLOW_VENV = Path(os.environ.get("LAMINA_AIRFLOW_VENV", REPO / ".venv-airflow"))
AIRFLOW_PY = AIRFLOW_VENV / "bin" / "python"
AIRFLOW = AIRFLOW_VENV / "bin" / "airflow"
# The main venv's lamina: the one that runs these tests.
LAMINA_BIN = Path(sys.executable).parent / "lamina"
MARK = "@@RESULT@@"

PIPELINE_CHAIN = {
    "sample": ["models"],
    "models": ["corpus"],
    "corpus": ["check_conservation"],
    "check_conservation": ["report", "tokenizer_train"],
    "tokenizer_train": ["tokenizer_shards"],
    "tokenizer_shards": ["pretrain"],
    "pretrain": [],
    "report": [],
}


def _env(home: Path) -> dict[str, str]:
    """A clean Airflow environment: our dags folder, SQLite under `home`, no examples."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PYTHONWARNINGS="ignore",
    )
    return env


def _run(argv: list, env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True, timeout=timeout)


def _python(script: str, env: dict) -> dict:
    """Run `script` with the airflow venv's python; it prints MARK + json as its last result."""
    proc = _run([AIRFLOW_PY, "-c", script], env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)][-1]
    return json.loads(line[len(MARK) :])


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """A migrated SQLite Airflow home; fails (not skips) when .venv-airflow is missing."""
    if not AIRFLOW.exists():
        pytest.fail(f"{AIRFLOW} missing: run `make airflow` (make test does it first)")
    env = _env(tmp_path_factory.mktemp("airflow_home"))
    proc = _run([AIRFLOW, "db", "migrate"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return env


IMPORT_SCRIPT = f"""
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={str(DAGS)!r})
out = {{"errors": {{k: str(v) for k, v in bag.import_errors.items()}},
        "dags": {{d: {{t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}}
                 for d, dag in bag.dags.items()}},
        "params": {{d: sorted(dag.params.keys()) for d, dag in bag.dags.items()}}}}
print({MARK!r} + json.dumps(out))
"""


def test_dags_import_with_the_stage_chain(airflow_env):
    got = _python(IMPORT_SCRIPT, airflow_env)
    assert got["errors"] == {}
    assert got["dags"]["lamina_pipeline"] == PIPELINE_CHAIN
    assert got["dags"]["lamina_pretrain"] == {"pretrain": []}
    for name in ("lamina_bin", "out", "runner", "beam_options", "pretrain_config", "pretrain_set"):
        assert name in got["params"]["lamina_pipeline"]


CHECKS_SCRIPT = f"""
import json, subprocess, sys, tempfile
from pathlib import Path
sys.path.insert(0, {str(DAGS)!r})
import lamina_pipeline as lp
from airflow.sdk.exceptions import AirflowFailException

def conservation(files):
    corpus = Path(tempfile.mkdtemp())
    if files is not None:
        (corpus / "stats").mkdir()
        for name, text in files.items():
            (corpus / "stats" / name).write_text(text)
    try:
        return {{"ok": lp._check_conservation(corpus)}}
    except AirflowFailException as err:
        return {{"error": str(err)}}

def stats(n_in, kept, dropped, ok=True):
    return json.dumps({{"source": "c4", "documents_in": n_in, "documents_kept": kept,
                        "dropped": dropped, "conservation_ok": ok}})

def bash(script):
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    return {{"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr}}

tmp = Path(tempfile.mkdtemp())
(tmp / "in.txt").write_text("x")
out = {{
    "good": conservation({{"c4.json": stats(10, 7, {{"badwords": 2, "short": 1}})}}),
    "lost": conservation({{"c4.json": stats(10, 7, {{"badwords": 2}}, ok=True)}}),
    "flagged": conservation({{"c4.json": stats(10, 7, {{"badwords": 3}}, ok=False)}}),
    "unreadable": conservation({{"c4.json": "{{not json"}}),
    "no_stats": conservation(None),
    "missing_input": bash(lp._stage(["true"], [(str(tmp / "nope"), "models")], [])),
    "missing_output": bash(lp._stage(["true"], [(str(tmp / "in.txt"), "x")], [str(tmp / "out")])),
    "runs": bash(lp._stage(["touch", str(tmp / "made me")], [(str(tmp / "in.txt"), "x")],
                           [str(tmp / "made me")])),
    "failing_stage": bash(lp._stage(["false"], [], [])),
}}
print({MARK!r} + json.dumps(out))
"""


def test_stage_checks_fail_clearly(airflow_env):
    """Conservation, missing inputs and missing outputs each fail with a message naming the cause."""
    got = _python(CHECKS_SCRIPT, airflow_env)
    assert got["good"] == {"ok": {"c4": {"documents_in": 10, "documents_kept": 7, "dropped": 3}}}
    assert "documents lost" in got["lost"]["error"] and "documents_in=10" in got["lost"]["error"]
    assert "conservation_ok=False" in got["flagged"]["error"]
    assert "unreadable stats" in got["unreadable"]["error"]
    assert "no " in got["no_stats"]["error"] and "written by task corpus" in got["no_stats"]["error"]
    assert got["missing_input"]["rc"] == 1
    assert "nope (written by task models)" in got["missing_input"]["stderr"]
    assert got["missing_output"]["rc"] == 1
    assert "stage finished but" in got["missing_output"]["stderr"]
    assert got["runs"]["rc"] == 0, got["runs"]
    assert got["failing_stage"]["rc"] == 1


def _task_states(env: dict, dag_id: str) -> dict[str, str]:
    runs = _run([AIRFLOW, "dags", "list-runs", dag_id, "-o", "json"], env)
    assert runs.returncode == 0, runs.stderr[-2000:]
    (run,) = json.loads(runs.stdout.strip().splitlines()[-1])
    proc = _run([AIRFLOW, "tasks", "states-for-dag-run", dag_id, run["run_id"], "-o", "json"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {t["task_id"]: t["state"] for t in json.loads(proc.stdout.strip().splitlines()[-1])}


def test_pretrain_dag_fails_naming_missing_shards(airflow_env, tmp_path):
    """A stage whose input is missing fails the run, naming the path and the task that writes it."""
    conf = {"corpus": str(tmp_path / "corpus"), "out": str(tmp_path / "run"), "lamina_bin": LAMINA_BIN}
    proc = _run(
        [AIRFLOW, "dags", "test", "lamina_pretrain", "-c", json.dumps(conf, default=str)], airflow_env
    )
    assert proc.returncode != 0
    log = proc.stdout + proc.stderr
    assert f"missing {tmp_path}/corpus/shards/manifest.json (written by task tokenizer_shards)" in log
    assert _task_states(airflow_env, "lamina_pretrain") == {"pretrain": "failed"}
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_pipeline_dag_runs_the_whole_chain(airflow_env, tmp_path):
    """`airflow dags test lamina_pipeline` on the sample world, tiny configs, 4 pretraining steps.

    lamina_bin comes from the Airflow Variable (the param left empty); reruns of the shards task
    and of pretrain leave the same outputs.
    """
    var = _run([AIRFLOW, "variables", "set", "lamina_bin", LAMINA_BIN], airflow_env)
    assert var.returncode == 0, var.stderr[-2000:]
    out = tmp_path / "out"
    conf = {
        "out": str(out),
        "corpus_config": "configs/corpus/tiny.toml",
        "pretrain_set": ["steps=4", "eval_every=2", "log_every=1"],
    }
    proc = _run(
        [AIRFLOW, "dags", "test", "lamina_pipeline", "-c", json.dumps(conf)], airflow_env, timeout=420
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert _task_states(airflow_env, "lamina_pipeline") == {t: "success" for t in PIPELINE_CHAIN}
    assert f"+ {LAMINA_BIN} corpus" in proc.stdout + proc.stderr

    corpus = out / "corpus"
    stats = {p.stem: json.loads(p.read_text()) for p in (corpus / "stats").glob("*.json")}
    assert set(stats) == {"commoncrawl", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange"}
    for s in stats.values():
        assert s["conservation_ok"] and s["documents_kept"] > 0
    assert (out / "models" / "lid" / "lid.bin").exists()
    assert (corpus / "tokenizer" / "tokenizer.model").exists()
    assert (corpus / "report" / "index.html").exists()
    manifest = json.loads((corpus / "shards" / "manifest.json").read_text())
    assert set(manifest["mixture"]["weights"]) == set(stats)
    metrics = [json.loads(line) for line in (out / "pretrain" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    assert "val_loss" in metrics[-1]

    # Idempotent reruns: the shards task rewrites the same manifest, pretrain resumes to the same run.
    before = json.loads((corpus / "shards" / "manifest.json").read_text())
    for task_id in ("tokenizer_shards", "pretrain"):
        rerun = _run(
            [AIRFLOW, "tasks", "test", "lamina_pipeline", task_id, "-t", json.dumps(conf)],
            airflow_env,
        )
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    after = json.loads((corpus / "shards" / "manifest.json").read_text())
    # The normalized weights differ between runs in the last bit (summation order), so approx.
    weights = before["mixture"].pop("weights")
    assert after["mixture"].pop("weights") == pytest.approx(weights, rel=1e-12)
    assert after == before
    rerun_metrics = (out / "pretrain" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in rerun_metrics] == [1, 2, 3, 4]
