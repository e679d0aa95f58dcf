"""Connected components of a graph given as an edge PCollection, with no group of one component.

`ConnectedComponents`: edges (a, b) of sortable, hashable vertices -> (v, smallest vertex of v's
component) for every vertex of an edge: exactly what a union-find over all edges gives
(`lamina.filters.books.clusters`), computed by rounds of label propagation with hooking and pointer
jumping (Shiloach-Vishkin style), each round a few shuffles of small records.

A round, with L(v) the current label (a vertex of v's component, L(v) <= v; initially v):
1. both endpoints of every edge look up their label (`Lookup`) and propose it to the other one;
2. L1(v) = min(L(v), proposals to v) -- a min-combine per vertex (one record per bundle);
3. hooking: H(w) = min(L1(w), L1(v) of every v with L(v) = w) -- the vertex a label names falls
   with its members (a min-combine again), which is what halves long paths;
4. pointer jumping: L2(v) = min(H(v), H(H(v))) -- a `Lookup` of H keyed by H(v);
5. `changed` = how often a label fell in 2, 3 or 4, summed (one integer).
A round that changes nothing is a fixed point: labels agree across every edge and L(L(v)) = L(v),
so each component carries one label, that of its smallest vertex. The rounds are unrolled when the
pipeline is built (Beam graphs have no loops): `rounds` of them, and each round reads the previous
one's `changed` as a singleton side input (one integer) -- once a round changed nothing, the later
ones pass the labels through and shuffle nothing. If the last round still changed something the run
fails (`NotConverged`) rather than give other clusters than union-find. Rounds needed, measured with
the plain reference `rounds_needed` (the round that confirms included): paths of n vertices in
sorted, reversed, random and zigzag order ceil(log2 n) + 1 (n = 10 .. 100,000; zigzag one more),
stars 2-3, random trees and sparse random graphs fewer; `default_rounds` gives ceil(log2(n + 1))
+ 3.

`Lookup` is the join of a round (two per round): many requests for one key's value (every edge of a hub, every
member of a component asking for its label's label). Requests are salted by a hash into `fan`
sub-buckets; the value is first copied to the sub-buckets that exist, then each sub-bucket joins its
copy. What one worker holds at most, per group: one value + the distinct sub-bucket ids of one key
(<= fan), or one value + the requests of one sub-bucket (~ requests / fan; <= n / fan + a few
sqrt(n / fan) with n the number of requests). With fan = ceil(sqrt(max vertices)) (`default_fan`)
both are about sqrt(vertices) small records: a component of 10^4 vertices becomes groups of ~100,
a star of 10^6 edges groups of ~1,000 -- never a list of a component or of all edges. Up to
`DIRECT_JOIN_VERTICES` (1,024) a lookup is one plain join (fan 1: <= 1,024 records a group). Each group
reports its size to `lamina.scale/group_elements` (`group_size()`).
"""

from __future__ import annotations

import hashlib
import math
import sys

import apache_beam as beam

from lamina.pipelines.accounting import group_size


class NotConverged(RuntimeError):
    """The component rounds ended with labels still changing."""


DIRECT_JOIN_VERTICES = 1024  # up to this many vertices a `Lookup` is one plain join (fan 1)


def default_rounds(max_vertices: int) -> int:
    """Rounds for a graph of at most `max_vertices` vertices: ceil(log2(n + 1)) + 3, two more than
    the worst measured need (see the module docstring)."""
    return math.ceil(math.log2(max(max_vertices, 1) + 1)) + 3


def default_fan(max_vertices: int) -> int:
    """Sub-buckets per looked-up key: ceil(sqrt(n)), which balances the two groups of `Lookup`; 1
    (one plain join, a group then holds <= n records) up to `DIRECT_JOIN_VERTICES` vertices."""
    if max_vertices <= DIRECT_JOIN_VERTICES:
        return 1
    return math.isqrt(max_vertices - 1) + 1


def _salt(payload, fan: int) -> int:
    return int.from_bytes(hashlib.sha1(repr(payload).encode("utf-8")).digest()[:8], "big") % fan


def rounds_needed(edges) -> int:
    """The plain reference of `ConnectedComponents`' rounds: how many it takes on `edges` (the round
    that changes nothing included), by the same steps on Python dicts."""
    edges = list(edges)
    label = {v: v for e in edges for v in e}
    for r in range(1, len(label) + 2):
        l1 = dict(label)
        for a, b in edges:
            l1[b] = min(l1[b], label[a])
            l1[a] = min(l1[a], label[b])
        h = dict(l1)
        for v, x in label.items():
            h[x] = min(h[x], l1[v])
        new = {v: min(x, h[x]) for v, x in h.items()}
        if new == label:
            return r
        label = new
    raise AssertionError("unreachable: labels only fall")


class _Changed(beam.CombineFn):
    """min over (label, is_proposal) -> (smallest label, 1 if a proposal beat the own label else 0,
    own label). Accumulator: (own label or None, best proposal or None)."""

    def create_accumulator(self):
        return None, None

    def add_input(self, acc, value):
        own, best = acc
        label, proposal = value
        if proposal:
            return own, label if best is None or label < best else best
        return label, best

    def merge_accumulators(self, accs):
        own = best = None
        for o, b in accs:
            own = o if own is None else own
            if b is not None and (best is None or b < best):
                best = b
        return own, best

    def extract_output(self, acc):
        own, best = acc
        if best is not None and best < own:
            return best, 1, own
        return own, 0, own


def _copies(kv):
    """(key, {"value": [v], "sub": [salts]}) -> ((key, salt), v) for every sub-bucket of the key."""
    key, g = kv
    values, subs = list(g["value"]), list(g["sub"])
    group_size().update(len(values) + len(subs), 0)
    for v in values:
        for s in subs:
            yield (key, s), v


def _answer(kv):
    """((key, salt), {"value": [v], "req": [payloads]}) -> (payload, v) for each request (v None if
    the key has no value)."""
    _, g = kv
    values = list(g["value"])
    value = values[0] if values else None
    n = 0
    for payload in g["req"]:
        n += 1
        yield payload, value
    group_size().update(len(values) + n, 0)


class Lookup(beam.PTransform):
    """{"value": (key, value) one per key, "req": (key, payload)} -> (payload, value of key), with
    no group larger than about sqrt of the requests of one key (see the module docstring)."""

    def __init__(self, fan: int, label: str):
        super().__init__()
        self.fan, self.label = fan, label

    def expand(self, inputs):
        fan, lb = self.fan, self.label
        if fan == 1:  # one group per key: the value and all its requests
            return (
                {"value": inputs["value"], "req": inputs["req"]}
                | f"{lb}_by_key" >> beam.CoGroupByKey()
                | f"{lb}_answer" >> beam.FlatMap(_answer)
            )
        salted = inputs["req"] | f"{lb}_salt" >> beam.Map(lambda kv: ((kv[0], _salt(kv[1], fan)), kv[1]))
        subs = (
            salted
            | f"{lb}_subs" >> beam.Map(lambda kv: kv[0])
            | f"{lb}_distinct" >> beam.Distinct()  # combined: one record per sub-bucket and bundle
        )
        copies = (
            {"value": inputs["value"], "sub": subs}
            | f"{lb}_by_key" >> beam.CoGroupByKey()
            | f"{lb}_copies" >> beam.FlatMap(_copies)
        )
        return (
            {"value": copies, "req": salted}
            | f"{lb}_by_sub" >> beam.CoGroupByKey()
            | f"{lb}_answer" >> beam.FlatMap(_answer)
        )


def _gate(element, changed):
    """Pass `element` on while the previous round changed something (None: the first round)."""
    if changed is None or changed:
        yield element


def _settled(kv, changed):
    if changed is not None and not changed:
        yield kv


def _jumped(answer):
    """((v, L1v), L1(L1v)) -> (v, (L2v, changed))."""
    (v, l1), l1l1 = answer
    return (l1l1, 1) if l1l1 < l1 else (l1, 0)


def _converged(labels, changed, rounds):
    if changed:
        raise NotConverged(
            f"near-duplicate clusters: {changed} labels still changed in the last of {rounds} rounds; "
            "set [books] cluster_rounds higher, or 0 (from the number of books)"
        )
    return labels


class ConnectedComponents(beam.PTransform):
    """edges (a, b) -> (v, smallest vertex of v's component) for every vertex of an edge. `rounds`
    and `fan` from `max_vertices` (the most vertices the graph can have) unless given."""

    def __init__(self, max_vertices: int, rounds: int = 0, fan: int = 0, label: str = "cc"):
        super().__init__()
        self.rounds = rounds or default_rounds(max_vertices)
        self.fan = fan or default_fan(max_vertices)
        self.label = label

    def expand(self, edges):
        lb, fan = self.label, self.fan
        # the local FnApiRunner walks the stage graph recursively: ~40 transforms deep per round
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 2000 + 100 * self.rounds))
        labels = (
            edges
            | f"{lb}_vertices" >> beam.FlatMap(lambda e: ((e[0], None), (e[1], None)))
            | f"{lb}_distinct_vertices" >> beam.Distinct()
            | f"{lb}_init" >> beam.Map(lambda kv: (kv[0], kv[0]))
        )
        changed = None
        for r in range(self.rounds):
            p = f"{lb}{r}"
            gate = {"changed": None if changed is None else beam.pvalue.AsSingleton(changed)}
            live = edges = edges | f"{p}_edges" >> beam.FlatMap(_gate, **gate)
            live_labels = labels | f"{p}_labels" >> beam.FlatMap(_gate, **gate)
            settled = labels | f"{p}_settled" >> beam.FlatMap(_settled, **gate)
            # 1-2. each endpoint's label, proposed to the other endpoint (request payload: the other)
            proposed = {
                "value": live_labels,
                "req": live | f"{p}_req" >> beam.FlatMap(lambda e: ((e[0], e[1]), (e[1], e[0]))),
            } | f"{p}_lookup" >> Lookup(fan, f"{p}_l")
            # 3. L1(v) = min(L(v), neighbours' labels), then hooking: the vertex L(v) takes L1(v) too
            l1 = (
                (
                    live_labels | f"{p}_own" >> beam.Map(lambda kv: (kv[0], (kv[1], False))),
                    proposed | f"{p}_proposals" >> beam.Map(lambda ans: (ans[0], (ans[1], True))),
                )
                | f"{p}_flatten" >> beam.Flatten()
                | f"{p}_min" >> beam.CombinePerKey(_Changed())
            )
            hooked = (
                l1
                | f"{p}_hooks"
                >> beam.FlatMap(lambda kv: ((kv[0], (kv[1][0], False)), (kv[1][2], (kv[1][0], True))))
                | f"{p}_hook_min" >> beam.CombinePerKey(_Changed())
            )
            h = hooked | f"{p}_h" >> beam.Map(lambda kv: (kv[0], kv[1][0]))
            # 4. pointer jumping: L2(v) = min(H(v), H(H(v)))
            jumped = (
                {"value": h, "req": h | f"{p}_req_jump" >> beam.Map(lambda kv: (kv[1], kv))}
                | f"{p}_lookup_jump" >> Lookup(fan, f"{p}_j")
                | f"{p}_jumped" >> beam.Map(lambda ans: (ans[0][0], _jumped(ans)))
            )
            # 5. how many labels fell (one integer), read by the next round
            changed = (
                (
                    l1 | f"{p}_l1_changes" >> beam.Map(lambda kv: kv[1][1]),
                    hooked | f"{p}_hook_changes" >> beam.Map(lambda kv: kv[1][1]),
                    jumped | f"{p}_jump_changes" >> beam.Map(lambda kv: kv[1][1]),
                )
                | f"{p}_changes" >> beam.Flatten()
                | f"{p}_changed" >> beam.CombineGlobally(sum)
            )
            labels = (
                settled,
                jumped | f"{p}_new" >> beam.Map(lambda kv: (kv[0], kv[1][0])),
            ) | f"{p}_next" >> beam.Flatten()
        return labels | f"{lb}_converged" >> beam.Map(
            _converged, changed=beam.pvalue.AsSingleton(changed), rounds=self.rounds
        )
