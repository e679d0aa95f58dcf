"""Parallelism applied from outside the plain model (torchtitan's layout): tensor + sequence parallelism,
activation checkpointing, per-block compilation, FSDP2 — each a small function, composed in
`parallelize(model, mesh, cfg)` in the one order that works:

    TP/SP (parallelize_module) -> activation checkpointing -> torch.compile per block -> FSDP2

The model (model.py) knows nothing of this. TP relies only on its module names (Meta's/torchtitan's:
`tok_embeddings`, `layers.{i}.attention.wq`, `feed_forward.w1`, `norm`, `output`) and on `Attention`
reading the number of heads from the projection's output size, so a shard holding n_heads / tp heads
runs unchanged.

Sequence parallelism (Korthikanti et al. 2022): between the blocks' matmuls the residual stream is
split along the sequence (Shard(1)) across the TP group, so RMSNorm and the residual adds run on 1/tp
of the tokens and store 1/tp of the activations; the all-gather before the column-parallel matmuls and
the reduce-scatter after the row-parallel ones replace Megatron's two all-reduces at equal cost.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.tensor import DTensor, Replicate, Shard
from torch.distributed.tensor.parallel import (
    ColwiseParallel,
    PrepareModuleInput,
    RowwiseParallel,
    SequenceParallel,
    loss_parallel,
    parallelize_module,
)

from lamina.pretrain import remat
from lamina.pretrain.model import Transformer
from lamina.pretrain.train_config import TrainConfig

# The TP+SP plan, declaratively. Keys are module names relative to the model (ROOT_PLAN) or to one
# block (BLOCK_PLAN). Shard(1) = split along the sequence; Replicate = the full sequence on every rank.
ROOT_PLAN = {
    # Embedding rows (the vocabulary) are split; the output is reduce-scattered along the sequence.
    "tok_embeddings": RowwiseParallel(input_layouts=Replicate(), output_layouts=Shard(1)),
    "norm": SequenceParallel(),
    # Output layer split by vocabulary; logits gathered to the full vocabulary for the plain loss
    # (replaced by LOSS_PARALLEL_OUTPUT when the loss is computed on the vocabulary shards).
    "output": ColwiseParallel(input_layouts=Shard(1), output_layouts=Replicate()),
}
# Loss parallel: the logits stay split by vocabulary (a DTensor, Shard(-1)) and the cross-entropy runs
# on the shards inside `loss_context` (torch's loss_parallel: a max and a sum of exponentials all-reduced
# per token), so no rank ever holds (B, T, vocab) logits — at vocab 32000 and T 2048 that is 262 MB in
# fp32 per sequence, per rank, plus its gradient.
LOSS_PARALLEL_OUTPUT = ColwiseParallel(
    input_layouts=Shard(1), output_layouts=Shard(-1), use_local_output=False
)
BLOCK_PLAN = {
    "attention_norm": SequenceParallel(),
    # all-gather the sequence before q/k/v (cos, sin pass through untouched)
    "attention": PrepareModuleInput(
        input_layouts=(Shard(1), None, None), desired_input_layouts=(Replicate(), None, None)
    ),
    "attention.wq": ColwiseParallel(),  # split by heads
    "attention.wk": ColwiseParallel(),
    "attention.wv": ColwiseParallel(),
    "attention.wo": RowwiseParallel(output_layouts=Shard(1)),  # reduce-scatter back to sequence shards
    "ffn_norm": SequenceParallel(),
    "feed_forward": PrepareModuleInput(input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),)),
    "feed_forward.w1": ColwiseParallel(),  # split by hidden units
    "feed_forward.w3": ColwiseParallel(),
    "feed_forward.w2": RowwiseParallel(output_layouts=Shard(1)),
}


def apply_tp(
    model: Transformer, tp_mesh: DeviceMesh, async_tp: bool = False, loss_parallel: bool = False
) -> None:
    """Megatron-style TP with sequence parallelism over `tp_mesh` (1-D). Needs n_heads and the
    sequence length divisible by the TP degree. With `loss_parallel` the model returns
    vocabulary-sharded logits: compute the loss, and run its backward, inside `loss_context(model)`."""
    tp = tp_mesh.size()
    error = tp_shape_error(model.config, tp)
    if error:
        raise ValueError(error)
    parallelize_module(
        model, tp_mesh, {**ROOT_PLAN, "output": LOSS_PARALLEL_OUTPUT} if loss_parallel else ROOT_PLAN
    )
    model.loss_parallel = loss_parallel
    for block in model.layers.values():
        parallelize_module(block, tp_mesh, BLOCK_PLAN)
    if async_tp and tp_mesh.device_type == "cuda":
        enable_async_tp(tp_mesh)


def tp_shape_error(config, tp: int) -> str | None:
    """Why `config` cannot be split over `tp` ranks (heads and feed-forward units evenly), or None.
    An uneven hidden split is refused here: DTensor's row-parallel w2 fails on it deep in a matmul
    ("a and b must have same reduction dim") in every checkpointing mode but manual."""
    if config.n_heads % tp:
        return f"tp {tp} does not divide n_heads {config.n_heads}"
    if config.hidden_dim % tp:
        return (
            f"tp {tp} does not divide the feed-forward width {config.hidden_dim} (2/3 x 4 x dim {config.dim} "
            f"rounded up to multiple_of {config.multiple_of}): set model_overrides.multiple_of to a multiple of {tp}"
        )
    return None


def enable_async_tp(tp_mesh: DeviceMesh) -> None:
    """Async TP (CUDA, compiled blocks only; TrainConfig refuses async_tp without compile): Inductor's
    micro-pipelining splits each all-gather / reduce-scatter + matmul pair of a compiled block into
    chunks that overlap, over symmetric memory. With torch >= 2.9 symmetric memory needs no per-group
    setup (`enable_symm_mem_for_group` is deprecated, "no need to call this function anymore"): the
    Inductor flag is the whole switch, as in torchtitan's `maybe_enable_async_tp`. The manual block
    (tp_block.py) overlaps its own backward collectives by hand."""
    import torch._inductor.config as inductor_config

    inductor_config._micro_pipeline_tp = True


def loss_context(model: torch.nn.Module) -> contextlib.AbstractContextManager:
    """The context for the loss and its backward: torch's `loss_parallel()` when `model` returns
    vocabulary-sharded logits (apply_tp(loss_parallel=True)), else nothing."""
    return loss_parallel() if getattr(model, "loss_parallel", False) else contextlib.nullcontext()


def local_loss(loss: torch.Tensor) -> torch.Tensor:
    """A loss computed under `loss_context` is a replicated DTensor: its local value (differentiable)."""
    return loss.to_local() if isinstance(loss, DTensor) else loss


def apply_ac(model: Transformer, mode: str) -> None:
    """Activation checkpointing per block, applied from outside the plain model (remat.apply_ac):
    none | manual (LLaMA's hand-written backward) | full | selective."""
    remat.apply_ac(model, mode)


def apply_compile(model: Transformer) -> None:
    """torch.compile each block in place (keeps parameter names). Per block and before FSDP: compiling
    the whole FSDP-wrapped model fails ("Mixing fake modes NYI" in torch 2.13, torchtitan's order), and per-block graphs are
    small and identical, so they compile once."""
    for block in model.layers.values():
        block.compile()


def apply_fsdp(
    model: Transformer,
    dp_mesh: DeviceMesh,
    mixed_precision: bool = False,
    reshard_after_forward: bool = True,
) -> None:
    """FSDP2: `fully_shard` each block, then the root (embedding, final norm, output). Parameters are
    sharded along dim 0 over `dp_mesh` (composing with TP's shards into 2-D DTensors). With
    `mixed_precision` (CUDA) the gathered parameters are bf16 and gradients are reduced in fp32.
    Explicit prefetch: each block's forward starts gathering the next block's parameters, and its
    backward the previous block's, so communication overlaps compute."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    mp = (
        MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        if mixed_precision
        else None
    )
    kwargs = {"mesh": dp_mesh}
    if mp is not None:
        kwargs["mp_policy"] = mp
    blocks = list(model.layers.values())
    for i, block in enumerate(blocks):
        # The last block's parameters are needed again right away by backward: keep them gathered.
        fully_shard(block, reshard_after_forward=reshard_after_forward and i < len(blocks) - 1, **kwargs)
    fully_shard(model, reshard_after_forward=reshard_after_forward, **kwargs)
    for prev, nxt in zip(blocks, blocks[1:], strict=False):
        prev.set_modules_to_forward_prefetch([nxt])
        nxt.set_modules_to_backward_prefetch([prev])


def parallelize(model: Transformer, mesh: DeviceMesh | None, cfg: TrainConfig) -> Transformer:
    """Everything the run's config asks for, in torchtitan's order. `mesh` is 2-D ("dp_shard", "tp")
    or None for a single process."""
    if mesh is not None and cfg.tp > 1:
        apply_tp(model, mesh["tp"], async_tp=cfg.async_tp, loss_parallel=cfg.loss_parallel)
    apply_ac(model, cfg.checkpointing)
    if cfg.compile:
        apply_compile(model)
    if mesh is not None and mesh["dp_shard"].size() > 1:
        apply_fsdp(
            model,
            mesh["dp_shard"],
            mixed_precision=cfg.bf16 and mesh.device_type == "cuda",
            reshard_after_forward=cfg.reshard_after_forward,
        )
    return model


def count_params(model: nn.Module) -> int:
    """Parameters of the whole (unsharded) model, also when they are DTensors."""
    return sum(p.numel() for p in model.parameters())
