"""Distributions of the quantities that decide drops, over EVERY document that reached the deciding
stage, tagged with its outcome there: the counts per outcome are the funnel's counts for that stage
(the stage's whole population, not the sample), the sample is bounded per outcome, the thresholds
drawn are the applied values, and the page's search filters the samples (headless Chromium)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest

from lamina.documents import Document
from lamina.pipelines import accounting
from lamina.pipelines.accounting import Dropped, Funnel, Stage
from lamina.reports.html import fmt
from lamina.reports.plots import heights, stage_histogram_data
from lamina.reports.stats import parse_stats
from tests.pipelines.conftest import in_process_pipeline

# (source, distribution, deciding stage, thresholds (setting, keep side) or None for perplexity cutoffs)
DECIDING = [
    ("commoncrawl", "length", "too_short", [("min_length", "keep >=")]),
    ("commoncrawl", "language_score", "language", [("lid_threshold", "keep >=")]),
    ("commoncrawl", "perplexity", "buckets", None),
    ("commoncrawl", "wiki_prob", "wikiref", [("wikiref_threshold", "keep >=")]),
    ("c4", "length", "too_long", [("max_page_length", "keep <=")]),
    ("c4", "language_score", "language", [("lid_threshold", "keep >=")]),
    ("github", "max_line_length", "quality", [("max_line_length", "keep <=")]),
    ("github", "mean_line_length", "quality", [("max_mean_line_length", "keep <=")]),
    ("github", "alnum_fraction", "quality", [("min_alnum_fraction", "keep >=")]),
    ("github", "alpha_per_token", "quality", [("min_alpha_per_token", "keep >=")]),
    ("github", "length", "license", []),
    ("books", "boilerplate_lines", "strip_boilerplate", []),
    ("books", "length", "near_duplicate", []),
    ("arxiv", "macro_expansions", "clean", []),
]


class _Short(Stage):
    """Drops texts shorter than 10 characters (the stage a test measures)."""

    name = "short"

    def apply(self, doc, **side):
        return Dropped("too_short", doc, "short") if len(doc.text) < 10 else doc.with_metadata(band="long")


def test_measure_counts_every_outcome_and_bounds_the_sample(tmp_path, monkeypatch):
    """A real Beam run: 300 documents through one stage; the distribution's counts per outcome are the
    stage's kept and dropped counts, each outcome's sample is at most the cap (a uniform sample by id
    hash, not the first documents), and heights scale the sample back to the true counts."""
    monkeypatch.setattr(accounting, "MAX_DISTRIBUTION_VALUES", 50)
    docs = [
        Document(f"t/{i:04d}", "test", "x" * (i % 40), {"lang": "en" if i % 3 else "de"}) for i in range(300)
    ]
    docs[0] = docs[0].with_metadata(lang="")  # no language found: its own group, not the ungrouped ""
    stats_path = str(tmp_path / "stats" / "test.json")
    with in_process_pipeline() as p:
        f = Funnel("test", "test")
        kept = f.apply(p | beam.Create(docs), _Short())
        f.measure("length", "short", accounting.text_length, group=accounting.Meta("lang"),
                  kept_outcome=accounting.Meta("band"), thresholds=[("min_chars", "keep >=")])  # fmt: skip
        written = kept | beam.Map(lambda d: (("write", "kept", ""), 1))
        f.finish(written, stats_path, {"min_chars": 10})
    stats = json.loads(Path(stats_path).read_text())
    dist = stats["distributions"]["length"]
    assert (dist["stage"], dist["of"]) == ("short", "all")
    assert dist["thresholds"] == [{"setting": "min_chars", "keep": "keep >="}]
    expect = {}
    for d in docs:
        g, o = d.metadata["lang"] or "(none)", "too_short" if len(d.text) < 10 else "band"
        expect.setdefault((g, "long" if o == "band" else o), []).append(len(d.text))
    got = {(g, o): v for g, os in dist["groups"].items() for o, v in os.items()}
    assert set(got) == set(expect)
    for key, values in expect.items():
        v = got[key]
        assert v["n"] == len(values) and v["kept"] == (key[1] == "long")
        assert len(v["values"]) == min(len(values), 50) and set(v["values"]) <= set(values)
    # the en/long outcome holds 150+ documents: its sample is spread over them, not the first 50 ids
    assert len(set(got[("en", "long")]["values"])) > 20
    stage = next(s for s in stats["funnel"] if s["stage"] == "short")
    assert sum(v["n"] for v in got.values() if v["kept"]) == stage["kept"]
    assert sum(v["n"] for (g, o), v in got.items() if o == "too_short") == stage["dropped"]["too_short"]
    h = stage_histogram_data(parse_stats(Path(stats_path), stats).distributions["length"])
    for gv in h["groups"].values():
        for v in gv["outcomes"].values():
            assert sum(v["counts"]) == v["sampled"] and sum(heights(v)) == pytest.approx(v["n"])


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize(("source", "name", "stage", "thresholds"), DECIDING)
def test_deciding_quantities_cover_the_stage_population(corpus_run, source, name, stage, thresholds):
    """On `make corpus`: the quantity is recorded at its deciding stage with kept and dropped counts
    equal to that stage's funnel counts, and the report's JSON draws those counts and the thresholds
    the run applied."""
    stats = _json(corpus_run / "stats" / f"{source}.json")
    dist = stats["distributions"][name]
    assert (dist["stage"], dist["of"]) == (stage, "all")
    funnel = next(s for s in stats["funnel"] if s["stage"] == stage)
    outcomes = [(o, v) for os in dist["groups"].values() for o, v in os.items()]
    assert sum(v["n"] for _, v in outcomes if v["kept"]) == funnel["kept"]
    dropped: dict[str, int] = {}
    for o, v in outcomes:
        if not v["kept"]:
            dropped[o] = dropped.get(o, 0) + v["n"]
    assert dropped == funnel["dropped"]
    for _, v in outcomes:
        assert len(v["values"]) == min(v["n"], accounting.MAX_DISTRIBUTION_VALUES)
    page = _json(corpus_run / "report" / "report.json")["pages"][source]["distributions"][name]
    shown = {
        (g, o): v["n"] for g, gv in page["histogram"]["groups"].items() for o, v in gv["outcomes"].items()
    }
    assert shown == {(g, o): v["n"] for g, os in dist["groups"].items() for o, v in os.items()}
    if thresholds is None:  # perplexity: the cutoffs applied, per language, colored by bucket
        applied = stats["settings"]["cutoffs_applied"]
        assert {g: [m["value"] for m in ms] for g, ms in page["thresholds"].items()} == {
            g: [applied[g]["p30"], applied[g]["p60"]] for g in page["thresholds"]
        } and page["thresholds"]
        assert {o for _, gv in page["histogram"]["groups"].items() for o in gv["outcomes"]} <= {
            "head", "middle", "perplexity_tail", "perplexity_middle", "perplexity_head",
        }  # fmt: skip
    else:
        marks = page["thresholds"].get("", [])
        assert [(m["setting"], m["value"]) for m in marks] == [
            (k, float(stats["settings"][k])) for k, _ in thresholds
        ]
        assert [m["label"] for m in marks] == [f"{w} {stats['settings'][k]:g}" for k, w in thresholds]


@pytest.mark.slow
def test_dropped_pages_are_in_the_histograms(corpus_run):
    """The quantities that used to be taken on kept documents only now show the drops: C4's pages
    dropped by language id, CommonCrawl's by P(wiki), GitHub's by each quality rule."""

    def n(source, name, outcome):
        d = _json(corpus_run / "stats" / f"{source}.json")["distributions"][name]
        return sum(os.get(outcome, {}).get("n", 0) for os in d["groups"].values())

    assert n("c4", "language_score", "language") > 0
    assert n("commoncrawl", "wiki_prob", "wikiref") > 0 and n("commoncrawl", "language_score", "language") > 0
    assert n("commoncrawl", "perplexity", "perplexity_tail") > 0
    gh = _json(corpus_run / "stats" / "github.json")["funnel"]
    quality = next(s for s in gh if s["stage"] == "quality")["dropped"]
    assert quality and all(n("github", "alnum_fraction", r) == c for r, c in quality.items())


@pytest.mark.slow
@pytest.mark.parametrize("source", ["commoncrawl", "c4", "github", "books"])
def test_distribution_counts_and_thresholds_shown_equal_the_json(corpus_run, browser, source):
    report = corpus_run / "report"
    page = _json(report / "report.json")["pages"][source]["distributions"]
    assert browser.open((report / f"{source}.html").as_uri()) == []
    rows = browser.evaluate(
        """Array.from(document.querySelectorAll('table.dist-counts tbody tr')).map(function (r) {
             return [r.closest('table').dataset.dist, r.dataset.group, r.dataset.outcome,
                     r.querySelector('[data-field=n]').textContent,
                     r.querySelector('[data-field=sampled]').textContent]; })"""
    )
    expected = [
        [name, g, o, fmt("count", v["n"]), fmt("count", v["sampled"])]
        for name, d in page.items()
        for g, gv in d["histogram"]["groups"].items()
        for o, v in gv["outcomes"].items()
    ]
    assert sorted(rows) == sorted(expected)
    marks = browser.evaluate(
        """Array.from(document.querySelectorAll('span.threshold')).map(function (s) {
             return [s.dataset.dist, s.dataset.group, parseFloat(s.dataset.v), s.textContent]; })"""
    )
    want = [
        [n, g, m["value"], f"{m['value']:g}"]
        for n, d in page.items()
        for g, ms in d["thresholds"].items()
        for m in ms
    ]
    assert sorted(marks) == sorted(want)
    # every threshold line is labelled in the plot with the value applied
    labels = browser.evaluate(
        """Array.from(document.querySelectorAll('figure[data-dist] [id*="-threshold-"]')).map(function (g) {
             return [g.closest('figure').dataset.dist, g.id, g.textContent]; })"""
    )
    for name, d in page.items():
        for g, ms in d["thresholds"].items():
            for j, m in enumerate(ms):
                ids = [
                    t
                    for dist, i, t in labels
                    if dist == name and re.search(rf"-threshold-{g or 'all'}-{j}$", i)
                ]
                assert ids and f"{m['value']:g}" in ids[0], (name, g, j)


def _haystack(d: dict) -> str:
    return "\n".join(d.get(k, "") or "" for k in ("id", "url", "title", "path", "detail", "text")).lower()


@pytest.mark.slow
def test_search_filters_kept_and_dropped_samples(corpus_run, browser):
    report = corpus_run / "report"
    samples = _json(report / "report.json")["pages"]["commoncrawl"]["samples"]
    assert "(kept)" in samples and len(samples) > 1
    everything = [(reason, d) for reason, docs in samples.items() for d in docs]
    assert browser.open((report / "commoncrawl.html").as_uri()) == []

    def search(q: str):
        return browser.evaluate(
            f"""var box = document.getElementById('sample-search'); box.value = {json.dumps(q)};
                box.dispatchEvent(new Event('input'));
                [Array.from(document.querySelectorAll('details.sample')).filter(d => !d.hidden)
                   .map(d => d.dataset.id), document.getElementById('sample-count').textContent,
                 Array.from(document.querySelectorAll('section.reason')).filter(s => !s.hidden)
                   .map(s => s.dataset.reason)]"""
        )

    # a word of the excerpts that some samples hold and others not, then one document's id
    words = {}
    for _, d in everything:
        for w in set(re.findall(r"[a-z]{6,}", _haystack(d))):
            words[w] = words.get(w, 0) + 1
    word = max((w for w, c in words.items() if 1 < c < len(everything)), key=lambda w: (words[w], w))
    kept_id = samples["(kept)"][0]["id"]
    for q in (word, kept_id.upper(), samples[sorted(r for r in samples if r != "(kept)")[0]][0]["url"]):
        want = [d["id"] for _, d in everything if q.lower().strip() in _haystack(d)]
        ids, count, sections = search(q)
        assert sorted(ids) == sorted(want) and want, q
        assert count == f"{len(want)} of {len(everything)} samples"
        assert sorted(sections) == sorted(
            r for r, docs in samples.items() if any(d["id"] in want for d in docs)
        )
    assert search("no-such-text-in-any-sample")[:2] == [[], f"0 of {len(everything)} samples"]
    assert len(search("")[0]) == len(everything)  # clearing the box shows every sample again


def test_sampled_outcomes_keep_their_true_proportions():
    """An outcome sampled down (1,000 documents, 10 values kept) against a small one (5 documents,
    all kept): the page's heights and the comparison's pooled histogram count 1,000 and 5, not 10
    and 5; an older file's plain values still read (one outcome, "recorded")."""
    from lamina.reports.compare import _pooled

    stats = {
        "source": "c4", "pipeline": "c4", "documents_in": 1005, "documents_kept": 1000,
        "dropped": {"language": 5}, "funnel": [],
        "distributions": {
            "language_score": {"stage": "language", "of": "all", "thresholds": [], "groups": {"en": {
                "kept": {"kept": True, "n": 1000, "values": [0.995 + i / 2000 for i in range(10)]},
                "language": {"kept": False, "n": 5, "values": [0.97, 0.975, 0.98, 0.985, 0.98]},
            }}},
            "length": [1, 2, 3],
        },
    }  # fmt: skip
    s = parse_stats(Path("c4.json"), stats)
    h = stage_histogram_data(s.distributions["language_score"])
    out = h["groups"]["en"]["outcomes"]
    assert list(out) == ["kept", "language"]  # kept at the bottom of the stack
    assert sum(heights(out["kept"])) == pytest.approx(1000) and sum(
        heights(out["language"])
    ) == pytest.approx(5)
    values, weights = _pooled(s, "language_score")
    assert len(values) == 15 and sum(weights) == pytest.approx(1005)
    legacy = s.distributions["length"]
    assert (legacy.stage, legacy.of, list(legacy.groups[""])) == (None, None, ["recorded"])
    assert legacy.groups[""]["recorded"].n == 3


def _train_lid(shared_data: Path, d: Path) -> Path:
    """A small real fastText LID on lingua's sentences (en, de, fr, uk), trained in a child process
    (fastText training after predictions in the same process can fail with NaN)."""
    train = d / "train.txt"
    with open(train, "w", encoding="utf-8") as f:
        for lang in ("en", "de", "fr", "uk"):
            lines = (
                (shared_data / "multilingual" / "lingua_sentences" / f"{lang}.txt").read_text().splitlines()
            )
            for line in lines[:400]:
                f.write(f"__label__{lang} {' '.join(line.split())}\n")
    code = (
        "import sys, fasttext\n"
        "m = fasttext.train_supervised(input=sys.argv[1], epoch=25, lr=0.5, minn=2, maxn=4, dim=16, bucket=50_000,"
        " wordNgrams=2, thread=1, seed=0, verbose=0)\n"
        "m.save_model(sys.argv[2])\n"
    )
    model = d / "lid.bin"
    proc = subprocess.run([sys.executable, "-c", code, str(train), str(model)], capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return model


def test_real_c4_pages_dropped_by_language_id_are_drawn(shared_data, tmp_path):
    """Google's real C4 pages through our C4 pipeline with a fastText LID at 0.99 (the setting under
    which real C4 pages are dropped just below the line): the language_score distribution holds every
    page that reached language id, the dropped ones included (the old plot took kept pages only), with
    the funnel's counts; the report bins them left of the 0.99 line, which is a bin edge."""
    from lamina.pipelines.corpus import run
    from lamina.reports.cli import main as report_main
    from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS

    lid = _train_lid(shared_data, tmp_path)
    config = tmp_path / "c4.toml"
    config.write_text(
        f'[c4]\ninputs = ["json"]\nbadwords = "{shared_data / "c4" / "ldnoobw"}"\nlanguage_id = "fasttext"\n'
        "fasttext_threshold = 0.99\n"
    )
    out = tmp_path / "out"
    argv = ["--input", str(tmp_path), "--models", str(tmp_path / "no-models"), "--out", str(out),
            "--config", str(config), "--sources", "c4", "--c4-input", str(shared_data / "c4"),
            "--lid-model", str(lid), f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
    st = run(argv).stats["c4"]
    lang = next(s for s in st["funnel"] if s["stage"] == "language")
    dist = st["distributions"]["language_score"]
    assert (dist["stage"], dist["of"]) == ("language", "all")
    outcomes = [o for os in dist["groups"].values() for o in os.values()]
    assert sum(o["n"] for o in outcomes if o["kept"]) == lang["kept"] > 0
    assert sum(o["n"] for o in outcomes if not o["kept"]) == lang["dropped"]["language"] > 0
    en = dist["groups"]["en"]
    near = [v for v in en["language"]["values"] if 0.9 <= v < 0.99]
    assert near, en["language"]  # real English pages dropped just below the line are recorded
    assert report_main(["--corpus", str(out)]) == 0
    page = _json(out / "report" / "report.json")["pages"]["c4"]["distributions"]["language_score"]
    h = page["histogram"]
    assert 0.99 in h["edges"] and [m["value"] for m in page["thresholds"][""]] == [0.99]
    assert [m["setting"] for m in page["thresholds"][""]] == ["fasttext_threshold"]
    cut = h["edges"].index(0.99)
    dropped_en = h["groups"]["en"]["outcomes"]["language"]
    kept_en = h["groups"]["en"]["outcomes"]["kept"]
    assert dropped_en["n"] == en["language"]["n"] and kept_en["n"] == en["kept"]["n"]
    assert sum(dropped_en["counts"][:cut]) == dropped_en["sampled"]  # every en drop left of the line
    assert sum(kept_en["counts"][cut:]) == kept_en["sampled"]  # every kept page right of it
    assert h["groups"]["en"]["overlaid"]  # ~25 drops a bin beside ~900 kept: overlaid on a log axis
    print(f"real C4, fastText LID >= 0.99: {lang['kept']} kept, {lang['dropped']['language']} dropped, "
          f"{len(near)} English pages at 0.90-0.99")  # fmt: skip
