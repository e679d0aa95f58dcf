"""What training a concrete model costs: tokens/s per GPU, wall-clock days on K GPUs, GPU-hours.

Throughput and MFU are tied by the trainer's own definition (lamina/pretrain/metrics.py):

    MFU = flops_per_token x tokens/s / (devices x the device's dense bf16 peak)
    flops_per_token = 6N + 12 * layers * dim * seq      (ModelConfig.flops_per_token, N without the
                                                          input embedding)

so a measured MFU on one model size turns into tokens/s on another, and a reported GPU-hours figure
turns back into an implied MFU. The peak table and `mfu()` are imported from the trainer's metrics
module only when a figure needs them (that module imports torch; `lamina plan --help` does not).

A candidate is a preset name (`7b`: configs/pretrain/7b.toml when it exists, else the ModelConfig
preset), a training config (`*.toml`, whose steps x global_batch_tokens give its token count), or a
`model_config.json` written beside a checkpoint; `SPEC@TOKENS` sets its token count.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from lamina.pretrain.config import PRESETS, ModelConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pretrain"
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Candidate:
    name: str  # how it is shown: the preset or file stem
    origin: str  # what it was read from: a TOML/JSON path or "preset NAME"
    model: ModelConfig
    seq_len: int  # training context (tokens per sequence), for the attention FLOPs
    tokens: float | None  # training tokens (None: not known from the spec)
    tokens_from: str  # "spec" (SPEC@TOKENS), "config" (steps x global batch) or "" (unknown)

    @property
    def base(self) -> str:
        """The name without its @TOKENS: per-candidate options (NAME=VALUE) match either."""
        return self.name.split("@")[0]

    @property
    def params(self) -> int:
        """Every parameter: the N of the scaling fit."""
        return self.model.num_params()

    @property
    def params_non_embedding(self) -> int:
        """N of the trainer's 6N (the input embedding is a lookup, no FLOPs)."""
        return self.model.num_params(include_embedding=False)

    @property
    def flops_per_token(self) -> int:
        return self.model.flops_per_token(self.seq_len)


def parse_count(text: str, what: str) -> float:
    """'1.4T', '65B', '7e9', '380' -> a float; a one-line error naming `what` otherwise."""
    s = str(text).strip().replace(",", "").replace("_", "")
    scale = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}.get(s[-1:].lower(), None)
    try:
        value = float(s[:-1]) * scale if scale is not None else float(s)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number (e.g. 1.4e12, 1.4T, 65B)") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{what}: {text!r} must be a positive number")
    return value


def load_candidate(spec: str) -> Candidate:
    """`NAME`, `PATH.toml`, `PATH.json`, each optionally `@TOKENS`."""
    body, _, tokens_text = spec.partition("@")
    body, tokens_text = body.strip(), tokens_text.strip()
    suffix = f"@{tokens_text}" if tokens_text else ""  # in the name: 7b and 7b@2T can be compared
    tokens = parse_count(tokens_text, f"candidate {spec!r} tokens") if tokens_text else None
    path = Path(body)
    if path.suffix == ".toml" or (not path.suffix and (CONFIGS / f"{body.lower()}.toml").is_file()):
        from lamina.pretrain.train_config import load_config

        path = path if path.suffix else CONFIGS / f"{body.lower()}.toml"
        try:
            cfg = load_config(path)
            model = cfg.model_config()
        except (ValueError, TypeError) as err:
            raise ValueError(f"candidate {spec!r}: {err}") from None
        from_config = float(cfg.steps * cfg.global_batch_tokens)
        return Candidate(
            path.stem + suffix,
            str(path),
            model,
            cfg.seq_len,
            tokens if tokens is not None else from_config,
            "spec" if tokens is not None else "config",
        )
    if path.suffix == ".json":
        try:
            model = ModelConfig.load(path)
        except (ValueError, TypeError) as err:
            raise ValueError(f"candidate {spec!r}: {err}") from None
        return Candidate(
            path.stem + suffix, str(path), model, model.max_seq_len, tokens, "spec" if tokens else ""
        )
    if body.lower() in PRESETS:
        model = PRESETS[body.lower()]
        return Candidate(
            body.lower() + suffix,
            f"preset {body.lower()}",
            model,
            model.max_seq_len,
            tokens,
            "spec" if tokens else "",
        )
    raise ValueError(
        f"candidate {spec!r}: not a preset ({', '.join(PRESETS)}), nor a .toml training config, "
        "nor a model_config.json"
    )


def _metrics():
    from lamina.pretrain import metrics  # imports torch: only when a hardware figure is asked for

    return metrics


def peak_flops(gpu: str) -> float:
    """Dense bf16 peak FLOP/s of one GPU from the trainer's table (exact device names): the exact name
    ('NVIDIA A100-SXM4-80GB'), or a part of names that all share one peak ('A100'); else the trainer's
    LAMINA_PEAK_BF16_FLOPS fallback; else an error listing the names that matched."""
    m = _metrics()
    table = m.PEAK_BF16_FLOPS
    if gpu.strip() in table:
        return table[gpu.strip()]
    matches = {name: flops for name, flops in table.items() if gpu.strip().lower() in name.lower()}
    if matches and len(set(matches.values())) == 1:
        return next(iter(matches.values()))
    peak = m.peak_flops_for_name(gpu)  # the environment override, when set
    if peak is not None:
        return peak
    if matches:
        choices = "; ".join(f"{n} ({f / 1e12:g} TFLOPS)" for n, f in matches.items())
        raise ValueError(f"GPU {gpu!r} is ambiguous in the trainer's peak-FLOPS table: {choices}")
    raise ValueError(f"GPU {gpu!r} is not in the trainer's peak-FLOPS table; give --peak-tflops")


def tokens_per_s_per_gpu(flops_per_token: float, mfu: float, peak: float) -> float:
    """The throughput at which the trainer's `mfu()` reports `mfu` on one device."""
    return mfu * peak / flops_per_token


def implied_mfu(flops_per_token: float, tokens_per_s_per_gpu: float, peak: float) -> float:
    return _metrics().mfu(flops_per_token, tokens_per_s_per_gpu, 1, peak)


def mfu_from_run(path: str | Path) -> tuple[float, int]:
    """Median MFU of a pretraining run's metrics.jsonl (a run directory or the file), leaving out the
    first tenth of the steps (compilation, warm-up); returns (median, steps used)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    values = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    raise ValueError(
                        f"{path}:{lineno}: not a JSON object (is this a metrics.jsonl?)"
                    ) from None
                if isinstance(record, dict) and isinstance(record.get("mfu"), int | float):
                    values.append(float(record["mfu"]))
    except OSError as err:
        raise ValueError(f"{path}: cannot read the run's metrics: {err.strerror}") from None
    if not values:
        raise ValueError(
            f"{path}: no step records an MFU (a CPU run or a GPU missing from the peak table); give --mfu"
        )
    used = values[len(values) // 10 :]
    return statistics.median(used), len(used)


def training_cost(c: Candidate, tokens: float, tps_per_gpu: float, gpus: int | None) -> dict:
    gpu_hours = tokens / tps_per_gpu / 3600.0
    return {
        "tokens_per_s_per_gpu": tps_per_gpu,
        "gpu_hours": gpu_hours,
        "days": gpu_hours / gpus / 24.0 if gpus else None,
        "train_flops": c.flops_per_token * tokens,
    }
