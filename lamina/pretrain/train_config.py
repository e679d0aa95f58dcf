"""The run's configuration: one frozen dataclass, read from a TOML file (configs/pretrain/*.toml) with
single fields overridden on the command line (`--set lr=1e-3 --set steps=50`).

The model itself is a named preset from config.py (`model = "7b"`) with optional field overrides in a
`[model_overrides]` table; everything about *how* it is trained lives here. Units are in the comments:
a batch is counted in tokens (LLaMA's "4M tokens"), steps are optimizer steps.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina.pretrain.config import ModelConfig, preset


@dataclass(frozen=True)
class TrainConfig:
    # --- model
    model: str = "tiny"  # ModelConfig preset name (config.PRESETS): tiny, small, 1b, 7b, 13b, 33b, 65b
    model_overrides: dict = field(
        default_factory=dict
    )  # single ModelConfig fields replaced, e.g. {n_layers = 4}
    vocab_from_manifest: bool = True  # take vocab_size from the shards' manifest (must match the tokenizer)
    # --- data and batch
    seq_len: int = 2048  # tokens per training sequence (<= the model's max_seq_len)
    micro_batch: int = 1  # sequences per data-parallel rank per forward/backward (micro-step)
    global_batch_tokens: int = (
        4_194_304  # tokens per optimizer step over all ranks (LLaMA: 4M); accumulation fills it
    )
    heldout_tokens: int = 1_000_000  # tokens at the end of every source kept out of training for validation
    data_verify: str = (
        "sha256"  # shard check at start: "sha256" (size, index and checksum) or "size" (size, index)
    )
    # --- optimization (LLaMA-1 paper, 2.3 Optimizer)
    steps: int = 250_000  # optimizer steps in the whole run (the cosine reaches its floor here)
    lr: float = 3.0e-4  # peak learning rate (LLaMA 7B/13B 3e-4, 33B/65B 1.5e-4)
    min_lr_ratio: float = 0.1  # cosine decays to this fraction of the peak
    warmup_steps: int = 2000  # linear warmup steps from 0 to the peak
    weight_decay: float = 0.1  # AdamW decoupled weight decay on matrices (>= 2-D parameters) only
    beta1: float = 0.9  # AdamW first-moment decay
    beta2: float = 0.95  # AdamW second-moment decay
    eps: float = 1e-8  # AdamW epsilon
    grad_clip: float = 1.0  # max global L2 norm of the gradient (0 = no clipping)
    seed: int = 0  # model init, data order and RNG: the same seed gives the same run
    # --- parallelism and efficiency (pretrain/parallelize.py)
    dp_shard: int = -1  # FSDP2 data-parallel degree; -1 = world size / tp
    tp: int = 1  # tensor (+ sequence) parallel degree, Megatron style; divides n_heads and seq_len
    checkpointing: str = (
        "none"  # activation checkpointing: none | manual (LLaMA's hand backward) | full | selective
    )
    compile: bool = False  # torch.compile every block (before FSDP, torchtitan's order)
    async_tp: bool = False  # overlap TP comms with matmuls in compiled blocks: needs compile (CUDA)
    loss_parallel: bool = True  # under TP: cross-entropy on vocabulary-sharded logits (no full-vocab gather)
    reshard_after_forward: bool = (
        True  # FSDP2: free gathered parameters after forward (ZeRO-3); False = ZeRO-2
    )
    bf16: bool = True  # bf16 autocast + FSDP bf16 params on CUDA (always fp32 on CPU)
    # --- cadence
    log_every: int = 1  # steps between console lines (metrics.jsonl gets every step)
    eval_every: int = 1000  # steps between held-out evaluations (0 = only at the end)
    eval_sequences: int = 64  # held-out windows per source per evaluation, all ranks together (any dp)
    checkpoint_every: int = 1000  # steps between checkpoints (0 = only at the end)
    keep_checkpoints: int = 3  # newest complete checkpoints kept on disk (0 = keep all)
    async_checkpoint: bool = False  # write checkpoints in the background (DCP async_save; a CPU copy)
    log_samples: bool = False  # write each step's global sample ids to <out>/samples.jsonl (data audit)

    def __post_init__(self) -> None:
        if self.checkpointing not in ("none", "manual", "full", "selective"):
            raise ValueError(f"checkpointing must be none|manual|full|selective, got {self.checkpointing!r}")
        if self.async_tp and not self.compile:
            raise ValueError(
                "async_tp = true needs compile = true (Inductor does the overlap); set both or neither"
            )
        if self.data_verify not in ("sha256", "size"):
            raise ValueError(f"data_verify must be sha256|size, got {self.data_verify!r}")
        for name in ("seq_len", "micro_batch", "global_batch_tokens", "steps", "tp"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.warmup_steps < 0 or not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError("warmup_steps must be >= 0 and min_lr_ratio in [0, 1]")

    def model_config(self, vocab_size: int | None = None) -> ModelConfig:
        """The ModelConfig this run trains: the preset, its overrides, the manifest's vocabulary, and a
        context at least seq_len long."""
        over = dict(self.model_overrides)
        if vocab_size is not None and self.vocab_from_manifest:
            over["vocab_size"] = vocab_size
        cfg = preset(self.model, **over)
        if cfg.max_seq_len < self.seq_len:
            cfg = dataclasses.replace(cfg, max_seq_len=self.seq_len)
        return cfg

    def grad_accum(self, dp: int) -> int:
        """Micro-steps per optimizer step so that dp * micro_batch * seq_len * accum = global batch."""
        per_micro = dp * self.micro_batch * self.seq_len
        if self.global_batch_tokens % per_micro:
            raise ValueError(
                f"global_batch_tokens {self.global_batch_tokens} is not a multiple of dp {dp} x micro_batch "
                f"{self.micro_batch} x seq_len {self.seq_len} = {per_micro}; change one of them"
            )
        return self.global_batch_tokens // per_micro

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(name: str, text: str) -> Any:
    """A `--set key=value` string in the type of field `name`."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    if name.startswith("model_overrides."):
        key = name.split(".", 1)[1]
        mfields = {f.name: f for f in dataclasses.fields(ModelConfig)}
        if key not in mfields:
            raise ValueError(f"--set {name}: ModelConfig has no field {key!r}; known: {sorted(mfields)}")
        return type(getattr(ModelConfig(), key))(text)
    if name not in fields:
        raise ValueError(f"--set {name}: TrainConfig has no field {name!r}; known: {sorted(fields)}")
    kind = type(getattr(TrainConfig(), name))
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {name}={text}: not a boolean (true/false)")
    try:
        return kind(float(text)) if kind is int and "e" in text.lower() else kind(text)
    except ValueError:
        raise ValueError(f"--set {name}={text}: not a {kind.__name__}") from None


def load_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """TOML file (flat keys, plus an optional [model_overrides] table) then `key=value` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ValueError(f"{path}: cannot read the training config: {err}") from err
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}; known: {sorted(known)}")
    values["model_overrides"] = dict(values.get("model_overrides", {}))
    for item in overrides:
        name, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r} is not key=value")
        name = name.strip()
        value = _coerce(name, text.strip())
        if name.startswith("model_overrides."):
            values["model_overrides"][name.split(".", 1)[1]] = value
        else:
            values[name] = value
    return TrainConfig(**values)
