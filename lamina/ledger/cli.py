"""`lamina ledger why ID [--corpus DIR]`: what happened to one document, from the run's ledger.

    lamina ledger why <urn:uuid:...>          # a WARC-Record-ID, a document id, a C4 url, pg123.txt, repo:path
    lamina ledger why 3f2a... --corpus out/corpus --json

Looks the id up as a document id or as its input key (`key`), in every source's partition (pyarrow
reads only the row groups whose statistics may hold it), prints the row and, for a duplicate, the
original's row. Exit status 1 when the document is not in the ledger, 2 when there is no ledger.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lamina ledger", description="Query a corpus run's per-document ledger.")
    sub = p.add_subparsers(dest="command", required=True)
    why = sub.add_parser("why", help="why a document was kept or dropped")
    why.add_argument("id", help="document id or input key (WARC-Record-ID, url, pg<N>.txt, repo:path, ...)")
    why.add_argument("--corpus", type=Path, default=Path("out/corpus"), help="the run (default out/corpus)")
    why.add_argument("--json", action="store_true", help="print the rows as JSON")
    return p


class LedgerError(ValueError):
    pass


def lookup(corpus: Path, ident: str) -> list[dict]:
    """Every ledger row whose id or key is `ident` (with its `source`)."""
    import pyarrow.dataset as ds

    root = corpus / "ledger"
    if not root.is_dir() or not any(root.glob("source=*/*.parquet")):
        raise LedgerError(f"no ledger in {root} (run `lamina corpus --ledger --out {corpus}`)")
    try:
        dataset = ds.dataset(str(root), format="parquet", partitioning="hive")
        table = dataset.to_table(filter=(ds.field("id") == ident) | (ds.field("key") == ident))
    except Exception as e:  # noqa: BLE001 - pyarrow's errors on a damaged file: one line naming it
        raise LedgerError(f"{root}: cannot read the ledger: {e}") from e
    return table.to_pylist()


def explain(row: dict) -> str:
    where = f"{row.get('file') or '?'}" + (
        f" record {row['record']}" if row.get("record") is not None else ""
    )
    head = f"{row['source']} {row['id']} (key {row.get('key')}, from {where})"
    if row["outcome"] == "kept":
        return f"{head}: kept" + (f" in {row['bucket']}" if row.get("bucket") else "")
    text = f"{head}: dropped at stage {row['stage']!r}, reason {row['reason']!r}"
    if row.get("value") is not None:
        text += f"; measured {row['value']:g}"
        if row.get("threshold") is not None:
            text += f" against threshold {row['threshold']:g}"
    if row.get("duplicate_of"):
        text += f"; duplicate of {row['duplicate_of']}"
    if row.get("duplicate_key"):
        text += f"; shares {row['duplicate_key']} with " + (
            "it" if row.get("duplicate_of") else "the one kept"
        )
    if row.get("detail"):
        text += f" ({row['detail']})"
    return text


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        rows = lookup(args.corpus, args.id)
        originals = []
        for r in rows:
            if r.get("duplicate_of"):
                originals += [o for o in lookup(args.corpus, r["duplicate_of"]) if o["source"] == r["source"]]
    except LedgerError as e:
        print(f"lamina ledger: error: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"lamina ledger: {args.id!r} is not in the ledger of {args.corpus}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"rows": rows, "originals": originals}, indent=1, default=str))
        return 0
    for r in rows:
        print(explain(r))
    for o in originals:
        print("  original: " + explain(o))
    return 0


if __name__ == "__main__":
    sys.exit(main())
