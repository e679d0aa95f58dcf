"""Causal attention backends behind one function, plus the forward/backward pieces the
hand-written block backward (remat.py) calls.

Layout everywhere in this file: (B, T, H, D) — batch, time, heads, head dim — the layout the q/k/v
projections produce after a `view` and the one xformers takes. None of the backends stores the
(T, T) attention matrix: they keep the output and the per-row logsumexp of the scores, from which the
backward recomputes the probabilities block by block.

Backends:
- CUDA with xformers importable: `xformers.ops.memory_efficient_attention` with a causal mask
  (`LowerTriangularMask`); for the manual block `memory_efficient_attention_forward_requires_grad`
  and `memory_efficient_attention_backward`.
- otherwise: PyTorch `scaled_dot_product_attention(is_causal=True)` (flash/efficient kernels on CUDA,
  the fused flash kernel on CPU); for the manual block the aten ops those dispatch to —
  `_scaled_dot_product_flash_attention_for_cpu` (+ `_backward`) on CPU and
  `_scaled_dot_product_efficient_attention` (+ `_backward`) on CUDA.
"""

from __future__ import annotations

import functools
import math
import os

import torch
import torch.nn.functional as F


@functools.cache
def _xformers_ops():
    """The `xformers.ops` module, or None when it is not installed (always None on CPU use) or when
    LAMINA_ATTENTION=sdpa forces PyTorch's kernels (the benchmark compares both)."""
    if os.environ.get("LAMINA_ATTENTION", "").lower() == "sdpa":
        return None
    try:
        import xformers.ops as xops
    except Exception:  # ImportError, or a build that does not match the installed torch
        return None
    return xops


def backend(device: torch.device | str) -> str:
    """Which kernel `attention` uses for tensors on `device`: "xformers" or "sdpa"."""
    if torch.device(device).type == "cuda" and _xformers_ops() is not None:
        return "xformers"
    return "sdpa"


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal softmax(q k^T / sqrt(D)) v. q, k, v: (B, T, H, D); returns (B, T, H, D)."""
    if backend(q.device) == "xformers":
        xops = _xformers_ops()
        return xops.memory_efficient_attention(q, k, v, attn_bias=xops.LowerTriangularMask())
    # SDPA wants heads before time: (B, H, T, D)
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
    )
    return out.transpose(1, 2)  # (B, T, H, D)


def attention_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The textbook version that materializes the (T, T) scores: only for tests."""
    q, k, v = (t.transpose(1, 2).float() for t in (q, k, v))  # (B, H, T, D)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
    T = q.shape[-2]
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    return (scores.softmax(-1) @ v).transpose(1, 2)  # (B, T, H, D)


def attention_forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """Causal attention without autograd, returning (out, state): `out` is (B, T, H, D) and `state` is
    the tuple of tensors `attention_backward` needs besides q, k, v and out (the logsumexp, and on
    CUDA/SDPA the RNG state tensors of the kernel). Everything in `state` is O(B*H*T), never O(T^2)."""
    with torch.no_grad():
        if backend(q.device) == "xformers":
            xops = _xformers_ops()
            out, lse = xops.fmha.memory_efficient_attention_forward_requires_grad(
                q, k, v, attn_bias=xops.LowerTriangularMask()
            )
            return out, (lse,)
        qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        if q.device.type == "cuda":
            out, lse, seed, offset = torch.ops.aten._scaled_dot_product_efficient_attention(
                qh, kh, vh, None, True, 0.0, is_causal=True
            )
            return out.transpose(1, 2), (lse, seed, offset)
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(qh, kh, vh, 0.0, is_causal=True)
        return out.transpose(1, 2), (lse,)


def attention_backward(
    grad_out: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor, state: tuple
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients (dq, dk, dv), each (B, T, H, D), of `attention_forward`'s output, from the kernel's own
    backward (it recomputes the probabilities tile by tile from the saved logsumexp)."""
    with torch.no_grad():
        if backend(q.device) == "xformers":
            xops = _xformers_ops()
            (lse,) = state
            grads = xops.fmha.memory_efficient_attention_backward(
                grad_out.contiguous(), out, lse, q, k, v, attn_bias=xops.LowerTriangularMask()
            )
            if hasattr(grads, "dq"):  # some xformers versions return a Gradients record
                grads = (grads.dq, grads.dk, grads.dv)
            return tuple(grads)
        # (B, H, T, D) views. The gradient keeps the layout of `out` (both are (B, T, H, D) in memory),
        # which is what autograd hands these kernels in the plain model.
        gh, qh, kh, vh, oh = (t.transpose(1, 2) for t in (grad_out.contiguous(), q, k, v, out))
        if q.device.type == "cuda":
            lse, seed, offset = state
            dq, dk, dv, _ = torch.ops.aten._scaled_dot_product_efficient_attention_backward(
                gh, qh, kh, vh, None, oh, lse, seed, offset, 0.0, [True, True, True, False], True
            )
        else:
            (lse,) = state
            dq, dk, dv = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
                gh, qh, kh, vh, oh, lse, 0.0, True
            )
        return dq.transpose(1, 2), dk.transpose(1, 2), dv.transpose(1, 2)
