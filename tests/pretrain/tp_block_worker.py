"""Run by test_tp_manual.py under torchrun (gloo, CPU): one transformer block, tensor + sequence parallel
over every process, against the same block on the whole sequence in this process.

Writes (rank 0) a JSON file with, per checkpointing mode under TP: the relative error of the output
shard, of the input gradient and of every parameter gradient against single-process autograd; the
gradients' placements; and the collectives each of forward and backward dispatched (counted by a
TorchDispatchMode on the real c10d / functional-collective ops). For "manual" also the order of the
collective starts / waits and GEMM issues recorded by tp_block.record_events().

usage: torchrun --nproc-per-node=N tests/pretrain/tp_block_worker.py OUT.json [fp32|bf16-autocast]
"""

from __future__ import annotations

import collections
import json
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import DTensor
from torch.utils._python_dispatch import TorchDispatchMode

from lamina.pretrain import tp_block
from lamina.pretrain.config import ModelConfig
from lamina.pretrain.model import Transformer
from lamina.pretrain.parallelize import apply_tp, local_loss, loss_context
from lamina.pretrain.remat import apply_ac, op_name

KINDS = {
    "c10d::_allgather_base_": "all_gather",
    "c10d::allgather_": "all_gather",
    "_c10d_functional::all_gather_into_tensor": "all_gather",
    "c10d::_reduce_scatter_base_": "reduce_scatter",
    "c10d::reduce_scatter_": "reduce_scatter",
    "_c10d_functional::reduce_scatter_tensor": "reduce_scatter",
    "c10d::allreduce_": "all_reduce",
    "_c10d_functional::all_reduce": "all_reduce",
}


class CollectiveCounter(TorchDispatchMode):
    """Counts the collectives dispatched while active, by kind; any other c10d op is counted by name."""

    def __init__(self):
        super().__init__()
        self.counts: collections.Counter = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = op_name(func)
        if name in KINDS:
            self.counts[KINDS[name]] += 1
        elif name.startswith(("c10d::", "_c10d_functional::")) and name != "_c10d_functional::wait_tensor":
            self.counts[name] += 1
        return func(*args, **(kwargs or {}))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30)).item()


def _loss_parallel(mesh, on: bool) -> dict:
    """The whole model (manual blocks) under TP with or without loss parallel against one process: the
    logits' layout, the loss (mean and per token) and every parameter gradient."""
    cfg = ModelConfig(dim=64, n_layers=2, n_heads=4, vocab_size=11, multiple_of=32, max_seq_len=16)
    tokens = torch.randint(0, cfg.vocab_size, (2, 17), generator=torch.Generator().manual_seed(3))
    inputs, targets = tokens[:, :-1], tokens[:, 1:].reshape(-1)
    ref = Transformer(cfg)
    logits = ref(inputs)
    per_token_ref = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), targets, reduction="none")
    per_token_ref.mean().backward()
    model = Transformer(cfg)
    model.load_state_dict(ref.state_dict())
    apply_tp(model, mesh, loss_parallel=on)
    apply_ac(model, "manual")
    logits = model(inputs)
    with loss_context(model):
        per_token = local_loss(F.cross_entropy(logits.reshape(-1, cfg.vocab_size), targets, reduction="none"))
        loss = local_loss(F.cross_entropy(logits.reshape(-1, cfg.vocab_size), targets))
        loss.backward()
    grads = {
        n: p.grad.full_tensor() if isinstance(p.grad, DTensor) else p.grad
        for n, p in model.named_parameters()
    }
    ref_grads = dict((n, p.grad) for n, p in ref.named_parameters())
    return {
        "logits_type": type(logits).__name__,
        "logits_placements": [str(p) for p in logits.placements] if isinstance(logits, DTensor) else None,
        "local_vocab": (logits.to_local() if isinstance(logits, DTensor) else logits).shape[-1],
        "loss_type": type(loss).__name__,
        "loss": _rel(loss.detach(), per_token_ref.mean().detach()),
        "per_token": _rel(per_token.detach(), per_token_ref.detach()),
        "grads": max(_rel(grads[n], g) for n, g in ref_grads.items()),
    }


def main(out_path: str, precision: str = "fp32") -> None:
    dist.init_process_group("gloo")
    rank, tp = dist.get_rank(), dist.get_world_size()
    mesh = init_device_mesh("cpu", (tp,), mesh_dim_names=("tp",))
    cfg = ModelConfig(dim=64, n_layers=1, n_heads=4, vocab_size=11, multiple_of=32, max_seq_len=16)
    B, T = 2, 16
    Ts = T // tp
    gen = torch.Generator().manual_seed(0)
    ref_model = Transformer(cfg)
    block = ref_model.layers["0"]
    with torch.no_grad():  # norm weights off the identity, so their gradients are exercised
        block.attention_norm.weight.copy_(torch.rand(cfg.dim, generator=gen) + 0.5)
        block.ffn_norm.weight.copy_(torch.rand(cfg.dim, generator=gen) + 0.5)
    x = torch.randn(B, T, cfg.dim, generator=gen)
    grad = torch.randn(B, T, cfg.dim, generator=gen)
    cos, sin = ref_model.rope_cos[:T], ref_model.rope_sin[:T]
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16-autocast")

    xr = x.clone().requires_grad_()
    with autocast:
        out_ref = block(xr, cos, sin)  # the plain model: no checkpointing applied
    out_ref.backward(grad.to(out_ref.dtype))
    ref = {"input": xr.grad, **{n: p.grad for n, p in block.named_parameters()}}

    tp_model = Transformer(cfg)
    tp_model.load_state_dict(ref_model.state_dict())
    apply_tp(tp_model, mesh)
    tp_blk = tp_model.layers["0"]
    own = slice(rank * Ts, (rank + 1) * Ts)
    result = {"tp": tp, "precision": precision, "modes": {}}
    for mode in ("manual", "none", "selective", "full"):
        apply_ac(tp_blk, mode)
        tp_blk.zero_grad(set_to_none=True)
        xs = x[:, own].clone().requires_grad_()
        fwd, bwd = CollectiveCounter(), CollectiveCounter()
        with fwd, autocast:
            out = tp_blk(xs, cos, sin)
        with tp_block.record_events() as events, bwd:
            out.backward(grad[:, own].to(out.dtype))
        row = {
            "out_type": type(out).__name__,
            "out": _rel(out.detach(), out_ref.detach()[:, own]),
            "input": _rel(xs.grad, ref["input"][:, own]),
            "forward": dict(fwd.counts),
            "backward": dict(bwd.counts),
            "events": events,
            "grads": {},
        }
        for name, p in tp_blk.named_parameters():
            g = p.grad
            row["grads"][name] = {
                "rel": _rel(g.full_tensor() if isinstance(g, DTensor) else g, ref[name]),
                "dtensor": isinstance(g, DTensor),
                "placements_match": isinstance(g, DTensor) and tuple(g.placements) == tuple(p.placements),
                "dtype_match": g.dtype == p.dtype,
            }
        result["modes"][mode] = row
    result["loss_parallel"] = {str(on): _loss_parallel(mesh, on) for on in (True, False)}
    if rank == 0:
        with open(out_path, "w") as f:
            json.dump(result, f, indent=1)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
