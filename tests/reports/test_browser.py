"""The report of `make corpus`, opened in headless Chromium (Debian's package; `make chromium`):
no console errors on any page; the overview shows tokens and the mixture, and every number it
shows equals report.json (which equals the statistics, the manifest); the perplexity cutoff lines
carry the values the run applied, cross-checked against the statistics JSON; the tables sort and
filter with the page's own JavaScript."""

from __future__ import annotations

import json

import pytest

from lamina.reports.html import OVERVIEW_COLUMNS, fmt

pytestmark = pytest.mark.slow


def _json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_page_loads_without_console_errors(corpus_run, browser):
    report = corpus_run / "report"
    pages = sorted(report.glob("*.html"))
    assert {p.stem for p in pages} >= {"index", "commoncrawl", "c4", "github", "wikipedia", "books"}
    for page in pages:
        assert browser.open(page.as_uri()) == [], page.name
        assert browser.evaluate("document.body.dataset.js") == "ready", page.name  # the script ran


def test_overview_numbers_equal_the_json(corpus_run, browser):
    report = corpus_run / "report"
    data = _json(report / "report.json")
    manifest = _json(corpus_run / "shards" / "manifest.json")
    assert browser.open((report / "index.html").as_uri()) == []
    shown = browser.evaluate(
        """Array.from(document.querySelectorAll('#overview tbody tr')).map(function (r) {
             var o = {source: r.dataset.source};
             r.querySelectorAll('td[data-field]').forEach(function (c) {
               o[c.dataset.field] = {text: c.textContent, v: c.dataset.v}; });
             return o; })"""
    )
    assert [r["source"] for r in shown] == [r["source"] for r in data["sources"]]
    for row, r in zip(shown, data["sources"], strict=True):
        stats = _json(corpus_run / "stats" / f"{r['source']}.json")
        assert r["documents_in"] == stats["documents_in"] and r["documents_kept"] == stats["documents_kept"]
        assert r["bytes_in"] == stats["bytes_in"] and r["bytes_kept"] == stats["bytes_kept"]
        assert r["tokens_kept"] == manifest["sources"][r["source"]]["tokens"] > 0  # tokens are shown
        assert r["target_weight"] == pytest.approx(manifest["mixture"]["weights"][r["source"]])
        for field, _, kind in OVERVIEW_COLUMNS:
            assert row[field]["text"] == fmt(kind, r[field]), (r["source"], field)
            if isinstance(r[field], int | float):
                assert float(row[field]["v"]) == pytest.approx(r[field]), (r["source"], field)
        assert row["conserved"]["text"].startswith("✓ ok")
    shares = [r["token_share"] for r in data["sources"]]
    assert sum(shares) == pytest.approx(1.0)  # the mixture of this corpus
    # Sorting by a header click: tokens kept, descending on the second click.
    col = 3 + [f for f, _, _ in OVERVIEW_COLUMNS].index("tokens_kept") + 1
    order = browser.evaluate(
        f"""var th = document.querySelector('#overview thead th:nth-child({col})'); th.click(); th.click();
            Array.from(document.querySelectorAll('#overview tbody tr')).map(r => r.dataset.source)"""
    )
    by_tokens = sorted(data["sources"], key=lambda r: -r["tokens_kept"])
    assert order == [r["source"] for r in by_tokens]


def test_perplexity_cutoffs_carry_the_applied_values(corpus_run, browser):
    stats = _json(corpus_run / "stats" / "commoncrawl.json")
    applied = stats["settings"].get("cutoffs_applied")
    assert browser.open((corpus_run / "report" / "commoncrawl.html").as_uri()) == []
    labels = browser.evaluate(
        """Array.from(document.querySelectorAll('figure[data-dist="perplexity"] [id*="-perplexity-threshold-"]'))
             .map(function (g) { return [g.id.replace(/^f\\d+-perplexity-threshold-/, ''), g.textContent]; })"""
    )
    if not isinstance(applied, dict) or not any(isinstance(v, dict) for v in applied.values()):
        # A run that does not record the cutoffs it applied gets no line at all: never the
        # percentiles (30, 60) drawn as if they were perplexities.
        assert labels == []
        pytest.skip("this run's statistics record no applied perplexity cutoffs (settings.cutoffs_applied)")
    expected = {}
    for lang, v in applied.items():
        if isinstance(v, dict):
            expected[f"{lang}-0"], expected[f"{lang}-1"] = v["p30"], v["p60"]
    got = {k: float(t.split()[1]) for k, t in labels}
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-5), k  # drawn as %g: 6 significant digits


def test_language_table_filters(corpus_run, browser):
    assert browser.open((corpus_run / "report" / "commoncrawl.html").as_uri()) == []
    groups = _json(corpus_run / "stats" / "commoncrawl.json")["kept_by_group"]
    assert groups and set(groups) <= {"en_head", "en_middle"}
    shown = browser.evaluate(
        """var box = document.querySelector('input.filter[data-table="groups"]'); box.value = 'middle';
           box.dispatchEvent(new Event('input'));
           Array.from(document.querySelectorAll('#groups tbody tr')).filter(r => !r.hidden)
             .map(r => r.cells[0].textContent)"""
    )
    assert shown == [g for g in groups if "middle" in g]
