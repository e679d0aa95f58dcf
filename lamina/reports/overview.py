"""The report's data: one JSON-ready dict (`report.json`) that the HTML pages only render.

Built from the run's statistics (`stats/<source>.json`), the shard manifest (`shards/manifest.json`,
tokens per source and the mixture weights) and the run record (`run.json`, provenance); each is
optional except the statistics, and a missing one is named in `missing` rather than guessed. Every
number the pages show comes from this dict, so a notebook reading `report.json` sees the same figures.

Units: documents are counted in each source's own unit (pages, files, articles, books, papers,
posts) and are never summed across sources; bytes (UTF-8 text) and tokens are the same unit
everywhere and are summed. The mixture is the share of the corpus' tokens, against the target weights
(the manifest's, else LLaMA's) and LLaMA Table 1's figures; epochs are how often a source's kept
tokens are seen when `token_budget` tokens are drawn with the target weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lamina.reports.stats import SourceStats, applied_thresholds

# LLaMA-1 (Touvron et al. 2023), Table 1: sampling proportion, epochs at 1.4T tokens, disk size.
LLAMA_TABLE1: dict[str, tuple[float, float, str]] = {
    "commoncrawl": (0.670, 1.10, "3.3 TB"),
    "c4": (0.150, 1.06, "783 GB"),
    "github": (0.045, 0.64, "328 GB"),
    "wikipedia": (0.045, 2.45, "83 GB"),
    "books": (0.045, 2.23, "85 GB"),
    "arxiv": (0.025, 1.06, "92 GB"),
    "stackexchange": (0.020, 1.03, "78 GB"),
}
LLAMA_TOKENS = 1.4e12  # the 33B/65B models' training tokens, the budget Table 1's epochs are for
# What one document is in each source (the unit of its counts).
UNITS = {
    "commoncrawl": "pages",
    "c4": "pages",
    "github": "files",
    "wikipedia": "articles",
    "books": "books",
    "arxiv": "papers",
    "stackexchange": "posts",
}


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not readable JSON: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be a JSON object")
    return data


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def source_row(s: SourceStats, manifest: dict | None, weights: dict[str, float], budget: float) -> dict:
    """One row of the overview (see the module docstring for the units)."""
    raw = s.raw
    msrc = ((manifest or {}).get("sources") or {}).get(s.source) or {}
    tokens = msrc.get("tokens")
    total_tokens = (manifest or {}).get("tokens")
    llama = LLAMA_TABLE1.get(s.source)
    weight = weights.get(s.source)
    dropped_total = sum(s.dropped.values())
    return {
        "source": s.source,
        "pipeline": s.pipeline,
        "unit": UNITS.get(s.source, "documents"),
        "documents_in": s.documents_in,
        "documents_kept": s.documents_kept,
        "documents_dropped": dropped_total,
        "kept_fraction": s.kept_fraction,
        "conserved": s.conserved,
        "conservation_ok_reported": s.conservation_ok_reported,
        "bytes_in": raw.get("bytes_in"),
        "bytes_kept": raw.get("bytes_kept"),
        "tokens_kept": tokens,
        "token_share": _ratio(tokens, total_tokens),
        "target_weight": weight,
        "epochs": _ratio(budget * weight, tokens) if weight is not None and tokens else None,
        "llama_weight": llama[0] if llama else None,
        "llama_epochs": llama[1] if llama else None,
        "llama_disk": llama[2] if llama else None,
        "kept_by_group": dict(raw.get("kept_by_group") or {}),
    }


def stale_shards(all_stats: list[SourceStats], manifest: dict | None) -> dict[str, tuple[int, int]]:
    """{source: (documents the manifest sharded, incl. those dropped empty; documents the statistics
    keep)} where they differ: the shards were written from other documents than these statistics'."""
    out = {}
    for s in all_stats:
        m = ((manifest or {}).get("sources") or {}).get(s.source)
        if not isinstance(m, dict) or not isinstance(m.get("documents"), int):
            continue
        sharded = m["documents"] + sum((m.get("dropped") or {}).values())
        if sharded != s.documents_kept:
            out[s.source] = (sharded, s.documents_kept)
    return out


def build_report_data(
    all_stats: list[SourceStats], corpus: Path, token_budget: float = LLAMA_TOKENS
) -> dict[str, Any]:
    """The whole report as one dict (written as `report.json`)."""
    from lamina.reports.provenance import load_run_record

    missing = []
    manifest = _read_json(corpus / "shards" / "manifest.json")
    if manifest is None:
        missing.append("shards/manifest.json (no tokens or mixture: run `lamina tokenizer shards`)")
    run = load_run_record(corpus)
    if run is None:
        missing.append("run.json (no provenance: the run predates it)")
    mixture = (manifest or {}).get("mixture") or {}
    weights_from = "manifest" if mixture.get("weights") else "LLaMA Table 1"
    if mixture.get("weights"):
        weights = {str(k): float(v) for k, v in mixture["weights"].items()}
    else:
        from lamina.tokenize.mixture import LLAMA_WEIGHTS

        weights = dict(LLAMA_WEIGHTS)
    stale = stale_shards(all_stats, manifest)
    for src, (sharded, kept) in stale.items():
        missing.append(
            f"{src}'s tokens: shards/manifest.json is stale ({sharded:,} documents sharded, the statistics "
            f"keep {kept:,}, e.g. after `lamina refilter` in place): rerun `lamina tokenizer shards`"
        )
    if stale:  # the stale sources' tokens are not this corpus' tokens, nor is the total
        manifest = {
            **manifest,
            "tokens": None,
            "sources": {k: v for k, v in manifest["sources"].items() if k not in stale},
        }
    rows = [source_row(s, manifest, weights, token_budget) for s in all_stats]
    known = [r for r in rows if r["bytes_in"] is not None]
    return {
        "version": 1,
        "corpus": str(corpus),
        "token_budget": token_budget,
        "weights_from": weights_from,
        "missing": missing,
        "totals": {  # bytes and tokens only: documents of different sources are not one quantity
            "bytes_in": sum(r["bytes_in"] for r in known) if known else None,
            "bytes_kept": sum(r["bytes_kept"] or 0 for r in known) if known else None,
            "tokens_kept": (manifest or {}).get("tokens"),
            "all_conserved": all(r["conserved"] for r in rows),
        },
        "sources": rows,
        "thresholds": {s.source: applied_thresholds(s) for s in all_stats},
        "provenance": run,
        "ledger": ledger_summary(corpus),
    }


def ledger_summary(corpus: Path) -> dict | None:
    """{source: {"files", "rows"}} of `<corpus>/ledger/source=<s>/` (from the Parquet footers only), or
    None when the run wrote no ledger."""
    root = corpus / "ledger"
    if not root.is_dir():
        return None
    import pyarrow.parquet as pq

    out = {}
    for part in sorted(root.glob("source=*")):
        files = sorted(part.glob("*.parquet"))
        try:
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        except Exception as e:  # noqa: BLE001 - pyarrow's error on a damaged file, named
            raise ValueError(f"{part}: unreadable ledger file: {e}") from e
        out[part.name.split("=", 1)[1]] = {"files": len(files), "rows": rows}
    return out
