"""Beam: a source's verdicts -> `<out>/ledger/source=<source>/ledger-SSSSS-of-NNNNN.parquet`.

`WriteLedger(out, source, settings)` takes (kept documents, the funnel's drops as (stage, Dropped)).
A worker holds one bundle's rows at a time (Beam's Parquet sink writes row groups as they fill);
the runner chooses the number of files, so the ledger grows with the run in files, not in a
worker's memory.
"""

from __future__ import annotations

import apache_beam as beam

from lamina.ledger.rows import SCHEMA, dropped_row, kept_row


def arrow_schema():
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in SCHEMA])


def ledger_dir(out: str, source: str) -> str:
    return f"{out.rstrip('/')}/ledger/source={source}"


class WriteLedger(beam.PTransform):
    def __init__(self, out: str, source: str, settings: dict):
        super().__init__()
        self.out, self.source, self.settings = out, source, settings

    def expand(self, pcolls):
        kept, drops = pcolls
        settings = self.settings
        rows = (
            kept | "ledger_kept" >> beam.Map(kept_row),
            drops | "ledger_dropped" >> beam.Map(lambda sd: dropped_row(sd[0], sd[1], settings)),
        ) | "ledger_rows" >> beam.Flatten()
        return rows | "ledger_parquet" >> beam.io.WriteToParquet(
            f"{ledger_dir(self.out, self.source)}/ledger",
            arrow_schema(),
            file_name_suffix=".parquet",
            codec="zstd",
        )
