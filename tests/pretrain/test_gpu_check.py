"""scripts/gpu_check.py (`make gpu-check`) without a GPU: its argument parsing, the formula it checks
the 13B layer against, the isolation of checks (a failure recorded, the others still run, the time
budget kept), the JSON it writes, and a whole run of the checks that mean something on CPU, on the
tiny model, through the real Trainer."""

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gc():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # ~40 s: four modes through the real Trainer, the layer measured four times
def test_cpu_run_of_every_check_writes_the_figures(gc, tmp_path, capsys):
    out = tmp_path / "g.json"
    argv = ["--device", "cpu", "--preset", "tiny", "--seq", "64", "--batch", "2", "--steps", "2"]
    assert gc.main(argv + ["--out", str(out)]) == 0
    report = json.loads(out.read_text())
    checks = report["checks"]
    assert list(checks) == [
        "environment",
        "xformers_vs_sdpa",
        "manual_backward",
        "activation_memory",
        "train",
        "fsdp_bf16",
        "compile",
    ]
    assert report["ok"] and checks["environment"]["figures"]["peak_bf16_tflops"] is None
    assert checks["xformers_vs_sdpa"] == {**checks["xformers_vs_sdpa"], "status": "skipped"}
    manual = checks["manual_backward"]["figures"]
    assert manual["sdpa.fp32.max_rel_diff"] < 1e-4 and manual["sdpa.bf16.max_rel_diff"] < 3e-2
    modes = checks["activation_memory"]["figures"]["modes"]
    assert modes["manual"]["matches"] and modes["full"]["matches"]
    assert modes["full"]["bytes"] < modes["manual"]["bytes"] < modes["none"]["bytes"]
    train = checks["train"]["figures"]
    assert set(train["modes"]) == {"none", "manual", "full", "selective"}
    for mode, r in train["modes"].items():
        assert r["status"] == "ok" and r["tokens_per_s"] > 0 and r["steps_timed"] == 2, mode
        assert r["mfu"] is None and 4 < r["val_loss"] < 12, mode  # CPU: no MFU figure; random tokens
    assert train["mfu_aim_met"] is None
    fsdp = checks["fsdp_bf16"]["figures"]  # one-rank gloo group, FSDP2, sharded init: the plain model's loss
    assert (
        fsdp["backend"] == "gloo"
        and fsdp["loss_rel_diff"] < 1e-5
        and fsdp["loss_fsdp"][-1] < fsdp["loss_fsdp"][0]
    )
    assert checks["compile"]["status"] == "skipped"
    printed = capsys.readouterr().out
    assert "gpu-check train" in printed and f"figures in {out}" in printed


def test_the_13b_formula_and_the_comparison(gc):
    f = gc.activation_formula(seq=2048, batch=1, dim=5120, hidden=13824, heads=40)
    assert f["manual"] == 12 * 2048 * 5120 + 4 * 2048 * 13824 == 239_075_328  # 12sbh + 4sbf, bf16
    assert f["full"] == 2 * 2048 * 5120 and f["none"] == 34 * 2048 * 5120
    rows = gc.compare_to_formula({"manual": f["manual"] * 1.003, "full": f["full"] * 1.2, "none": 1}, f)
    assert rows["manual"]["matches"] and not rows["full"]["matches"]
    assert "matches" not in rows["none"]  # reference only: the 34sbh formula is not this code's


def test_a_failing_check_is_recorded_and_the_others_still_run(gc, tmp_path):
    def boom(args, device, deadline):
        raise torch.OutOfMemoryError("CUDA out of memory (raised by the test)")

    args = gc.parse(["--device", "cpu", "--out", str(tmp_path / "g.json")])
    checks = {"boom": boom, "environment": gc.check_environment, "skip": gc.check_xformers_vs_sdpa}
    report = gc.run_checks(checks, args, torch.device("cpu"), tmp_path / "g.json")
    on_disk = json.loads((tmp_path / "g.json").read_text())
    assert on_disk == json.loads(json.dumps(report, default=str))
    assert (
        report["checks"]["boom"]["status"] == "failed"
        and "out of memory" in report["checks"]["boom"]["error"]
    )
    assert report["checks"]["environment"]["status"] == "ok"
    assert report["checks"]["skip"]["status"] == "skipped" and report["ok"] is False
    args.budget = 0  # nothing starts after the budget: skipped, not run
    report = gc.run_checks({"environment": gc.check_environment}, args, torch.device("cpu"), None)
    assert report["checks"]["environment"]["status"] == "skipped" and report["ok"]


def test_a_check_that_overruns_the_budget_is_interrupted_and_recorded(gc, tmp_path, monkeypatch):
    def stuck(args, device, deadline):
        end = time.monotonic() + 30
        while time.monotonic() < end:
            time.sleep(0.01)
        return {}

    monkeypatch.setattr(gc, "GRACE_S", 0.5)
    args = gc.parse(["--device", "cpu", "--budget", "0.5"])
    t0 = time.monotonic()
    report = gc.run_checks({"stuck": stuck, "after": gc.check_environment}, args, torch.device("cpu"), None)
    assert time.monotonic() - t0 < 10
    assert (
        report["checks"]["stuck"]["status"] == "failed"
        and "time budget" in report["checks"]["stuck"]["error"]
    )
    assert report["checks"]["after"]["status"] == "skipped"  # started after the budget


def test_arguments(gc, capsys):
    args = gc.parse(["--modes", "manual,none", "--only", "train", "--budget", "60"])
    assert (args.modes, args.only, args.budget, args.preset, args.seq) == (
        ["manual", "none"],
        ["train"],
        60,
        "1b",
        2048,
    )
    for bad in (["--modes", "manual,bogus"], ["--only", "nope"], ["--device", "tpu"]):
        with pytest.raises(SystemExit):
            gc.parse(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the no-CUDA path")
def test_without_cuda_it_still_writes_the_json_saying_why(gc, tmp_path, capsys):
    out = tmp_path / "sub" / "g.json"
    assert gc.main(["--out", str(out)]) == 2
    assert "no CUDA device here" in capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["ok"] is False and "no CUDA device" in report["error"] and report["environment"]["torch"]


def test_an_unwritable_out_is_one_line_before_any_check(gc, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert gc.main(["--device", "cpu", "--only", "environment", "--out", str(blocker / "g.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpu-check: cannot write") and err.count("\n") == 1


# A run ended from outside: the check still running is recorded as failed and the JSON keeps the
# checks before it. In a subprocess: the abort ends the process (os._exit).
ABORT_SCRIPT = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("gpu_check", sys.argv[1])
gc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gc)
gc.GRACE_S, gc.HANG_S = 0.5, 0.5

def stubborn(args, device, deadline):  # swallows SIGALRM's interruption, as a broad `except` would
    print("stubborn started", flush=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            time.sleep(0.05)
        except Exception:
            pass
    return {}

args = gc.parse(["--device", "cpu", "--budget", sys.argv[3]])
gc.run_checks({"environment": gc.check_environment, "stubborn": stubborn}, args, gc.torch.device("cpu"),
              gc.Path(sys.argv[2]))
print("not reached", flush=True)
"""


def _abort_run(tmp_path, budget: str, terminate: bool):
    out = tmp_path / "g.json"
    script = tmp_path / "abort.py"
    script.write_text(ABORT_SCRIPT)
    cmd = [sys.executable, str(script), str(ROOT / "scripts" / "gpu_check.py"), str(out), budget]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    if terminate:
        assert proc.stdout.readline().startswith("gpu-check environment")
        assert proc.stdout.readline() == "stubborn started\n"
        proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    report = json.loads(out.read_text())
    return proc.returncode, time.monotonic() - t0, stdout + stderr, report


def test_sigterm_records_the_running_check_and_keeps_the_figures(tmp_path):
    rc, _, printed, report = _abort_run(tmp_path, "600", terminate=True)
    assert rc == 1 and "not reached" not in printed
    assert report["checks"]["environment"]["status"] == "ok"  # what ran before is kept
    stubborn = report["checks"]["stubborn"]
    assert stubborn["status"] == "failed" and "SIGTERM" in stubborn["error"]
    assert report["ok"] is False and "SIGTERM" in report["aborted"]


def test_a_check_that_ignores_the_alarm_is_ended_by_the_watchdog(tmp_path):
    rc, seconds, printed, report = _abort_run(tmp_path, "5", terminate=False)
    assert rc == 1 and "not reached" not in printed and seconds < 30
    stubborn = report["checks"]["stubborn"]
    assert stubborn["status"] == "failed" and "not interruptible" in stubborn["error"]
    assert report["checks"]["environment"]["status"] == "ok" and report["ok"] is False
