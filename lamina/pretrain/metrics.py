"""Per-step metrics: loss, lr, gradient norm, tokens/s, MFU and memory, to the console (with a progress
bar), to `<out>/metrics.jsonl` (one JSON object per step) and to TensorBoard (`<out>/tb/`).

MFU (model FLOPs utilization) = FLOPs per token x tokens/s / (devices x the device's dense bf16 peak),
with FLOPs per token = 6N + 12 * layers * dim * seq (ModelConfig.flops_per_token; N without the input
embedding). The peak comes from one table of known accelerators (PEAK_BF16_FLOPS, exact device names); on CPU
or an unknown device MFU is None — no figure rather than a wrong one.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import torch

# Dense (not 2:4 sparse) bf16 tensor-core peak FLOP/s of ONE device, from the vendors' data sheets, keyed
# by the EXACT name torch.cuda.get_device_name() reports. Exact names on purpose: a substring match takes
# "NVIDIA H100 PCIe" (756 TF) or "NVIDIA H100 NVL" (835 TF) for the SXM part (989 TF) and overstates
# nothing but understates MFU by 20-30%. An unknown name gives no MFU (None), never a guess; set
# LAMINA_PEAK_BF16_FLOPS (FLOP/s) to supply the figure for a device not listed. The one table: the
# trainer, lamina/bench/train.py, lamina/bench/block.py and scripts/gpu_check.py all read it.
PEAK_BF16_FLOPS: dict[str, float] = {
    # Hopper
    "NVIDIA H100 80GB HBM3": 989e12,  # SXM5
    "NVIDIA H100 80GB HBM3e": 989e12,
    "NVIDIA H100 PCIe": 756e12,
    "NVIDIA H100 NVL": 835e12,
    "NVIDIA H800": 989e12,  # SXM
    "NVIDIA H800 PCIe": 756e12,
    "NVIDIA H200": 989e12,  # SXM
    "NVIDIA H200 NVL": 835e12,
    "NVIDIA GH200 480GB": 989e12,
    "NVIDIA GH200 144G HBM3e": 989e12,
    "NVIDIA H20": 148e12,
    # Blackwell
    "NVIDIA B200": 2250e12,
    # Ampere
    "NVIDIA A100-SXM4-40GB": 312e12,
    "NVIDIA A100-SXM4-80GB": 312e12,
    "NVIDIA A100-PCIE-40GB": 312e12,
    "NVIDIA A100 80GB PCIe": 312e12,
    "NVIDIA A800-SXM4-80GB": 312e12,
    "NVIDIA A800 80GB PCIe": 312e12,
    "NVIDIA A10": 125e12,  # A10 data sheet: 125 dense (250 with sparsity)
    # AWS's A10G (g5): 70 TF dense is the figure AWS-side tables give; it is not the A10's 125. Of the
    # whole table the least certain entry: override with LAMINA_PEAK_BF16_FLOPS if you know better.
    "NVIDIA A10G": 70e12,
    # Ada
    "NVIDIA L4": 121e12,
    "NVIDIA L40": 181e12,
    "NVIDIA L40S": 362e12,
}


def device_peak_flops(device: torch.device) -> float | None:
    """Dense bf16 peak FLOP/s of one `device`, or None (CPU, unknown GPU)."""
    if device.type != "cuda":
        return None
    return peak_flops_for_name(torch.cuda.get_device_name(device))


def peak_flops_for_name(name: str) -> float | None:
    """Dense bf16 peak FLOP/s for a CUDA device name (exact match, surrounding spaces ignored), else
    the LAMINA_PEAK_BF16_FLOPS environment variable, else None."""
    flops = PEAK_BF16_FLOPS.get(name.strip())
    if flops is None and os.environ.get("LAMINA_PEAK_BF16_FLOPS"):
        flops = float(os.environ["LAMINA_PEAK_BF16_FLOPS"])
    return flops


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
        self,
        out: Path,
        total_steps: int,
        log_every: int = 1,
        enabled: bool = True,
        tensorboard: bool = True,
        first_step: int = 1,
    ):
        """`first_step` > 1 on resume: TensorBoard hides the killed run's events from that step on
        (purge_step), as metrics.jsonl drops them, so both read as one run."""
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

                purge = first_step if first_step > 1 else None
                self.tb = SummaryWriter(str(out / "tb"), purge_step=purge)
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
        epochs = [f"{k.split('.', 1)[1]} {v:.3f}" for k, v in r.items() if k.startswith("epoch.")]
        if epochs:
            parts.append("epochs " + " ".join(epochs))
        if math.isfinite(eta):
            parts.append(f"eta {eta:,.0f}s")
        return " | ".join(parts)

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.tb is not None:
            self.tb.close()
