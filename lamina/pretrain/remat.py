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

Modes, applied from outside the plain model by `apply_ac(model, mode)` (parallelize.py calls it; like
torchtitan's apply_ac, but without a wrapper module, so parameter names stay Meta's):
- "none": eager autograd keeps whatever each op saves;
- "manual": this module's `ManualBlockFunction` (tp_block's under tensor parallelism);
- "full": `torch.utils.checkpoint` of the whole block (keeps only x, redoes the forward in backward);
- "selective": `torch.utils.checkpoint` with a selective policy that saves the outputs of matmuls, of
  every attention kernel (SDPA's, xformers') and of the TP collectives, and recomputes everything else
  (PyTorch's generic version of the idea).

Under tensor + sequence parallelism "manual" runs tp_block.TPManualBlockFunction: the same backward on
the local shards with the all-gathers / reduce-scatters written in and overlapped with the GEMMs.
"""

from __future__ import annotations

import functools
import types

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

from lamina.pretrain import tp_block
from lamina.pretrain.attention import attention_backward, attention_forward
from lamina.pretrain.block_grads import compute_dtype, rms_norm_backward, rms_parts, weight_grad
from lamina.pretrain.model import TransformerBlock, apply_rotary, rms_norm

__all__ = [
    "CHECKPOINTING_MODES",
    "ManualBlockFunction",
    "ac_mode",
    "apply_ac",
    "checkpointed_block_forward",
    "manual_block_forward",
    "rms_norm_backward",
]

CHECKPOINTING_MODES = ("none", "manual", "full", "selective")


class ManualBlockFunction(torch.autograd.Function):
    """One transformer block with a hand-written, rematerializing backward (see module docstring).

    Inputs: x (B, T, C), the rotary tables cos/sin (T, D/2), the two RMSNorm eps, then the
    parameters g1, wq, wk, wv, wo, g2, w1, w2, w3 (nn.Linear layout: (out, in)). The head count is
    read from wq's rows, so a tensor-parallel shard with fewer heads works unchanged."""

    @staticmethod
    def forward(ctx, x, cos, sin, eps1, eps2, g1, wq, wk, wv, wo, g2, w1, w2, w3):
        dt = compute_dtype(x)
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
            norm1, norm2 = rms_parts(x, eps1), rms_parts(h, eps2)
            xn1 = (norm1[0] * g1.float()).to(x.dtype).to(dt)
            xn2 = (norm2[0] * g2.float()).to(h.dtype).to(dt)
            qr, kr = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
            silu_a = F.silu(a)
            s = silu_a * b  # (B, T, hidden)

            # out = h + s W2^T
            dout = grad_out.to(dt)
            dw2 = weight_grad(dout, s)
            ds = dout @ w2.to(dt)  # (B, T, hidden)
            # s = silu(a) * b; silu_backward is d silu(a)/da = sigmoid(a) (1 + a (1 - sigmoid(a))), fused
            da = torch.ops.aten.silu_backward(ds * b, a)
            db = ds * silu_a
            # a = xn2 W1^T, b = xn2 W3^T
            dw1, dw3 = weight_grad(da, xn2), weight_grad(db, xn2)
            dxn2 = da @ w1.to(dt) + db @ w3.to(dt)  # (B, T, C)
            # xn2 = rmsnorm(h); h also flows straight to the output
            dh_norm, dg2 = rms_norm_backward(dxn2, h, g2, eps2, norm2)
            dh = grad_out.to(h.dtype) + dh_norm  # (B, T, C) in the residual dtype

            # h = x + o Wo^T
            dh_c = dh.to(dt)
            dwo = weight_grad(dh_c, o)
            do = (dh_c @ wo.to(dt)).view(B, T, nh, hd)
            # o = attention(qr, kr, v): the kernel's own backward from the saved logsumexp
            dqr, dkr, dv = attention_backward(do, qr, kr, v, o.view(B, T, nh, hd), attn_state)
            # qr = rope(q): the backward of a rotation is the rotation by the negated angle
            dq, dk = apply_rotary(dqr, cos, -sin), apply_rotary(dkr, cos, -sin)
            dq, dk, dv = (t.reshape(B, T, nh * hd).to(dt) for t in (dq, dk, dv))  # (B, T, C)
            # q, k, v = xn1 Wq^T, xn1 Wk^T, xn1 Wv^T
            dwq, dwk, dwv = weight_grad(dq, xn1), weight_grad(dk, xn1), weight_grad(dv, xn1)
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
    if tp_block.is_tensor_parallel(block):
        # Tensor + sequence parallel shards: the same backward with the collectives written in by hand.
        return tp_block.tp_manual_block_forward(block, x, cos, sin)
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


# What the selective policy keeps, by qualified op name (every overload): matrix products, every fused
# attention kernel's forward (output, logsumexp and RNG state), and the tensor-parallel collectives.
SAVE_MATMULS = frozenset({"aten::mm", "aten::addmm", "aten::bmm", "aten::_scaled_mm"})
SAVE_ATTENTION = frozenset(
    {
        # what F.scaled_dot_product_attention dispatches to, per backend and device
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_flash_attention",
        "aten::_scaled_dot_product_efficient_attention",
        "aten::_scaled_dot_product_cudnn_attention",
        "aten::_scaled_dot_product_fused_attention_overrideable",
        "aten::_scaled_dot_product_attention_math_for_mps",
        # the kernels under those, which xformers calls directly (its cutlass op:
        # _efficient_attention_forward; its flash op wraps _flash_attention_forward in a custom op)
        "aten::_flash_attention_forward",
        "aten::_flash_attention_forward_no_dropout_inplace",
        "aten::_efficient_attention_forward",
        "aten::_cudnn_attention_forward",
        "aten::_triton_scaled_dot_attention",
    }
)
# xformers' own kernels are custom ops in these namespaces (0.0.3x: xformers_flash::flash_fwd,
# xformers_flash3::flash_fwd, xformers::efficient_attention_forward_ck, ...): every op in them is kept.
SAVE_NAMESPACES = frozenset({"xformers", "xformers_flash", "xformers_flash3"})
# Under TP+SP the block's forward all-gathers the normalized input (before wq/wk/wv and w1/w3) and
# reduce-scatters the row-parallel outputs (after wo and w2), as DTensor functional collectives. Keeping
# their outputs means the backward re-runs no communication of the forward; the price is the two
# gathered (B, T, C) normalized inputs per block, which the manual mode (tp_block.py) re-gathers instead.
SAVE_COLLECTIVES = frozenset(
    {"_c10d_functional::reduce_scatter_tensor", "_c10d_functional::all_gather_into_tensor"}
)
SAVE_OPS = SAVE_MATMULS | SAVE_ATTENTION | SAVE_COLLECTIVES


def op_name(op) -> str:
    """ "namespace::name" of a dispatcher op (any overload), e.g. "aten::mm"."""
    packet = getattr(op, "overloadpacket", op)
    return getattr(packet, "_qualified_op_name", str(packet).replace(".", "::", 1))


def saved_by_selective_name(name: str) -> bool:
    """Whether the selective policy keeps the outputs of the op "namespace::name"."""
    return name in SAVE_OPS or name.split("::", 1)[0] in SAVE_NAMESPACES


def saved_by_selective(op) -> bool:
    return saved_by_selective_name(op_name(op))


def _save_matmuls_policy(ctx, op, *args, **kwargs) -> CheckpointPolicy:
    return CheckpointPolicy.MUST_SAVE if saved_by_selective(op) else CheckpointPolicy.PREFER_RECOMPUTE


def plain_block_forward(block: TransformerBlock, x: torch.Tensor, cos, sin) -> torch.Tensor:
    """The model's own block forward (model.TransformerBlock.forward), whatever apply_ac installed."""
    return TransformerBlock.forward(block, x, cos, sin)


def checkpointed_block_forward(block: TransformerBlock, x: torch.Tensor, cos, sin, mode: str) -> torch.Tensor:
    """Run `block` on x with the activation-saving strategy `mode` (see module docstring)."""
    if mode == "manual":
        return manual_block_forward(block, x, cos, sin)
    if mode == "full":
        return checkpoint(plain_block_forward, block, x, cos, sin, use_reentrant=False)
    if mode == "selective":
        context_fn = functools.partial(create_selective_checkpoint_contexts, _save_matmuls_policy)
        return checkpoint(plain_block_forward, block, x, cos, sin, use_reentrant=False, context_fn=context_fn)
    if mode == "none":
        return plain_block_forward(block, x, cos, sin)
    raise ValueError(f"unknown checkpointing mode {mode!r}")


def _ac_forward(block: TransformerBlock, x: torch.Tensor, cos, sin) -> torch.Tensor:
    """The forward apply_ac installs on a block: its mode when gradients are recorded, else plain."""
    mode = block._ac_mode
    if mode == "none" or not torch.is_grad_enabled():
        return plain_block_forward(block, x, cos, sin)
    return checkpointed_block_forward(block, x, cos, sin, mode)


def _blocks(module: torch.nn.Module) -> list[TransformerBlock]:
    module = getattr(module, "_orig_mod", module)  # through a torch.compile wrapper
    if isinstance(module, TransformerBlock):
        return [module]
    if not hasattr(module, "layers"):
        raise TypeError(f"apply_ac takes a Transformer or a TransformerBlock, got {type(module).__name__}")
    return [getattr(b, "_orig_mod", b) for b in module.layers.values()]


def apply_ac(module: torch.nn.Module, mode: str) -> None:
    """Activation checkpointing `mode` (CHECKPOINTING_MODES) for every block of a Transformer, or for
    one TransformerBlock, from outside the model: the block's instance gets a `forward` that runs the
    mode (the class's forward, untouched, stays the plain one). No wrapper module, so parameter and
    state-dict names, the TP plan and FSDP2 see the model unchanged. Call it again to switch modes
    (a compiled block recompiles once per mode, guarded on the mode string); "none" runs the plain
    forward. Applied after TP (the manual mode then runs tp_block's function) and before
    compile/FSDP2."""
    if mode not in CHECKPOINTING_MODES:
        raise ValueError(f"checkpointing must be one of {CHECKPOINTING_MODES}, got {mode!r}")
    for block in _blocks(module):
        block._ac_mode = mode
        if "forward" not in vars(block):
            block.forward = types.MethodType(_ac_forward, block)


def ac_mode(module: torch.nn.Module) -> str:
    """The checkpointing mode apply_ac set on a block (or on every block of a model): "none" if never."""
    modes = {getattr(b, "_ac_mode", "none") for b in _blocks(module)}
    if len(modes) != 1:
        raise ValueError(f"blocks have different checkpointing modes: {sorted(modes)}")
    return modes.pop()
