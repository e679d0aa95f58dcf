"""Books' near-duplicate clusters as connected components in Beam (`NearDuplicateClusters`,
`lamina.pipelines.components`) against the union-find over every edge in one place (`_resolve`):
random graphs (paths in every order, stars, trees, several components), the sample world's own
edges, the rounds the reference needs, a loud failure when the rounds are too few, and the size of
the largest group on a long path and a large star."""

from __future__ import annotations

import random
from collections import defaultdict

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from lamina.filters import books as nd
from lamina.formats.gutenberg import decode_book, strip_gutenberg
from lamina.pipelines import books, components
from lamina.pipelines.writers import SCALE_NAMESPACE
from tests.pipelines.conftest import FN_API_RUNNER, in_process_pipeline


def vertex(i: int, prefix: str = "pg") -> tuple:
    key = f"{prefix}{i}.txt"
    return nd.book_rank(key, f"id-{prefix}{i}"), key


def as_edges(pairs, rng) -> list:
    """Verified-edge records ((node, key), (node, key), jaccard), smaller node first, as
    `_bucket_edges` emits them."""
    out = []
    for a, b in pairs:
        a, b = sorted((a, b))
        out.append((a, b, round(rng.uniform(0.82, 1.0), 4)))
    return sorted(set(out))


def path(ids, prefix):
    return [(vertex(ids[i], prefix), vertex(ids[i + 1], prefix)) for i in range(len(ids) - 1)]


def zigzag(n: int) -> list[int]:
    """0, n-1, 1, n-2, ...: a path whose labels alternate between both ends (n even)."""
    return [x for pair in zip(range(n // 2), range(n - 1, n // 2 - 1, -1), strict=True) for x in pair]


def graphs(rng) -> dict[str, list]:
    """Named edge lists on disjoint vertex sets (each prefix its own books)."""
    n = 60
    shuffled = list(range(n))
    rng.shuffle(shuffled)
    tree = list(range(n))
    rng.shuffle(tree)
    sparse = {tuple(sorted(rng.sample(range(80), 2))) for _ in range(70)}
    return {
        "sorted_path": path(list(range(n)), "a"),
        "reversed_path": path(list(range(n))[::-1], "b"),
        "random_path": path(shuffled, "c"),
        "zigzag_path": path(zigzag(n), "d"),
        "star_min_hub": [(vertex(0, "e"), vertex(i, "e")) for i in range(1, 40)],
        "star_max_hub": [(vertex(99, "f"), vertex(i, "f")) for i in range(40)],
        "tree": [(vertex(tree[i], "g"), vertex(tree[(i - 1) // 2], "g")) for i in range(1, n)],
        "sparse_random": [(vertex(a, "h"), vertex(b, "h")) for a, b in sorted(sparse)],
        "pairs": [(vertex(2 * i, "i"), vertex(2 * i + 1, "i")) for i in range(10)],
        "triangle_and_pair": [(vertex(3, "j"), vertex(1, "j")), (vertex(1, "j"), vertex(2, "j")),
                              (vertex(2, "j"), vertex(3, "j")), (vertex(7, "j"), vertex(5, "j"))],
    }  # fmt: skip


def beam_clusters(edges, max_books: int, rounds: int = 0):
    """Run `NearDuplicateClusters` on `edges`, assert its output equals `_resolve(edges)` (the
    union-find over every edge in one place); return the pipeline result."""
    p = in_process_pipeline()
    hits = p | beam.Create(edges) | books.NearDuplicateClusters(max_books, rounds)
    assert_that(hits, equal_to(list(books._resolve(edges).items())))
    result = p.run()
    result.wait_until_finish()
    return result


def test_clusters_equal_union_find_on_random_graphs():
    rng = random.Random(7)
    named = graphs(rng)
    edges = as_edges([e for es in named.values() for e in es], rng)
    nodes = {v for a, b, _ in edges for v in (a, b)}
    beam_clusters(edges, max_books=len(nodes))
    got = books._resolve(edges)
    # the representatives are each component's earliest edition: one per named graph but the
    # multi-component ones
    reps = defaultdict(set)
    for _rep, rep_key, _ in got.values():
        reps[rep_key[0]].add(rep_key)
    assert {p: len(r) for p, r in reps.items()} == {
        **{p: 1 for p in "abcdefg"},
        "h": len(set(nd.clusters((a[0], b[0]) for a, b in named["sparse_random"]).values())),
        "i": 10,
        "j": 2,
    }
    assert got[vertex(59, "a")[0]][1] == "a0.txt" and got[vertex(0, "f")[0]][1] == "f0.txt"


def test_rounds_needed_stay_under_the_default_rounds():
    rng = random.Random(3)
    for n in (10, 100, 1000, 10_000):
        ids = list(range(n))
        shuffled = ids[:]
        rng.shuffle(shuffled)
        worst = max(
            components.rounds_needed([(p[i], p[i + 1]) for i in range(n - 1)])
            for p in (ids, ids[::-1], shuffled, zigzag(n))
        )
        star = components.rounds_needed([(n - 1, i) for i in range(n - 1)])
        assert worst <= (n - 1).bit_length() + 2 < components.default_rounds(n), n
        assert star <= 3
    assert components.default_rounds(10_000) == 17 and components.default_fan(10_000) == 100
    assert components.default_fan(components.DIRECT_JOIN_VERTICES) == 1


def test_too_few_rounds_fail_instead_of_splitting_a_cluster():
    rng = random.Random(1)
    edges = as_edges(path(list(range(40)), "p"), rng)
    with pytest.raises(Exception, match="labels still changed in the last of 2 rounds"):
        beam_clusters(edges, max_books=40, rounds=2)


def sample_edges(folder) -> list:
    """The verified edges of the sample world's books, by the pipeline's own pure steps."""
    cfg = books.BooksConfig()
    bands, rows = nd.band_params(cfg.threshold(), cfg.num_perm)
    buckets = defaultdict(list)
    for path_ in sorted(folder.glob("*.txt")):
        text, _ = decode_book(path_.read_bytes())
        doc = books.Document(f"id-{path_.name}", "books", strip_gutenberg(text).text, {"key": path_.name})
        item = books._signature(doc, cfg.num_perm)
        for key, it in books._bands(item, bands, rows):
            buckets[key].append(it)
    edges = set()
    for kv in buckets.items():
        edges.update(books._bucket_edges(kv, cfg.threshold(), cfg.star_bucket_size))
    return sorted(edges)


def test_clusters_equal_union_find_on_the_sample_world(sample_world):
    edges = sample_edges(sample_world / "books")
    assert edges, "the sample world has near-duplicate books"
    beam_clusters(edges, max_books=len(list((sample_world / "books").glob("*.txt"))))
    got = books._resolve(edges)
    assert any(rep != node for node, (rep, _, _) in got.items())


def largest_group(result) -> tuple[int, int]:
    found = result.metrics().query(
        MetricsFilter().with_namespace(SCALE_NAMESPACE).with_name("group_elements")
    )
    dists = [d.committed for d in found["distributions"] if d.committed is not None and d.committed.count]
    return sum(d.count for d in dists), max(d.max for d in dists)


@pytest.mark.slow
def test_a_long_path_and_a_large_star_never_form_a_large_group():
    """1,500 editions in a chain (random order: ~12 rounds of propagation) and a star of 1,500 copies
    of one book: union-find's clusters, and no group above ~2 sqrt(books) records (a list of one
    cluster would be 1,500)."""
    rng = random.Random(5)
    n = 1500
    chain = list(range(n))
    rng.shuffle(chain)
    pairs = path(chain, "c") + [(vertex(n, "s"), vertex(i, "s")) for i in range(n)]
    edges = as_edges(pairs, rng)
    result = beam_clusters(edges, max_books=2 * n + 1)
    groups, largest = largest_group(result)
    fan = components.default_fan(2 * n + 1)  # 55
    assert groups > n and largest <= 2 * fan, (groups, largest, fan)


def bucket_items(rng, n: int, prefix: str, base: np.ndarray, changed: int) -> list:
    """n books whose signatures are `base` with `changed` random positions redrawn (near-duplicates
    of each other when `changed` is small)."""
    items = []
    for i in range(n):
        sig = base.copy()
        pos = rng.sample(range(len(sig)), changed)
        sig[pos] = [rng.getrandbits(63) for _ in pos]
        node, key = vertex(i, prefix)
        items.append((node, key, sig.tobytes()))
    return items


def test_bucket_edges_equal_the_per_bucket_reference_small_and_star_buckets():
    """Buckets of 1, 2, 4 (= star_size: all pairs), 5 and 40 books (> star_size: star around the
    smallest), with near and far pairs, salted lookups (fan 3): the edges `_bucket_edges` gives."""
    rng = random.Random(11)
    nrng = np.random.default_rng(11)
    buckets = {}
    for b, (n, changed) in enumerate([(1, 0), (2, 5), (4, 10), (4, 60), (5, 8), (40, 8), (40, 70)]):
        base = nrng.integers(0, 2**63, size=nd.NUM_PERM, dtype=np.uint64)
        buckets[(b, b"x")] = bucket_items(rng, n, f"b{b}_", base, changed)
    threshold, star, (bands, rows) = nd.jaccard_threshold(0.9), 4, nd.band_params(nd.jaccard_threshold(0.9))
    items = [it for its in buckets.values() for it in its]
    real = defaultdict(list)  # the LSH buckets these signatures fall in (each group shares many)
    for it in items:
        for key, member in books._bands(it, bands, rows):
            real[key].append(member)
    want = sorted({e for kv in real.items() for e in books._bucket_edges(kv, threshold, star)})
    assert len(want) > 40 and any(len(its) > star for its in real.values())
    p = in_process_pipeline()
    edges = p | beam.Create(items) | books.BucketEdges(threshold, bands, rows, star, fan=3) | beam.Distinct()
    assert_that(edges, equal_to(want))
    p.run().wait_until_finish()


@pytest.mark.slow
def test_a_bucket_of_3000_copies_never_becomes_one_group():
    """3,000 copies of one text share all their LSH buckets: the star around the smallest, and no group
    above max(star_size + 1, 2 fan) records (the previous GroupByKey held all 3,000 signatures)."""
    rng = random.Random(2)
    base = np.random.default_rng(2).integers(0, 2**63, size=nd.NUM_PERM, dtype=np.uint64)
    items = bucket_items(rng, 3000, "e", base, 0)  # identical copies: all share their 9 buckets
    threshold, star, fan = nd.jaccard_threshold(0.9), 64, components.default_fan(3000)
    bands, rows = nd.band_params(threshold)
    want = sorted(books._bucket_edges(((0, b"x"), items), threshold, star))
    assert len(want) == 2999
    p = in_process_pipeline()
    edges = (
        p
        | beam.Create(items)
        | books.BucketEdges(threshold, bands, rows, star, fan)
        | beam.Distinct()  # the copies share most of their 9 buckets: each edge found in each
    )
    assert_that(edges, equal_to(want))
    result = p.run()
    result.wait_until_finish()
    _, largest = largest_group(result)
    assert largest <= max(star + 1, 2 * fan), (largest, fan)


def test_too_few_rounds_in_the_config_are_one_line_from_lamina_corpus(sample_world, tmp_path, capsys):
    from lamina.pipelines.corpus import main

    argv = ["--input", str(sample_world), "--out", str(tmp_path), "--sources", "books",
            "--set", "books.cluster_rounds=1", f"--runner={FN_API_RUNNER}"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        "lamina corpus: near-duplicate clusters: 1 labels still changed in the last of 1 rounds; "
        "set [books] cluster_rounds higher, or 0 (from the number of books)"
    )
