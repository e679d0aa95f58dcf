"""`lamina bench refilter`: `lamina refilter` vs the full CommonCrawl rerun it replaces, and the cost
of `lamina corpus --annotate` vs a plain run, on a scaled sample world (docs/refilter.md).

Alternated A/B runs, medians printed with their ratio, all on the in-process FnApiRunner (one core):
- plain run vs annotated run (`--annotate`): what scoring every page with every model costs;
- full rerun with the new threshold (`--annotate --set ...`) vs `lamina refilter --set ...` on the
  annotated run: the time a threshold change takes either way.
Needs models of the 1x sample world (`--models`, default out/models; trained into the work folder
when missing, a few minutes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

RUNNER = [
    "--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner",
    "--direct_num_workers=1",
    "--direct_running_mode=in_memory",
]


def _corpus(world: Path, models: Path, out: Path, *extra: str) -> float:
    from lamina.pipelines.corpus import run

    t0 = time.perf_counter()
    argv = ["--input", str(world), "--models", str(models), "--out", str(out), "--sources", "commoncrawl"]
    run([*argv, *RUNNER, *extra])
    return time.perf_counter() - t0


def _refilter(corpus: Path, out: Path, sets: list[str]) -> float:
    from lamina.refilter.cli import run

    t0 = time.perf_counter()
    run(["--corpus", str(corpus), "--out", str(out), *sets, *RUNNER])
    return time.perf_counter() - t0


def bench(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(prog="lamina bench refilter", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=10, help="copies of the sample world (default 10)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per side, alternated; medians (default 3)")
    ap.add_argument(
        "--set",
        action="append",
        default=None,
        metavar="TABLE.KEY=VALUE",
        help="the threshold change (default ccnet.lid_threshold=0.6)",
    )
    ap.add_argument("--models", type=Path, default=Path("out/models"), help="models of the 1x sample world")
    ap.add_argument(
        "--work", type=Path, default=None, help="folder for the world and outputs (default: temp)"
    )
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 copy, 1 run per side")
    args = ap.parse_args(argv or [])
    if args.quick:
        args.scale, args.repeats = 1, 1
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        return _bench(args, args.work)
    with tempfile.TemporaryDirectory(prefix="lamina-bench-refilter-") as tmp:
        return _bench(args, Path(tmp))


def _bench(args: argparse.Namespace, work: Path) -> list[dict]:
    from lamina.bench.scale import _ensure_base, make_world

    _, models = _ensure_base(None, args.models, work)
    world, _ = make_world(work, args.scale)
    sets = [a for s in (args.set or ["ccnet.lid_threshold=0.6"]) for a in ("--set", s)]
    print(
        f"world: {args.scale} copies of the sample world under {world}; change: {' '.join(sets)}", flush=True
    )
    base = work / "annotated"
    _corpus(world, models, base, "--annotate")  # the run refilter starts from (warms the caches too)
    times: dict[str, list[float]] = {"plain": [], "annotated": [], "full rerun": [], "refilter": []}
    for i in range(args.repeats):
        times["plain"].append(_corpus(world, models, work / f"plain-{i}"))
        times["annotated"].append(_corpus(world, models, work / f"again-{i}", "--annotate"))
        times["full rerun"].append(_corpus(world, models, work / f"full-{i}", "--annotate", *sets))
        times["refilter"].append(_refilter(base, work / f"refilter-{i}", sets))
        print("  " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [
        {"what": "annotate mode vs plain run", "a": med["annotated"], "b": med["plain"]},
        {"what": "refilter vs full rerun", "a": med["refilter"], "b": med["full rerun"]},
    ]
    print(f"{'':<28} {'median s':>9} {'baseline s':>11} {'ratio':>6}")
    for r in rows:
        print(f"{r['what']:<28} {r['a']:>9.1f} {r['b']:>11.1f} {r['a'] / r['b']:>6.2f}x")
    return rows
