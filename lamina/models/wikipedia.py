"""Wikipedia dumps as the models' training text, streamed: one page in memory at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from lamina.documents import Document
from lamina.filters.langid import one_line
from lamina.formats.wikipedia import dump_language, read_wikipedia


def wikipedia_dumps(sample_dir: Path) -> list[Path]:
    """The sample world's dumps, `<sample>/wikipedia/<lang>wiki-*.xml(.bz2)`."""
    d = Path(sample_dir) / "wikipedia"
    dumps = sorted(p for p in d.glob("*wiki-*.xml*") if dump_language(p))
    if not dumps:
        raise FileNotFoundError(
            f"no Wikipedia dumps (<lang>wiki-*.xml.bz2) under {d}; run `lamina sample` first"
        )
    return dumps


def dump_languages(dumps: Iterable[Path], languages: Iterable[str] | None = None) -> list[str]:
    """The languages of the dumps (from their file names), restricted to `languages` if given."""
    wanted = set(languages) if languages else None
    return sorted({lang for p in dumps if (lang := dump_language(p)) and (wanted is None or lang in wanted)})


def iter_documents(dumps: Iterable[Path], lang: str) -> Iterator[Document]:
    """Cleaned articles of the dumps of language `lang`, one at a time."""
    for dump in dumps:
        if dump_language(dump) == lang:
            yield from (d for d in read_wikipedia(dump) if isinstance(d, Document))


def wikipedia_documents(
    dumps: Iterable[Path], languages: Iterable[str] | None = None
) -> dict[str, list[Document]]:
    """Cleaned articles per dump language, in memory (for tests and small dumps; training streams)."""
    dumps = list(dumps)
    return {lang: list(iter_documents(dumps, lang)) for lang in dump_languages(dumps, languages)}


def paragraphs(text: str, min_chars: int) -> list[str]:
    return [p for p in (one_line(line) for line in text.split("\n")) if len(p) >= min_chars]
