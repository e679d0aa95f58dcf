"""`lamina corpus` on the portable Fn API path, its SDK workers in SEPARATE processes started by an
external worker pool (`apache_beam.runners.worker.worker_pool_main`) whose environment holds only what
a Dataflow job stages: `make worker-venv` (setup.py's install_requires, pinned by requirements.txt)
plus this tree's sdist. A runtime dependency missing from setup.py fails here, as it would on Dataflow
workers. Two workers; the outputs must be byte-identical to the default runner's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lamina.pipelines.corpus import WEB_SOURCES, run
from lamina.pipelines.runners import children, worker_pool
from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def worker_site(tmp_path_factory) -> tuple[Path, Path]:
    """(python of the clean worker venv, a folder holding this tree's package installed from its sdist)."""
    made = subprocess.run(["make", "-s", "worker-venv"], cwd=REPO, capture_output=True, text=True)
    assert made.returncode == 0, f"make worker-venv failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}"
    venv = Path(made.stdout.strip().splitlines()[-1])
    python = venv / "bin" / "python"
    tmp = tmp_path_factory.mktemp("worker_site")
    build = subprocess.run(
        [str(python), "setup.py", "-q", "egg_info", "--egg-base", str(tmp), "sdist", "--dist-dir", str(tmp)],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (sdist,) = tmp.glob("lamina-*.tar.gz")
    site = tmp / "site"
    inst = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(sdist)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert inst.returncode == 0, inst.stderr[-3000:]
    return python, site


def _clean_env(site: Path) -> dict[str, str]:
    keep = {k: os.environ[k] for k in ("HOME", "LANG", "LAMINA_KENLM_BIN", "TMPDIR") if k in os.environ}
    return {**keep, "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(site)}


def test_worker_venv_holds_the_runtime_only(worker_site, tmp_path):
    python, site = worker_site
    env = _clean_env(site)
    probe = (
        "import importlib.util as u, lamina, apache_beam, fasttext, kenlm, punkt;"
        "print(lamina.__file__, u.find_spec('torch') is None, u.find_spec('matplotlib') is None)"
    )
    got = subprocess.run([str(python), "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert got.returncode == 0, got.stderr[-2000:]
    where, no_torch, no_matplotlib = got.stdout.split()
    assert where.startswith(str(site))  # the sdist's copy, not this tree
    assert no_torch == "True" and no_matplotlib == "True"  # training/report packages stay off workers


@pytest.mark.slow
def test_corpus_on_an_external_worker_pool_matches_the_default_runner(
    worker_site, sample_world, sample_models, tmp_path
):
    python, site = worker_site
    common = [
        "--input",
        str(sample_world),
        "--models",
        str(sample_models),
        "--sources",
        ",".join(WEB_SOURCES),
    ]
    ref = run([*common, "--out", str(tmp_path / "ref"), f"--runner={FN_API_RUNNER}", *IN_PROCESS])
    with worker_pool(python, env=_clean_env(site), cwd=tmp_path) as (address, pool_pid):
        got = run(
            [*common, "--out", str(tmp_path / "pool"), "--runner=lamina.pipelines.runners.ExternalPoolRunner",
             "--environment_type=EXTERNAL", f"--environment_config={address}", "--direct_num_workers=2"]
        )  # fmt: skip
        workers = children(pool_pid)
    assert len(workers) >= 2, f"the pool started {len(workers)} worker process(es)"
    assert got.stats.keys() == ref.stats.keys() == set(WEB_SOURCES)

    def files(root: Path) -> dict[str, bytes]:
        # run.json is the run's provenance (times, command line): it differs by design
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "run.json"
        }

    a, b = files(tmp_path / "ref"), files(tmp_path / "pool")
    assert a.keys() == b.keys() and any(k.startswith("docs/commoncrawl/") for k in a)
    assert [k for k in a if a[k] != b[k]] == []
