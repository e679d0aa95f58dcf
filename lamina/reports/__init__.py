"""`lamina report`: the per-source filter reports a person reads in a browser.

Input is only the run's statistics files, `<corpus>/stats/<source>.json` (docs/interfaces.md,
"Statistics of a run"), so a report can be rebuilt from a finished run without touching its data.
`stats.py` reads and checks them, `plots.py` draws the charts (matplotlib, Agg), `html.py` writes
`index.html` and `<source>.html`, `cli.py` is the command.
"""
