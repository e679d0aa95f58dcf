"""`lamina plan` end to end: the printed table and the JSON agree with the computations, the plot is
written (the same bytes twice), corpus epochs come from a real shards manifest, the corpus report embeds
the plan, bad input is a one-line error, and torch stays unimported unless a GPU figure needs it."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lamina.plan import scaling
from lamina.plan.cli import main
from lamina.tokenize.indexed import IndexedWriter
from lamina.tokenize.shards import write_manifest

REPO = Path(__file__).resolve().parents[2]


def _run(argv, capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_budget_served_and_target(tmp_path, capsys):
    out = tmp_path / "plan.json"
    argv = ["--gpu-days", "20000", "--mfu", "0.45", "--served", "2T", "--target-loss", "2.0"]
    argv += ["--candidates", "7b,13b", "--gpus", "512", "--out", str(out)]
    rc, text, err = _run(argv, capsys)
    assert rc == 0, err
    plan = json.loads(out.read_text())
    budget = 20000 * 24 * 3600 * 312e12 * 0.45
    assert plan["inputs"]["compute_flops"] == pytest.approx(budget)
    fit = scaling.FITS["chinchilla"]
    assert plan["compute_optimal"]["params"] == pytest.approx(scaling.compute_optimal(fit, budget).n)
    inf = plan["inference_optimal"]
    assert inf["quality_loss"] == 2.0 and inf["loss"] == pytest.approx(2.0)
    assert inf["params"] < inf["compute_optimal_same_loss"]["params"]
    assert inf["tokens"] > inf["compute_optimal_same_loss"]["tokens"]
    assert 0 < inf["lifetime_saving"] < 1
    assert plan["target"]["reachable"] and plan["target"]["smallest_model"]["loss"] <= 2.0 + 1e-12
    for c in plan["candidates"]:  # each spends the whole budget at the trainer's FLOPs per token
        assert c["tokens_from"] == "budget"
        assert c["train_flops"] == pytest.approx(budget)
        assert c["gpu_hours"] == pytest.approx(20000 * 24)
        assert c["days"] == pytest.approx(20000 / 512)
        assert c["inference_flops"] == pytest.approx(2 * c["params_non_embedding"] * 2e12)
    c7, c13 = plan["candidates"]
    assert c13["loss"] < c7["loss"]  # on one budget the larger model predicts the lower loss
    m = c7["match_best"]  # what 7B needs to match it, and the serving volume above which it pays off
    assert m["of"] == "13b" and fit.loss(c7["params"], m["tokens"]) == pytest.approx(c13["loss"], abs=1e-9)
    assert m["tokens"] > c7["tokens"] and m["days"] == pytest.approx(m["gpu_hours"] / 512 / 24)

    def life(c, tokens, served):
        return c["flops_per_token"] * tokens + 2 * c["params_non_embedding"] * served

    i = m["break_even_served"]
    assert life(c7, m["tokens"], i) == pytest.approx(life(c13, c13["tokens"], i), rel=1e-9)
    assert life(c7, m["tokens"], 2 * i) < life(c13, c13["tokens"], 2 * i)
    assert "13b" in text and "Inference-adjusted" in text and "smallest model within the budget" in text
    png, svg = out.with_suffix(".png"), out.with_suffix(".svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in svg.read_bytes()[:1000]
    first = png.read_bytes(), svg.read_bytes(), out.read_bytes()
    assert _run(argv, capsys)[0] == 0
    assert (png.read_bytes(), svg.read_bytes(), out.read_bytes()) == first  # deterministic


def test_any_two_of_compute_params_tokens(capsys, tmp_path):
    out = tmp_path / "p.json"
    for argv, check in (
        (["--compute", "1e23", "--params", "10B"], lambda p: p["tokens"] == pytest.approx(1e23 / 6e10)),
        (["--compute", "1e23", "--tokens", "1T"], lambda p: p["params"] == pytest.approx(1e23 / 6e12)),
        (["--params", "7B", "--tokens", "1T"], lambda p: p["compute_flops"] == pytest.approx(4.2e22)),
        (["--params", "7B"], lambda p: p["tokens"] > 7e9),  # on the compute-optimal frontier
    ):
        assert _run([*argv, "--candidates", "", "--out", str(out), "--no-plot"], capsys)[0] == 0
        assert check(json.loads(out.read_text())["point"])


def _real_shards(shared: Path, out: Path) -> Path:
    """Byte-level shards of real C4 pages and a Gutenberg book, and their manifest (the shards' format)."""
    with gzip.open(shared / "c4" / "c4-en-train.00000-of-01024.head.json.gz", "rt", encoding="utf-8") as f:
        c4 = [json.loads(line)["text"].encode() for _, line in zip(range(100), f, strict=False)]
    book = (shared / "books" / "12-0.txt").read_bytes()
    records, sources = [], {}
    for source, docs in (("c4", c4), ("books", [book])):
        with IndexedWriter(out / f"{source}_00000", np.uint16) as w:
            for d in docs:
                w.add(np.append(np.frombuffer(d, dtype=np.uint8).astype(np.uint16), 256))
            records.append(
                {"name": f"{source}_00000", "source": source, "documents": len(w), "tokens": w.num_tokens}
            )
        sources[source] = {"documents": records[-1]["documents"], "tokens": records[-1]["tokens"]}
    manifest = {"format": "megatron-indexed-dataset", "version": 1, "vocab_size": 257, "sources": sources,
                "mixture": {"weights": {"c4": 0.8, "books": 0.2}}, "shards": records}  # fmt: skip
    write_manifest(manifest, out)
    return out


def test_corpus_epochs_from_a_real_manifest(shared_data, tmp_path, capsys):
    shards = _real_shards(shared_data, tmp_path)
    on_disk = {}
    for s in ("c4", "books"):  # counted from the .bin files themselves
        on_disk[s] = (tmp_path / f"{s}_00000.bin").stat().st_size // 2
    out = tmp_path / "plan.json"
    rc, text, err = _run(
        ["--candidates", "tiny@1e7", "--manifest", str(shards), "--out", str(out), "--no-plot"], capsys
    )
    assert rc == 0, err
    corpus = json.loads(out.read_text())["candidates"][0]["corpus"]
    for s, w in (("c4", 0.8), ("books", 0.2)):
        assert corpus[s]["tokens_available"] == on_disk[s]
        assert corpus[s]["epochs"] == pytest.approx(w * 1e7 / on_disk[s])
    assert "epochs per source" in text
    rc, _, _ = _run(["--candidates", "tiny@1e7", "--manifest", str(shards), "--mixture", "c4=1,books=3",
                     "--out", str(out), "--no-plot"], capsys)  # fmt: skip
    corpus = json.loads(out.read_text())["candidates"][0]["corpus"]
    assert corpus["books"]["epochs"] == pytest.approx(0.75 * 1e7 / on_disk["books"])
    rc, _, err = _run(
        ["--candidates", "tiny@1e7", "--manifest", str(shards), "--mixture", "c4=1,arxiv=1"], capsys
    )
    assert rc == 2 and "samples arxiv but the manifest holds no tokens" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--compute", "1e23", "--params", "7B", "--tokens", "1T"], "at most two"),
        (["--compute", "lots"], "--compute: 'lots' is not a number"),
        (["--gpu-days", "100"], "needs --mfu"),
        (
            ["--compute", "1e23", "--gpu", "Imaginary X1", "--mfu", "0.4"],
            "not in the trainer's peak-FLOPS table",
        ),
        (["--target-loss", "1.5", "--compute", "1e23"], "not above the fit's irreducible loss"),
        (["--candidates", "7b", "--tokens-per-s-per-gpu", "8b=300"], "8b is not a candidate"),
        (["--mfu", "45"], "fraction"),
        (["--mfu", "0.4", "--peak-tflops", "-3"], "--peak-tflops must be positive"),
        (["--gpu", "H100", "--mfu", "0.4"], "ambiguous"),
        (["--mfu-from", "/nonexistent/run"], "cannot read the run's metrics"),
        (["--manifest", "/nonexistent/shards"], "cannot read the manifest"),
        (["--fit-set", "Z=3"], "--fit-set 'Z=3'"),
    ],
)
def test_bad_input_is_one_line(argv, message, capsys):
    rc, _, err = _run(argv, capsys)
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("lamina plan: error: ") and message in err


def _modules_after(code: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True
    )
    return set(res.stdout.split())


def test_torch_is_not_imported_unless_a_gpu_figure_needs_it(tmp_path):
    show = "import sys; print(' '.join(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    assert _modules_after(f"import lamina.cli, lamina.plan.cli; {show}") == set()
    plan = f"from lamina.cli import main; main(['plan', '--compute', '1e23', '--served', '1T']); {show}"
    assert "torch" not in _modules_after(plan)


def test_report_shows_the_plan(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    (corpus / "stats").mkdir(parents=True)
    stats = {"source": "c4", "pipeline": "c4", "documents_in": 10, "documents_kept": 7, "dropped": {"lorem_ipsum": 3},
             "funnel": [{"stage": "rules", "in": 10, "kept": 7, "dropped": {"lorem_ipsum": 3}}]}  # fmt: skip
    (corpus / "stats" / "c4.json").write_text(json.dumps(stats))
    plan = tmp_path / "plan.json"
    assert main(["--compute", "1e23", "--candidates", "7b,13b", "--served", "1T", "--out", str(plan)]) == 0
    from lamina.reports.cli import main as report

    assert report(["--corpus", str(corpus), "--plan", str(plan)]) == 0
    index = (corpus / "report" / "index.html").read_text()
    assert "<h2>Training plan</h2>" in index and "Inference-adjusted" in index and ">13b</td>" in index
    assert index.count("data:image/png;base64,") == 1  # the plan's plot (the report's own charts are SVG)
    plan.write_text(json.dumps({"fit": {}, "candidates": [{}]}))
    capsys.readouterr()
    assert report(["--corpus", str(corpus), "--plan", str(plan)]) == 2
    assert f"{plan}: not a plan" in capsys.readouterr().err


def test_llama_corpus_table_gives_table_1_epochs(capsys, tmp_path):
    """configs/plan/llama1-corpus.json holds LLaMA's corpus as its Table 1 implies it; 65B's 1.4T tokens
    (from configs/pretrain/65b.toml) make Table 1's epochs again, and 7B on 5x the tokens makes 5x."""
    table = json.loads((REPO / "configs" / "plan" / "llama1-corpus.json").read_text())
    out = tmp_path / "p.json"
    argv = ["--candidates", "65b,7b@7T", "--manifest", str(REPO / "configs/plan/llama1-corpus.json")]
    assert _run([*argv, "--tokens-per-s-per-gpu", "7b=3000", "--out", str(out), "--no-plot"], capsys)[0] == 0
    c65, c7 = json.loads(out.read_text())["candidates"]
    assert c7["name"] == "7b@7T" and c7["tokens_per_s_per_gpu"] == 3000  # per-name values match NAME@TOKENS
    for source, row in table["sources"].items():
        assert c65["corpus"][source]["epochs"] == pytest.approx(row["epochs_at_1.4T"], rel=2e-3)
        assert c7["corpus"][source]["epochs"] == pytest.approx(5 * row["epochs_at_1.4T"], rel=2e-3)
