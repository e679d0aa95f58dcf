"""`lamina plan`: model size, tokens and days for a training budget and an inference volume.

    lamina plan --compute 1e23                                  # Chinchilla's N*, D* and loss
    lamina plan --gpu-days 20000 --gpu A100 --mfu 0.45 --served 2T --candidates 7b,13b --gpus 512
    lamina plan --candidates 65b --gpus 2048 --tokens-per-s-per-gpu 380      # the paper's 21 days
    lamina plan ... --manifest out/corpus/shards --out out/plan/plan.json    # + corpus epochs, JSON, plot

Torch is imported only when a GPU's peak or the MFU formula is needed (lamina/pretrain/metrics.py).
Options: docs/plan.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from lamina.plan import scaling

DEFAULT_CANDIDATES = "7b,13b,33b,65b"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lamina plan",
        description="Give any two of a training budget, --params and --tokens (or one: the compute-optimal "
        "rest); optionally --served and --target-loss. Counts take suffixes: 1.4T, 65B, 380.",
    )
    budget = p.add_argument_group("training budget (one of)")
    budget.add_argument("--compute", help="training FLOPs, e.g. 1e23")
    budget.add_argument("--gpu-days", help="GPU-days on --gpu at --mfu")
    budget.add_argument("--gpu-hours", help="GPU-hours on --gpu at --mfu")
    p.add_argument("--params", help="model size N (parameters), e.g. 13B")
    p.add_argument("--tokens", help="training tokens D, e.g. 1T (also every candidate's, unless NAME@TOKENS)")
    p.add_argument("--served", help="lifetime inference volume in tokens (2N FLOPs each), e.g. 5T")
    p.add_argument("--target-loss", type=float, help="the loss to reach (nats/token, the fit's units)")
    p.add_argument("--fit", default="chinchilla", choices=sorted(scaling.FITS), help="scaling-law constants")
    p.add_argument(
        "--fit-set", action="append", default=[], metavar="KEY=VALUE", help="override E, A, B, alpha or beta"
    )
    cand = p.add_argument_group("candidates and hardware")
    cand.add_argument(
        "--candidates",
        default=DEFAULT_CANDIDATES,
        help="comma list of presets (configs/pretrain/NAME.toml), *.toml training configs or model_config.json "
        f"files, each optionally @TOKENS (default {DEFAULT_CANDIDATES}; '' for none)",
    )
    cand.add_argument("--gpu", default="A100", help="GPU name for the peak-FLOPS table (default A100)")
    cand.add_argument("--peak-tflops", type=float, help="dense bf16 peak of one GPU, overriding the table")
    cand.add_argument("--gpus", type=int, help="K GPUs, for wall-clock days")
    cand.add_argument("--mfu", type=float, help="model FLOPs utilization, 0-1 (the trainer's definition)")
    cand.add_argument("--mfu-from", metavar="RUN", help="median MFU of a pretraining run's metrics.jsonl")
    cand.add_argument(
        "--tokens-per-s-per-gpu",
        metavar="X|NAME=X,...",
        help="measured throughput, for every candidate or per name",
    )
    cand.add_argument(
        "--reported-gpu-hours",
        metavar="NAME=H,...",
        help="GPU-hours a run took: implied tokens/s/GPU and MFU",
    )
    corpus = p.add_argument_group("corpus")
    corpus.add_argument("--manifest", help="shards manifest (directory or manifest.json): epochs per source")
    corpus.add_argument("--mixture", help="SOURCE=WEIGHT,... replacing the manifest's mixture")
    p.add_argument(
        "--out", type=Path, help="write the plan as JSON here, and the plot beside it (.png, .svg)"
    )
    p.add_argument("--no-plot", action="store_true", help="with --out, skip the plot")
    return p


def _named_values(text: str, what: str) -> dict[str, float]:
    from lamina.plan.cost import parse_count

    if "=" not in text:
        return {"*": parse_count(text, what)}
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{what}: {item!r} is not NAME=VALUE (in {text!r})")
        out[name.strip()] = parse_count(value, f"{what} {name.strip()}")
    return out


def _fit(args) -> scaling.ScalingFit:
    fit = scaling.FITS[args.fit]
    values = {k: getattr(fit, k) for k in ("E", "A", "B", "alpha", "beta")}
    for item in args.fit_set:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in values:
            raise ValueError(f"--fit-set {item!r}: expected KEY=VALUE with KEY one of {', '.join(values)}")
        try:
            values[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--fit-set {item!r}: {value!r} is not a number") from None
    name = fit.name if not args.fit_set else f"{fit.name} ({', '.join(args.fit_set)})"
    return scaling.ScalingFit(name, **values)


def inputs_from_args(args):
    from lamina.plan.build import PlanInputs
    from lamina.plan.cost import load_candidate, mfu_from_run, parse_count, peak_flops

    fit = _fit(args)
    given = [o for o in ("compute", "gpu_days", "gpu_hours") if getattr(args, o) is not None]
    if len(given) > 1:
        raise ValueError("give one training budget: --compute, --gpu-days or --gpu-hours")
    if sum(x is not None for x in (given or None, args.params, args.tokens)) > 2:
        raise ValueError("give at most two of a budget, --params and --tokens (the third follows: C = 6ND)")
    if args.mfu is not None and args.mfu_from:
        raise ValueError("give --mfu or --mfu-from, not both")
    if args.mfu is not None and not 0 < args.mfu <= 1:
        raise ValueError(f"--mfu is a fraction in (0, 1], got {args.mfu}")
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        raise ValueError(f"--peak-tflops must be positive, got {args.peak_tflops}")
    if args.gpus is not None and args.gpus <= 0:
        raise ValueError(f"--gpus must be positive, got {args.gpus}")
    mfu, mfu_from = args.mfu, "given" if args.mfu is not None else ""
    if args.mfu_from:
        mfu, steps = mfu_from_run(args.mfu_from)
        mfu_from = f"median of {steps} steps of {args.mfu_from}"
    tps = (
        _named_values(args.tokens_per_s_per_gpu, "--tokens-per-s-per-gpu")
        if args.tokens_per_s_per_gpu
        else {}
    )
    reported = (
        _named_values(args.reported_gpu_hours, "--reported-gpu-hours") if args.reported_gpu_hours else {}
    )
    needs_peak = mfu is not None or tps or reported or args.gpu_days or args.gpu_hours
    peak = None
    if needs_peak:
        peak = args.peak_tflops * 1e12 if args.peak_tflops else peak_flops(args.gpu)
    compute, compute_from = None, ""
    if args.compute is not None:
        compute, compute_from = parse_count(args.compute, "--compute"), "--compute"
    elif args.gpu_days is not None or args.gpu_hours is not None:
        if mfu is None:
            raise ValueError("a budget in GPU time needs --mfu or --mfu-from to turn into FLOPs")
        hours = (
            parse_count(args.gpu_hours, "--gpu-hours")
            if args.gpu_hours
            else 24 * parse_count(args.gpu_days, "--gpu-days")
        )
        compute = hours * 3600.0 * peak * mfu
        compute_from = f"{hours / 24:,.0f} GPU-days of {args.gpu} ({peak / 1e12:g} TFLOPS) at MFU {mfu:.3f}"
    candidates = [load_candidate(s.strip()) for s in args.candidates.split(",") if s.strip()]
    names = {c.name for c in candidates} | {c.base for c in candidates}
    for what, table in (("--tokens-per-s-per-gpu", tps), ("--reported-gpu-hours", reported)):
        unknown = sorted(set(table) - names - {"*"})
        if unknown:
            raise ValueError(f"{what}: {', '.join(unknown)} is not a candidate ({', '.join(sorted(names))})")
    corpus = None
    if args.manifest:
        from lamina.plan.corpus import load_corpus
        from lamina.tokenize.mixture import parse_weights

        corpus = load_corpus(args.manifest, parse_weights(args.mixture) if args.mixture else None)
    elif args.mixture:
        raise ValueError("--mixture needs --manifest (the token counts per source)")
    return PlanInputs(
        fit=fit,
        compute=compute,
        compute_from=compute_from,
        params=parse_count(args.params, "--params") if args.params else None,
        tokens=parse_count(args.tokens, "--tokens") if args.tokens else None,
        served=parse_count(args.served, "--served") if args.served else None,
        target_loss=args.target_loss,
        candidates=candidates,
        gpu=args.gpu if not args.peak_tflops else f"{args.gpu} ({args.peak_tflops:g} TFLOPS given)",
        peak=peak,
        gpus=args.gpus,
        mfu=mfu,
        mfu_from=mfu_from,
        tokens_per_s=tps,
        reported_gpu_hours=reported,
        corpus=corpus,
    )


def human(x: float | None, unit: str = "") -> str:
    """1.4e12 -> '1.40T'."""
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    for scale, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}{unit}"
    return f"{x:.3g}{unit}"


def _pt(p: dict) -> str:
    return (
        f"N {human(p['params'])}  D {human(p['tokens'])} tokens ({p['tokens_per_param']:,.0f} tokens/param)  "
        f"C {p['compute_flops']:.3e} FLOPs  loss {p['loss']:.4f}"
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    return [fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)]


def render(plan: dict) -> str:
    f = plan["fit"]
    lines = [
        f"Scaling fit {f['name']}: L(N, D) = {f['E']} + {f['A']} / N^{f['alpha']} + {f['B']} / D^{f['beta']}"
    ]
    inputs = plan["inputs"]
    if inputs.get("compute_from", "").startswith(tuple("0123456789")):
        lines.append(f"Budget: {inputs['compute_flops']:.3e} FLOPs = {inputs['compute_from']}")
    if "point" in plan:
        lines += [f"Plan ({plan['point']['how']}):", f"  {_pt(plan['point'])}"]
        if not plan["point"]["how"].startswith(("compute given", "params given", "tokens given")):
            lines += ["Compute-optimal at that compute (closed form):", f"  {_pt(plan['compute_optimal'])}"]
    if "inference_optimal" in plan:
        io_ = plan["inference_optimal"]
        ch = io_["compute_optimal_same_loss"]
        lines += [
            f"Inference-adjusted, {human(inputs['served_tokens'])} tokens served, same loss "
            f"{io_['quality_loss']:.4f} ({io_['quality_from']}):",
            f"  {_pt(io_)}",
            f"  lifetime {io_['lifetime_flops']:.3e} FLOPs vs {ch['lifetime_flops']:.3e} for the compute-optimal "
            f"N {human(ch['params'])} on {human(ch['tokens'])}: {100 * io_['lifetime_saving']:.1f}% less",
        ]
    if "target" in plan:
        t = plan["target"]
        lines.append(f"Target loss {t['loss']}: least compute {t['least_compute']:.3e} FLOPs "
                     f"(N {human(t['compute_optimal_at_least_compute']['params'])} on "
                     f"{human(t['compute_optimal_at_least_compute']['tokens'])} tokens)")  # fmt: skip
        if t.get("reachable"):
            lines.append(f"  smallest model within the budget: {_pt(t['smallest_model'])}")
        elif "reachable" in t:
            lines.append(
                f"  not reachable within the budget: it needs {t['least_compute'] / t['budget_flops']:.2f}x"
            )
    cands = plan.get("candidates", [])
    if cands:
        hw = plan.get("hardware")
        title = "Candidates"
        if hw:
            title += f" ({hw['gpu']}, peak {hw['peak_flops'] / 1e12:g} TFLOPS"
            title += f", {hw['gpus']} GPUs)" if hw.get("gpus") else ")"
        lines += ["", title + ":"]
        header = [
            "name",
            "params",
            "tokens",
            "from",
            "loss",
            "tok/s/GPU",
            "MFU",
            "GPU-hours",
            "days",
            "train FLOPs",
        ]
        has_served = any("inference_flops" in c for c in cands)
        if has_served:
            header += ["infer FLOPs", "lifetime"]
        rows = []
        for c in cands:
            row = [
                c["name"],
                human(c["params"]),
                human(c["tokens"]),
                c["tokens_from"],
                f"{c['loss']:.4f}",
                f"{c['tokens_per_s_per_gpu']:,.1f}" if "tokens_per_s_per_gpu" in c else "",
                f"{100 * c['mfu']:.1f}%" if c.get("mfu") is not None else "",
                f"{c['gpu_hours']:,.0f}" if "gpu_hours" in c else "",
                f"{c['days']:,.1f}" if c.get("days") is not None else "",
                f"{c['train_flops']:.3e}"
                if "train_flops" in c
                else f"{c['flops_per_token'] * c['tokens']:.3e}",
            ]
            if has_served:
                row += [f"{c['inference_flops']:.3e}", f"{c['lifetime_flops']:.3e}"]
            rows.append(row)
        lines += ["  " + r for r in _table(header, rows)]
        reported = [c for c in cands if "reported" in c]
        if reported:
            lines += ["", "Implied by reported GPU-hours:"]
            rows = [
                [c["name"], human(c["tokens"]), f"{c['reported']['gpu_hours']:,.0f}",
                 f"{c['reported']['tokens_per_s_per_gpu']:,.1f}",
                 f"{100 * c['reported']['mfu']:.1f}%" if c["reported"].get("mfu") is not None else ""]
                for c in reported
            ]  # fmt: skip
            lines += ["  " + r for r in _table(["name", "tokens", "GPU-hours", "tok/s/GPU", "MFU"], rows)]
    matched = [c for c in cands if "match_best" in c and c["name"] != c["match_best"]["of"]]
    if matched:
        m0 = matched[0]["match_best"]
        lines += ["", f"To reach {m0['of']}'s predicted loss {m0['loss']:.4f}:"]
        rows = [
            [
                c["name"],
                human(c["match_best"]["tokens"]),
                f"{c['match_best']['train_flops']:.3e}" if "train_flops" in c["match_best"] else "never",
                f"{c['match_best']['gpu_hours']:,.0f}" if "gpu_hours" in c["match_best"] else "",
                f"{c['match_best']['days']:,.1f}" if "days" in c["match_best"] else "",
                human(c["match_best"].get("break_even_served")),
            ]
            for c in matched
        ]
        header = [
            "name",
            "tokens",
            "train FLOPs",
            "GPU-hours",
            "days",
            "cheaper over its life above (tokens served)",
        ]
        lines += ["  " + r for r in _table(header, rows)]
    if "corpus" in plan and cands:
        lines += ["", f"Corpus ({plan['corpus']['manifest']}): epochs per source"]
        sources = list(plan["corpus"]["weights"])
        header = ["name", *sources]
        rows = [[c["name"], *(f"{c['corpus'][s]['epochs']:.3g}" for s in sources)] for c in cands]
        rows.append(["tokens on disk", *(human(plan["corpus"]["tokens"][s]) for s in sources)])
        rows.append(["weight", *(f"{plan['corpus']['weights'][s]:.3f}" for s in sources)])
        lines += ["  " + r for r in _table(header, rows)]
    return "\n".join(lines)


def write_plan(plan: dict, out: Path, plot: bool = True) -> list[str]:
    """The plan JSON at `out` (temporary name, then renamed) and, with `plot`, out.png and out.svg."""
    written = []
    if plot:
        from lamina.plan.plot import write_plots

        plan["plots"] = [os.path.basename(p) for p in write_plots(plan, out.with_suffix(""))]
        written += [str(out.with_suffix(f".{e}")) for e in ("png", "svg")]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(plan, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(out)
    return [str(out), *written]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from lamina.plan.build import make_plan

        plan = make_plan(inputs_from_args(args))
    except ValueError as err:
        print(f"lamina plan: error: {err}", file=sys.stderr)
        return 2
    print(render(plan))
    if args.out is not None:
        print("\nwrote " + ", ".join(write_plan(plan, args.out, plot=not args.no_plot)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
