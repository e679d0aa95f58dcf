"""Beam: a source's verdicts -> `<out>/ledger/source=<source>/ledger-SSSSS-of-NNNNN.parquet`.

`WriteLedger(out, source, settings, originals)` takes (kept documents, the funnel's drops as (stage,
Dropped)). A worker holds one bundle's rows at a time (Beam's Parquet sink writes row groups as they
fill); the runner chooses the number of files, so the ledger grows with the run in files, not in a
worker's memory.

`originals` ({(stage, reason): Originals}, registered by the dedup stages with `--ledger`) name the
original of every dropped duplicate (`duplicate_of`): the key's winner for a digest / URL / content
hash, the majority owner of its lines for a line-dedup drop. `NameOriginals` does it with a bounded
fan-out join (`KeyedLookup`): no key's list of documents is ever built, however many copies share it.
"""

from __future__ import annotations

import hashlib

import apache_beam as beam

from lamina.ledger.rows import SCHEMA, dropped_row, kept_row
from lamina.pipelines.accounting import Originals, group_size

# A key's requests are spread over this many groups (by a hash of the request): a key shared by N
# documents costs groups of about N / SALTS requests plus one value, and a salt set of at most
# min(N, SALTS) small ints; a digest held by 10^6 pages: groups of ~250 ids.
SALTS = 4096


def arrow_schema():
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in SCHEMA])


def ledger_dir(out: str, source: str) -> str:
    return f"{out.rstrip('/')}/ledger/source={source}"


def salt(tag: str) -> int:
    return int.from_bytes(hashlib.blake2b(str(tag).encode("utf-8"), digest_size=8).digest(), "big") % SALTS


class _SaltSet(beam.CombineFn):
    """The salts a key's requests fall in: a set of at most SALTS ints, whatever the requests."""

    def create_accumulator(self):
        return set()

    def add_input(self, acc, s):
        acc.add(s)
        return acc

    def merge_accumulators(self, accs):
        out = set()
        for a in accs:
            out |= a
        return out

    def extract_output(self, acc):
        return sorted(acc)


def _fan_out(kv):
    """(key, {"value": [v], "salts": [[s...]]}) -> ((key, s), v) for every salt a request is in."""
    key, g = kv
    values, salts = list(g["value"]), list(g["salts"])
    # grouped: the value and one combined salt set (at most SALTS ints, 8 bytes each)
    group_size().update(len(values) + len(salts), 8 * sum(len(s) for s in salts))
    if values:
        for ss in salts:
            for s in ss:
                yield (key, s), values[0]


def _answer(kv):
    """((key, salt), {"value": [v], "req": [tags]}) -> (tag, v or None) for every request."""
    _, g = kv
    values, tags = list(g["value"]), list(g["req"])
    group_size().update(len(values) + len(tags), sum(len(str(t)) for t in tags))
    v = values[0] if values else None
    for t in tags:
        yield t, v


class KeyedLookup(beam.PTransform):
    """(values: (key, v), at most one per key; requests: (key, tag)) -> (tag, v or None), one per
    request, without ever grouping a key's requests: the requests' salts per key are combined (a
    set of at most SALTS ints), the value is fanned out to those (key, salt) pairs, and each request
    meets its value in the group of its (key, salt). A worker holds at most one value and the
    requests of one (key, salt), about requests / SALTS for a hot key. A request whose key has no
    value answers None: none is ever lost. Shuffles: the requests twice (small), the values once,
    one fanned-out value per occupied salt."""

    def expand(self, pcolls):
        values, requests = pcolls
        salts = (
            requests
            | "salt_of_request" >> beam.Map(lambda kv: (kv[0], salt(kv[1])))
            | "salts_per_key" >> beam.CombinePerKey(_SaltSet())
        )
        fanned = (
            {"value": values, "salts": salts}
            | "join_salts" >> beam.CoGroupByKey()
            | ("fan_out" >> beam.FlatMap(_fan_out))
        )
        salted = requests | "salted_request" >> beam.Map(lambda kv: ((kv[0], salt(kv[1])), kv[1]))
        return (
            {"value": fanned, "req": salted}
            | "join_requests" >> beam.CoGroupByKey()
            | ("answer" >> beam.FlatMap(_answer))
        )


class _Majority(beam.CombineFn):
    """The most frequent id, ties by the smallest: a count per distinct id (at most one document's
    distinct lines, for a line-dedup drop; one id for an exact duplicate)."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, i):
        acc[i] = acc.get(i, 0) + 1
        return acc

    def merge_accumulators(self, accs):
        out: dict = {}
        for a in accs:
            for i, n in a.items():
                out[i] = out.get(i, 0) + n
        return out

    def extract_output(self, acc):
        return min(acc.items(), key=lambda kv: (-kv[1], kv[0]))[0] if acc else None


def _other(kv):
    """(doc id, (candidates, best first) or None) -> (doc id, the first candidate not itself)."""
    doc_id, candidates = kv
    for c in candidates or ():
        if c != doc_id:
            yield doc_id, c
            return


def _keys(keys, dropped) -> tuple:
    """The keys of a drop: `keys.of_drop(dropped)` where the key is in the verdict (a book's cluster
    head is named in the near-duplicate detail), else `keys(dropped.doc)`."""
    of_drop = getattr(keys, "of_drop", None)
    return of_drop(dropped) if of_drop else keys(dropped.doc)


def _with_original(kv):
    _, g = kv
    of = [o for o in g["of"] if o is not None]
    group_size().update(len(g["row"]) + len(of), 0)
    for row in g["row"]:
        yield {**row, "duplicate_of": of[0] if of else row["duplicate_of"]}


class NameOriginals(beam.PTransform):
    """The drops of one (stage, reason) as (stage, Dropped) -> their ledger rows with `duplicate_of`
    set from `spec` (an `Originals`): per key of the document the first candidate not itself, the
    most frequent of those over its keys, ties by smallest id. A row whose keys name no other
    document keeps what `dropped_row` found (None). Holds per group: one row and its original; the
    majority combine, one document's distinct keys."""

    def __init__(self, spec: Originals, settings: dict):
        super().__init__()
        self.spec, self.settings = spec, settings

    def expand(self, drops):
        keys, settings = self.spec.keys, self.settings
        rows = drops | "row" >> beam.Map(lambda sd: (sd[1].doc.id, dropped_row(sd[0], sd[1], settings)))
        requests = drops | "requests" >> beam.FlatMap(
            lambda sd: ((k, sd[1].doc.id) for k in _keys(keys, sd[1]))
        )
        owners = (
            (self.spec.values, requests)
            | "lookup" >> KeyedLookup()
            | "other_than_itself" >> beam.FlatMap(_other)
            | "majority" >> beam.CombinePerKey(_Majority())
        )
        return (
            {"row": rows, "of": owners}
            | "join_original" >> beam.CoGroupByKey()
            | ("with_original" >> beam.FlatMap(_with_original))
        )


def _named(sd, specs) -> bool:
    return (sd[0], sd[1].reason) in specs


class WriteLedger(beam.PTransform):
    def __init__(self, out: str, source: str, settings: dict, originals: dict | None = None):
        super().__init__()
        self.out, self.source, self.settings = out, source, settings
        self.originals = dict(originals or {})

    def expand(self, pcolls):
        kept, drops = pcolls
        settings, specs = self.settings, set(self.originals)
        parts = [
            kept | "ledger_kept" >> beam.Map(kept_row),
            drops
            | "ledger_unnamed" >> beam.Filter(lambda sd: not _named(sd, specs))
            | "ledger_dropped" >> beam.Map(lambda sd: dropped_row(sd[0], sd[1], settings)),
        ]
        for (stage, reason), spec in sorted(self.originals.items()):
            label = f"originals_{stage}_{reason}"
            parts.append(
                drops
                | f"{label}_drops" >> beam.Filter(lambda sd, k=(stage, reason): (sd[0], sd[1].reason) == k)
                | label >> NameOriginals(spec, settings)
            )
        rows = tuple(parts) | "ledger_rows" >> beam.Flatten()
        return rows | "ledger_parquet" >> beam.io.WriteToParquet(
            f"{ledger_dir(self.out, self.source)}/ledger",
            arrow_schema(),
            file_name_suffix=".parquet",
            codec="zstd",
        )
