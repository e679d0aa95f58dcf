"""The training loop. One process per device; under torchrun every process runs this same code.

    setup: process group + device mesh (dp_shard x tp) -> validate the shards (every rank, before
           anything else) -> model on the meta device -> parallelize (TP/SP, AC, compile, FSDP2) ->
           materialize and initialize from the seed -> AdamW + schedule -> resume from `latest`
    step:  grad_accum micro-steps (forward under bf16 autocast on CUDA, loss / grad_accum, backward)
           -> clip to 1.0 -> AdamW -> lr schedule -> metrics; evaluation and checkpoints on their cadence

SIGTERM (a preempted SLURM job, torchrun shutting down) is caught: the current step finishes, every
rank agrees to stop (an all-reduce of the flag, so none is left waiting in a collective), a checkpoint
is written and the run exits cleanly; `--resume` continues from it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from lamina.pretrain import checkpoint
from lamina.pretrain.data import Corpus, DataError, DataLoader, open_corpus
from lamina.pretrain.metrics import MetricsLogger, device_peak_flops, memory_gib, mfu
from lamina.pretrain.model import Transformer
from lamina.pretrain.optim import WarmupCosine, build_optimizer, clip_grad_norm_
from lamina.pretrain.parallelize import parallelize
from lamina.pretrain.train_config import TrainConfig


@dataclass
class Dist:
    """Where this process sits: global rank/world, its device, the mesh and its data-parallel slot."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    mesh: object = None  # DeviceMesh ("dp_shard", "tp") or None for one process
    dp_rank: int = 0
    dp_size: int = 1


def setup_distributed(cfg: TrainConfig) -> Dist:
    """Read torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE), start the process group (NCCL on
    CUDA, gloo on CPU) and build the (dp_shard, tp) mesh."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world == 1:
        if cfg.tp != 1 or cfg.dp_shard not in (-1, 1):
            raise ValueError(
                f"tp={cfg.tp}, dp_shard={cfg.dp_shard} needs that many processes: launch with torchrun"
            )
        return Dist(device=device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    dp = cfg.dp_shard if cfg.dp_shard > 0 else world // cfg.tp
    if dp * cfg.tp != world:
        raise ValueError(f"dp_shard {dp} x tp {cfg.tp} != world size {world}")
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(device.type, (dp, cfg.tp), mesh_dim_names=("dp_shard", "tp"))
    return Dist(rank, world, local_rank, device, mesh, mesh["dp_shard"].get_local_rank(), dp)


def _all_ok(d: Dist, error: str | None) -> None:
    """Raise the same error on every rank if any rank found one (no rank left hanging)."""
    if d.world > 1:
        errors = [None] * d.world
        dist.all_gather_object(errors, error)
        error = next((e for e in errors if e), None)
    if error:
        raise DataError(error)


def load_corpus(cfg: TrainConfig, manifest: str | Path, d: Dist) -> Corpus:
    """Every rank opens and size-checks every shard; rank 0 alone also verifies the checksums."""
    corpus, error = None, None
    try:
        corpus = open_corpus(manifest, verify=cfg.data_verify if d.rank == 0 else "size")
    except DataError as err:
        error = str(err)
    _all_ok(d, error)
    return corpus


def _mean_over_world(value: torch.Tensor, d: Dist) -> float:
    """Average over all ranks (TP ranks hold equal values, so this is the data-parallel mean)."""
    if d.world > 1:
        value = value.detach().clone()
        dist.all_reduce(value)
        value /= d.world
    return float(value)


class Trainer:
    def __init__(self, cfg: TrainConfig, manifest: str | Path, out: str | Path, resume: bool = False):
        self.cfg, self.out = cfg, Path(out)
        self.d = d = setup_distributed(cfg)
        torch.manual_seed(cfg.seed)
        self.corpus = load_corpus(cfg, manifest, d)
        self.model_config = cfg.model_config(self.corpus.vocab_size)
        if cfg.seq_len % cfg.tp:
            raise ValueError(f"seq_len {cfg.seq_len} must be divisible by tp {cfg.tp} (sequence parallelism)")
        self.grad_accum = cfg.grad_accum(d.dp_size)
        self.loader = DataLoader(
            self.corpus,
            cfg.seq_len,
            cfg.micro_batch,
            self.grad_accum,
            d.dp_rank,
            d.dp_size,
            cfg.seed,
            cfg.heldout_tokens,
        )
        with torch.device("meta"):
            model = Transformer(self.model_config)
        model = parallelize(model, d.mesh, cfg)
        model.to_empty(device=d.device)
        model.init_weights(seed=cfg.seed)
        self.model = model
        self.optimizer = build_optimizer(model, cfg)
        self.scheduler = WarmupCosine(self.optimizer, cfg)
        self.step = 0
        self.ckpt_dir = self.out / "checkpoints"
        if not resume and checkpoint.latest(self.ckpt_dir) is not None:
            self.print(
                f"warning: {self.ckpt_dir} holds checkpoints; starting from step 0 (pass --resume to continue)"
            )
        if resume:
            found = checkpoint.latest(self.ckpt_dir)
            if found is not None:
                self.step = checkpoint.load(found, model, self.optimizer, self.scheduler, self.loader)
                self.print(f"resumed from {found} at step {self.step}")
            else:
                self.print(f"--resume: no checkpoint in {self.ckpt_dir}, starting from step 0")
        if d.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            _truncate_metrics(self.out / "metrics.jsonl", self.step)
        self.metrics = MetricsLogger(self.out, cfg.steps, cfg.log_every, enabled=d.rank == 0)
        self.peak = device_peak_flops(d.device)
        self.flops_per_token = self.model_config.flops_per_token(cfg.seq_len)
        self.stop_requested = False
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if d.device.type == "cuda" and cfg.bf16
            else contextlib.nullcontext()
        )

    def print(self, *args) -> None:
        if self.d.rank == 0:
            print(*args, flush=True)

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy of a (B, T + 1) batch."""
        batch = batch.to(self.d.device, non_blocking=True)
        inputs, targets = batch[:, :-1], batch[:, 1:]  # (B, T) each
        with self.autocast:
            logits = self.model(inputs)  # (B, T, vocab) fp32
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))

    def train_step(self) -> dict:
        t0 = time.perf_counter()
        batch = self.loader.next_batch()  # (accum, micro_batch, seq_len + 1)
        total = torch.zeros((), device=self.d.device)
        for micro in batch:
            loss = self.loss(micro) / self.grad_accum
            loss.backward()
            total += loss.detach()
        grad_norm = clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        lr = self.scheduler.lr()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        loss_value = _mean_over_world(total, self.d)
        if self.d.device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        tokens_per_s = self.cfg.global_batch_tokens / dt
        return {
            "step": self.step,
            "loss": loss_value,
            "lr": lr,
            "grad_norm": float(grad_norm),
            "tokens_per_s": tokens_per_s,
            "mfu": mfu(self.flops_per_token, tokens_per_s, self.d.world, self.peak),
            "mem_gib": memory_gib(self.d.device),
            "step_s": dt,
        }

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss per source on its held-out windows (same windows every time)."""
        result = {}
        for source in self.loader.sources:
            batches = self.loader.heldout_batches(source, self.cfg.eval_sequences)
            if not batches:
                continue
            losses = torch.stack([self.loss(b) for b in batches]).mean()
            result[f"val_loss.{source}"] = _mean_over_world(losses, self.d)
        if result:
            result["val_loss"] = sum(result.values()) / len(result)
        return result

    def save(self) -> None:
        checkpoint.save(
            self.ckpt_dir,
            self.step,
            self.model,
            self.optimizer,
            self.scheduler,
            self.loader,
            self.model_config.to_json(),
            keep=self.cfg.keep_checkpoints,
        )

    def _agree_to_stop(self) -> bool:
        flag = torch.tensor(1.0 if self.stop_requested else 0.0)
        if self.d.world > 1:
            flag = flag.to(self.d.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)

    def fit(self) -> list[dict]:
        """Train to cfg.steps (from wherever a resume left off); return the per-step records."""
        cfg = self.cfg
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        records = []
        try:
            while self.step < cfg.steps:
                record = self.train_step()
                last = self.step == cfg.steps
                if (cfg.eval_every and self.step % cfg.eval_every == 0) or last:
                    record.update(self.evaluate())
                self.metrics.log(record)
                records.append(record)
                stop = self._agree_to_stop()
                if last or stop or (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0):
                    self.save()
                if stop:
                    self.print(f"SIGTERM: checkpoint written at step {self.step}; continue with --resume")
                    break
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.metrics.close()
        return records

    def _on_sigterm(self, signum, frame) -> None:
        self.stop_requested = True

    def close(self) -> None:
        if self.d.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop records of steps after the checkpoint (the killed run's tail), so
    metrics.jsonl reads as one run."""
    if not path.is_file():
        return
    import json

    keep = [
        line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step
    ]
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    os.replace(tmp, path)
