"""The LLaMA-1 model, plain single-device PyTorch, readable top to bottom (after nanoGPT's model.py):
RMSNorm -> rotary embeddings -> causal attention -> SwiGLU feed-forward -> pre-norm block -> model.

No biases, untied input embedding and output layer, RMSNorm computed in fp32 before each sub-layer.
Module and parameter names follow Meta's and torchtitan's llama (`tok_embeddings`,
`layers.{i}.attention.wq`, `layers.{i}.feed_forward.w1`, `norm`, `output`, ...), so tensor-parallel
plans written for those apply unchanged. Parallelism and activation checkpointing are applied from
outside (pretrain/parallelize.py, remat.apply_ac), over this plain model: nothing in here knows of them.

Rotary layout: Meta's. Each head's dimensions are rotated in INTERLEAVED pairs (0, 1), (2, 3), ...
with frequency theta^(-2i/D) for pair i. Hugging Face's `rotate_half` pairs dimension i with i + D/2;
hf.py converts between the two by permuting the rows of wq and wk within each head.
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F
from torch import nn

from lamina.pretrain.attention import attention
from lamina.pretrain.config import ModelConfig

INIT_BLOCK = 1 << 20  # elements per initialization block (whole rows): 4 MB of fp32 drawn at a time


def _block_seed(seed: int, name: str, block: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{name}:{block}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def normal_rows(seed: int, name: str, shape: tuple[int, int], rows: range, cols: range) -> torch.Tensor:
    """Rows `rows` x columns `cols` of the standard-normal matrix of `shape` that (seed, name) define:
    row block b (INIT_BLOCK // shape[1] whole rows) comes from generator _block_seed(seed, name, b), so
    any box of the matrix is drawn without drawing the rest. fp32, on CPU."""
    n_rows, n_cols = shape
    per = max(1, INIT_BLOCK // n_cols)  # rows per block: a function of the shape only
    parts = []
    for b in range(rows.start // per, -(-rows.stop // per)):
        lo, hi = b * per, min(n_rows, (b + 1) * per)
        gen = torch.Generator(device="cpu").manual_seed(_block_seed(seed, name, b))
        block = torch.randn((hi - lo, n_cols), generator=gen, dtype=torch.float32)  # (rows in block, C)
        parts.append(block[max(rows.start, lo) - lo : min(rows.stop, hi) - lo, cols.start : cols.stop])
    if not parts:
        return torch.empty((0, len(cols)), dtype=torch.float32)
    return torch.cat(parts) if len(parts) > 1 else parts[0]


@torch.no_grad()
def init_normal(name: str, param: torch.Tensor, std: float, seed: int) -> None:
    """Fill 2-D `param` with std * normal_rows(seed, name, ...): the whole matrix for a plain tensor,
    only its own shard for a DTensor (FSDP2 and/or tensor-parallel), on the parameter's device."""
    shape = tuple(param.shape)
    if not hasattr(param, "device_mesh"):  # a plain tensor
        values = normal_rows(seed, name, shape, range(shape[0]), range(shape[1]))
        param.copy_((values * std).to(param.dtype))
        return
    # A DTensor: its local shard is one box of the global matrix (Shard and FSDP-over-TP _StridedShard
    # placements of a matrix along its dims); DCP locates shards the same way.
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset  # only when sharded

    local = param.to_local()
    size, offset = compute_local_shape_and_global_offset(param.shape, param.device_mesh, param.placements)
    if tuple(size) != tuple(local.shape):
        raise RuntimeError(f"init {name}: local shard {tuple(local.shape)} is not the box {tuple(size)}")
    rows = range(offset[0], offset[0] + size[0])
    cols = range(offset[1], offset[1] + size[1])
    local.copy_((normal_rows(seed, name, shape, rows, cols) * std).to(local.dtype))


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, computed in fp32 whatever the input dtype (the mean of
    squares of bf16 activations loses too much precision), cast back to the input dtype."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps)

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    x32 = x.float()
    normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return (normed * weight.float()).to(x.dtype)


def rotary_tables(
    head_dim: int, max_seq_len: int, theta: float, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angle of every (position, pair): two (max_seq_len, head_dim // 2)
    fp32 tables. Pair i of a head turns at frequency theta^(-2i/head_dim) radians per position."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(max_seq_len, device=device, dtype=torch.float32), inv_freq)  # (T, D/2)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs (x[2i], x[2i+1]) of every head by the position's angle.
    x: (B, T, H, D); cos, sin: (T, D/2). Computed in fp32, returned in x's dtype. Rotating by the
    negated angle (`-sin`) is the inverse, and also the backward: a rotation's transpose."""
    B, T, H, D = x.shape
    # A pair (x[2i], x[2i+1]) read as the complex number x[2i] + i x[2i+1]; the rotation is then one
    # complex product (x0 c - x1 s, x0 s + x1 c), as in Meta's code.
    pairs = torch.view_as_complex(x.float().reshape(B, T, H, D // 2, 2))  # (B, T, H, D/2) complex
    turn = torch.complex(cos[:T].float(), sin[:T].float())[
        :, None, :
    ]  # (T, 1, D/2), broadcast over batch and heads
    return torch.view_as_real(pairs * turn).reshape(B, T, H, D).to(x.dtype)


class Attention(nn.Module):
    """Causal multi-head self-attention with rotary positions. The number of heads is read from the
    projection's output size at run time (`view(B, T, -1, head_dim)`), so a tensor-parallel shard of
    wq/wk/wv that holds only some heads runs the same code."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.head_dim = config.head_dim
        self.wq = nn.Linear(config.dim, config.dim, bias=False)
        self.wk = nn.Linear(config.dim, config.dim, bias=False)
        self.wv = nn.Linear(config.dim, config.dim, bias=False)
        self.wo = nn.Linear(config.dim, config.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, -1, self.head_dim)  # (B, T, nh, hd)
        k = self.wk(x).view(B, T, -1, self.head_dim)  # (B, T, nh, hd)
        v = self.wv(x).view(B, T, -1, self.head_dim)  # (B, T, nh, hd)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        y = attention(q, k, v)  # (B, T, nh, hd), causal, no (T, T) matrix stored
        return self.wo(y.reshape(B, T, -1))  # (B, T, C)


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x), hidden width 2/3 * 4d rounded up to `multiple_of`."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.w1 = nn.Linear(config.dim, config.hidden_dim, bias=False)  # gate
        self.w2 = nn.Linear(config.hidden_dim, config.dim, bias=False)  # down
        self.w3 = nn.Linear(config.dim, config.hidden_dim, bias=False)  # up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))  # (B, T, hidden) -> (B, T, C)


class TransformerBlock(nn.Module):
    """Pre-norm block: h = x + attn(norm(x)); out = h + ffn(norm(h))."""

    def __init__(self, layer_id: int, config: ModelConfig):
        super().__init__()
        self.layer_id = layer_id
        self.attention_norm = RMSNorm(config.dim, config.norm_eps)
        self.attention = Attention(config)
        self.ffn_norm = RMSNorm(config.dim, config.norm_eps)
        self.feed_forward = FeedForward(config)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin)  # (B, T, C)
        return h + self.feed_forward(self.ffn_norm(h))  # (B, T, C)


class Transformer(nn.Module):
    """tokens (B, T) int64 -> logits (B, T, vocab_size)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.dim)
        # A ModuleDict keyed "0", "1", ... keeps Meta's state-dict names (layers.0.attention.wq.weight)
        # and lets pipeline/FSDP code remove or wrap layers by name.
        self.layers = nn.ModuleDict({str(i): TransformerBlock(i, config) for i in range(config.n_layers)})
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.output = nn.Linear(config.dim, config.vocab_size, bias=False)
        # Rotary tables are derived, not learned: not in the state dict (persistent=False), rebuilt by
        # init_weights (e.g. after a meta-device model is materialized with to_empty).
        cos, sin = rotary_tables(config.head_dim, config.max_seq_len, config.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        if self.tok_embeddings.weight.device.type != "meta":
            self.init_weights(seed=0)

    @torch.no_grad()
    def init_weights(self, seed: int = 0) -> None:
        """Deterministic initialization from `seed`: normal(0, 0.02) for embeddings and projections,
        with the two projections that write into the residual stream (wo, w2) scaled by
        1/sqrt(2 * n_layers) as in GPT-2, the output layer normal(0, dim^-0.5); ones for norms. Also
        rebuilds the rotary tables on the buffers' device.

        The values of a seed are the same on every device and for every layout (eager, meta-device,
        FSDP2, TP, both): each parameter is drawn in blocks of rows, each block from its own CPU
        generator keyed by (seed, parameter name, block) (`init_normal`). A sharded (DTensor)
        parameter materialized from the meta device draws only the blocks that overlap its own
        shard and writes them straight into it: no rank draws or holds the full model (at 65B on
        256 FSDP ranks, about 1/256 of it each)."""
        cfg = self.config
        residual_std = 0.02 / (2 * cfg.n_layers) ** 0.5
        fill = init_normal  # (name, param, std, seed)

        fill("tok_embeddings.weight", self.tok_embeddings.weight, 0.02, seed)
        for i, layer in self.layers.items():
            for name in ("wq", "wk", "wv"):
                fill(f"layers.{i}.attention.{name}.weight", getattr(layer.attention, name).weight, 0.02, seed)
            fill(f"layers.{i}.attention.wo.weight", layer.attention.wo.weight, residual_std, seed)
            fill(f"layers.{i}.feed_forward.w1.weight", layer.feed_forward.w1.weight, 0.02, seed)
            fill(f"layers.{i}.feed_forward.w3.weight", layer.feed_forward.w3.weight, 0.02, seed)
            fill(f"layers.{i}.feed_forward.w2.weight", layer.feed_forward.w2.weight, residual_std, seed)
            layer.attention_norm.reset_parameters()
            layer.ffn_norm.reset_parameters()
        self.norm.reset_parameters()
        fill("output.weight", self.output.weight, cfg.dim**-0.5, seed)
        self.init_rotary()

    def init_rotary(self) -> None:
        """(Re)build the fp32 rotary tables on the device of the embedding weights: after
        `load_state_dict(assign=True)` they are still on the meta device, after `to_empty` garbage, and
        after `model.to(torch.bfloat16)` rounded to bf16 (FSDP2's mixed precision leaves them alone)."""
        device = self.tok_embeddings.weight.device
        cos, sin = rotary_tables(
            self.config.head_dim, self.config.max_seq_len, self.config.rope_theta, device
        )
        self.rope_cos, self.rope_sin = cos, sin

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        B, T = tokens.shape
        if T > self.config.max_seq_len:
            raise ValueError(f"sequence length {T} exceeds max_seq_len {self.config.max_seq_len}")
        h = self.tok_embeddings(tokens)  # (B, T, C)
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, hd/2)
        for layer in self.layers.values():
            h = layer(h, cos, sin)  # (B, T, C)
        h = self.norm(h)
        return self.output(h).float()  # (B, T, vocab), fp32 for a stable cross-entropy
