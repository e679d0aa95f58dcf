"""Optimizer, learning-rate schedule and gradient clipping (LLaMA-1's, docs/pretraining.md).

- AdamW (the fused kernel on CUDA, foreach elsewhere), betas (0.9, 0.95), eps 1e-8, decoupled weight
  decay 0.1 on matrices only. "Matrices" means every parameter with two or more dimensions: the
  attention and feed-forward projections, the output layer and the input embedding (nanoGPT's and
  OLMo's rule; the embedding is a matrix that the decay keeps from growing without bound); the RMSNorm
  gains (1-D) are not decayed, since pulling a gain towards 0 changes what the layer computes rather
  than regularizing it. torchtitan decays every parameter; the LLaMA paper does not say, so we follow
  the issue's "matrices only".
- Schedule: linear warmup from lr/warmup to the peak over `warmup_steps`, then cosine down to
  `min_lr_ratio` (10%) of the peak at the last step, flat after.
- Clipping to a global L2 norm of 1.0 that is right for sharded parameters: with FSDP2/TP the gradients
  are DTensors, the norm of each local shard is reduced over the mesh by `get_total_norm`, and we take
  the full value before scaling (torchtitan's `clip_grad_norm_`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lamina.pretrain.train_config import TrainConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def adamw_implementation(device: torch.device) -> str:
    """ "fused" on CUDA (one kernel for every parameter's whole update: fewer launches and passes over
    the moments than foreach, and it takes DTensors), "foreach" elsewhere (multi-tensor kernels; the
    fused CPU kernel exists but is no faster there, and foreach is the tested reference)."""
    return "fused" if device.type == "cuda" else "foreach"


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    device = next(model.parameters()).device
    kind = adamw_implementation(device)
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        eps=cfg.eps,
        foreach=kind == "foreach",
        fused=kind == "fused",
    )


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Multiplier of the peak lr for optimizer step `step` (0-based)."""
    if step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup - 1))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupCosine:
    """The lr schedule; an object (not a closure) so its state is a plain dict for checkpoints."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig):
        self.optimizer, self.peak = optimizer, cfg.lr
        self.warmup, self.total, self.min_ratio = cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio
        self.step_count = 0  # optimizer steps taken
        self._apply()

    def lr(self) -> float:
        return self.peak * lr_factor(self.step_count, self.warmup, self.total, self.min_ratio)

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr()

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def state_dict(self) -> dict:
        return {"step_count": self.step_count}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
        self._apply()


@torch.no_grad()
def clip_grad_norm_(parameters, max_norm: float) -> torch.Tensor:
    """Global L2 norm of the gradients (a plain tensor, also under FSDP2/TP), clipped to `max_norm`
    when max_norm > 0."""
    parameters = [p for p in parameters if p.grad is not None]
    grads = [p.grad for p in parameters]
    total = torch.nn.utils.get_total_norm(grads, norm_type=2.0, foreach=True)
    if hasattr(total, "full_tensor"):  # a DTensor: partial norms reduced over the mesh
        total = total.full_tensor()
    if max_norm > 0:
        torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, total, foreach=True)
    return total
