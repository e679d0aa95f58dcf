"""Model configuration: one frozen dataclass and LLaMA-1's presets (Table 2 of the paper), each with a
tiny sibling that trains on a laptop.

The parameter count is computed from the shapes (`ModelConfig.num_params`) so the 65B preset can be
checked without allocating 65 billion floats.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelConfig:
    dim: int = 4096  # model width d (hidden size)
    n_layers: int = 32  # number of transformer blocks
    n_heads: int = 32  # attention heads; head_dim = dim // n_heads (128 in every LLaMA-1 size)
    vocab_size: int = 32000  # tokenizer vocabulary (LLaMA's SentencePiece BPE: 32000)
    multiple_of: int = 256  # SwiGLU hidden width is rounded up to a multiple of this
    norm_eps: float = 1e-6  # RMSNorm epsilon
    rope_theta: float = 10000.0  # rotary base
    max_seq_len: int = 2048  # context length (rotary tables are built for this many positions)

    def __post_init__(self) -> None:
        if self.dim % self.n_heads:
            raise ValueError(f"ModelConfig: dim {self.dim} is not divisible by n_heads {self.n_heads}")
        if self.head_dim % 2:
            raise ValueError(f"ModelConfig: head_dim {self.head_dim} must be even for rotary embeddings")
        for name in ("dim", "n_layers", "n_heads", "vocab_size", "multiple_of", "max_seq_len"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ModelConfig: {name} must be positive, got {getattr(self, name)}")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def hidden_dim(self) -> int:
        """SwiGLU width: 2/3 of 4d (three matrices cost what two 4d ones would), rounded up to a
        multiple of `multiple_of` for efficient matmuls. 11008 for the 7B model."""
        hidden = int(2 * (4 * self.dim) / 3)
        return self.multiple_of * math.ceil(hidden / self.multiple_of)

    def num_params(self, include_embedding: bool = True) -> int:
        """Parameters of `Transformer(self)`, from shapes alone. `include_embedding=False` leaves out
        the input embedding (a lookup, no FLOPs), as in the usual 6N FLOPs-per-token rule."""
        d, f = self.dim, self.hidden_dim
        per_layer = 4 * d * d + 3 * d * f + 2 * d  # wq wk wv wo, w1 w2 w3, two RMSNorm weights
        total = self.n_layers * per_layer + d + self.vocab_size * d  # + final norm + output layer
        if include_embedding:
            total += self.vocab_size * d
        return total

    def flops_per_token(self, seq_len: int | None = None) -> int:
        """Training FLOPs per token (forward + backward): 6N + 12 * layers * dim * seq, N without the
        input embedding (docs/model.md; PaLM appendix B). The second term is attention's scores."""
        seq = self.max_seq_len if seq_len is None else seq_len
        return 6 * self.num_params(include_embedding=False) + 12 * self.n_layers * self.dim * seq

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"ModelConfig: unknown fields {unknown}; known: {sorted(known)}")
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> ModelConfig:
        """Read a `model_config.json` (as written beside every pretraining checkpoint)."""
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: cannot read a model config: {err}") from err
        return cls.from_dict(values)


# LLaMA-1 Table 2. Everything not listed is the dataclass default (vocab 32000, context 2048, ...).
PRESETS: dict[str, ModelConfig] = {
    # A few hundred thousand parameters: unit tests and `make pretrain` on CPU (vocab of the sample
    # world's 2000-piece tokenizer).
    "tiny": ModelConfig(dim=64, n_layers=2, n_heads=4, vocab_size=2000, max_seq_len=256),
    # About 6M parameters: a CPU run that learns something in minutes.
    "small": ModelConfig(dim=256, n_layers=6, n_heads=4, vocab_size=2000, max_seq_len=512),
    # About 1.06B parameters, head_dim 128: the single-GPU throughput/MFU benchmark.
    "1b": ModelConfig(dim=2048, n_layers=18, n_heads=16),
    "7b": ModelConfig(dim=4096, n_layers=32, n_heads=32),
    "13b": ModelConfig(dim=5120, n_layers=40, n_heads=40),
    "33b": ModelConfig(dim=6656, n_layers=60, n_heads=52),
    "65b": ModelConfig(dim=8192, n_layers=80, n_heads=64),
}


def preset(name: str, **overrides) -> ModelConfig:
    """A named preset, with single fields overridden (e.g. `preset("tiny", vocab_size=32000)`)."""
    try:
        base = PRESETS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; known: {', '.join(PRESETS)}") from None
    return dataclasses.replace(base, **overrides)
