"""The arXiv pipeline (docs/sources.md, arXiv) as one composite PTransform.

Stages:
  read: each source file (gzipped tar or gzipped .tex, one per paper) is read in memory into a
     `Paper` (`lamina.formats.arxiv`); a corrupt archive is `malformed_record`, one over the size caps
     `too_long`, one without TeX `no_tex`, each naming the file
  -> clean: the main file with its inputs inlined, cleaned by `lamina.filters.latex.clean_paper`
     (comments, preamble, bibliography and after, user macros expanded with their arguments);
     a paper with no sectioning command is `no_section`
Kept documents carry `arxiv_id` (the ground-truth key), `url`, `main`, `tex_files`, `macros` and
`macro_expansions`.

Entry point for `lamina corpus` (the protocol of every source module, `corpus.build_source`):
`SOURCE_TRANSFORM(spec, config, funnel)` applied to the pipeline root; its `output_name()` names the
output file of a kept document, its `settings()` the statistics' settings.
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from lamina.documents import Document, stable_id
from lamina.filters import latex
from lamina.filters.binary import BINARY, binary_reason
from lamina.formats import arxiv as fmt
from lamina.pipelines.accounting import DROPPED, TALLY, Dropped, Funnel, Meta, Stage
from lamina.pipelines.readers import (
    READ,
    NoInputFiles,
    expand_inputs,
    file_failed,
    file_read,
    read_drop,
    read_files,
    read_kept,
)
from lamina.pipelines.writers import FixedName

PATTERNS = ("*.gz", "*.tgz", "*.tar", "*.tex")  # *.gz covers <id>.tar.gz and <id>.gz


@dataclasses.dataclass(frozen=True)
class ArxivPipelineConfig(fmt.ArchiveLimits):
    """The `[arxiv]` table of the corpus config: the archive caps (output shards: `[run]`)."""


def input_files(spec: str) -> list[tuple[str, str]]:
    """(path, label) of the paper source files under `spec` (a file, folder or glob)."""
    found: set[tuple[str, str]] = set()
    for pattern in PATTERNS:
        try:
            found.update(expand_inputs(spec, pattern=pattern))
        except NoInputFiles:
            pass
    if not found:
        raise NoInputFiles(f"no arXiv source files ({', '.join(PATTERNS)}) under {spec}")
    return sorted(found)


def _drop_doc(pid: str, label: str) -> Document:
    return Document(stable_id(fmt.SOURCE, pid), fmt.SOURCE, "", {"arxiv_id": pid, "key": pid, "file": label})


class _ReadPapersFn(beam.DoFn):
    def __init__(self, limits: fmt.ArchiveLimits):
        self.limits = limits

    def process(self, path_label):
        path, label = path_label
        cap = self.limits.max_compressed_bytes
        try:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                data = f.read(cap + 1)
        except Exception as e:  # noqa: BLE001 - an unreadable file is a failed file, counted
            yield from file_failed(path, e)
            return
        item = fmt.read_paper(data, label, self.limits)
        if isinstance(item, fmt.PaperDrop):
            yield from read_drop(Dropped(item.reason, _drop_doc(item.id, item.file), item.detail))
        else:
            yield from read_kept(item)
        yield from file_read()


class ReadArxiv(beam.PTransform):
    """Source files -> `Paper`s (main output), plus `dropped` and `tally` like `ReadWet`."""

    def __init__(self, spec: str, limits: fmt.ArchiveLimits):
        super().__init__()
        self.spec = spec
        self.limits = limits

    def expand(self, pbegin):
        return read_files(
            pbegin, input_files(self.spec), _ReadPapersFn(self.limits), "read_papers", fmt.SOURCE
        )


class CleanLatex(Stage):
    """Paper -> cleaned Document, or `no_section`, or `binary` (NUL/control characters)."""

    name = "clean"
    counts_lines = True

    def apply(self, paper: fmt.Paper, **side):
        merged, used = fmt.merged_main(paper)
        others = [paper.files[k] for k in sorted(paper.files) if k not in used]
        c = latex.clean_paper(merged, others)
        meta = {
            "arxiv_id": paper.id,
            "key": paper.id,
            "url": f"https://arxiv.org/abs/{paper.id}",
            "file": paper.file,
            "main": paper.main,
            "tex_files": len(paper.files),
            "macros": c.macros,
            "macro_expansions": c.expansions,
        }
        if paper.skipped:
            meta["skipped_members"] = list(paper.skipped)
        doc = Document(stable_id(fmt.SOURCE, paper.id), fmt.SOURCE, c.text, meta)
        if c.reason:
            return Dropped(
                c.reason, doc.replace(text=merged), "no sectioning command after \\begin{document}"
            )
        why = binary_reason(doc.text)
        return Dropped(BINARY, doc, why) if why else doc

    def lines_of(self, element, result):
        return sum(1 for text in element.files.values() for line in text.split("\n") if line.strip())


class Arxiv(beam.PTransform):
    """Papers (from `ReadArxiv`) -> cleaned documents; every stage registered in `funnel`."""

    def __init__(self, funnel: Funnel):
        super().__init__()
        self.funnel = funnel

    def expand(self, papers):
        f = self.funnel
        docs = f.apply(papers, CleanLatex())
        f.distribution(docs | "length" >> beam.Map(lambda d: ("", d.id, len(d.text))), "length", "clean")
        f.measure("macro_expansions", CleanLatex.name, Meta("macro_expansions"))
        return docs


class ArxivSource(beam.PTransform):
    """Read + clean: the whole arXiv branch of `lamina corpus` up to the writer."""

    def __init__(self, spec: str, config: ArxivPipelineConfig, funnel: Funnel):
        super().__init__()
        self.spec = spec
        self.config = config
        self.funnel = funnel

    def expand(self, pbegin):
        read = pbegin | "read" >> ReadArxiv(self.spec, self.config)
        self.funnel.add_stage(READ, read[DROPPED], read[TALLY])
        return read.docs | "filter" >> Arxiv(self.funnel)

    def settings(self) -> dict:
        """The statistics' `settings`: the config as given."""
        return dataclasses.asdict(self.config)

    def output_name(self) -> FixedName:
        """`arxiv`: one output, sharded by the writer (arxiv-<k>-of-<n>.jsonl.gz)."""
        return FixedName("arxiv")


# The names `lamina corpus` (and the tests) look up in every source module.
CONFIG = ArxivPipelineConfig
SOURCE_TRANSFORM = ArxivSource
