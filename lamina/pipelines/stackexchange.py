"""The StackExchange pipeline as one composite PTransform: Posts.xml dumps -> Q&A threads.

    files -> read rows (one worker per file, streaming, `lamina.formats.stackexchange`) -> key each row
    by its thread ((site, question Id) for questions, (site, ParentId) for answers) -> GroupByKey
    -> threads -> docs/stackexchange/<site>-<k>-of-<n>.jsonl.gz

A document is a question thread: `Q: <title>\n<body>\nA: <answer>...`, answers by integer score,
highest first, ties by id (`lamina.filters.stackexchange`; RedPajama sorts the score strings: BUG).
Every row ends up counted exactly once, in the `threads` stage (the first stage: a thread is only
known once its rows are grouped): a question is its thread (kept); its answers are part of it; and
these are drops, each with the row as the dropped document:
- `not_question`: rows of other post types (tag wiki excerpts and bodies, moderator nominations,
  wiki placeholders, privilege wikis: PostTypeId 3-8), which are not Q&A;
- `orphan_answer`: an answer whose question is not in the file (deleted or filtered upstream);
- `malformed_record`: a row without a numeric Id / PostTypeId / Score, an answer without ParentId, a
  second question with the same Id, or a file that cannot be opened;
- `malformed_xml`: broken XML or compression; the file ends there (rows before it count).
Threads are grouped by a shuffle, so no worker holds more than one thread (a file's rows are
streamed, one row in memory at a time).
"""

from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from lamina.documents import Document, stable_id
from lamina.filters.binary import BINARY, binary_reason
from lamina.filters.stackexchange import answer_order, thread_text
from lamina.formats.stackexchange import ANSWER, QUESTION, Post, PostDrop, html_to_text, iter_posts, site_of
from lamina.pipelines.accounting import Dropped, Funnel, Stage, group_size
from lamina.pipelines.readers import expand_inputs, file_failed, file_read, read_files
from lamina.pipelines.writers import MetadataName

SOURCE = "stackexchange"


@dataclasses.dataclass(frozen=True)
class StackExchangeConfig:
    file_pattern: str = "*Posts.xml*"  # file names looked for when the input is a folder
    # (<site>/Posts.xml as in the dump, or <site>-Posts.xml[.gz|.bz2])


def _read_rows(path_label):
    """One Posts file -> (thread key, Post | PostDrop) for every row."""
    path, label = path_label
    site = site_of(label)
    try:
        f = FileSystems.open(path, compression_type="uncompressed")
    except Exception as e:  # noqa: BLE001 - a file we cannot open is a failed file, counted
        yield from file_failed(path, e)
        return
    with f:
        for item in iter_posts(path, fileobj=f, label=label, site=site):
            if isinstance(item, PostDrop):
                yield (site, "x", label, item.row), item
            elif item.post_type == QUESTION:
                yield (site, "t", item.id), item
            elif item.post_type == ANSWER:
                yield (site, "t", item.parent_id), item
            else:
                yield (site, "p", item.id), item
    yield from file_read()


class _ReadRowsFn(beam.DoFn):
    """`_read_rows` as a DoFn (so `read_files` counts its files and reports its progress)."""

    def process(self, path_label):
        yield from _read_rows(path_label)


def _row_document(p: Post | PostDrop) -> Document:
    """A row that is not a thread, as a dropped document (its text, when it has one)."""
    if isinstance(p, PostDrop):
        meta = {"key": f"{p.site}:{p.post_id}", "site": p.site, "file": p.file, "row": p.row}
        return Document(stable_id(SOURCE, p.site, p.file, str(p.row)), SOURCE, "", meta)
    meta = {"key": f"{p.site}:{p.id}", "site": p.site, "post_type": p.post_type, "file": p.file, "row": p.row}
    return Document(stable_id(SOURCE, p.site, "post", str(p.id)), SOURCE, html_to_text(p.body), meta)


def thread_document(question: Post, answers: list[Post]) -> Document:
    """The thread of `question` as a Document (metadata: the answers in their order, with scores)."""
    ordered = answer_order(answers)
    site, qid = question.site, question.id
    return Document(
        id=stable_id(SOURCE, site, str(qid)),
        source=SOURCE,
        text=thread_text(question, ordered),
        metadata={
            "key": f"{site}:{qid}",
            "site": site,
            "question_id": qid,
            "title": question.title,
            "url": f"https://{site}/questions/{qid}",
            "tags": question.tags,
            "score": question.score,
            "created": question.created,
            "answer_ids": [a.id for a in ordered],
            "answer_scores": [a.score for a in ordered],
            "file": question.file,
        },
    )


class Threads(Stage):
    """(thread key, rows) -> one verdict per question thread and per row that is not part of one."""

    name = "threads"

    def results(self, element, **side):
        key, items = element
        items = sorted(items, key=lambda p: (p.file, p.row))
        group_size().update(len(items), sum(len(getattr(p, "body", "")) for p in items))
        if key[1] == "x":
            for d in items:
                yield Dropped(d.reason, _row_document(d), d.describe())
            return
        if key[1] == "p":
            for p in items:
                yield Dropped("not_question", _row_document(p), f"PostTypeId {p.post_type}")
            return
        questions = [p for p in items if p.post_type == QUESTION]
        answers = [p for p in items if p.post_type == ANSWER]
        if not questions:
            for a in answers:
                yield Dropped("orphan_answer", _row_document(a), f"question {a.parent_id} is not in {a.file}")
            return
        doc = thread_document(questions[0], answers)
        why = binary_reason(doc.text)
        yield Dropped(BINARY, doc, why) if why else doc
        for q in questions[1:]:
            detail = (
                f"{q.file} row {q.row}: a second question with Id {q.id} (first at row {questions[0].row})"
            )
            yield Dropped("malformed_record", _row_document(q), detail)


class StackExchangeSource(beam.PTransform):
    """Read + thread: the StackExchange branch of `lamina corpus` up to the writer. Applied to a
    pipeline's root; outputs the kept threads; registers its stage in `funnel`."""

    def __init__(self, spec: str, config: StackExchangeConfig, funnel: Funnel):
        super().__init__()
        self.spec, self.config, self.funnel = spec, config, funnel
        self.files: list[tuple[str, str]] = []

    def expand(self, pbegin):
        funnel = self.funnel
        self.files = expand_inputs(self.spec, pattern=self.config.file_pattern)
        rows = read_files(pbegin, self.files, _ReadRowsFn(), "read_rows", SOURCE)
        funnel.add_tally(rows.tally)  # file tallies only: the rows are judged by `threads`
        grouped = rows.docs | "group_threads" >> beam.GroupByKey()
        docs = funnel.apply(grouped, Threads())
        answers = docs | "answers" >> beam.Map(
            lambda d: (d.metadata["site"], d.id, len(d.metadata["answer_ids"]))
        )
        funnel.distribution(answers, "answers_per_thread", Threads.name)
        funnel.distribution(
            docs | "length" >> beam.Map(lambda d: (d.metadata["site"], d.id, len(d.text))),
            "length",
            Threads.name,
        )
        return docs

    def settings(self) -> dict:
        """The statistics' `settings` (after the transform is applied: it lists the files read)."""
        return {**dataclasses.asdict(self.config), "files": [label for _, label in self.files]}

    def output_name(self) -> MetadataName:
        """`<site>`: one output per site (docs/stackexchange/<site>-<k>-of-<n>.jsonl.gz)."""
        return MetadataName("site")


# The names `lamina corpus` (and the tests) look up in every source module.
CONFIG = StackExchangeConfig
SOURCE_TRANSFORM = StackExchangeSource
