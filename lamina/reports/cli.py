"""`lamina report --corpus DIR [--out DIR]`: build the HTML filter reports of a corpus run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lamina.reports.overview import build_report_data
from lamina.reports.stats import StatsError, load_corpus_stats


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lamina report",
        description="Build index.html, one page per source and report.json from <corpus>/stats/<source>.json, "
        "shards/manifest.json and run.json.",
    )
    p.add_argument(
        "--corpus",
        type=Path,
        default=Path("out/corpus"),
        help="the corpus run directory (default: out/corpus)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="where to write the report (default: <corpus>/report)"
    )
    p.add_argument("--plan", type=Path, default=None, help="a `lamina plan --out` JSON to show in the index")
    p.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("A", "B"),
        default=None,
        help="compare two corpus runs: compare.html + compare.json in --out (default <B>/report/compare)",
    )
    p.add_argument(
        "--token-budget",
        type=float,
        default=1.4e12,
        help="tokens a training run draws, for the epochs per source (default 1.4e12, LLaMA-65B's)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = args.out if args.out is not None else args.corpus / "report"
    if not args.token_budget > 0:
        print(
            f"lamina report: error: --token-budget must be positive, got {args.token_budget}", file=sys.stderr
        )
        return 2
    if args.compare is not None:
        from lamina.reports.compare import write_compare

        a, b = args.compare
        try:
            page = write_compare(a, b, args.out if args.out is not None else b / "report" / "compare")
        except (StatsError, ValueError) as e:
            print(f"lamina report: error: {e}", file=sys.stderr)
            return 2
        print(f"comparison: {page}")
        return 0
    try:
        all_stats = load_corpus_stats(args.corpus)
        data = build_report_data(all_stats, args.corpus, args.token_budget)
        extra = ""
        if args.plan is not None:
            from lamina.plan.report import plan_html

            extra = plan_html(args.plan)
    except (StatsError, ValueError) as e:
        print(f"lamina report: error: {e}", file=sys.stderr)
        return 2
    from lamina.reports.html import write_report  # matplotlib is imported only when there is work

    index = write_report(all_stats, out, data, extra)
    broken = [s.source for s in all_stats if not s.conserved]
    print(f"report: {index}  ({len(all_stats)} source{'' if len(all_stats) == 1 else 's'})")
    if broken:
        print(f"lamina report: warning: conservation broken for {', '.join(broken)}", file=sys.stderr)
    for m in data["missing"]:
        if "is stale" in m:
            print(f"lamina report: warning: {m}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
