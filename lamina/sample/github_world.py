"""GitHub rows as parquet, shaped like the BigQuery `github_repos` join (files + contents + licenses).

Columns: repo_name, ref, path, mode, id (content sha1), size, content, binary, copies, license.
Each row trips at most one RedPajama rule (docs/sources.md, GitHub): license not MIT/BSD/Apache, exact
duplicate content (the row with the smallest (repo_name, path) is kept), extension not whitelisted,
max line length > 1000, mean line length > 100, alphanumeric fraction < 0.25, alphabetic characters
per whitespace token < 1.5 (where a file trips several, the first in this order is its reason). License
headers are boilerplate to cut, not a reason to drop.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from lamina.sample.truth import Truth

PY = '''"""{doc}"""

import math


def {fn}(values, scale=1.0):
    """Return the {what} of the values, multiplied by scale."""
    if not values:
        raise ValueError("{fn}: no values given")
    total = 0.0
    for value in values:
        total += {expr}
    return scale * total / len(values)


if __name__ == "__main__":
    print({fn}([1.0, 2.0, 3.0]))
'''
C = """#include <stdio.h>
#include <stdlib.h>

/* {doc} */
static int {fn}(const int *values, size_t n) {{
    int best = values[0];
    for (size_t i = 1; i < n; i++) {{
        if (values[i] {op} best) {{
            best = values[i];
        }}
    }}
    return best;
}}

int main(void) {{
    int data[] = {{4, 8, 15, 16, 23, 42}};
    printf("%d\\n", {fn}(data, sizeof data / sizeof data[0]));
    return 0;
}}
"""
JS = """// {doc}
export function {fn}(items, key) {{
  const groups = new Map();
  for (const item of items) {{
    const k = item[key];
    if (!groups.has(k)) {{
      groups.set(k, []);
    }}
    groups.get(k).push(item);
  }}
  return groups;
}}
"""
GO = """package {pkg}

import "strings"

// {fn} {doc}
func {fn}(words []string) map[string]int {{
\tcounts := make(map[string]int)
\tfor _, w := range words {{
\t\tcounts[strings.ToLower(w)]++
\t}}
\treturn counts
}}
"""
MD = """# {repo}

{doc}

## Usage

Install the package and call `{fn}` with a list of values. The function returns a single number
and raises an error when the list is empty.

## License

This project is released under the {license} license.
"""
MAKEFILE = """# Build targets of {repo}
.PHONY: test lint

test:
\tpython -m pytest -q

lint:
\truff check .
"""
APACHE_HEADER = """/*
 * Copyright {year} {owner}
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */
"""
HASH_HEADER = """# Copyright (c) {year} {owner}
# SPDX-License-Identifier: MIT
#
# Permission is hereby granted to use this file under the terms of the MIT license.

"""

FUNCS = [("mean_square", "mean square", "value * value", "mean squares"), ("mean_abs", "mean absolute value",
         "abs(value)", "mean absolute values"), ("mean_log", "mean logarithm", "math.log1p(abs(value))", "log means"),
         ("mean_root", "mean square root", "math.sqrt(abs(value))", "root means")]  # fmt: skip
OWNERS = ["octo-labs", "river-tools", "tinyforge", "pixel-garden", "datacraft", "lumen-io", "quietbits"]


def _row(repo: str, path: str, content: str | bytes, license_: str, binary: bool = False) -> dict:
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    return {
        "repo_name": repo, "ref": "refs/heads/main", "path": path, "mode": 33188,
        "id": hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest(), "size": len(data),
        "content": None if binary else data.decode("utf-8"), "binary": binary, "copies": 1, "license": license_,
    }  # fmt: skip


def plan(seed: int) -> list[tuple[dict, str | None, str]]:
    r = random.Random(f"{seed}:github")
    rows: list[tuple[dict, str | None, str]] = []
    for i, owner in enumerate(OWNERS[:5]):
        repo = f"{owner}/{r.choice(['stats', 'utils', 'toolkit', 'helpers'])}-{i}"
        lic = ["mit", "apache-2.0", "bsd-3-clause", "bsd-2-clause", "mit"][i]
        fn, what, expr, doc = FUNCS[i % len(FUNCS)]
        rows.append(
            (
                _row(
                    repo,
                    f"src/{fn}.py",
                    PY.format(fn=fn, what=what, expr=expr, doc=f"{doc.capitalize()} for {repo}."),
                    lic,
                ),
                None,
                "code",
            )
        )
        rows.append(
            (
                _row(
                    repo,
                    f"src/{fn}_max.c",
                    C.format(fn=f"{fn}_max", op=">", doc=f"Largest value, {doc} ({repo})."),
                    lic,
                ),
                None,
                "code",
            )
        )
        rows.append(
            (
                _row(
                    repo,
                    "web/group.js",
                    JS.format(fn=f"groupBy{i}", doc=f"Group items by key ({repo})."),
                    lic,
                ),
                None,
                "code",
            )
        )
        rows.append(
            (
                _row(
                    repo,
                    f"pkg/count{i}.go",
                    GO.format(pkg=f"count{i}", fn=f"Count{i}", doc="counts words."),
                    lic,
                ),
                None,
                "code",
            )
        )
        rows.append(
            (
                _row(
                    repo,
                    "README.md",
                    MD.format(repo=repo, fn=fn, doc=f"Small helpers for {doc}.", license=lic.upper()),
                    lic,
                ),
                None,
                "docs",
            )
        )
        rows.append((_row(repo, "Makefile", MAKEFILE.format(repo=repo), lic), None, "build"))
    # License headers: boilerplate that is cut, the file is kept.
    year, owner = r.randint(2012, 2022), OWNERS[1]
    rows.append(
        (
            _row(
                "river-tools/licensed",
                "src/minmax.c",
                APACHE_HEADER.format(year=year, owner=owner)
                + C.format(fn="minimum", op="<", doc="Smallest value."),
                "apache-2.0",
            ),
            None,
            "license_header",
        )
    )
    rows.append(
        (
            _row(
                "river-tools/licensed",
                "scripts/mean.py",
                HASH_HEADER.format(year=year, owner=owner)
                + PY.format(fn="mean_cube", what="mean cube", expr="value ** 3", doc="Mean cubes."),
                "mit",
            ),
            None,
            "license_header",
        )
    )
    # GPL and unlicensed-for-us repositories.
    for lic in ("gpl-3.0", "gpl-2.0", "agpl-3.0", "lgpl-2.1"):
        repo = f"{OWNERS[5]}/copyleft-{lic}"
        rows.append(
            (
                _row(
                    repo,
                    "lib/stats.py",
                    PY.format(
                        fn="mean_sq_" + lic.replace("-", "_").replace(".", "_"),
                        what="mean square",
                        expr="value * value",
                        doc="GPL stats.",
                    ),
                    lic,
                ),
                "license",
                "gpl",
            )
        )
    # Exact duplicate contents in other repositories (vendored copies).
    first = rows[0][0]
    for k in range(3):
        rows.append(
            (
                _row(
                    f"{OWNERS[6]}/vendor-{k}",
                    f"third_party/{first['path'].split('/')[-1]}",
                    first["content"],
                    "mit",
                ),
                "duplicate_content",
                "duplicate",
            )
        )
    # Line-length and character-statistics rules.
    minified = "var a=" + ",".join(f"function(x{k}){{return x{k}*{k}+1}}" for k in range(60)) + ";\n"
    minified = "".join(f"// bundle part {k}\n" for k in range(40)) + minified  # mean stays under 100
    rows.append((_row("tinyforge/site", "static/app.min.js", minified, "mit"), "max_line_length", "minified"))
    words = [
        "alphabet",
        "backlight",
        "calendar",
        "dashboard",
        "elephant",
        "framework",
        "geography",
        "histogram",
    ]
    long_lines = "".join(
        f"const labels{k} = [{', '.join(repr(r.choice(words)) for _ in range(14))}];\n" for k in range(30)
    )
    rows.append(
        (_row("tinyforge/site", "static/table.js", long_lines, "mit"), "mean_line_length", "data_table")
    )
    art = "".join(("+" + "-" * 30 + "+\n") + ("|" + " " * 30 + "|\n") * 2 for _ in range(12))
    rows.append((_row("pixel-garden/docs", "docs/diagram.md", art, "mit"), "alnum_fraction", "ascii_art"))
    hexdata = (
        "static const unsigned char blob[] = {\n"
        + "".join("    " + " ".join(f"{r.randint(0, 255)}," for _ in range(16)) + "\n" for _ in range(40))
        + "};\n"
    )
    rows.append(
        (_row("pixel-garden/fw", "src/blob.h", hexdata, "bsd-3-clause"), "alpha_per_token", "hex_data")
    )
    # Extensions outside the whitelist (data, lock files, images).
    csv = "date,value\n" + "".join(f"2022-01-{d:02d},{r.randint(1, 99)}\n" for d in range(1, 29))
    rows.append((_row("datacraft/data", "data/values.csv", csv, "mit"), "extension", "data_file"))
    rows.append(
        (
            _row("datacraft/data", "poetry.lock", '[[package]]\nname = "numpy"\nversion = "1.26.0"\n', "mit"),
            "extension",
            "lock_file",
        )
    )
    png = b"\x89PNG\r\n\x1a\n" + bytes(r.randint(0, 255) for _ in range(200))
    rows.append((_row("datacraft/data", "docs/logo.png", png, "mit", binary=True), "extension", "binary"))
    return rows


def write(out: Path, seed: int, truth: Truth) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rows = plan(seed)
    table = pa.Table.from_pylist([row for row, _, _ in rows])
    pq.write_table(table, out / "github_repos-00000.parquet", compression="zstd")

    def original(row):  # the row RedPajama's dedup keeps of this content: smallest (repo_name, path)
        same = [(r["repo_name"], r["path"]) for r, why, _ in rows
                if r["content"] == row["content"] and why not in ("license", "duplicate_content")]  # fmt: skip
        return ":".join(min(same))

    for row, reason, kind in rows:
        of = {"original": original(row)} if reason == "duplicate_content" else {}  # the ledger's duplicate_of
        truth.add(
            "github", f"{row['repo_name']}:{row['path']}", "dropped" if reason else "kept", reason, kind, **of
        )
