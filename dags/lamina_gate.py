"""The quality gates of the lamina_pipeline DAG: pure functions over a corpus run's statistics.

No Airflow and no Beam here, so the rules are tested directly; the DAG reads the files (local or gs://)
and turns a non-empty list of problems into one failed task with a one-line message.

Bands are configured per source, with "*" as the default for sources not named:

    {"keep_rate": {"*": [0.001, 1.0], "c4": [0.2, 0.8]},     # documents_kept / documents_in
     "tokens": {"*": [1, null]},                             # the manifest's tokens per source
     "files_failed": {"*": 0}}                               # input files that could not be read

A band is [low, high], both inclusive; null (None) leaves that side open. `files_failed` is a maximum.
"""

from __future__ import annotations

from typing import Any

DEFAULT_BANDS: dict[str, dict[str, Any]] = {
    # A source that keeps nothing is a broken run, not a filter doing its job.
    "keep_rate": {"*": [0.001, 1.0]},
    "tokens": {"*": [1, None]},
    "files_failed": {"*": 0},
}
CHECKS = tuple(DEFAULT_BANDS)


class BandError(ValueError):
    """The band configuration itself is malformed (a user mistake in the `gate` param)."""


def merge_bands(given: dict | None) -> dict[str, dict[str, Any]]:
    """DEFAULT_BANDS with the given checks' per-source entries laid over them; validates the shape."""
    merged = {check: dict(per_source) for check, per_source in DEFAULT_BANDS.items()}
    for check, per_source in (given or {}).items():
        if check not in CHECKS:
            raise BandError(f"gate: unknown check {check!r} (known: {', '.join(CHECKS)})")
        if not isinstance(per_source, dict):
            raise BandError(f"gate: {check} must map a source (or '*') to its band, not {per_source!r}")
        for source, band in per_source.items():
            _validate(check, source, band)
        merged[check].update(per_source)
    return merged


def _validate(check: str, source: str, band: Any) -> None:
    if check == "files_failed":
        if not isinstance(band, int) or isinstance(band, bool) or band < 0:
            raise BandError(f"gate: files_failed[{source}] must be a count >= 0, not {band!r}")
        return
    ok = isinstance(band, list | tuple) and len(band) == 2
    ok = ok and all(b is None or (isinstance(b, int | float) and not isinstance(b, bool)) for b in band)
    if not ok:
        raise BandError(f"gate: {check}[{source}] must be [low, high] (numbers or null), not {band!r}")
    if band[0] is not None and band[1] is not None and band[0] > band[1]:
        raise BandError(f"gate: {check}[{source}] is empty: low {band[0]} > high {band[1]}")


def _band(bands: dict, check: str, source: str):
    per_source = bands[check]
    return per_source.get(source, per_source.get("*"))


def _outside(value: float, band) -> bool:
    if band is None:
        return False
    low, high = band
    return (low is not None and value < low) or (high is not None and value > high)


def _fmt(band) -> str:
    low, high = band
    return f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def corpus_problems(stats: dict[str, dict], bands: dict) -> list[str]:
    """Problems of the corpus stage, one line each, naming the source and the number.

    `stats`: {source: its stats/<source>.json}. Checks conservation (documents_in = kept + dropped and
    the pipeline's own `conservation_ok`, which covers files matched = read + failed), input files that
    failed (the `files` block: matched, read, failed, failed_files; statistics written before file
    accounting existed have none, and then this check has nothing to read),
    and the keep-rate band. A source with documents_in 0 has no keep-rate: it fails unless its band's
    low end is open or 0.
    """
    problems = []
    for source, s in sorted(stats.items()):
        dropped = sum(s["dropped"].values())
        if s.get("conservation_ok") is not True or s["documents_in"] != s["documents_kept"] + dropped:
            problems.append(
                f"{source}: conservation fails: documents_in={s['documents_in']} "
                f"!= kept {s['documents_kept']} + dropped {dropped} (conservation_ok={s.get('conservation_ok')})"
            )
            continue
        files = s.get("files")
        limit = _band(bands, "files_failed", source)
        if isinstance(files, dict) and limit is not None and files.get("failed", 0) > limit:
            first = (files.get("failed_files") or [{}])[0]
            example = f"; first: {first.get('file')}: {first.get('error')}" if first else ""
            problems.append(
                f"{source}: {files['failed']} input files failed (of {files.get('matched', '?')} matched"
                f"{example}), at most {limit} allowed"
            )
        band = _band(bands, "keep_rate", source)
        if s["documents_in"] == 0:
            if band is not None and band[0]:
                problems.append(f"{source}: no input documents (keep-rate band {_fmt(band)})")
            continue
        rate = s["documents_kept"] / s["documents_in"]
        if _outside(rate, band):
            problems.append(
                f"{source}: keep-rate {rate:.4f} ({s['documents_kept']} of {s['documents_in']}) "
                f"outside {_fmt(band)}"
            )
    return problems


def token_problems(manifest: dict, bands: dict, expected: list[str]) -> list[str]:
    """Problems of the shards: every expected source has tokens, inside its band (manifest.json's
    `sources[<source>].tokens`)."""
    problems = []
    sources = manifest.get("sources", {})
    for source in sorted(expected):
        tokens = sources.get(source, {}).get("tokens", 0)
        band = _band(bands, "tokens", source)
        if _outside(tokens, band):
            problems.append(f"{source}: {tokens} tokens outside {_fmt(band)}")
    return problems


def one_line(stage: str, problems: list[str]) -> str:
    """The gate's failure message: one line, every problem in it."""
    return f"lamina gate ({stage}): {len(problems)} problem(s): " + "; ".join(problems)
