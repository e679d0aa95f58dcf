"""One plan from a team's inputs: the scaling optima, each candidate's cost, the corpus it needs.

`make_plan(PlanInputs) -> dict` is the JSON `lamina plan --out` writes (and the report and the plot
read); every figure in it is computed here from the inputs, the fit and the candidates' shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lamina.plan import scaling
from lamina.plan.corpus import Corpus
from lamina.plan.cost import Candidate, implied_mfu, tokens_per_s_per_gpu, training_cost

PLAN_VERSION = 1


@dataclass(frozen=True)
class PlanInputs:
    fit: scaling.ScalingFit
    compute: float | None = None  # training FLOPs budget
    compute_from: str = ""  # how the budget was given, e.g. "1000 GPU-days of A100 at MFU 0.45"
    params: float | None = None  # model size N
    tokens: float | None = None  # training tokens D
    served: float | None = None  # lifetime inference volume (tokens served)
    target_loss: float | None = None
    candidates: list[Candidate] = field(default_factory=list)
    gpu: str = "A100"
    peak: float | None = None  # dense bf16 FLOP/s of one GPU (None: no hardware figures)
    gpus: int | None = None  # K GPUs for wall-clock days
    mfu: float | None = None  # model FLOPs utilization for every candidate without a throughput
    mfu_from: str = ""  # "given" or the metrics.jsonl it was measured in
    tokens_per_s: dict[str, float] = field(default_factory=dict)  # per candidate name ("*": every one)
    reported_gpu_hours: dict[str, float] = field(default_factory=dict)  # per candidate name
    corpus: Corpus | None = None


def _plan_point(inp: PlanInputs) -> tuple[scaling.Point | None, str]:
    """The (N, D) of the plan from any two of compute, N, D (one alone: on the compute-optimal frontier)."""
    fit, c, n, d = inp.fit, inp.compute, inp.params, inp.tokens
    if c is not None and n is not None:
        return scaling.point(fit, n, c / (6.0 * n)), "compute and params given: D = C / 6N"
    if c is not None and d is not None:
        return scaling.point(fit, c / (6.0 * d), d), "compute and tokens given: N = C / 6D"
    if n is not None and d is not None:
        return scaling.point(fit, n, d), "params and tokens given: C = 6ND"
    if c is not None:
        return scaling.compute_optimal(fit, c), "compute given: the compute-optimal model"
    if n is not None:
        p = scaling.compute_optimal(fit, scaling.optimal_compute_for_params(fit, n))
        return p, "params given: the tokens that make it compute-optimal"
    if d is not None:
        p = scaling.compute_optimal(fit, scaling.optimal_compute_for_tokens(fit, d))
        return p, "tokens given: the model size that makes them compute-optimal"
    return None, ""


def _candidate_tokens(c: Candidate, inp: PlanInputs) -> tuple[float, str]:
    if c.tokens_from == "spec":
        return c.tokens, "spec"
    if inp.tokens is not None:
        return inp.tokens, "--tokens"
    if inp.compute is not None:
        return inp.compute / c.flops_per_token, "budget"  # the whole budget at the trainer's FLOPs/token
    if c.tokens is not None:
        return c.tokens, c.tokens_from
    raise ValueError(
        f"candidate {c.name!r} ({c.origin}): no token count; give --tokens, a budget, or {c.name}@TOKENS"
    )


def _lookup(table: dict[str, float], c: Candidate) -> float | None:
    """A per-candidate value by name, by name without @TOKENS, or given for every candidate ("*")."""
    for key in (c.name, c.base, "*"):
        if key in table:
            return table[key]
    return None


def _candidate(c: Candidate, inp: PlanInputs) -> dict:
    fit = inp.fit
    tokens, tokens_from = _candidate_tokens(c, inp)
    six_nd = 6.0 * c.params * tokens
    opt = scaling.compute_optimal(fit, six_nd)
    row = {
        "name": c.name,
        "origin": c.origin,
        "params": c.params,
        "params_non_embedding": c.params_non_embedding,
        "dim": c.model.dim,
        "layers": c.model.n_layers,
        "seq_len": c.seq_len,
        "flops_per_token": c.flops_per_token,
        "tokens": tokens,
        "tokens_from": tokens_from,
        "tokens_per_param": tokens / c.params,
        "loss": fit.loss(c.params, tokens),
        "compute_6nd": six_nd,
        "compute_optimal_at_same_compute": opt.to_dict(),
    }
    tps = _lookup(inp.tokens_per_s, c)
    if tps is not None:
        row |= training_cost(c, tokens, tps, inp.gpus)
        row["throughput_from"] = "tokens/s given"
        if inp.peak is not None:
            row["mfu"] = implied_mfu(c.flops_per_token, tps, inp.peak)
    elif inp.mfu is not None and inp.peak is not None:
        row |= training_cost(c, tokens, tokens_per_s_per_gpu(c.flops_per_token, inp.mfu, inp.peak), inp.gpus)
        row["mfu"], row["throughput_from"] = inp.mfu, f"MFU {inp.mfu_from}"
    hours = _lookup(inp.reported_gpu_hours, c)
    if hours is not None:
        reported_tps = tokens / (hours * 3600.0)
        row["reported"] = {"gpu_hours": hours, "tokens_per_s_per_gpu": reported_tps}
        if inp.peak is not None:
            row["reported"]["mfu"] = implied_mfu(c.flops_per_token, reported_tps, inp.peak)
    if inp.served is not None:
        row["inference_flops"] = 2.0 * c.params_non_embedding * inp.served
        row["lifetime_flops"] = c.flops_per_token * tokens + row["inference_flops"]
    if inp.corpus is not None:
        row["corpus"] = inp.corpus.needs(tokens)
    return row


def make_plan(inp: PlanInputs) -> dict:
    fit = inp.fit
    plan: dict = {
        "version": PLAN_VERSION,
        "fit": {"name": fit.name, "E": fit.E, "A": fit.A, "B": fit.B, "alpha": fit.alpha, "beta": fit.beta},
        "inputs": {
            "compute_flops": inp.compute,
            "compute_from": inp.compute_from,
            "params": inp.params,
            "tokens": inp.tokens,
            "served_tokens": inp.served,
            "target_loss": inp.target_loss,
        },
    }
    point, how = _plan_point(inp)
    if point is not None:
        plan["point"] = point.to_dict() | {"how": how}
        plan["compute_optimal"] = scaling.compute_optimal(fit, point.compute).to_dict()
    quality = inp.target_loss if inp.target_loss is not None else (point.loss if point else None)
    if inp.served is not None and quality is not None:
        best = scaling.inference_optimal(fit, quality, inp.served)
        chin = scaling.compute_optimal(fit, scaling.compute_for_loss(fit, quality))
        life_best, life_chin = (
            scaling.lifetime_flops(best, inp.served),
            scaling.lifetime_flops(chin, inp.served),
        )
        plan["inference_optimal"] = best.to_dict() | {
            "quality_loss": quality,
            "quality_from": "target loss" if inp.target_loss is not None else "the plan's point",
            "inference_flops": 2.0 * best.n * inp.served,
            "lifetime_flops": life_best,
            "compute_optimal_same_loss": chin.to_dict() | {"lifetime_flops": life_chin},
            "lifetime_saving": 1.0 - life_best / life_chin,
        }
    if inp.target_loss is not None:
        need = scaling.compute_for_loss(fit, inp.target_loss)
        target: dict = {
            "loss": inp.target_loss,
            "least_compute": need,
            "compute_optimal_at_least_compute": scaling.compute_optimal(fit, need).to_dict(),
        }
        if point is not None:
            small = scaling.smallest_model(fit, point.compute, inp.target_loss)
            target["budget_flops"] = point.compute
            target["reachable"] = small is not None
            target["smallest_model"] = None if small is None else small.to_dict()
        plan["target"] = target
    if inp.peak is not None:
        plan["hardware"] = {
            "gpu": inp.gpu,
            "peak_flops": inp.peak,
            "gpus": inp.gpus,
            "mfu": inp.mfu,
            "mfu_from": inp.mfu_from,
            "tokens_per_s_per_gpu": inp.tokens_per_s,
        }
    if inp.corpus is not None:
        plan["corpus"] = {
            "manifest": inp.corpus.path,
            "tokens": inp.corpus.tokens,
            "weights": inp.corpus.weights,
        }
    plan["candidates"] = [_candidate(c, inp) for c in inp.candidates]
    if len(plan["candidates"]) > 1:
        _match_best(plan["candidates"], fit)
    return plan


def _match_best(rows: list[dict], fit: scaling.ScalingFit) -> None:
    """For every candidate, what reaching the best candidate's predicted loss takes: its tokens, training
    FLOPs and GPU time, and the served-token volume above which it is the cheaper model over its life
    (training + 2N per served token): break_even = extra training FLOPs / (2 x N difference)."""
    best = min(rows, key=lambda r: r["loss"])
    for r in rows:
        tokens = scaling.tokens_for_loss(fit, r["params"], best["loss"]) if r is not best else r["tokens"]
        match: dict = {"loss": best["loss"], "of": best["name"], "tokens": tokens}
        if math.isfinite(tokens):
            match["train_flops"] = r["flops_per_token"] * tokens
            if "tokens_per_s_per_gpu" in r:
                match["gpu_hours"] = tokens / r["tokens_per_s_per_gpu"] / 3600.0
                if r.get("days") is not None:
                    match["days"] = r["days"] * tokens / r["tokens"]
            extra = match["train_flops"] - best["flops_per_token"] * best["tokens"]
            smaller = 2.0 * (best["params_non_embedding"] - r["params_non_embedding"])
            if r is not best and smaller > 0:
                match["break_even_served"] = max(0.0, extra) / smaller
        r["match_best"] = match
