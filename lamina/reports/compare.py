"""`lamina report --compare A B`: what moved between two corpus runs, stage by stage and per source.

Writes `compare.html` and `compare.json` (the same data) into `--out` (default `<B>/report/compare`).
From each run's statistics, manifest and run record (as the report reads them): per source documents,
bytes and tokens in/kept; per stage in/kept and drops by reason; kept documents per language and
bucket (the head/middle split); the thresholds and cutoffs applied; the settings that differ; each
distribution's histograms side by side on shared bins. With both runs' ledgers
(`lamina corpus --ledger`), the documents whose outcome changed, per source and transition: their
count and a sample (the first ids in id order, so the same runs give the same sample). The join
reads two columns of each source's ledger at a time (id, outcome, reason, value): one source's
ids in memory, not the run's.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from lamina.reports import plots
from lamina.reports.overview import build_report_data
from lamina.reports.stats import SourceStats, load_corpus_stats

SAMPLES_PER_TRANSITION = 10


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): d}


def _delta(a: Any, b: Any) -> Any:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return b - a
    return None


def _outcome(row: dict) -> str:
    """A ledger row's outcome for the comparison: the drop reason, or "kept (<language_bucket>)"."""
    return row["reason"] or (f"kept ({row['bucket']})" if row.get("bucket") else "kept")


def _ledger_changes(a: Path, b: Path, source: str) -> dict | None:
    """{"changed": n, "joined_on", "transitions": {"kept (en_head) -> language": {"n", "sample"}}}, or
    None without both ledgers. A kept document that moved bucket (head -> middle) counts as changed."""
    import pyarrow.dataset as ds

    parts = [run / "ledger" / f"source={source}" for run in (a, b)]
    if not all(p.is_dir() and any(p.glob("*.parquet")) for p in parts):
        return None
    cols = ["id", "key", "outcome", "reason", "value", "bucket"]
    ta, tb = (ds.dataset(str(p), format="parquet").to_table(columns=cols).to_pylist() for p in parts)
    # Join on the document id; runs of code versions whose ids differ (the id scheme changed) join on
    # the input's own key instead, where it names one document.
    join = "id"
    if ta and tb and len({r["id"] for r in ta} & {r["id"] for r in tb}) < min(len(ta), len(tb)) / 2:
        join = "key"
    before = {r[join]: r for r in ta}
    transitions: dict[str, dict] = {}
    for r in sorted(tb, key=lambda r: r["id"]):
        old = before.get(r[join])
        was = "absent" if old is None else _outcome(old)
        now = _outcome(r)
        if was == now:
            continue
        t = transitions.setdefault(f"{was} -> {now}", {"n": 0, "sample": []})
        t["n"] += 1
        if len(t["sample"]) < SAMPLES_PER_TRANSITION:
            t["sample"].append(
                {
                    "id": r["id"],
                    "key": r["key"],
                    "value_a": None if old is None else old["value"],
                    "value_b": r["value"],
                }  # fmt: skip
            )
    gone = len(set(before) - {r[join] for r in tb})
    if gone:
        transitions["-> absent"] = {"n": gone, "sample": []}
    return {
        "changed": sum(t["n"] for t in transitions.values()),
        "joined_on": join,
        "transitions": dict(sorted(transitions.items())),
    }


def _pooled(s: SourceStats | None, name: str) -> tuple[list[float], list[float]]:
    """A distribution's sampled values over all its groups and outcomes, each weighted by the
    documents it stands for (n / values sampled of its outcome), so an outcome sampled down is not
    under-drawn beside a small one (both runs drawn on one set of bins)."""
    d = s.distributions.get(name) if s else None
    values, weights = [], []
    for outcomes in d.groups.values() if d else []:
        for o in outcomes.values():
            values += o.values
            weights += [o.n / len(o.values)] * len(o.values) if o.values else []
    return values, weights


def _source_compare(sa: SourceStats | None, sb: SourceStats | None, ra: dict, rb: dict, ta, tb) -> dict:
    fields = ["documents_in", "documents_kept", "bytes_in", "bytes_kept", "tokens_kept"]
    overview = {f: {"a": ra.get(f), "b": rb.get(f), "delta": _delta(ra.get(f), rb.get(f))} for f in fields}
    stages = []
    fa = {st.name: st for st in (sa.funnel if sa else [])}
    fb = {st.name: st for st in (sb.funnel if sb else [])}
    for name in list(fa) + [n for n in fb if n not in fa]:
        x, y = fa.get(name), fb.get(name)
        reasons = sorted(set(x.dropped if x else {}) | set(y.dropped if y else {}))
        stages.append({
            "stage": name,
            "in": {"a": x and x.documents_in, "b": y and y.documents_in},
            "kept": {"a": x and x.kept, "b": y and y.kept},
            "dropped": {r: {"a": (x.dropped.get(r, 0) if x else None), "b": (y.dropped.get(r, 0) if y else None)}
                        for r in reasons},
        })  # fmt: skip
    ga = (sa.raw.get("kept_by_group") if sa else None) or {}
    gb = (sb.raw.get("kept_by_group") if sb else None) or {}
    groups = {g: {"a": ga.get(g, 0), "b": gb.get(g, 0), "delta": gb.get(g, 0) - ga.get(g, 0)}
              for g in sorted(set(ga) | set(gb))}  # fmt: skip
    fa_, fb_ = _flat(sa.settings if sa else {}), _flat(sb.settings if sb else {})
    settings = {
        k: {"a": fa_.get(k), "b": fb_.get(k)} for k in sorted(set(fa_) | set(fb_)) if fa_.get(k) != fb_.get(k)
    }
    dists = {}
    for name in sorted(set(sa.distributions if sa else {}) | set(sb.distributions if sb else {})):
        log = "perplexity" in name or "length" in name
        (va, wa), (vb, wb) = _pooled(sa, name), _pooled(sb, name)
        dists[name] = plots.histogram_data({"A": va, "B": vb}, log, weights={"A": wa, "B": wb})
    return {"overview": overview, "stages": stages, "kept_by_group": groups, "settings_changed": settings,
            "thresholds": {"a": ta, "b": tb}, "distributions": dists}  # fmt: skip


def build_compare(a: Path, b: Path) -> dict:
    stats_a = {s.source: s for s in load_corpus_stats(a)}
    stats_b = {s.source: s for s in load_corpus_stats(b)}
    da, db = build_report_data(list(stats_a.values()), a), build_report_data(list(stats_b.values()), b)
    rows_a = {r["source"]: r for r in da["sources"]}
    rows_b = {r["source"]: r for r in db["sources"]}
    sources = [s for s in rows_a] + [s for s in rows_b if s not in rows_a]
    out = {}
    for s in sources:
        c = _source_compare(stats_a.get(s), stats_b.get(s), rows_a.get(s, {}), rows_b.get(s, {}),
                            da["thresholds"].get(s, {}), db["thresholds"].get(s, {}))  # fmt: skip
        c["in"] = "both" if s in rows_a and s in rows_b else ("A only" if s in rows_a else "B only")
        c["changed_documents"] = _ledger_changes(a, b, s) if c["in"] == "both" else None
        out[s] = c
    return {"version": 1, "a": str(a), "b": str(b), "sources": out,
            "provenance": {"a": da["provenance"], "b": db["provenance"]}}  # fmt: skip


def _v(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.4g}"
    if isinstance(x, int):
        return f"{x:,}"
    return escape(json.dumps(x) if not isinstance(x, str) else x)


def _d(x: Any) -> str:
    if x is None:
        return ""
    sign = "+" if x > 0 else ""
    cls = "" if x == 0 else (' class="ok"' if x > 0 else ' class="bad"')
    return f"<span{cls}>{sign}{_v(x)}</span>"


def render_compare(data: dict) -> str:
    from lamina.reports.html import _page

    plots.reset_ids()
    parts = [
        "<h1>Lamina run comparison</h1>",
        f'<p class="muted">A = <code>{escape(data["a"])}</code>, B = <code>{escape(data["b"])}</code>; the same data '
        'is in <a href="compare.json">compare.json</a>. Deltas are B &minus; A.</p>',
    ]
    for s, c in data["sources"].items():
        parts.append(f'<h2 id="{escape(s)}">{escape(s)} <span class="muted">({escape(c["in"])})</span></h2>')
        rows = "".join(
            f'<tr><td class="name">{escape(f)}</td><td>{_v(v["a"])}</td><td>{_v(v["b"])}</td><td>{_d(v["delta"])}</td></tr>'
            for f, v in c["overview"].items()
        )
        parts.append(
            f'<table><thead><tr><th class="name"></th><th>A</th><th>B</th><th>B &minus; A</th></tr></thead><tbody>{rows}</tbody></table>'
        )
        if c["settings_changed"]:
            rows = "".join(f'<tr><td class="name"><code>{escape(k)}</code></td><td class="name">{_v(v["a"])}</td>'
                           f'<td class="name">{_v(v["b"])}</td></tr>' for k, v in c["settings_changed"].items())  # fmt: skip
            parts.append("<h3>Settings that differ</h3>"
                         f'<table><thead><tr><th class="name">setting</th><th class="name">A</th><th class="name">B</th></tr></thead><tbody>{rows}</tbody></table>')  # fmt: skip
        rows = []
        for st in c["stages"]:
            drops = "; ".join(f"{escape(r)} {_v(v['a'])} &rarr; {_v(v['b'])}" for r, v in st["dropped"].items()
                              if v["a"] != v["b"])  # fmt: skip
            moved = st["kept"]["a"] != st["kept"]["b"] or st["in"]["a"] != st["in"]["b"]
            rows.append(f'<tr{" class=moved" if moved else ""}><td class="name">{escape(st["stage"])}</td>'
                        f'<td>{_v(st["in"]["a"])}</td><td>{_v(st["in"]["b"])}</td><td>{_v(st["kept"]["a"])}</td>'
                        f'<td>{_v(st["kept"]["b"])}</td><td class="name">{drops}</td></tr>')  # fmt: skip
        parts.append("<h3>Funnel</h3><table><thead><tr><th class=\"name\">stage</th><th>in A</th><th>in B</th>"
                     "<th>kept A</th><th>kept B</th><th class=\"name\">drops that moved (A &rarr; B)</th></tr></thead>"
                     f"<tbody>{''.join(rows)}</tbody></table>")  # fmt: skip
        if c["kept_by_group"]:
            rows = "".join(f'<tr data-group="{escape(g)}"><td class="name">{escape(g)}</td><td>{_v(v["a"])}</td>'
                           f'<td>{_v(v["b"])}</td><td>{_d(v["delta"])}</td></tr>' for g, v in c["kept_by_group"].items())  # fmt: skip
            parts.append('<h3>Kept per language and bucket</h3><table class="groups"><thead><tr><th class="name">'
                         f"group</th><th>A</th><th>B</th><th>B &minus; A</th></tr></thead><tbody>{rows}</tbody></table>")  # fmt: skip
        for side in ("a", "b"):
            marks = "; ".join(
                f"{escape(name)} {escape(g or 'all')}: " + ", ".join(f"{m['value']:g}" for m in ms)
                for name, groups in sorted(c["thresholds"][side].items()) for g, ms in sorted(groups.items())
            )  # fmt: skip
            if marks:
                parts.append(f"<p>Thresholds applied in {side.upper()}: {marks}</p>")
        for name, h in c["distributions"].items():
            if not h["groups"]:
                continue
            svg = plots.histogram_from_data(h, f"{name.replace('_', ' ')}: A and B", name, gid=f"{s}-{name}")
            parts.append(f'<figure data-dist="{escape(name)}">{svg}</figure>')
        ch = c["changed_documents"]
        if ch is None and c["in"] == "both":  # a source in one run only has nothing to join
            parts.append('<p class="muted">Documents whose outcome changed: needs both runs\' ledgers '
                         "(<code>lamina corpus --ledger</code>).</p>")  # fmt: skip
        elif ch is not None:
            parts.append(f"<h3>Documents whose outcome changed: {ch['changed']:,}</h3>"
                         f'<p class="muted">Matched on the document {escape(ch["joined_on"])}.</p>')  # fmt: skip
            for t, v in ch["transitions"].items():
                items = "".join(f"<li><code>{escape(d['id'])}</code> {escape(d['key'] or '')} "
                                f"<span class=\"muted\">{_v(d['value_a'])} &rarr; {_v(d['value_b'])}</span></li>"
                                for d in v["sample"])  # fmt: skip
                parts.append(f"<details><summary>{escape(t)}: {v['n']:,}</summary><ul>{items}</ul></details>")
    return _page("Lamina run comparison", "\n".join(parts))


def write_compare(a: Path, b: Path, out: Path) -> Path:
    from lamina.reports.html import write_atomic

    data = build_compare(a, b)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "compare.json", json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")
    page = out / "compare.html"
    write_atomic(page, render_compare(data))
    return page
