"""`lamina refilter`: new thresholds for an annotated corpus run, without running its models again
(dolma's tag-then-mix idea; docs/refilter.md).

    lamina corpus ... --annotate --out out/corpus          # every document scored by every model
    lamina refilter --corpus out/corpus --set ccnet.lid_threshold=0.6 [--set ...] [--out out/lid06]

CommonCrawl (the `ccnet` table: LID, perplexity buckets, wikiref), C4 (the `c4` table: its
language test) and GitHub (the `github` table: the quality thresholds). This module is the pure half (no Beam): which settings a refilter may change, checked against the
run's recorded settings, each refusal one line naming the setting and why. The Beam half,
`lamina.pipelines.refilter`, reads the run's kept and annotated documents, re-decides them with the
pipeline's own stage code and writes shards and statistics with the run's own writer and `Funnel`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# config table -> (source, the first threshold-only stage). The stages before it keep their counts.
TABLES = {"ccnet": ("commoncrawl", "language"), "c4": ("c4", "language"), "github": ("github", "quality")}

# ccnet settings refilter changes from the annotations, and why it can (docs/refilter.md)
SUPPORTED = {
    "lid_threshold": "the LID score of every document reaching language id is recorded",
    "languages": "a subset of the run's languages (the others never had their LM run)",
    "cutoffs": "perplexity is recorded for every document of a kept language; numbers, a preset, "
    '"run" (recomputed from the new LID survivors) or "model" when the run used the cards',
    "cutoff_percentiles": 'with cutoffs = "run"',
    "keep_buckets": "the bucket is a pure function of perplexity and cutoffs",
    "wikiref_threshold": "P(wiki) is recorded for every document reaching language id",
    "wikiref": "true -> false only (the classifier must have run)",
}
# ccnet settings refilter refuses, with the reason it gives
REFUSED = {
    "max_bytes": "it is applied when the WET files are read, before dedup",
    "min_length": "too_short sits before digest and line dedup: a changed length changes which lines are "
    "duplicates",
    "dedup_scope": "it changes line dedup, which runs before the threshold-only stages",
    "digest_dedup": "it changes dedup, which runs before the threshold-only stages",
    "scoring": "it changes the perplexity scores themselves: the LMs must run again",
    "annotate": "it is the run's mode, not a threshold",
}

# c4 settings refilter changes: C4's language test is its last stage, so every page reaching it has
# its score; every other C4 setting acts before it (or is the test itself)
C4_SUPPORTED = {
    "lid_threshold": "the langdetect score of every page reaching the language test is recorded",
    "fasttext_threshold": "the fastText score of every page reaching the language test is recorded",
}
C4_REFUSED = {
    "language": "the bad-words list and the language test both depend on it",
    "language_id": "it is another model's score",
    "annotate": "it is the run's mode, not a threshold",
}
C4_BEFORE = "it acts before the language test (cleaning, line dedup or the bad-words stage change its input)"

# github settings refilter changes: the quality rules are its last stage; the cleaned text and the
# four statistics of every file reaching them are recorded
GITHUB_SUPPORTED = {
    "max_line_length": "the longest line of every file reaching the quality rules is recorded",
    "max_mean_line_length": "the mean line length is recorded",
    "min_alnum_fraction": "the alphanumeric fraction is recorded",
    "min_alpha_per_token": "alphabetic characters per token are recorded",
}
GITHUB_REFUSED = {
    "remove_boilerplate": "it changes the text the statistics are measured on",
    "token_mode": "it changes how alpha_per_token counts tokens (the score itself)",
    "tokenizer_json": "it changes how alpha_per_token counts tokens (the score itself)",
    "annotate": "it is the run's mode, not a threshold",
}
GITHUB_BEFORE = "it acts before the quality rules (reading, license, dedup or the extension filter)"


class RefilterError(ValueError):
    """A setting refilter cannot change, or a run it cannot refilter: one line (exit 2)."""


def _new_value(key: str, old: Any, new: Any) -> str | None:
    """Why `key` cannot go from `old` to `new` (None: it can)."""
    if key in REFUSED:
        return REFUSED[key]
    if key not in SUPPORTED:
        return "not a ccnet setting refilter knows"
    if key == "languages":
        extra = sorted(set(new) - set(old))
        if extra:
            return (
                f"language(s) {extra} were not kept by the run, so their documents were never scored by an LM "
                f"(the run's languages: {list(old)})"
            )
    if key == "wikiref" and new and not old:
        return "the run did not run the reference classifier, so no document has P(wiki)"
    return None


def check_ccnet(recorded: dict, overrides: list[tuple[str, Any]], where: str):
    """The new `CCNetConfig` for `overrides` [(key, value)] on the run's recorded settings (its stats'
    `settings`), or RefilterError naming the first setting refilter cannot change."""
    from lamina.pipelines import options as opts

    old, new = _old_new(opts.CCNetConfig, recorded, overrides, where, "ccnet")
    for key, _ in overrides:
        before, after = getattr(old, key), getattr(new, key)
        if before == after:
            continue
        why = _new_value(key, before, after)
        if why:
            raise RefilterError(f"--set ccnet.{key}: refilter cannot change it: {why}; rerun `lamina corpus`")
    cutoffs = _cutoffs(old, new, recorded.get("cutoffs_applied") or {})
    return new, cutoffs


def check_c4(recorded: dict, overrides: list[tuple[str, Any]], where: str):
    """The new `C4PipelineConfig` for `overrides` on the run's recorded settings (RefilterError
    naming the first setting refilter cannot change)."""
    from lamina.pipelines import options as opts

    old, new = _old_new(opts.C4PipelineConfig, recorded, overrides, where, "c4")
    if old.language == "all":
        raise RefilterError(
            f'{where}: the run kept every language (c4.language = "all"): no language test ran'
        )
    for key, _ in overrides:
        if getattr(old, key) != getattr(new, key) and key not in C4_SUPPORTED:
            why = C4_REFUSED.get(key, C4_BEFORE)
            raise RefilterError(f"--set c4.{key}: refilter cannot change it: {why}; rerun `lamina corpus`")
    return new, {}


def check_github(recorded: dict, overrides: list[tuple[str, Any]], where: str):
    """The new `GitHubPipelineConfig` for `overrides` on the run's recorded settings."""
    from lamina.pipelines.github import GitHubPipelineConfig

    old, new = _old_new(GitHubPipelineConfig, recorded, overrides, where, "github")
    for key, _ in overrides:
        if getattr(old, key) != getattr(new, key) and key not in GITHUB_SUPPORTED:
            why = GITHUB_REFUSED.get(key, GITHUB_BEFORE)
            raise RefilterError(
                f"--set github.{key}: refilter cannot change it: {why}; rerun `lamina corpus`"
            )
    return new, {}


def _old_new(cls, recorded: dict, overrides, where: str, table_name: str):
    if not recorded.get("annotate"):
        raise RefilterError(
            f"{where}: the run was not annotated, so documents its thresholds dropped were never scored by the "
            "later models: rerun it with `lamina corpus --annotate`"
        )
    from lamina.pipelines import options as opts

    fields = {f.name for f in dataclasses.fields(cls)}
    table = {k: v for k, v in recorded.items() if k in fields}
    try:
        old = opts._build(cls, table, f"{where} settings")
    except opts.ConfigError as e:
        raise RefilterError(str(e)) from None
    table.update(dict(overrides))
    try:
        new = opts._build(cls, table, f"--set [{table_name}]")
    except opts.ConfigError as e:
        raise RefilterError(str(e)) from None
    return old, new


def _cutoffs(old, new, applied: dict) -> dict:
    """The fixed cutoffs the refilter applies, {lang: {"p30", "p60", "origin"}} as `model_paths.prepare`
    gives them ({} for cutoffs = "run", computed in the pipeline)."""
    if new.cutoffs == "run":
        return {}
    given = new.given_cutoffs()
    if given is not None:
        origin = f"preset {new.cutoffs}" if isinstance(new.cutoffs, str) else "config"
        missing = [lang for lang in new.languages if lang not in given]
        if missing:
            raise RefilterError(f"--set ccnet.cutoffs ({origin}) has no cutoffs for language(s) {missing}")
        return {k: {"p30": v[0], "p60": v[1], "origin": origin} for k, v in given.items()}
    # "model": the card cutoffs the run applied (recorded in its statistics)
    have = {k: v for k, v in applied.items() if isinstance(v, dict) and "p30" in v and "p60" in v}
    missing = [lang for lang in new.languages if lang not in have]
    if old.cutoffs != "model" or missing:
        raise RefilterError(
            'ccnet.cutoffs = "model": the run did not record the model cards\' cutoffs'
            + (f" for {missing}" if missing else f" (it used {old.cutoffs!r})")
            + "; give them as --set 'ccnet.cutoffs={en = [P30, P60]}'"
        )
    return {k: have[k] for k in sorted(have)}


def parse_overrides(items: list[str]) -> dict[str, list[tuple[str, Any]]]:
    """`--set TABLE.KEY=VALUE` items -> {table: [(key, value)]}; a table refilter cannot change is a
    RefilterError (one line)."""
    from lamina.pipelines import options as opts

    by_table: dict[str, list[tuple[str, Any]]] = {}
    for item in items:
        try:
            table, key, value = opts.parse_set(item)
        except opts.ConfigError as e:
            raise RefilterError(str(e)) from None
        if table not in TABLES:
            raise RefilterError(
                f"--set {item}: refilter cannot change [{table}] settings (supported: "
                + ", ".join(
                    [
                        *(f"ccnet.{k}" for k in SUPPORTED),
                        *(f"c4.{k}" for k in C4_SUPPORTED),
                        *(f"github.{k}" for k in GITHUB_SUPPORTED),
                    ]
                )
                + "); rerun `lamina corpus`"
            )
        by_table.setdefault(table, []).append((key, value))
    if not by_table:
        raise RefilterError("nothing to change: give at least one --set TABLE.KEY=VALUE")
    return by_table


CHECKS = {"ccnet": check_ccnet, "c4": check_c4, "github": check_github}
