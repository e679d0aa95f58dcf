"""Settings of the web pipelines: frozen dataclasses, read from TOML (configs/corpus/*.toml).

Every field has its unit and its reason. `load_config(path)` reads a TOML file whose tables are
`[ccnet]`, `[c4]`, `[models]`, `[run]` and one per other source; missing keys keep the defaults below
(which are the recipe's numbers). docs/configs.md documents every table and key.
"""

from __future__ import annotations

import dataclasses
import tomllib
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

    def __post_init__(self):
        if self.language_id not in ("langdetect", "fasttext"):
            raise ValueError(f"c4.language_id must be 'langdetect' or 'fasttext', not {self.language_id!r}")


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


def _build(cls, table: dict[str, Any], where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(table) - set(fields)
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {sorted(unknown)}; known: {sorted(fields)}")
    values = {}
    for k, v in table.items():
        if isinstance(v, list) and k != "cutoffs":
            v = tuple(v)
        values[k] = v
    return cls(**values)


def load_config(path: str | Path | None = None) -> CorpusConfig:
    """Read a TOML config; None gives the defaults."""
    if path is None:
        return CorpusConfig()
    with open(path, "rb") as f:
        data = tomllib.load(f)
    unknown = set(data) - set(TABLES)
    if unknown:
        raise ValueError(f"{path}: unknown table(s) {sorted(unknown)} (known: {', '.join(TABLES)})")
    return CorpusConfig(
        ccnet=_build(CCNetConfig, data.get("ccnet", {}), f"{path} [ccnet]"),
        c4=_build(C4PipelineConfig, data.get("c4", {}), f"{path} [c4]"),
        models=_build(ModelsConfig, data.get("models", {}), f"{path} [models]"),
        run=_build(RunConfig, data.get("run", {}), f"{path} [run]"),
        github=_build(GitHubPipelineConfig, data.get("github", {}), f"{path} [github]"),
        arxiv=_build(ArxivPipelineConfig, data.get("arxiv", {}), f"{path} [arxiv]"),
        wikipedia=_build(WikipediaConfig, data.get("wikipedia", {}), f"{path} [wikipedia]"),
        books=_build(BooksConfig, data.get("books", {}), f"{path} [books]"),
        stackexchange=_build(StackExchangeConfig, data.get("stackexchange", {}), f"{path} [stackexchange]"),
    )


def as_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a config (for the statistics' `settings`)."""
    return dataclasses.asdict(cfg)
