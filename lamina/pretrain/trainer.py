"""The training loop. One process per device; under torchrun every process runs this same code.

    setup: process group + device mesh (dp_shard x tp) -> validate the shards (every rank, before
           anything else) -> model on the meta device -> parallelize (TP/SP, AC, compile, FSDP2) ->
           materialize and initialize from the seed -> AdamW + schedule -> resume from `latest`
    step:  grad_accum micro-steps (forward under bf16 autocast on CUDA, loss / grad_accum, backward)
           -> clip to 1.0 -> AdamW -> lr schedule -> metrics; evaluation and checkpoints on their cadence

SIGTERM (a preempted SLURM job, torchrun shutting down) is caught: the current step finishes, every
rank agrees to stop (an all-reduce of the flag, so none is left waiting in a collective), a checkpoint
is written and the run exits cleanly; `--resume` continues from it.

A run directory that already holds a run (checkpoints or metrics.jsonl) is never restarted silently:
without `resume` or `overwrite` the trainer refuses with one line; `overwrite` deletes the old
checkpoints, metrics.jsonl, samples.jsonl and tb/ first. `resume` continues from `latest` at any dp
size and with other mixture weights (data.py says how the data order continues).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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
from lamina.pretrain.parallelize import local_loss, loss_context, parallelize
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


def _all_ok(d: Dist, error: str | None, kind: type[Exception] = DataError) -> None:
    """Raise the same error on every rank if any rank found one (no rank left hanging)."""
    if d.world > 1:
        errors = [None] * d.world
        dist.all_gather_object(errors, error)
        error = next((e for e in errors if e), None)
    if error:
        raise kind(error)


RUN_FILES = ("checkpoints", "metrics.jsonl", "samples.jsonl", "tb")  # what a run writes under --out


def check_run_dir(out: Path, resume: bool, overwrite: bool, d: Dist) -> None:
    """Refuse to start over a directory that holds a run unless told how (`resume` or `overwrite`).
    Rank 0 looks; every rank raises the same one-line ValueError."""
    error = None
    if d.rank == 0:
        if resume and overwrite:
            error = "--resume and --overwrite exclude each other: continue the run or start it over"
        elif not resume and not overwrite:
            found = [n for n in RUN_FILES[:2] if (out / n).exists()]
            ckpts = out / "checkpoints"
            has_ckpt = ckpts.is_dir() and any(p.name.startswith("step_") for p in ckpts.iterdir())
            has_metrics = (out / "metrics.jsonl").is_file() and (out / "metrics.jsonl").stat().st_size > 0
            if has_ckpt or has_metrics:
                error = (
                    f"{out} already holds a run ({', '.join(found)}): pass --resume to continue it or "
                    "--overwrite to delete it and start from step 0"
                )
    _all_ok(d, error, ValueError)


def clear_run_dir(out: Path, d: Dist) -> None:
    """`overwrite`: delete the old run's files (rank 0; every rank waits). Called only once the shards
    and the config have been checked, so a mistyped manifest never costs the old run."""
    if d.rank == 0:
        for name in RUN_FILES:
            path = out / name
            if path.is_symlink() and path.is_dir():
                # checkpoints -> a volume elsewhere (a cluster's big filesystem): empty it, keep the
                # link, so the new run's checkpoints land there too (rmtree refuses a link)
                for child in path.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            elif path.is_dir():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    if d.world > 1:
        dist.barrier()


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
    def __init__(
        self,
        cfg: TrainConfig,
        manifest: str | Path,
        out: str | Path,
        resume: bool = False,
        overwrite: bool = False,
    ):
        self.cfg, self.out = cfg, Path(out)
        self.d = d = setup_distributed(cfg)
        check_run_dir(self.out, resume, overwrite, d)  # before the (possibly long) shard checks
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
        if overwrite:
            clear_run_dir(self.out, d)
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
        if resume:
            found = checkpoint.latest(self.ckpt_dir)
            if found is not None:
                self.step = checkpoint.load(found, model, self.optimizer, self.scheduler, self.loader)
                self.print(f"resumed from {found} at step {self.step}")
                if self.loader.resumed_weights is not None:
                    self.print(
                        f"resume: mixture weights changed from {self.loader.resumed_weights} to "
                        f"{self.corpus.weights}; every source continues from its own position"
                    )
            else:
                self.print(f"--resume: no checkpoint in {self.ckpt_dir}, starting from step 0")
        if d.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            for name in ("metrics.jsonl", "samples.jsonl"):
                _truncate_metrics(self.out / name, self.step)
        self.metrics = MetricsLogger(
            self.out, cfg.steps, cfg.log_every, enabled=d.rank == 0, first_step=self.step + 1 if resume else 1
        )
        self.samples = None
        if cfg.log_samples and d.rank == 0:
            self.samples = open(self.out / "samples.jsonl", "a", encoding="utf-8")  # noqa: SIM115 (fit closes)
        # Async checkpoints write over their own gloo group, so their collectives never interleave with
        # training's (NCCL or gloo) on the default group.
        self.ckpt_group = dist.new_group(backend="gloo") if cfg.async_checkpoint and d.world > 1 else None
        self.pending_save: checkpoint.PendingSave | None = None
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

    def loss(self, batch: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """Next-token cross-entropy of a (B, T + 1) batch: the mean, or (B, T) with reduction="none"."""
        batch = batch.to(self.d.device, non_blocking=True)
        inputs, targets = batch[:, :-1], batch[:, 1:]  # (B, T) each
        with self.autocast:
            logits = self.model(inputs)  # (B, T, vocab) fp32
        with loss_context(self.model):  # vocabulary-sharded logits under TP (parallelize.py)
            loss = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction
            )
        loss = local_loss(loss)
        return loss if reduction == "mean" else loss.view(targets.shape)

    def train_step(self) -> dict:
        t0 = time.perf_counter()
        batch = self.loader.next_batch()  # (accum, micro_batch, seq_len + 1)
        total = torch.zeros((), device=self.d.device)
        for micro in batch:
            loss = self.loss(micro) / self.grad_accum
            with loss_context(self.model):
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
        record = {
            "step": self.step,
            "loss": loss_value,
            "lr": lr,
            "grad_norm": float(grad_norm),
            "tokens_per_s": tokens_per_s,
            "mfu": mfu(self.flops_per_token, tokens_per_s, self.d.world, self.peak),
            "mem_gib": memory_gib(self.d.device),
            "step_s": dt,
        }
        record.update({f"epoch.{s}": e for s, e in self.loader.epoch_progress().items()})
        if self.samples is not None:
            self.samples.write(json.dumps({"step": self.step, "samples": self.loader.last_samples}) + "\n")
            self.samples.flush()
        return record

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss per source: the mean token loss over its first eval_sequences held-out
        windows, the same set for any number of ranks (padding slots masked out, sums in float64
        all-reduced over the world: TP ranks add equal copies to numerator and denominator alike).
        `val_loss` is the unweighted mean over sources."""
        result = {}
        for source in self.loader.sources:
            batches = self.loader.heldout_batches(source, self.cfg.eval_sequences)
            if not batches:
                continue
            sums = torch.zeros(2, dtype=torch.float64, device=self.d.device)  # (loss sum, sequences)
            for tokens, mask in batches:
                per_seq = self.loss(tokens, reduction="none").mean(dim=1).double()  # (B,)
                mask = mask.to(self.d.device)
                sums[0] += (per_seq * mask).sum()
                sums[1] += mask.sum()
            if self.d.world > 1:
                dist.all_reduce(sums)
            result[f"val_loss.{source}"] = float(sums[0] / sums[1])
        if result:
            result["val_loss"] = sum(result.values()) / len(result)
        return result

    def save(self, wait: bool = False) -> None:
        """Write a checkpoint of this step; with async_checkpoint in the background (the previous
        background save is completed first; `wait` completes this one too)."""
        self.wait_for_save()
        result = checkpoint.save(
            self.ckpt_dir,
            self.step,
            self.model,
            self.optimizer,
            self.scheduler,
            self.loader,
            self.model_config.to_json(),
            keep=self.cfg.keep_checkpoints,
            async_save=self.cfg.async_checkpoint,
            process_group=self.ckpt_group,
        )
        if isinstance(result, checkpoint.PendingSave):
            self.pending_save = result
            if wait:
                self.wait_for_save()

    def wait_for_save(self) -> None:
        if self.pending_save is not None:
            pending, self.pending_save = self.pending_save, None
            pending.wait()

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
                    self.save(wait=last or stop)
                if stop:
                    self.print(f"SIGTERM: checkpoint written at step {self.step}; continue with --resume")
                    break
            self.wait_for_save()
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.metrics.close()
            if self.samples is not None:
                self.samples.close()
        return records

    def _on_sigterm(self, signum, frame) -> None:
        self.stop_requested = True

    def close(self) -> None:
        if self.d.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop records of steps after the checkpoint (the killed run's tail), so
    metrics.jsonl (and samples.jsonl) reads as one run."""
    if not path.is_file():
        return
    keep = [
        line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step
    ]
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    os.replace(tmp, path)
