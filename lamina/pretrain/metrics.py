"""Per-step metrics: loss, lr, gradient norm, tokens/s, MFU and memory, to the console (with a progress
bar), to `<out>/metrics.jsonl` (one JSON object per step) and to TensorBoard (`<out>/tb/`).

MFU (model FLOPs utilization) = FLOPs per token x tokens/s / (devices x the device's dense bf16 peak),
with FLOPs per token = 6N + 12 * layers * dim * seq (ModelConfig.flops_per_token; N without the input
embedding). The peak comes from a table of known accelerators; on CPU or an unknown device MFU is
None — no figure rather than a wrong one.
"""

from __future__ import annotations

import json
import math
import re
import resource
import sys
import time
from pathlib import Path

import torch

# Dense (not 2:4 sparse) bf16 tensor-core peak, FLOP/s, from the vendors' data sheets. Checked in order:
# the first pattern that matches torch.cuda.get_device_name() wins.
PEAK_BF16_FLOPS: list[tuple[str, float]] = [
    (r"H100.*PCIe", 756e12),
    (r"H100 NVL", 835e12),
    (r"H100|H800", 989e12),  # SXM5 (HBM3) parts
    (r"H200|GH200", 989e12),
    (r"B200", 2250e12),
    (r"A100|A800", 312e12),
    (r"L40S", 362e12),
    (r"A10G", 70e12),
    (r"\bL4\b", 121e12),
]


def device_peak_flops(device: torch.device) -> float | None:
    """Dense bf16 peak FLOP/s of one `device`, or None (CPU, unknown GPU)."""
    if device.type != "cuda":
        return None
    return peak_flops_for_name(torch.cuda.get_device_name(device))


def peak_flops_for_name(name: str) -> float | None:
    """Dense bf16 peak FLOP/s for a CUDA device name, None when the name is not in the table."""
    for pattern, flops in PEAK_BF16_FLOPS:
        if re.search(pattern, name):
            return flops
    return None


def mfu(flops_per_token: float, tokens_per_s: float, devices: int, peak: float | None) -> float | None:
    if peak is None or tokens_per_s <= 0:
        return None
    return flops_per_token * tokens_per_s / (devices * peak)


def memory_gib(device: torch.device) -> float:
    """Peak memory of this process: CUDA allocator peak on GPU, resident set size on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    return rss_kib / 2**20


class MetricsLogger:
    """Writes on rank 0 only (every other rank's calls are no-ops)."""

    def __init__(
        self, out: Path, total_steps: int, log_every: int = 1, enabled: bool = True, tensorboard: bool = True
    ):
        self.enabled, self.total, self.log_every = enabled, total_steps, max(1, log_every)
        self.t0 = time.time()
        self.tb = None
        self.jsonl = None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        self.jsonl = open(out / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out / "tb"))
            except ImportError as err:  # tensorboard is a runtime requirement; say so instead of dying
                print(f"metrics: TensorBoard disabled ({err})", file=sys.stderr)

    def log(self, record: dict) -> None:
        """`record` holds at least step, loss, lr, tokens_per_s."""
        if not self.enabled:
            return
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self.jsonl.write(json.dumps(clean) + "\n")
        self.jsonl.flush()
        step = record["step"]
        if self.tb is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float) and value is not None:
                    self.tb.add_scalar(key.replace(".", "/"), value, step)
        if step % self.log_every == 0 or step == self.total:
            print(self.line(record), flush=True)

    def line(self, r: dict) -> str:
        done = r["step"] / max(1, self.total)
        bar = "#" * int(20 * done) + "." * (20 - int(20 * done))
        elapsed = time.time() - self.t0
        eta = elapsed / max(done, 1e-9) * (1 - done) if done > 0 else float("nan")
        parts = [f"[{bar}] step {r['step']}/{self.total}"]
        if "loss" in r:
            parts.append(f"loss {r['loss']:.4f}")
        if "lr" in r:
            parts.append(f"lr {r['lr']:.2e}")
        if r.get("grad_norm") is not None:
            parts.append(f"gnorm {r['grad_norm']:.3f}")
        if "tokens_per_s" in r:
            parts.append(f"{r['tokens_per_s']:,.0f} tok/s")
        if r.get("mfu") is not None:
            parts.append(f"MFU {100 * r['mfu']:.1f}%")
        if r.get("mem_gib") is not None:
            parts.append(f"mem {r['mem_gib']:.2f} GiB")
        for k, v in r.items():
            if k.startswith("val_loss") and v is not None:
                parts.append(f"{k} {v:.4f}")
        if math.isfinite(eta):
            parts.append(f"eta {eta:,.0f}s")
        return " | ".join(parts)

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.tb is not None:
            self.tb.close()
