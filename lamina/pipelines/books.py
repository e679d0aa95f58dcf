"""The Books pipeline as one composite PTransform: Gutenberg books -> stripped, near-deduplicated.

    files -> read (bytes -> text: UTF-8, else Windows-1252; binary content is a `binary` drop) -> strip_boilerplate (Gutenberg header and
    license footer, `lamina.formats.gutenberg`; lines removed are counted) -> near_duplicate
    -> docs/books/books-<k>-of-<n>.jsonl.gz

Near-duplicate removal (`lamina.filters.books`), as Beam steps that never put every signature on one
worker:
1. signatures: MinHash (128 permutations) of each book's 6-character shingles, one book per call,
   in parallel;
2. LSH banding: each signature is cut into `bands` x `rows` (datasketch's optimal split for the
   Jaccard threshold); key (band, band bytes) -> the book's (node, key, signature);
3. candidates that share a bucket are verified by their estimated Jaccard (>= threshold) -> edges
   (`BucketEdges`): a combine keeps each bucket's count and its `star_bucket_size + 1` smallest
   members; a bucket of up to `star_bucket_size` books compares all its pairs, a larger one (e.g.
   thousands of copies of one text) compares each member with its smallest book only (a star:
   linear work; a pair that does not involve the smallest is then found only through another band),
   the smallest sent to the members by a salted lookup. Edges are de-duplicated (a pair can share
   several bands);
4. clusters: the connected components of the edges (`NearDuplicateClusters`: label-propagation
   rounds in Beam, `lamina.pipelines.components`) -> book -> cluster representative, the book of
   smallest `book_rank` (natural order of the file name: the earliest edition), and the largest
   estimated Jaccard of the book's edges;
5. near_duplicate stage: each book joins its cluster by node (one shuffle of the bodies, one
   (representative, Jaccard) record per book of an edge); every book that is not its cluster's
   representative is dropped ("near-duplicate of <key> (estimated Jaccard J)").
What a worker holds: step 1 one book; step 3 at most `star_bucket_size + 1` signatures (~1 KB each)
per bucket accumulator, or one lookup group (about sqrt(books) records, components.py); step 4
about sqrt(books) small records per group; step 5 one book and its record. No list of a bucket's or
a cluster's members, of the edges or of the signatures is ever built, and nothing is broadcast but
one integer per cluster round.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from lamina.documents import Document, stable_id
from lamina.filters import books as nd
from lamina.formats.gutenberg import decode_book, strip_gutenberg
from lamina.pipelines.accounting import (
    DROPPED,
    TALLY,
    Dropped,
    Funnel,
    Meta,
    Originals,
    Stage,
    count_join,
    group_size,
    text_length,
)
from lamina.pipelines.components import ConnectedComponents, Lookup, default_fan
from lamina.pipelines.readers import (
    READ,
    expand_inputs,
    file_failed,
    file_read,
    read_drop,
    read_files,
    read_kept,
)
from lamina.pipelines.writers import FixedName

SOURCE = "books"


@dataclasses.dataclass(frozen=True)
class BooksConfig:
    overlap: float = nd.OVERLAP  # fraction of shared content above which two books are near-duplicates
    num_perm: int = nd.NUM_PERM  # MinHash permutations per signature
    file_pattern: str = "*.txt"  # file names looked for when the input is a folder
    max_bytes: int = 64_000_000  # bytes; a larger file is a drop (`too_long`) without being read
    star_bucket_size: int = 64  # books in one LSH bucket above which only star comparisons are made
    cluster_rounds: int = 0  # rounds of the cluster search (0: from the number of books, components.py)

    def threshold(self) -> float:
        """The Jaccard threshold of `overlap` (o / (2 - o), see lamina.filters.books)."""
        return nd.jaccard_threshold(self.overlap)


class _ReadBookFn(beam.DoFn):
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    def process(self, path_label):
        path, label = path_label
        name = label.rsplit("/", 1)[-1]
        doc = Document(stable_id(SOURCE, label), SOURCE, "", {"file": label, "key": name})
        try:
            size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
            if size > self.max_bytes:
                yield from read_drop(Dropped("too_long", doc, f"{label}: {size} bytes > {self.max_bytes}"))
                yield from file_read()
                return
            with FileSystems.open(path, compression_type="uncompressed") as f:
                data = f.read()
        except Exception as e:  # noqa: BLE001 - a file we cannot read is a failed file, counted
            yield from file_failed(path, e)
            return
        text, encoding = decode_book(data)
        # random bytes decode as Windows-1252/Latin-1 text too: read_kept drops them as `binary`
        yield from read_kept(doc.replace(text=text).with_metadata(encoding=encoding))
        yield from file_read()


class StripBoilerplate(Stage):
    """Remove Gutenberg's header and license footer; a book with nothing left is `empty`."""

    name = "strip_boilerplate"
    counts_lines = True

    def apply(self, doc, **side):
        s = strip_gutenberg(doc.text)
        meta = {"markers": s.markers, "header_lines": s.header_lines, "footer_lines": s.footer_lines}
        if s.title:
            meta["title"] = s.title
        if not s.text.strip():
            return Dropped("empty", doc.with_metadata(**meta), "no text between the Gutenberg markers")
        return doc.replace(text=s.text).with_metadata(**meta)

    def lines_of(self, element, result):
        return sum(1 for line in element.text.splitlines() if line.strip())


def _boilerplate_lines(doc: Document) -> int:
    """Header and footer lines `strip_boilerplate` removed from a book."""
    return doc.metadata["header_lines"] + doc.metadata["footer_lines"]


def _node(doc: Document) -> tuple:
    """A book's node in the near-duplicate graph: its rank (sorts as "which edition to keep")."""
    return nd.book_rank(doc.metadata["key"], doc.id)


def _signature(doc: Document, num_perm: int):
    return _node(doc), doc.metadata["key"], nd.signature(doc.text, num_perm).tobytes()


def _bands(item, bands: int, rows: int):
    node, key, sig = item
    arr = np.frombuffer(sig, dtype=np.uint64)
    for band, value in nd.band_keys(arr, bands, rows):
        yield (band, value), item


def _bucket_edges(kv, threshold: float, star_size: int):
    """Verified near-duplicate pairs (smaller node, larger node, jaccard) among one bucket's books,
    from the list of them: the plain reference of `BucketEdges` (tests)."""
    _, items = kv
    items = sorted(items, key=lambda it: it[0])
    group_size().update(len(items), sum(len(it[2]) for it in items))
    if len(items) < 2:
        return
    sigs = [np.frombuffer(it[2], dtype=np.uint64) for it in items]
    pairs = (
        ((0, j) for j in range(1, len(items)))
        if len(items) > star_size
        else ((i, j) for i in range(len(items)) for j in range(i + 1, len(items)))
    )
    for i, j in pairs:
        jac = nd.estimated_jaccard(sigs[i], sigs[j])
        if jac >= threshold:
            yield (items[i][0], items[i][1]), (items[j][0], items[j][1]), round(jac, 4)


class _SmallestK(beam.CombineFn):
    """(count, the k smallest items by node) of one LSH bucket: an accumulator of at most k items
    (~1 KB each), however many books share the bucket."""

    def __init__(self, k: int):
        self.k = k

    def create_accumulator(self):
        return 0, []

    def add_input(self, acc, item):
        n, items = acc
        return n + 1, sorted([*items, item], key=_by_node)[: self.k]

    def merge_accumulators(self, accs):
        n, items = 0, []
        for m, its in accs:
            n += m
            items = sorted(items + its, key=_by_node)[: self.k]
        return n, items

    def extract_output(self, acc):
        return acc


def _by_node(item):
    return item[0]


def _verified(i, j, threshold: float):
    """The edge (smaller node, larger node, jaccard) of two bucket members, if near-duplicates."""
    jac = nd.estimated_jaccard(np.frombuffer(i[2], dtype=np.uint64), np.frombuffer(j[2], dtype=np.uint64))
    if jac >= threshold:
        yield (i[0], i[1]), (j[0], j[1]), round(jac, 4)


def _small_bucket_edges(kv, threshold: float, star_size: int):
    """Every pair of a bucket of 2..star_size books (all of them are in the summary)."""
    _, (n, items) = kv
    if not 2 <= n <= star_size:
        return
    group_size().update(len(items), sum(len(it[2]) for it in items))
    for a in range(len(items)):
        for b in range(a + 1, len(items)):
            yield from _verified(items[a], items[b], threshold)


def _star_edges(kv, threshold: float):
    """(node, {"item": [the book's (node, key, signature)], "first": [smallest members of the large
    buckets it is in]}) -> its edges to them (a group: one signature + at most `bands` firsts)."""
    _, g = kv
    items, firsts = list(g["item"]), sorted(set(g["first"]), key=_by_node)
    group_size().update(len(items) + len(firsts), sum(len(it[2]) for it in items + firsts))
    for item in items:
        for first in firsts:
            if first[0] != item[0]:
                yield from _verified(first, item, threshold)


class BucketEdges(beam.PTransform):
    """Signatures (node, key, signature) -> verified edges: per LSH bucket what `_bucket_edges` gives,
    with no list of a bucket's members. A combine keeps each bucket's count and its `star_size + 1`
    smallest members (an accumulator of at most ~65 signatures of ~1 KB); a bucket of 2..star_size
    books compares all pairs of those. A larger one (thousands of copies of one text) compares each
    member with its smallest: the memberships (small (node, key) records) look up their bucket's
    smallest with a salted `Lookup` (about sqrt(books) records a group), and each book joins the
    smallest members it got with its own signature by node (one signature + at most `bands` records)."""

    def __init__(self, threshold: float, bands: int, rows: int, star_size: int, fan: int):
        super().__init__()
        self.threshold, self.bands, self.rows = threshold, bands, rows
        self.star_size, self.fan = star_size, fan

    def expand(self, items):
        keyed = items | "bands" >> beam.FlatMap(_bands, bands=self.bands, rows=self.rows)
        summary = keyed | "bucket_summary" >> beam.CombinePerKey(_SmallestK(self.star_size + 1))
        small = summary | "verify_candidates" >> beam.FlatMap(
            _small_bucket_edges, threshold=self.threshold, star_size=self.star_size
        )
        firsts = summary | "large_buckets" >> beam.FlatMap(
            lambda kv, k=self.star_size: [(kv[0], kv[1][1][0])] if kv[1][0] > k else []
        )
        members = keyed | "memberships" >> beam.Map(lambda kv: (kv[0], kv[1][0]))
        got = (
            {"value": firsts, "req": members}
            | "to_first" >> Lookup(self.fan, "first")
            | "firsts" >> beam.FlatMap(lambda ans: [ans] if ans[1] is not None else [])
        )
        star = (
            {"item": items | "by_node" >> beam.Map(lambda it: (it[0], it)), "first": got}
            | "join_first" >> beam.CoGroupByKey()
            | "verify_star" >> beam.FlatMap(_star_edges, threshold=self.threshold)
        )
        return (small, star) | "bucket_edges" >> beam.Flatten()


def _resolve(edges: list) -> dict:
    """node -> (representative node, representative key, jaccard of the edge that joined it), by a
    union-find over every edge in one place: the plain reference of `NearDuplicateClusters` (tests)."""
    keys = {n: k for a, b, _ in edges for n, k in (a, b)}
    jac = {}
    for a, b, j in edges:
        jac[b[0]] = max(jac.get(b[0], 0.0), j)
        jac[a[0]] = max(jac.get(a[0], 0.0), j)
    roots = nd.clusters((a[0], b[0]) for a, b, _ in edges)
    return {n: (r, keys[r], jac[n]) for n, r in roots.items()}


def _max_jaccard(edge):
    a, b, jac = edge
    return (a, jac), (b, jac)


def _hits(kv):
    """(vertex, {"rep": [representative], "jac": [max jaccard]}) -> (node, (rep node, rep key, jac))."""
    (node, _), g = kv
    (rep_node, rep_key), jac = next(iter(g["rep"])), next(iter(g["jac"]))
    return node, (rep_node, rep_key, jac)


class NearDuplicateClusters(beam.PTransform):
    """Verified edges ((node, key), (node, key), jaccard) -> (node, (representative node,
    representative key, largest jaccard of the node's edges)) for every book of an edge: what
    `_resolve` gives, without gathering the edges. The representative is the cluster's smallest
    node (`book_rank`) -- `ConnectedComponents` over the (node, key) vertices, whose order is the
    nodes' (nodes are unique); the jaccard a max-combine per vertex. What a worker holds: see
    `lamina.pipelines.components` (about sqrt(books) small records per group) and one
    (representative, jaccard) pair per book in the join."""

    def __init__(self, max_books: int, rounds: int = 0):
        super().__init__()
        self.max_books, self.rounds = max_books, rounds

    def expand(self, edges):
        reps = (
            edges
            | "cluster_edges" >> beam.Map(lambda e: (e[0], e[1]))
            | "components" >> ConnectedComponents(self.max_books, rounds=self.rounds, label="cc")
        )
        jac = edges | "edge_jaccard" >> beam.FlatMap(_max_jaccard) | "max_jaccard" >> beam.CombinePerKey(max)
        return {"rep": reps, "jac": jac} | "join_cluster" >> beam.CoGroupByKey() | "hits" >> beam.Map(_hits)


class NearDuplicate(Stage):
    """Keep a cluster's representative; drop the others as `near_duplicate`. Input: (node, {"doc":
    [the book], "hit": [(representative node, representative key, jaccard)] or []}), the book
    joined with its cluster by node (`join_clusters`)."""

    name = "near_duplicate"

    def results(self, element, **side):
        node, g = element
        docs, hits = list(g["doc"]), list(g["hit"])
        group_size().update(len(docs) + len(hits), sum(len(d.text) for d in docs))
        for doc in docs:
            yield self.apply(doc, hits[0] if hits else None)

    def apply(self, doc, hit=None, **side):
        if hit is None or hit[0] == _node(doc):
            return doc
        _, rep_key, jac = hit
        return Dropped(nd.NEAR_DUPLICATE, doc, f"near-duplicate of {rep_key} (estimated Jaccard {jac})")


class _ClusterHead:
    """`Originals.keys` of a near-duplicate: the representative's key its verdict names; the kept
    books' (key, id) answer it (the representative is always kept)."""

    def of_drop(self, dropped) -> tuple:
        from lamina.ledger.rows import duplicate_of

        head = duplicate_of(dropped.detail)
        return (head,) if head else ()


class BooksSource(beam.PTransform):
    """Read + strip + near-dedup: the Books branch of `lamina corpus` up to the writer. Applied to a
    pipeline's root; outputs the kept books; registers its stages in `funnel`."""

    def __init__(self, spec: str, config: BooksConfig, funnel: Funnel):
        super().__init__()
        self.spec, self.config, self.funnel = spec, config, funnel
        self.files: list[tuple[str, str]] = []

    def expand(self, pbegin):
        cfg, funnel = self.config, self.funnel
        self.files = expand_inputs(self.spec, pattern=cfg.file_pattern)
        threshold = cfg.threshold()
        bands, rows = nd.band_params(threshold, cfg.num_perm)
        read = read_files(pbegin, self.files, _ReadBookFn(cfg.max_bytes), "read_books", SOURCE)
        funnel.add_stage(READ, read[DROPPED], read[TALLY])
        docs = funnel.apply(read.docs, StripBoilerplate())
        funnel.measure("boilerplate_lines", StripBoilerplate.name, _boilerplate_lines, group=Meta("markers"))
        edges = (
            docs
            | "signatures" >> beam.Map(_signature, num_perm=cfg.num_perm)
            | "buckets"
            >> BucketEdges(threshold, bands, rows, cfg.star_bucket_size, default_fan(len(self.files)))
            | "distinct_edges" >> beam.Distinct()
        )
        hits = edges | "clusters" >> NearDuplicateClusters(len(self.files), cfg.cluster_rounds)
        by_node = docs | "key_by_node" >> beam.Map(lambda d: (_node(d), d))
        joined = {"doc": by_node, "hit": hits} | "join_clusters" >> beam.CoGroupByKey()
        count_join(funnel, NearDuplicate.name, "hit", hits, joined, "hit")
        docs = funnel.apply(joined, NearDuplicate())
        if funnel.originals is not None:  # --ledger: the cluster head's id for duplicate_of
            funnel.originals[(NearDuplicate.name, nd.NEAR_DUPLICATE)] = Originals(
                _ClusterHead(), docs | "head_ids" >> beam.Map(lambda d: (d.metadata["key"], (d.id,)))
            )
        funnel.measure("length", NearDuplicate.name, text_length)  # the dropped editions' sizes too
        return docs

    def settings(self) -> dict:
        """The statistics' `settings`, with the derived Jaccard threshold and LSH split."""
        threshold = self.config.threshold()
        bands, rows = nd.band_params(threshold, self.config.num_perm)
        return {
            **dataclasses.asdict(self.config),
            "jaccard_threshold": round(threshold, 4),
            "lsh_bands": bands,
            "lsh_rows": rows,
            "shingle_chars": nd.SHINGLE_CHARS,
            "files": [label for _, label in self.files],
        }

    def output_name(self) -> FixedName:
        """`books`: one output, sharded by the writer (docs/books/books-<k>-of-<n>.jsonl.gz)."""
        return FixedName(SOURCE)


# The names `lamina corpus` (and the tests) look up in every source module.
CONFIG = BooksConfig
SOURCE_TRANSFORM = BooksSource
