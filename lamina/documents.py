"""The one record type that flows through the data half of Lamina.

A `Document` is what every reader emits, every filter inspects and every writer stores. Filtered
documents are written as compressed JSON Lines, one `Document.to_json()` per line, under
`<out>/docs/<source>/...`; `Document.from_json` reads them back (the shard writer does).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

# The seven LLaMA-1 sources, in the order of LLaMA's Table 1.
SOURCES = ("commoncrawl", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange")


ID_BITS = 128  # bits of hash in an id: P(any collision) ~ n^2 / 2^129, 1e-20 at 3e9 documents


def stable_id(source: str, *parts: str) -> str:
    """A deterministic id: `<source>/<32 hex>`, 128 bits of BLAKE2b over the parts.

    The same record read twice (or on another worker) gets the same id, so outputs are reproducible
    and a repeated input repeats its ids. Pass what identifies the record in its input: for files,
    the input identity of the file and the record's index there (WET: dump + CommonCrawl file name
    + record, `lamina.formats.wet.record_key`); for Wikipedia: dump language and page id. With 64
    bits, 3e9 documents would hold ~0.24 colliding pairs per dump (a collision merges two documents
    in an id-keyed join); with 128 bits ~1e-20.
    """
    h = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=ID_BITS // 8).hexdigest()
    return f"{source}/{h}"


@dataclasses.dataclass(frozen=True)
class Document:
    id: str  # stable id, `<source>/<32 hex>` (128 bits), see `stable_id`
    source: str  # one of SOURCES (or a user's own source name)
    text: str  # the document text, UTF-8, lines separated by "\n"
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)  # url, language, perplexity, ...

    def replace(self, **changes: Any) -> Document:
        """A copy with some fields changed (documents are immutable)."""
        return dataclasses.replace(self, **changes)

    def with_metadata(self, **fields: Any) -> Document:
        """A copy whose metadata has `fields` added or overwritten."""
        return dataclasses.replace(self, metadata={**self.metadata, **fields})

    def to_json(self) -> str:
        """One JSON line; keys sorted so that equal documents serialize to equal bytes."""
        return json.dumps(
            {"id": self.id, "source": self.source, "text": self.text, "metadata": self.metadata},
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, line: str | bytes) -> Document:
        d = json.loads(line)
        return cls(id=d["id"], source=d["source"], text=d["text"], metadata=d.get("metadata") or {})
