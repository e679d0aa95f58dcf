"""Pretraining data: the shards' manifest -> batches of token sequences, the same for a given seed
whatever the number of processes.

- Validation first (`open_corpus`): every shard the manifest lists must exist, open as a Megatron
  indexed dataset, and hold the documents and tokens the manifest says (and, with verify="sha256", have
  its checksums). Any mismatch is a `DataError` naming the file, raised before the first step — not a
  crash at step 10,000 when the loader first touches a truncated shard.
- Each source's shards, in manifest order, form one token stream (documents back to back, each ending
  with EOS). The last `heldout_tokens` of every stream (at most a tenth of it, but at least one
  validation window) are kept out of training: per-source validation.
- Training sequences are windows of seq_len + 1 tokens (inputs and next-token targets) that start every
  seq_len tokens, packed across document boundaries (Megatron/nanoGPT packing). A source's windows are
  read in order (shards are sorted by document id, a hash, so the order is already mixed); at the end of
  a source's stream it starts over (a new epoch of that source).
- Mixture: every sequence slot of an optimizer step draws its source from the manifest's weights with a
  NumPy generator seeded by `seed`. All ranks draw the same slots for the whole global batch and advance
  the same per-source positions; a data-parallel rank then reads only its own slots. Slot order is
  (micro-step, dp rank, row), so one process with 2 accumulation steps sees exactly the sequences two
  data-parallel processes see in one: losses are comparable across layouts. Tensor-parallel ranks of one
  group share a dp rank and so get the same data.
- Validation (`heldout_batches`): the first `eval_sequences` held-out windows of each source, a set
  fixed by the config alone. Rank r takes windows r, r + dp, ...; every rank runs the same number of
  micro-batches (FSDP's collectives need that), the slots past the end are filled with a copy of
  window 0 and masked out, so the mean over the set is the same for 1, 2 or 2048 ranks, also when there
  are fewer windows than ranks. A source whose held-out slice cannot hold one window is an error at
  start (`heldout_tokens = 0` turns validation off instead).
- State (`state_dict`/`load_state_dict`): position and epoch per source, the generator's state and the
  step count — everything needed to continue exactly where a checkpoint left off. None of it depends
  on the layout (the slots are global), so a checkpoint written at dp = 4 resumes at dp = 2 or 8 with
  the same global sequence of samples (elastic resume). Positions are kept per source NAME: a resume
  with other mixture weights continues every source from where it stopped with the new weights (a
  source given weight 0 keeps its position in the state for a later resume; a new source starts at 0),
  so no sample is repeated before its source's epoch ends.
- Sample ids: `last_samples` names the global batch's samples of the last `next_batch` as
  "source:epoch:window" (the trainer writes them to samples.jsonl with `log_samples`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lamina.tokenize.indexed import ShardFormatError, TokenShard


class DataError(ValueError):
    """The shards on disk do not match their manifest (missing, truncated, corrupt, miscounted)."""


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


class SourceStream:
    """One source's shards as one token stream: `tokens(a, b)` may straddle shard boundaries."""

    def __init__(self, name: str, shards: list[TokenShard]):
        self.name = name
        self.shards = shards
        self.starts = np.zeros(len(shards) + 1, dtype=np.int64)  # token offset of each shard's start
        np.cumsum([s.num_tokens for s in shards], out=self.starts[1:])
        self.num_tokens = int(self.starts[-1])

    def tokens(self, start: int, stop: int) -> np.ndarray:
        if not 0 <= start <= stop <= self.num_tokens:
            raise IndexError(f"{self.name}: window [{start}, {stop}) outside [0, {self.num_tokens}]")
        parts = []
        i = int(np.searchsorted(self.starts, start, side="right")) - 1
        while start < stop:
            base, end = int(self.starts[i]), int(self.starts[i + 1])
            take = min(stop, end)
            if take > start:
                parts.append(self.shards[i].tokens(start - base, take - base))
            start = take
            i += 1
        return np.concatenate(parts) if len(parts) != 1 else parts[0]


@dataclass
class Corpus:
    """A validated manifest: its streams, mixture and tokenizer facts."""

    manifest_path: Path
    streams: dict[str, SourceStream]  # sources with tokens, in manifest order
    weights: dict[str, float]  # mixture over `streams`, summing to 1
    vocab_size: int
    eos_id: int
    tokenizer: Path | None  # the tokenizer the shards were encoded with, when the manifest names one


def open_corpus(manifest: str | os.PathLike, verify: str = "sha256") -> Corpus:
    """Read and check a shards manifest against the files beside it; `DataError` on any mismatch."""
    path = Path(manifest)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise DataError(f"{path}: shards manifest not found (write shards with `lamina tokenizer shards`)")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
        records = m["shards"]
        weights = dict(m["mixture"]["weights"])
        vocab_size, eos_id = int(m["vocab_size"]), int(m["eos_id"])
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: not a shards manifest ({type(err).__name__}: {err})") from None
    root = path.parent
    by_source: dict[str, list[TokenShard]] = {}
    listed: dict[str, int] = {}
    for rec in records:
        try:
            name, source = rec["name"], rec["source"]
            want_docs, want_tokens = int(rec["documents"]), int(rec["tokens"])
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(
                f"{path}: shard record {rec!r} lacks name/source/documents/tokens ({err})"
            ) from None
        prefix = root / name
        for ext in (".bin", ".idx"):
            if not (root / (name + ext)).is_file():
                raise DataError(f"{root / (name + ext)}: shard file listed in {path} is missing")
        try:
            shard = TokenShard(prefix)
        except ShardFormatError as err:
            raise DataError(f"corrupt shard listed in {path}: {err}") from None
        if len(shard) != want_docs or shard.num_tokens != want_tokens:
            raise DataError(
                f"{prefix}.bin/.idx: holds {len(shard)} documents and {shard.num_tokens} tokens, the manifest "
                f"{path} says {want_docs} documents and {want_tokens} tokens (shards and manifest from different runs?)"
            )
        if verify == "sha256":
            for ext, key in ((".bin", "bin_sha256"), (".idx", "idx_sha256")):
                want = rec.get(key)
                if want is None:
                    raise DataError(
                        f"{path}: shard {name} has no {key} (use data_verify=size to skip checksums)"
                    )
                got = _sha256(root / (name + ext))
                if got != want:
                    raise DataError(
                        f"{root / (name + ext)}: sha256 {got[:16]}... does not match the manifest's {want[:16]}... "
                        f"(the file changed after {path} was written; rewrite the shards)"
                    )
        by_source.setdefault(source, []).append(shard)
        listed[source] = listed.get(source, 0) + want_tokens
    for source, info in (m.get("sources") or {}).items():
        if int(info.get("tokens", 0)) != listed.get(source, 0):
            raise DataError(
                f"{path}: sources.{source}.tokens = {info.get('tokens')} but its shards list {listed.get(source, 0)} tokens"
            )
    streams = {s: SourceStream(s, shards) for s, shards in by_source.items()}
    streams = {s: st for s, st in streams.items() if st.num_tokens > 0}
    weighted = {s: float(w) for s, w in weights.items() if float(w) > 0}
    missing = sorted(set(weighted) - set(streams))
    if missing:
        raise DataError(f"{path}: mixture gives weight to {missing} but no shard of theirs holds tokens")
    if not weighted:
        raise DataError(f"{path}: the mixture gives no source a positive weight")
    total = sum(weighted.values())
    streams = {s: streams[s] for s in streams if s in weighted}
    tokenizer = None
    tok = m.get("tokenizer") or {}
    if tok.get("path"):
        tokenizer = (root / tok["path"]).resolve()
    return Corpus(path, streams, {s: weighted[s] / total for s in streams}, vocab_size, eos_id, tokenizer)


class DataLoader:
    """Batches for one data-parallel rank; see the module docstring for the order and the state."""

    def __init__(
        self,
        corpus: Corpus,
        seq_len: int,
        micro_batch: int,
        grad_accum: int,
        dp_rank: int = 0,
        dp_size: int = 1,
        seed: int = 0,
        heldout_tokens: int = 1_000_000,
    ):
        if not 0 <= dp_rank < dp_size:
            raise ValueError(f"dp_rank {dp_rank} outside [0, {dp_size})")
        self.corpus, self.seq_len, self.micro_batch, self.grad_accum = (
            corpus,
            seq_len,
            micro_batch,
            grad_accum,
        )
        self.dp_rank, self.dp_size, self.seed = dp_rank, dp_size, seed
        self.sources = list(corpus.streams)
        self.probs = np.array([corpus.weights[s] for s in self.sources], dtype=np.float64)
        self.train_tokens: dict[str, int] = {}
        self.train_samples: dict[str, int] = {}
        self.heldout_samples: dict[str, int] = {}
        for s, stream in corpus.streams.items():
            # At most a tenth of a source, but room for one validation window where that tenth is
            # smaller (a tiny source in the sample world): a source is never silently left unvalidated.
            held = min(heldout_tokens, max(stream.num_tokens // 10, seq_len + 1))
            train = stream.num_tokens - held
            n = (train - 1) // seq_len
            if n < 1:
                raise DataError(
                    f"{corpus.manifest_path}: source {s} has {stream.num_tokens} tokens, too few for one training "
                    f"sequence of {seq_len + 1} after holding out {held}; lower seq_len or give it weight 0"
                )
            self.train_tokens[s], self.train_samples[s] = train, n
            self.heldout_samples[s] = max(0, (held - 1) // seq_len)
        for s, stream in corpus.streams.items():  # after the training check: that one matters first
            held = stream.num_tokens - self.train_tokens[s]
            if heldout_tokens > 0 and self.heldout_samples[s] == 0:
                raise DataError(
                    f"{corpus.manifest_path}: source {s}'s held-out slice ({held} tokens: heldout_tokens "
                    f"{heldout_tokens} of its {stream.num_tokens}) cannot hold one validation "
                    f"window of {seq_len + 1} tokens; raise heldout_tokens, lower seq_len, or set heldout_tokens = 0 "
                    "to train without validation"
                )
        self.rng = np.random.default_rng(seed)
        self.positions = dict.fromkeys(self.sources, 0)  # next window index per source (also dormant ones)
        self.epochs = dict.fromkeys(self.sources, 0)  # completed passes per source
        self.steps = 0  # optimizer-step batches handed out
        self.last_samples: list[str] = []  # the global batch of the last next_batch, "source:epoch:window"
        self.resumed_weights: dict[str, float] | None = None  # the checkpoint's mixture, after a resume

    def _window(self, source: str, index: int, heldout: bool = False) -> np.ndarray:
        base = self.train_tokens[source] if heldout else 0
        start = base + index * self.seq_len
        return self.corpus.streams[source].tokens(start, start + self.seq_len + 1)

    def next_batch(self) -> torch.Tensor:
        """This rank's sequences for one optimizer step: int64 (grad_accum, micro_batch, seq_len + 1)."""
        slots = self.grad_accum * self.dp_size * self.micro_batch
        choice = self.rng.choice(len(self.sources), size=slots, p=self.probs)
        out = np.empty((self.grad_accum, self.micro_batch, self.seq_len + 1), dtype=np.int64)
        self.last_samples = []
        for slot, k in enumerate(choice):
            s = self.sources[k]
            index = self.positions[s]
            self.last_samples.append(f"{s}:{self.epochs[s]}:{index}")
            self.positions[s] += 1
            if self.positions[s] == self.train_samples[s]:
                self.positions[s], self.epochs[s] = 0, self.epochs[s] + 1
            accum, rest = divmod(slot, self.dp_size * self.micro_batch)
            rank, row = divmod(rest, self.micro_batch)
            if rank == self.dp_rank:  # read only this rank's own slots
                out[accum, row] = self._window(s, index)
        self.steps += 1
        return torch.from_numpy(out)

    def epoch_progress(self) -> dict[str, float]:
        """Passes over each source's training windows so far (1.5 = one epoch and a half)."""
        return {s: self.epochs[s] + self.positions[s] / self.train_samples[s] for s in self.sources}

    def heldout_batches(self, source: str, n_sequences: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's share of the first `n_sequences` held-out windows of `source` (all ranks
        together), as micro-batches (tokens (micro_batch, seq_len + 1) int64, mask (micro_batch,) bool).
        Window i goes to rank i % dp_size; every rank gets ceil(n / (dp_size x micro_batch)) micro-batches,
        padded with copies of window 0 whose mask is False. The same windows at every evaluation and for
        every layout; empty only when validation is off (heldout_tokens = 0) or n_sequences is 0."""
        total = min(n_sequences, self.heldout_samples[source])
        if total <= 0:
            return []
        per_rank = -(-total // (self.dp_size * self.micro_batch)) * self.micro_batch
        mine = [self.dp_rank + j * self.dp_size for j in range(per_rank)]
        batches = []
        for b in range(0, per_rank, self.micro_batch):
            ids = mine[b : b + self.micro_batch]
            rows = [self._window(source, i if i < total else 0, heldout=True) for i in ids]
            mask = torch.tensor([i < total for i in ids])
            batches.append((torch.from_numpy(np.stack(rows).astype(np.int64)), mask))
        return batches

    def state_dict(self) -> dict:
        """One JSON string (checkpoint-format agnostic; identical on every rank; no layout in it)."""
        return {
            "json": json.dumps(
                {
                    "positions": self.positions,
                    "epochs": self.epochs,
                    "steps": self.steps,
                    "rng": self.rng.bit_generator.state,
                    "seed": self.seed,
                    "seq_len": self.seq_len,
                    "sources": self.sources,
                    "weights": {s: float(p) for s, p in zip(self.sources, self.probs, strict=True)},
                    "train_samples": self.train_samples,
                }
            )
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint's data state, whatever its dp size and mixture weights were."""
        s = json.loads(state["json"])
        if s["seq_len"] != self.seq_len:
            raise DataError(
                f"checkpoint data state is at seq_len {s['seq_len']}, this run has {self.seq_len}: resume with "
                "the same seq_len (the training windows would not line up)"
            )
        for source, n in (s.get("train_samples") or {}).items():
            if source in self.train_samples and n != self.train_samples[source]:
                raise DataError(
                    f"checkpoint data state has {n} training windows for source {source}, this run "
                    f"{self.train_samples[source]}: its shards or heldout_tokens changed since the checkpoint; "
                    "resume with the same shards and heldout_tokens"
                )
        positions, epochs = dict(s["positions"]), dict(s["epochs"])
        # Sources of this run that the checkpoint never drew from start at 0; sources the checkpoint has
        # and this run does not (weight 0 now) keep their place for a later resume.
        self.positions = {**dict.fromkeys(self.sources, 0), **positions}
        self.epochs = {**dict.fromkeys(self.sources, 0), **epochs}
        self.steps = int(s["steps"])
        self.rng.bit_generator.state = s["rng"]
        old = s.get("weights") or dict.fromkeys(s["sources"], float("nan"))
        mine = {src: float(p) for src, p in zip(self.sources, self.probs, strict=True)}
        changed = set(old) != set(mine) or any(abs(old[k] - mine[k]) > 1e-12 for k in mine)
        self.resumed_weights = old if changed else None
