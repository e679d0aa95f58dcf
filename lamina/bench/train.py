"""`lamina bench train`: tokens/s of our training step next to a plain Hugging Face
`LlamaForCausalLM` training step of the same size, on the same machine and tokens, ratio printed.

Both steps are forward + cross-entropy + backward + clip to 1.0 + AdamW (0.9, 0.95; foreach), fp32 on
CPU and bf16 on CUDA (our trainer's autocast; HF's model loaded in bf16 with fp32 master weights is not
what `from_pretrained` users do, so HF runs under the same autocast). Ours is the trainer's path:
`parallelize` (activation checkpointing mode, per-block compile) and `clip_grad_norm_`. Printed: HF,
ours eager, ours with compiled blocks (the trainer's `compile = true`), each as a ratio to HF.

On CUDA it also measures a ~1B model (config preset "1b", head_dim 128) at sequence 2048 in bf16:
tokens/s and MFU against the device's dense bf16 peak (metrics.PEAK_BF16_FLOPS).

    lamina bench train                        # CPU: "small" preset, seq 256, batch 4
    python -m lamina.bench.train --preset small --seq 256 --batch 4 --steps 8 [--no-compile]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch
import torch.nn.functional as F

from lamina.pretrain.config import ModelConfig, preset
from lamina.pretrain.metrics import device_peak_flops, mfu
from lamina.pretrain.model import Transformer
from lamina.pretrain.optim import build_optimizer, clip_grad_norm_
from lamina.pretrain.parallelize import parallelize
from lamina.pretrain.train_config import TrainConfig


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_interleaved(steps_by_name: dict, tokens: torch.Tensor, warmup: int, reps: int, device) -> dict:
    """Median seconds per step of each callable, timed in alternation (A, B, A, B, ...) so that a
    shared, noisy machine slows both alike, after `warmup` untimed calls of each."""
    for step in steps_by_name.values():
        for _ in range(warmup):
            step(tokens)
    _sync(device)
    times = {name: [] for name in steps_by_name}
    for _ in range(reps):
        for name, step in steps_by_name.items():
            t0 = time.perf_counter()
            step(tokens)
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return {name: sorted(t)[len(t) // 2] for name, t in times.items()}


def ours(mcfg: ModelConfig, cfg: TrainConfig, device: torch.device):
    model = Transformer(mcfg).to(device)
    model = parallelize(model, None, cfg)
    opt = build_optimizer(model, cfg)

    def step(tokens):
        with _autocast(device):
            logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
        loss.backward()
        clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def huggingface(mcfg: ModelConfig, cfg: TrainConfig, device: torch.device):
    from transformers import LlamaForCausalLM

    from lamina.pretrain.hf import hf_config

    hcfg = hf_config(mcfg)
    hcfg._attn_implementation = "sdpa"
    model = LlamaForCausalLM(hcfg).to(device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.1, foreach=True)

    def step(tokens):
        with _autocast(device):
            out = model(input_ids=tokens[:, :-1], use_cache=False)
        loss = F.cross_entropy(out.logits.float().reshape(-1, mcfg.vocab_size), tokens[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def compare(
    preset_name: str, seq: int, batch: int, steps: int, compile_: bool, checkpointing: str, device
) -> dict:
    """tokens/s of HF, ours eager and (with compile_) ours with compiled blocks, timed interleaved."""
    mcfg = preset(preset_name, max_seq_len=max(seq, preset(preset_name).max_seq_len))
    cfg = TrainConfig(model=preset_name, seq_len=seq, checkpointing=checkpointing)
    torch.manual_seed(0)
    tokens = torch.randint(0, mcfg.vocab_size, (batch, seq + 1), device=device)
    steps_by_name = {"hf": huggingface(mcfg, cfg, device), "ours": ours(mcfg, cfg, device)}
    if compile_:
        compiled = TrainConfig(model=preset_name, seq_len=seq, checkpointing=checkpointing, compile=True)
        steps_by_name["ours_compiled"] = ours(mcfg, compiled, device)
    t = time_interleaved(steps_by_name, tokens, warmup=3, reps=steps, device=device)
    result = {name: batch * seq / sec for name, sec in t.items()}
    result["mcfg"] = mcfg
    return result


def bench(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="lamina bench train")
    cuda = torch.cuda.is_available()
    p.add_argument("--preset", default="small", help="model preset for the HF comparison (default small)")
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=8, help="timed steps (median reported)")
    p.add_argument(
        "--no-compile", action="store_true", help="skip the run with compiled blocks (compiling takes ~1 min)"
    )
    p.add_argument("--checkpointing", default="none", help="our activation checkpointing mode")
    p.add_argument("--skip-1b", action="store_true", help="on CUDA, skip the ~1B seq-2048 MFU run")
    args = p.parse_args(argv or [])
    device = torch.device("cuda" if cuda else "cpu")
    r = compare(
        args.preset, args.seq, args.batch, args.steps, not args.no_compile, args.checkpointing, device
    )
    m = r["mcfg"]
    lines = [
        f"train step, {args.preset} ({m.num_params() / 1e6:.1f}M params, dim {m.dim}, {m.n_layers} layers), "
        f"batch {args.batch} x seq {args.seq}, {device.type}, {torch.get_num_threads()} threads, "
        f"checkpointing {args.checkpointing}, median of {args.steps} interleaved steps",
        f"  HF LlamaForCausalLM (sdpa)   {r['hf']:>12,.0f} tokens/s",
        f"  ours (eager)                 {r['ours']:>12,.0f} tokens/s   {r['ours'] / r['hf']:.2f}x HF",
    ]
    if "ours_compiled" in r:
        lines.append(
            f"  ours (compiled blocks)       {r['ours_compiled']:>12,.0f} tokens/s   {r['ours_compiled'] / r['hf']:.2f}x HF"
        )
    print("\n".join(lines), flush=True)
    out = {"small": r}
    if cuda and not args.skip_1b:
        mcfg = preset("1b")
        for ckpt, comp in (("none", True), ("manual", True)):
            cfg = TrainConfig(model="1b", seq_len=2048, compile=comp, checkpointing=ckpt)
            batch = 4
            tokens = torch.randint(0, mcfg.vocab_size, (batch, 2049), device=device)
            try:
                t = time_interleaved({"ours": ours(mcfg, cfg, device)}, tokens, 3, 6, device)["ours"]
            except Exception as err:  # one mode failing must not hide the other's figure
                print(
                    f"~1B seq 2048 bf16, checkpointing {ckpt}: failed: {type(err).__name__}: {err}",
                    flush=True,
                )
                torch.cuda.empty_cache()
                continue
            tps = batch * 2048 / t
            u = mfu(mcfg.flops_per_token(2048), tps, 1, device_peak_flops(device))
            print(
                f"~1B ({mcfg.num_params() / 1e9:.2f}B params) seq 2048 bf16 batch {batch}, checkpointing {ckpt}, "
                f"compiled: {tps:,.0f} tokens/s, MFU {'n/a (unknown device)' if u is None else f'{100 * u:.1f}%'} "
                f"on {torch.cuda.get_device_name()}; peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB",
                flush=True,
            )
            out[f"1b_{ckpt}"] = {"tokens_per_s": tps, "mfu": u}
            torch.cuda.reset_peak_memory_stats()
    return out


if __name__ == "__main__":
    import sys

    bench(sys.argv[1:])
