"""HTML pages of the filter report: `index.html` (the overview), `<source>.html`, and `report.json`.

Every number a page shows comes from the report's data (`overview.build_report_data` plus each
source's page data), which is also written as `report.json` for notebooks. Every value that came
from a run's files — counts, reason names, URLs, sampled document text — is HTML-escaped, since the
sampled texts are raw web pages. The pages are self-contained (inline CSS, a few lines of plain
JavaScript that sort and filter tables, plots as inline SVG); each file is written to a temporary
name and renamed, so a reader never sees half a page and an interrupted run leaves the previous
report intact. Sizes are bounded whatever the run's size: histograms are binned, samples are at
most five per reason, and long tables (languages) are filterable.
"""

from __future__ import annotations

import json
import os
import tempfile
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lamina.reports import plots
from lamina.reports.stats import SourceStats

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
table.sortable th { cursor: pointer; } table.sortable th:hover { background: #e6e6e6; }
.ok { color: #2e7d32; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
.muted { color: #777; } svg { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
pre { white-space: pre-wrap; word-wrap: break-word; background: #f8f8f8; border: 1px solid #e3e3e3;
      padding: 0.6em; font-size: 0.85em; max-height: 20em; overflow: auto; }
.wide { overflow-x: auto; } details { margin: 0.4em 0; } summary { cursor: pointer; }
input.filter { margin: 0.3em 0; padding: 0.2em 0.4em; width: 20em; } #sample-search { padding: 0.2em 0.4em; width: 28em; }
"""

# Sort a table by a header click (numbers by their data-v), filter its rows by a text box, search the
# sampled documents (kept and dropped) by id, title, URL, detail and excerpt.
JS = """
document.querySelectorAll("table.sortable").forEach(function (t) {
  t.querySelectorAll("thead th").forEach(function (th, i) {
    th.addEventListener("click", function () {
      var rows = Array.from(t.tBodies[0].rows), asc = th.dataset.dir !== "asc";
      rows.sort(function (a, b) {
        var x = a.cells[i], y = b.cells[i];
        var u = parseFloat(x.dataset.v), v = parseFloat(y.dataset.v);
        var c = (!isNaN(u) && !isNaN(v)) ? u - v : x.textContent.localeCompare(y.textContent);
        return asc ? c : -c;
      });
      th.dataset.dir = asc ? "asc" : "desc";
      rows.forEach(function (r) { t.tBodies[0].appendChild(r); });
    });
  });
});
document.querySelectorAll("input.filter").forEach(function (box) {
  box.addEventListener("input", function () {
    var q = box.value.toLowerCase(), t = document.getElementById(box.dataset.table);
    Array.from(t.tBodies[0].rows).forEach(function (r) {
      r.hidden = q !== "" && r.textContent.toLowerCase().indexOf(q) < 0;
    });
  });
});
var search = document.getElementById("sample-search");
if (search) search.addEventListener("input", function () {
  var q = search.value.toLowerCase().trim(), all = document.querySelectorAll("details.sample"), shown = 0;
  all.forEach(function (d) {
    var hay = Array.from(d.querySelectorAll("summary, p, pre"))
      .map(function (e) { return e.textContent; }).join("\\n").toLowerCase();
    d.hidden = q !== "" && hay.indexOf(q) < 0;
    d.open = q !== "" && !d.hidden;
    if (!d.hidden) shown++;
  });
  document.querySelectorAll("section.reason").forEach(function (sec) {
    sec.hidden = !sec.querySelector("details.sample:not([hidden])");
  });
  document.getElementById("sample-count").textContent = shown + " of " + all.length + " samples";
});
document.body.dataset.js = "ready";
"""


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the report from a web server or a colleague
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def source_page_name(source: str) -> str:
    return f"{source}.html"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
        f"<script>{JS}</script>\n</body>\n</html>\n"
    )


def _n(x: int | None) -> str:
    return "" if x is None else f"{x:,}"


def _pct(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return ""
    return f"{100.0 * part / whole:.1f}%"


def fmt(kind: str, x: Any) -> str:
    """How a value of the report's data is shown (the Chromium test formats the JSON with it too)."""
    if x is None:
        return ""
    if kind == "count":
        return f"{x:,}"
    if kind == "bytes":
        for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if x >= size:
                return f"{x / size:.2f} {unit}"
        return f"{x} B"
    if kind == "pct":
        return f"{100.0 * x:.1f}%"
    if kind == "epochs":
        return f"{x:.3g}"
    return escape(str(x))


def _cell(kind: str, x: Any, field: str = "", cls: str = "") -> str:
    v = f' data-v="{x!r}"' if isinstance(x, int | float) and not isinstance(x, bool) else ""
    f = f' data-field="{escape(field)}"' if field else ""
    c = f' class="{cls}"' if cls else ""
    return f"<td{c}{f}{v}>{fmt(kind, x)}</td>"


def conservation_cell(s: SourceStats) -> str:
    """The conservation check, computed from the counts; a disagreement with the run's own flag shows."""
    total_dropped = sum(s.dropped.values())
    if s.conserved:
        text = f'<span class="ok">&#10003; ok</span> {_n(s.documents_in)} = {_n(s.documents_kept)} + {_n(total_dropped)}'
    else:
        text = (
            f'<span class="bad">&#10007; broken</span> {_n(s.documents_in)} &ne; '
            f"{_n(s.documents_kept)} + {_n(total_dropped)}"
        )
    if s.conservation_ok_reported is not None and s.conservation_ok_reported != s.conserved:
        text += f' <span class="bad">(run recorded conservation_ok={str(s.conservation_ok_reported).lower()})</span>'
    return text


# The overview's columns: (field of a source row, heading, format).
OVERVIEW_COLUMNS = [
    ("documents_in", "documents in", "count"),
    ("documents_kept", "kept", "count"),
    ("kept_fraction", "kept %", "pct"),
    ("bytes_in", "bytes in", "bytes"),
    ("bytes_kept", "bytes kept", "bytes"),
    ("tokens_kept", "tokens kept", "count"),
    ("token_share", "share of tokens", "pct"),
    ("target_weight", "target weight", "pct"),
    ("epochs", "epochs at budget", "epochs"),
    ("llama_weight", "LLaMA weight", "pct"),
    ("llama_epochs", "LLaMA epochs", "epochs"),
    ("llama_disk", "LLaMA disk", "text"),
]


def _overview_table(data: dict, by_source: dict[str, SourceStats]) -> str:
    head = "".join(f"<th>{escape(t)}</th>" for _, t, _ in OVERVIEW_COLUMNS)
    rows = []
    for r in data["sources"]:
        s = by_source[r["source"]]
        cells = "".join(_cell(k, r[f], f) for f, _, k in OVERVIEW_COLUMNS)
        rows.append(
            f'<tr data-source="{escape(r["source"])}">'
            f'<td class="name"><a href="{quote(source_page_name(r["source"]))}">{escape(r["source"])}</a></td>'
            f'<td class="name" data-field="conserved">{conservation_cell(s)}</td>'
            f'<td class="name">{escape(r["unit"])}</td>{cells}</tr>'
        )
    t = data["totals"]
    total_cells = "".join(
        _cell(k, t.get(f), f) if f in ("bytes_in", "bytes_kept", "tokens_kept") else "<td></td>"
        for f, _, k in OVERVIEW_COLUMNS
    )
    ok = (
        '<span class="ok">&#10003; all conserved</span>'
        if t["all_conserved"]
        else '<span class="bad">&#10007; see rows</span>'
    )
    return (
        '<div class="wide"><table class="sortable" id="overview"><thead><tr><th class="name">source</th>'
        '<th class="name">conservation: in = kept + dropped</th><th class="name">unit</th>'
        f"{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody>"
        f'<tfoot><tr data-source="all"><th class="name">all sources</th><td class="name">{ok}</td>'
        f'<td class="name muted">bytes and tokens only</td>{total_cells}</tr></tfoot></table></div>\n'
    )


def _provenance_section(run: dict | None) -> str:
    if not run:
        return '<p class="muted">This run recorded no provenance (no run.json: it predates it).</p>'
    parts = []
    for rec in run.get("runs", []):
        code = rec.get("code") or {}
        rows = [
            ("sources", ", ".join(rec.get("sources", []))),
            ("started / finished (UTC)", f"{rec.get('started', '')} / {rec.get('finished', '')}"),
            ("seconds", str(rec.get("seconds", ""))),
            ("code", f"{code.get('version', '')} (package {code.get('package', '')}, Python "
                     f"{code.get('python', '')}, Beam {code.get('beam', '')})"),
            ("runner", str(rec.get("runner", ""))),
            ("command", (rec.get("tool") or "lamina corpus") + " " + " ".join(rec.get("command", []))),
            ("config file", str((rec.get("config") or {}).get("path") or "(defaults)")),
        ]  # fmt: skip
        table = "".join(
            f'<tr><th class="name">{escape(k)}</th><td class="name">{escape(v)}</td></tr>' for k, v in rows
        )
        inputs = "".join(
            f'<tr><td class="name">{escape(src)}</td><td class="name"><code>{escape(str(i.get("spec")))}</code></td>'
            f"{_cell('count', i.get('files'))}{_cell('bytes', i.get('bytes'))}"
            f'<td class="name"><code>{escape(str(i.get("list_sha256", ""))[:16])}</code></td></tr>'
            for src, i in (rec.get("inputs") or {}).items()
        )
        models = rec.get("models") or {}
        cards = "".join(
            f'<tr><td class="name">{escape(kind)}</td><td class="name"><code>{escape(str(m.get("path")))}</code></td>'
            f'<td class="name">{"<br>".join(f"<code>{escape(c)}</code> {escape(h[:16])}" for c, h in (m.get("cards") or {}).items()) or "no card"}</td></tr>'
            for kind, m in models.items()
            if isinstance(m, dict)
        )
        parts.append(
            f"<table>{table}</table>\n"
            '<table><thead><tr><th class="name">input</th><th class="name">spec</th><th>files</th>'
            f'<th>bytes</th><th class="name">file list SHA-256</th></tr></thead><tbody>{inputs}</tbody></table>\n'
            '<table><thead><tr><th class="name">model</th><th class="name">path</th><th class="name">cards '
            f'(SHA-256)</th></tr></thead><tbody>{cards}</tbody></table>\n'
            "<details><summary>the configuration as resolved, and the Beam options</summary><pre>"
            + escape(json.dumps({"config": rec.get("config"), "beam_options": rec.get("beam_options")}, indent=1))
            + "</pre></details>"
        )  # fmt: skip
    return "\n".join(parts)


def _ledger_section(ledger: dict | None, documents_in: dict[str, int]) -> str:
    if ledger is None:
        return (
            '<h2>Ledger</h2>\n<p class="muted">No per-document ledger: run <code>lamina corpus --ledger</code>.'
            "</p>\n"
        )
    rows = "".join(
        f'<tr><td class="name">{escape(s)}</td>{_cell("count", v["files"])}{_cell("count", v["rows"], "rows")}'
        f"<td>{'&#10003;' if v['rows'] == documents_in.get(s) else '<span class=bad>&#10007; not one row per input document</span>'}</td></tr>"
        for s, v in ledger.items()
    )
    return (
        "<h2>Ledger</h2>\n<p>One row per input document (outcome, stage, reason, measured value, threshold, "
        'original of a duplicate) in <a href="../ledger/">ledger/</a> (Parquet, <code>source=&lt;source&gt;</code> '
        "partitions); ask about one with <code>lamina ledger why ID</code>.</p>\n"
        '<table><thead><tr><th class="name">source</th><th>files</th><th>rows</th><th>rows = documents in</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>\n"
    )


def render_index(data: dict, all_stats: list[SourceStats], extra: str = "") -> str:
    """The overview page; `extra` is trusted HTML appended at the end (the training plan's section)."""
    by_source = {s.source: s for s in all_stats}
    missing = "".join(f"<li>{escape(m)}</li>" for m in data["missing"])
    chart = plots.overview_chart([(s.source, s.documents_in, s.documents_kept) for s in all_stats])
    budget = data["token_budget"]
    body = (
        "<h1>Lamina filter report</h1>\n"
        '<p class="muted">Built by <code>lamina report</code> from the run\'s statistics '
        "(<code>stats/&lt;source&gt;.json</code>), its shard manifest and its run record; the same data "
        'is in <a href="report.json">report.json</a>. Click a source for its funnel, distributions with '
        "the thresholds applied, and sampled documents; click a column heading to sort.</p>\n"
        + (f'<p class="bad">Missing:</p><ul>{missing}</ul>\n' if missing else "")
        + "<h2>Sources</h2>\n"
        + _overview_table(data, by_source)
        + '<p class="muted">Documents are counted in each source\'s own unit and are not summed across '
        "sources. Bytes: UTF-8 text reaching the first filter (after parsing) and kept. Tokens: the "
        f"shards' tokens. Share of tokens: of this corpus. Target weight: the mixture weights from the "
        f"{escape(data['weights_from'])}. Epochs at budget: how often the kept tokens are seen when "
        f'<span id="token-budget" data-v="{budget!r}">{budget:.3g}</span> tokens are drawn with the target '
        "weights. LLaMA columns: Table 1 of the paper (weights, epochs at 1.4T tokens, disk size).</p>\n"
        + chart
        + _ledger_section(data.get("ledger"), {r["source"]: r["documents_in"] for r in data["sources"]})
        + "<h2>Provenance</h2>\n"
        + _provenance_section(data["provenance"])
        + extra
    )
    return _page("Lamina filter report", body)


def _funnel_table(s: SourceStats) -> str:
    has_lines = any(st.lines_in is not None for st in s.funnel)
    line_head = "<th>lines in</th><th>lines kept</th><th>lines kept %</th>" if has_lines else ""
    rows = []
    for st in s.funnel:
        drops = ", ".join(
            f"{escape(r)}: {_n(n)}" for r, n in sorted(st.dropped.items(), key=lambda kv: -kv[1])
        )
        check = '<span class="ok">&#10003;</span>' if st.conserved else '<span class="bad">&#10007;</span>'
        line_cells = (
            f"<td>{_n(st.lines_in)}</td><td>{_n(st.lines_kept)}</td><td>{_pct(st.lines_kept, st.lines_in)}</td>"
            if has_lines
            else ""
        )
        rows.append(
            f'<tr><td class="name">{escape(st.name)}</td><td>{_n(st.documents_in)}</td><td>{_n(st.kept)}</td>'
            f'<td>{_pct(st.kept, st.documents_in)}</td><td class="name">{drops}</td>{line_cells}<td>{check}</td></tr>'
        )
    return (
        '<table><tr><th class="name">stage</th><th>in</th><th>kept</th><th>kept %</th>'
        f'<th class="name">dropped by reason</th>{line_head}<th>in = kept + dropped</th></tr>\n'
        + "\n".join(rows)
        + "</table>"
    )


def _xlabel(name: str, log: bool) -> str:
    base = {"length": "characters", "perplexity": "perplexity", "language_score": "language-id score"}
    label = base.get(name, name.replace("_", " "))
    return label + (" (log scale)" if log else "")


def _log_axis(name: str) -> bool:
    return "perplexity" in name.lower() or "length" in name.lower()


def distribution_page_data(s: SourceStats, thresholds: dict) -> dict:
    """name -> {"stage", "of", "histogram": plots.stage_histogram_data(...), "thresholds"} for one
    source (report.json's `pages.<source>.distributions`)."""
    out = {}
    for name, d in sorted(s.distributions.items()):
        marks = thresholds.get(name, {})
        cuts = [m["value"] for ms in marks.values() for m in ms]
        out[name] = {
            "stage": d.stage,
            "of": d.of,
            "histogram": plots.stage_histogram_data(d, _log_axis(name), cuts),
            "thresholds": marks,
        }
    return out


def _population(name: str, d: dict) -> str:
    stage = f"<code>{escape(d['stage'])}</code>" if d["stage"] else "the pipeline"
    if d["of"] == "all":
        return (
            f"Every document that reached {stage}, by its outcome there (kept, its bucket, or the "
            "reason it was dropped): stacked, or overlaid on a log axis in a panel where one outcome's "
            "tallest bar is under 1/30 of the tallest (the y-axis label says which)."
        )
    if d["of"] == "kept":
        return f"The documents {stage} kept (no drop is decided on this quantity)."
    return "The values the run recorded (an older statistics file: no outcomes)."


def _distribution_counts(name: str, d: dict) -> str:
    """The table of a distribution's true counts per group and outcome (what the legends show)."""
    rows = []
    for g, gv in d["histogram"]["groups"].items():
        for o, v in gv["outcomes"].items():
            state = "" if v["kept"] is None else ("kept" if v["kept"] else "dropped")
            rows.append(
                f'<tr data-group="{escape(g)}" data-outcome="{escape(o)}"><td class="name">{escape(g or "all")}</td>'
                f'<td class="name">{escape(o)}</td><td class="name">{state}</td>'
                f"{_cell('count', v['n'], 'n')}{_cell('count', v['sampled'], 'sampled')}</tr>"
            )
    table = (
        f'<table class="sortable dist-counts" data-dist="{escape(name)}"><thead><tr><th class="name">group</th>'
        '<th class="name">outcome</th><th class="name">kept / dropped</th><th>documents</th>'
        f"<th>values sampled</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    if len(rows) > 12:  # 100+ languages: the table folds away
        return (
            f"<details><summary>documents per group and outcome ({len(rows)} rows)</summary>{table}</details>"
        )
    return table


def _distribution_section(s: SourceStats, dists: dict) -> str:
    if not dists:
        return '<p class="muted">The run recorded no distributions.</p>'
    parts = [
        '<p class="muted">Bar heights are documents per bin. Each group and outcome keeps a uniform '
        "sample of at most 10,000 values (by document-id hash); a bar is the sample's count scaled by "
        "documents / values sampled, so the stacked outcomes keep their true proportions, and the "
        "documents column below (and each legend) is the true count.</p>"
    ]
    for name, d in dists.items():
        grouped = any(d["histogram"]["groups"])
        title = name.replace("_", " ")
        if grouped:
            title += " per " + ("site" if s.pipeline == "stackexchange" else "group")
            if s.pipeline in ("ccnet", "c4", "wikipedia"):
                title = title.replace("per group", "per language")
        log = d["histogram"]["log"]
        svg = plots.stacked_histogram(
            d["histogram"], title, _xlabel(name, log), thresholds=d["thresholds"], gid=name
        )
        marks = "; ".join(
            f"{escape(g or 'all')}: "
            + ", ".join(
                f'<span class="threshold" data-dist="{escape(name)}" data-group="{escape(g)}" data-v="{m["value"]!r}">'
                f"{m['value']:g}</span>" + (f" ({escape(m['label'])})" if m.get("label") else "")
                for m in ms
            )
            for g, ms in sorted(d["thresholds"].items())
        )
        origins = sorted({m.get("origin", "") for ms in d["thresholds"].values() for m in ms} - {""})
        note = (
            f'<p class="muted">Dashed lines: the thresholds the run applied ({marks})'
            + (f"; origin: {escape('; '.join(origins))}" if origins else "")
            + ".</p>"
            if marks
            else '<p class="muted">No threshold applies to this quantity in the run\'s settings.</p>'
        )
        parts.append(
            f'<h3>{escape(title)}</h3>\n<p>{_population(name, d)}</p>\n<figure data-dist="{escape(name)}">{svg}</figure>\n'
            f"{note}\n{_distribution_counts(name, d)}"
        )
    if s.nonfinite_values:
        parts.append(
            f'<p class="muted">{s.nonfinite_values:,} NaN/infinite values were left out of the plots.</p>'
        )
    return "\n".join(parts)


def _groups_section(s: SourceStats) -> str:
    groups = s.raw.get("kept_by_group") or {}
    if not groups:
        return '<p class="muted">The run recorded no kept documents per language or bucket.</p>'
    tid = "groups"
    rows = "".join(
        f'<tr><td class="name">{escape(g)}</td>{_cell("count", n, "kept")}{_cell("pct", n / s.documents_kept if s.documents_kept else None)}</tr>'
        for g, n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return (
        f'<input class="filter" data-table="{tid}" placeholder="filter languages / buckets">\n'
        f'<table class="sortable" id="{tid}"><thead><tr><th class="name">language_bucket</th><th>kept</th>'
        f"<th>% of kept</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _samples_section(s: SourceStats) -> str:
    if not s.samples:
        return '<p class="muted">The run recorded no sampled documents.</p>'
    total = sum(len(docs) for docs in s.samples.values())
    parts = [
        '<p><input type="search" id="sample-search" placeholder="search the samples: id, title, URL, text">'
        f' <span class="muted" id="sample-count">{total} of {total} samples</span></p>'
    ]
    for reason in sorted(s.samples):
        docs = s.samples[reason]
        title = "kept documents" if reason == "(kept)" else reason
        parts.append(
            f'<section class="reason" data-reason="{escape(reason)}"><h3>{escape(title)} '
            f'<span class="muted">({len(docs)} sampled)</span></h3>'
        )
        for d in docs:
            label = escape(d.get("title") or d["url"] or d.get("path") or d["id"] or "(no id)")
            where = " ".join(escape(x) for x in (d["url"], d.get("path", "")) if x and escape(x) != label)
            parts.append(
                f'<details class="sample" data-id="{escape(d["id"])}"><summary>{label} '
                f'<span class="muted">{escape(d["id"])} {where}</span></summary>'
                + (f'<p class="muted">{escape(d["detail"])}</p>' if d["detail"] else "")
                + f"<pre>{escape(d['text'])}</pre></details>"
            )
        parts.append("</section>")
    return "\n".join(parts)


def _input_files_rows(s: SourceStats) -> str:
    """The run's input files (stats `files`, docs/inputs.md): matched, read, failed, each failed one."""
    f = s.raw.get("files")
    if not isinstance(f, dict):
        return ""
    cls = "" if f.get("conservation_ok", True) else ' class="bad"'
    rows = [
        f'<tr><th class="name">input files</th><td class="name"{cls}>{_n(f.get("matched"))} matched, '
        f"{_n(f.get('read'))} read, {_n(f.get('failed'))} failed</td></tr>"
    ]
    for x in f.get("failed_files") or []:
        rows.append(
            f'<tr><th class="name">failed file</th><td class="name bad">{escape(str(x.get("file", "")))}: '
            f"{escape(str(x.get('error', '')))}</td></tr>"
        )
    return "\n".join(rows)


def render_source(s: SourceStats, dists: dict) -> str:
    plots.reset_ids()
    funnel_svg = (
        plots.funnel_chart([(st.name, st.documents_in, st.kept) for st in s.funnel]) if s.funnel else ""
    )
    drops_svg = plots.bar_chart(s.dropped, "Documents dropped by reason") if any(s.dropped.values()) else ""
    drop_rows = "\n".join(
        f'<tr><td class="name">{escape(r)}</td>{_cell("count", n)}<td>{_pct(n, s.documents_in)}</td></tr>'
        for r, n in sorted(s.dropped.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    body = f"""<p><a href="index.html">&larr; all sources</a></p>
<h1>{escape(s.source)} <span class="muted">({escape(s.pipeline) or "pipeline not recorded"})</span></h1>
<table>
<tr><th class="name">documents in</th><td>{_n(s.documents_in)}</td></tr>
<tr><th class="name">kept</th><td>{_n(s.documents_kept)} ({_pct(s.documents_kept, s.documents_in)})</td></tr>
<tr><th class="name">dropped</th><td>{_n(sum(s.dropped.values()))}</td></tr>
<tr><th class="name">conservation</th><td class="name">{conservation_cell(s)}</td></tr>
{_input_files_rows(s)}
</table>
<p class="muted">From {escape(str(s.path))}</p>
<h2>Funnel</h2>
{_funnel_table(s) if s.funnel else '<p class="muted">The run recorded no stages.</p>'}
{funnel_svg}
<h2>Drops by reason</h2>
<table class="sortable" id="drops"><thead><tr><th class="name">reason</th><th>documents</th><th>% of input</th></tr></thead>
<tbody>{drop_rows}</tbody></table>
{drops_svg}
<h2>Kept documents per language and bucket</h2>
{_groups_section(s)}
<h2>Distributions</h2>
{_distribution_section(s, dists)}
<h2>Sampled documents</h2>
{_samples_section(s)}
<h2>Settings</h2>
<details><summary>the configuration this run used</summary><pre>{escape(json.dumps(s.settings, indent=2, sort_keys=True))}</pre></details>
"""
    return _page(f"{s.source} — Lamina filter report", body)


def write_report(all_stats: list[SourceStats], out: Path, data: dict, extra: str = "") -> Path:
    """Write one page per source, `report.json` and `index.html` into `out`; return the index's path."""
    out.mkdir(parents=True, exist_ok=True)
    pages = {}
    for s in all_stats:
        dists = distribution_page_data(s, data["thresholds"].get(s.source, {}))
        pages[s.source] = {
            "funnel": s.raw.get("funnel", []),
            "dropped": s.dropped,
            "kept_by_group": s.raw.get("kept_by_group") or {},
            "distributions": dists,
            "samples": s.samples,
            "settings": s.settings,
        }
        write_atomic(out / source_page_name(s.source), render_source(s, dists))
    write_atomic(
        out / "report.json", json.dumps({**data, "pages": pages}, indent=1, ensure_ascii=False) + "\n"
    )
    plots.reset_ids()
    index = out / "index.html"
    write_atomic(
        index, render_index(data, all_stats, extra)
    )  # last: a complete index means a complete report
    return index
