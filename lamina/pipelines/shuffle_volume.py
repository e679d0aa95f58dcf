"""Shuffle volume of CCNet's dedup and the writer, per stage, measured on real documents.

    python -m lamina.pipelines.shuffle_volume --input out/sample [--scope run] [--repeat 1]

For every shuffle of the design (and of the previous one, for comparison) it runs the pipeline's
own key functions on the documents and encodes every element that enters the shuffle with Beam's
default coder (FastPrimitivesCoder, pickle for Documents), so bytes are what a runner would move.
Combines are shown before combiner lifting (an upper bound: one element per input) and after it
with one bundle per worker (`after_lift`: one accumulator per key). Figures per input byte use the
UTF-8 bytes of the documents' text entering dedup (after too_short). `--repeat N` feeds the same
documents N times with distinct ids and digests (so nothing is a digest duplicate that was not one):
every line then occurs N times, the extreme of a crawl that is all boilerplate.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import Counter
from pathlib import Path

from apache_beam.coders import FastPrimitivesCoder

from lamina.documents import Document
from lamina.formats.wet import iter_wet
from lamina.pipelines import ccnet
from lamina.pipelines.accounting import _first_record
from lamina.pipelines.writers import ShardLimit, _as_line, shard_of

CODER = FastPrimitivesCoder()


@dataclasses.dataclass
class Shuffle:
    design: str  # "previous" | "now"
    stage: str
    elements: int = 0
    bytes: int = 0
    after_lift: int | None = None  # elements after combiner lifting (one bundle), for combines
    bodies: bool = False  # carries full document texts

    def add(self, element) -> None:
        self.elements += 1
        self.bytes += len(CODER.encode(element))


def read_documents(root: str, min_length: int = 300, repeat: int = 1) -> list[Document]:
    listing = Path(root) / "cc" / "wet.paths"
    files = [Path(root) / "cc" / p for p in listing.read_text().split()] if listing.exists() else []
    docs = []
    for path in files:
        for item in iter_wet(path, label=str(path.relative_to(root))):
            if isinstance(item, Document) and len(item.text) >= min_length:
                docs.append(item)
    out = []
    for r in range(repeat):
        for d in docs:
            if r == 0:
                out.append(d)
            else:
                m = {
                    **d.metadata,
                    "digest": f"{d.metadata.get('digest')}-{r}",
                    "record": f"{d.metadata['record']}{r}",
                }
                out.append(Document(f"{d.id}-{r}", d.source, d.text, m))
    return out


def measure(docs: list[Document], scope: str = "run") -> tuple[int, list[Shuffle]]:
    """(input bytes, the shuffles of both designs) for CCNet's digest + line dedup and the writer."""
    input_bytes = sum(len(d.text.encode("utf-8")) for d in docs)
    stage = ccnet.DigestDedup()
    payload = ccnet.LinePayload(scope)
    out: list[Shuffle] = []

    # previous: GroupByKey(digest -> documents), GroupByKey(line hash -> ids), CoGroupByKey(id), writer
    prev = [Shuffle("previous", "group_digest (digest -> documents)", bodies=True),
            Shuffle("previous", "group_lines (line hash -> ids)"),
            Shuffle("previous", "join_dups (id -> document, duplicated hashes)", bodies=True)]  # fmt: skip
    first: dict[str, tuple] = {}
    for d in docs:
        prev[0].add((stage.key(d), d))
        rec = _first_record(d, stage, payload)
        if rec[0] not in first or rec[1] < first[rec[0]]:
            first[rec[0]] = rec[1]
    winners = {v[1] for v in first.values()}
    survivors = [d for d in docs if d.id in winners]
    counts: Counter = Counter()
    for d in survivors:
        s, hashes = payload(d)
        for h in hashes:
            prev[1].add(((s, h), d.id))
            counts[(s, h)] += 1
    for d in survivors:
        prev[2].add((d.id, d))
        s, hashes = payload(d)
        for h in set(hashes):
            if counts[(s, h)] > 1:
                prev[2].add((d.id, h))
    out += prev

    # now: combine(digest -> first small record), combine(line hash -> count, owner), one join by id
    now = [Shuffle("now", "first_digest (digest -> (order, id, line hashes)), combined"),
           Shuffle("now", "count_lines (line hash -> id), combined"),
           Shuffle("now", "join_lines (id -> document, won digest, unique hashes)", bodies=True)]  # fmt: skip
    for d in docs:
        now[0].add(_first_record(d, stage, payload))
    now[0].after_lift = len(first)
    for d in survivors:
        s, hashes = payload(d)
        for h in hashes:
            now[1].add(((s, h), d.id))
    now[1].after_lift = len(counts)
    owner = {}
    for d in survivors:
        s, hashes = payload(d)
        for h in hashes:
            owner.setdefault((s, h), d.id)
    for d in docs:
        now[2].add((d.id, d))
    for k, (_, doc_id, _) in first.items():
        now[2].add((doc_id, k))
    for key, n in counts.items():
        if n == 1:
            now[2].add((owner[key], key[1]))
    out += now

    # the writer (both designs shuffle the kept documents once; measured on the dedup survivors)
    w_prev = Shuffle("previous", "write: group_by_file (name -> documents)", bodies=True)
    w_count = Shuffle("now", "write: count_per_name (name -> (1, bytes)), combined")
    w_now = Shuffle("now", "write: group_by_shard ((name, k, n) -> (id, JSON line))", bodies=True)
    limit = ShardLimit()
    n = limit.shards(len(survivors), sum(len(d.to_json()) for d in survivors))
    for d in survivors:
        w_prev.add(("en_head", d))
        name, doc_id, line = _as_line(d, lambda _: "en_head")
        w_count.add((name, (1, len(line.encode("utf-8")))))
        w_now.add(((name, shard_of(doc_id, n), n), (doc_id, line)))
    w_count.after_lift = 1
    out += [w_prev, w_count, w_now]
    return input_bytes, out + measure_ledger(docs, first, scope)


def measure_ledger(docs: list[Document], first: dict, scope: str) -> list[Shuffle]:
    """The shuffles `--ledger` adds to CCNet's dedup (design "ledger"; a run without --ledger has
    none): naming each digest duplicate's winner and each no_lines_left page's majority line owner
    with `KeyedLookup` (salts combined per key, values fanned out, requests joined), the majority
    combine, and the join of the named rows with their original. The two dedup combines also carry
    a count / a second owner in their accumulators (one small int or id per key after lifting)."""
    from lamina.ledger.rows import dropped_row
    from lamina.pipelines.accounting import Dropped
    from lamina.pipelines.ledger import salt

    stage, keys = ccnet.DigestDedup(), ccnet.LineKeys(scope)
    winners = {v[1] for v in first.values()}
    shared = Counter(stage.key(d) for d in docs)
    losers = [d for d in docs if d.id not in winners]
    holders: dict = {}
    for d in docs:
        if d.id in winners:
            for k in keys(d):
                holders.setdefault(k, []).append(d.id)
    counts: Counter = Counter()  # occurrences per (scope, line hash) among the digest winners
    for d in docs:
        if d.id in winners:
            sc, hashes = ccnet.LinePayload(scope)(d)
            counts.update((sc, h) for h in hashes)
    empty = [d for d in docs if d.id in winners and all(counts[k] > 1 for k in keys(d))]
    out = []
    for name, requests, values in (
        ("digest", [(stage.key(d), d.id) for d in losers], {k: None for k, n in shared.items() if n > 1}),
        ("lines", [(k, d.id) for d in empty for k in keys(d)], {k: None for k, n in counts.items() if n > 1}),
    ):
        salts = Shuffle("ledger", f"{name}: salts_per_key ((key, salt)), combined")
        vals = Shuffle("ledger", f"{name}: join_salts values (key -> original ids)")
        req = Shuffle("ledger", f"{name}: join_requests ((key, salt) -> id) + fanned values")
        occupied = set()
        for k, i in requests:
            salts.add((k, salt(i)))
            req.add(((k, salt(i)), i))
            occupied.add((k, salt(i)))
        for k in values:
            ids = sorted(holders.get(k, [first[k][1]] if k in first else []))[:2]
            vals.add((k, tuple(ids)))
        for k, s in occupied:
            if k in values:
                req.add(((k, s), (first[k][1],) if name == "digest" else tuple(sorted(holders[k])[:2])))
        salts.after_lift = len({k for k, _ in requests})
        out += [salts, vals, req]
    named = [(d, "duplicate_digest", "duplicate_digest") for d in losers]
    named += [(d, "line_dedup", "no_lines_left") for d in empty]
    majority = Shuffle("ledger", "majority (id -> owner per line), combined")
    rows = Shuffle("ledger", "join_original (id -> ledger row, original)")
    for d, st, reason in named:
        for _ in keys(d) if reason == "no_lines_left" else (0,):
            majority.add((d.id, d.id))
        rows.add((d.id, dropped_row(st, Dropped(reason, d, "x" * 60), {})))
        rows.add((d.id, d.id))
    majority.after_lift = len(named)
    return out + [majority, rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lamina.pipelines.shuffle_volume", description=__doc__.split("\n")[0]
    )
    p.add_argument("--input", default="out/sample", help="a sample world / input root with cc/wet.paths")
    p.add_argument("--scope", default="run", choices=("run", "dump"))
    p.add_argument("--repeat", type=int, default=1, help="feed the documents N times (distinct ids)")
    args = p.parse_args(argv)
    docs = read_documents(args.input, repeat=args.repeat)
    input_bytes, shuffles = measure(docs, args.scope)
    print(f"{len(docs)} documents, {input_bytes} text bytes into dedup (scope {args.scope})")
    print(f"{'design':<9} {'stage':<62} {'elements':>9} {'el/kB':>7} {'bytes/B':>8} {'after lift':>10}")
    for design in ("previous", "now", "ledger"):
        total_b = total_bodies = 0
        for s in (s for s in shuffles if s.design == design):
            lift = "" if s.after_lift is None else str(s.after_lift)
            print(f"{design:<9} {s.stage:<62} {s.elements:>9} {1000 * s.elements / input_bytes:>7.2f} "
                  f"{s.bytes / input_bytes:>8.3f} {lift:>10}")  # fmt: skip
            total_b += s.bytes
            total_bodies += s.bodies
        print(f"{design:<9} {'total (before lifting)':<62} {'':>9} {'':>7} {total_b / input_bytes:>8.3f}"
              f"   full-body shuffles: {total_bodies}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
