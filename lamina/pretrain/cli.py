"""`lamina pretrain`: train a LLaMA model on the shards of a corpus run.

One process (CPU or one GPU):
    lamina pretrain --config configs/pretrain/tiny.toml --manifest out/corpus/shards/manifest.json \\
        --out out/pretrain [--resume | --overwrite] [--set steps=100 --set lr=1e-3]
Several processes on one node (FSDP2 over 8 GPUs, or dp x tp set in the config / with --set):
    torchrun --standalone --nproc-per-node 8 -m lamina pretrain --config configs/pretrain/1b.toml ...
Many nodes: scripts/slurm/pretrain.sbatch (torchrun with a c10d rendezvous on the first node).

Under torchrun each process reads RANK / LOCAL_RANK / WORLD_SIZE; the mesh is dp_shard x tp.
Everything goes under --out: metrics.jsonl, tb/ (TensorBoard), checkpoints/, tokenizer.model. A --out
that already holds a run needs --resume (continue it, at any dp size, with any mixture weights) or
--overwrite (start over); without either the command refuses in one line.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from lamina.pretrain.data import DataError
from lamina.pretrain.train_config import load_config


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lamina pretrain", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="TOML training config (configs/pretrain/*.toml)")
    p.add_argument("--manifest", required=True, help="shards manifest.json (or its directory)")
    p.add_argument("--out", default="out/pretrain", help="run directory (default out/pretrain)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoints/latest if present")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the run already in --out (checkpoints, metrics, TensorBoard) and start from step 0",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config field (repeatable)",
    )
    return p


def _error(err) -> None:
    """One line on stderr in ONE write: every rank of a torchrun job says it, and with
    PYTHONUNBUFFERED print's separate write of the newline lets two ranks' lines run together."""
    sys.stderr.write(f"lamina pretrain: {err}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
    except ValueError as err:
        _error(err)
        return 2
    from lamina.pretrain.trainer import Trainer  # imports torch: only when training

    out = Path(args.out)
    try:
        trainer = Trainer(cfg, args.manifest, out, resume=args.resume, overwrite=args.overwrite)
    except (DataError, ValueError) as err:
        _error(err)
        return 2
    d = trainer.d
    if d.rank == 0:
        if trainer.corpus.tokenizer is not None and trainer.corpus.tokenizer.is_file():
            shutil.copyfile(trainer.corpus.tokenizer, out / "tokenizer.model")
        mc = trainer.model_config
        print(
            f"pretrain: {cfg.model} ({mc.num_params() / 1e6:.2f}M params, dim {mc.dim}, {mc.n_layers} layers), "
            f"{d.world} process(es) dp {d.dp_size} x tp {cfg.tp} on {d.device.type}, seq {cfg.seq_len}, "
            f"{cfg.global_batch_tokens:,} tokens/step = {trainer.grad_accum} x {cfg.micro_batch} x {cfg.seq_len} "
            f"x {d.dp_size}, steps {trainer.step}->{cfg.steps}, checkpointing {cfg.checkpointing}\n"
            f"pretrain: sources {trainer.corpus.weights}\n"
            f"pretrain: logs in {out / 'metrics.jsonl'} and {out / 'tb'} (tensorboard --logdir {out / 'tb'}), "
            f"checkpoints in {out / 'checkpoints'}",
            flush=True,
        )
    records = trainer.fit()
    if d.rank == 0 and records:
        first, last = records[0], records[-1]
        print(
            f"pretrain: done at step {trainer.step}: loss {first['loss']:.4f} (step {first['step']}) -> "
            f"{last['loss']:.4f} (step {last['step']}); latest checkpoint "
            f"{out / 'checkpoints' / (out / 'checkpoints' / 'latest').read_text().strip()}\n"
            f"pretrain: metrics {out / 'metrics.jsonl'}, TensorBoard {out / 'tb'}",
            flush=True,
        )
    trainer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
