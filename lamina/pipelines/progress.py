"""Progress of a corpus run: documents read per source and per second, files done of total, elapsed
and ETA on the local runner; the job id and Beam's counters on remote runners.

Local runner (the multi-process FnApiRunner): every reader (`readers.read_files`) wraps its DoFn in
`ProgressFn`, which counts the documents and files a worker has read and, at most every
`WRITE_EVERY_S`, writes them to `$LAMINA_PROGRESS_DIR/<source>-<pid>-<n>.json` (written to a
temporary name and renamed, so a reader never sees half a file). The `lamina corpus` process sets
that variable (SDK worker processes inherit it), sums the files every `progress_s` seconds and prints
one line. Workers without the variable (Dataflow, Flink, Spark) count nothing. What a worker holds:
two integers per reader instance.

`quiet_stderr` hides Beam's "No semi_persistent_directory found" / "No session file found" worker
warnings (harmless on the local runner: it stages no main session) by filtering file descriptor 2,
which the worker subprocesses inherit.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

ENV = "LAMINA_PROGRESS_DIR"
WRITE_EVERY_S = 2.0  # seconds between a worker's progress files
HIDDEN = (b"No semi_persistent_directory found", b"No session file found")
_instances = itertools.count()


class ProgressFn(beam.DoFn):
    """`inner` (a reader DoFn taking one file), counting its main outputs and the files it finishes."""

    def __init__(self, inner: beam.DoFn, source: str):
        self.inner = inner
        self.source = source
        self._dir = None

    def setup(self):
        self.inner.setup()
        d = os.environ.get(ENV)
        self._dir = Path(d) if d and Path(d).is_dir() else None
        self._name = f"{self.source}-{os.getpid()}-{next(_instances)}.json"
        self._docs = self._files = 0
        self._last = 0.0

    def start_bundle(self):
        self.inner.start_bundle()

    def finish_bundle(self):
        self._write(force=True)
        return self.inner.finish_bundle()

    def teardown(self):
        self.inner.teardown()

    def process(self, element):
        for out in self.inner.process(element):
            if not isinstance(out, TaggedOutput):
                self._docs += 1
                if self._docs % 256 == 0:
                    self._write()
            yield out
        self._files += 1
        self._write()

    def _write(self, force: bool = False) -> None:
        if self._dir is None:
            return
        now = time.monotonic()
        if not force and now - self._last < WRITE_EVERY_S:
            return
        self._last = now
        tmp = self._dir / f".{self._name}.tmp"
        try:
            tmp.write_text(json.dumps({"source": self.source, "docs": self._docs, "files": self._files}))
            os.replace(tmp, self._dir / self._name)
        except OSError:  # the run ended and its folder went away: progress is best effort
            self._dir = None


def _fmt_s(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class Summary:
    """Progress lines from the workers' files: per source, documents read, the reading rate (documents
    over the time until the source's count last grew), files done of total; an ETA of the reading
    from the fraction of files done; then, once every file is read, that the run filters and writes."""

    def __init__(self, folder: Path, totals: dict[str, int]):
        self.folder, self.totals = folder, totals
        self.last: dict[str, tuple[int, float]] = {}  # source -> (documents, elapsed when it last grew)

    def line(self, elapsed: float) -> str:
        docs: dict[str, int] = {}
        files: dict[str, int] = {}
        for p in self.folder.glob("*.json"):
            try:
                d = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            docs[d["source"]] = docs.get(d["source"], 0) + d["docs"]
            files[d["source"]] = files.get(d["source"], 0) + d["files"]
        parts = []
        for source in sorted(self.totals):
            n = docs.get(source, 0)
            if n != self.last.get(source, (0, 0.0))[0]:
                self.last[source] = (n, elapsed)
            t = self.last.get(source, (0, elapsed))[1]
            rate = f"{n / t:,.0f}/s" if t > 0 else "-/s"
            parts.append(f"{source} {n:,} docs ({rate}), files {files.get(source, 0)}/{self.totals[source]}")
        done, total = sum(files.values()), sum(self.totals.values())
        if 0 < done < total:
            state = f", reading ETA {_fmt_s(elapsed * (total - done) / done)}"
        elif total and done >= total:
            state = ", all files read: filtering and writing"
        else:
            state = ""
        return f"lamina corpus [{_fmt_s(elapsed)}{state}] " + "; ".join(parts)


@contextlib.contextmanager
def local_progress(totals: dict[str, int], every_s: float):
    """While the block runs: a progress folder in $LAMINA_PROGRESS_DIR and a thread printing a line
    to stderr every `every_s` seconds (none when `every_s` <= 0)."""
    if every_s <= 0:
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="lamina-progress-"))
    old = os.environ.get(ENV)
    os.environ[ENV] = str(folder)
    stop = threading.Event()
    start = time.monotonic()

    lines = Summary(folder, totals)

    def loop():
        while not stop.wait(every_s):
            print(lines.line(time.monotonic() - start), file=sys.stderr, flush=True)

    t = threading.Thread(target=loop, name="lamina-progress", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old
        for p in folder.iterdir():
            p.unlink(missing_ok=True)
        folder.rmdir()


@contextlib.contextmanager
def quiet_stderr(hidden: tuple[bytes, ...] = HIDDEN):
    """Drop stderr lines holding any of `hidden` while the block runs (this process and the worker
    processes it starts, which inherit file descriptor 2); every other line passes unchanged."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedders): nothing to filter
        yield
        return
    r, w = os.pipe()
    os.dup2(w, 2)
    os.close(w)

    def pump():
        buf = b""
        with os.fdopen(r, "rb", buffering=0) as src:
            while chunk := src.read(1 << 16):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                kept = [ln + b"\n" for ln in lines if not any(h in ln for h in hidden)]
                _write_all(saved, b"".join(kept))
        if not any(h in buf for h in hidden):
            _write_all(saved, buf)

    t = threading.Thread(target=pump, name="lamina-stderr", daemon=True)
    t.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end held by this process
        t.join(timeout=5)
        os.close(saved)


def _write_all(fd: int, data: bytes) -> None:
    """Write to the real stderr; a failure loses the line, never blocks the pipe's writers."""
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(fd, data) :]


def remote_progress(result, every_s: float, sources: list[str]) -> None:
    """On a runner that returns before the job ends (Dataflow, Flink, Spark): print the job id, then
    every `every_s` seconds the read/kept counters of each source's stages that it exposes, until the
    job ends."""
    job = getattr(result, "job_id", None)
    with contextlib.suppress(Exception):
        job = job() if callable(job) else job
    print(
        f"lamina corpus: job {job or '(no id)'} submitted; state {getattr(result, 'state', '?')}",
        file=sys.stderr,
    )
    terminal = {"DONE", "FAILED", "CANCELLED", "DRAINED", "UPDATED", "STOPPED"}

    def state() -> str:
        with contextlib.suppress(Exception):
            return str(result.state).rsplit(".", 1)[-1]
        return "DONE"  # a result that cannot tell: the caller's wait_until_finish() waits

    # Poll the state rather than calling wait_until_finish(duration) repeatedly: the portable runner's
    # wait starts a thread over the job's one message stream on every call, and a second call while the
    # first thread still reads it fails with "generator already executing".
    step = min(every_s, 1.0)
    while every_s > 0 and state() not in terminal:
        waited = 0.0
        while waited < every_s and state() not in terminal:
            time.sleep(step)
            waited += step
        if state() in terminal:
            break
        with contextlib.suppress(Exception):
            counters = result.metrics().query()["counters"]
            parts = []
            for s in sources:
                got = [c for c in counters if c.key.metric.namespace.startswith(f"{s}.")]
                kept = sum((c.attempted or 0) for c in got if c.key.metric.name == "kept")
                parts.append(f"{s} {kept:,} kept over its stages")
            print(
                f"lamina corpus: job {job}: {getattr(result, 'state', '?')}; " + "; ".join(parts),
                file=sys.stderr,
            )
