"""The plan's section of the corpus report (`lamina report --plan PLAN.json`): the optima, the candidates'
table and the plot, redrawn from the JSON and embedded as a PNG `data:` URI. Every value is escaped."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path


def load_plan(path: str | Path) -> dict:
    path = Path(path)
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"{path}: cannot read the plan: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(plan, dict) or "fit" not in plan or "candidates" not in plan:
        raise ValueError(f"{path}: not a plan written by `lamina plan --out` (no fit or candidates)")
    return plan


def _cell(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return escape(f"{x:.4g}" if abs(x) < 1e4 else f"{x:.3e}")
    return escape(str(x))


def plan_section(plan: dict) -> str:
    from lamina.plan.cli import render
    from lamina.plan.plot import png_data_uri

    cols = [
        ("name", "name"),
        ("params", "params"),
        ("tokens", "tokens"),
        ("loss", "predicted loss"),
        ("tokens_per_s_per_gpu", "tokens/s/GPU"),
        ("mfu", "MFU"),
        ("gpu_hours", "GPU-hours"),
        ("days", "days"),
        ("inference_flops", "inference FLOPs"),
    ]
    head = "".join(f"<th>{escape(title)}</th>" for _, title in cols)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(c.get(key))}</td>" for key, _ in cols) + "</tr>"
        for c in plan["candidates"]
    )
    return (
        "<h2>Training plan</h2>\n"
        '<p class="muted">From <code>lamina plan</code> (docs/plan.md): the scaling fit\'s optima for the '
        "budget, and each candidate's cost.</p>\n"
        f"<pre>{escape(render(plan))}</pre>\n"
        f'<div class="wide"><table><tr>{head}</tr>{rows}</table></div>\n'
        f'<img src="{png_data_uri(plan)}" alt="loss isocurves with the compute-optimal frontier and the candidates">\n'
    )


def plan_html(path: str | Path) -> str:
    """The report section for the plan at `path`; a one-line ValueError naming the file when it is not one."""
    plan = load_plan(path)
    try:
        return plan_section(plan)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"{path}: not a plan `lamina plan --out` wrote ({type(err).__name__}: {err})"
        ) from None
