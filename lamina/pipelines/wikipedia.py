"""The Wikipedia pipeline as one composite PTransform: dumps -> cleaned articles, counted.

    files (expanded when the pipeline is built) -> read pages (one worker per dump file, streaming)
    -> Reshuffle (pages spread over workers) -> articles (namespace 0, no redirects, markup cleaned:
    `lamina.formats.wikipedia.page_to_document`) -> docs/wikipedia/<lang>-<k>-of-<n>.jsonl.gz

Reading a dump is sequential (bz2 and XML), cleaning (mwparserfromhell) is the expensive part, so
pages are shuffled to all workers before it. Drops: `namespace`, `redirect`, `too_long` (wikitext over
`max_text_chars`), `empty` (nothing left after cleaning), and per file `truncated`, `malformed_xml`,
`invalid_encoding` (the file ends there; pages before it count) or `malformed_record` (the file
cannot be opened).
Only dumps of `languages` are read (LLaMA's 20); other dumps found under the input are listed in
the statistics' settings as skipped.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from lamina.documents import Document
from lamina.filters.binary import BINARY, binary_reason
from lamina.formats import wikipedia as wiki
from lamina.pipelines.accounting import DROPPED, TALLY, Dropped, Funnel, Stage
from lamina.pipelines.readers import (
    READ,
    expand_inputs,
    file_failed,
    file_read,
    read_drop,
    read_files,
    read_kept,
)
from lamina.pipelines.writers import MetadataName

SOURCE = "wikipedia"
LLAMA_LANGUAGES = (
    "bg", "ca", "cs", "da", "de", "en", "es", "fr", "hr", "hu",
    "it", "nl", "pl", "pt", "ro", "ru", "sl", "sr", "sv", "uk",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class WikipediaConfig:
    languages: tuple[str, ...] = LLAMA_LANGUAGES  # dump languages read (LLaMA: June-August 2022, 20)
    max_text_chars: int = wiki.DEFAULT_MAX_TEXT_CHARS  # characters of wikitext; longer: too_long
    file_pattern: str = "*wiki*"  # file names looked for when the input is a folder


def select_dumps(files: list[tuple[str, str]], languages: tuple[str, ...]) -> tuple[list, list[str]]:
    """(dumps to read, labels of the dumps skipped for their language). A file whose name has no
    language (`<lang>wiki-...`) is read: its `<mediawiki xml:lang>` decides."""
    keep, skipped = [], []
    for path, label in files:
        lang = wiki.dump_language(label)
        (keep if not lang or lang in languages else skipped).append((path, label))
    return keep, [label for _, label in skipped]


def _wiki_drop(d: wiki.WikiDrop) -> Dropped:
    meta = {"key": d.key, "title": d.title, "file": d.file}
    return Dropped(d.reason, Document(d.id, SOURCE, "", meta), d.detail)


class _ReadPagesFn(beam.DoFn):
    """One dump file -> (Page, SiteInfo) per page; a broken file ends with one counted drop."""

    def __init__(self, max_text_chars: int):
        self.max_text_chars = max_text_chars

    def process(self, path_label):
        path, label = path_label
        try:
            f = FileSystems.open(path, compression_type="uncompressed")
        except Exception as e:  # noqa: BLE001 - a file we cannot open is a failed file, counted
            yield from file_failed(path, e)
            return
        site = wiki.SiteInfo()
        with f:
            pages = wiki.iter_pages(
                path, fileobj=f, label=label, max_text_chars=self.max_text_chars, on_error="drop", site=site
            )
            for item in pages:
                if isinstance(item, wiki.WikiDrop):
                    yield from read_drop(_wiki_drop(item))
                else:
                    yield from read_kept((item, site))
        yield from file_read()


class Articles(Stage):
    """(Page, SiteInfo) -> the cleaned article, or namespace / redirect / too_long / empty / binary."""

    name = "articles"

    def setup(self):
        self._cleaners: dict = {}

    def apply(self, element, **side):
        page, site = element
        key = (page.lang, tuple(sorted(site.namespaces.items())))
        cleaner = self._cleaners.get(key)
        if cleaner is None:
            cleaner = self._cleaners[key] = wiki.cleaner_for(page.lang, site)
        out = wiki.page_to_document(page, cleaner, site)
        if isinstance(out, wiki.WikiDrop):
            return _wiki_drop(out)
        why = binary_reason(out.text)
        if why:
            return Dropped(BINARY, out.with_metadata(key=page.key), why)
        return out.with_metadata(key=page.key)


class WikipediaSource(beam.PTransform):
    """Read + clean: the Wikipedia branch of `lamina corpus` up to the writer. Applied to a
    pipeline's root; outputs the kept articles; registers its stages in `funnel`."""

    def __init__(self, spec: str, config: WikipediaConfig, funnel: Funnel):
        super().__init__()
        self.spec, self.config, self.funnel = spec, config, funnel
        self.files: list[tuple[str, str]] = []
        self.skipped: list[str] = []

    def expand(self, pbegin):
        cfg, funnel = self.config, self.funnel
        self.files, self.skipped = select_dumps(
            expand_inputs(self.spec, pattern=cfg.file_pattern), cfg.languages
        )
        read = read_files(pbegin, self.files, _ReadPagesFn(cfg.max_text_chars), "read_pages", SOURCE)
        funnel.add_stage(READ, read[DROPPED], read[TALLY])
        pages = read.docs | "spread_pages" >> beam.Reshuffle()
        docs = funnel.apply(pages, Articles())
        funnel.distribution(
            docs | "length" >> beam.Map(lambda d: (d.metadata["lang"], d.id, len(d.text))),
            "length",
            "articles",
        )
        return docs

    def settings(self) -> dict:
        """The statistics' `settings` (after the transform is applied: it lists the files read)."""
        files = [label for _, label in self.files]
        return {**dataclasses.asdict(self.config), "files": files, "skipped_files": self.skipped}

    def output_name(self) -> MetadataName:
        """`<lang>`: one output per dump language (docs/wikipedia/<lang>-<k>-of-<n>.jsonl.gz)."""
        return MetadataName("lang", "unknown")


# The names `lamina corpus` (and the tests) look up in every source module.
CONFIG = WikipediaConfig
SOURCE_TRANSFORM = WikipediaSource
