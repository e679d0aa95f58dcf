"""The per-document ledger of a corpus run (`lamina corpus --ledger`, `lamina ledger why ID`).

For every input document, one compact row: id, truth key, input file and record, the final outcome,
the stage and reason that dropped it, the measured value and the threshold it was held to, and for
duplicates the document it duplicated. Parquet (pyarrow), one folder per source
(`<out>/ledger/source=<source>/*.parquet`, Hive-style, so pyarrow, DuckDB and Spark read it as one
partitioned table). `rows.py` builds rows (pure, no Beam), `lamina/pipelines/ledger.py` is the Beam
transform that writes them, `cli.py` the command.
"""
