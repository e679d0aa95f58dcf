"""What a corpus run was made from: `<out>/run.json`, written by `lamina corpus`, shown by the report.

    {"runs": [record, ...]}, one record per `lamina corpus` command that wrote sources here:
    {"version": 1, "sources": [...], "started": ISO-8601 UTC, "finished": ..., "seconds": s,
     "code": {"version": "git describe" or the package version, "package": "0.1.0", "python", "beam"},
     "command": [argv...], "runner": "...", "beam_options": {the options set, defaults left out},
     "config": {"path": TOML or null, "resolved": {table: {field: value}}},
     "inputs": {source: {"spec": path/glob, "files": n, "bytes": n, "list_sha256": hex}},
     "models": {kind: {"path", "files": {path: bytes}, "cards": {path: sha256}} | null}}

`list_sha256` is the SHA-256 of the sorted "path<TAB>size" lines of the files the spec matched: two
runs read the same inputs when it agrees, and it costs one listing (no file is read), so it is cheap
on a whole CommonCrawl dump's 90,000 WET paths. The models are identified by path, size and their
cards' checksums (a card names its training data, settings and the binary's checksum). Nothing here imports Beam's
pipeline code: the listing uses `FileSystems`, so gs:// inputs and models work the same.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def code_version() -> dict[str, str]:
    """`git describe --always --dirty` of the checkout the package runs from, else the package's version."""
    import apache_beam

    import lamina

    repo = Path(lamina.__file__).resolve().parents[1]
    described = ""
    try:
        described = subprocess.run(
            ["git", "-C", str(repo), "describe", "--always", "--dirty", "--tags"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        described = ""
    return {
        "version": described or f"lamina {lamina.__version__}",
        "package": lamina.__version__,
        "python": sys.version.split()[0],
        "beam": apache_beam.__version__,
    }


def _match(spec: str) -> list[tuple[str, int]]:
    """(path, size) of every file under a file, folder or glob spec; [] when nothing matches."""
    from apache_beam.io.filesystems import FileSystems

    if not any(c in spec for c in "*?["):
        if "://" not in spec and Path(spec).is_file():
            return [(spec, Path(spec).stat().st_size)]
        spec = spec.rstrip("/") + "/**"
    try:
        results = FileSystems.match([spec])
    except Exception:  # noqa: BLE001 - a spec that matches nothing (or an unknown scheme) lists nothing
        return []
    return sorted((m.path, m.size_in_bytes) for r in results for m in r.metadata_list)


def describe_inputs(specs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """source -> {spec, files, bytes, list_sha256} (see the module docstring)."""
    out = {}
    for source, spec in specs.items():
        if spec.rstrip("/").rsplit("/", 1)[-1].startswith("wet.paths"):
            out[source] = _paths_list(spec)
            continue
        files = _match(spec)
        listing = "".join(f"{p}\t{n}\n" for p, n in files).encode("utf-8")
        out[source] = {
            "spec": spec,
            "files": len(files),
            "bytes": sum(n for _, n in files),
            "list_sha256": hashlib.sha256(listing).hexdigest(),
        }
    return out


def _paths_list(spec: str) -> dict[str, Any]:
    """A `wet.paths(.gz)` list: its lines are the inputs (listing 90,000 remote WET files for their
    sizes would cost 90,000 requests), so the checksum is of the list's decompressed content."""
    import gzip

    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(spec, compression_type="uncompressed") as f:
            raw = f.read()
    except Exception as e:  # noqa: BLE001 - recorded, not fatal: the run itself already read the list
        return {"spec": spec, "files": None, "bytes": None, "list_sha256": None, "error": str(e)[:200]}
    if spec.endswith(".gz"):
        raw = gzip.decompress(raw)
    lines = [x.strip() for x in raw.decode("utf-8").splitlines() if x.strip() and not x.startswith("#")]
    return {
        "spec": spec,
        "files": len(lines),
        "bytes": None,  # not listed: see above
        "list_sha256": hashlib.sha256(raw).hexdigest(),
    }


def describe_models(models: dict[str, str | None]) -> dict[str, Any]:
    """kind -> {"path", "files": {path: bytes}, "cards": {path: sha256}} for the models a run used
    (`lid`, `lm`, `wikiref`; None: not used). Cards are the `*card.json` beside a model file or
    under a model folder; the binaries are identified by path and size (hashing cc_net's or
    fastText's hundreds of MB on gs:// at every run would cost a download)."""
    from apache_beam.io.filesystems import FileSystems

    out: dict[str, Any] = {}
    for kind, path in models.items():
        if not path:
            out[kind] = None
            continue
        path = path.rstrip("/")
        listed = _match(path)
        is_file = len(listed) == 1 and listed[0][0].rstrip("/") == path
        folder = path.rsplit("/", 1)[0] if is_file else path
        cards = {}
        for p, _ in _match(folder):
            if p.endswith("card.json"):
                with FileSystems.open(p) as f:
                    cards[p] = hashlib.sha256(f.read()).hexdigest()
        out[kind] = {
            "path": path,
            "files": dict(listed) if is_file else {p: n for p, n in listed if not p.endswith(".json")},
            "cards": dict(sorted(cards.items())),
        }
    return out


def build_run_record(
    *,
    argv: list[str],
    runner: str,
    beam_options: dict[str, Any],
    config_path: str | None,
    resolved_config: dict,
    inputs: dict[str, str],
    models: dict[str, str | None],
    started: str,
    finished: str,
    seconds: float,
) -> dict[str, Any]:
    """The `run.json` record (pure apart from listing the inputs and reading the model cards)."""
    return {
        "version": 1,
        "started": started,
        "finished": finished,
        "seconds": round(seconds, 3),
        "code": code_version(),
        "command": list(argv),
        "runner": runner,
        "beam_options": dict(beam_options),
        "config": {"path": config_path, "resolved": resolved_config},
        "inputs": describe_inputs(inputs),
        "models": describe_models(models),
    }


def write_run_record(out: str, record: dict) -> str:
    """Write `<out>/run.json` (write-then-rename locally; one object write on GCS)."""
    from lamina.pipelines.writers import write_bytes

    path = f"{out.rstrip('/')}/{RUN_FILE}"
    write_bytes(path, (json.dumps(record, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return path


def load_run_record(corpus: Path) -> dict | None:
    """`<corpus>/run.json` ({"runs": [record, ...]}), or None for a run that predates it. A broken
    file is a ValueError naming it."""
    path = corpus / RUN_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable run record: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ValueError(f"{path}: not a run record (expected an object with a list 'runs')")
    return data


class RunClock:
    """When a run started (UTC, and a monotonic clock for its duration)."""

    def __init__(self) -> None:
        import time

        self.started = utc_now()
        self._t0 = time.monotonic()

    def seconds(self) -> float:
        import time

        return time.monotonic() - self._t0


def corpus_input_specs(args: Any, cfg: Any, sources: list[str]) -> dict[str, str]:
    """The input spec each source of a `lamina corpus` run read, with the command's defaults."""
    inp = (args.input or "").rstrip("/")  # None: every source's input was given
    cc = args.cc_input or (f"{inp}/cc/wet.paths" if _match(f"{inp}/cc/wet.paths") else f"{inp}/cc")
    specs = {}
    for s in sources:
        if s == "commoncrawl":
            specs[s] = cc
        elif s == "c4":
            if "json" in cfg.c4.inputs:
                specs["c4"] = args.c4_input or f"{inp}/c4"
            if "wet" in cfg.c4.inputs:
                specs["c4 (wet)"] = cc
        else:
            specs[s] = getattr(args, f"{s}_input", None) or f"{inp}/{s}"
    return specs


def record_corpus_run(args, cfg, sources, argv, options, clock: RunClock) -> str:
    """Write `<out>/run.json` for a finished `lamina corpus` run; returns its path."""
    import dataclasses

    from apache_beam.options.pipeline_options import StandardOptions

    from lamina.pipelines.model_paths import resolve

    runner = options.view_as(StandardOptions).runner
    record = build_run_record(
        argv=list(argv),
        runner=runner if isinstance(runner, str) else type(runner).__name__,
        beam_options={
            k: v if isinstance(v, str | int | float | bool | type(None)) else str(v)
            for k, v in sorted(options.get_all_options(drop_default=True).items())
        },
        config_path=args.config,
        resolved_config=dataclasses.asdict(cfg),
        inputs=corpus_input_specs(args, cfg, sources),
        models=dataclasses.asdict(resolve(args, cfg)),
        started=clock.started,
        finished=utc_now(),
        seconds=clock.seconds(),
    )
    record["sources"] = list(sources)
    return write_run_record(args.out, merge_runs(read_run_file(args.out), record))


def read_run_file(out: str) -> dict | None:
    """The `run.json` already under `out` (gs:// too), None when there is none or it is unreadable."""
    from apache_beam.io.filesystems import FileSystems

    path = f"{out.rstrip('/')}/{RUN_FILE}"
    try:
        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path) as f:
            data = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("runs"), list) else None


def merge_runs(previous: dict | None, record: dict) -> dict:
    """`{"runs": [...]}`: one record per command that wrote sources into this directory. A source
    rewritten by the new command leaves the older record (a record left without sources goes), so
    running sources one command at a time (as a DAG does) keeps every source's provenance."""
    runs = []
    for old in (previous or {}).get("runs", []):
        left = [s for s in old.get("sources", []) if s not in record["sources"]]
        if left:
            runs.append({**old, "sources": left})
    return {"runs": [*runs, record]}
