"""Checkpoints with torch.distributed.checkpoint (DCP): every rank writes its own shards in parallel,
and a checkpoint loads onto any other parallel layout (DCP reshards by parameter name).

Layout (docs/interfaces.md, "Pretraining checkpoints"):

    <out>/checkpoints/step_00001000/   DCP files (.metadata, __<rank>_0.distcp) + model_config.json
    <out>/checkpoints/latest           the name of the newest complete checkpoint, written last

State keys: `model` (the plain model's state-dict names, full tensors on load), `optimizer`
(AdamW moments keyed by parameter name), `scheduler`, `dataloader`, `rng`, `step`.

Atomic: all ranks write into `step_N.tmp/`, rank 0 renames it to `step_N/` once every rank has
finished, and only then replaces `latest` (write to `latest.tmp`, rename). A run killed at any moment
leaves `latest` naming a complete checkpoint; a half-written `.tmp` directory is ignored and removed.

Asynchronous save (`async_save=True`, the config's `async_checkpoint`): DCP copies the state to CPU
memory (a staged snapshot; the training step that follows cannot change what is written) and writes the
files in a background thread, over its own gloo process group so its collectives never interleave with
training's. `save` returns a `PendingSave` at once; `PendingSave.wait()` (every rank, at the next save
or at the end of the run) waits for the files, then renames and moves `latest` as above. Memory: one
CPU copy of this rank's shard of the state while a save is in flight.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

LATEST = "latest"


def _barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _state(model, optimizer, scheduler, loader, step: int) -> dict:
    model_sd, optim_sd = get_state_dict(model, optimizer)
    return {
        "model": model_sd,
        "optimizer": optim_sd,
        "scheduler": scheduler.state_dict(),
        "dataloader": loader.state_dict(),
        "rng": rng_state(),
        "step": step,
    }


class PendingSave:
    """A checkpoint being written in the background; `wait()` (collective) completes it."""

    def __init__(self, future, finish):
        self.future, self._finish, self.path = future, finish, None

    def wait(self) -> Path:
        if self.path is None:
            self.future.result()  # this rank's files are written (re-raises the writer's error)
            self.path = self._finish()
        return self.path


def save(
    ckpt_dir: str | Path,
    step: int,
    model,
    optimizer,
    scheduler,
    loader,
    model_config_json: str,
    keep: int = 0,
    async_save: bool = False,
    process_group=None,
):
    """Write checkpoint `step_<step>` under `ckpt_dir` (collective: every rank calls it). Returns its
    path, or with `async_save` a `PendingSave` whose `wait()` returns it."""
    ckpt_dir = Path(ckpt_dir)
    name = f"step_{step:08d}"
    final, tmp = ckpt_dir / name, ckpt_dir / (name + ".tmp")
    if _rank() == 0:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    _barrier()

    def finish() -> Path:
        _barrier()  # every rank's files are complete
        if _rank() == 0:
            (tmp / "model_config.json").write_text(model_config_json)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            pointer = ckpt_dir / (LATEST + ".tmp")
            pointer.write_text(name + "\n")
            os.replace(pointer, ckpt_dir / LATEST)
            if keep > 0:
                done = sorted(
                    p for p in ckpt_dir.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp")
                )
                for old in done[:-keep]:
                    shutil.rmtree(old, ignore_errors=True)
        _barrier()
        return final

    state = _state(model, optimizer, scheduler, loader, step)
    if async_save:
        future = dcp.async_save(state, checkpoint_id=str(tmp), process_group=process_group)
        return PendingSave(future, finish)
    dcp.save(state, checkpoint_id=str(tmp))
    return finish()


def latest(ckpt_dir: str | Path) -> Path | None:
    """The newest complete checkpoint named by `latest`, or None when there is none."""
    pointer = Path(ckpt_dir) / LATEST
    if not pointer.is_file():
        return None
    path = Path(ckpt_dir) / pointer.read_text().strip()
    if not (path / ".metadata").is_file():
        raise FileNotFoundError(f"{pointer} names {path}, which is not a complete checkpoint")
    return path


def load(path: str | Path, model, optimizer, scheduler, loader) -> int:
    """Restore everything from checkpoint directory `path` into the live (possibly sharded) objects;
    return the step it was taken at."""
    state = _state(model, optimizer, scheduler, loader, 0)
    dcp.load(state, checkpoint_id=str(path))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    loader.load_state_dict(state["dataloader"])
    set_rng_state(state["rng"])
    return int(state["step"])


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
