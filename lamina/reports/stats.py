"""Read and check a run's statistics files (`<corpus>/stats/<source>.json`, docs/interfaces.md).

The report reads ONLY these files, so they are checked field by field up front: a missing or
mistyped field is a `StatsError` naming the file and the field, never a half-drawn report or a
traceback from deep inside the HTML code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class StatsError(ValueError):
    """A statistics file that is missing, unreadable or not in the contract's format."""


@dataclass(frozen=True)
class Stage:
    """One row of the funnel."""

    name: str  # stage name, as the pipeline labels it
    documents_in: int  # documents entering the stage
    kept: int  # documents leaving it
    dropped: dict[str, int]  # reason -> documents the stage dropped
    lines_in: int | None = None  # lines entering (only stages that remove lines)
    lines_kept: int | None = None  # lines leaving

    @property
    def conserved(self) -> bool:
        return self.documents_in == self.kept + sum(self.dropped.values())


@dataclass(frozen=True)
class Outcome:
    """The documents of one outcome (kept, a bucket, or a drop reason) in one group of a distribution."""

    n: int  # documents with this outcome at the stage: the true count, not the sample's size
    kept: bool | None  # whether the stage kept them (None: not recorded, an older statistics file)
    values: list[float]  # a uniform sample of their values (at most 10,000), NaN/inf left out


@dataclass(frozen=True)
class Distribution:
    """A quantity over the documents that reached `stage`, per group and outcome."""

    stage: str | None  # the stage whose input it covers (None: not recorded)
    of: str | None  # "all": every document that reached the stage; "kept": those it kept; None: not recorded
    thresholds: list[dict[str, str]]  # [{"setting", "keep"}] the pipeline declared for it
    groups: dict[str, dict[str, Outcome]]  # group ("" = one group) -> outcome -> documents

    def values(self, group: str | None = None) -> list[float]:
        """The sampled values of every outcome (of one group, or of all)."""
        gs = [self.groups.get(group, {})] if group is not None else list(self.groups.values())
        return [x for g in gs for o in g.values() for x in o.values]


RECORDED = "recorded"  # the one outcome of a distribution from an older statistics file


@dataclass(frozen=True)
class SourceStats:
    """A checked statistics file."""

    path: Path  # the file it came from (named in every message about it)
    source: str  # the source name: the file's stem (its `source` field, if any, must agree)
    pipeline: str  # pipeline that produced it ("ccnet", "c4", ...), "" when not given
    documents_in: int
    documents_kept: int
    dropped: dict[str, int]  # reason -> count, over the whole run
    conservation_ok_reported: bool | None  # what the run itself recorded (None: not recorded)
    funnel: list[Stage]
    distributions: dict[str, Distribution] = field(default_factory=dict)
    samples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    nonfinite_values: int = 0  # NaN / inf values dropped from the distributions
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the decoded file (optional fields)

    @property
    def conserved(self) -> bool:
        """Checked here from the counts, not taken on trust from `conservation_ok`."""
        return self.documents_in == self.documents_kept + sum(self.dropped.values())

    @property
    def kept_fraction(self) -> float | None:
        return self.documents_kept / self.documents_in if self.documents_in else None


def _count(path: Path, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StatsError(f"{path}: field {where!r} must be a non-negative integer, got {value!r}")
    return value


def _counts(path: Path, where: str, value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise StatsError(
            f"{path}: field {where!r} must be an object reason -> count, got {type(value).__name__}"
        )
    return {str(k): _count(path, f"{where}.{k}", v) for k, v in value.items()}


def _require(path: Path, obj: dict, key: str, where: str = "") -> Any:
    if key not in obj:
        raise StatsError(f"{path}: missing field {where + key!r}")
    return obj[key]


def _values(path: Path, where: str, value: Any) -> tuple[list[float], int]:
    if not isinstance(value, list):
        raise StatsError(f"{path}: distribution {where!r} must be a list of numbers or an object of lists")
    out: list[float] = []
    nonfinite = 0
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise StatsError(f"{path}: distribution {where!r} item {i} is not a number: {v!r}")
        if math.isfinite(v):
            out.append(float(v))
        else:
            nonfinite += 1
    return out, nonfinite


def _outcome(path: Path, where: str, value: Any) -> tuple[Outcome, int]:
    if not isinstance(value, dict):
        raise StatsError(f"{path}: distribution {where!r} must be an object {{kept, n, values}}")
    values, bad = _values(path, f"{where}.values", _require(path, value, "values", where + "."))
    kept = value.get("kept")
    if kept is not None and not isinstance(kept, bool):
        raise StatsError(f"{path}: field '{where}.kept' must be true or false, got {kept!r}")
    return Outcome(_count(path, f"{where}.n", _require(path, value, "n", where + ".")), kept, values), bad


def _distribution(path: Path, name: str, value: Any) -> tuple[Distribution, int]:
    """One distribution: {"stage", "thresholds", "groups": {group: {outcome: {kept, n, values}}}}, or
    an older file's [values] / {group: [values]} (one outcome, `RECORDED`, n = the values)."""
    nonfinite = 0
    if isinstance(value, dict) and isinstance(value.get("groups"), dict):
        groups: dict[str, dict[str, Outcome]] = {}
        for g, outcomes in value["groups"].items():
            if not isinstance(outcomes, dict):
                raise StatsError(
                    f"{path}: distribution '{name}.groups.{g}' must be an object outcome -> documents"
                )
            groups[str(g)] = {}
            for o, v in outcomes.items():
                groups[str(g)][str(o)], bad = _outcome(path, f"{name}.groups.{g}.{o}", v)
                nonfinite += bad
        stage = value.get("stage")
        thresholds = value.get("thresholds") or []
        if not isinstance(thresholds, list) or not all(
            isinstance(t, dict) and isinstance(t.get("setting"), str) for t in thresholds
        ):
            raise StatsError(
                f"{path}: field 'distributions.{name}.thresholds' must be a list of {{setting, keep}}"
            )
        of = value.get("of")
        return Distribution(None if stage is None else str(stage), of, thresholds, groups), nonfinite
    raw = value if isinstance(value, dict) else {"": value}
    groups = {}
    for g, vals in raw.items():
        values, bad = _values(path, f"{name}.{g}" if g else name, vals)
        nonfinite += bad
        groups[str(g)] = {RECORDED: Outcome(len(values) + bad, None, values)}
    return Distribution(None, None, [], groups), nonfinite


def _stage(path: Path, i: int, row: Any) -> Stage:
    where = f"funnel[{i}]"
    if not isinstance(row, dict):
        raise StatsError(f"{path}: {where} must be an object, got {type(row).__name__}")
    name = _require(path, row, "stage", where + ".")
    if not isinstance(name, str):
        raise StatsError(f"{path}: field '{where}.stage' must be a string, got {name!r}")
    lines_in = row.get("lines_in")
    lines_kept = row.get("lines_kept")
    return Stage(
        name=name,
        documents_in=_count(path, f"{where}.in", _require(path, row, "in", where + ".")),
        kept=_count(path, f"{where}.kept", _require(path, row, "kept", where + ".")),
        dropped=_counts(path, f"{where}.dropped", row.get("dropped", {})),
        lines_in=None if lines_in is None else _count(path, f"{where}.lines_in", lines_in),
        lines_kept=None if lines_kept is None else _count(path, f"{where}.lines_kept", lines_kept),
    )


SAMPLE_FIELDS = ("id", "url", "title", "path", "text", "detail")  # absent ones read as ""


def _samples(path: Path, value: Any) -> dict[str, list[dict[str, str]]]:
    if not isinstance(value, dict):
        raise StatsError(f"{path}: field 'samples' must be an object reason -> list of documents")
    out: dict[str, list[dict[str, str]]] = {}
    for reason, docs in value.items():
        if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
            raise StatsError(f"{path}: field 'samples.{reason}' must be a list of objects")
        out[str(reason)] = [
            {k: "" if d.get(k) is None else str(d.get(k)) for k in SAMPLE_FIELDS} for d in docs
        ]
    return out


def parse_stats(path: Path, data: Any) -> SourceStats:
    """Check one decoded statistics object against the contract."""
    if not isinstance(data, dict):
        raise StatsError(f"{path}: top level must be a JSON object, got {type(data).__name__}")
    source = data.get("source", path.stem)
    if source != path.stem:
        raise StatsError(f"{path}: field 'source' is {source!r} but the file is named for {path.stem!r}")
    funnel = _require(path, data, "funnel")
    if not isinstance(funnel, list):
        raise StatsError(f"{path}: field 'funnel' must be a list of stages")
    distributions: dict[str, Distribution] = {}
    nonfinite = 0
    raw_dist = data.get("distributions", {})
    if not isinstance(raw_dist, dict):
        raise StatsError(f"{path}: field 'distributions' must be an object name -> values")
    for name, value in raw_dist.items():
        distributions[str(name)], bad = _distribution(path, str(name), value)
        nonfinite += bad
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise StatsError(f"{path}: field 'settings' must be an object")
    reported = data.get("conservation_ok")
    if reported is not None and not isinstance(reported, bool):
        raise StatsError(f"{path}: field 'conservation_ok' must be true or false, got {reported!r}")
    pipeline = data.get("pipeline", "")
    return SourceStats(
        path=path,
        source=source,
        pipeline=pipeline if isinstance(pipeline, str) else str(pipeline),
        documents_in=_count(path, "documents_in", _require(path, data, "documents_in")),
        documents_kept=_count(path, "documents_kept", _require(path, data, "documents_kept")),
        dropped=_counts(path, "dropped", _require(path, data, "dropped")),
        conservation_ok_reported=reported,
        funnel=[_stage(path, i, row) for i, row in enumerate(funnel)],
        distributions=distributions,
        samples=_samples(path, data.get("samples", {})),
        settings=settings,
        nonfinite_values=nonfinite,
        raw=data,
    )


def load_stats(path: Path) -> SourceStats:
    """Read and check one `<source>.json`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise StatsError(f"{path}: cannot read: {e}") from e
    except UnicodeDecodeError as e:
        raise StatsError(f"{path}: not UTF-8: {e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise StatsError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}") from e
    return parse_stats(path, data)


def load_corpus_stats(corpus: Path) -> list[SourceStats]:
    """Every `<corpus>/stats/*.json`, in LLaMA Table 1's order (`lamina.documents.SOURCES`), then by name."""
    from lamina.documents import SOURCES

    stats_dir = corpus / "stats"
    rank = {name: i for i, name in enumerate(SOURCES)}
    files = sorted(stats_dir.glob("*.json"), key=lambda p: (rank.get(p.stem, len(rank)), p.stem))
    files = files if stats_dir.is_dir() else []
    if not files:
        raise StatsError(f"no statistics files in {stats_dir} (run `lamina corpus --out {corpus}` first)")
    return [load_stats(p) for p in files]


def perplexity_cutoffs(settings: dict[str, Any], languages: list[str]) -> dict[str, list[float]]:
    """The perplexity cutoffs the run used, per language, when its settings give them.

    `cutoffs_applied` ({lang: {"p30": v, "p60": v, "origin": ...}}, what the run recorded it applied)
    wins; otherwise looks (at any depth) for a key containing "cutoff" whose value is `{lang: [p30,
    p60]}`, `{lang: {name: value}}` or `[p30, p60]` (then for every language). Keys naming
    percentiles (`cutoff_percentiles`: which percentiles, not perplexities) are never taken for
    cutoffs. Returns {} when none.
    """
    applied = settings.get("cutoffs_applied")
    if isinstance(applied, dict):
        out = {}
        for lang, v in applied.items():
            if isinstance(v, dict):
                nums = [float(x) for k, x in sorted(v.items()) if _is_number(x) and k != "origin"]
                if nums:
                    out[str(lang)] = nums
        if out:
            return out

    def numbers(v: Any) -> list[float] | None:
        if (
            isinstance(v, list | tuple)
            and v
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        ):
            return [float(x) for x in v]
        if (
            isinstance(v, dict)
            and v
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v.values())
        ):
            return [float(x) for x in v.values()]
        return None

    def walk(obj: Any) -> dict[str, list[float]] | None:
        if isinstance(obj, dict):
            for key, value in obj.items():
                if "cutoff" in str(key).lower() and "percentile" not in str(key).lower():
                    flat = numbers(value)
                    if flat is not None and not (isinstance(value, dict) and set(value) & set(languages)):
                        return {lang: flat for lang in languages}
                    if isinstance(value, dict):
                        per_lang = {str(k): numbers(v) for k, v in value.items()}
                        per_lang = {k: v for k, v in per_lang.items() if v}
                        if per_lang:
                            return per_lang
                found = walk(value)
                if found:
                    return found
        return None

    return walk(settings) or {}


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# (pipeline, distribution) -> the settings whose values are drawn on its histogram: (setting, what
# the line means). The distributions of a pipeline not listed here get no line.
THRESHOLD_SETTINGS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("ccnet", "language_score"): [("lid_threshold", "keep >=")],
    ("ccnet", "length"): [("min_length", "keep >=")],
    ("ccnet", "wiki_prob"): [("wikiref_threshold", "keep >=")],
    ("c4", "language_score"): [("lid_threshold", "keep >=")],
    ("github", "alpha_per_token"): [("min_alpha_per_token", "keep >=")],
    ("github", "mean_line_length"): [("max_mean_line_length", "keep <=")],
    ("github", "max_line_length"): [("max_line_length", "keep <=")],
    ("github", "alnum_fraction"): [("min_alnum_fraction", "keep >=")],
}


def applied_thresholds(s: SourceStats) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """distribution -> group ("" for every group) -> [{"value", "label", "setting"}]: the thresholds
    and cutoffs the run applied (from its settings), to draw and label on that distribution. The
    settings a distribution names (`Funnel.measure`'s thresholds) win; an older file's
    distributions get those of `THRESHOLD_SETTINGS`."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name, data in s.distributions.items():
        if "perplexity" in name.lower():
            groups = list(data.groups) if any(data.groups) else [""]
            cutoffs = perplexity_cutoffs(s.settings, groups)
            origin = s.settings.get("cutoffs_applied")
            per_group = {}
            for g, values in sorted(cutoffs.items()):
                o = origin.get(g, {}).get("origin", "") if isinstance(origin, dict) else ""
                labels = ["head | middle", "middle | tail"] if len(values) == 2 else [""] * len(values)
                per_group[g] = [
                    {"value": v, "label": lab, "setting": "cutoffs_applied" if o else "cutoffs", "origin": o}
                    for v, lab in zip(values, labels, strict=True)
                ]
            if per_group:
                out[name] = per_group
            continue
        declared = [(t["setting"], t.get("keep", "")) for t in data.thresholds]
        lines = [
            {"value": float(s.settings[key]), "label": f"{what} {s.settings[key]:g}".strip(), "setting": key}
            for key, what in declared or THRESHOLD_SETTINGS.get((s.pipeline, name), [])
            if _is_number(s.settings.get(key))
        ]
        if lines:
            out[name] = {"": lines}
    return out
