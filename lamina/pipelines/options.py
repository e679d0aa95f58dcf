"""Settings of the web pipelines: frozen dataclasses, read from TOML (configs/corpus/*.toml).

Every field has its unit and its reason. `load_config(path)` reads a TOML file whose tables are
`[ccnet]`, `[c4]`, `[models]`, `[run]` and one per other source; missing keys keep the defaults below
(which are the recipe's numbers). docs/configs.md documents every table and key.
`--set table.key=value` overrides (the value read as TOML, else as a string) are applied on top.
Every value is checked against its field's type before anything runs: a mistake is one
`ConfigError` line naming the file, table, key, what was expected and what was found.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from lamina.pipelines.arxiv import ArxivPipelineConfig
from lamina.pipelines.books import BooksConfig
from lamina.pipelines.github import GitHubPipelineConfig
from lamina.pipelines.stackexchange import StackExchangeConfig
from lamina.pipelines.wikipedia import WikipediaConfig

# cc_net's English perplexity cutoffs (p30, p60 of its English Wikipedia-trained KenLM), a preset.
CCNET_EN_CUTOFFS = {"en": (340.0, 520.0)}
CUTOFF_PRESETS = {"ccnet_en": CCNET_EN_CUTOFFS}


def _check_probability(table: str, **thresholds: float) -> None:
    """A score threshold is a probability: one above 1 would drop every document, a typo (`lid_threshold = 5`
    for 0.5) that would otherwise empty the corpus without an error."""
    for name, v in thresholds.items():
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{table}.{name} is a probability in [0, 1], not {v}")


@dataclasses.dataclass(frozen=True)
class CCNetConfig:
    max_bytes: int = 2_000_000  # bytes; a WET body longer than this is dropped unread (too_long)
    min_length: int = 300  # characters; shorter documents are dropped (too_short), cc_net's number
    dedup_scope: str = "run"  # line-dedup scope: "run" (all input of the run) | "dump" (per CC dump)
    digest_dedup: bool = True  # exact dedup on WARC-Block-Digest, first (dump, file, record) wins
    languages: tuple[str, ...] = ("en",)  # languages kept (fastText labels without __label__)
    lid_threshold: float = 0.5  # minimum top-1 language score, cc_net's number
    # perplexity scoring: "document" (cc_net: the whole normalized document as one text) or "line"
    # (each line scored on its own, sums over lines)
    scoring: str = "document"
    # perplexity cutoffs: "model" (the fixed p30/p60 in each language's LM card, written by
    # `lamina models`), "run" (p30/p60 of this run's perplexities per language: a document's bucket
    # then depends on the rest of the run), a preset name ("ccnet_en", for cc_net's own models with
    # document scoring), or {lang: [p30, p60]}
    cutoffs: str | dict[str, tuple[float, float]] = "model"
    cutoff_percentiles: tuple[int, int] = (30, 60)  # percentiles of `cutoffs = "run"` (percent)
    keep_buckets: tuple[str, ...] = ("head", "middle")  # LLaMA/RedPajama keep head + middle
    wikiref: bool = True  # run the Wikipedia-reference classifier
    wikiref_threshold: float = 0.25  # minimum P(wiki), RedPajama's number (the paper gives none)
    # score every document reaching LID with every model and keep the ones the thresholds drop under
    # annotated/ (`lamina corpus --annotate`), so `lamina refilter` re-thresholds without a rerun
    annotate: bool = False

    def __post_init__(self):
        if self.dedup_scope not in ("run", "dump"):
            raise ValueError(f"ccnet.dedup_scope must be 'run' or 'dump', not {self.dedup_scope!r}")
        if isinstance(self.cutoffs, str) and self.cutoffs not in ("model", "run", *CUTOFF_PRESETS):
            raise ValueError(
                f"ccnet.cutoffs: unknown preset {self.cutoffs!r} (model, run, {', '.join(CUTOFF_PRESETS)})"
            )
        if self.scoring not in ("document", "line"):
            raise ValueError(f"ccnet.scoring must be 'document' or 'line', not {self.scoring!r}")
        bad = set(self.keep_buckets) - {"head", "middle", "tail"}
        if bad:
            raise ValueError(f"ccnet.keep_buckets: unknown buckets {sorted(bad)}")
        _check_probability(
            "ccnet", lid_threshold=self.lid_threshold, wikiref_threshold=self.wikiref_threshold
        )
        low, high = self.cutoff_percentiles
        if not 0 < low < high < 100:
            raise ValueError(
                f"ccnet.cutoff_percentiles must be two percents 0 < low < high < 100, not {[low, high]}"
            )

    def given_cutoffs(self) -> dict[str, tuple[float, float]] | None:
        """Cutoffs given in the config (numbers or a preset); None for "model" and "run"."""
        if self.cutoffs in ("model", "run"):
            return None
        if isinstance(self.cutoffs, str):
            return dict(CUTOFF_PRESETS[self.cutoffs])
        return {k: (float(v[0]), float(v[1])) for k, v in self.cutoffs.items()}


@dataclasses.dataclass(frozen=True)
class C4PipelineConfig:
    # "wet": the CC WET files (TFDS builds C4 from WET); "json": C4-style {url, text, timestamp}
    # json(.gz) pages under <input>/c4 (or --c4-input)
    inputs: tuple[str, ...] = ("wet", "json")
    language: str = "en"  # the language C4 keeps; "all" skips language id (TFDS's lang="all")
    # language id: "langdetect" (TFDS's: langdetect 1.0.9, seeded 0) or "fasttext" (the LID model,
    # [models] lid); each with its own threshold below
    language_id: str = "langdetect"
    lid_threshold: float = 0.99  # minimum langdetect probability of `language`, TFDS's number
    # minimum fastText score with language_id = "fasttext". Not TFDS's test: on the 1,000 real C4
    # pages our LID at 0.99 drops 16%, lid.176 at 0.99 drops 95% (docs/models.md); 0.5 is cc_net's
    fasttext_threshold: float = 0.5
    badwords: str = ""  # bad-words list (file, or folder with <language>[.txt]); "" = <input>/c4/badwords
    min_words_per_line: int = 5  # TFDS c4_utils
    min_sentences: int = 3  # TFDS c4_utils
    max_word_length: int = 1000  # characters, TFDS c4_utils
    max_page_length: int = 190_000  # characters, TFDS c4_utils
    # keep the pages the language test drops, with their score, under annotated/ (`lamina corpus
    # --annotate`), so `lamina refilter` re-thresholds without a rerun
    annotate: bool = False

    def __post_init__(self):
        if self.language_id not in ("langdetect", "fasttext"):
            raise ValueError(f"c4.language_id must be 'langdetect' or 'fasttext', not {self.language_id!r}")
        _check_probability("c4", lid_threshold=self.lid_threshold, fasttext_threshold=self.fasttext_threshold)


@dataclasses.dataclass(frozen=True)
class ModelsConfig:
    # Each model by path or gs:// URL; "" = its place in `lamina corpus --models DIR`. Flags
    # --lid-model, --lm-dir, --wikiref-model override these.
    lid: str = ""  # fastText LID: our lid/lid.bin, or fastText's lid.176.bin / lid.176.ftz
    lm: str = ""  # folder of <lang>.sp.model + <lang>.arpa.bin (ours, or cc_net's released files)
    wikiref: str = ""  # fastText reference classifier (wikiref/wikiref.bin)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    direct_num_workers: int = 2  # processes of the local multi-process runner
    write_dropped: bool = False  # also write every dropped document under dropped/<source>/
    shard_documents: int = 100_000  # documents per output shard file, mean (writers.ShardLimit)
    shard_bytes: int = 1_000_000_000  # uncompressed JSON bytes per output shard file, mean; 0 = none
    allow_failed_inputs: int = 0  # input files that may fail to open/fetch before the run fails
    fetch_retries: int = 5  # retries of a URL after a 429/5xx/network error (CC answers 503 under load)
    fetch_backoff_s: float = 1.0  # seconds before the first retry, doubling (1+2+4+8+16 s)
    progress_s: float = 10.0  # seconds between progress lines on the local runner; 0 = none


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    ccnet: CCNetConfig = CCNetConfig()
    c4: C4PipelineConfig = C4PipelineConfig()
    models: ModelsConfig = ModelsConfig()
    run: RunConfig = RunConfig()
    github: GitHubPipelineConfig = GitHubPipelineConfig()
    arxiv: ArxivPipelineConfig = ArxivPipelineConfig()
    wikipedia: WikipediaConfig = WikipediaConfig()
    books: BooksConfig = BooksConfig()
    stackexchange: StackExchangeConfig = StackExchangeConfig()


# The TOML tables a corpus config may have, one per CorpusConfig field.
TABLES = ("ccnet", "c4", "models", "run", "github", "arxiv", "wikipedia", "books", "stackexchange")


class ConfigError(ValueError):
    """A mistake in a corpus config or a --set override: one line saying where and what to fix."""


def _type_name(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_name(args[0]).removeprefix('a ').removeprefix('an ')}s"
        return f"a list of {len(args)} values"
    if origin is dict:
        return "a table"
    return str(hint)


def _check(hint, v) -> Any:
    """`v` converted to `hint` (a TOML int for a float, a list for a tuple), or raise TypeError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        if isinstance(v, bool):
            return v
    elif hint is int:
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    elif hint is float:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    elif hint is str:
        if isinstance(v, str):
            return v
    elif origin in (typing.Union, types.UnionType):
        for a in args:
            try:
                return _check(a, v)
            except TypeError:
                continue
    elif origin is tuple:
        if isinstance(v, list | tuple):
            each = [args[0]] * len(v) if len(args) == 2 and args[1] is Ellipsis else list(args)
            if len(each) == len(v):
                return tuple(_check(a, x) for a, x in zip(each, v, strict=True))
    elif origin is dict:
        if isinstance(v, dict):
            return {k: _check(args[1], x) for k, x in v.items()} if args else v
    else:
        return v
    raise TypeError(_type_name(hint))


def _found(v) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "the string"}.get(type(v))
    if kind is None:
        kind = (
            "a list"
            if isinstance(v, list | tuple)
            else "a table"
            if isinstance(v, dict)
            else type(v).__name__
        )
    return f"{kind} {v!r}" if not isinstance(v, dict) else kind


def _build(cls, table: dict[str, Any], where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(table) - set(fields)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {sorted(unknown)}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for k, v in table.items():
        try:
            values[k] = _check(hints[k], v)
        except TypeError as e:
            raise ConfigError(f"{where} {k}: expected {e}, got {_found(v)}") from None
    try:
        return cls(**values)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from None


def parse_set(item: str) -> tuple[str, str, Any]:
    """`table.key=value` -> (table, key, value); the value is read as a TOML value (`0.5`, `true`,
    `["en", "de"]`, `{en = [1, 2]}`), else taken as a plain string (`ccnet_en`)."""
    name, sep, raw = item.partition("=")
    table, dot, key = name.strip().partition(".")
    if not sep or not dot or not table or not key:
        raise ConfigError(f"--set {item!r}: expected table.key=value (e.g. --set ccnet.min_length=200)")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return table, key, value


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> CorpusConfig:
    """Read a TOML config (None: the defaults) with `--set` overrides applied on top."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"--config {path}: no such file") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None
        except OSError as e:  # a folder, no permission, ...
            raise ConfigError(f"--config {path}: cannot be read ({e.strerror or e})") from None
    where = str(path) if path is not None else "the config"
    for item in overrides:
        table, key, value = parse_set(item)
        if table not in TABLES:
            raise ConfigError(f"--set {item}: unknown table {table!r} (known: {', '.join(TABLES)})")
        data.setdefault(table, {})[key] = value
        if overrides and path is None:
            where = "--set"
    unknown = set(data) - set(TABLES)
    if unknown:
        raise ConfigError(f"{where}: unknown table(s) {sorted(unknown)} (known: {', '.join(TABLES)})")
    hints = typing.get_type_hints(CorpusConfig)
    built = {}
    for table in TABLES:
        if table not in data:
            continue
        if not isinstance(data[table], dict):
            raise ConfigError(f"{where}: {table} must be a table ([{table}]), got {_found(data[table])}")
        built[table] = _build(hints[table], data[table], f"{where} [{table}]")
    return CorpusConfig(**built)


def as_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a config (for the statistics' `settings`)."""
    return dataclasses.asdict(cfg)
