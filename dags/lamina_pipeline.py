"""Airflow DAGs that run Lamina's stages where they belong. Airflow 3 only: they import `airflow.sdk`
(tested with apache-airflow 3.3.2 and apache-airflow-providers-apache-beam 6.3.1, requirements-airflow.txt).

`lamina_pipeline`, one DAG run = one partition `<out>/ds=<logical date>/run=<run id>`:

    plan -> sample -> models -> corpus_<source> (one Beam pipeline per source, in parallel)
         -> gate_corpus -> tokenizer_train -> tokenizer_shards -> gate_tokens -> pretrain -> pretrain_wait
                        \\-> report

- `corpus_<source>`: BeamRunPythonPipelineOperator running `lamina corpus --sources <source>` (through
  lamina_corpus_main.py) with the local runner by default, or DataflowRunner with the provider's
  Dataflow options (`runner`, `dataflow`, `beam_options`); the lamina wheel is staged on the Beam
  workers (`wheel` -> `--extra_package`).
- `models`: trains the filter models on the input (`lamina models`), or takes prebuilt ones (`models`:
  a folder or gs:// URL holding lid/, wikiref/, ... as `lamina models` writes them).
- `gate_corpus` / `gate_tokens`: conservation, input files failed, each source's keep-rate, then each
  source's token count, inside the bands of the `gate` setting (lamina_gate.py); a failure is one line
  naming the source and the number, and is not retried.
- `pretrain`: where training runs (`pretrain_launcher`): `slurm` (sbatch on the submit host, polled by
  `pretrain_wait`), `ssh` (torchrun on `pretrain_host`), `local` (the worker: only when asked for),
  or `none`.

`lamina_pretrain`: plan -> pretrain -> pretrain_wait on the shards of an earlier run (setting `manifest`),
into its own partition (another config, more steps, a resumed run).

Every stage writes inside the run's partition, so a retried task or a cleared-and-rerun source rewrites
its own outputs only (each `lamina corpus --sources X` replaces X's docs and stats whole), a backfill of
another logical date writes elsewhere, and two runs never share a folder.

Settings: the Airflow Variable `lamina` (a JSON object: the deployment's configuration, see
docs/orchestration.md) with the run's params laid over it (a param left null keeps the Variable's value,
else the default in SETTINGS). The stages run `<python> -m lamina ...` where `python` is the interpreter
of an environment with the lamina wheel installed (`make wheel`); nothing here reads a checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.sdk import DAG, Param, PokeReturnValue, Variable, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

DAGS = Path(__file__).resolve().parent
if str(DAGS) not in sys.path:  # Airflow puts the dags folder on sys.path; a bare DagBag does not
    sys.path.append(str(DAGS))

import lamina_gate  # noqa: E402  (beside this file in the dags folder)
import lamina_launch  # noqa: E402

CORPUS_MAIN = str(DAGS / "lamina_corpus_main.py")
SOURCES = ("commoncrawl", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange")
# What `lamina models` must have written, by the model_paths key that replaces it.
MODEL_FILES = {"lid_model": "lid/lid.bin", "wikiref_model": "wikiref/wikiref.bin"}
# The model_paths setting's keys -> the flags of `lamina corpus`.
MODEL_FLAGS = {"lid_model": "lid-model", "lm_dir": "lm-dir", "wikiref_model": "wikiref-model"}

# Every setting, its default and what it is (the Variable `lamina` and the params use these names).
SETTINGS = {
    "out": ("", "run root, local or gs://; each run writes <out>/ds=<date>/run=<run id>/ (required)"),
    "python": ("python3", "interpreter of the environment with the lamina wheel, on the Airflow workers"),
    "input": ("", "input root (cc/, c4/, ...), local or gs://; empty: the sample world, generated per run"),
    "sample_seed": (0, "seed of the generated sample world"),
    "models": ("", "prebuilt models (folder or gs:// URL as `lamina models` writes it); empty: train"),
    "model_paths": (
        {},
        "prebuilt models one by one: lid_model, lm_dir, wikiref_model (lamina corpus' "
        "--lid-model, --lm-dir, --wikiref-model; fastText lid.176.bin and cc_net's LMs too)",
    ),  # fmt: skip
    "corpus_config": ("", "TOML config of `lamina corpus` on the workers; empty: lamina's defaults"),
    "sources": (list(SOURCES), "the sources this run builds (the others' tasks are skipped)"),
    "runner": (
        "DirectRunner",
        "Beam runner of the corpus tasks: DirectRunner (lamina's local "
        "multi-process runner) or DataflowRunner",
    ),  # fmt: skip
    "beam_options": ({}, "extra Beam options of every corpus task, e.g. temp_location, max_num_workers"),
    "dataflow": ({}, "the provider's DataflowConfiguration (project_id, location, gcp_conn_id, ...)"),
    "wheel": ("", "the lamina wheel (local or gs://) staged on remote Beam workers as --extra_package"),
    "vocab_size": (32000, "tokenizer vocabulary (LLaMA: 32000)"),
    "gate": ({}, "bands of the quality gates, per source or '*' (lamina_gate.py)"),
    "pretrain_launcher": ("slurm", "slurm | ssh | local (the Airflow worker: tests, demos) | none"),
    "pretrain_config": ("", "TOML config of `lamina pretrain`, as the training hosts see it"),
    "pretrain_set": ([], "KEY=VALUE overrides of the pretrain config"),
    "pretrain_resume": (True, "continue from <run>/pretrain/checkpoints/latest when it exists"),
    "pretrain_host": (
        "",
        "ssh command to the training host / SLURM submit host, e.g. "
        "'ssh -o BatchMode=yes lamina@login1'; empty: run sbatch on the worker",
    ),  # fmt: skip
    "slurm_script": ("", "path of pretrain.sbatch on the submit host (scripts/slurm/pretrain.sbatch)"),
    "slurm_args": ([], "extra sbatch arguments, e.g. ['--nodes=32', '--partition=gpu']"),
    "nproc_per_node": (8, "processes per node of the ssh launcher's torchrun"),
    "cluster_python": ("", "interpreter with the lamina wheel on the training hosts; empty: python"),
    "cluster_out": ("", "the run root as the training hosts see it; empty: out"),
    "manifest": (
        "",
        "lamina_pretrain only: an earlier run's shards/manifest.json, as the training hosts see it",
    ),
}

# Tasks that talk to remote services (Beam runners, SLURM, ssh) retry with exponential backoff;
# deterministic local checks fail once (AirflowFailException is never retried).
REMOTE_RETRIES = dict(
    retries=3,
    retry_delay=timedelta(minutes=1),
    retry_exponential_backoff=True,
    max_retry_delay=timedelta(minutes=30),
)


def _partition(dag_run) -> str:
    """`ds=<date>/run=<run id>`: the logical date (the run's start when it has none), the run id made
    safe for paths and bucket names."""
    when = dag_run.logical_date or dag_run.run_after
    safe_id = re.sub(r"[^A-Za-z0-9._-]+", "_", dag_run.run_id)
    return f"ds={when.strftime('%Y-%m-%d')}/run={safe_id}"


def resolve(variable: dict, params: dict, partition: str) -> dict:
    """The run's settings: SETTINGS' defaults < the Variable `lamina` < the params that are not null;
    plus the run's folders. Raises ValueError (a one-line message) on a setting that cannot work."""
    unknown = sorted(set(variable) - set(SETTINGS))
    if unknown:
        raise ValueError(f"Variable lamina: unknown setting(s) {unknown} (known: {', '.join(SETTINGS)})")
    s = {k: default for k, (default, _) in SETTINGS.items()}
    s.update(variable)
    s.update({k: v for k, v in params.items() if k in SETTINGS and v is not None})
    if not s["out"]:
        raise ValueError("setting out is empty: set it in the Variable lamina or the run's params")
    bad = sorted(set(s["sources"]) - set(SOURCES))
    if bad or not s["sources"]:
        raise ValueError(f"sources {s['sources']}: each must be one of {', '.join(SOURCES)}")
    if s["pretrain_launcher"] not in lamina_launch.LAUNCHERS:
        raise ValueError(f"pretrain_launcher {s['pretrain_launcher']!r}: one of {lamina_launch.LAUNCHERS}")
    if s["pretrain_launcher"] != "none" and not s["pretrain_config"]:
        raise ValueError(f"pretrain_launcher {s['pretrain_launcher']} needs pretrain_config")
    if s["pretrain_launcher"] == "slurm" and not s["slurm_script"]:
        raise ValueError("pretrain_launcher slurm needs slurm_script (pretrain.sbatch on the submit host)")
    if s["pretrain_launcher"] == "ssh" and not s["pretrain_host"]:
        raise ValueError("pretrain_launcher ssh needs pretrain_host (the ssh command to the training host)")
    s["gate"] = lamina_gate.merge_bands(s["gate"])
    run = f"{s['out'].rstrip('/')}/{partition}"
    cluster_run = f"{(s['cluster_out'] or s['out']).rstrip('/')}/{partition}"
    s["partition"], s["run"] = partition, run
    s["input"] = s["input"] or f"{run}/sample"
    bad = sorted(set(s["model_paths"]) - set(MODEL_FLAGS))
    if bad:
        raise ValueError(f"model_paths: unknown model(s) {bad} (known: {', '.join(MODEL_FLAGS)})")
    s["train_models"] = not (s["models"] or s["model_paths"])
    s["models"] = s["models"] or (f"{run}/models" if s["train_models"] else "")
    s["corpus"], s["pretrain"] = f"{run}/corpus", f"{run}/pretrain"
    s["cluster_manifest"] = s["manifest"] or f"{cluster_run}/corpus/shards/manifest.json"
    s["cluster_pretrain"] = f"{cluster_run}/pretrain"
    s["cluster_python"] = s["cluster_python"] or s["python"]
    s["beam"] = {source: _beam_options(s, source) for source in SOURCES}
    s["dataflow_config"] = {
        source: {"job_name": dataflow_job_name(source, partition), **s["dataflow"]} for source in SOURCES
    }
    return s


def dataflow_job_name(source: str, partition: str) -> str:
    """`lamina-<source>-<date>-<hash of the run id>`: Dataflow's alphabet (lowercase, digits, dashes),
    one name per source and run."""
    date = partition.split("/")[0].removeprefix("ds=")
    return f"lamina-{source}-{date}-{hashlib.sha1(partition.encode()).hexdigest()[:8]}"


def _beam_options(s: dict, source: str) -> dict:
    """The pipeline options of one source's task: lamina corpus' flags, then Beam's."""
    options = {"sources": source, "input": s["input"], "out": s["corpus"]}
    if s["models"]:
        options["models"] = s["models"]
    options.update({MODEL_FLAGS[k]: v for k, v in sorted(s["model_paths"].items())})
    if s["corpus_config"]:
        options["config"] = s["corpus_config"]
    if s["wheel"] and s["runner"] != "DirectRunner":
        options["extra_package"] = [s["wheel"]]
    options.update(s["beam_options"])
    return options


def _stage(argv: list[str], makes: list[str] = ()) -> str:
    """The bash script of a worker stage: echo and run it, then check that it wrote `makes`."""
    lines = ["set -euo pipefail", f'echo "+ {shlex.join(argv)}"', shlex.join(argv)]
    lines += [
        f'[ -e {shlex.quote(p)} ] || {{ echo "lamina DAG: stage finished but {p} is missing" >&2; exit 1; }}'
        for p in makes
        if "://" not in p
    ]
    return "\n".join(lines) + "\n"


def _lamina(s: dict, *args: str) -> list[str]:
    return [s["python"], "-m", "lamina", *args]


def _read_json(url: str) -> dict:
    """A JSON file, local or remote (gs://, s3://: through ObjectStoragePath and fsspec)."""
    if "://" in url:
        from airflow.sdk import ObjectStoragePath

        return json.loads(ObjectStoragePath(url).read_text())
    return json.loads(Path(url).read_text())


def read_stats(corpus: str, sources: list[str]) -> dict[str, dict]:
    """stats/<source>.json of each source; a missing or unreadable one fails the gate naming it."""
    stats = {}
    for source in sources:
        path = f"{corpus}/stats/{source}.json"
        try:
            stats[source] = _read_json(path)
        except (OSError, ValueError) as err:
            raise AirflowFailException(
                f"lamina gate (corpus): {source}: unreadable {path} ({type(err).__name__}: {err}); "
                f"rerun task corpus_{source}"
            ) from err
    return stats


PARAMS = {
    k: Param(None, type=["null", "string", "integer", "number", "boolean", "array", "object"], description=d)
    for k, (_, d) in SETTINGS.items()
}

DAG_SETTINGS = dict(
    doc_md=__doc__,
    # Set LAMINA_DAG_SCHEDULE (e.g. "@monthly", one CommonCrawl dump a month) for scheduled runs and
    # `airflow backfill create`; unset, runs are triggered.
    schedule=os.environ.get("LAMINA_DAG_SCHEDULE") or None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    default_args={"owner": "lamina", "retries": 0},
    tags=["lamina"],
    render_template_as_native_obj=True,
    params=PARAMS,
)
PLAN = "ti.xcom_pull(task_ids='plan')"


class SourcePipeline(BeamRunPythonPipelineOperator):
    """One source's `lamina corpus` Beam pipeline; skipped when the run's `sources` leave it out.

    py_interpreter is templated too, so it comes from the run's settings (the wheel's environment).
    """

    template_fields = (*BeamRunPythonPipelineOperator.template_fields, "py_interpreter")

    def __init__(self, *, source: str, **kwargs):
        super().__init__(**kwargs)
        self.source = source

    def execute(self, context):
        plan = context["ti"].xcom_pull(task_ids="plan")
        if self.source not in plan["sources"]:
            raise AirflowSkipException(f"{self.source} is not in this run's sources {plan['sources']}")
        return super().execute(context)


def _variable() -> dict:
    value = Variable.get("lamina", default=None, deserialize_json=True)
    if value is not None and not isinstance(value, dict):
        raise AirflowFailException(f"Variable lamina must be a JSON object, not {type(value).__name__}")
    return value or {}


@task
def plan(params=None, dag_run=None) -> dict:
    """The run's settings and partition; every later task reads them from this task's XCom."""
    try:
        s = resolve(_variable(), params, _partition(dag_run))
        if (dag_run.dag_id == "lamina_pretrain") != bool(s["manifest"]):
            raise ValueError(
                "lamina_pretrain needs the manifest setting (an earlier run's shards/manifest.json)"
                if dag_run.dag_id == "lamina_pretrain"
                else "manifest is lamina_pretrain's setting: lamina_pipeline trains on its own shards"
            )
    except (ValueError, lamina_gate.BandError) as err:
        raise AirflowFailException(f"lamina DAG: {err}") from err
    print(f"lamina DAG: run partition {s['run']}")
    return s


@task.bash
def sample(s: dict) -> str:
    """The sample world into the partition when no `input` is set (one per run: nothing shared)."""
    if s["input"] != f"{s['run']}/sample":
        return f"echo {shlex.quote('input: ' + s['input'])}"
    argv = _lamina(s, "sample", "--out", s["input"], "--seed", str(s["sample_seed"]))
    return _stage(argv, [f"{s['input']}/ground_truth.jsonl"])


@task.bash(**REMOTE_RETRIES)
def models(s: dict) -> str:
    """Train the filter models on the input into the partition, or check that the prebuilt ones are
    there (each corpus task then verifies the ones its source needs, cards and labels, before it runs)."""
    given = s["model_paths"]
    files = [f"{s['models']}/{f}" for k, f in MODEL_FILES.items() if k not in given] if s["models"] else []
    if not s["train_models"]:
        files += list(given.values())
        code = (
            "import sys; from apache_beam.io.filesystems import FileSystems as F; "
            "gone = [f for f in sys.argv[1:] if not F.exists(f)]; "
            "gone and sys.exit('lamina DAG: prebuilt models incomplete, missing: ' + ', '.join(gone))"
        )
        return _stage([s["python"], "-c", code, *files])
    return _stage(_lamina(s, "models", "--sample", s["input"], "--out", s["models"]), files)


@task(trigger_rule="none_failed")
def gate_corpus(s: dict) -> dict:
    """Conservation, files failed and keep-rates inside their bands, before anything is tokenized."""
    stats = read_stats(s["corpus"], s["sources"])
    problems = lamina_gate.corpus_problems(stats, s["gate"])
    if problems:
        raise AirflowFailException(lamina_gate.one_line("corpus", problems))
    summary = {k: {"in": v["documents_in"], "kept": v["documents_kept"]} for k, v in stats.items()}
    print(f"lamina gate (corpus): passed: {summary}")
    return summary


@task.bash
def tokenizer_train(s: dict) -> str:
    argv = _lamina(s, "tokenizer", "train", "--corpus", s["corpus"], "--vocab-size", str(s["vocab_size"]))
    return _stage(argv, [f"{s['corpus']}/tokenizer/tokenizer.model"])


@task.bash
def tokenizer_shards(s: dict) -> str:
    argv = _lamina(s, "tokenizer", "shards", "--corpus", s["corpus"])
    return _stage(argv, [f"{s['corpus']}/shards/manifest.json"])


@task
def gate_tokens(s: dict) -> dict:
    """Each source's tokens inside its band, before pretraining starts on the shards."""
    manifest = _read_json(f"{s['corpus']}/shards/manifest.json")
    problems = lamina_gate.token_problems(manifest, s["gate"], s["sources"])
    if problems:
        raise AirflowFailException(lamina_gate.one_line("tokens", problems))
    return {k: v["tokens"] for k, v in manifest["sources"].items()}


@task.bash
def report(s: dict) -> str:
    return _stage(_lamina(s, "report", "--corpus", s["corpus"]), [f"{s['corpus']}/report/index.html"])


@task.bash(**REMOTE_RETRIES, do_xcom_push=True)
def pretrain(s: dict) -> str:
    """Launch pretraining where it runs; for slurm the job id is the task's XCom (last line)."""
    if s["pretrain_launcher"] == "local" and not Path(s["cluster_manifest"]).exists():
        raise AirflowFailException(
            f"lamina DAG: missing {s['cluster_manifest']} (written by task tokenizer_shards)"
        )
    return lamina_launch.launch_script(s)


@task.sensor(poke_interval=60, timeout=30 * 24 * 3600, mode="reschedule", **REMOTE_RETRIES)
def pretrain_wait(s: dict, launched: str | None) -> PokeReturnValue:
    """Poll the SLURM job with sacct until it ends (the other launchers have already finished)."""
    if s["pretrain_launcher"] != "slurm":
        return PokeReturnValue(is_done=True)
    job = str(launched).strip()
    proc = subprocess.run(lamina_launch.sacct_argv(s, job), capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"sacct for job {job} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    verdict, state = lamina_launch.slurm_state(proc.stdout)
    print(f"SLURM job {job}: {state}")
    if verdict == "failed":
        raise AirflowFailException(f"lamina DAG: SLURM job {job} ended {state}; see its log (%x-%j.out)")
    return PokeReturnValue(is_done=verdict == "done", xcom_value=state)


with DAG(
    dag_id="lamina_pipeline",
    description="models -> one Beam pipeline per source -> gate -> tokenizer -> shards -> gate -> pretrain",
    **DAG_SETTINGS,
) as pipeline_dag:
    settings = plan()
    corpus_tasks = [
        SourcePipeline(
            task_id=f"corpus_{source}",
            source=source,
            py_file=CORPUS_MAIN,
            py_interpreter="{{ " + PLAN + "['python'] }}",
            runner="{{ " + PLAN + "['runner'] }}",
            pipeline_options="{{ " + PLAN + f"['beam']['{source}'] }}}}",
            dataflow_config="{{ " + PLAN + f"['dataflow_config']['{source}'] }}}}",
            **REMOTE_RETRIES,
        )
        for source in SOURCES
    ]
    sample(settings) >> models(settings) >> corpus_tasks
    checked = gate_corpus(settings)
    corpus_tasks >> checked
    shards = tokenizer_train(settings)
    checked >> shards >> tokenizer_shards(settings) >> (tokens := gate_tokens(settings))
    launched = pretrain(settings)
    tokens >> launched
    pretrain_wait(settings, launched)
    checked >> report(settings)


with DAG(
    dag_id="lamina_pretrain",
    description="lamina pretrain on the shards of an earlier run (another config, more steps, a resumed run)",
    **DAG_SETTINGS,
) as pretrain_dag:
    settings = plan()
    pretrain_wait(settings, pretrain(settings))
