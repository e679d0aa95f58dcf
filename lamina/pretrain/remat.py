"""Activation checkpointing for one transformer block, four ways, and LLaMA's hand-written backward.

The block (model.TransformerBlock) computes
    xn1 = rmsnorm(x) * g1                      cheap  (elementwise)
    q, k, v = xn1 Wq^T, xn1 Wk^T, xn1 Wv^T      matmuls
    qr, kr = rope(q), rope(k)                  cheap
    o = causal_attention(qr, kr, v)            expensive (the kernel also returns a logsumexp)
    h = x + o Wo^T                             matmul
    xn2 = rmsnorm(h) * g2                      cheap
    a, b = xn2 W1^T, xn2 W3^T                  matmuls
    s = silu(a) * b                            cheap
    out = h + s W2^T                           matmul

`ManualBlockFunction` (mode "manual") saves only x, q, k, v (before rotary), o and its logsumexp, h, a
and b — 6 model-width and 2 hidden-width tensors per token, 12sbh + 4sbf bytes in bf16 — and in the
backward recomputes xn1, qr, kr, xn2 and s (all elementwise) and then writes out every gradient by hand,
calling the attention kernel's own backward. No matrix product is recomputed, which is what makes this
cheaper than full checkpointing (which redoes the whole forward, 7 matmuls and the attention).

Precision: under autocast the function does what autocast would do to the plain block, explicitly:
matmuls and attention run in the autocast dtype, RMSNorm and rotary in fp32, the residual stream keeps
its own dtype, and parameter gradients come back in the parameters' dtype.

Modes, selected per run with `Transformer.checkpointing`:
- "none": eager autograd keeps whatever each op saves;
- "manual": this module's `ManualBlockFunction`;
- "full": `torch.utils.checkpoint` of the whole block (keeps only x, redoes the forward in backward);
- "selective": `torch.utils.checkpoint` with a selective policy that saves the outputs of matmuls and
  of the attention kernel and recomputes everything else (PyTorch's generic version of the idea).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

from lamina.pretrain.attention import attention_backward, attention_forward
from lamina.pretrain.model import TransformerBlock, apply_rotary, rms_norm


def _rms_parts(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """n = x * r and r = (mean(x^2) + eps)^-1/2, in fp32: rmsnorm(x) = n * g."""
    x32 = x.float()
    r = torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)  # (..., 1)
    return x32 * r, r


def rms_norm_backward(
    grad_y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, eps: float, parts=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of y = n * g with n = x * r, r = (mean(x^2) + eps)^-1/2, in fp32:
    dg = sum over tokens of dy * n;  dx = r * (dn - n * mean(dn * n)),  dn = dy * g.
    `parts`: (n, r) from `_rms_parts` when the caller already has them."""
    n, r = parts if parts is not None else _rms_parts(x, eps)
    dy = grad_y.float()
    dg = (dy * n).reshape(-1, n.shape[-1]).sum(0)
    dn = dy * weight.float()
    dx = r * (dn - n * (dn * n).mean(-1, keepdim=True))
    return dx.to(x.dtype), dg.to(weight.dtype)


def _weight_grad(grad_out: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
    """dW of y = inp W^T: grad_out^T inp, summed over every token. (out, in)."""
    return grad_out.reshape(-1, grad_out.shape[-1]).t() @ inp.reshape(-1, inp.shape[-1])


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the plain block's matmuls would run in: autocast's when it is on, else x's."""
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


class ManualBlockFunction(torch.autograd.Function):
    """One transformer block with a hand-written, rematerializing backward (see module docstring).

    Inputs: x (B, T, C), the rotary tables cos/sin (T, D/2), the two RMSNorm eps, then the
    parameters g1, wq, wk, wv, wo, g2, w1, w2, w3 (nn.Linear layout: (out, in)). The head count is
    read from wq's rows, so a tensor-parallel shard with fewer heads works unchanged."""

    @staticmethod
    def forward(ctx, x, cos, sin, eps1, eps2, g1, wq, wk, wv, wo, g2, w1, w2, w3):
        dt = _compute_dtype(x)
        head_dim = 2 * cos.shape[-1]
        B, T, _ = x.shape
        with torch.autocast(x.device.type, enabled=False):
            xn1 = rms_norm(x, g1, eps1).to(dt)  # (B, T, C)
            q = F.linear(xn1, wq.to(dt)).view(B, T, -1, head_dim)  # (B, T, nh, hd)
            k = F.linear(xn1, wk.to(dt)).view(B, T, -1, head_dim)  # (B, T, nh, hd)
            v = F.linear(xn1, wv.to(dt)).view(B, T, -1, head_dim)  # (B, T, nh, hd)
            qr, kr = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
            o, attn_state = attention_forward(qr, kr, v)  # (B, T, nh, hd), logsumexp (B, nh, T)
            o = o.reshape(B, T, -1)  # (B, T, C)
            h = x + F.linear(o, wo.to(dt))  # residual stream keeps x's dtype (fp32 under autocast)
            xn2 = rms_norm(h, g2, eps2).to(dt)
            a = F.linear(xn2, w1.to(dt))  # (B, T, hidden)
            b = F.linear(xn2, w3.to(dt))  # (B, T, hidden)
            out = h + F.linear(F.silu(a) * b, w2.to(dt))  # (B, T, C)
        ctx.eps = (eps1, eps2)
        ctx.n_state = len(attn_state)
        # Activations: x, q, k, v, o, logsumexp (+ kernel RNG state on CUDA), h, a, b. The rest are
        # parameters and the rotary tables, which exist anyway.
        ctx.save_for_backward(
            x, q, k, v, o, h, a, b, *attn_state, cos, sin, g1, wq, wk, wv, wo, g2, w1, w2, w3
        )
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, q, k, v, o, h, a, b, *rest = ctx.saved_tensors
        attn_state, rest = tuple(rest[: ctx.n_state]), rest[ctx.n_state :]
        cos, sin, g1, wq, wk, wv, wo, g2, w1, w2, w3 = rest
        eps1, eps2 = ctx.eps
        dt = q.dtype
        B, T, nh, hd = q.shape
        with torch.autocast(x.device.type, enabled=False):
            # Recompute the cheap activations (elementwise only), keeping the norms' parts for their
            # backward. Same formulas as model.rms_norm: n * g in fp32, cast to the input dtype.
            norm1, norm2 = _rms_parts(x, eps1), _rms_parts(h, eps2)
            xn1 = (norm1[0] * g1.float()).to(x.dtype).to(dt)
            xn2 = (norm2[0] * g2.float()).to(h.dtype).to(dt)
            qr, kr = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
            silu_a = F.silu(a)
            s = silu_a * b  # (B, T, hidden)

            # out = h + s W2^T
            dout = grad_out.to(dt)
            dw2 = _weight_grad(dout, s)
            ds = dout @ w2.to(dt)  # (B, T, hidden)
            # s = silu(a) * b; silu_backward is d silu(a)/da = sigmoid(a) (1 + a (1 - sigmoid(a))), fused
            da = torch.ops.aten.silu_backward(ds * b, a)
            db = ds * silu_a
            # a = xn2 W1^T, b = xn2 W3^T
            dw1, dw3 = _weight_grad(da, xn2), _weight_grad(db, xn2)
            dxn2 = da @ w1.to(dt) + db @ w3.to(dt)  # (B, T, C)
            # xn2 = rmsnorm(h); h also flows straight to the output
            dh_norm, dg2 = rms_norm_backward(dxn2, h, g2, eps2, norm2)
            dh = grad_out.to(h.dtype) + dh_norm  # (B, T, C) in the residual dtype

            # h = x + o Wo^T
            dh_c = dh.to(dt)
            dwo = _weight_grad(dh_c, o)
            do = (dh_c @ wo.to(dt)).view(B, T, nh, hd)
            # o = attention(qr, kr, v): the kernel's own backward from the saved logsumexp
            dqr, dkr, dv = attention_backward(do, qr, kr, v, o.view(B, T, nh, hd), attn_state)
            # qr = rope(q): the backward of a rotation is the rotation by the negated angle
            dq, dk = apply_rotary(dqr, cos, -sin), apply_rotary(dkr, cos, -sin)
            dq, dk, dv = (t.reshape(B, T, nh * hd).to(dt) for t in (dq, dk, dv))  # (B, T, C)
            # q, k, v = xn1 Wq^T, xn1 Wk^T, xn1 Wv^T
            dwq, dwk, dwv = _weight_grad(dq, xn1), _weight_grad(dk, xn1), _weight_grad(dv, xn1)
            dxn1 = dq @ wq.to(dt) + dk @ wk.to(dt) + dv @ wv.to(dt)  # (B, T, C)
            dx_norm, dg1 = rms_norm_backward(dxn1, x, g1, eps1, norm1)
            dx = dh + dx_norm

        weight_grads = (
            dg1,
            dwq.to(wq.dtype),
            dwk.to(wk.dtype),
            dwv.to(wv.dtype),
            dwo.to(wo.dtype),
            dg2,
            dw1.to(w1.dtype),
            dw2.to(w2.dtype),
            dw3.to(w3.dtype),
        )
        return (dx.to(x.dtype), None, None, None, None, *weight_grads)


def manual_block_forward(block: TransformerBlock, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    attn, ffn = block.attention, block.feed_forward
    if hasattr(attn.wq.weight, "device_mesh"):
        # Tensor parallelism shards the weights as DTensors and hooks the submodules' forwards (the
        # sequence all-gather / reduce-scatter), which this function bypasses: it would need those
        # collectives written into its forward and backward by hand, as Megatron's layers do.
        raise NotImplementedError(
            "checkpointing='manual' runs on plain (or FSDP-gathered) weights, not tensor-parallel DTensors; "
            "use 'selective' or 'full' with tp > 1"
        )
    return ManualBlockFunction.apply(
        x,
        cos,
        sin,
        block.attention_norm.eps,
        block.ffn_norm.eps,
        block.attention_norm.weight,
        attn.wq.weight,
        attn.wk.weight,
        attn.wv.weight,
        attn.wo.weight,
        block.ffn_norm.weight,
        ffn.w1.weight,
        ffn.w2.weight,
        ffn.w3.weight,
    )


# Ops whose outputs the selective policy keeps: matrix products and the fused attention kernels.
_aten = torch.ops.aten
_SAVE_OPS = {
    _aten.mm.default,
    _aten.addmm.default,
    _aten.bmm.default,
    _aten._scaled_dot_product_flash_attention_for_cpu.default,
    _aten._scaled_dot_product_flash_attention.default,
    _aten._scaled_dot_product_efficient_attention.default,
    _aten._scaled_dot_product_cudnn_attention.default,
}


def _save_matmuls_policy(ctx, op, *args, **kwargs) -> CheckpointPolicy:
    # xformers' kernels are custom ops outside aten: keep them too (by namespace).
    if op in _SAVE_OPS or str(getattr(op, "namespace", "")) == "xformers":
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


def checkpointed_block_forward(block: TransformerBlock, x: torch.Tensor, cos, sin, mode: str) -> torch.Tensor:
    """Run `block` on x with the activation-saving strategy `mode` (see module docstring)."""
    if mode == "manual":
        return manual_block_forward(block, x, cos, sin)
    if mode == "full":
        return checkpoint(block.forward_plain, x, cos, sin, use_reentrant=False)
    if mode == "selective":
        context_fn = functools.partial(create_selective_checkpoint_contexts, _save_matmuls_policy)
        return checkpoint(block.forward_plain, x, cos, sin, use_reentrant=False, context_fn=context_fn)
    if mode == "none":
        return block.forward_plain(x, cos, sin)
    raise ValueError(f"unknown checkpointing mode {mode!r}")
