"""HTML pages of the filter report: `index.html` (one row per source) and `<source>.html`.

Every value that came from a statistics file — counts, reason names, URLs, sampled document text —
is HTML-escaped, since the sampled texts are raw web pages. The pages are self-contained (inline
CSS, plots embedded as PNG data URIs), and each is written to a temporary name and renamed, so a
reader never sees half a page and an interrupted run leaves the previous report intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from html import escape
from pathlib import Path
from urllib.parse import quote

from lamina.reports import plots
from lamina.reports.stats import SourceStats, perplexity_cutoffs

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
.ok { color: #2e7d32; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
.muted { color: #777; } img { max-width: 100%; display: block; margin: 0.5em 0; }
pre { white-space: pre-wrap; word-wrap: break-word; background: #f8f8f8; border: 1px solid #e3e3e3;
      padding: 0.6em; font-size: 0.85em; max-height: 20em; overflow: auto; }
.wide { overflow-x: auto; } details { margin: 0.4em 0; } summary { cursor: pointer; }
"""


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def source_page_name(source: str) -> str:
    return f"{source}.html"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _n(x: int | None) -> str:
    return "" if x is None else f"{x:,}"


def _pct(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return ""
    return f"{100.0 * part / whole:.1f}%"


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{escape(alt)}">'


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


def render_index(all_stats: list[SourceStats], extra: str = "") -> str:
    """The index page; `extra` is trusted HTML appended at the end (the training plan's section)."""
    reasons = sorted({r for s in all_stats for r in s.dropped})
    # Break long reason names after underscores so that many reason columns still fit the page.
    head = "".join(f"<th>{escape(r).replace('_', '_<wbr>')}</th>" for r in reasons)
    rows = []
    for s in all_stats:
        cells = "".join(f"<td>{_n(s.dropped.get(r, 0)) if r in s.dropped else ''}</td>" for r in reasons)
        rows.append(
            f'<tr><td class="name"><a href="{quote(source_page_name(s.source))}">{escape(s.source)}</a></td>'
            f'<td class="name">{escape(s.pipeline)}</td><td>{_n(s.documents_in)}</td>'
            f"<td>{_n(s.documents_kept)}</td><td>{_pct(s.documents_kept, s.documents_in)}</td>{cells}"
            f'<td class="name">{conservation_cell(s)}</td></tr>'
        )
    total_in = sum(s.documents_in for s in all_stats)
    total_kept = sum(s.documents_kept for s in all_stats)
    total_cells = "".join(f"<td>{_n(sum(s.dropped.get(r, 0) for s in all_stats))}</td>" for r in reasons)
    all_ok = all(s.conserved for s in all_stats)
    rows.append(
        f'<tr><th class="name">all sources</th><td></td><th>{_n(total_in)}</th><th>{_n(total_kept)}</th>'
        f"<th>{_pct(total_kept, total_in)}</th>{total_cells}"
        f'<td class="name">{"<span class=ok>&#10003; all conserved</span>" if all_ok else "<span class=bad>&#10007; see rows</span>"}'
        "</td></tr>"
    )
    chart = plots.overview_chart([(s.source, s.documents_in, s.documents_kept) for s in all_stats])
    body = (
        "<h1>Lamina filter report</h1>\n"
        '<p class="muted">Built by <code>lamina report</code> from the run\'s statistics files '
        "(<code>stats/&lt;source&gt;.json</code>). Click a source for its funnel, distributions and "
        "sampled dropped documents. Conservation: documents in = kept + sum of drops.</p>\n"
        "<h2>Sources</h2>\n"
        '<div class="wide"><table><tr><th class="name">source</th><th class="name">pipeline</th><th>documents in</th>'
        f'<th>kept</th><th>kept %</th>{head}<th class="name">conservation</th></tr>\n'
        + "\n".join(rows)
        + "</table></div>\n"
        + f'<p class="muted">Columns after "kept %": documents dropped, by reason.</p>\n{_img(chart, "kept and dropped per source")}'
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


def _distribution_section(s: SourceStats) -> str:
    if not s.distributions:
        return '<p class="muted">The run recorded no distributions.</p>'
    parts = []
    for name, data in sorted(s.distributions.items()):
        lname = name.lower()
        groups = list(data) if isinstance(data, dict) else []
        is_ppl = "perplexity" in lname
        cutoffs = perplexity_cutoffs(s.settings, groups or ["*"]) if is_ppl else {}
        title = name.replace("_", " ")
        if isinstance(data, dict) and groups:
            title += " per " + ("language" if is_ppl or "lang" in lname else "group")
        xlabel = (
            "perplexity (log scale)" if is_ppl else ("characters (log scale)" if "length" in lname else name)
        )
        uri = plots.histogram(data, title, xlabel, log_x=is_ppl or "length" in lname, cutoffs=cutoffs)
        note = ""
        if cutoffs:
            marks = "; ".join(
                f"{escape(g)}: {', '.join(f'{c:g}' for c in cs)}" for g, cs in sorted(cutoffs.items())
            )
            note = f'<p class="muted">Dashed lines: the cutoffs in the run\'s settings ({marks}).</p>'
        parts.append(f"<h3>{escape(title)}</h3>\n{_img(uri, title)}\n{note}")
    if s.nonfinite_values:
        parts.append(
            f'<p class="muted">{s.nonfinite_values:,} NaN/infinite values were left out of the plots.</p>'
        )
    return "\n".join(parts)


def _samples_section(s: SourceStats) -> str:
    if not s.samples:
        return '<p class="muted">The run recorded no sampled dropped documents.</p>'
    parts = []
    for reason in sorted(s.samples):
        docs = s.samples[reason]
        parts.append(f'<h3>{escape(reason)} <span class="muted">({len(docs)} sampled)</span></h3>')
        for d in docs:
            label = escape(d["url"] or d["id"] or "(no id)")
            parts.append(
                f'<details><summary>{label} <span class="muted">{escape(d["id"])}</span></summary>'
                + (f'<p class="muted">{escape(d["detail"])}</p>' if d["detail"] else "")
                + f"<pre>{escape(d['text'])}</pre></details>"
            )
    return "\n".join(parts)


def render_source(s: SourceStats) -> str:
    funnel_png = (
        plots.funnel_chart([(st.name, st.documents_in, st.kept) for st in s.funnel]) if s.funnel else ""
    )
    drops_png = plots.bar_chart(s.dropped, "Documents dropped by reason") if any(s.dropped.values()) else ""
    drop_rows = "\n".join(
        f'<tr><td class="name">{escape(r)}</td><td>{_n(n)}</td><td>{_pct(n, s.documents_in)}</td></tr>'
        for r, n in sorted(s.dropped.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    body = f"""<p><a href="index.html">&larr; all sources</a></p>
<h1>{escape(s.source)} <span class="muted">({escape(s.pipeline) or "pipeline not recorded"})</span></h1>
<table>
<tr><th class="name">documents in</th><td>{_n(s.documents_in)}</td></tr>
<tr><th class="name">kept</th><td>{_n(s.documents_kept)} ({_pct(s.documents_kept, s.documents_in)})</td></tr>
<tr><th class="name">dropped</th><td>{_n(sum(s.dropped.values()))}</td></tr>
<tr><th class="name">conservation</th><td class="name">{conservation_cell(s)}</td></tr>
</table>
<p class="muted">From {escape(str(s.path))}</p>
<h2>Funnel</h2>
{_funnel_table(s) if s.funnel else '<p class="muted">The run recorded no stages.</p>'}
{_img(funnel_png, "funnel") if funnel_png else ""}
<h2>Drops by reason</h2>
<table><tr><th class="name">reason</th><th>documents</th><th>% of input</th></tr>
{drop_rows}</table>
{_img(drops_png, "drops by reason") if drops_png else ""}
<h2>Distributions</h2>
{_distribution_section(s)}
<h2>Sampled dropped documents</h2>
{_samples_section(s)}
<h2>Settings</h2>
<details><summary>the configuration this run used</summary><pre>{escape(json.dumps(s.settings, indent=2, sort_keys=True))}</pre></details>
"""
    return _page(f"{s.source} — Lamina filter report", body)


def write_report(all_stats: list[SourceStats], out: Path, extra: str = "") -> Path:
    """Write `index.html` and one page per source into `out`; return the index's path."""
    out.mkdir(parents=True, exist_ok=True)
    for s in all_stats:
        write_atomic(out / source_page_name(s.source), render_source(s))
    index = out / "index.html"
    write_atomic(index, render_index(all_stats, extra))  # last: a complete index means a complete report
    return index
