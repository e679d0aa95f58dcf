"""Pieces every model trainer shares: deterministic splits, atomic JSON, file fingerprints, the KenLM
tools, fastText training in a clean process, and the one-line error for inputs too small to train on."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class UsageError(ValueError):
    """A mistake in what `lamina models` was given; the message (one line) says what and what to
    pass. `lamina models` prints it and exits 2 before training anything more, without a traceback."""


class NotEnoughData(ValueError):
    """The inputs hold too little to train a model; the message (one line) says the counts and what
    to pass instead. `lamina models` prints it and exits 2 without a traceback."""


def frac_hash(key: str) -> float:
    """A deterministic number in [0, 1) per key (for held-out splits that do not move between runs)."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 2**32


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(tmp, path)


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in 1 MiB chunks (a 4 GB cc_net LM never sits in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def fingerprint(path: str | Path) -> dict:
    """{"bytes", "sha256"} of a model file, as cards record it and `check` verifies it."""
    return {"bytes": Path(path).stat().st_size, "sha256": sha256_of(path)}


def kenlm_bin(tool: str) -> str:
    """Path of a KenLM tool: $LAMINA_KENLM_BIN, else PATH, else the Makefile's cache."""
    candidates = []
    if os.environ.get("LAMINA_KENLM_BIN"):
        candidates.append(Path(os.environ["LAMINA_KENLM_BIN"]) / tool)
    found = shutil.which(tool)
    if found:
        candidates.append(Path(found))
    candidates.append(Path.home() / ".cache" / "lamina" / "kenlm-0.3.0" / "bin" / tool)
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    raise FileNotFoundError(
        f"KenLM's {tool} not found (looked in {[str(c) for c in candidates]}); run `make tools`"
    )


def fasttext_train_and_save(train_file: str, out_path: str, params: dict) -> float:
    """Runs in a fresh process (see `fasttext_train`): train, retrying at half the learning rate
    if fastText diverges, and save. Returns the learning rate that worked."""
    import fasttext
    import fasttext.FastText

    fasttext.FastText.eprint = lambda *a, **k: None
    lr = params.pop("lr")
    for attempt in range(5):
        try:
            model = fasttext.train_supervised(input=train_file, verbose=0, lr=lr, **params)
            model.save_model(out_path)
            return lr
        except RuntimeError as e:
            if "NaN" not in str(e) or attempt == 4:
                raise RuntimeError(f"fastText training on {train_file} failed at lr={lr}: {e}") from e
            lr /= 2
    raise AssertionError("unreachable")


def fasttext_train(lines: Iterable[str], out_path: Path, **params) -> float:
    """Train a fastText supervised model on `lines` (`__label__x text`, one example each) into
    `out_path` (written under a temporary name, then renamed); returns the learning rate used.
    The lines are written to the training file one at a time, so `lines` may be a generator.

    Training runs in a fresh Python process: in a process whose heap has been through a large
    fastText `predict` (e.g. the held-out evaluation of a 75-language model), the next training on
    small data failed with "Encountered NaN" at any learning rate (fastText apparently reads memory
    it did not initialize). A clean process makes training independent of what ran before."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    code = (
        "import json, sys; from lamina.models.common import fasttext_train_and_save as t; "
        "print(json.dumps(t(*json.loads(sys.argv[1]))))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        train_file = Path(tmpdir) / "train.txt"
        with open(train_file, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(f"{line}\n")
        args = json.dumps([str(train_file), str(tmp), params])
        proc = subprocess.run(
            [sys.executable, "-c", code, args], capture_output=True, text=True, check=False, env=env
        )
    if proc.returncode != 0:
        raise RuntimeError(f"fastText training failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    lr = float(json.loads(proc.stdout.strip().splitlines()[-1]))
    os.replace(tmp, out_path)
    return lr


def accuracy(predict, examples: list[tuple[str, str]]) -> tuple[float, dict[str, float]]:
    """(overall accuracy, per-label accuracy) of `predict(texts) -> labels` on (label, text) pairs."""
    if not examples:
        return float("nan"), {}
    got = predict([t for _, t in examples])
    hits: Counter = Counter()
    totals: Counter = Counter()
    for (label, _), pred in zip(examples, got, strict=True):
        totals[label] += 1
        hits[label] += pred == label
    per = {k: round(hits[k] / totals[k], 4) for k in sorted(totals)}
    return round(sum(hits.values()) / len(examples), 4), per


def run_tool(cmd: list[str], *, what: str, stdin: Path | None = None, stdout: Path | None = None) -> None:
    with open(stdin or os.devnull, "rb") as fin, open(stdout or os.devnull, "wb") as fout:
        proc = subprocess.run(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace")[-1500:]
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
