"""The ground truth of the sample world: what each pipeline should do with each generated document.

One JSON object per (pipeline, document) in `ground_truth.jsonl` (docs/interfaces.md):
`{"pipeline", "key", "expected": "kept"|"dropped", "reason", "kind"}` (exact duplicates add
`original`, the key of the document they duplicate), sorted by pipeline then key so the file is
byte-identical for a seed.
"""

from __future__ import annotations

import json
from pathlib import Path

PIPELINES = ("ccnet", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange")


class Truth:
    """Collects expectations while the generators write documents."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict] = {}

    def add(self, pipeline: str, key: str, expected: str, reason: str | None, kind: str, **extra) -> None:
        """Record one expectation; `extra` adds pipeline-specific fields (e.g. StackExchange answer order)."""
        if pipeline not in PIPELINES:
            raise ValueError(f"ground truth: unknown pipeline {pipeline!r}")
        if (expected == "kept") != (reason is None):
            raise ValueError(f"ground truth {pipeline}:{key}: 'kept' has no reason, 'dropped' needs one")
        if (pipeline, key) in self.rows:
            raise ValueError(f"ground truth: duplicate entry {pipeline}:{key}")
        self.rows[(pipeline, key)] = {
            "pipeline": pipeline, "key": key, "expected": expected, "reason": reason, "kind": kind, **extra,
        }  # fmt: skip

    def write(self, path: Path) -> None:
        lines = [json.dumps(self.rows[k], ensure_ascii=False, sort_keys=True) for k in sorted(self.rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_truth(path: Path) -> list[dict]:
    """The rows of a ground_truth.jsonl (for tests and precision/recall checks)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
