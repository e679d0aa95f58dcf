"""The report's charts: matplotlib (Agg, no display), returned as inline SVG.

Inline SVG keeps each HTML page one self-contained file (nothing fetched from the internet), keeps
text as text (a threshold's label is a `<text>` a browser, a test or a search finds) and stays
small: a histogram's size depends on its bins, not on the documents. Each function draws one
figure and closes it; element ids are prefixed per figure so several figures share a page.
`histogram_data` is the numbers the histogram draws, which the report's JSON carries.
"""

from __future__ import annotations

import io
import itertools
import math
import re

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text
matplotlib.rcParams["svg.hashsalt"] = "lamina"  # deterministic ids: the same statistics, the same bytes
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

KEPT_COLOR = "#3a7d44"
DROPPED_COLOR = "#c0504d"
GROUP_COLORS = plt.get_cmap("tab10").colors
MAX_GROUPS = 8  # groups drawn in one histogram; the largest ones, the rest are named in the legend title


_FIGURE_IDS = itertools.count()


def _svg(fig) -> str:
    """The figure as an `<svg>` element (no XML prolog), its ids prefixed to be unique in a page."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    prefix = f"f{next(_FIGURE_IDS)}-"
    text = re.sub(r'\bid="', f'id="{prefix}', text)
    text = re.sub(r"url\(#", f"url(#{prefix}", text)
    return re.sub(r'href="#', f'href="#{prefix}', text)


def reset_ids() -> None:
    """Restart the figure-id counter (each page numbers its figures from 0: identical reruns)."""
    global _FIGURE_IDS
    _FIGURE_IDS = itertools.count()


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
    return _svg(fig)


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
    return _svg(fig)


def overview_chart(rows: list[tuple[str, int, int]]) -> str:
    """Per source: kept and dropped documents as one stacked bar. `rows`: (source, in, kept)."""
    return funnel_chart(rows, title="Documents kept and dropped per source")


def bin_edges(values: list[float], log_x: bool, bins: int = 40) -> tuple[list[float], bool]:
    """Edges whose first is the smallest value and whose last is the largest, so every value falls in a
    bin (the last bin is closed); log-spaced when `log_x` and every value is > 0. Returns (edges, log)."""
    lo, hi = min(values), max(values)
    use_log = log_x and lo > 0
    if hi == lo:
        lo, hi = (lo * 0.9, hi * 1.1) if lo > 0 else ((lo * 1.1, hi * 0.9) if lo < 0 else (-0.5, 0.5))
        use_log = use_log and lo > 0
    if use_log:
        edges = list(np.logspace(math.log10(lo), math.log10(hi), bins + 1))
    else:
        edges = list(np.linspace(lo, hi, bins + 1))
    edges[0], edges[-1] = lo, hi  # exactly: floating-point edges must not cut off the extremes
    return [float(e) for e in edges], use_log


def histogram_data(
    data: list[float] | dict[str, list[float]],
    log_x: bool = False,
    weights: dict[str, list[float]] | None = None,
) -> dict:
    """{"edges": [...], "log": bool, "groups": {group: {"n": n, "counts": [...]}}}: shared edges over
    every group's values; each group's counts sum to its n (a test checks it). `weights` (per group,
    one per value): the documents each value stands for; counts and n are then sums of weights."""
    groups = data if isinstance(data, dict) else {"": data}
    groups = {g: v for g, v in groups.items() if v}
    values = [x for v in groups.values() for x in v]
    if not values:
        return {"edges": [], "log": False, "groups": {}}
    edges, use_log = bin_edges(values, log_x)
    out = {}
    for g, v in groups.items():
        w = (weights or {}).get(g)
        if w is not None and any(x != 1 for x in w):
            counts, _ = np.histogram(v, bins=edges, weights=w)
            out[g] = {"n": round(float(sum(w))), "counts": [round(float(c), 1) for c in counts]}
            continue
        counts, _ = np.histogram(v, bins=edges)
        out[g] = {"n": len(v), "counts": [int(c) for c in counts]}
    return {"edges": edges, "log": use_log, "groups": out}


def histogram(
    data: list[float] | dict[str, list[float]],
    title: str,
    xlabel: str,
    log_x: bool = False,
    thresholds: dict[str, list[dict]] | None = None,
    gid: str = "",
) -> str:
    """A histogram of one distribution, or overlaid histograms of its groups (e.g. per language).

    `log_x` uses log-spaced bins (perplexities span orders of magnitude); linear when a value is
    <= 0. `thresholds` (group, "" for all groups -> [{"value", "label"}]) are drawn as dashed
    vertical lines, each labelled with its value; the label's element id is
    `<gid>-threshold-<group>-<i>` (after the figure prefix).
    """
    return histogram_from_data(histogram_data(data, log_x), title, xlabel, thresholds, gid)


def histogram_from_data(
    h: dict, title: str, xlabel: str, thresholds: dict[str, list[dict]] | None = None, gid: str = ""
) -> str:
    """`histogram`, drawn from `histogram_data`'s numbers (what the report's JSON holds)."""
    ranked = sorted(h["groups"], key=lambda g: (-h["groups"][g]["n"], g))
    shown, hidden = ranked[:MAX_GROUPS], ranked[MAX_GROUPS:]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    if shown:
        edges = h["edges"]
        if h["log"]:
            ax.set_xscale("log")
        for i, g in enumerate(shown):
            color = GROUP_COLORS[i % len(GROUP_COLORS)]
            n = h["groups"][g]["n"]
            label = f"{g} (n={n:,})" if g else f"n={n:,}"
            ax.stairs(h["groups"][g]["counts"], edges, fill=True, alpha=0.55 if len(shown) > 1 else 0.9,
                      color=color, label=label)  # fmt: skip
        lines = []
        for g, marks in sorted((thresholds or {}).items()):
            if g and g not in shown:
                continue
            color = GROUP_COLORS[shown.index(g) % len(GROUP_COLORS)] if g else "#222222"
            for j, m in enumerate(marks):
                lines.append((g, j, m, color))
        for g, j, m, color in lines:
            ax.axvline(m["value"], color=color, linestyle="--", linewidth=1.2)
            text = f"{g + ' ' if g else ''}{m['value']:g}" + (f" ({m['label']})" if m.get("label") else "")
            t = ax.annotate(text, (m["value"], 1), xycoords=("data", "axes fraction"), fontsize=8,
                            color=color, ha="left", va="top", rotation=90)  # fmt: skip
            t.set_gid(f"{gid}-threshold-{g or 'all'}-{j}")
        ax.legend(fontsize=8, title=f"+{len(hidden)} smaller groups not drawn" if hidden else None)
    else:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("documents")
    ax.set_title(title)
    return _svg(fig)


# Outcome colors: kept outcomes in greens (a bucket each), drops in warm colors, by their order.
KEPT_COLORS = {"kept": KEPT_COLOR, "head": "#1e5128", "middle": "#8cc084"}
MORE_KEPT_COLORS = ("#5aa469", "#b5d99c", "#2d6a4f")
DROP_COLORS = ("#c0504d", "#e8963d", "#8e6bb0", "#d4b72c", "#7f7f7f", "#b05f8a", "#4f81bd", "#9c6644")
RECORDED_COLOR = "#4f81bd"
KEPT_ORDER = ("kept", "head", "middle", "tail")


def outcome_order(outcomes: dict[str, dict]) -> list[str]:
    """Kept outcomes first (kept, head, middle, then by name), then the drops, largest first."""
    kept = [o for o in outcomes if outcomes[o].get("kept") is not False]
    kept.sort(key=lambda o: (KEPT_ORDER.index(o) if o in KEPT_ORDER else len(KEPT_ORDER), o))
    dropped = sorted(
        (o for o in outcomes if outcomes[o].get("kept") is False), key=lambda o: (-outcomes[o]["n"], o)
    )
    return kept + dropped


def stage_histogram_data(dist, log_x: bool = False, cuts: list[float] = ()) -> dict:
    """The numbers a stacked histogram of a `stats.Distribution` draws: {"edges", "log", "groups":
    {group: {"n", "outcomes": {outcome: {"kept", "n", "sampled", "counts"}}}}}. Shared edges over
    every value of every group, so each value falls in a bin; `counts` bin the sampled values (they
    sum to `sampled`); `n` is the outcome's true number of documents. A bar's height is
    counts x n / sampled: documents, estimated from the sample (exact where sampled == n).
    `cuts` (the thresholds drawn) become bin edges too, so no bin straddles a threshold: the pages
    C4 drops at 0.97-0.99 are not binned with those it keeps at 0.99-1."""
    values = dist.values()
    if not values:
        return {"edges": [], "log": False, "groups": {}}
    edges, use_log = bin_edges(values, log_x)
    inside = {float(c) for c in cuts if edges[0] < c < edges[-1]} - set(edges)
    edges = sorted({*edges, *inside})
    groups = {}
    for g, outcomes in dist.groups.items():
        out = {}
        for o, oc in outcomes.items():
            counts = np.histogram(oc.values, bins=edges)[0] if oc.values else np.zeros(len(edges) - 1)
            out[o] = {
                "kept": oc.kept,
                "n": oc.n,
                "sampled": len(oc.values),
                "counts": [int(c) for c in counts],
            }
        ordered = {o: out[o] for o in outcome_order(out)}
        groups[g] = {
            "n": sum(o.n for o in outcomes.values()),
            "overlaid": overlaid(ordered),
            "outcomes": ordered,
        }
    return {"edges": edges, "log": use_log, "groups": groups}


def heights(o: dict) -> list[float]:
    """Documents per bin of one outcome: its sampled counts scaled by n / sampled."""
    scale = o["n"] / o["sampled"] if o["sampled"] else 0.0
    return [c * scale for c in o["counts"]]


OVERLAY_RATIO = 30  # an outcome whose tallest bar is this many times below the tallest one: overlay


def overlaid(outcomes: dict[str, dict]) -> bool:
    """Whether a panel draws its outcomes overlaid on a log axis instead of stacked on a linear one:
    when one outcome's tallest bar is under 1/OVERLAY_RATIO of the tallest (a few hundred pages
    dropped beside ten thousand kept would otherwise be a line of pixels)."""
    peaks = [max(heights(v), default=0) for v in outcomes.values()]
    peaks = [p for p in peaks if p > 0]
    return len(peaks) > 1 and max(peaks) > OVERLAY_RATIO * min(peaks)


def outcome_colors(h: dict) -> dict[str, str]:
    """One color per outcome, the same in every panel of the figure."""
    colors, kept_i, drop_i = {}, 0, 0
    for g in h["groups"].values():
        for o, v in g["outcomes"].items():
            if o in colors:
                continue
            if v["kept"] is None:
                colors[o] = RECORDED_COLOR
            elif v["kept"]:
                colors[o] = KEPT_COLORS.get(o) or MORE_KEPT_COLORS[kept_i % len(MORE_KEPT_COLORS)]
                kept_i += o not in KEPT_COLORS
            else:
                colors[o] = DROP_COLORS[drop_i % len(DROP_COLORS)]
                drop_i += 1
    return colors


def stacked_histogram(
    h: dict, title: str, xlabel: str, thresholds: dict[str, list[dict]] | None = None, gid: str = ""
) -> str:
    """`stage_histogram_data`'s numbers as one panel per group (the `MAX_GROUPS` largest), each
    panel's bars stacked by outcome (kept outcomes at the bottom) with a legend of the true counts.
    `thresholds` (group, "" for all -> [{"value", "label"}]) are dashed lines labelled with their
    value; a label's element id is `<gid>-threshold-<group or all>-<i>` (`-p<panel>` appended for an
    all-groups line repeated in later panels)."""
    ranked = sorted(h["groups"], key=lambda g: (-h["groups"][g]["n"], g))
    shown, hidden = ranked[:MAX_GROUPS], ranked[MAX_GROUPS:]
    fig, axes = plt.subplots(max(len(shown), 1), 1, figsize=(8, 2.5 * max(len(shown), 1) + 0.9), sharex=True,
                             squeeze=False)  # fmt: skip
    axes = axes[:, 0]
    if not shown:
        axes[0].text(0.5, 0.5, "no values", ha="center", va="center", transform=axes[0].transAxes)
    colors = outcome_colors(h)
    edges = h["edges"]
    for p, (ax, g) in enumerate(zip(axes, shown, strict=False)):
        if h["log"]:
            ax.set_xscale("log")
        base = np.zeros(len(edges) - 1)
        outcomes = h["groups"][g]["outcomes"]
        overlay = h["groups"][g].get("overlaid", False)
        for o, v in outcomes.items():
            hs = np.array(heights(v))
            top = hs if overlay else base + hs
            state = "" if v["kept"] is None or o == "kept" else (" kept" if v["kept"] else " dropped")
            ax.stairs(top, edges, baseline=0 if overlay else base, fill=True, color=colors[o],
                      alpha=0.55 if overlay else 0.9, label=f"{o}{state} (n={v['n']:,})")  # fmt: skip
            base = top
        if overlay:
            ax.set_yscale("log")
            ax.set_ylim(bottom=0.5)
        marks = [(g, j, m) for j, m in enumerate((thresholds or {}).get(g, []))] if g else []
        marks += [("", j, m) for j, m in enumerate((thresholds or {}).get("", []))]
        for tg, j, m in marks:
            ax.axvline(m["value"], color="#222222", linestyle="--", linewidth=1.2)
            text = f"{tg + ' ' if tg else ''}{m['value']:g}" + (f" ({m['label']})" if m.get("label") else "")
            t = ax.annotate(text, (m["value"], 1), xycoords=("data", "axes fraction"), fontsize=8,
                            color="#222222", ha="left", va="top", rotation=90)  # fmt: skip
            t.set_gid(f"{gid}-threshold-{tg or 'all'}-{j}" + (f"-p{p}" if not tg and p else ""))
        ax.set_ylabel("documents, overlaid (log)" if overlay else "documents, stacked")
        ax.legend(fontsize=7, title=f"{g} (n={h['groups'][g]['n']:,})" if g else None, title_fontsize=8,
                  loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)  # fmt: skip
    axes[0].set_title(title + (f" (+{len(hidden)} smaller groups not drawn)" if hidden else ""))
    axes[-1].set_xlabel(xlabel)
    return _svg(fig)
