"""`lamina corpus --ledger` on the sample world: one Parquet row per input document; every
ground-truth row's document is in it with the outcome the run wrote (docs/ and dropped/), which meets
the ground truth; every duplicate names the right original by id (exact duplicates: the ground
truth's original; line dedup: the majority owner, computed by hand); a run without --ledger writes
the same bytes; `lamina ledger why` answers for one, with the original's row."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pyarrow.dataset as ds
import pytest

from lamina.ledger.cli import main as ledger_main
from lamina.ledger.rows import truth_key
from lamina.sample.truth import read_truth

pytestmark = pytest.mark.slow
SOURCE_OF = {"ccnet": "commoncrawl"}  # ground truth pipeline -> source (others share the name)
DUPLICATES = {"duplicate_digest", "duplicate_url", "duplicate_content", "near_duplicate"}


@pytest.fixture(scope="module")
def ledger(corpus_run) -> list[dict]:
    return (
        ds.dataset(str(corpus_run / "ledger"), format="parquet", partitioning="hive").to_table().to_pylist()
    )


def _written(corpus_run) -> dict[tuple[str, str], dict]:
    """(source, document id) -> {"outcome", "reason", "metadata"} from the run's written outputs."""
    out = {}
    for sub in ("docs", "dropped"):
        for path in sorted((corpus_run / sub).glob("*/*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    d = json.loads(line)
                    m = d["metadata"]
                    reason = None if sub == "docs" else m["drop_reason"]
                    out[(d["source"], d["id"])] = {"outcome": "kept" if sub == "docs" else "dropped",
                                                   "reason": reason, "metadata": m, "text": d["text"]}  # fmt: skip
    return out


def test_one_row_per_input_document_as_written(corpus_run, ledger):
    for stats_file in sorted((corpus_run / "stats").glob("*.json")):
        stats = json.loads(stats_file.read_text())
        rows = [r for r in ledger if r["source"] == stats_file.stem]
        assert len(rows) == stats["documents_in"], stats_file.stem
        assert Counter(r["reason"] for r in rows if r["outcome"] == "dropped") == Counter(stats["dropped"])
    assert len({(r["source"], r["id"]) for r in ledger}) == len(ledger)  # one row per document
    shown = json.loads((corpus_run / "report" / "report.json").read_text())["ledger"]  # the report links it
    assert {s: v["rows"] for s, v in shown.items()} == Counter(r["source"] for r in ledger)
    written = _written(corpus_run)
    for r in ledger:
        w = written[(r["source"], r["id"])]
        assert (r["outcome"], r["reason"]) == (w["outcome"], w["reason"]), r
        assert r["key"] == truth_key(w["metadata"])


def test_ground_truth_is_found_in_the_ledger(corpus_run, sample_world, ledger):
    by_key = {(r["source"], r["key"]): r for r in ledger}
    agree = Counter()
    for t in read_truth(sample_world / "ground_truth.jsonl"):
        source = SOURCE_OF.get(t["pipeline"], t["pipeline"])
        row = by_key.get((source, t["key"]))
        assert row is not None, f"{source} {t['key']} is not in the ledger"
        expected = ("kept", None) if t["expected"] == "kept" else ("dropped", t["reason"])
        agree[(source, (row["outcome"], row["reason"]) == expected)] += 1
    # The run's own accuracy (tests/pipelines/test_corpus_sample.py): exact but for CommonCrawl's
    # perplexity tail and wikiref models on the sample world.
    for source in ("c4", "github", "wikipedia", "books", "arxiv", "stackexchange"):
        assert agree[(source, False)] == 0, source
    cc_ok, cc_bad = agree[("commoncrawl", True)], agree[("commoncrawl", False)]
    assert cc_ok / (cc_ok + cc_bad) >= 0.95


def test_measured_values_and_thresholds(corpus_run, ledger):
    stats = json.loads((corpus_run / "stats" / "commoncrawl.json").read_text())
    cutoffs = stats["settings"]["cutoffs_applied"]
    cc = [r for r in ledger if r["source"] == "commoncrawl" and r["outcome"] == "dropped"]
    for r in cc:
        if r["reason"] == "language":
            assert r["threshold"] == stats["settings"]["lid_threshold"] and r["value"] is not None
            assert r["value"] < r["threshold"] or not r["detail"].startswith("en ")
        if r["reason"] == "perplexity_tail":
            assert r["threshold"] == pytest.approx(cutoffs["en"]["p60"], abs=0.051)  # the detail's %.1f
            assert r["value"] >= r["threshold"] - 0.05
        if r["reason"] == "wikiref":
            assert r["value"] < r["threshold"] == stats["settings"]["wikiref_threshold"]
        if r["reason"] == "too_short":
            assert r["value"] < r["threshold"] == stats["settings"]["min_length"]


def test_every_duplicate_names_the_right_original(corpus_run, ledger):
    """The original of an exact duplicate is the ONE document of its source that shares the key the
    ledger names (by the dedup stage's own key function) and was not dropped as a duplicate, and
    `duplicate_of` is its id; a near-duplicate book names its cluster's representative."""
    from lamina.documents import Document
    from lamina.pipelines.c4 import UrlDedup
    from lamina.pipelines.ccnet import DigestDedup
    from lamina.pipelines.github import ContentDedup

    key_of = {"duplicate_digest": DigestDedup().key, "duplicate_url": UrlDedup().key,
              "duplicate_content": ContentDedup().key}  # fmt: skip
    written = _written(corpus_run)
    by_id = {(r["source"], r["id"]): r for r in ledger}
    dups = [r for r in ledger if r["reason"] in DUPLICATES]
    assert Counter(r["reason"] for r in dups) == Counter(
        {"duplicate_digest": 8, "duplicate_url": 9, "duplicate_content": 3, "near_duplicate": 1}
    )
    for r in dups:
        s = r["source"]
        if r["reason"] == "near_duplicate":
            original = by_id.get((s, r["duplicate_of"]))  # its id, the head its detail names
            assert original is not None and original["outcome"] == "kept", r
            assert f"near-duplicate of {original['key']} " in r["detail"], r
            continue
        assert r["duplicate_key"], r
        key = key_of[r["reason"]]
        docs = {i: Document(i, s, w["text"], w["metadata"]) for (src, i), w in written.items() if src == s}
        assert key(docs[r["id"]]) == r["duplicate_key"]  # the key is the document's own
        originals = [i for i, d in docs.items() if key(d) == r["duplicate_key"]
                     and written[(s, i)]["reason"] != r["reason"]]  # fmt: skip
        assert originals == [r["duplicate_of"]], (r, originals)


def test_ground_truth_duplicates_name_their_original(sample_world, ledger):
    """Every ground-truth duplicate row of the sample world states its original (the page crawled
    first, the newer page of a URL, the first vendored file): the ledger names that document by id."""
    by_key = {(r["source"], r["key"]): r for r in ledger}
    checked = Counter()
    for t in read_truth(sample_world / "ground_truth.jsonl"):
        if t["reason"] in ("duplicate_digest", "duplicate_url", "duplicate_content"):
            source = SOURCE_OF.get(t["pipeline"], t["pipeline"])
            row, original = by_key[(source, t["key"])], by_key[(source, t["original"])]
            assert row["duplicate_of"] == original["id"] and original["outcome"] == "kept", (t, row)
            checked[t["reason"]] += 1
    assert checked == {"duplicate_digest": 8, "duplicate_url": 9, "duplicate_content": 3}


def _line_owners_by_hand(sample_world, ledger, scope: str) -> dict[str, str | None]:
    """no_lines_left id -> its majority owner, computed here in plain Python from the WET input:
    per distinct line hash of the documents that reached line dedup, the smallest id holding it
    other than the document itself; the most frequent of those; ties by smallest id."""
    from lamina.formats.wet import iter_wet
    from lamina.pipelines.ccnet import LinePayload

    text = {}
    for path in sorted((sample_world / "cc").glob("*/*.warc.wet.gz")):
        for d in iter_wet(path):
            if hasattr(d, "text"):
                text[d.metadata["record_id"]] = d
    cc = [r for r in ledger if r["source"] == "commoncrawl"]
    before = ("read", "too_short", "duplicate_digest")
    reached = [r for r in cc if r["outcome"] == "kept" or r["stage"] not in before]
    payload, holders = LinePayload(scope), {}
    lines = {}
    for r in reached:
        s, hashes = payload(text[r["key"]])
        lines[r["id"]] = {(s, h) for h in hashes}
        for k in lines[r["id"]]:
            holders.setdefault(k, set()).add(r["id"])
    out = {}
    for r in (r for r in cc if r["reason"] == "no_lines_left"):
        owners = Counter(min(holders[k] - {r["id"]}) for k in lines[r["id"]] if holders[k] - {r["id"]})
        out[r["id"]] = min(owners.items(), key=lambda kv: (-kv[1], kv[0]))[0] if owners else None
    return out


def test_no_lines_left_names_the_majority_owner_of_its_lines(corpus_run, sample_world, ledger):
    """Line dedup's drops name the document owning most of their lines (computed by hand here); in
    the sample world each is a site's page of nothing but its boilerplate, and the owner is a kept
    page of the same site."""
    from urllib.parse import urlsplit

    stats = json.loads((corpus_run / "stats" / "commoncrawl.json").read_text())
    expected = _line_owners_by_hand(sample_world, ledger, stats["settings"]["dedup_scope"])
    got = {r["id"]: r["duplicate_of"] for r in ledger if r["reason"] == "no_lines_left"}
    assert got == expected and len(got) >= 3 and all(got.values())
    written, outcome = _written(corpus_run), {r["id"]: r["outcome"] for r in ledger}
    for doc_id, owner in got.items():
        host = urlsplit(written[("commoncrawl", doc_id)]["metadata"]["url"]).hostname
        assert outcome[owner] == "kept"
        assert urlsplit(written[("commoncrawl", owner)]["metadata"]["url"]).hostname == host


def test_without_ledger_outputs_and_statistics_are_byte_identical(
    corpus_run, sample_world, sample_models, tmp_path
):
    """The ledger's originals change the dedup graph only with --ledger: a run without it writes
    the same bytes (documents, dropped documents, statistics) and no ledger."""
    from lamina.pipelines.corpus import main as corpus_main

    out = tmp_path / "no-ledger"
    argv = [
        "--input",
        str(sample_world),
        "--models",
        str(sample_models),
        "--out",
        str(out),
        "--write-dropped",
    ]
    assert corpus_main(argv) == 0
    assert not (out / "ledger").exists()
    for sub in ("docs", "dropped", "stats"):
        a = {
            p.relative_to(corpus_run): p.read_bytes()
            for p in sorted((corpus_run / sub).rglob("*"))
            if p.is_file()
        }
        b = {p.relative_to(out): p.read_bytes() for p in sorted((out / sub).rglob("*")) if p.is_file()}
        assert a.keys() == b.keys() and a == b, sub


def test_ledger_why(corpus_run, ledger, capsys, tmp_path):
    tail = next(r for r in ledger if r["reason"] == "perplexity_tail")
    assert ledger_main(["why", tail["key"], "--corpus", str(corpus_run)]) == 0
    out = capsys.readouterr().out
    assert f"dropped at stage 'buckets', reason 'perplexity_tail'; measured {tail['value']:g}" in out
    assert f"against threshold {tail['threshold']:g}" in out and tail["file"] in out
    dup = next(r for r in ledger if r["reason"] == "duplicate_digest")
    assert ledger_main(["why", dup["id"], "--corpus", str(corpus_run), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["rows"][0]["id"] == dup["id"] and answer["rows"][0]["duplicate_key"] == dup["duplicate_key"]
    assert [o["id"] for o in answer["originals"]] == [dup["duplicate_of"]]
    assert answer["originals"][0]["outcome"] == "kept"
    for reason in ("duplicate_url", "no_lines_left"):  # the original's row is printed under the copy's
        dup = next(r for r in ledger if r["reason"] == reason)
        assert ledger_main(["why", dup["id"], "--corpus", str(corpus_run)]) == 0
        first, *rest = capsys.readouterr().out.splitlines()
        assert f"duplicate of {dup['duplicate_of']}" in first
        assert (
            rest[0].startswith(f"  original: {dup['source']} {dup['duplicate_of']} ") and ": kept" in rest[0]
        )
    book = next(r for r in ledger if r["reason"] == "near_duplicate")
    assert ledger_main(["why", book["key"], "--corpus", str(corpus_run)]) == 0
    out = capsys.readouterr().out
    assert f"duplicate of {book['duplicate_of']}" in out and "  original: " in out
    kept = next(r for r in ledger if r["source"] == "c4" and r["outcome"] == "kept")
    assert ledger_main(["why", kept["id"], "--corpus", str(corpus_run)]) == 0
    assert ": kept" in capsys.readouterr().out
    assert ledger_main(["why", "no-such-document", "--corpus", str(corpus_run)]) == 1
    assert "is not in the ledger" in capsys.readouterr().err
    assert ledger_main(["why", "x", "--corpus", str(tmp_path)]) == 2
    assert "no ledger in" in capsys.readouterr().err


def test_kept_samples_are_kept_documents(corpus_run, ledger):
    """Every source's statistics sample kept documents beside the dropped ones (at most five, with
    their language/bucket as the detail); the ledger agrees they were kept; the page shows them."""
    outcome = {(r["source"], r["id"]): r["outcome"] for r in ledger}
    for stats_file in sorted((corpus_run / "stats").glob("*.json")):
        stats = json.loads(stats_file.read_text())
        kept = stats["samples"]["(kept)"]
        assert 0 < len(kept) <= min(5, stats["documents_kept"]), stats_file.stem
        assert all(outcome[(stats_file.stem, d["id"])] == "kept" for d in kept)
        page = (corpus_run / "report" / f"{stats_file.stem}.html").read_text(encoding="utf-8")
        assert "<h3>kept documents <span" in page
    cc = json.loads((corpus_run / "stats" / "commoncrawl.json").read_text())["samples"]["(kept)"]
    assert all(d["detail"] in ("en_head", "en_middle") and d["url"] for d in cc)
