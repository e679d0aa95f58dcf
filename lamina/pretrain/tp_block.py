"""LLaMA's hand-written block backward under tensor + sequence parallelism (Korthikanti et al. 2022),
with the communication written out by hand and overlapped with the matmuls, as Megatron-LM's
`LinearWithGradAccumulationAndAsyncCommunication` does.

Each rank of the TP group holds 1/tp of the heads (wq, wk, wv rows; wo columns) and of the hidden units
(w1, w3 rows; w2 columns), and 1/tp of the sequence of the residual stream. For one block, per rank,
with x_s (B, T/tp, C) its sequence shard:

forward                                           backward (grad_out_s (B, T/tp, C))
  xn1_s = rmsnorm(x_s) g1                           dout = AG(grad_out_s)                        (sync)
  xn1 = AG(xn1_s)                    (B, T, C)      start AG(xn2_s) ........................ async
  q, k, v = xn1 W^T (own heads)                     ds = dout W2 ; dW2 = dout^T s ; da, db
  o = attention(rope(q), rope(k), v)                dxn2 = da W1 + db W3        (input-grad GEMM)
  h_s = x_s + RS(o Wo^T)                            xn2 = wait AG ; start RS(dxn2) ......... async
  xn2_s = rmsnorm(h_s) g2                           dW1 = da^T xn2 ; dW3 = db^T xn2 (weight GEMMs)
  xn2 = AG(xn2_s)                                   dxn2_s = wait RS ; dh_s = grad_out_s + norm'
  a, b = xn2 W1^T, xn2 W3^T (own units)             start AR(dg2) .......................... async
  out_s = h_s + RS((silu(a) b) W2^T)                dh = AG(dh_s)                                (sync)
                                                    start AG(xn1_s) ........................ async
                                                    dWo = dh^T o ; do = dh Wo ; attention and rope
                                                    backward ; dxn1 = dq Wq + dk Wk + dv Wv
                                                    xn1 = wait AG ; start RS(dxn1) ......... async
                                                    dWq, dWk, dWv = d{q,k,v}^T xn1
                                                    dxn1_s = wait RS ; dx_s = dh_s + norm'
                                                    AR(dg1) ; wait AR(dg2)

AG = all-gather along the sequence, RS = reduce-scatter along the sequence, AR = all-reduce (the RMSNorm
weight gradients: each rank saw only its own tokens). Per block: forward 2 AG + 2 RS; backward 4 AG +
2 RS + 2 AR (of C floats each). The normalized inputs are not saved: x_s and h_s are (sequence-sharded),
the norm is recomputed and re-gathered while the input-gradient GEMM runs, and the input gradient's
reduce-scatter runs while the weight-gradient GEMMs do. Saved per rank: x_s and h_s at T/tp tokens,
q, k, v, o (own heads) and a, b (own hidden units) at T tokens, the logsumexp — 1/tp of
remat.ManualBlockFunction's bytes, no matmul and no collective of the forward redone.

Layout: the model is batch-first (B, T, C), so gathering along T goes through a (tp, B, T/tp, C) buffer
and one copy (none when B = 1); Megatron's sequence-first layout avoids that copy.

Gradients: the block takes the parameters' local shards (`DTensor.to_local`, differentiable), so the
gradients it returns reach the parameters as DTensors with the parameters' placements — which is what
FSDP2 needs to reduce-scatter them over the data-parallel dimension of a 2-D mesh.

gloo (CPU) supports every collective used here in torch 2.13, `async_op=True` included
(all_gather_into_tensor, reduce_scatter_tensor, all_reduce): no backend-specific fallback is needed.

`record_events()` collects the order in which collectives are started and waited and GEMMs are issued
(the tests check the overlap with it).
"""

from __future__ import annotations

import contextlib

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.tensor import DTensor, Replicate, Shard

from lamina.pretrain.attention import attention_backward, attention_forward
from lamina.pretrain.block_grads import compute_dtype, rms_norm_backward, rms_parts, weight_grad
from lamina.pretrain.model import TransformerBlock, apply_rotary, rms_norm

_events: list[str] | None = None


@contextlib.contextmanager
def record_events():
    """Collect, in order, "start <op> <name>", "wait <op> <name>" and "gemm <name>" events of the TP
    block functions run inside the context (on this rank)."""
    global _events
    previous, _events = _events, []
    try:
        yield _events
    finally:
        _events = previous


def _record(event: str) -> None:
    if _events is not None:
        _events.append(event)


class _Pending:
    """An issued collective: `wait()` blocks on it and returns the result in the block's layout."""

    def __init__(self, what: str, work, finish):
        self.what, self.work, self.finish = what, work, finish

    def wait(self) -> torch.Tensor:
        _record(f"wait {self.what}")
        if self.work is not None:
            self.work.wait()
        return self.finish()


def _gemm(name: str) -> None:
    """Mark that the GEMM `name` is issued next (recorder only)."""
    _record(f"gemm {name}")


def all_gather_seq(t: torch.Tensor, group, name: str, async_op: bool = False) -> _Pending:
    """(B, T/tp, ...) on each rank -> (B, T, ...): the ranks' shards concatenated along dim 1."""
    tp = dist.get_world_size(group)
    t = t.contiguous()
    buf = torch.empty((tp * t.shape[0], *t.shape[1:]), dtype=t.dtype, device=t.device)  # (tp B, T/tp, ..)
    _record(f"start all_gather {name}")
    work = dist.all_gather_into_tensor(buf, t, group=group, async_op=async_op)

    def finish():
        # (tp, B, T/tp, ...) -> (B, tp, T/tp, ...) -> (B, T, ...): a view when B == 1, else one copy
        full = buf.view(tp, *t.shape).transpose(0, 1)
        return full.reshape(t.shape[0], tp * t.shape[1], *t.shape[2:])

    return _Pending(f"all_gather {name}", work, finish)


def reduce_scatter_seq(t: torch.Tensor, group, name: str, async_op: bool = False) -> _Pending:
    """(B, T, ...) partial sums on each rank -> (B, T/tp, ...): the sum over ranks of this rank's
    slice of the sequence."""
    tp = dist.get_world_size(group)
    B, T = t.shape[:2]
    chunks = t.reshape(B, tp, T // tp, *t.shape[2:]).transpose(0, 1).contiguous()  # (tp, B, T/tp, ...)
    out = torch.empty(chunks.shape[1:], dtype=t.dtype, device=t.device)  # (B, T/tp, ...)
    _record(f"start reduce_scatter {name}")
    work = dist.reduce_scatter_tensor(out, chunks.flatten(0, 1), group=group, async_op=async_op)
    return _Pending(f"reduce_scatter {name}", work, lambda: out)


def all_reduce(t: torch.Tensor, group, name: str, async_op: bool = False) -> _Pending:
    """Sum of t over the group, in place."""
    _record(f"start all_reduce {name}")
    work = dist.all_reduce(t, group=group, async_op=async_op)
    return _Pending(f"all_reduce {name}", work, lambda: t)


class TPManualBlockFunction(torch.autograd.Function):
    """One block on the local shards, with the collectives and the backward written by hand (see the
    module docstring). Inputs: x_s (B, T/tp, C), cos/sin (T, D/2) for the whole sequence, the two
    eps, the TP process group, then the LOCAL shards of g1, wq, wk, wv, wo, g2, w1, w2, w3."""

    @staticmethod
    def forward(ctx, x, cos, sin, eps1, eps2, group, g1, wq, wk, wv, wo, g2, w1, w2, w3):
        dt = compute_dtype(x)
        head_dim = 2 * cos.shape[-1]
        B = x.shape[0]
        with torch.autocast(x.device.type, enabled=False):
            xn1 = all_gather_seq(rms_norm(x, g1, eps1).to(dt), group, "xn1").wait()  # (B, T, C)
            T = xn1.shape[1]
            q = F.linear(xn1, wq.to(dt)).view(B, T, -1, head_dim)  # (B, T, nh/tp, hd)
            k = F.linear(xn1, wk.to(dt)).view(B, T, -1, head_dim)  # (B, T, nh/tp, hd)
            v = F.linear(xn1, wv.to(dt)).view(B, T, -1, head_dim)  # (B, T, nh/tp, hd)
            del xn1  # not saved: re-gathered from x_s in backward
            qr, kr = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
            o, attn_state = attention_forward(qr, kr, v)  # (B, T, nh/tp, hd), logsumexp (B, nh/tp, T)
            o = o.reshape(B, T, -1)  # (B, T, C/tp)
            # Row-parallel wo: partial sums over this rank's heads, reduce-scattered to sequence shards.
            h = x + reduce_scatter_seq(F.linear(o, wo.to(dt)), group, "attn_out").wait()  # (B, T/tp, C)
            xn2 = all_gather_seq(rms_norm(h, g2, eps2).to(dt), group, "xn2").wait()  # (B, T, C)
            a = F.linear(xn2, w1.to(dt))  # (B, T, hidden/tp)
            b = F.linear(xn2, w3.to(dt))  # (B, T, hidden/tp)
            del xn2
            ffn = F.linear(F.silu(a) * b, w2.to(dt))  # (B, T, C) partial sums over own hidden units
            out = h + reduce_scatter_seq(ffn, group, "ffn_out").wait()  # (B, T/tp, C)
        ctx.eps, ctx.group, ctx.n_state = (eps1, eps2), group, len(attn_state)
        ctx.save_for_backward(
            x, q, k, v, o, h, a, b, *attn_state, cos, sin, g1, wq, wk, wv, wo, g2, w1, w2, w3
        )
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, q, k, v, o, h, a, b, *rest = ctx.saved_tensors
        attn_state, rest = tuple(rest[: ctx.n_state]), rest[ctx.n_state :]
        cos, sin, g1, wq, wk, wv, wo, g2, w1, w2, w3 = rest
        (eps1, eps2), group = ctx.eps, ctx.group
        dt = q.dtype
        B, T, nh, hd = q.shape
        with torch.autocast(x.device.type, enabled=False):
            # Elementwise recomputation on the local tokens / heads (no matmul, no collective).
            norm1, norm2 = rms_parts(x, eps1), rms_parts(h, eps2)
            xn1_s = (norm1[0] * g1.float()).to(x.dtype).to(dt)  # (B, T/tp, C)
            xn2_s = (norm2[0] * g2.float()).to(h.dtype).to(dt)
            qr, kr = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
            silu_a = F.silu(a)
            s = silu_a * b  # (B, T, hidden/tp)

            # --- feed-forward. out_s = h_s + RS(s W2^T): the gradient of RS is an all-gather.
            dout = all_gather_seq(grad_out.to(dt), group, "grad_out").wait()  # (B, T, C)
            xn2_pending = all_gather_seq(xn2_s, group, "xn2", async_op=True)
            _gemm("ds")
            ds = dout @ w2.to(dt)  # (B, T, hidden/tp)
            _gemm("dw2")
            dw2 = weight_grad(dout, s)
            da = torch.ops.aten.silu_backward(ds * b, a)
            db = ds * silu_a
            _gemm("dxn2")  # the input-gradient GEMM, overlapped with the all-gather of xn2
            dxn2 = da @ w1.to(dt) + db @ w3.to(dt)  # (B, T, C), partial over own hidden units
            xn2 = xn2_pending.wait()
            dxn2_pending = reduce_scatter_seq(dxn2, group, "dxn2", async_op=True)
            _gemm("dw1")  # the weight-gradient GEMMs, overlapped with the reduce-scatter of dxn2
            dw1 = weight_grad(da, xn2)
            _gemm("dw3")
            dw3 = weight_grad(db, xn2)
            del xn2
            dh_norm, dg2 = rms_norm_backward(dxn2_pending.wait(), h, g2.float(), eps2, norm2)
            dh = grad_out.to(h.dtype) + dh_norm  # (B, T/tp, C) in the residual dtype
            dg2_pending = all_reduce(dg2, group, "dg2", async_op=True)  # fp32, done by the end

            # --- attention. h_s = x_s + RS(o Wo^T).
            dh_full = all_gather_seq(dh.to(dt), group, "dh").wait()  # (B, T, C)
            xn1_pending = all_gather_seq(xn1_s, group, "xn1", async_op=True)
            _gemm("dwo")
            dwo = weight_grad(dh_full, o)
            _gemm("do")
            do = (dh_full @ wo.to(dt)).view(B, T, nh, hd)
            del dh_full
            dqr, dkr, dv = attention_backward(do, qr, kr, v, o.view(B, T, nh, hd), attn_state)
            dq, dk = apply_rotary(dqr, cos, -sin), apply_rotary(dkr, cos, -sin)
            dq, dk, dv = (t.reshape(B, T, nh * hd).to(dt) for t in (dq, dk, dv))  # (B, T, C/tp)
            _gemm("dxn1")  # the input-gradient GEMM, overlapped with the all-gather of xn1
            dxn1 = dq @ wq.to(dt) + dk @ wk.to(dt) + dv @ wv.to(dt)  # (B, T, C), partial over own heads
            xn1 = xn1_pending.wait()
            dxn1_pending = reduce_scatter_seq(dxn1, group, "dxn1", async_op=True)
            _gemm("dwq")  # the weight-gradient GEMMs, overlapped with the reduce-scatter of dxn1
            dwq = weight_grad(dq, xn1)
            _gemm("dwk")
            dwk = weight_grad(dk, xn1)
            _gemm("dwv")
            dwv = weight_grad(dv, xn1)
            del xn1
            dx_norm, dg1 = rms_norm_backward(dxn1_pending.wait(), x, g1.float(), eps1, norm1)
            dx = dh + dx_norm
            dg1 = all_reduce(dg1, group, "dg1").wait()
            dg2 = dg2_pending.wait()

        weight_grads = (
            dg1.to(g1.dtype),
            dwq.to(wq.dtype),
            dwk.to(wk.dtype),
            dwv.to(wv.dtype),
            dwo.to(wo.dtype),
            dg2.to(g2.dtype),
            dw1.to(w1.dtype),
            dw2.to(w2.dtype),
            dw3.to(w3.dtype),
        )
        return (dx.to(x.dtype), None, None, None, None, None, *weight_grads)


# The placements apply_tp gives each parameter of a block (parallelize.BLOCK_PLAN).
_EXPECTED = {
    "attention_norm": Replicate(),
    "attention.wq": Shard(0),
    "attention.wk": Shard(0),
    "attention.wv": Shard(0),
    "attention.wo": Shard(1),
    "ffn_norm": Replicate(),
    "feed_forward.w1": Shard(0),
    "feed_forward.w2": Shard(1),
    "feed_forward.w3": Shard(0),
}


def is_tensor_parallel(block: TransformerBlock) -> bool:
    return isinstance(block.attention.wq.weight, DTensor)


def tp_manual_block_forward(block: TransformerBlock, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """`block` (its weights tensor-parallel DTensors on a 1-D TP mesh, parallelize.apply_tp) on x_s, this
    rank's (B, T/tp, C) sequence shard of the residual stream (a plain tensor, as the TP plan passes
    it between blocks); returns this rank's (B, T/tp, C) output shard."""
    params = []
    mesh = block.attention.wq.weight.device_mesh
    for name, placement in _EXPECTED.items():
        p = block.get_submodule(name).weight
        if not isinstance(p, DTensor) or p.device_mesh != mesh or tuple(p.placements) != (placement,):
            got = tuple(p.placements) if isinstance(p, DTensor) else "a plain tensor"
            raise ValueError(
                f"checkpointing='manual' under tensor parallelism expects {name}.weight as {placement} on the "
                f"1-D TP mesh (parallelize.BLOCK_PLAN), got {got}"
            )
        params.append(p.to_local())  # differentiable: the gradient comes back as a DTensor like p
    if isinstance(x, DTensor):
        raise ValueError(
            "checkpointing='manual' under tensor parallelism takes the local sequence shard, not a DTensor"
        )
    tp = mesh.size()
    if x.shape[1] * tp != cos.shape[0]:
        raise ValueError(
            f"tensor-parallel block: local sequence {x.shape[1]} x tp {tp} != rotary length {cos.shape[0]}"
        )
    return TPManualBlockFunction.apply(
        x, cos, sin, block.attention_norm.eps, block.ffn_norm.eps, mesh.get_group(), *params
    )
