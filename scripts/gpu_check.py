"""`make gpu-check`: what only a GPU can tell, in a few minutes on one CUDA device, with its figures in
a JSON file. Written to be run blind on a machine nobody has watched: every check is isolated (an
exception, an out-of-memory or a missing package is recorded in its entry and the next check runs),
the whole run keeps to a time budget (a check that would start after it is recorded as skipped, one
still running GRACE_S after it is interrupted and recorded as failed), and
the JSON is rewritten after every check, so a run killed half-way still leaves what it measured.

Checks, in order (`--only NAME` runs some):
  environment        torch / CUDA / device name, the device's dense bf16 peak (metrics.PEAK_BF16_FLOPS),
                     xformers' version or why it does not import
  xformers_vs_sdpa   xformers loads; its causal attention forward and backward equal SDPA's (bf16)
  manual_backward    the hand-written block backward (remat.py) equals autograd, fp32 and bf16
                     autocast, with each attention backend available
  activation_memory  bytes one 13B layer keeps for its backward per checkpointing mode (bf16,
                     seq 2048, batch 1) against the formulas (docs/model.md): manual 12sbh + 4sbf,
                     full 2sbh (checked to 10%); none and selective shown against 34sbh
  train              bf16 training of the ~1B preset at seq 2048 through the real Trainer (autocast,
                     fused AdamW, clipping, the loader over real Megatron shards of random tokens),
                     per checkpointing mode: tokens/s, MFU against the device's dense bf16 peak,
                     peak memory; the aim is MFU >= 50%
  fsdp_bf16          FSDP2 on a one-rank NCCL group with bf16 parameters (the multi-GPU path's
                     mixed precision), sharded init, fused AdamW on DTensors, against the plain model
  compile            torch.compile (Inductor) of a block, eager vs compiled, none and manual modes

    make gpu-check                                  # = python scripts/gpu_check.py --out out/gpu_check.json
    python scripts/gpu_check.py --budget 420 --modes none,manual --out /tmp/g.json
    python scripts/gpu_check.py --device cpu --preset tiny --seq 64 --batch 2 --steps 3   # the CPU parts

On CPU (`--device cpu`) the checks that mean something there run on the small shapes given
(xformers has no CPU kernels: that check is skipped, not failed). Exit status: 0 when no check
failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the repository's package wins
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

MODES = ("none", "manual", "full", "selective")  # lamina.pretrain.remat.CHECKPOINTING_MODES
MFU_AIM = 0.50


class Skip(Exception):
    """A check that does not apply here (no CUDA, no xformers): recorded as skipped, not failed."""


# ---------------------------------------------------------------------------------------------
# Arguments


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out/gpu_check.json", help="JSON file for the figures")
    p.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run (default 420)")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (the CPU-meaningful parts)")
    p.add_argument("--preset", default="1b", help="model preset trained by the `train` check (default 1b)")
    p.add_argument("--seq", type=int, default=2048, help="sequence length (default 2048)")
    p.add_argument("--batch", type=int, default=4, help="micro-batch of the `train` check (default 4)")
    p.add_argument("--steps", type=int, default=8, help="timed steps per mode after 2 warm-up steps")
    p.add_argument("--modes", default=",".join(MODES), help=f"checkpointing modes to train (default {MODES})")
    p.add_argument("--layer-preset", default="13b", help="preset of the activation-memory layer (13b)")
    p.add_argument("--compile", action="store_true", help="also train with torch.compile per block")
    p.add_argument("--only", action="append", default=[], metavar="CHECK", help="run only this check")
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    args = parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(args.modes) - set(MODES))
    if unknown:
        parser().error(f"--modes: unknown {unknown}; known: {', '.join(MODES)}")
    unknown = sorted(set(args.only) - set(CHECKS))
    if unknown:
        parser().error(f"--only: unknown {unknown}; known: {', '.join(CHECKS)}")
    if args.device not in ("cuda", "cpu"):
        parser().error("--device must be cuda or cpu")
    return args


# ---------------------------------------------------------------------------------------------
# Helpers


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in fp32 (0 when both are 0)."""
    a, b = a.float(), b.float()
    den = b.norm().item()
    return (a - b).norm().item() / den if den else (a - b).norm().item()


def _free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _backends(device: torch.device) -> list[str]:
    from lamina.pretrain import attention

    return (
        ["xformers", "sdpa"] if device.type == "cuda" and attention._xformers_ops() is not None else ["sdpa"]
    )


# ---------------------------------------------------------------------------------------------
# The formulas (Korthikanti et al. 2022, per-layer activation memory; docs/model.md)


def activation_formula(seq: int, batch: int, dim: int, hidden: int, heads: int) -> dict[str, float]:
    """Bytes per layer a bf16 block keeps for its backward, by the formulas of docs/model.md: manual 12sbh + 4sbf (x, q,
    k, v, attention output, h: 6 model-width tensors; w1 and w3 outputs: 2 hidden-width), full 2sbh
    (the block input only), and Korthikanti's 34sbh for no recompute without the 5as/h term of the
    stored attention scores (a fused kernel stores none) — the reference for none and selective."""
    sbh, sbf = seq * batch * dim, seq * batch * hidden
    return {"manual": 12 * sbh + 4 * sbf, "full": 2 * sbh, "none": 34 * sbh, "selective": 34 * sbh}


def compare_to_formula(measured: dict[str, int], formula: dict[str, float], tol: float = 0.10) -> dict:
    """Per mode: measured bytes, formula bytes, their ratio, and for manual and full (the formulas
    that describe this code exactly) whether they agree within `tol`."""
    rows = {}
    for mode, got in measured.items():
        want = formula[mode]
        ratio = got / want
        row = {"bytes": int(got), "formula_bytes": int(want), "ratio": round(ratio, 4)}
        if mode in ("manual", "full"):
            row["matches"] = abs(ratio - 1) <= tol
        rows[mode] = row
    return rows


# ---------------------------------------------------------------------------------------------
# Checks: each takes (args, device, deadline) and returns its figures; raises Skip or fails.


def check_environment(args, device, deadline) -> dict:
    from lamina.pretrain.metrics import device_peak_flops

    figures = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available(), "device": str(device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        figures.update(
            device_name=torch.cuda.get_device_name(device),
            memory_gib=round(props.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            capability=f"{props.major}.{props.minor}",
            bf16_supported=torch.cuda.is_bf16_supported(),
            allow_tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
        )
        with contextlib.suppress(Exception):  # NCCL's version, where this build has it
            figures["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
    peak = device_peak_flops(device)
    figures["peak_bf16_tflops"] = peak / 1e12 if peak else None
    try:
        import xformers

        figures["xformers"] = xformers.__version__
    except Exception as err:  # not installed, or a build that does not match torch
        figures["xformers"] = f"not importable: {type(err).__name__}: {err}"
    return figures


def check_xformers_vs_sdpa(args, device, deadline) -> dict:
    if device.type != "cuda":
        raise Skip("xformers has no CPU kernels")
    from lamina.bench.block import attention_backend
    from lamina.pretrain import attention

    with attention_backend("xformers") as got:
        if got != "xformers":
            import xformers.ops  # noqa: F401 (raises the import error that made it unavailable)

            raise RuntimeError("xformers imports but attention.py does not select it")
    gen = torch.Generator(device=device).manual_seed(0)
    shape = (2, args.seq, 16, 128)  # (B, T, H, D), the 1B preset's heads
    q, k, v = (torch.randn(shape, device=device, dtype=torch.bfloat16, generator=gen) for _ in range(3))
    grad = torch.randn(shape, device=device, dtype=torch.bfloat16, generator=gen)
    results = {}
    for name in ("xformers", "sdpa"):
        with attention_backend(name) as got:
            assert got == name, (name, got)
            qq, kk, vv = (t.detach().clone().requires_grad_() for t in (q, k, v))
            out = attention.attention(qq, kk, vv)
            results[name] = (out, *torch.autograd.grad(out, (qq, kk, vv), grad))
    names = ("out", "dq", "dk", "dv")
    rel = {n: _rel(a, b) for n, a, b in zip(names, results["xformers"], results["sdpa"], strict=True)}
    # two bf16 kernels summing in other orders: relative differences of a few 1e-3 are expected
    ok = all(r < 2e-2 for r in rel.values())
    figures = {f"rel_diff_{n}": round(r, 6) for n, r in rel.items()}
    figures["shape_BTHD"] = list(shape)
    if not ok:
        raise AssertionError(f"xformers differs from SDPA beyond 2e-2: {figures}")
    return figures


def _block_grads(block, x, cos, sin, mode: str, autocast: bool) -> dict[str, torch.Tensor]:
    from lamina.pretrain.remat import apply_ac

    apply_ac(block, mode)  # through a torch.compile wrapper too
    block.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_()
    ctx = torch.autocast(x.device.type, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with ctx:
        out = block(x, cos, sin)
    gen = torch.Generator(device="cpu").manual_seed(1)
    grad = torch.randn(out.shape, generator=gen).to(device=out.device, dtype=out.dtype)
    out.backward(grad)
    grads = {"out": out.detach(), "x": x.grad}
    grads.update({n: p.grad for n, p in block.named_parameters()})
    return grads


def check_manual_backward(args, device, deadline) -> dict:
    from lamina.pretrain.config import ModelConfig
    from lamina.pretrain.model import Transformer

    if device.type == "cuda":
        cfg = ModelConfig(dim=2048, n_layers=1, n_heads=16, vocab_size=16, max_seq_len=args.seq)
        seq = args.seq
    else:
        cfg = ModelConfig(dim=64, n_layers=1, n_heads=4, vocab_size=16, max_seq_len=max(args.seq, 64))
        seq = min(args.seq, 64)
    model = Transformer(cfg).to(device)
    model.init_rotary()
    block = model.layers["0"]
    x = torch.randn(1, seq, cfg.dim, generator=torch.Generator().manual_seed(0)).to(device)
    cos, sin = model.rope_cos[:seq], model.rope_sin[:seq]
    figures, failures = {}, []
    from lamina.bench.block import attention_backend

    # tolerances of tests/pretrain/test_remat.py's CUDA test: fp32 1e-4, bf16 autocast 3e-2
    for backend in _backends(device):
        with attention_backend(backend):
            for label, autocast, tol in (("fp32", False, 1e-4), ("bf16", True, 3e-2)):
                ref = _block_grads(block, x, cos, sin, "none", autocast)
                got = _block_grads(block, x, cos, sin, "manual", autocast)
                worst = max(ref, key=lambda n: _rel(got[n], ref[n]))
                err = _rel(got[worst], ref[worst])
                figures[f"{backend}.{label}.max_rel_diff"] = round(err, 8)
                figures[f"{backend}.{label}.worst_tensor"] = worst
                if not err < tol:
                    failures.append(f"{backend} {label}: {worst} differs by {err:.3g} (> {tol})")
    figures["shape"] = {"batch": 1, "seq": seq, "dim": cfg.dim, "heads": cfg.n_heads}
    if failures:
        raise AssertionError("; ".join(failures))
    return figures


def check_activation_memory(args, device, deadline) -> dict:
    from lamina.bench.block import saved_bytes_per_block
    from lamina.pretrain.config import preset
    from lamina.pretrain.model import TransformerBlock, rotary_tables

    if device.type == "cuda":
        cfg, seq = preset(args.layer_preset), 2048
    else:  # the same measurement and formula on a layer a CPU forwards in a moment
        cfg, seq = preset("tiny"), min(args.seq, 64)
    block = TransformerBlock(0, cfg).to(device=device, dtype=torch.bfloat16)
    cos, sin = rotary_tables(cfg.head_dim, seq, cfg.rope_theta, device)
    x = (torch.randn(1, seq, cfg.dim, generator=torch.Generator().manual_seed(0)) * 0.5).to(
        device=device, dtype=torch.bfloat16
    )
    measured = {mode: saved_bytes_per_block(block, x, cos, sin, mode) for mode in MODES}
    formula = activation_formula(seq, 1, cfg.dim, cfg.hidden_dim, cfg.n_heads)
    rows = compare_to_formula(measured, formula)
    figures = {
        "layer": args.layer_preset if device.type == "cuda" else "tiny",
        "seq": seq,
        "batch": 1,
        "dim": cfg.dim,
        "hidden": cfg.hidden_dim,
        "modes": rows,
    }
    bad = [m for m, r in rows.items() if r.get("matches") is False]
    if bad:
        raise AssertionError(f"activation bytes off the formula for {bad}: {rows}")
    return figures


def write_random_shards(out: Path, vocab: int, tokens: int, doc_len: int = 2048, seed: int = 0) -> Path:
    """A real shard set (Megatron .bin/.idx + manifest) of uniformly random tokens for throughput runs."""
    from lamina.tokenize.indexed import IndexedWriter
    from lamina.tokenize.shards import sha256_file, write_manifest

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if vocab < 65500 else np.int32
    with IndexedWriter(out / "random_00000", dtype) as w:
        for _ in range(max(1, tokens // doc_len)):
            doc = rng.integers(0, vocab - 1, size=doc_len - 1)
            w.add(np.append(doc, vocab - 1).astype(dtype))  # the last id plays EOS
        docs, n_tok = len(w), w.num_tokens
    record = {
        "name": "random_00000",
        "source": "random",
        "documents": docs,
        "tokens": n_tok,
        "bin_sha256": sha256_file(out / "random_00000.bin"),
        "idx_sha256": sha256_file(out / "random_00000.idx"),
    }
    manifest = {
        "format": "megatron-indexed-dataset",
        "version": 1,
        "dtype": np.dtype(dtype).name,
        "vocab_size": vocab,
        "eos_id": vocab - 1,
        "bos_id": -1,
        "mixture": {"weights": {"random": 1.0}},
        "sources": {"random": {"documents": docs, "tokens": n_tok}},
        "shards": [record],
    }
    return write_manifest(manifest, out)


def make_trainer(args, manifest: Path, run_dir: Path, compile_: bool):
    """The real Trainer on the random shards (no checkpoints; one evaluation per mode by hand)."""
    from lamina.pretrain.train_config import TrainConfig
    from lamina.pretrain.trainer import Trainer

    cfg = TrainConfig(
        model=args.preset,
        seq_len=args.seq,
        micro_batch=args.batch,
        global_batch_tokens=args.batch * args.seq * 2,  # two micro-steps: accumulation is exercised
        heldout_tokens=4 * (args.seq + 1),
        data_verify="size",
        steps=1000,  # only the schedule's length; the check runs a few steps by hand
        warmup_steps=2,
        lr=3e-4,
        compile=compile_,
        eval_every=0,
        checkpoint_every=0,
        eval_sequences=2,
    )
    return Trainer(cfg, manifest, run_dir, overwrite=True)


def train_mode(args, device, trainer, mode: str, deadline: float) -> dict:
    """2 warm-up and up to args.steps timed optimizer steps in checkpointing `mode` (applied
    from outside the model with remat.apply_ac, as parallelize does), then one evaluation."""
    from lamina.pretrain.remat import apply_ac

    apply_ac(trainer.model, mode)
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)  # per mode: weights and AdamW moments count in all
    records = []
    for i in range(2 + args.steps):
        if i >= 2 and time.monotonic() > deadline:  # keep the warm-up, cut the timed steps
            break
        records.append(trainer.train_step())
    timed = records[2:] or records[-1:]
    figures = {
        "steps_timed": len(records[2:]),
        "tokens_per_s": round(statistics.median(r["tokens_per_s"] for r in timed), 1),
        "step_s": round(statistics.median(r["step_s"] for r in timed), 4),
        "mfu": None if timed[0]["mfu"] is None else round(statistics.median(r["mfu"] for r in timed), 4),
        "peak_memory_gib": round(records[-1]["mem_gib"], 2),
        "loss_first": round(records[0]["loss"], 4),
        "loss_last": round(records[-1]["loss"], 4),
    }
    if not all(np.isfinite(r["loss"]) for r in records):
        raise AssertionError(f"non-finite loss in mode {mode}: {[r['loss'] for r in records]}")
    figures["val_loss"] = round(trainer.evaluate()["val_loss"], 4)
    return figures


def check_train(args, device, deadline) -> dict:
    from lamina.pretrain.config import preset

    vocab = preset(args.preset).vocab_size
    figures = {
        "preset": args.preset,
        "seq": args.seq,
        "micro_batch": args.batch,
        "grad_accum": 2,
        "modes": {},
    }
    failures = []
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        tokens = max((2 + args.steps) * 2 * args.batch * (args.seq + 1), 80 * (args.seq + 1))
        manifest = write_random_shards(Path(tmp) / "shards", vocab, tokens)
        for compile_ in (False, True) if args.compile else (False,):
            t0 = time.monotonic()
            try:
                trainer = make_trainer(args, manifest, Path(tmp) / "run", compile_)
            except Exception as err:
                figures[f"setup{' compiled' if compile_ else ''}"] = f"{type(err).__name__}: {err}"[:2000]
                failures.append("setup")
                continue
            figures[f"setup_s{' compiled' if compile_ else ''}"] = round(time.monotonic() - t0, 2)
            figures["adamw"] = "fused" if trainer.optimizer.defaults.get("fused") else "foreach"
            for mode in args.modes:
                key = mode + (" compiled" if compile_ else "")
                if time.monotonic() > deadline:
                    figures["modes"][key] = {"status": "skipped", "reason": "time budget"}
                    continue
                try:
                    figures["modes"][key] = {
                        "status": "ok",
                        **train_mode(args, device, trainer, mode, deadline),
                    }
                except Exception as err:  # one mode's failure (an OOM, a kernel) does not stop the others
                    figures["modes"][key] = {
                        "status": "failed",
                        "error": f"{type(err).__name__}: {err}"[:2000],
                    }
                    failures.append(key)
                    trainer.optimizer.zero_grad(set_to_none=True)
                    _free(device)
            trainer.metrics.close()
            del trainer
            _free(device)
    mfus = [r["mfu"] for r in figures["modes"].values() if r.get("mfu") is not None]
    figures["best_mfu"] = max(mfus) if mfus else None
    figures["mfu_aim"] = MFU_AIM
    figures["mfu_aim_met"] = None if not mfus else max(mfus) >= MFU_AIM
    if failures:
        raise AssertionError(f"training failed in {failures}; figures: {figures}")
    return figures


def check_fsdp_bf16(args, device, deadline) -> dict:
    """FSDP2 as the trainer applies it (parallelize.apply_fsdp) on a one-rank process group (NCCL on
    CUDA, gloo on CPU): bf16 parameters with fp32 gradient reduction on CUDA, sharded meta-device init,
    fused AdamW on DTensors; its loss and gradient norm against the plain model under autocast."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    from lamina.pretrain.config import ModelConfig
    from lamina.pretrain.model import Transformer
    from lamina.pretrain.optim import build_optimizer, clip_grad_norm_
    from lamina.pretrain.parallelize import apply_fsdp
    from lamina.pretrain.train_config import TrainConfig

    cuda = device.type == "cuda"
    cfg = (
        ModelConfig(dim=2048, n_layers=4, n_heads=16, max_seq_len=args.seq)
        if cuda
        else ModelConfig(dim=64, n_layers=2, n_heads=4, vocab_size=257, max_seq_len=max(64, args.seq))
    )
    seq = args.seq if cuda else min(args.seq, 64)
    own = not dist.is_initialized()
    if own:  # one rank: an in-process store, no TCP port to pick (or to collide on)
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        tokens = torch.randint(0, cfg.vocab_size, (2, seq + 1), generator=torch.Generator().manual_seed(0))
        tokens = tokens.to(device)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()

        def loss_of(model):
            with autocast:
                logits = model(tokens[:, :-1])
            return torch.nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())

        plain = Transformer(cfg).to(device)
        plain.init_weights(seed=0)
        ref = loss_of(plain)
        ref.backward()
        ref_norm = clip_grad_norm_(plain.parameters(), 0.0)
        mesh = init_device_mesh(device.type, (1, 1), mesh_dim_names=("dp_shard", "tp"))
        with torch.device("meta"):
            model = Transformer(cfg)
        apply_fsdp(model, mesh["dp_shard"], mixed_precision=cuda)
        model.to_empty(device=device)
        model.init_weights(seed=0)
        losses = []
        optimizer = build_optimizer(model, TrainConfig(lr=1e-4))
        for _ in range(3):
            loss = loss_of(model)
            loss.backward()
            norm = clip_grad_norm_(model.parameters(), 1.0)
            if not losses:
                first_norm = float(norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
        figures = {
            "backend": dist.get_backend(),
            "mixed_precision_bf16": cuda,
            "adamw": "fused" if optimizer.defaults.get("fused") else "foreach",
            "loss_plain": round(float(ref.detach()), 6),
            "loss_fsdp": [round(x, 6) for x in losses],
            "grad_norm_plain": round(float(ref_norm), 6),
            "grad_norm_fsdp": round(first_norm, 6),
        }
        tol = 2e-2 if cuda else 1e-5  # bf16 parameters vs fp32 parameters under autocast
        loss_rel = abs(losses[0] - float(ref.detach())) / float(ref.detach())
        norm_rel = abs(first_norm - float(ref_norm)) / float(ref_norm)
        figures.update(loss_rel_diff=round(loss_rel, 8), grad_norm_rel_diff=round(norm_rel, 8))
        if not (loss_rel < tol and norm_rel < 5 * tol and losses[-1] < losses[0]):
            raise AssertionError(
                f"FSDP2 differs from the plain model beyond {tol} or did not train: {figures}"
            )
        return figures
    finally:
        if own:
            dist.destroy_process_group()


def check_compile(args, device, deadline) -> dict:
    """torch.compile (Inductor) of a block, as parallelize.apply_compile does, against eager: outputs
    and input gradients in bf16 autocast, and the compile time."""
    if device.type != "cuda":
        raise Skip("the compile check runs on CUDA only (Inductor on CPU needs a C++ toolchain and minutes)")
    from lamina.pretrain.config import ModelConfig
    from lamina.pretrain.model import Transformer

    cfg = ModelConfig(dim=2048, n_layers=1, n_heads=16, vocab_size=16, max_seq_len=args.seq)
    model = Transformer(cfg).to(device)
    block = model.layers["0"]
    x = torch.randn(1, args.seq, cfg.dim, generator=torch.Generator().manual_seed(0)).to(device)
    cos, sin = model.rope_cos[: args.seq], model.rope_sin[: args.seq]
    figures = {}
    for mode in ("none", "manual"):
        ref = _block_grads(block, x, cos, sin, mode, autocast=True)
        compiled = torch.compile(block)
        t0 = time.monotonic()
        got = _block_grads(compiled, x, cos, sin, mode, autocast=True)
        figures[f"{mode}.first_call_s"] = round(time.monotonic() - t0, 2)
        figures[f"{mode}.rel_diff_out"] = round(_rel(got["out"], ref["out"]), 6)
        figures[f"{mode}.rel_diff_dx"] = round(_rel(got["x"], ref["x"]), 6)
        if time.monotonic() > deadline:
            break
    bad = {k: v for k, v in figures.items() if "rel_diff" in k and not v < 3e-2}
    if bad:
        raise AssertionError(f"compiled block differs from eager: {bad}")
    return figures


CHECKS: dict[str, Callable] = {
    "environment": check_environment,
    "xformers_vs_sdpa": check_xformers_vs_sdpa,
    "manual_backward": check_manual_backward,
    "activation_memory": check_activation_memory,
    "train": check_train,
    "fsdp_bf16": check_fsdp_bf16,
    "compile": check_compile,
}


# ---------------------------------------------------------------------------------------------
# Running and reporting


def _write(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


GRACE_S = 60.0  # a check may run this long past the budget before it is interrupted


class CheckTimeout(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: float):
    """Raise CheckTimeout in the main thread after `seconds` (a check stuck in Python, e.g. a compile
    that never ends); a no-op off the main thread or without SIGALRM."""
    import signal
    import threading

    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum, frame):
        raise CheckTimeout(f"still running {seconds:.0f} s after it started: the time budget is spent")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


HANG_S = 30.0  # past GRACE_S: a check SIGALRM did not stop ends the run (watchdog)


def run_checks(checks: dict[str, Callable], args, device: torch.device, out: Path | None) -> dict:
    """Run `checks` in order, each isolated; the report after each is written to `out` (and once
    before the first, so a bad --out shows at once).

    Two ways a run can end without the loop's help, both still leave the JSON complete up to the check
    that was running, recorded as failed with the reason: SIGTERM (`make gpu-check`'s `timeout`), and
    a watchdog thread for a check still running HANG_S after SIGALRM should have stopped it (a call
    that swallowed the interruption, or one stuck in C without the GIL released: then
    faulthandler prints every thread's stack at the same moment and ends the process, so the run
    never outlives the budget by more than GRACE_S + 2 * HANG_S)."""
    import faulthandler
    import signal
    import threading

    start = time.monotonic()
    deadline = start + args.budget
    report = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "argv": getattr(args, "argv", None),
        "budget_s": args.budget,
        "device": str(device),
        "checks": {},
    }
    lock = threading.RLock()  # re-entrant: SIGTERM may arrive while the main thread writes
    running: dict = {}  # {"name": the check running now, "t0": its start}

    def write() -> None:
        report["seconds"] = round(time.monotonic() - start, 2)
        if out is not None:
            _write(report, out)

    def abort(reason: str) -> None:
        """Record the running check as failed with `reason`, write the JSON and end the process."""
        with lock:
            name = running.get("name")
            if name is not None:
                entry = {
                    "status": "failed",
                    "error": reason,
                    "seconds": round(time.monotonic() - running["t0"], 2),
                }
                report["checks"][name] = entry
                print(summary_line(name, entry), flush=True)
            report["ok"], report["aborted"] = False, reason
            with contextlib.suppress(Exception):
                write()
        print(f"gpu-check: aborted ({reason}); figures so far in {out}", file=sys.stderr, flush=True)
        os._exit(1)

    stop = threading.Event()

    def watchdog() -> None:
        while not stop.wait(0.5):
            if running.get("name") is not None and time.monotonic() > deadline + GRACE_S + HANG_S:
                abort(
                    f"still running {GRACE_S + HANG_S:.0f} s past the time budget: not interruptible, run ended"
                )

    on_main = threading.current_thread() is threading.main_thread()
    previous_term = None
    if on_main:
        previous_term = signal.signal(
            signal.SIGTERM, lambda signum, frame: abort("terminated (SIGTERM) while this check ran")
        )
    thread = threading.Thread(target=watchdog, name="gpu-check-watchdog", daemon=True)
    thread.start()
    with contextlib.suppress(Exception):  # needs a real file descriptor (stderr may be captured)
        faulthandler.dump_traceback_later(
            max(1.0, args.budget + GRACE_S + 2 * HANG_S), exit=True, file=sys.__stderr__
        )
    try:
        with lock:
            write()
        for name, fn in checks.items():
            entry: dict = {}
            t0 = time.monotonic()
            if t0 > deadline:
                entry = {"status": "skipped", "reason": f"time budget of {args.budget:.0f} s spent"}
            else:
                running.update(name=name, t0=t0)
                try:
                    with _alarm(deadline + GRACE_S - t0):
                        entry = {"status": "ok", "figures": fn(args, device, deadline)}
                except Skip as why:
                    entry = {"status": "skipped", "reason": str(why)}
                except BaseException as err:  # noqa: BLE001 (recorded; KeyboardInterrupt still stops the run)
                    if isinstance(err, KeyboardInterrupt):
                        raise
                    entry = {
                        "status": "failed",
                        "error": f"{type(err).__name__}: {err}"[:4000],
                        "where": traceback.format_exc(limit=-3)[-2000:],
                    }
                with contextlib.suppress(Exception):
                    _free(device)
            entry["seconds"] = round(time.monotonic() - t0, 2)
            with lock:
                running["name"] = None
                report["checks"][name] = entry
                print(summary_line(name, entry), flush=True)
                write()
        report["ok"] = not any(e["status"] == "failed" for e in report["checks"].values())
        with lock:
            write()
    finally:
        running["name"] = None
        stop.set()
        faulthandler.cancel_dump_traceback_later()
        if on_main:
            signal.signal(signal.SIGTERM, previous_term)
    return report


def summary_line(name: str, entry: dict) -> str:
    head = f"gpu-check {name:<18} {entry['status']:<8} {entry.get('seconds', 0):>7.1f}s"
    if entry["status"] == "skipped":
        return f"{head}  {entry['reason']}"
    if entry["status"] == "failed":
        return f"{head}  {entry['error'][:300]}"
    f = entry["figures"]
    if name == "train":
        parts = []
        for mode, r in f["modes"].items():
            if r["status"] != "ok":
                parts.append(f"{mode}: {r['status']}")
                continue
            mfu = "n/a" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
            parts.append(
                f"{mode}: {r['tokens_per_s']:,.0f} tok/s MFU {mfu} mem {r['peak_memory_gib']:.1f} GiB"
            )
        return f"{head}  " + " | ".join(parts)
    if name == "activation_memory":
        parts = [
            f"{m} {r['bytes'] / 2**20:.1f} MiB (x{r['ratio']:.2f} formula)" for m, r in f["modes"].items()
        ]
        return f"{head}  {f['layer']} layer: " + ", ".join(parts)
    return f"{head}  " + ", ".join(f"{k}={v}" for k, v in f.items() if not isinstance(v, dict | list))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    out = Path(args.out)
    if args.device == "cuda" and not torch.cuda.is_available():
        # still a JSON, so whoever reads it blind learns why there are no figures
        why = "no CUDA device here (torch.cuda.is_available() is False); --device cpu runs the CPU parts"
        env = {"torch": torch.__version__, "cuda": torch.version.cuda}
        with contextlib.suppress(OSError):
            _write({"argv": args.argv, "device": "cuda", "ok": False, "error": why, "environment": env}, out)
        print(f"gpu-check: {why}; written to {out}", file=sys.stderr)
        return 2
    device = (
        torch.device("cuda", torch.cuda.current_device()) if args.device == "cuda" else torch.device("cpu")
    )
    checks = {n: CHECKS[n] for n in CHECKS if not args.only or n in args.only}
    try:
        report = run_checks(checks, args, device, out)
    except OSError as err:  # --out not writable: one line, before any check ran
        print(f"gpu-check: cannot write {out}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"gpu-check: {'all checks passed' if report['ok'] else 'FAILED'}; figures in {out}", flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
