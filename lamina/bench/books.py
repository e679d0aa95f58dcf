"""`lamina bench books`: the Books pipeline's near-duplicate clusters, components in Beam against the
previous design (every edge gathered into one list, clusters a singleton side input), side by side.

    lamina bench books                          # 1x and 10x sample worlds, 3 runs each design
    lamina bench books --scales 1,10,100 --repeats 5 --peer <git revision>

The peer is the repository's own code at `--peer` (default `PEER`, main just before the change),
unpacked with `git archive` into the work folder and run with PYTHONPATH pointing at it. Each run is
one `lamina corpus --sources books --write-dropped` in a child process (`lamina.bench.scale`'s child:
FnApiRunner, multi-process, one worker), the two designs alternated within each repeat (new, peer,
then peer, new, ...). Printed per scale, medians: wall seconds (pipeline built, run, statistics
read), shuffle bytes per input byte and elements (Beam's per-PCollection counters of every
GroupByKey input), the largest `lamina.scale/group_elements`, and whether both designs wrote
byte-identical documents and drops (docs/books and dropped/books) with the same statistics.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

PEER = "c4c4fae"  # main before the components change (gather_edges + resolve_clusters)
REPO = Path(__file__).resolve().parents[2]


def _peer_tree(work: Path, rev: str) -> Path:
    """The `lamina` package at `rev`, unpacked under work/peer-<rev>."""
    root = work / f"peer-{rev}"
    if not (root / "lamina").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "lamina"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.jsonl.gz"))}


def _run(design: str, path: Path, world: Path, out: Path, work: Path) -> dict:
    from lamina.bench.scale import run_point
    from lamina.pipelines.corpus import DEFAULT_RUNNER

    argv = ["--input", str(world), "--out", str(out), "--sources", "books", "--write-dropped",
            f"--runner={DEFAULT_RUNNER}", "--direct_num_workers=1", "--direct_running_mode=multi_processing"]  # fmt: skip
    old, here = os.environ.get("PYTHONPATH"), os.getcwd()
    # the child (`python -m`: its working folder first on sys.path) and its SDK workers import this
    # tree's lamina
    os.environ["PYTHONPATH"] = str(path)
    os.chdir(path)
    try:
        got = run_point(argv, work)
    finally:
        os.chdir(here)
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    got["outputs"] = {k: _tree(out / k / "books") for k in ("docs", "dropped")}
    return got


def bench(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(prog="lamina bench books", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="1,10", help="copies of the sample world (default 1,10)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per design and scale, alternated")
    ap.add_argument("--peer", default=PEER, help=f"git revision of the previous design (default {PEER})")
    ap.add_argument("--work", type=Path, default=None, help="folder for worlds and outputs (default: temp)")
    args = ap.parse_args(argv or [])
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        return _bench(args, args.work.resolve())
    with tempfile.TemporaryDirectory(prefix="lamina-bench-books-") as tmp:
        return _bench(args, Path(tmp))


def _bench(args: argparse.Namespace, work: Path) -> list[dict]:
    from lamina.bench.scale import _input_bytes, make_world

    designs = {"components": REPO, "peer": _peer_tree(work, args.peer)}
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'scale':>6}{'books':>7}{'design':>12}{'wall s':>8}{'shuffle B/B':>12}{'shuffle elems':>14}"
          f"{'max group':>10}")  # fmt: skip
    rows = []
    for n in (int(s) for s in args.scales.split(",")):
        world, _ = make_world(work, n)
        input_bytes = max(1, _input_bytes(world, "books"))
        runs: dict[str, list[dict]] = {d: [] for d in designs}
        for rep in range(args.repeats):
            order = list(designs) if rep % 2 == 0 else list(reversed(designs))
            for d in order:
                runs[d].append(_run(d, designs[d], world, work / f"out-{n}-{d}", work))
        med = {}
        for d, rs in runs.items():
            st = rs[-1]["stats"]["books"]
            med[d] = {
                "wall": statistics.median(r["wall"] for r in rs),
                "shuffle": statistics.median(r["shuffle_bytes"] for r in rs) / input_bytes,
                "elements": statistics.median(r["shuffle_elements"] for r in rs),
                "group": max(r["scale_metrics"].get("group_elements", 0) for r in rs),
                "books": st["documents_in"],
            }
            m = med[d]
            print(f"{n:>5}x{m['books']:>7}{d:>12}{m['wall']:>8.1f}{m['shuffle']:>12.3f}{m['elements']:>14.0f}"
                  f"{m['group']:>10.0f}", flush=True)  # fmt: skip
        new, peer = runs["components"][-1], runs["peer"][-1]
        same = new["outputs"] == peer["outputs"] and new["stats"] == peer["stats"]
        c, p = med["components"], med["peer"]
        print(
            f"{n:>5}x components / peer: wall {c['wall'] / p['wall']:.2f}x, shuffle bytes "
            f"{c['shuffle'] / p['shuffle']:.2f}x, elements {c['elements'] / p['elements']:.2f}x; outputs and "
            f"statistics {'byte-identical' if same else 'DIFFER'}",
            flush=True,
        )
        rows.append({"scale": n, "components": c, "peer": p, "identical": same})
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return rows
