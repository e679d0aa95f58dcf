"""Airflow DAGs that chain Lamina's stages: corpus -> tokenizer -> shards -> report -> pretrain.

`lamina_pipeline` runs the whole chain `make corpus` + `make pretrain` run, one task per stage:

    sample -> models -> corpus -> check_conservation -> tokenizer_train -> tokenizer_shards -> pretrain
                                                     \\-> report

`lamina_pretrain` runs only the last task, on the shards of an earlier corpus run (another config,
more steps, a resumed run).

Why BashOperator and the `lamina` executable rather than Beam's Airflow operator: `lamina corpus`
already takes `--runner` and any Beam option, so the DAG passes them through and adds no second way to
configure a pipeline. Airflow lives in its own environment (`.venv-airflow`, `make airflow`, from
requirements-airflow.txt) so its pins never touch the Beam/torch environment; the tasks call the main
environment's `lamina` (param or Airflow Variable `lamina_bin`, default `<repo>/.venv/bin/lamina`).

Every task first checks that the outputs of the stages it reads exist, and afterwards that it wrote its
own, failing with a message that names the missing path and the task that should have written it.
`check_conservation` refuses to tokenize a corpus whose `<out>/corpus/stats/<source>.json` reports a
lost document (`conservation_ok` false, or `documents_in != documents_kept + sum(dropped)`). Reruns are
idempotent: every stage writes to a temporary name and renames, so a rerun (or a retried task)
replaces its outputs whole; `pretrain` resumes from `<out>/pretrain/checkpoints/latest` when the
config writes checkpoints (param `pretrain_resume`).

Paths in params may be relative: they are resolved against the repository root (the parent of dags/).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, Variable, task
from airflow.sdk.exceptions import AirflowFailException

# The repository root: dags/ sits in it, and default paths (.venv, configs, out) are relative to it.
REPO = Path(__file__).resolve().parent.parent

# Where each stage writes, relative to the `out` param; the check messages name the producing task.
SAMPLE_DIR = "sample"
MODELS_DIR = "models"
CORPUS_DIR = "corpus"
PRETRAIN_DIR = "pretrain"
MODEL_FILES = ("lid/lid.bin", "wikiref/wikiref.bin")

PIPELINE_PARAMS = {
    "lamina_bin": Param(
        "",
        type="string",
        description="the main venv's lamina executable; empty: Variable lamina_bin, "
        "else <repo>/.venv/bin/lamina",
    ),
    "out": Param("out", type="string", description="output root (relative: to the repository)"),
    "input": Param(
        "",
        type="string",
        description="input root (holds cc/, c4/, ...); empty: generate the sample world in <out>/sample",
    ),
    "sample_seed": Param(0, type="integer", description="seed of the generated sample world"),
    "corpus_config": Param(
        "configs/corpus/default.toml",
        type="string",
        description="TOML config of `lamina corpus` (configs/corpus/tiny.toml: one process, writes dropped)",
    ),
    "sources": Param("", type="string", description="comma-separated sources; empty: all seven"),
    "runner": Param(
        "",
        type="string",
        description="Beam runner for corpus and shards; empty: lamina's default (FnApiRunner)",
    ),
    "beam_options": Param(
        "",
        type="string",
        description="extra Beam options for `lamina corpus`, shell-quoted "
        "(e.g. --direct_num_workers=2, or Dataflow's --project/--region/--temp_location)",
    ),
    "vocab_size": Param(2000, type="integer", description="tokenizer vocabulary (LLaMA: 32000)"),
    "pretrain_config": Param(
        "configs/pretrain/tiny.toml", type="string", description="TOML config of `lamina pretrain`"
    ),
    "pretrain_set": Param(
        [],
        type="array",
        description="KEY=VALUE overrides of the pretrain config (`lamina pretrain --set`)",
    ),
    "pretrain_resume": Param(
        True, type="boolean", description="continue from <out>/pretrain/checkpoints/latest if present"
    ),
    "kenlm_bin": Param(
        "",
        type="string",
        description="folder of KenLM's lmplz/build_binary for `lamina models` "
        "(empty: $LAMINA_KENLM_BIN, PATH, ~/.cache/lamina/kenlm-0.3.0/bin)",
    ),
}


def _path(value: str) -> Path:
    """A param path, relative ones against the repository root (tasks run in a temporary cwd)."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else REPO / p


def _lamina_bin(params: dict) -> str:
    """The lamina executable: the param, else the Airflow Variable `lamina_bin`, else <repo>/.venv."""
    chosen = params.get("lamina_bin") or Variable.get("lamina_bin", default=None)
    return str(_path(chosen) if chosen else REPO / ".venv" / "bin" / "lamina")


def _out(params: dict) -> Path:
    return _path(params["out"])


def _input(params: dict) -> str:
    """The input root: the `input` param (local or gs://) or the generated sample world."""
    if params.get("input"):
        given = params["input"]
        return given if "://" in given else str(_path(given))
    return str(_out(params) / SAMPLE_DIR)


def _stage(
    argv: list[str],
    needs: list[tuple[str, str]],
    makes: list[str],
    env: dict[str, str] | None = None,
) -> str:
    """The bash script of one stage: check its inputs, run it, check its outputs.

    `needs` pairs a path with the task that writes it, so a missing input says which stage to rerun;
    `makes` are the paths the stage must have written (a stage that exits 0 without them fails).
    """
    lines = [
        "set -euo pipefail",
        'need() { [ -e "$1" ] || { echo "lamina DAG: missing $1 (written by task $2)" >&2; exit 1; }; }',
        'made() { [ -e "$1" ] || { echo "lamina DAG: stage finished but $1 is missing" >&2; exit 1; }; }',
    ]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in (env or {}).items()]
    lines += [f"need {shlex.quote(path)} {shlex.quote(by)}" for path, by in needs]
    lines.append(f'echo "+ {shlex.join(argv)}"')
    lines.append(shlex.join(argv))
    lines += [f"made {shlex.quote(path)}" for path in makes]
    return "\n".join(lines) + "\n"


def _check_conservation(corpus: Path) -> dict[str, dict[str, int]]:
    """Every source's stats must account for every input document before anything is tokenized.

    Fails (no retry) on no stats at all, an unreadable file, `conservation_ok` false, or counts that
    do not add up; returns {source: {documents_in, documents_kept, dropped}} for the task's XCom.
    """
    stats = sorted((corpus / "stats").glob("*.json"))
    if not stats:
        raise AirflowFailException(f"lamina DAG: no {corpus}/stats/*.json (written by task corpus)")
    summary, bad = {}, []
    for path in stats:
        try:
            s = json.loads(path.read_text())
            dropped = sum(s["dropped"].values())
            adds_up = s["documents_in"] == s["documents_kept"] + dropped
            ok = s["conservation_ok"] is True and adds_up
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise AirflowFailException(f"lamina DAG: unreadable stats {path}: {err!r}") from err
        if not ok:
            bad.append(
                f"{path.name}: documents_in={s['documents_in']} kept={s['documents_kept']} "
                f"dropped={dropped} conservation_ok={s['conservation_ok']}"
            )
        summary[s.get("source", path.stem)] = {
            "documents_in": s["documents_in"],
            "documents_kept": s["documents_kept"],
            "dropped": dropped,
        }
    if bad:
        raise AirflowFailException("lamina DAG: documents lost, not tokenizing: " + "; ".join(bad))
    for source, counts in summary.items():
        print(f"{source}: {counts}")
    return summary


def _pretrain_command(params: dict, corpus: Path, out: Path) -> str:
    """`lamina pretrain` on <corpus>/shards, into <out>; shared by both DAGs."""
    argv = [
        _lamina_bin(params),
        "pretrain",
        "--config",
        str(_path(params["pretrain_config"])),
        "--manifest",
        str(corpus / "shards" / "manifest.json"),
        "--out",
        str(out),
    ]
    if params.get("pretrain_resume"):
        argv.append("--resume")
    for kv in params.get("pretrain_set") or []:
        argv += ["--set", kv]
    return _stage(
        argv,
        needs=[
            (str(corpus / "shards" / "manifest.json"), "tokenizer_shards"),
            (str(_path(params["pretrain_config"])), "(the pretrain_config param)"),
        ],
        makes=[str(out / "metrics.jsonl"), str(out / "tokenizer.model")],
    )


# What both DAGs share: triggered by hand (or by another DAG), one run at a time, no backfill.
DAG_SETTINGS = dict(
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "lamina", "retries": 0},
    tags=["lamina"],
)

with DAG(
    dag_id="lamina_pipeline",
    description="sample -> models -> corpus -> tokenizer -> shards -> report -> pretrain",
    **DAG_SETTINGS,
    params=PIPELINE_PARAMS,
) as pipeline_dag:

    @task.bash
    def sample(params=None) -> str:
        """Write the sample world to <out>/sample, or check that the given `input` root exists."""
        if params.get("input"):
            given = _input(params)
            if "://" in given:
                return f"echo {shlex.quote('using remote input ' + given)}"
            return _stage(["echo", f"using input {given}"], [(given, "(the input param)")], [])
        world = _out(params) / SAMPLE_DIR
        argv = [_lamina_bin(params), "sample", "--out", str(world)]
        argv += ["--seed", str(params["sample_seed"])]
        return _stage(argv, needs=[], makes=[str(world / "ground_truth.jsonl")])

    @task.bash
    def models(params=None) -> str:
        """Train language id, SentencePiece + KenLM per language and the reference classifier."""
        models_dir = _out(params) / MODELS_DIR
        argv = [_lamina_bin(params), "models", "--sample", _input(params), "--out", str(models_dir)]
        env = {"LAMINA_KENLM_BIN": params["kenlm_bin"]} if params.get("kenlm_bin") else None
        needs = [] if "://" in _input(params) else [(_input(params), "sample")]
        return _stage(argv, needs, [str(models_dir / f) for f in MODEL_FILES], env)

    @task.bash
    def corpus(params=None) -> str:
        """Every source pipeline on Beam (`--runner` and `beam_options` are passed through)."""
        out = _out(params)
        argv = [_lamina_bin(params), "corpus", "--input", _input(params)]
        argv += ["--models", str(out / MODELS_DIR), "--out", str(out / CORPUS_DIR)]
        argv += ["--config", str(_path(params["corpus_config"]))]
        if params.get("sources"):
            argv += ["--sources", params["sources"]]
        if params.get("runner"):
            argv += ["--runner", params["runner"]]
        argv += shlex.split(params.get("beam_options") or "")
        needs = [(str(out / MODELS_DIR / f), "models") for f in MODEL_FILES]
        return _stage(argv, needs, [str(out / CORPUS_DIR / "stats"), str(out / CORPUS_DIR / "docs")])

    @task
    def check_conservation(params=None) -> dict[str, dict[str, int]]:
        """Refuse to tokenize a corpus whose statistics report a lost document."""
        return _check_conservation(_out(params) / CORPUS_DIR)

    @task.bash
    def tokenizer_train(params=None) -> str:
        """Train the SentencePiece BPE tokenizer on the kept documents."""
        c = _out(params) / CORPUS_DIR
        argv = [_lamina_bin(params), "tokenizer", "train", "--corpus", str(c)]
        argv += ["--vocab-size", str(params["vocab_size"])]
        return _stage(argv, [(str(c / "docs"), "corpus")], [str(c / "tokenizer" / "tokenizer.model")])

    @task.bash
    def tokenizer_shards(params=None) -> str:
        """Encode the kept documents into Megatron shards and write manifest.json (mixture weights)."""
        c = _out(params) / CORPUS_DIR
        argv = [_lamina_bin(params), "tokenizer", "shards", "--corpus", str(c)]
        if params.get("runner"):
            argv += ["--runner", params["runner"]]
        needs = [(str(c / "docs"), "corpus"), (str(c / "tokenizer" / "tokenizer.model"), "tokenizer_train")]
        return _stage(argv, needs, [str(c / "shards" / "manifest.json")])

    @task.bash
    def report(params=None) -> str:
        """The HTML filter reports, from <out>/corpus/stats only."""
        c = _out(params) / CORPUS_DIR
        argv = [_lamina_bin(params), "report", "--corpus", str(c)]
        return _stage(argv, [(str(c / "stats"), "corpus")], [str(c / "report" / "index.html")])

    @task.bash
    def pretrain(params=None) -> str:
        """Train the model of `pretrain_config` on the shards, into <out>/pretrain."""
        return _pretrain_command(params, _out(params) / CORPUS_DIR, _out(params) / PRETRAIN_DIR)

    checked = sample() >> models() >> corpus() >> check_conservation()
    checked >> tokenizer_train() >> tokenizer_shards() >> pretrain()
    checked >> report()


PRETRAIN_PARAMS = {
    k: PIPELINE_PARAMS[k] for k in ("lamina_bin", "pretrain_config", "pretrain_set", "pretrain_resume")
}
PRETRAIN_PARAMS["corpus"] = Param(
    "out/corpus", type="string", description="a corpus run directory with shards/manifest.json"
)
PRETRAIN_PARAMS["out"] = Param("out/pretrain", type="string", description="the run directory")

with DAG(
    dag_id="lamina_pretrain",
    description="lamina pretrain on the shards of an earlier corpus run",
    **DAG_SETTINGS,
    params=PRETRAIN_PARAMS,
) as pretrain_dag:

    @task.bash(task_id="pretrain")
    def pretrain_only(params=None) -> str:
        """Train on <corpus>/shards (another config, more steps, or a resumed run)."""
        return _pretrain_command(params, _path(params["corpus"]), _path(params["out"]))

    pretrain_only()
