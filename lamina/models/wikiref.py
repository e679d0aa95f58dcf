"""The Wikipedia-reference classifier (RedPajama): fastText, `__label__wiki` = web pages whose URL a
Wikipedia article cites in a `<ref>`, `__label__cc` = random other web pages.

Memory: the cited URLs are kept as 8-byte hashes in one sorted numpy array (about 8 bytes per cited
URL: ~400 MB for English Wikipedia's ~50M references, instead of a set of strings); the WET pages
stream past; at most `max_positives` cited pages and a seeded uniform sample (reservoir) of at most
`max_negatives` other pages are kept, so memory is bounded by those two numbers, not by the input.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from lamina.documents import Document
from lamina.filters.langid import one_line
from lamina.filters.wikiref import CC_LABEL, WIKI_LABEL, WikiRefClassifier
from lamina.filters.wikitext import ref_urls
from lamina.formats.wikipedia import iter_pages
from lamina.models.common import NotEnoughData, accuracy, fasttext_train, fingerprint, write_json


@dataclasses.dataclass(frozen=True)
class WikiRefConfig:
    dim: int = 16  # embedding size
    # passes. With dozens of examples more passes memorize the training negatives, and a good page
    # drawn as a random negative is then dropped by the pipeline that scores it: on sample worlds of
    # seeds 0-2, 25 passes gave wikiref precision/recall >= 0.93, 50 passes precision 0.75-0.88.
    epoch: int = 25
    lr: float = 0.5  # learning rate
    word_ngrams: int = 2  # word bigrams
    bucket: int = 200_000  # hash buckets for word bigrams (model size: bucket * dim * 4 bytes)
    negatives_per_positive: float = 1.0  # random pages per cited one (RedPajama's 1:1 balance)
    holdout: float = 0.2  # fraction of each class held out for the card's accuracy
    min_positives: int = 10  # fewer cited pages found than this: no model, a one-line message
    max_positives: int = 200_000  # cited pages used at most (memory: held-out share kept in memory)
    max_negatives: int = 200_000  # random pages kept at most (memory: a heap of this many pages)
    threads: int = 1  # fastText threads (1: deterministic)
    seed: int = 0  # sampling and fastText seed


def normalize_url(url: str) -> str:
    """URLs compared loosely: no scheme, no `www.`, no fragment, no trailing slash, host lowercased."""
    url = url.strip().split("#", 1)[0]
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    host = host.lower().removeprefix("www.")
    return f"{host}/{path}".rstrip("/")


def url_hash(url: str) -> int:
    """64-bit hash of a normalized URL."""
    return int.from_bytes(hashlib.sha1(normalize_url(url).encode("utf-8")).digest()[:8], "little")


class CitedUrls:
    """The set of URLs cited in `<ref>`s of the dumps' articles (namespace 0, not redirects), as a
    sorted array of 64-bit hashes; `url in cited` tests one URL."""

    def __init__(self, dumps: Iterable[Path]):
        import numpy as np

        chunks, buf = [], []
        for dump in dumps:
            for page in iter_pages(dump):
                if getattr(page, "ns", None) == 0 and not page.redirect:
                    buf.extend(url_hash(u) for u in ref_urls(page.text))
                    if len(buf) >= 1 << 20:
                        chunks.append(np.unique(np.array(buf, dtype=np.uint64)))
                        buf = []
        chunks.append(np.array(buf, dtype=np.uint64))
        self._hashes = np.unique(np.concatenate(chunks))

    def __len__(self) -> int:
        return int(self._hashes.size)

    def __contains__(self, url: str) -> bool:
        import numpy as np

        h = np.uint64(url_hash(url))
        i = int(np.searchsorted(self._hashes, h))
        return i < self._hashes.size and self._hashes[i] == h


def cited_urls(dumps: Iterable[Path]) -> CitedUrls:
    return CitedUrls(dumps)


def iter_web_pages(files: Iterable[str | Path]) -> Iterator[Document]:
    """Every readable page of WET files (a glob's matches or a list), or of JSON-lines files of web
    documents ({"text", "url"}: C4, CCNet output), one at a time."""
    import gzip
    import json

    from lamina.formats.wet import iter_wet

    for f in files:
        name = str(f)
        if name.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".json")):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(name, "rt", encoding="utf-8") as fh:
                for n, line in enumerate(fh):
                    if line.strip():
                        row = json.loads(line)
                        meta = {**row.get("metadata", {}), "url": row.get("url") or row.get("id", "")}
                        lang = meta.get("language")
                        yield Document(id=f"{name}:{n}", source="web", text=row["text"],
                                       metadata={**meta, **({"language": lang} if lang else {})})  # fmt: skip
        else:
            yield from (d for d in iter_wet(f) if isinstance(d, Document))


def train_wikiref(
    cited: CitedUrls, pages: Iterable[Document], out_dir: Path, cfg: WikiRefConfig, trained_on: dict
) -> dict:
    """positives = pages whose URL is cited, negatives = a seeded sample of the others (both read
    from `pages` in one pass); writes wikiref/. Too few cited pages: `NotEnoughData` (one line)."""
    seen_digests: set[str] = set()
    pos: list[str] = []
    others: list[str] = []  # a reservoir (algorithm R) of at most max_negatives uncited pages
    other_digests: dict[str, int] = {}  # digest -> slot in `others` (exact copies counted once)
    slot_digest: list[str] = []
    reservoir_rng = random.Random(f"{cfg.seed}:negatives")
    n_pages = n_others = 0
    for d in pages:
        if not d.text.strip():
            continue
        n_pages += 1
        url = d.metadata.get("url", "")
        digest = d.metadata.get("digest") or d.id
        if url and url in cited:
            if digest not in seen_digests and len(pos) < cfg.max_positives:
                seen_digests.add(digest)
                pos.append(d.text)
            continue
        if digest in other_digests:
            continue
        n_others += 1
        if len(others) < cfg.max_negatives:
            other_digests[digest] = len(others)
            others.append(d.text)
            slot_digest.append(digest)
        else:
            j = reservoir_rng.randrange(n_others)
            if j < cfg.max_negatives:
                del other_digests[slot_digest[j]]
                other_digests[digest] = j
                others[j], slot_digest[j] = d.text, digest
    if len(pos) < cfg.min_positives or not others:
        raise NotEnoughData(
            f"reference classifier: {len(pos)} cited pages and {n_pages - len(pos)} others found in "
            f"{trained_on.get('web_files', '?')} web files ({len(cited)} URLs cited by the dumps); need at "
            f"least {cfg.min_positives} cited: pass --wet with WET files holding pages the dumps cite, "
            f"or --only lid lm to skip it"
        )
    rng = random.Random(cfg.seed)
    rng.shuffle(others)
    neg = others[: max(1, round(len(pos) * cfg.negatives_per_positive))]
    rng.shuffle(pos)
    train: list[tuple[str, str]] = []
    held: list[tuple[str, str]] = []
    for label, texts in ((WIKI_LABEL, pos), (CC_LABEL, neg)):
        n_held = int(len(texts) * cfg.holdout) if len(texts) >= 5 else 0
        held += [(label, t) for t in texts[:n_held]]
        train += [(label, t) for t in texts[n_held:]]
    rng.shuffle(train)
    out = Path(out_dir) / "wikiref"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    lr_used = fasttext_train(
        (f"{label} {one_line(text)}" for label, text in train), out / "wikiref.bin",
        dim=cfg.dim, epoch=cfg.epoch, lr=cfg.lr, wordNgrams=cfg.word_ngrams, bucket=cfg.bucket,
        thread=cfg.threads, seed=cfg.seed, loss="softmax",
    )  # fmt: skip
    clf = WikiRefClassifier(out / "wikiref.bin")
    acc, per = accuracy(lambda ts: [WIKI_LABEL if p >= 0.5 else CC_LABEL for p in clf.prob_many(ts)], held)
    card = {
        "model": "fastText Wikipedia-reference classifier (RedPajama): P(__label__wiki)",
        "file": "wikiref.bin",
        "trained_on": {
            **trained_on,
            "cited_urls": len(cited),
            "web_pages": n_pages,
            "positives": len(pos),
            "negatives": len(neg),
            "train_examples": len(train),
        },  # fmt: skip
        "settings": {**dataclasses.asdict(cfg), "lr_used": lr_used},
        "held_out": {"examples": len(held), "accuracy_at_0.5": acc, "per_label": per},
        **fingerprint(out / "wikiref.bin"),
        "train_seconds": round(time.time() - t0, 1),
    }
    write_json(out / "card.json", card)
    return card
