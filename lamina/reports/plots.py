"""The report's charts: matplotlib (Agg, no display), returned as PNG `data:` URIs.

Embedding the PNGs keeps each HTML page one self-contained file a person can mail or open from a
bucket, with nothing fetched from the internet. Each function draws one figure and closes it.
"""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

KEPT_COLOR = "#3a7d44"
DROPPED_COLOR = "#c0504d"
GROUP_COLORS = plt.get_cmap("tab10").colors
MAX_GROUPS = 8  # groups drawn in one histogram; the largest ones, the rest are named in the legend title


def _png(fig) -> str:
    buf = io.BytesIO()
    # No "Software" metadata: the same statistics give the same bytes.
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def funnel_chart(
    stages: list[tuple[str, int, int]], title: str = "Funnel: documents kept and dropped per stage"
) -> str:
    """Stages top to bottom, each bar its input split into kept (green) and dropped (red).

    `stages`: (name, documents in, documents kept).
    """
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(stages) + 1.2))
    names = [s[0] for s in stages][::-1]
    kept = [s[2] for s in stages][::-1]
    dropped = [max(s[1] - s[2], 0) for s in stages][::-1]
    ax.barh(names, kept, color=KEPT_COLOR, label="kept")
    ax.barh(names, dropped, left=kept, color=DROPPED_COLOR, label="dropped")
    for y, (k, d) in enumerate(zip(kept, dropped, strict=True)):
        ax.text(k + d, y, f" {k:,} / {k + d:,}", va="center", fontsize=8)
    ax.set_xlabel("documents")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.margins(x=0.2)
    return _png(fig)


def bar_chart(
    counts: dict[str, int], title: str, xlabel: str = "documents", color: str = DROPPED_COLOR
) -> str:
    """Horizontal bars, largest on top."""
    items = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items], color=color)
    for y, (_, v) in enumerate(items):
        ax.text(v, y, f" {v:,}", va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.margins(x=0.15)
    return _png(fig)


def overview_chart(rows: list[tuple[str, int, int]]) -> str:
    """Per source: kept and dropped documents as one stacked bar. `rows`: (source, in, kept)."""
    return funnel_chart(rows, title="Documents kept and dropped per source")


def _group_cutoffs(cutoffs: dict[str, list[float]], group: str) -> list[float]:
    """The cutoffs of one group; an ungrouped distribution gets them only when there is one set."""
    if group:
        return cutoffs.get(group, [])
    return next(iter(cutoffs.values())) if len(cutoffs) == 1 else []


def histogram(
    data: list[float] | dict[str, list[float]],
    title: str,
    xlabel: str,
    log_x: bool = False,
    cutoffs: dict[str, list[float]] | None = None,
) -> str:
    """A histogram of one distribution, or overlaid histograms of its groups (e.g. per language).

    `log_x` uses log-spaced bins (perplexities span orders of magnitude); it falls back to linear
    when a value is <= 0. `cutoffs` (group -> values) are drawn as dashed vertical lines.
    """
    groups = data if isinstance(data, dict) else {"": data}
    groups = {g: v for g, v in groups.items() if v}
    ranked = sorted(groups, key=lambda g: (-len(groups[g]), g))
    shown, hidden = ranked[:MAX_GROUPS], ranked[MAX_GROUPS:]
    values = [x for g in shown for x in groups[g]]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    if values:
        lo, hi = min(values), max(values)
        use_log = log_x and lo > 0
        if hi == lo:
            lo, hi = (lo * 0.9, hi * 1.1) if lo else (-0.5, 0.5)
        if use_log:
            bins = [10 ** (math.log10(lo) + i * (math.log10(hi) - math.log10(lo)) / 40) for i in range(41)]
            ax.set_xscale("log")
        else:
            bins = [lo + i * (hi - lo) / 40 for i in range(41)]
        for i, g in enumerate(shown):
            color = GROUP_COLORS[i % len(GROUP_COLORS)]
            label = f"{g} (n={len(groups[g]):,})" if g else f"n={len(groups[g]):,}"
            ax.hist(groups[g], bins=bins, alpha=0.55 if len(shown) > 1 else 0.9, color=color, label=label)
            for c in _group_cutoffs(cutoffs or {}, g):
                ax.axvline(c, color=color, linestyle="--", linewidth=1.2)
                ax.annotate(f"{c:g}", (c, 1), xycoords=("data", "axes fraction"), fontsize=8, color=color,
                            ha="left", va="top", rotation=90)  # fmt: skip
        ax.legend(fontsize=8, title=f"+{len(hidden)} smaller groups not drawn" if hidden else None)
    else:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("documents")
    ax.set_title(title)
    return _png(fig)
