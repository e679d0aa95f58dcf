"""The plan's picture: loss isocurves of the fit over (N, D), the compute-optimal frontier, the budget's
iso-compute line, the inference-adjusted frontier and optimum, and the candidates, drawn from the plan
JSON alone (so the corpus report can redraw it). matplotlib with the Agg backend; PNG and SVG written
without timestamps, so the same plan gives the same bytes.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

from lamina.plan import scaling  # noqa: E402

plt.rcParams["svg.hashsalt"] = "lamina-plan"  # deterministic SVG ids


def _fit(plan: dict) -> scaling.ScalingFit:
    f = plan["fit"]
    return scaling.ScalingFit(f["name"], f["E"], f["A"], f["B"], f["alpha"], f["beta"])


def _marks(plan: dict) -> list[tuple[str, float, float, str, str]]:
    """(label, N, D, marker, colour) of every point the plan names."""
    marks = []
    if "compute_optimal" in plan:
        p = plan["compute_optimal"]
        marks.append(("compute-optimal", p["params"], p["tokens"], "*", "black"))
    if "point" in plan and not plan["point"]["how"].startswith(
        ("compute given", "params given", "tokens given")
    ):
        p = plan["point"]
        marks.append(("plan point", p["params"], p["tokens"], "o", "#555555"))
    if "inference_optimal" in plan:
        p = plan["inference_optimal"]
        marks.append(("inference-adjusted optimum", p["params"], p["tokens"], "D", "#c0504d"))
    small = plan.get("target", {}).get("smallest_model")
    if small:
        marks.append(("smallest model at target loss", small["params"], small["tokens"], "^", "#3a7d44"))
    for c in plan.get("candidates", []):
        marks.append((c["name"], c["params"], c["tokens"], "s", "#1f77b4"))
        m = c.get("match_best")
        if m and m["of"] != c["name"] and math.isfinite(m["tokens"]):
            marks.append((f"{c['name']} at {m['of']}'s loss", c["params"], m["tokens"], "s-open", "#1f77b4"))
    return marks


def figure(plan: dict):
    fit = _fit(plan)
    marks = _marks(plan)
    ns = [m[1] for m in marks] or [1e9]
    ds = [m[2] for m in marks] or [2e10]
    n_lo, n_hi = 10.0 ** math.floor(math.log10(min(ns)) - 0.5), 10.0 ** math.ceil(math.log10(max(ns)) + 0.5)
    d_lo, d_hi = 10.0 ** math.floor(math.log10(min(ds)) - 0.5), 10.0 ** math.ceil(math.log10(max(ds)) + 0.5)
    n_grid, d_grid = np.geomspace(n_lo, n_hi, 200), np.geomspace(d_lo, d_hi, 200)
    nn, dd = np.meshgrid(n_grid, d_grid)
    loss = fit.E + fit.A / nn**fit.alpha + fit.B / dd**fit.beta

    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    levels = np.unique(np.round(np.quantile(loss, np.linspace(0.03, 0.97, 11)), 2))
    cs = ax.contour(nn, dd, loss, levels=levels, cmap="viridis", linewidths=0.8)
    ax.clabel(cs, fmt="%.2f", fontsize=7)
    compute = np.geomspace(6 * n_lo * d_lo, 6 * n_hi * d_hi, 100)
    front = [scaling.compute_optimal(fit, c) for c in compute]
    ax.plot([p.n for p in front], [p.d for p in front], "k-", lw=1.3, label="compute-optimal frontier")
    budget = plan.get("point", {}).get("compute_flops")
    if budget:
        ax.plot(
            n_grid,
            budget / (6 * n_grid),
            color="gray",
            ls=":",
            lw=1.2,
            label=f"budget C = {budget:.2e} (6ND)",
        )
    served = plan.get("inputs", {}).get("served_tokens")
    if served:
        losses = np.linspace(float(loss.min()) + 1e-3, float(loss.max()), 60)
        adj = [scaling.inference_optimal(fit, float(q), served) for q in losses if q > fit.E]
        adj = [p for p in adj if n_lo <= p.n <= n_hi and d_lo <= p.d <= d_hi]
        if adj:
            ax.plot(
                [p.n for p in adj], [p.d for p in adj], color="#c0504d", ls="--", lw=1.2,
                label=f"inference-adjusted frontier ({served:.1e} tokens served)",
            )  # fmt: skip
    best = min(plan.get("candidates", []), key=lambda c: c["loss"], default=None)
    if best is not None and len(plan["candidates"]) > 1:
        ax.contour(nn, dd, loss, levels=[best["loss"]], colors="#1f77b4", linestyles="--", linewidths=1.8)
    for label, n, d, marker, colour in marks:
        if marker.startswith("s"):  # a candidate (open: trained on to the best candidate's loss), named
            face = "none" if marker == "s-open" else colour
            ax.plot(n, d, marker="s", color=colour, mfc=face, ms=7, ls="none")
            ax.annotate(label, (n, d), textcoords="offset points", xytext=(5, 4), fontsize=8, color=colour)
        else:
            ax.plot(n, d, marker=marker, color=colour, ms=10, ls="none", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(n_lo, n_hi)
    ax.set_ylim(d_lo, d_hi)
    ax.set_xlabel("parameters N")
    ax.set_ylabel("training tokens D")
    title = f"Predicted loss L(N, D), {fit.name} fit; squares: candidates"
    if best is not None and len(plan["candidates"]) > 1:
        title += f" (dashed blue: {best['name']}'s loss)"
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left")
    return fig


def write_plots(plan: dict, stem: str | Path) -> list[str]:
    """`stem`.png and `stem`.svg; returns their paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig = figure(plan)
    paths = []
    for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        path = stem.with_suffix(f".{ext}")
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format=ext, dpi=96, bbox_inches="tight", metadata=meta)
        tmp.replace(path)
        paths.append(str(path))
    plt.close(fig)
    return paths


def png_data_uri(plan: dict) -> str:
    """The plot as a PNG `data:` URI, for a self-contained HTML page."""
    buf = io.BytesIO()
    fig = figure(plan)
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
