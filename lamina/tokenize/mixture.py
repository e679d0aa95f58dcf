"""The source mixture: how often pretraining samples each source (LLaMA Table 1).

The weights travel with the shards (in `manifest.json`) so the data loader samples sources in the
proportions the corpus was built for, and the tokenizer trainer draws its text sample with the same
proportions. A corpus rarely holds all seven sources (the sample world, a user's own subset), so
the weights are renormalized over the sources actually present, with a warning naming the absent
ones: silently training on a different mixture than configured is the failure this guards against.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

from lamina.documents import SOURCES

# LLaMA-1, Table 1 ("sampling proportion"), keyed by lamina.documents.SOURCES names.
LLAMA_WEIGHTS: dict[str, float] = {
    "commoncrawl": 0.67,
    "c4": 0.15,
    "github": 0.045,
    "wikipedia": 0.045,
    "books": 0.045,
    "arxiv": 0.025,
    "stackexchange": 0.02,
}
assert tuple(LLAMA_WEIGHTS) == SOURCES


class MixtureWarning(UserWarning):
    """Some configured sources have no data; their weight was spread over the others."""


def parse_weights(spec: str) -> dict[str, float]:
    """`"commoncrawl=0.67,c4=0.15"` -> {"commoncrawl": 0.67, "c4": 0.15} (for `--mixture`)."""
    weights: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"mixture item {item!r} is not SOURCE=WEIGHT (in {spec!r})")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"mixture weight {value!r} for {name!r} is not a number (in {spec!r})") from None
    return weights


def renormalize(present: Iterable[str], weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """Weights of the `present` sources, summing to 1, in SOURCES order (then by name).

    A present source without a configured weight is an error (its share is a decision, not a
    default); configured sources that are absent are dropped with a `MixtureWarning` naming them.
    """
    weights = dict(LLAMA_WEIGHTS if weights is None else weights)
    present = set(present)
    if not present:
        raise ValueError("no sources present: nothing to weight (is the corpus' docs/ directory empty?)")
    bad = {k: v for k, v in weights.items() if not (v >= 0.0)}
    if bad:
        raise ValueError(f"mixture weights must be >= 0, got {bad}")
    unweighted = sorted(present - set(weights))
    if unweighted:
        raise ValueError(
            f"sources {unweighted} have data but no mixture weight; give one with --mixture "
            f"(configured: {sorted(weights)})"
        )
    missing = [s for s in _ordered(weights) if s not in present and weights[s] > 0]
    if missing:
        warnings.warn(
            f"mixture: no data for sources {missing}; renormalizing the weights over {_ordered(present)}",
            MixtureWarning,
            stacklevel=2,
        )
    total = sum(weights[s] for s in _ordered(present))  # fixed order: float sums depend on it
    if total <= 0:
        raise ValueError(f"the present sources {sorted(present)} all have weight 0")
    return {s: weights[s] / total for s in _ordered(present)}


def _ordered(names: Iterable[str]) -> list[str]:
    """LLaMA's source order first, then any user source by name: a stable order for manifests."""
    names = set(names)
    return [s for s in SOURCES if s in names] + sorted(names - set(SOURCES))
