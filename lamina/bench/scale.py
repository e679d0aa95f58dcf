"""`lamina bench scale`: the corpus pipelines on 1x, 10x and 100x of the scaled world, 1 vs 2 workers.

    lamina bench scale                      # scales 1,10,100; every source; 1 and 2 workers
    lamina bench scale --scales 1,10 --sources commoncrawl,c4 --repeats 3
    lamina bench scale --quick              # smoke test: 1x and 2x, CommonCrawl + C4, one worker

Each (scale, source, workers) point is one `lamina corpus --sources S --write-dropped` run on the
default runner (FnApiRunner, multi-process) in a child process, worker counts alternated within each
repeat (1, 2, then 2, 1, ...) and medians printed. Per point:
- documents/s/core: documents in / wall seconds of the run (pipeline built, run, statistics read; no
  interpreter start) / workers;
- peak RSS, from /proc every 0.1 s: the runner (the child process: on the FnApiRunner it holds every
  shuffle in its own memory), the largest SDK worker (its own high-water mark, VmHWM), and the whole tree
  (the largest sum over one poll);
- the largest single group: Beam's own `sampled_byte_size` of the GroupByKey outputs (max of the
  sampled groups, so a lower bound), and the `lamina.scale` group_elements/group_bytes Distributions
  where the tree's DoFns emit them;
- shuffle bytes per input byte: Beam's per-PCollection counters of every GroupByKey input (element
  count x mean sampled encoded size), over the input files' bytes on disk (compressed as given);
- output shard count and largest shard (docs/<source>/); precision/recall per drop reason against
  the ground truth (CommonCrawl, C4), or drop counts against it (the other sources).
The aims (docs/runners.md): worker peak flat within 20% from 10x to 100x, 2 workers >= 1.6x one on
100x on a quiet machine, precision/recall unchanged. The load average is printed: a busy machine
makes the 1-vs-2 ratio meaningless, and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

PIPELINE_OF = {"commoncrawl": "ccnet"}
ALL_SOURCES = ("commoncrawl", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange")


# ---------------------------------------------------------------- the child: one corpus run


def _child(spec: dict) -> None:
    """Run one `lamina corpus` (spec["argv"]) and write its figures to spec["result"] (JSON)."""
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter

    from lamina.pipelines import options as opts
    from lamina.pipelines.corpus import _parser, beam_options, run

    argv = spec["argv"]
    args, beam_args = _parser().parse_known_args(argv)
    p = beam.Pipeline(options=beam_options(args.runner, beam_args, opts.load_config(args.config)))
    t0 = time.perf_counter()
    corpus = run(argv, test_pipeline=p)
    wall = time.perf_counter() - t0
    result = corpus.result
    proto = p.to_runner_api()  # the same ids the runner saw (deterministic traversal)
    gbk_in, gbk_out = set(), set()
    for t in proto.components.transforms.values():
        if t.spec.urn == "beam:transform:group_by_key:v1":
            gbk_in.update(t.inputs.values())
            gbk_out.update(t.outputs.values())
    shuffle_bytes, shuffle_elements, largest_group = 0.0, 0, 0
    from apache_beam.metrics import monitoring_infos as mi

    counts, sizes = {}, {}
    for infos in getattr(result, "_monitoring_infos_by_stage", {}).values():
        for info in infos:
            pc = info.labels.get("PCOLLECTION")
            if pc is None:
                continue
            if info.urn == mi.ELEMENT_COUNT_URN:
                counts[pc] = counts.get(pc, 0) + mi.extract_counter_value(info)
            elif info.urn == mi.SAMPLED_BYTE_SIZE_URN:
                d = mi.extract_distribution(info)  # (count, sum, min, max)
                old = sizes.get(pc, (0, 0, 0, 0))
                sizes[pc] = (old[0] + d[0], old[1] + d[1], 0, max(old[3], d[3]))
    for pc in gbk_in:
        n, (k, s, _, _) = counts.get(pc, 0), sizes.get(pc, (0, 0, 0, 0))
        shuffle_elements += n
        shuffle_bytes += n * (s / k) if k else 0
    for pc in gbk_out:
        largest_group = max(largest_group, sizes.get(pc, (0, 0, 0, 0))[3])
    scale = {}
    try:
        dists = result.metrics().query(MetricsFilter().with_namespace("lamina.scale"))["distributions"]
        for d in dists:
            name = d.key.metric.name
            r = d.committed
            if r is not None and r.count:
                scale[name] = max(scale.get(name, 0), r.max)
    except Exception:  # noqa: BLE001 - a runner without metrics: leave the figures out
        pass
    out = {
        "wall": wall,
        "stats": {
            s: {k: st[k] for k in ("documents_in", "documents_kept", "dropped")}
            for s, st in corpus.stats.items()
        },
        "shuffle_bytes": shuffle_bytes,
        "shuffle_elements": shuffle_elements,
        "largest_group_bytes_sampled": largest_group,
        "scale_metrics": scale,
    }
    Path(spec["result"]).write_text(json.dumps(out), encoding="utf-8")


# ---------------------------------------------------------------- the parent: memory polling


def _proc_tree(root: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _mem_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB; (0, 0) once it is gone."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def run_point(argv: list[str], work: Path) -> dict:
    """One corpus run in a child process, its memory polled; the child's figures plus peak RSS (MB)."""
    result = work / f"result-{time.time_ns()}.json"
    spec = json.dumps({"argv": argv, "result": str(result)})
    proc = subprocess.Popen(
        [sys.executable, "-m", "lamina.bench.scale", "--child", spec],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak_tree, runner_hwm, worker_hwm = 0, 0, {}
    while proc.poll() is None:
        pids = _proc_tree(proc.pid)
        total = 0
        for pid in pids:
            rss, hwm = _mem_kb(pid)
            total += rss
            if pid == proc.pid:
                runner_hwm = max(runner_hwm, hwm)
            else:
                worker_hwm[pid] = max(worker_hwm.get(pid, 0), hwm)
        peak_tree = max(peak_tree, total)
        time.sleep(0.1)
    err = proc.stderr.read().decode("utf-8", "replace")
    if proc.returncode != 0 or not result.exists():
        tail = "\n".join(line for line in err.splitlines() if "WARNING" not in line)[-3000:]
        raise RuntimeError(f"lamina corpus {' '.join(argv)} failed ({proc.returncode}):\n{tail}")
    got = json.loads(result.read_text(encoding="utf-8"))
    got.update(
        runner_mb=runner_hwm / 1024,
        worker_mb=max(worker_hwm.values(), default=0) / 1024,
        tree_mb=peak_tree / 1024,
        processes=1 + len(worker_hwm),
    )
    return got


def error_line(e: Exception) -> str:
    """The last line of a failed run's message that names an error (e.g. a ConservationError)."""
    lines = [x.strip() for x in str(e).splitlines() if x.strip()]
    named = [x for x in lines if "Error" in x or "error" in x]
    return (named or lines or ["unknown error"])[-1][:400]


# ---------------------------------------------------------------- ground truth and outputs


def _read_docs(path: Path) -> list[dict]:
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def outcomes(out: Path, source: str) -> dict[str, str]:
    """Record key (WARC-Record-ID, or the url of a C4 json page) -> "kept" or the drop reason."""
    got: dict[str, str] = {}
    for sub, kept in (("docs", True), ("dropped", False)):
        for path in sorted((out / sub / source).glob("*.jsonl.gz")):
            for d in _read_docs(path):
                m = d["metadata"]
                got[m.get("record_id") or m.get("url")] = "kept" if kept else m["drop_reason"]
    return got


def precision_recall(truth: dict[str, str], got: dict[str, str]) -> dict[str, tuple[float, float, int]]:
    """reason -> (precision, recall, documents expected)."""
    table = {}
    for c in sorted(set(truth.values()) | set(got.values())):
        expected = {k for k, v in truth.items() if v == c}
        predicted = {k for k, v in got.items() if v == c and k in truth}
        hit = len(expected & predicted)
        table[c] = (
            hit / len(predicted) if predicted else 1.0,
            hit / len(expected) if expected else 1.0,
            len(expected),
        )
    return table


def _truth(world: Path) -> dict[str, dict[str, str]]:
    from lamina.sample.truth import read_truth

    out: dict[str, dict[str, str]] = {}
    for r in read_truth(world / "ground_truth.jsonl"):
        out.setdefault(r["pipeline"], {})[r["key"]] = "kept" if r["expected"] == "kept" else r["reason"]
    return out


def _quality(world: Path, out: Path, source: str, stats: dict, truth: dict) -> tuple[str, dict]:
    """A short verdict string and the per-reason table (P/R, or count agreement)."""
    pipeline = PIPELINE_OF.get(source, source)
    if source in ("commoncrawl", "c4"):
        table = precision_recall(truth[pipeline], outcomes(out, source))
        p = min(v[0] for v in table.values())
        r = min(v[1] for v in table.values())
        return f"P>={p:.3f} R>={r:.3f}", {k: (round(v[0], 4), round(v[1], 4)) for k, v in table.items()}
    want = Counter(v for v in truth.get(pipeline, {}).values() if v != "kept")
    got = Counter(stats["dropped"])
    if source == "stackexchange":  # every row is a document; the truth lists questions only
        return (
            "drops as truth"
            if got.get("orphan_answer", 0) == want.get("orphan_answer", 0)
            else "drops differ"
        ), {}
    return ("drops = truth" if got == want else f"drops {dict(got)} != truth {dict(want)}"), {}


def _input_bytes(world: Path, source: str) -> int:
    sub = {"commoncrawl": ["cc"], "c4": ["c4", "cc"]}.get(source, [source])
    return sum(p.stat().st_size for s in sub for p in (world / s).rglob("*") if p.is_file())


def _shards(out: Path, source: str) -> tuple[int, int]:
    files = [p for p in (out / "docs" / source).glob("*") if p.is_file()]
    return len(files), max((p.stat().st_size for p in files), default=0)


# ---------------------------------------------------------------- the benchmark


def _ensure_base(sample: Path | None, models: Path | None, work: Path) -> tuple[Path, Path]:
    from lamina.models import train_all

    if models is not None and models.is_dir():
        return sample, models
    base = work / "base"
    if not (base / "ground_truth.jsonl").exists():
        from lamina.sample import write_sample_world

        write_sample_world(base, seed=0)
    print(f"training the sample models on the 1x world under {work / 'models'}", flush=True)
    train_all(base, work / "models")
    return base, work / "models"


def make_world(work: Path, n: int) -> tuple[Path, float]:
    """The scaled world of `n` rewritten copies under `work/world-<n>` (scale_world's keep_sample=False)
    and its generation rate (documents/s, sample world included)."""
    from lamina.sample import write_sample_world
    from lamina.sample.scale import scale_world

    t0 = time.perf_counter()
    root = write_sample_world(work / f"world-{n}", seed=0)
    got = scale_world(root, n, seed=0, keep_sample=False)  # n rewritten copies: one mixture at every n
    return root, got["documents"] / (time.perf_counter() - t0)


def _mb(x: float) -> str:
    return f"{x:.0f}"


def bench(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="lamina bench scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="1,10,100", help="copies of the sample world (default 1,10,100)")
    ap.add_argument("--sources", default=",".join(ALL_SOURCES), help="sources, comma-separated (default all)")
    ap.add_argument("--workers", default="1,2", help="worker counts compared (default 1,2)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per point, alternated; medians printed")
    ap.add_argument("--models", type=Path, default=Path("out/models"), help="models of the 1x sample world")
    ap.add_argument(
        "--work", type=Path, default=None, help="folder for worlds and outputs (default: a temp dir)"
    )
    ap.add_argument("--quick", action="store_true", help="smoke test: 1x and 2x, commoncrawl+c4, 1 worker")
    args = ap.parse_args(argv or [])
    if args.quick:
        args.scales, args.sources, args.workers, args.repeats = "1,2", "commoncrawl,c4", "1", 1
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        rows = _bench(args, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="lamina-bench-scale-") as tmp:
            rows = _bench(args, Path(tmp))
    return rows


def _bench(args: argparse.Namespace, work: Path) -> list[dict]:
    from lamina.pipelines.corpus import DEFAULT_RUNNER

    scales = [int(s) for s in args.scales.split(",")]
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    workers = [int(w) for w in args.workers.split(",")]
    _, models = _ensure_base(None, args.models, work)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    rows: list[dict] = []
    for n in scales:
        world, rate = make_world(work, n)
        truth = _truth(world)
        print(
            f"\n-- scale {n}x: {sum(len(v) for v in truth.values())} documents generated at {rate:.0f} documents/s"
        )
        print(
            f"{'source':<14}{'w':>2}{'docs in':>9}{'wall s':>8}{'docs/s/core':>12}{'runner MB':>10}"
            f"{'worker MB':>10}{'tree MB':>8}{'group B':>10}{'group elems':>12}{'shuffle B/B':>12}"
            f"{'shards':>7}{'max shard kB':>13}  quality"
        )
        failed: dict[tuple[str, int], str] = {}
        for source in sources:
            runs: dict[int, list[dict]] = {w: [] for w in workers}
            for rep in range(args.repeats):
                order = workers if rep % 2 == 0 else list(reversed(workers))
                for w in order:
                    out = work / f"out-{n}-{source}-{w}"
                    argv = ["--input", str(world), "--models", str(models), "--out", str(out), "--sources", source,
                            "--write-dropped", f"--runner={DEFAULT_RUNNER}", f"--direct_num_workers={w}",
                            "--direct_running_mode=multi_processing"]  # fmt: skip
                    try:
                        runs[w].append(run_point(argv, work))
                    except RuntimeError as e:  # a failed point is a finding: print it, go on
                        failed[(source, w)] = error_line(e)
            for w in workers:
                rs = runs[w]
                if not rs:
                    print(f"{source:<14}{w:>2}  FAILED: {failed[(source, w)]}", flush=True)
                    continue
                out = work / f"out-{n}-{source}-{w}"
                st = rs[-1]["stats"][source]
                wall = statistics.median(r["wall"] for r in rs)
                verdict, table = _quality(world, out, source, st, truth)
                shards, max_shard = _shards(out, source)
                row = {
                    "scale": n, "source": source, "workers": w, "documents_in": st["documents_in"], "wall": wall,
                    "docs_per_s_core": st["documents_in"] / wall / w,
                    "runner_mb": statistics.median(r["runner_mb"] for r in rs),
                    "worker_mb": statistics.median(r["worker_mb"] for r in rs),
                    "tree_mb": statistics.median(r["tree_mb"] for r in rs),
                    "largest_group_bytes": max(r["largest_group_bytes_sampled"] for r in rs),
                    "scale_metrics": rs[-1]["scale_metrics"],
                    "shuffle_per_input_byte": rs[-1]["shuffle_bytes"] / max(1, _input_bytes(world, source)),
                    "shards": shards, "max_shard": max_shard, "quality": verdict, "table": table,
                }  # fmt: skip
                rows.append(row)
                sm = row["scale_metrics"]
                group_elems = f"{sm['group_elements']:.0f}" if "group_elements" in sm else "n/a"
                group_b = max(row["largest_group_bytes"], sm.get("group_bytes", 0))
                print(
                    f"{source:<14}{w:>2}{row['documents_in']:>9}{wall:>8.1f}{row['docs_per_s_core']:>12.1f}"
                    f"{_mb(row['runner_mb']):>10}{_mb(row['worker_mb']):>10}{_mb(row['tree_mb']):>8}"
                    f"{group_b:>10.0f}{group_elems:>12}{row['shuffle_per_input_byte']:>12.2f}"
                    f"{shards:>7}{max_shard / 1024:>13.0f}  {verdict}",
                    flush=True,
                )
    _summary(rows, scales, workers)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return rows


def _summary(rows: list[dict], scales: list[int], workers: list[int]) -> None:
    by = {(r["scale"], r["source"], r["workers"]): r for r in rows}
    sources = sorted({r["source"] for r in rows}, key=ALL_SOURCES.index)
    print("\n-- aims")
    if len(scales) >= 2:
        a, b = scales[-2], scales[-1]
        for s in sources:
            for w in workers:
                ra, rb = by.get((a, s, w)), by.get((b, s, w))
                if ra and rb and ra["worker_mb"]:
                    g = rb["worker_mb"] / ra["worker_mb"]
                    rg = rb["runner_mb"] / ra["runner_mb"] if ra["runner_mb"] else float("nan")
                    print(
                        f"{s:<14} {w} worker(s): largest worker peak {b}x/{a}x = {g:.2f} "
                        f"({'flat' if g <= 1.2 else 'MISSES'} the 1.2 aim); runner {rg:.2f} (holds shuffles)"
                    )
    if 1 in workers and 2 in workers:
        for n in scales:
            for s in sources:
                r1, r2 = by.get((n, s, 1)), by.get((n, s, 2))
                if r1 and r2:
                    speed = r1["wall"] / r2["wall"]
                    print(
                        f"{s:<14} {n:>4}x: 2 workers / 1 worker = {speed:.2f}x wall speed-up (aim >= 1.6 on 100x, quiet machine)"
                    )
    base = {r["source"]: r for r in rows if r["scale"] == scales[0] and r["workers"] == workers[0]}
    for r in rows:
        b = base.get(r["source"])
        if b and r["table"] and b["table"] and r is not b:
            worst = max(
                (
                    abs(r["table"][k][i] - b["table"].get(k, (1.0, 1.0))[i])
                    for k in r["table"]
                    for i in (0, 1)
                ),
                default=0.0,
            )
            print(
                f"{r['source']:<14} {r['scale']:>4}x w{r['workers']}: precision/recall max |change| vs {scales[0]}x = {worst:.3f}"
            )


def main(argv: list[str] | None = None) -> int:
    bench(argv)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(json.loads(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1:]))
