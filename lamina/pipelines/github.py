"""The GitHub pipeline (RedPajama's rules, docs/sources.md) as one composite PTransform.

Stages, in the order that names a drop (interfaces.md):
  read (malformed_record: a row without repo_name/path; binary: NUL/control characters, see
     `lamina.filters.binary`)
  -> license: the repository's license is not MIT / BSD / Apache
  -> duplicate_content: exact dedup on sha256 of the file content across the whole input; the first
     file by (repo_name, path) is kept (the same choice on every runner and every re-run, whatever
     order the files arrive in), found on small records and joined back by id (accounting.KeepFirst)
  -> extension: the path does not end in RedPajama's whitelist (Dockerfile / Makefile by name)
  -> quality: boilerplate removal (leading copyright block or comment lines), then max_line_length,
     mean_line_length, alnum_fraction, alpha_per_token on the cleaned text
The rules are the pure functions of `lamina.filters.github`; this module only wires them.

Entry point for `lamina corpus` (the protocol of every source module, `corpus.build_source`):
`SOURCE_TRANSFORM(spec, config, funnel)` applied to the pipeline root reads and filters, registering
every stage in `funnel`; its `output_name()` names the output file of a kept document, its
`settings()` the statistics' settings.
"""

from __future__ import annotations

import dataclasses
import hashlib

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from lamina.documents import Document
from lamina.filters import github as rules
from lamina.formats import github as fmt
from lamina.pipelines.accounting import (
    DROPPED,
    TALLY,
    Dropped,
    Funnel,
    KeepFirst,
    KeepFirstDedup,
    Meta,
    Stage,
    text_length,
)
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


@dataclasses.dataclass(frozen=True)
class GitHubPipelineConfig(rules.GitHubConfig):
    """The `[github]` table of the corpus config: the rules' settings plus where rows come from."""

    input_format: str = "auto"  # "auto" (by file name) | "parquet" | "jsonl" | "bigquery" (live query)
    bigquery_project: str = ""  # GCP project billed for the query (bigquery mode; "" = the default)
    bigquery_limit: int = 0  # rows (bigquery mode); 0 = no LIMIT
    # keep the files the quality rules drop, cleaned and with their statistics, under annotated/
    # (`lamina corpus --annotate`), so `lamina refilter` re-thresholds without a rerun
    annotate: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.input_format not in ("auto", "parquet", "jsonl", "bigquery"):
            raise ValueError(
                f"github.input_format: auto, parquet, jsonl or bigquery, not {self.input_format!r}"
            )


def input_files(spec: str) -> list[tuple[str, str]]:
    """(path, label) of the export files under `spec` (a file, folder or glob): parquet and JSON lines."""
    found: set[tuple[str, str]] = set()
    for pattern in ("*.parquet", "*.jsonl", "*.jsonl.gz", "*.json", "*.json.gz"):
        try:
            found.update(expand_inputs(spec, pattern=pattern))
        except NoInputFiles:
            pass
    if not found:
        raise NoInputFiles(f"no GitHub export files (*.parquet, *.jsonl[.gz], *.json[.gz]) under {spec}")
    return sorted(found)


def _drop(d: fmt.RowDrop):
    doc = Document(d.id, fmt.SOURCE, "", {"file": d.file, "record": d.record})
    yield from read_drop(Dropped(d.reason, doc, d.detail))


def _emit(items):
    for item in items:
        if isinstance(item, fmt.RowDrop):
            yield from _drop(item)
        else:
            yield from read_kept(item)


class _ReadFilesFn(beam.DoFn):
    def __init__(self, input_format: str):
        self.input_format = input_format

    def process(self, path_label):
        path, label = path_label
        try:
            f = FileSystems.open(path, compression_type="uncompressed")
        except Exception as e:  # noqa: BLE001 - an unreadable file is a failed file, counted
            yield from file_failed(path, e)
            return
        with f:
            yield from _emit(fmt.iter_rows(f, label, self.input_format))
        yield from file_read()


class _QueryFn(beam.DoFn):
    def __init__(self, cfg: GitHubPipelineConfig):
        self.cfg = cfg

    def process(self, _):
        cfg = self.cfg
        rows = fmt.iter_bigquery(cfg.licenses, cfg.bigquery_project or None, cfg.bigquery_limit or None)
        yield from _emit(rows)


class ReadGitHub(beam.PTransform):
    """Export files (or the live query) -> Documents, plus `dropped` and `tally` like `ReadWet`."""

    def __init__(self, spec: str, cfg: GitHubPipelineConfig):
        super().__init__()
        self.spec = spec
        self.cfg = cfg

    def expand(self, pbegin):
        outputs = (DROPPED, TALLY)
        if self.cfg.input_format == "bigquery":
            return (
                pbegin
                | "query" >> beam.Create([self.spec])
                | "read_bigquery" >> beam.ParDo(_QueryFn(self.cfg)).with_outputs(*outputs, main="docs")
            )
        return read_files(
            pbegin, input_files(self.spec), _ReadFilesFn(self.cfg.input_format), "read_rows", fmt.SOURCE
        )


class License(Stage):
    name = "license"

    def __init__(self, cfg: rules.GitHubConfig):
        self.cfg = cfg

    def apply(self, doc, **side):
        lic = doc.metadata.get("license", "")
        if not rules.license_ok(lic, self.cfg):
            return Dropped(
                rules.LICENSE, doc, f"license {lic or 'none'!r} not in {', '.join(self.cfg.licenses)}"
            )
        return doc


def content_hash(doc: Document) -> str:
    """sha256 of the content; a binary file (no text) is identified by its git blob id."""
    if doc.metadata.get("binary") and not doc.text:
        return "blob:" + (doc.metadata.get("blob_id") or doc.id)
    return hashlib.sha256(doc.text.encode("utf-8")).hexdigest()


class ContentDedup(KeepFirst):
    """Of the files with one content hash, the first by (repo_name, path) is kept (RedPajama's exact
    dedup, over the whole input, before the extension filter)."""

    name = rules.DUPLICATE_CONTENT
    what = "content"

    def key(self, doc: Document) -> str:
        return content_hash(doc)

    def order(self, doc: Document):
        m = doc.metadata
        return (m.get("repo_name", ""), m.get("path", ""), doc.id)


class Extension(Stage):
    name = "extension"

    def __init__(self, cfg: rules.GitHubConfig):
        self.cfg = cfg

    def apply(self, doc, **side):
        path = doc.metadata.get("path", "")
        if not rules.extension_ok(path, self.cfg):
            return Dropped(rules.EXTENSION, doc, f"{path.rsplit('/', 1)[-1]} is not a whitelisted code file")
        return doc


class Quality(Stage):
    """Boilerplate removal, then the line-length and character thresholds on the cleaned text.
    Threshold-only, like CCNet's `Scored` stages: `annotate` cleans and records the statistics
    (rounded), `decide` is the pure verdict on the recorded ones (`lamina refilter` re-decides with
    `annotated` set)."""

    name = "quality"
    counts_lines = True
    annotated = False

    def __init__(self, cfg: rules.GitHubConfig):
        self.cfg = cfg

    def annotate(self, doc):
        text = rules.remove_boilerplate(doc.text) if self.cfg.remove_boilerplate else doc.text
        s = rules.text_stats(text, self.cfg)
        return doc.replace(text=text).with_metadata(
            max_line_length=s.max_line_length,
            mean_line_length=round(s.mean_line_length, 2),
            alnum_fraction=round(s.alnum_fraction, 4),
            alpha_per_token=round(s.alpha_per_token, 4),
        )

    def decide(self, doc, **side):
        recorded = rules.TextStats(*(doc.metadata[k] for k, _, _ in QUALITY_MEASURES))
        reason, detail = rules.check_quality(recorded, self.cfg)
        return Dropped(reason, doc, detail) if reason else doc

    def apply(self, doc, **side):
        return self.decide(doc if self.annotated else self.annotate(doc))

    def lines_of(self, element, result):
        return sum(1 for line in element.text.split("\n") if line.strip())


class GitHub(beam.PTransform):
    """Documents (from `ReadGitHub`) -> kept, cleaned files; every stage registered in `funnel`."""

    def __init__(self, config: rules.GitHubConfig, funnel: Funnel):
        super().__init__()
        self.config = config
        self.funnel = funnel
        self.scored_drops: list = []  # after expand: the drops of the quality stage

    def expand(self, docs):
        cfg, f = self.config, self.funnel
        docs = f.apply(docs, License(cfg))
        f.measure("length", License.name, text_length)  # characters of every file read
        docs = f.apply(docs | "content_dedup_shuffle" >> KeepFirstDedup(ContentDedup(), f), ContentDedup())
        docs = f.apply(docs, Extension(cfg))
        return self.scored(docs, annotated=False)

    def scored(self, docs, annotated: bool):
        """The quality stage, GitHub's only threshold-only stage (it is last: every file reaching it
        has its statistics). `annotated`: the files are cleaned and carry them (`lamina refilter`).
        Its drops are kept in `scored_drops` (written under annotated/ with `annotate`)."""
        f = self.funnel
        quality = Quality(self.config)
        quality.annotated = annotated
        docs = f.apply(docs, quality)
        self.scored_drops = [f.drops[-1]]
        # every file that reached the quality rules, by outcome (the first rule a file fails drops it)
        for name, setting, keep in QUALITY_MEASURES:
            f.measure(name, Quality.name, Meta(name), thresholds=[(setting, keep)])
        return docs


# The quantities the quality rules hold to a threshold: (metadata key, setting, kept side).
QUALITY_MEASURES = [
    ("max_line_length", "max_line_length", "keep <="),
    ("mean_line_length", "max_mean_line_length", "keep <="),
    ("alnum_fraction", "min_alnum_fraction", "keep >="),
    ("alpha_per_token", "min_alpha_per_token", "keep >="),
]


class GitHubSource(beam.PTransform):
    """Read + filter: the whole GitHub branch of `lamina corpus` up to the writer."""

    def __init__(self, spec: str, config: GitHubPipelineConfig, funnel: Funnel):
        super().__init__()
        self.spec = spec
        self.config = config
        self.funnel = funnel
        self.scored_drops: list = []  # after expand: the threshold-only stage's drops (corpus --annotate)

    def expand(self, pbegin):
        read = pbegin | "read" >> ReadGitHub(self.spec, self.config)
        self.funnel.add_stage(READ, read[DROPPED], read[TALLY])
        github = GitHub(self.config, self.funnel)
        kept = read.docs | "filter" >> github
        self.scored_drops = github.scored_drops
        return kept

    def settings(self) -> dict:
        """The statistics' `settings`: the config as given."""
        return dataclasses.asdict(self.config)

    def output_name(self) -> FixedName:
        """`github`: one output, sharded by the writer (github-<k>-of-<n>.jsonl.gz)."""
        return FixedName("github")


# The names `lamina corpus` (and the tests) look up in every source module.
CONFIG = GitHubPipelineConfig
SOURCE_TRANSFORM = GitHubSource
