"""docs/real-data.md ("From the sample world to real data"): every `bash offline` block runs, in
order, on the real samples in ../shared/data, as a user would type it (`lamina` = this tree's CLI)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "real-data.md"


def offline_blocks() -> list[str]:
    return re.findall(r"```bash offline\n(.*?)```", GUIDE.read_text(), flags=re.S)


def test_the_guide_has_an_offline_command_for_each_step_that_can_run_here():
    text = GUIDE.read_text()
    steps = re.findall(r"^## (\d+)\. ", text, flags=re.M)
    assert steps == [str(i) for i in range(1, 8)]
    blocks = offline_blocks()
    assert len(blocks) == 6  # all but BigQuery (no real export in shared/data; the guide says so)
    readme = (REPO / "README.md").read_text()
    near_top = "\n## ".join(readme.split("\n## ")[1:3])  # the quick start and the section after it
    assert "docs/real-data.md" in near_top  # the short version near the top links to it


@pytest.mark.slow  # trains LID + two LMs on the real dumps and runs four pipelines: ~2-4 min
def test_every_offline_command_of_the_guide_runs(shared_data, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "lamina").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lamina "$@"\n')
    (bindir / "lamina").chmod(0o755)
    kenlm = Path.home() / ".cache" / "lamina" / "kenlm-0.3.0" / "bin"
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "SHARED": str(shared_data),
        "WORK": str(work),
        "LAMINA_KENLM_BIN": os.environ.get("LAMINA_KENLM_BIN", str(kenlm)),
    }
    for block in offline_blocks():
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
        assert proc.returncode == 0, f"{block}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    stats = {p.stem: json.loads(p.read_text()) for p in (work / "corpus" / "stats").glob("*.json")}
    assert sorted(stats) == ["c4", "commoncrawl", "wikipedia"]
    assert all(st["conservation_ok"] for st in stats.values())
    assert stats["commoncrawl"]["documents_in"] == 1  # the one real WET record, through the real models
    assert stats["commoncrawl"]["settings"]["cutoffs_applied"]["en"]["origin"].startswith("model card")
    assert stats["c4"]["documents_kept"] >= 990 and stats["wikipedia"]["documents_kept"] > 100
    summary = json.loads((work / "models" / "models.json").read_text())
    assert summary["trained"] == ["lid", "lm"] and summary["lm_languages"] == ["en", "uk"]
