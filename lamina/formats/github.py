"""GitHub file rows: the BigQuery `github_repos` join (files + contents + licenses), read from export
files (parquet or JSON lines) or queried live with google-cloud-bigquery.

A row has at least `repo_name`, `path`, `content` and `license`; `ref`, `id` (the git blob sha1),
`size`, `binary`, `copies`, `mode` are kept as metadata when present. Each row becomes a `Document`
with id `stable_id("github", "<repo_name>:<path>")` (the ground-truth key of interfaces.md). A row
that is not usable (missing repo_name/path, not an object, a JSON syntax error) is a `RowDrop` naming
the file and row; a file that cannot be read at all is one `RowDrop` naming the file, so a bad file
is counted, never a crash.

The `bigquery` input mode runs RedPajama's query (data_prep/github: contents joined with files and
licenses, permissive licenses only, binary files excluded) through google-cloud-bigquery. It needs
credentials and network, so it cannot run here; `bigquery_sql` builds the query and its parameters
(tested as text) and `iter_bigquery` is the real client path. For the whole dataset (~2.5 TB of
content) export instead: `bigquery_export_sql(uri)` writes parquet shards to GCS that the parquet
mode then reads in parallel.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from lamina.documents import Document, stable_id

SOURCE = "github"
DATASET = "bigquery-public-data.github_repos"
COLUMNS = ("repo_name", "ref", "path", "mode", "id", "size", "content", "binary", "copies", "license")
PARQUET_BATCH_ROWS = 1024  # rows per pyarrow batch: bounds memory on shards of large files


@dataclasses.dataclass(frozen=True)
class RowDrop:
    """A row (or a whole file, record -1) that could not be read; reason `malformed_record`."""

    id: str
    file: str
    record: int
    detail: str
    reason: str = "malformed_record"


def row_key(repo_name: str, path: str) -> str:
    return f"{repo_name}:{path}"


def row_to_document(row: dict[str, Any], label: str, n: int) -> Document | RowDrop:
    """One BigQuery row -> Document (text "" for binary or NULL content)."""
    repo, path = row.get("repo_name"), row.get("path")
    if not isinstance(repo, str) or not isinstance(path, str) or not repo or not path:
        return RowDrop(stable_id(SOURCE, label, str(n)), label, n, f"{label} row {n}: no repo_name/path")
    content = row.get("content")
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    key = row_key(repo, path)
    meta = {
        "key": key,
        "repo_name": repo,
        "path": path,
        "license": str(row.get("license") or ""),
        "url": f"https://github.com/{repo}/blob/{_branch(row.get('ref'))}/{path}",
        "blob_id": str(row.get("id") or ""),
        "binary": bool(row.get("binary")) or content is None,
        "file": label,
        "record": n,
    }
    for k in ("size", "copies", "mode"):
        if row.get(k) is not None:
            meta[k] = int(row[k])
    return Document(stable_id(SOURCE, key), SOURCE, content or "", meta)


def _branch(ref: Any) -> str:
    ref = str(ref or "HEAD")
    return ref.removeprefix("refs/heads/")


def iter_parquet(f: BinaryIO, label: str) -> Iterator[Document | RowDrop]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(f)
    except Exception as e:  # noqa: BLE001 - a corrupt shard is one counted drop naming it
        yield RowDrop(stable_id(SOURCE, label), label, -1, f"{label}: not a readable parquet file: {e}")
        return
    names = set(pf.schema_arrow.names)
    cols = [c for c in COLUMNS if c in names]
    n = 0
    try:
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=cols):
            for row in batch.to_pylist():
                yield row_to_document(row, label, n)
                n += 1
    except Exception as e:  # noqa: BLE001 - a corrupt row group after good ones: count, stop the file
        yield RowDrop(stable_id(SOURCE, label, str(n)), label, n, f"{label} after row {n}: {e}")


def iter_jsonl(f: BinaryIO, label: str) -> Iterator[Document | RowDrop]:
    """JSON lines (optionally gzipped, detected by magic bytes), as `bq extract` writes them."""
    head = f.read(2)
    raw = io.BufferedReader(_Prefixed(head, f))
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    lines = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="\n")
    n = 0
    while True:
        try:
            line = lines.readline()
        except (UnicodeDecodeError, EOFError, OSError) as e:
            yield RowDrop(stable_id(SOURCE, label, str(n)), label, n, f"{label} line {n + 1}: {e}")
            return
        if not line:
            return
        if line.strip():
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
            except ValueError as e:
                yield RowDrop(stable_id(SOURCE, label, str(n)), label, n, f"{label} line {n + 1}: {e}")
            else:
                yield row_to_document(row, label, n)
        n += 1


class _Prefixed(io.RawIOBase):
    """A stream with `head` (already read to sniff the format) put back in front of it."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def iter_rows(f: BinaryIO, label: str, fmt: str = "auto") -> Iterator[Document | RowDrop]:
    """Rows of one export file; `fmt` "parquet" | "jsonl" | "auto" (by the file name)."""
    if fmt == "auto":
        fmt = "parquet" if label.endswith(".parquet") else "jsonl"
    if fmt == "parquet":
        yield from iter_parquet(f, label)
    elif fmt == "jsonl":
        yield from iter_jsonl(f, label)
    else:
        raise ValueError(f"github input format must be parquet, jsonl or auto, not {fmt!r}")


def bigquery_sql(
    licenses: tuple[str, ...], limit: int | None = None, dataset: str = DATASET
) -> tuple[str, dict[str, Any]]:
    """RedPajama's GitHub query: every non-binary file of a repository whose license is one of
    `licenses`, with its content. Returns (standard SQL, named parameters); the licenses travel as an
    ARRAY<STRING> parameter, never spliced into the text."""
    if not licenses:
        raise ValueError("bigquery_sql: give at least one license id")
    sql = (
        "SELECT f.repo_name, f.ref, f.path, f.mode, c.id, c.size, c.content, c.binary, c.copies, l.license\n"
        f"FROM `{dataset}.files` AS f\n"
        f"JOIN `{dataset}.contents` AS c ON f.id = c.id\n"
        f"JOIN `{dataset}.licenses` AS l ON f.repo_name = l.repo_name\n"
        "WHERE l.license IN UNNEST(@licenses) AND NOT c.binary"
    )
    params: dict[str, Any] = {"licenses": list(licenses)}
    if limit is not None:
        sql += "\nORDER BY f.repo_name, f.path\nLIMIT @limit"
        params["limit"] = int(limit)
    return sql, params


def bigquery_export_sql(uri: str, licenses: tuple[str, ...], dataset: str = DATASET) -> tuple[str, dict]:
    """The same query as an `EXPORT DATA` statement writing parquet shards to `uri` (gs://.../*.parquet),
    for the full dataset: the parquet mode reads the shards in parallel."""
    if not uri.startswith("gs://") or "*" not in uri:
        raise ValueError(f"export uri must be gs://.../*.parquet with one '*', not {uri!r}")
    select, params = bigquery_sql(licenses, None, dataset)
    sql = f"EXPORT DATA OPTIONS(uri='{uri}', format='PARQUET', overwrite=true) AS\n{select}"
    return sql, params


def _query_parameters(params: dict[str, Any]) -> list:
    from google.cloud import bigquery

    out = []
    for name, value in params.items():
        if isinstance(value, list):
            out.append(bigquery.ArrayQueryParameter(name, "STRING", value))
        else:
            out.append(bigquery.ScalarQueryParameter(name, "INT64", value))
    return out


def iter_bigquery(
    licenses: tuple[str, ...], project: str | None = None, limit: int | None = None
) -> Iterator[Document | RowDrop]:
    """Run `bigquery_sql` with google-cloud-bigquery (needs credentials and network) and yield rows."""
    from google.cloud import bigquery

    sql, params = bigquery_sql(licenses, limit)
    client = bigquery.Client(project=project)
    job = client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=_query_parameters(params)))
    label = "bigquery"  # not the job id: documents stay the same across runs
    for n, row in enumerate(job.result(page_size=PARQUET_BATCH_ROWS)):
        yield row_to_document(dict(row.items()), label, n)
