"""Book-level near-duplicate detection: MinHash over 6-character shingles, LSH banding, clusters.

RedPajama compares 64-bit simhashes of 6-character shingles (Hamming distance <= 5) to remove books
"with more than 90% content overlap". Here the scalable equivalent: MinHash signatures of the
shingle sets and locality-sensitive hashing (datasketch's `MinHash` and its optimal band/row split,
the one `MinHashLSH` uses), candidates verified by their estimated Jaccard similarity.

The threshold mapping: two books of equal length that share a fraction `o` of their shingles have
Jaccard J = o / (2 - o); "more than 90% overlap" is o > 0.9, so J > 0.9 / 1.1 = 0.818. That is
`jaccard_threshold(0.9)`, the default.

Text is normalized before shingling (lowercased, runs of whitespace -> one space), so two editions
wrapped at different widths or with CRLF vs LF line ends compare by their words.

Which book of a cluster is kept: the one with the smallest `book_rank` (the file name in natural
order, so pg1342 < pg20100 and `..._2015-edition` < `..._2023-edition`; ties by document id): the
earliest edition stays. Clusters are the connected components of the "near-duplicate" relation
(`clusters` below, a union-find over the candidate edges).

Pure Python + numpy (datasketch); the Beam wiring is `lamina.pipelines.books`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

NEAR_DUPLICATE = "near_duplicate"
SHINGLE_CHARS = 6  # RedPajama's shingle size (characters)
NUM_PERM = 128  # MinHash permutations: standard error of the Jaccard estimate ~ 1/sqrt(128) = 0.09
SEED = 1  # MinHash permutation seed: the same signatures on every worker and run
OVERLAP = 0.9  # LLaMA/RedPajama: books with more than 90% content overlap are near-duplicates

_NON_WORD = re.compile(r"[\W_]+")  # punctuation, underscores (italics), whitespace
CHUNK = 16_384  # shingle hashes per MinHash update (bounds the hashes x permutations matrix: 16 MiB)
_DIGITS = re.compile(r"(\d+)")


def jaccard_threshold(overlap: float = OVERLAP) -> float:
    """Jaccard similarity of two equal-sized shingle sets sharing `overlap` of their shingles."""
    return overlap / (2.0 - overlap)


def normalize(text: str) -> str:
    """Lowercase words separated by single spaces: typography (curly vs straight quotes, `_italic_`
    underscores, dashes, line wrapping) differs between editions of one book and is not content."""
    return _NON_WORD.sub(" ", text.lower()).strip()


def shingles(text: str, k: int = SHINGLE_CHARS) -> set[str]:
    """The set of k-character shingles of the normalized text (a text shorter than k: itself).
    The plain reference of `shingle_hashes`."""
    t = normalize(text)
    if len(t) <= k:
        return {t}
    return {t[i : i + k] for i in range(len(t) - k + 1)}


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads a polynomial hash over all 64 bits."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def shingle_hash(shingle: str) -> int:
    """The 32-bit hash of one shingle (the plain reference of the vectorized `shingle_hashes`)."""
    return int(shingle_hashes_of_codes(np.array([ord(c) for c in shingle], dtype=np.uint64), len(shingle))[0])


def shingle_hashes_of_codes(codes: np.ndarray, k: int) -> np.ndarray:
    """32-bit hashes of every k-gram of a code point array (uint64), vectorized."""
    n = len(codes) - k + 1
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):  # polynomial hash mod 2^64 of the k code points
            h = h * np.uint64(1_000_003) + codes[j : j + n]
        return _mix64(h) & np.uint64(0xFFFFFFFF)


def shingle_hashes(text: str, k: int = SHINGLE_CHARS) -> np.ndarray:
    """The sorted distinct 32-bit hashes of the text's k-character shingles (numpy, no Python loop
    per shingle: a 1 MB book takes ~0.1 s instead of seconds)."""
    t = normalize(text)
    codes = np.frombuffer(t.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < k:  # a tiny text is one shingle, padded
        codes = np.concatenate([codes, np.zeros(k - len(codes), dtype=np.uint64)])
    return np.unique(shingle_hashes_of_codes(codes, k))


def signature(text: str, num_perm: int = NUM_PERM) -> np.ndarray:
    """MinHash signature (uint64 array of `num_perm`) of the text's 6-character shingles:
    datasketch's `MinHash` fed the shingle hashes (its hash function is the identity on them)."""
    m = MinHash(num_perm=num_perm, seed=SEED, hashfunc=_identity)
    hashes = shingle_hashes(text)
    for i in range(0, len(hashes), CHUNK):
        m.update_batch(hashes[i : i + CHUNK].tolist())
    return np.asarray(m.hashvalues, dtype=np.uint64)


def _identity(h: int) -> int:
    return h


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The MinHash estimate of the Jaccard similarity: the fraction of equal signature values."""
    return float(np.count_nonzero(a == b)) / len(a)


def band_params(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows per band) minimizing false positives + false negatives around `threshold`
    (datasketch MinHashLSH's own choice, equal weights)."""
    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[tuple[int, bytes]]:
    """(band index, band bytes): two books sharing any key are candidate near-duplicates."""
    return [(b, sig[b * rows : (b + 1) * rows].tobytes()) for b in range(bands)]


def book_rank(name: str, doc_id: str = "") -> tuple:
    """Natural-order sort key of a book's file name (digits compared as numbers), then its id."""
    parts = _DIGITS.split(name)
    return (tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p), doc_id)


def clusters(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Union-find over near-duplicate edges: node -> the smallest (by `<`) member of its cluster.
    Nodes are sortable keys; only nodes that appear in an edge are returned."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in sorted(edges):
        ra, rb = find(a), find(b)
        if ra != rb:
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            parent[hi] = lo
    return {x: find(x) for x in sorted(parent)}
