"""`lamina refilter` on the sample world: re-deciding an annotated run under new thresholds gives
byte for byte what a full rerun with those thresholds gives (kept shards, annotated store,
statistics), annotate mode changes no output, and a setting refilter cannot change is one line,
exit 2. The timings are printed (docs/refilter.md has the measured figures), never asserted."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import pytest

from lamina.documents import Document
from lamina.pipelines.corpus import run as corpus_run
from lamina.refilter.cli import main as refilter_main
from lamina.refilter.cli import run as refilter_run
from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS

SOURCE = "commoncrawl"
BEAM = [f"--runner={FN_API_RUNNER}", *IN_PROCESS]


def _corpus(world: Path, models: Path, out: Path, *extra: str, source: str = SOURCE) -> float:
    argv = ["--input", str(world), "--models", str(models), "--out", str(out), "--sources", source]
    argv += [*BEAM, *extra]
    t0 = time.monotonic()
    corpus_run(argv)
    return time.monotonic() - t0


def _outputs(root: Path, source: str = SOURCE) -> dict[str, bytes]:
    """The bytes of every file the source's refilter owns: kept shards, annotated store, statistics."""
    files = [*sorted((root / "docs" / source).glob("*")), *sorted((root / "annotated" / source).glob("*"))]
    files.append(root / "stats" / f"{source}.json")
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def _ids(root: Path, folder: str, source: str = SOURCE) -> dict[str, str]:
    out = {}
    for p in sorted((root / folder / source).glob("*.jsonl.gz")):
        with gzip.open(p, "rt", encoding="utf-8") as f:
            for line in f:
                d = Document.from_json(line)
                out[d.id] = d.text
    return out


@pytest.fixture(scope="module")
def annotated(sample_world, sample_models, tmp_path_factory) -> Path:
    """One annotated CommonCrawl run with the default thresholds."""
    out = tmp_path_factory.mktemp("annotated")
    _corpus(sample_world, sample_models, out, "--annotate")
    return out


def test_annotate_mode_changes_no_output(annotated, sample_world, sample_models, tmp_path, capsys):
    """The kept shards and statistics of an annotated run equal a plain run's (only the recorded
    `annotate` setting differs); the annotated store holds every threshold-stage drop."""
    plain = tmp_path / "plain"
    plain_s = _corpus(sample_world, sample_models, plain)
    again = tmp_path / "again"
    annot_s = _corpus(sample_world, sample_models, again, "--annotate")
    with capsys.disabled():
        print(f"\nannotate mode: {annot_s:.1f} s vs plain {plain_s:.1f} s ({annot_s / plain_s:.2f}x)")
    for name in ("en_head-00000-of-00001.jsonl.gz", "en_middle-00000-of-00001.jsonl.gz"):
        assert (plain / "docs" / SOURCE / name).read_bytes() == (
            annotated / "docs" / SOURCE / name
        ).read_bytes()
    a, b = (json.loads((r / "stats" / f"{SOURCE}.json").read_text()) for r in (annotated, plain))
    assert a["settings"].pop("annotate") is True and b["settings"].pop("annotate") is False
    assert a == b
    assert not (plain / "annotated").exists()
    dropped = {e["stage"]: sum(e["dropped"].values()) for e in a["funnel"]}
    stored = _ids(annotated, "annotated")
    assert len(stored) == dropped["language"] + dropped["buckets"] + dropped["wikiref"] > 0
    # every document a threshold stage dropped carries every score a later stage needs
    for p in (annotated / "annotated" / SOURCE).glob("*.jsonl.gz"):
        with gzip.open(p, "rt", encoding="utf-8") as f:
            for line in f:
                m = Document.from_json(line).metadata
                assert "language_score" in m and "wiki_prob" in m
                assert ("perplexity" in m) == (m["language"] == "en"), m  # no LM for de/fr: not scored


@pytest.mark.parametrize(
    "sets",
    [
        ["ccnet.lid_threshold=0.25"],  # lower: pages LID dropped now meet the LM and the classifier
        ["ccnet.lid_threshold=0.999"],  # higher: kept pages drop as language
        ['ccnet.keep_buckets=["head"]', "ccnet.wikiref_threshold=0.1", "ccnet.lid_threshold=0.3"],
        ["ccnet.cutoffs=run", "ccnet.lid_threshold=0.3"],  # p30/p60 recomputed from the new survivors
        ["ccnet.wikiref=false"],  # a stage fewer
    ],
    ids=["lid-lower", "lid-higher", "buckets-wikiref-lid", "run-cutoffs", "no-wikiref"],
)
def test_refilter_equals_full_rerun(annotated, sample_world, sample_models, tmp_path, sets, capsys):
    full = tmp_path / "full"
    args = [a for s in sets for a in ("--set", s)]
    full_s = _corpus(sample_world, sample_models, full, "--annotate", *args)
    out = tmp_path / "refiltered"
    t0 = time.monotonic()
    got = refilter_run(["--corpus", str(annotated), "--out", str(out), *args, *BEAM])
    refilter_s = time.monotonic() - t0
    with capsys.disabled():
        print(f"\n{' '.join(sets)}: refilter {refilter_s:.1f} s, full rerun {full_s:.1f} s "
              f"({refilter_s / full_s:.2f}x)")  # fmt: skip
    assert got[SOURCE]["stats"]["conservation_ok"]
    stats = json.loads((out / "stats" / f"{SOURCE}.json").read_text())
    base = json.loads((annotated / "stats" / f"{SOURCE}.json").read_text())
    # the change moved documents between stages (else the comparison below proves nothing)
    assert stats["funnel"][-4:] != base["funnel"][-4:]
    assert _ids(out, "docs") == _ids(full, "docs")  # the same kept set, ids and texts
    expected, actual = _outputs(full), _outputs(out)
    assert sorted(actual) == sorted(expected)
    assert [k for k in expected if expected[k] != actual[k]] == []  # shards, store and statistics
    # stages before the first threshold-only stage keep the run's counts
    n = [e["stage"] for e in base["funnel"]].index("language")
    assert stats["funnel"][:n] == base["funnel"][:n] and stats["files"] == base["files"]


def test_refilter_records_its_provenance_and_reports(annotated, tmp_path):
    """run.json of the refiltered corpus names the command, the new config and the corpus it read,
    keeps the original run's inputs and models; `lamina report` renders it."""
    from lamina.reports.cli import main as report_main

    out = tmp_path / "r"
    assert (
        refilter_main(
            ["--corpus", str(annotated), "--out", str(out), "--set", "ccnet.lid_threshold=0.3", *BEAM]
        )
        == 0
    )
    original = json.loads((annotated / "run.json").read_text())["runs"][-1]
    (rec,) = json.loads((out / "run.json").read_text())["runs"]
    assert rec["tool"] == "lamina refilter" and rec["sources"] == [SOURCE]
    assert rec["config"]["resolved"]["ccnet"]["lid_threshold"] == 0.3
    assert rec["inputs"] == original["inputs"] and rec["models"] == original["models"]
    assert rec["refilter_of"] == {
        "corpus": str(annotated),
        "started": original["started"],
        "seconds": original["seconds"],
    }
    assert report_main(["--corpus", str(out)]) == 0
    page = (out / "report" / "index.html").read_text()
    assert "lamina refilter --corpus" in page


@pytest.fixture(scope="module")
def annotated_c4(sample_world, sample_models, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("annotated_c4")
    _corpus(sample_world, sample_models, out, "--annotate", source="c4")
    return out


# Lower only: every kept sample-world C4 page records a langdetect score of 1.0, so no valid (<= 1)
# higher threshold moves a page (1.01, which dropped them all, is now refused as no probability);
# raising a threshold is covered by CCNet's 0.999 and GitHub's stricter cases.
@pytest.mark.parametrize("threshold", ["0.25"], ids=["lower"])
def test_c4_language_threshold_equals_full_rerun(
    annotated_c4, sample_world, sample_models, tmp_path, threshold
):
    """C4's language test is its last stage: the pages it dropped (stored with their langdetect
    score) and the kept ones are re-decided; every other stage keeps its counts."""
    sets = ["--set", f"c4.lid_threshold={threshold}"]
    full = tmp_path / "full"
    _corpus(sample_world, sample_models, full, "--annotate", *sets, source="c4")
    out = tmp_path / "refiltered"
    refilter_run(["--corpus", str(annotated_c4), "--out", str(out), *sets, *BEAM])
    assert _ids(out, "docs", "c4") != _ids(annotated_c4, "docs", "c4")  # pages moved
    expected, actual = _outputs(full, "c4"), _outputs(out, "c4")
    assert sorted(actual) == sorted(expected)
    assert [k for k in expected if expected[k] != actual[k]] == []
    stats = json.loads((out / "stats" / "c4.json").read_text())
    assert stats["conservation_ok"] and stats["settings"]["badwords_list"]


@pytest.fixture(scope="module")
def annotated_github(sample_world, sample_models, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("annotated_github")
    _corpus(sample_world, sample_models, out, "--annotate", source="github")
    return out


@pytest.mark.parametrize(
    "sets",
    [
        ["github.max_mean_line_length=200.0"],  # looser: a dropped file is kept
        ["github.min_alpha_per_token=3.2", "github.min_alnum_fraction=0.52"],  # stricter: kept files drop
    ],
    ids=["looser", "stricter"],
)
def test_github_quality_thresholds_equal_full_rerun(
    annotated_github, sample_world, sample_models, tmp_path, sets
):
    """GitHub's quality rules are its last stage: the cleaned files it dropped (stored with their
    four statistics) and the kept ones are re-decided; the lines entering it are the run's."""
    args = [a for s in sets for a in ("--set", s)]
    full = tmp_path / "full"
    _corpus(sample_world, sample_models, full, "--annotate", *args, source="github")
    out = tmp_path / "refiltered"
    refilter_run(["--corpus", str(annotated_github), "--out", str(out), *args, *BEAM])
    assert _ids(out, "docs", "github") != _ids(annotated_github, "docs", "github")  # files moved
    expected, actual = _outputs(full, "github"), _outputs(out, "github")
    assert sorted(actual) == sorted(expected)
    assert [k for k in expected if expected[k] != actual[k]] == []


def test_refilter_chains_and_runs_in_place(annotated, tmp_path, capsys):
    """Refilter's output is itself annotated: 0.25 then back to 0.5 in place is the original run.
    In place, the source's dropped/ (old thresholds) is removed, and stale shards are named."""
    work = tmp_path / "work"
    shutil.copytree(annotated, work)
    (work / "dropped" / SOURCE).mkdir(parents=True)
    (work / "dropped" / SOURCE / "language-00000-of-00001.jsonl.gz").write_bytes(b"stale")
    (work / "shards").mkdir()
    (work / "shards" / "manifest.json").write_text("{}")  # shards of the documents kept before
    assert refilter_main(["--corpus", str(work), "--set", "ccnet.lid_threshold=0.25", *BEAM]) == 0
    said = capsys.readouterr().out
    assert f"removed {work}/dropped/{SOURCE}" in said
    assert f"{work}/shards/ hold the documents kept before: rerun `lamina tokenizer shards" in said
    assert _outputs(work) != _outputs(annotated)
    assert not (work / "dropped" / SOURCE).exists() and not (work / ".staging").exists()
    assert refilter_main(["--corpus", str(work), "--set", "ccnet.lid_threshold=0.5", *BEAM]) == 0
    assert _outputs(work) == _outputs(annotated)


@pytest.mark.parametrize(
    ("setting", "named", "why"),
    [
        ("ccnet.min_length=200", "ccnet.min_length", "line dedup"),
        ("ccnet.dedup_scope=dump", "ccnet.dedup_scope", "line dedup"),
        ("ccnet.scoring=line", "ccnet.scoring", "LMs must run again"),
        ('ccnet.languages=["en", "de"]', "ccnet.languages", "['de']"),
        ("books.threshold=0.5", "books.threshold", "[books]"),
        ("ccnet.lid_threshold=high", "lid_threshold", "expected a number"),
        ("ccnet.cutoffs=run2", "cutoffs", "unknown preset"),
    ],
)
def test_refused_settings_are_one_line(annotated, setting, named, why, capsys):
    assert refilter_main(["--corpus", str(annotated), "--set", setting, *BEAM]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lamina refilter: ")
    assert named in err and why in err, err


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("c4.min_sentences=2", "before the language test"),
        ("c4.language=de", "bad-words list"),
        ("c4.language_id=fasttext", "another model"),
    ],
)
def test_refused_c4_settings_are_one_line(annotated_c4, setting, why, capsys):
    assert refilter_main(["--corpus", str(annotated_c4), "--set", setting, *BEAM]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and setting.split("=")[0] in err and why in err, err


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("github.remove_boilerplate=false", "changes the text"),
        ("github.token_mode=pretoken", "the score itself"),
        ('github.licenses=["mit"]', "before the quality rules"),
    ],
)
def test_refused_github_settings_are_one_line(annotated_github, setting, why, capsys):
    assert refilter_main(["--corpus", str(annotated_github), "--set", setting, *BEAM]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and setting.split("=")[0] in err and why in err, err


def test_refuses_a_run_without_annotations_or_a_lost_store(annotated, tmp_path, capsys):
    plain = tmp_path / "plain"
    shutil.copytree(annotated, plain)
    stats = plain / "stats" / f"{SOURCE}.json"
    data = json.loads(stats.read_text())
    data["settings"]["annotate"] = False
    stats.write_text(json.dumps(data))
    assert refilter_main(["--corpus", str(plain), "--set", "ccnet.lid_threshold=0.6", *BEAM]) == 2
    err = capsys.readouterr().err
    assert "not annotated" in err and "lamina corpus --annotate" in err
    lost = tmp_path / "lost"
    shutil.copytree(annotated, lost)
    next((lost / "annotated" / SOURCE).glob("wikiref-*")).unlink()
    assert refilter_main(["--corpus", str(lost), "--set", "ccnet.lid_threshold=0.6", *BEAM]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "conservation fails" in err and "annotated/commoncrawl" in err
    assert refilter_main(["--corpus", str(tmp_path / "none"), "--set", "ccnet.lid_threshold=0.6"]) == 2
    assert "no statistics" in capsys.readouterr().err


def test_dataflow_dry_run_builds_the_job(annotated, capsys):
    """The refilter is a Beam pipeline like the run: Dataflow builds it offline (nothing written)."""
    repo = Path(__file__).resolve().parents[2]
    argv = ["--corpus", str(annotated), "--out", "gs://placeholder-bucket/refiltered", "--set",
            "ccnet.lid_threshold=0.6", "--runner=DataflowRunner", "--project=placeholder-project",
            "--region=us-central1", "--temp_location=gs://placeholder-bucket/tmp", "--dry_run=True",
            f"--setup_file={repo / 'setup.py'}"]  # fmt: skip
    job = refilter_run(argv)[SOURCE]["job"].job
    names = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
    for stage in ("language", "perplexity", "buckets", "wikiref", "write_annotated", "write_stats"):
        assert any(n == stage or n.endswith(f"/{stage}") or n.startswith(f"{stage}/") for n in names), stage


def test_a_mistyped_option_is_one_line(annotated, capsys):
    assert refilter_main(["--corpus", str(annotated), "--ot", "x", "--set", "ccnet.lid_threshold=0.6"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--ot" in err and "--out" in err, err


def test_a_corpus_option_is_one_line_not_ignored(tmp_path, capsys):
    """`--sources c4` (lamina corpus's) is not a Beam option to drop with a warning: the user meant
    to choose a source, and refilter would re-decide another without a word."""
    argv = ["--corpus", str(tmp_path), "--set", "ccnet.lid_threshold=0.6", "--sources", "c4"]
    assert refilter_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--sources is a `lamina corpus` option" in err, err


def _ledger_rows(root: Path, source: str = SOURCE) -> list[tuple]:
    import pyarrow.parquet as pq

    rows = []
    for p in sorted((root / "ledger" / f"source={source}").glob("*.parquet")):
        t = pq.read_table(p).to_pylist()
        rows += [tuple(sorted(r.items())) for r in t]
    return sorted(rows, key=repr)


def test_refilter_rewrites_the_ledger_as_a_full_rerun_would(sample_world, sample_models, tmp_path):
    """A run with --ledger: the refilter's ledger has a full rerun's rows (re-decided documents
    anew, the earlier stages' drops copied from the run's ledger)."""
    base = tmp_path / "base"
    _corpus(sample_world, sample_models, base, "--annotate", "--ledger")
    sets = ["--set", "ccnet.lid_threshold=0.3", "--set", "ccnet.wikiref_threshold=0.4"]
    full = tmp_path / "full"
    _corpus(sample_world, sample_models, full, "--annotate", "--ledger", *sets)
    out = tmp_path / "refiltered"
    refilter_run(["--corpus", str(base), "--out", str(out), *sets, *BEAM])
    expected, got = _ledger_rows(full), _ledger_rows(out)
    stats = json.loads((out / "stats" / f"{SOURCE}.json").read_text())
    assert len(got) == stats["documents_in"] and got != _ledger_rows(base)
    assert got == expected
