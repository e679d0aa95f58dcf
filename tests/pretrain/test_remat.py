"""The hand-written rematerializing block against autograd on the plain block, and the activation
bytes each checkpointing mode keeps (bytes are deterministic; time is only printed by the bench)."""

import contextlib
import re

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from lamina.bench.block import saved_bytes_by_hooks, saved_bytes_per_block
from lamina.pretrain import remat
from lamina.pretrain.config import ModelConfig, preset
from lamina.pretrain.model import Transformer, rms_norm
from lamina.pretrain.remat import (
    CHECKPOINTING_MODES,
    ac_mode,
    apply_ac,
    manual_block_forward,
    rms_norm_backward,
)


def _block_grads(block, x, cos, sin, fn, grad_seed=1):
    block.zero_grad(set_to_none=True)
    x = x.detach().requires_grad_()
    out = fn(block, x, cos, sin)
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(grad_seed)).to(out.dtype)
    out.backward(grad)
    return out.detach(), {"input": x.grad, **{n: p.grad for n, p in block.named_parameters()}}


def _plain(block, x, cos, sin):
    return remat.plain_block_forward(block, x, cos, sin)


def _rel(a, b):
    """Relative error of a against b; an exactly-zero reference (dq at sequence length 1: one key, a
    constant softmax) is compared absolutely."""
    if b.norm() < 1e-6:  # mathematically zero: both sides are rounding noise
        return a.abs().max().item()
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.mark.parametrize(
    "dim, n_heads, hidden_multiple, batch, seq",
    [(64, 4, 256, 2, 17), (96, 2, 32, 1, 1), (128, 8, 64, 3, 40), (48, 3, 16, 2, 64)],
)
def test_manual_gradients_equal_autograd_fp32(dim, n_heads, hidden_multiple, batch, seq):
    cfg = ModelConfig(
        dim=dim, n_layers=1, n_heads=n_heads, vocab_size=11, multiple_of=hidden_multiple, max_seq_len=64
    )
    model = Transformer(cfg)
    block = model.layers["0"]
    # Random norm weights, so their gradients and the norm backward are exercised off the identity.
    with torch.no_grad():
        block.attention_norm.weight.uniform_(0.5, 1.5)
        block.ffn_norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(batch, seq, dim, generator=torch.Generator().manual_seed(0))
    cos, sin = model.rope_cos[:seq], model.rope_sin[:seq]
    out_ref, ref = _block_grads(block, x, cos, sin, _plain)
    out, got = _block_grads(block, x, cos, sin, manual_block_forward)
    assert _rel(out, out_ref) < 1e-6
    assert set(got) == {"input"} | {n for n, _ in block.named_parameters()}
    for name in ref:
        assert got[name].dtype == ref[name].dtype
        assert _rel(got[name], ref[name]) < 1e-5, name


def test_rms_norm_backward_matches_autograd():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 16, generator=gen).requires_grad_()
    w = torch.randn(16, generator=gen).requires_grad_()
    dy = torch.randn(3, 5, 16, generator=gen)
    rms_norm(x, w, 1e-6).backward(dy)
    dx, dw = rms_norm_backward(dy, x.detach(), w.detach(), 1e-6)
    assert _rel(dx, x.grad) < 1e-6 and _rel(dw, w.grad) < 1e-6


def test_manual_runs_under_bf16_autocast_and_tracks_autocast_autograd():
    cfg = ModelConfig(dim=64, n_layers=1, n_heads=4, vocab_size=11, max_seq_len=32)
    model = Transformer(cfg)
    block = model.layers["0"]
    x = torch.randn(2, 32, 64, generator=torch.Generator().manual_seed(0))
    cos, sin = model.rope_cos[:32], model.rope_sin[:32]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_ref, ref = _block_grads(block, x, cos, sin, _plain)
        out, got = _block_grads(block, x, cos, sin, manual_block_forward)
    assert out.dtype == out_ref.dtype == torch.float32  # the residual stream keeps fp32
    assert _rel(out, out_ref) < 1e-2
    for name in ref:
        assert got[name].dtype == torch.float32, name  # parameter gradients in the parameters' dtype
        assert _rel(got[name], ref[name]) < 3e-2, name


def test_all_modes_give_the_same_model_gradients():
    cfg = preset("tiny")
    model = Transformer(cfg)
    tokens = torch.randint(0, cfg.vocab_size, (2, 33), generator=torch.Generator().manual_seed(0))
    grads = {}
    for mode in CHECKPOINTING_MODES:
        apply_ac(model, mode)
        assert ac_mode(model) == mode
        model.zero_grad(set_to_none=True)
        logits = model(tokens[:, :-1])
        F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten()).backward()
        grads[mode] = {n: p.grad.clone() for n, p in model.named_parameters()}
    for mode in CHECKPOINTING_MODES:
        for name, g in grads["none"].items():
            assert _rel(grads[mode][name], g) < 1e-5, (mode, name)
    with pytest.raises(ValueError, match="checkpointing must be one of"):
        apply_ac(model, "sometimes")


def _bytes_setup(dtype):
    cfg = preset("small")
    model = Transformer(cfg).to(dtype)
    B, T = 2, 32
    x = torch.randn(B, T, cfg.dim, generator=torch.Generator().manual_seed(0)).to(dtype)
    return cfg, model.layers["0"], x, model.rope_cos[:T], model.rope_sin[:T], B * T


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_manual_saves_exactly_x_qkv_o_lse_h_a_b(dtype):
    cfg, block, x, cos, sin, tokens = _bytes_setup(dtype)
    size = x.element_size()
    expected = tokens * ((6 * cfg.dim + 2 * cfg.hidden_dim) * size + 4 * cfg.n_heads)  # + fp32 logsumexp
    assert saved_bytes_per_block(block, x, cos, sin, "manual") == expected
    # The two measurements agree where both see everything; full checkpointing keeps only x.
    for mode in ("none", "manual", "full"):
        assert saved_bytes_by_hooks(block, x, cos, sin, mode) == saved_bytes_per_block(
            block, x, cos, sin, mode
        )
    assert saved_bytes_per_block(block, x, cos, sin, "full") == tokens * cfg.dim * size


def test_manual_keeps_at_most_45_percent_of_eager_bytes_under_bf16_autocast():
    cfg, block, x, cos, sin, tokens = _bytes_setup(torch.float32)
    none = saved_bytes_per_block(block, x, cos, sin, "none", torch.bfloat16)
    manual = saved_bytes_per_block(block, x, cos, sin, "manual", torch.bfloat16)
    selective = saved_bytes_per_block(block, x, cos, sin, "selective", torch.bfloat16)
    # x and h stay fp32 (the residual stream), q, k, v, o, a, b are bf16, the logsumexp fp32.
    assert manual == tokens * (2 * cfg.dim * 4 + (4 * cfg.dim + 2 * cfg.hidden_dim) * 2 + 4 * cfg.n_heads)
    assert manual <= 0.45 * none
    assert manual <= selective


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@needs_cuda
def test_manual_gradients_equal_autograd_on_cuda():
    cfg = ModelConfig(dim=256, n_layers=1, n_heads=2, vocab_size=11, max_seq_len=256)
    model = Transformer(cfg).cuda()
    block = model.layers["0"]
    x = torch.randn(2, 256, 256, generator=torch.Generator().manual_seed(0)).cuda()
    cos, sin = model.rope_cos[:256], model.rope_sin[:256]
    _, ref = _block_grads(block, x, cos, sin, _plain)
    _, got = _block_grads(block, x, cos, sin, manual_block_forward)
    for name in ref:  # CUDA kernels differ from autograd's in summation order: fp32 to ~1e-5
        assert _rel(got[name], ref[name]) < 1e-4, name
    with torch.autocast("cuda", dtype=torch.bfloat16):
        _, ref = _block_grads(block, x, cos, sin, _plain)
        _, got = _block_grads(block, x, cos, sin, manual_block_forward)
    for name in ref:
        assert _rel(got[name], ref[name]) < 3e-2, name


@pytest.mark.gpu
@needs_cuda
def test_xformers_matches_sdpa_on_cuda():
    pytest.importorskip("xformers.ops")
    from lamina.bench.block import attention_backend
    from lamina.pretrain import attention as backends

    gen = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (
        torch.randn(2, 512, 4, 128, device="cuda", dtype=torch.bfloat16, generator=gen) for _ in range(3)
    )
    outs = {}
    for name in ("xformers", "sdpa"):
        with attention_backend(name) as got:
            assert got == name
            outs[name] = backends.attention(q, k, v).float()
    torch.testing.assert_close(outs["xformers"], outs["sdpa"], atol=2e-2, rtol=2e-2)


# --- the selective policy: every attention kernel's output is kept, whatever the backend

ATTENTION_LIKE = re.compile(r"attention|attn|flash|fmha|(^|_)sdp|^xformers", re.IGNORECASE)
# Namespaces whose ops never run in training: ONNX export's symbolic ops (onnx::Attention, ...).
NOT_KERNEL_NAMESPACES = {"onnx"}
# Registered attention ops that are not kernels whose output a policy could keep, and why.
NOT_KERNELS = {
    "aten::scaled_dot_product_attention": "composite: dispatches to one of the kernels below it",
    "aten::_scaled_dot_product_attention_math": "composite: bmm + softmax (the bmm outputs are kept)",
    "aten::_fused_sdp_choice": "returns which backend SDPA picks, no tensor",
    "aten::_native_multi_head_attention": "nn.MultiheadAttention's inference fast path, not this model's",
    "aten::_triton_multi_head_attention": "nn.MultiheadAttention's inference fast path, not this model's",
}


def _is_backward(name: str) -> bool:
    return "backward" in name or name.endswith("_bwd") or "::bwd" in name or "flash_bwd" in name


def _attention_like(name: str) -> bool:
    """An op that looks like attention by its name ("namespace::op"): every op of an xformers namespace,
    or an op whose own name says attention / flash / fmha / sdp (not fsdp::...)."""
    namespace, _, op = name.partition("::")
    return namespace not in NOT_KERNEL_NAMESPACES and bool(
        ATTENTION_LIKE.search(op) or ATTENTION_LIKE.search(namespace)
    )


def _unknown(names) -> list[str]:
    return sorted(
        n
        for n in names
        if _attention_like(n) and not remat.saved_by_selective_name(n) and n not in NOT_KERNELS
    )


def test_selective_policy_classifies_every_attention_op_registered_here():
    """Every attention-like op the dispatcher knows in this torch (and in xformers, when importable) is
    a forward kernel the policy keeps, a backward, or a named composite: a new torch or xformers that
    adds a kernel fails here until the policy knows it."""
    with contextlib.suppress(ImportError):
        import xformers.ops  # noqa: F401  registers its custom ops
    names = set(torch._C._dispatch_get_all_op_names())
    forward = {n.split(".")[0] for n in names if _attention_like(n) and not _is_backward(n)}
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in forward  # the search sees aten's kernels
    assert _unknown(forward) == [], "attention ops unknown to remat's selective policy"
    for name in (
        "aten::_efficient_attention_forward",
        "aten::_flash_attention_forward",
        "xformers_flash::flash_fwd",
    ):
        assert remat.saved_by_selective_name(name), name
    assert remat.saved_by_selective_name("_c10d_functional::reduce_scatter_tensor")
    assert remat.saved_by_selective_name("_c10d_functional::all_gather_into_tensor")
    assert not remat.saved_by_selective_name("aten::silu")


class _OpTrace(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(remat.op_name(func))
        return func(*args, **(kwargs or {}))


def _sdpa_backends(device: str) -> list:
    from torch.nn.attention import SDPBackend

    if device == "cpu":
        return [SDPBackend.MATH, SDPBackend.FLASH_ATTENTION]
    return [
        SDPBackend.MATH,
        SDPBackend.FLASH_ATTENTION,
        SDPBackend.EFFICIENT_ATTENTION,
        SDPBackend.CUDNN_ATTENTION,
    ]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, needs_cuda])])
def test_selective_keeps_the_kernel_each_sdpa_backend_dispatches(device):
    """Trace the ops SDPA dispatches under each backend available here: none is an unknown attention op;
    under selective checkpointing of a real block the fused kernel runs once in forward and is not
    re-run by the backward (its saved output is used)."""
    from torch.nn.attention import sdpa_kernel

    cfg = ModelConfig(dim=64, n_layers=1, n_heads=2, vocab_size=11, max_seq_len=64)
    model = Transformer(cfg).to(device)
    block = model.layers["0"]
    x = torch.randn(2, 64, 64, generator=torch.Generator().manual_seed(0)).to(device).requires_grad_()
    cos, sin = model.rope_cos[:64], model.rope_sin[:64]
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    tried = 0
    for backend in _sdpa_backends(device):
        q, k, v = (torch.randn(2, 2, 64, 32, device=device, dtype=dtype) for _ in range(3))
        trace = _OpTrace()
        try:
            with sdpa_kernel([backend]), trace:
                F.scaled_dot_product_attention(q, k, v, is_causal=True)
        except RuntimeError as err:  # this backend cannot run here (no kernel for the device / dtype)
            assert "No available kernel" in str(err) or "not supported" in str(err).lower(), err
            continue
        tried += 1
        assert _unknown(trace.names) == [], (backend, trace.names)
        kernels = [n for n in trace.names if n in remat.SAVE_ATTENTION]
        if backend.name == "MATH":
            assert kernels == [] and "aten::bmm" in trace.names  # decomposed: the bmm outputs are kept
            continue
        assert len(kernels) == 1, (backend, trace.names)
        apply_ac(block, "selective")
        forward, backward = _OpTrace(), _OpTrace()
        with sdpa_kernel([backend]):
            with forward:
                out = block(x, cos, sin)
            with backward:
                out.sum().backward()
        assert forward.names.count(kernels[0]) == 1, backend
        assert kernels[0] not in backward.names, f"{backend}: selective re-ran {kernels[0]} in backward"
    assert tried >= 2


@pytest.mark.gpu
@needs_cuda
def test_selective_keeps_every_xformers_kernel():
    """Each xformers forward op available on this GPU (cutlass, flash, flash3) dispatches only ops the
    policy keeps or knows."""
    xops = pytest.importorskip("xformers.ops")
    fmha = xops.fmha
    q, k, v = (torch.randn(2, 256, 4, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    tried = []
    for name in ("cutlass", "flash", "flash3"):
        module = getattr(fmha, name, None)
        if module is None:
            continue
        trace = _OpTrace()
        try:
            with trace:
                fmha.memory_efficient_attention_forward(
                    q, k, v, attn_bias=xops.LowerTriangularMask(), op=module.FwOp
                )
        except (NotImplementedError, ValueError, RuntimeError):  # not supported on this GPU / build
            continue
        tried.append(name)
        assert _unknown(trace.names) == [], (name, trace.names)
        assert any(remat.saved_by_selective_name(n) and _attention_like(n) for n in trace.names), name
    assert tried, "no xformers forward op ran"
