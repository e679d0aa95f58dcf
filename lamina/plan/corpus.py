"""Corpus tokens a training run needs per source, and the epochs it makes over each, from the shards'
manifest (`lamina tokenizer shards`): per-source token counts (`sources.<name>.tokens`) and the mixture
the data loader samples (`mixture.weights`, renormalized over the sources that have shards).

A source sampled with weight w in a run of D tokens is read w x D times a token; over T tokens on disk
that is w x D / T epochs. (The loader keeps the last `heldout_tokens` of each source, at most a tenth,
out of training for validation, so the trained part is repeated up to 11% more often.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Corpus:
    path: str  # the manifest read
    tokens: dict[str, int]  # tokens on disk per source
    weights: dict[str, float]  # sampling weight per source, summing to 1

    def needs(self, train_tokens: float) -> dict[str, dict]:
        """Per source: weight, tokens read by a run of `train_tokens`, tokens on disk, epochs."""
        return {
            s: {
                "weight": w,
                "tokens_needed": w * train_tokens,
                "tokens_available": self.tokens[s],
                "epochs": w * train_tokens / self.tokens[s],
            }
            for s, w in self.weights.items()
        }


def load_corpus(path: str | Path, weights: dict[str, float] | None = None) -> Corpus:
    """Read a manifest (a shards directory or its manifest.json); `weights` replace its mixture."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        sources = {s: int(v["tokens"]) for s, v in manifest["sources"].items()}
        configured = manifest["mixture"]["weights"] if weights is None else weights
    except OSError as err:
        raise ValueError(f"{path}: cannot read the manifest: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err.msg}, line {err.lineno})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(
            f"{path}: not a shards manifest (needs sources.<name>.tokens and mixture.weights): {err!r}"
        ) from None
    used = {s: float(w) for s, w in configured.items() if float(w) > 0}
    bad = {s: w for s, w in configured.items() if not float(w) >= 0}
    if bad or not used:
        raise ValueError(f"{path}: mixture weights must be >= 0 with some > 0, got {dict(configured)}")
    empty = sorted(s for s in used if sources.get(s, 0) <= 0)
    if empty:
        raise ValueError(
            f"{path}: the mixture samples {', '.join(empty)} but the manifest holds no tokens of it; "
            "drop it from --mixture or add its shards"
        )
    total = sum(used.values())
    return Corpus(str(path), {s: sources[s] for s in used}, {s: w / total for s, w in used.items()})
