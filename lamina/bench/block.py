"""`lamina bench block`: for each checkpointing mode ("none", "full", "selective", "manual"), the bytes
of activations one transformer block keeps for its backward and the step time (forward + backward of
the whole model), side by side, with ratios against "none". On CPU always; on CUDA when present, also
the same table in bf16, an xformers-vs-SDPA check, and tokens/s and MFU of the ~1B preset at
sequence 2048 in bf16.

How bytes are measured (deterministic, unlike time): a TorchDispatchMode sees every tensor the
block's forward creates and keeps a weak reference to its storage; after the forward, the storages
still alive (other than the block's output) are exactly what autograd, the checkpoint frames and the
selective-checkpoint cache hold for the backward. The block input is created inside the measurement
too (a copy), so it counts only when the mode keeps it. `saved_bytes_by_hooks` is the simpler count
through `torch.autograd.graph.saved_tensors_hooks` (unique storages); it sees everything for "none"
and "manual" but not what torch.utils.checkpoint keeps, and the tests check the two agree where both
apply.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import os
import statistics
import subprocess
import sys
import time
import weakref

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.tensor import DTensor
from torch.utils._python_dispatch import TorchDispatchMode

from lamina.pretrain import attention as attention_backends
from lamina.pretrain.config import ModelConfig, preset
from lamina.pretrain.metrics import device_peak_flops  # the one peak table (exact device names)
from lamina.pretrain.model import Transformer, TransformerBlock
from lamina.pretrain.parallelize import apply_tp, local_loss, loss_context
from lamina.pretrain.remat import CHECKPOINTING_MODES, apply_ac

BENCH_MODES = ("none", "full", "selective", "manual")


def _local(t):
    """A DTensor's local shard (its storage is what this rank holds); anything else unchanged."""
    return t.to_local() if isinstance(t, DTensor) else t


class _StorageTracker(TorchDispatchMode):
    """Weak references to the storage of every tensor an op returns while the mode is active."""

    def __init__(self):
        super().__init__()
        self.storages: list[weakref.ref] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            t = _local(t)
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                # No dedup here: a freed storage's id() and address can be reused by a new one.
                self.storages.append(weakref.ref(t.untyped_storage()))
        return out

    def alive_bytes(self, exclude: list[torch.Tensor]) -> int:
        """Bytes of the tracked storages still alive, leaving out those of `exclude` (the output,
        parameters and buffers, which views such as `weight.t()` make appear as op outputs)."""
        gc.collect()
        excluded = {_local(t).untyped_storage().data_ptr() for t in exclude}
        alive = {}
        for ref in self.storages:
            storage = ref()
            if storage is not None and storage.data_ptr() not in excluded:
                alive[storage.data_ptr()] = storage.nbytes()
        return sum(alive.values())


def saved_bytes_per_block(
    block: TransformerBlock,
    x: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    mode: str,
    autocast_dtype=None,
) -> int:
    """Bytes one block keeps alive for its backward after its forward on x, under `mode`."""
    apply_ac(block, mode)
    x = x.detach().requires_grad_()
    tracker = _StorageTracker()
    with (
        tracker,
        torch.autocast(x.device.type, dtype=autocast_dtype or torch.bfloat16, enabled=bool(autocast_dtype)),
    ):
        out = block(x.clone(), cos, sin)
    result = tracker.alive_bytes(exclude=[out, cos, sin, *block.parameters(), *block.buffers()])
    del out
    return result


def saved_bytes_by_hooks(block: TransformerBlock, x: torch.Tensor, cos, sin, mode: str) -> int:
    """Unique storages packed by autograd's saved-tensor hooks, leaving out parameters and buffers."""
    apply_ac(block, mode)
    own = {t.untyped_storage().data_ptr() for t in list(block.parameters()) + [cos, sin]}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        if storage.data_ptr() not in own:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    x = x.detach().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = block(x.clone(), cos, sin)
    del out
    return sum(seen.values())


def _step(model: Transformer, tokens: torch.Tensor, mode: str, autocast_dtype=None) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one forward + backward of the whole model (next-token
    loss) under `mode`. CPU seconds are the robust figure on a shared CPU; wall on a GPU."""
    apply_ac(model, mode)
    device = tokens.device
    model.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    if dist.is_initialized():  # tensor parallel: every rank starts the step together
        dist.barrier()
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16, enabled=bool(autocast_dtype)):
        logits = model(tokens[:, :-1])
    with loss_context(model):  # vocabulary-sharded logits under TP
        loss = local_loss(F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten()))
        loss.backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


def step_times(model, tokens, modes, repeats: int, autocast_dtype=None) -> dict[str, tuple[float, float]]:
    """Median (wall, cpu) seconds per mode. Modes take turns, so drifting load on a shared machine
    hits them alike; the first round warms up kernels and the allocator and is not counted."""
    runs: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for i in range(repeats + 1):
        for mode in modes:
            result = _step(model, tokens, mode, autocast_dtype)
            if i:
                runs[mode].append(result)
    return {
        m: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for m, v in runs.items()
    }


def compare_modes(
    cfg: ModelConfig,
    batch: int,
    seq: int,
    device: str = "cpu",
    repeats: int = 3,
    dtype: torch.dtype = torch.float32,
    autocast_dtype=None,
) -> list[dict]:
    """One row per mode: bytes saved per block, step time, both also as ratios against "none"."""
    model = Transformer(cfg).to(device=device, dtype=dtype)
    model.init_rotary()  # keep the rotary tables fp32 (`.to(dtype)` cast them too)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, cfg.vocab_size, (batch, seq + 1), generator=gen).to(device)
    x = (torch.randn(batch, seq, cfg.dim, generator=gen) * 0.5).to(device=device, dtype=dtype)
    return measure_modes(model, tokens, x, repeats, autocast_dtype)


def measure_modes(
    model: Transformer, tokens: torch.Tensor, x: torch.Tensor, repeats: int, autocast_dtype=None
):
    """The rows of `compare_modes` for a built (possibly tensor-parallel) model: bytes its first block
    keeps for input x (this rank's shard under TP) and the whole model's step time on tokens."""
    block = model.layers["0"]
    seq = tokens.shape[1] - 1
    cos, sin = model.rope_cos[:seq], model.rope_sin[:seq]
    nan = float("nan")
    times = step_times(model, tokens, BENCH_MODES, repeats, autocast_dtype) if repeats else {}
    rows = []
    for mode in BENCH_MODES:
        wall, cpu = times.get(mode, (nan, nan))
        rows.append(
            {
                "mode": mode,
                "bytes": saved_bytes_per_block(block, x, cos, sin, mode, autocast_dtype),
                "seconds": wall,
                "cpu_seconds": cpu,
            }
        )
    base = rows[0]
    for row in rows:
        row["bytes_ratio"] = row["bytes"] / base["bytes"]
        row["time_ratio"] = row["seconds"] / base["seconds"]
        row["cpu_ratio"] = row["cpu_seconds"] / base["cpu_seconds"]
    return rows


def manual_against(rows: list[dict], others=("selective", "full")) -> str:
    """One line: manual's bytes and step time as ratios to each of `others` (same run)."""
    by = {r["mode"]: r for r in rows}
    m = by["manual"]
    parts = [
        f"vs {o}: bytes x{m['bytes'] / by[o]['bytes']:.2f}, wall x{m['seconds'] / by[o]['seconds']:.2f}, "
        f"cpu x{m['cpu_seconds'] / by[o]['cpu_seconds']:.2f}"
        for o in others
    ]
    return "  manual " + "; ".join(parts)


def tp_worker(cfg: ModelConfig, batch: int, seq: int, repeats: int) -> None:
    """Under torchrun (gloo, CPU): the same table for the model tensor + sequence parallel over every
    process (loss parallel on), bytes per block per rank; printed by rank 0."""
    from torch.distributed.device_mesh import init_device_mesh

    dist.init_process_group("gloo")
    rank, tp = dist.get_rank(), dist.get_world_size()
    mesh = init_device_mesh("cpu", (tp,), mesh_dim_names=("tp",))
    model = Transformer(cfg)
    apply_tp(model, mesh, loss_parallel=True)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, cfg.vocab_size, (batch, seq + 1), generator=gen)  # the same on every rank
    x = torch.randn(batch, seq, cfg.dim, generator=gen) * 0.5
    x = x[:, rank * (seq // tp) : (rank + 1) * (seq // tp)]  # this rank's sequence shard
    rows = measure_modes(model, tokens, x, repeats)
    if rank == 0:
        title = f"CPU, fp32, TP={tp} (gloo, {tp} processes, sequence parallel; bytes per block per rank):"
        print(format_table(title, rows, batch * seq // tp), flush=True)
        print(manual_against(rows), flush=True)
    rows = measure_modes(model, tokens, x, 0, autocast_dtype=torch.bfloat16)
    if rank == 0:
        title = f"CPU, fp32 parameters under bf16 autocast, TP={tp} (bytes per block per rank only):"
        print(format_table(title, rows, batch * seq // tp), flush=True)
    dist.barrier()
    dist.destroy_process_group()


def run_tp(argv: list[str], tp: int) -> None:
    """Launch this module's TP worker with torchrun on `tp` local gloo processes, output inherited."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={tp}"]
    cmd += ["-m", "lamina.bench.block", "--tp-worker", *argv]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    sys.stdout.flush()
    proc = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True)  # stdout: this process's
    if proc.returncode:
        raise RuntimeError(f"TP bench failed (torchrun exit {proc.returncode}): {proc.stderr[-2000:]}")


def format_table(title: str, rows: list[dict], tokens: int) -> str:
    lines = [
        title,
        f"  {'mode':<10} {'bytes/block':>12} {'B/token':>8} {'vs none':>8}"
        f" {'wall s':>8} {'vs none':>8} {'cpu s':>8} {'vs none':>8}",
    ]
    for r in rows:
        times = (r["seconds"], r["time_ratio"], r["cpu_seconds"], r["cpu_ratio"])
        timing = " ".join(f"{t:>8.3f}" if t == t else f"{'-':>8}" for t in times)  # nan: not timed
        lines.append(
            f"  {r['mode']:<10} {r['bytes']:>12,} {r['bytes'] / tokens:>8.0f} {r['bytes_ratio']:>8.2f} {timing}"
        )
    return "\n".join(lines)


def _peak_flops() -> float | None:
    return device_peak_flops(torch.device("cuda", torch.cuda.current_device()))


@contextlib.contextmanager
def attention_backend(name: str):
    """Run the block with `name` ("xformers" or "sdpa") as the CUDA attention backend, restoring the
    previous choice afterwards (attention.py reads LAMINA_ATTENTION once, so its cache is cleared)."""
    previous = os.environ.pop("LAMINA_ATTENTION", None)
    if name == "sdpa":
        os.environ["LAMINA_ATTENTION"] = "sdpa"
    attention_backends._xformers_ops.cache_clear()
    try:
        yield attention_backends.backend("cuda")
    finally:
        os.environ.pop("LAMINA_ATTENTION", None)
        if previous is not None:
            os.environ["LAMINA_ATTENTION"] = previous
        attention_backends._xformers_ops.cache_clear()


def cuda_attention_check(seq: int = 2048) -> str:
    """xformers vs SDPA on the same causal inputs in bf16: max difference of outputs and gradients."""
    with attention_backend("xformers") as got:
        if got != "xformers":
            return "xformers: not importable here, only SDPA measured"
    gen = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (
        torch.randn(2, seq, 16, 128, device="cuda", dtype=torch.bfloat16, generator=gen).requires_grad_()
        for _ in range(3)
    )
    grad = torch.randn(2, seq, 16, 128, device="cuda", dtype=torch.bfloat16, generator=gen)
    results = []
    for name in ("xformers", "sdpa"):
        with attention_backend(name):
            out = attention_backends.attention(q, k, v)
            results.append((out, *torch.autograd.grad(out, (q, k, v), grad)))
    out, dq, dk, dv = ((a.float() - b.float()).abs().max().item() for a, b in zip(*results, strict=True))
    return (
        f"xformers vs SDPA (bf16, seq {seq}): max |diff| out {out:.3g}, dq {dq:.3g}, dk {dk:.3g}, dv {dv:.3g}"
    )


def cuda_throughput(cfg: ModelConfig, batch: int, seq: int, repeats: int = 5) -> str:
    """tokens/s, MFU and peak memory of a training step (forward + backward, bf16 parameters, as
    FSDP2's MixedPrecisionPolicy(param_dtype=bf16) runs it) of `cfg` on one GPU, for every
    checkpointing mode, with each attention backend available."""
    model = Transformer(cfg).to(device="cuda", dtype=torch.bfloat16)
    model.init_rotary()  # keep the rotary tables fp32 (`.to(dtype)` cast them too)
    tokens = torch.randint(0, cfg.vocab_size, (batch, seq + 1), device="cuda")
    flops = cfg.flops_per_token(seq)  # model FLOPs: recomputation is not counted (MFU, not HFU)
    peak = _peak_flops()
    lines = [
        f"{cfg.num_params() / 1e9:.2f}B params, batch {batch} x seq {seq}, bf16, {torch.cuda.get_device_name()}"
    ]
    backends = ("xformers", "sdpa") if attention_backends._xformers_ops() is not None else ("sdpa",)
    for name in backends:
        with attention_backend(name):
            for mode in BENCH_MODES:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                try:
                    seconds = step_times(model, tokens, (mode,), repeats)[mode][0]
                except torch.OutOfMemoryError:
                    lines.append(f"  {name:<8} {mode:<9} out of memory")
                    continue
                tps = batch * seq / seconds
                mfu = f"{tps * flops / peak:.1%}" if peak else "n/a (unknown peak)"
                lines.append(
                    f"  {name:<8} {mode:<9} {tps:>10,.0f} tokens/s  MFU {mfu:>6}  peak memory "
                    f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
                )
    return "\n".join(lines)


def bench(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lamina bench block", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small", help="config for the side-by-side table (default small)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per mode (median reported)")
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (default: torch's); 1 makes CPU seconds steadiest"
    )
    parser.add_argument("--no-cuda", action="store_true", help="skip the GPU part even when CUDA exists")
    parser.add_argument(
        "--tp", type=int, default=2, help="also the table under TP with this many gloo processes (0: skip)"
    )
    parser.add_argument("--tp-only", action="store_true", help="only the tensor-parallel table")
    parser.add_argument("--tp-worker", action="store_true", help=argparse.SUPPRESS)  # run by torchrun
    argv = [] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    assert set(BENCH_MODES) == set(CHECKPOINTING_MODES)
    cfg = preset(args.preset, max_seq_len=max(args.seq, preset(args.preset).max_seq_len))
    tokens = args.batch * args.seq
    head = (
        f"{args.preset}: dim {cfg.dim}, hidden {cfg.hidden_dim}, heads {cfg.n_heads}, layers {cfg.n_layers}"
    )
    torch.manual_seed(0)
    if args.tp_worker:
        tp_worker(cfg, args.batch, args.seq, args.repeats)
        return 0
    print(head, f"batch {args.batch} x seq {args.seq}, {torch.get_num_threads()} threads", flush=True)
    if args.tp and args.tp_only:
        run_tp([a for a in argv if a != "--tp-only"], args.tp)
        return 0
    rows = compare_modes(cfg, args.batch, args.seq, "cpu", args.repeats)
    print(format_table("CPU, fp32:", rows, tokens), flush=True)
    rows = compare_modes(cfg, args.batch, args.seq, "cpu", 0, autocast_dtype=torch.bfloat16)
    print(format_table("CPU, fp32 parameters under bf16 autocast (bytes only):", rows, tokens), flush=True)
    rows = compare_modes(cfg, args.batch, args.seq, "cpu", 0, dtype=torch.bfloat16)
    print(format_table("CPU, bf16 parameters (bytes only):", rows, tokens), flush=True)
    if torch.cuda.is_available() and not args.no_cuda:
        rows = compare_modes(cfg, args.batch, args.seq, "cuda", args.repeats, dtype=torch.bfloat16)
        print(
            format_table(f"CUDA ({torch.cuda.get_device_name()}), bf16 parameters:", rows, tokens), flush=True
        )
        print(cuda_attention_check(), flush=True)
        big = dataclasses.replace(preset("1b"), max_seq_len=2048)
        print(cuda_throughput(big, batch=4, seq=2048), flush=True)
    else:
        print("CUDA: not available, GPU figures skipped", flush=True)
    if args.tp:
        run_tp(argv, args.tp)
    return 0


def main(argv: list[str] | None = None) -> int:
    return bench(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
