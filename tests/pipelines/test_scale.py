"""Scale properties of the corpus pipelines, on real Beam (FnApiRunner): bounded, deterministic
output shards, and dedup that never holds the documents of one key (a line hash shared by 50,000
documents, one page served 5,000 times) in one worker -- checked by instrumenting the per-key code
path and by the `lamina.scale` group-size metrics every grouped DoFn emits."""

from __future__ import annotations

import gzip
import json
import math

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to

from lamina.documents import Document, stable_id
from lamina.pipelines import ccnet
from lamina.pipelines.accounting import Funnel
from lamina.pipelines.ccnet import DigestDedup, LineDedup, LineDedupApply
from lamina.pipelines.corpus import build_source
from lamina.pipelines.writers import SCALE_NAMESPACE, FixedName, ShardLimit, WriteDocs, shard_of
from tests.pipelines.conftest import FN_API_RUNNER, in_process_pipeline
from tests.sources.conftest import read_docs


def letters(i: int) -> str:
    """A word unique to i that survives dedup normalization (digits would all become 0)."""
    return "".join(chr(97 + (i // 26**k) % 26) for k in range(4))


def docs_of(n: int, source: str = "c4") -> list[Document]:
    return [
        Document(stable_id(source, str(i)), source, f"page {letters(i)} text", {"url": f"http://x/{i}"})
        for i in range(n)
    ]


def write(docs, out, limit, options=()):
    p = BeamPipeline(runner=FN_API_RUNNER, options=PipelineOptions(list(options)))
    written = p | beam.Create(docs) | WriteDocs(str(out), FixedName("c4"), limit=limit)
    assert_that(written | beam.Map(lambda t: t[1]) | beam.CombineGlobally(sum), equal_to([len(docs)]))
    result = p.run()
    result.wait_until_finish()
    return result


def tree(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def group_metric(result, name: str):
    found = result.metrics().query(MetricsFilter().with_namespace(SCALE_NAMESPACE).with_name(name))
    """(groups, largest group) over every step that reported `name`."""
    dists = [d.committed for d in found["distributions"] if d.committed is not None and d.committed.count]
    assert dists, f"no step reported {SCALE_NAMESPACE}/{name}"
    return sum(d.count for d in dists), max(d.max for d in dists)


def test_shard_limit_derives_the_count_from_documents_and_bytes():
    assert ShardLimit(1000, 0).shards(5000, 10**12) == 5
    assert ShardLimit(1000, 0).shards(5001, 0) == 6 and ShardLimit(1000, 0).shards(0, 0) == 1
    assert ShardLimit(10**9, 100).shards(3, 250) == 3  # the byte bound wins
    with pytest.raises(ValueError, match="documents must be >= 1"):
        ShardLimit(0)


def test_5000_documents_at_1000_per_shard_write_5_bounded_shards_identical_on_rerun(tmp_path):
    docs = docs_of(5000)
    limit = ShardLimit(documents=1000, bytes=0)
    result = write(docs, tmp_path / "a", limit)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [f"c4-{k:05d}-of-00005.jsonl.gz" for k in range(5)]  # no temporary file left
    seen = []
    for k, name in enumerate(names):
        with gzip.open(tmp_path / "a" / name, "rt", encoding="utf-8") as f:
            shard = [Document.from_json(line) for line in f]
        ids = [d.id for d in shard]
        assert ids == sorted(ids) and {shard_of(i, 5) for i in ids} == {k}
        assert len(shard) <= 1000 + 3 * math.sqrt(1000)  # the mean is the limit; binomial excess
        seen += shard
    assert sorted(seen, key=lambda d: d.id) == sorted(docs, key=lambda d: d.id)
    # the largest group a worker held is one shard, reported in the lamina.scale metrics
    groups, largest = group_metric(result, "group_elements")
    assert groups == 5 and largest == max(len(gzip.open(tmp_path / "a" / n).readlines()) for n in names)
    # rerun: other worker count, other input order -> the same bytes
    write(
        docs[::-1], tmp_path / "b", limit, ["--direct_num_workers=2", "--direct_running_mode=multi_threading"]
    )
    assert tree(tmp_path / "b") == tree(tmp_path / "a")


def test_bytes_bound_splits_an_output_of_large_documents(tmp_path):
    docs = [Document(stable_id("c4", str(i)), "c4", letters(i) * 2500) for i in range(40)]  # ~10 kB each
    write(docs, tmp_path, ShardLimit(documents=10**6, bytes=100_000))
    assert len(list(tmp_path.iterdir())) == 5  # 40 x ~10 kB / 100 kB


@pytest.mark.slow
def test_a_line_hash_shared_by_50000_documents_never_materializes_their_ids(monkeypatch):
    """Every document holds "Skip to content" plus a line of its own. The per-hash path is the
    CountOwner combine; instrumented here, it must only ever see its bounded accumulator (count
    <= 2, one owner), and no grouped value anywhere in line/digest dedup may exceed one document
    and its own lines. A GroupByKey of ids per hash (the old design) fails both."""
    n = 50_000
    docs = [
        Document(
            stable_id("commoncrawl", str(i)),
            "commoncrawl",
            f"Skip to content\nThe own words of page {letters(i)}",
            {"digest": f"sha1:{i}", "dump": "D", "file": "f", "record": i},
        )
        for i in range(n)
    ]
    calls = {"add": 0, "merge": 0}
    add, merge = ccnet.CountOwner.add_input, ccnet.CountOwner.merge_accumulators

    def checked(acc):
        assert (
            isinstance(acc, tuple)
            and len(acc) == 2
            and acc[0] <= 2
            and (acc[1] is None or isinstance(acc[1], str))
        )
        return acc

    def add_input(self, acc, doc_id):
        calls["add"] += 1
        assert isinstance(doc_id, str)
        return checked(add(self, checked(acc), doc_id))

    def merge_accumulators(self, accs):
        calls["merge"] += 1
        return checked(merge(self, [checked(a) for a in accs]))

    monkeypatch.setattr(ccnet.CountOwner, "add_input", add_input)
    monkeypatch.setattr(ccnet.CountOwner, "merge_accumulators", merge_accumulators)
    p = in_process_pipeline()
    f = Funnel("commoncrawl", "ccnet")
    joined = f.apply(p | beam.Create(docs, reshuffle=False) | LineDedup("run", digest=True), DigestDedup())
    kept = f.apply(joined, LineDedupApply())
    texts = kept | beam.Map(lambda d: d.text.startswith("The own words of page ") and "\n" not in d.text)
    assert_that(texts | beam.combiners.Count.PerElement(), equal_to([(True, n)]))
    result = p.run()
    result.wait_until_finish()
    assert calls["add"] == 2 * n and calls["merge"] >= 1  # every line went through the bounded combine
    groups, largest = group_metric(result, "group_elements")
    assert groups == 2 * n and largest <= 2  # digest groups: 1 document; line groups: + 1 own line


def test_a_page_served_5000_times_keeps_one_copy_from_small_records(tmp_path):
    """KeepFirst on a hot digest: the first by (dump, file, record) is kept, every other copy drops
    with the digest in its detail, and no group held more than one document."""
    n = 5_000
    docs = [
        Document(
            stable_id("commoncrawl", str(i)),
            "commoncrawl",
            "The same page body\nwith two lines",
            {"digest": "sha1:HOT", "dump": "D", "file": f"f{i % 7}", "record": i},
        )
        for i in range(n)
    ]
    p = in_process_pipeline()
    f = Funnel("commoncrawl", "ccnet")
    kept = f.apply(p | beam.Create(docs) | LineDedup("run", digest=True), DigestDedup())
    kept = f.apply(kept, LineDedupApply())
    assert_that(
        kept | beam.Map(lambda d: (d.metadata["record"], d.text)), equal_to([(0, docs[0].text)]), label="kept"
    )
    details = f.all_drops() | beam.Map(lambda sd: (sd[1].reason, sd[1].detail))
    assert_that(
        details | beam.combiners.Count.PerElement(),
        equal_to([(("duplicate_digest", "same digest as an earlier document (digest sha1:HOT)"), n - 1)]),
        label="drops",
    )
    result = p.run()
    result.wait_until_finish()
    # n digest groups of one document each, then one line group: the kept copy and its 2 own lines
    assert group_metric(result, "group_elements") == (n + 1, 3)


def test_every_output_of_a_source_and_every_drop_reason_is_sharded_by_the_limit(sample_world, tmp_path):
    """GitHub on the sample world at 2 documents per shard: kept documents and each drop reason get
    ceil(count / 2) files -- all of them, empty ones included -- holding what one file per output holds."""

    def run(out, limit):
        p = BeamPipeline(runner=FN_API_RUNNER, options=PipelineOptions([]))
        build_source(p, "github", str(sample_world / "github"), str(out), None, True, limit)
        p.run().wait_until_finish()
        return json.loads((out / "stats" / "github.json").read_text())

    st = run(tmp_path / "small", ShardLimit(documents=2, bytes=0))
    run(tmp_path / "one", None)
    counts = {("docs", "github"): st["documents_kept"]} | {
        ("dropped", r): n for r, n in st["dropped"].items()
    }
    assert st["documents_kept"] > 2 and max(st["dropped"].values()) > 2
    for (sub, name), count in counts.items():
        n = math.ceil(count / 2)
        files = sorted(p.name for p in (tmp_path / "small" / sub / "github").glob(f"{name}-*"))
        assert files == [f"{name}-{k:05d}-of-{n:05d}.jsonl.gz" for k in range(n)]
    for sub in ("docs", "dropped"):
        small, one = (read_docs(tmp_path / d / sub / "github") for d in ("small", "one"))
        assert sorted(d.to_json() for d in small) == sorted(d.to_json() for d in one)
        assert len(small) == (st["documents_kept"] if sub == "docs" else sum(st["dropped"].values()))


def test_shuffle_volume_counts_what_each_design_shuffles():
    """measure(): two copies of a page (one digest) and a shared line. Previous design: 3 body
    shuffles; now: 2, and the digest combine carries small records, not documents."""
    from lamina.pipelines.shuffle_volume import measure

    def page(i, digest, text):
        meta = {"digest": digest, "dump": "D", "file": "f", "record": i}
        return Document(stable_id("commoncrawl", str(i)), "commoncrawl", text, meta)

    body = "Skip to content\n" + "a long own sentence of the first page " * 20
    docs = [
        page(0, "sha1:A", body),
        page(1, "sha1:A", body),
        page(2, "sha1:B", "Skip to content\nother words"),
    ]
    input_bytes, shuffles = measure(docs)
    by = {(s.design, s.stage.split(" ")[0]): s for s in shuffles}
    assert input_bytes == sum(len(d.text) for d in docs)
    assert sum(s.bodies for s in shuffles if s.design == "previous") == 3
    assert sum(s.bodies for s in shuffles if s.design == "now") == 2
    assert by["now", "first_digest"].elements == 3 and by["now", "first_digest"].after_lift == 2
    assert by["now", "first_digest"].bytes < by["previous", "group_digest"].bytes / 3
    # winners 0 and 2 hold 2 lines each; "skip to content" is shared, the other two are unique
    assert by["now", "count_lines"].elements == 4 and by["now", "count_lines"].after_lift == 3
    assert by["now", "join_lines"].elements == 3 + 2 + 2  # documents + digest winners + unique lines
    assert by["previous", "join_dups"].elements == 2 + 2  # surviving documents + their duplicated hash
