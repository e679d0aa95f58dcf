"""RedPajama's GitHub rules (docs/sources.md, GitHub) as pure functions over one file's path and text.

Order (interfaces.md; the first rule that applies names the drop): `license` (MIT / BSD / Apache only,
by the BigQuery dataset's license ids), `duplicate_content` (a Beam shuffle in pipelines/github.py),
`extension` (RedPajama's whitelist, `Dockerfile` and `Makefile` by file name), then boilerplate removal
and the quality thresholds on what is left: `max_line_length` > 1000, `mean_line_length` > 100,
`alnum_fraction` < 0.25, `alpha_per_token` < 1.5.

"Token": RedPajama counts tokens of the GPT-NeoX-20B BPE tokenizer
(`len(AutoTokenizer.from_pretrained("EleutherAI/pythia-6.9b-deduped").tokenize(text))`). Give that
tokenizer's `tokenizer.json` as `tokenizer_json` to count exactly as RedPajama does. Its vocabulary is a
download we cannot assume (offline machines, the sample world), so without it the default counts
whitespace-separated words (`token_mode="whitespace"`, the sample world's definition); a word holds
one or more BPE tokens, so this ratio is an upper bound of RedPajama's and the default drops only files
RedPajama drops too. `token_mode="pretoken"` counts GPT-NeoX's pre-tokenizer pieces (letter runs,
digit runs, symbol runs, whitespace runs), a closer lower bound of the BPE count: measured on the
sample world's ordinary C files it gives 1.38-1.46 alphabetic characters per token (whitespace words:
3.1-3.3), i.e. with real BPE tokens RedPajama's 1.5 drops much plain C code.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache

LICENSE = "license"
DUPLICATE_CONTENT = "duplicate_content"
EXTENSION = "extension"
MAX_LINE_LENGTH = "max_line_length"
MEAN_LINE_LENGTH = "mean_line_length"
ALNUM_FRACTION = "alnum_fraction"
ALPHA_PER_TOKEN = "alpha_per_token"
REASONS = (LICENSE, DUPLICATE_CONTENT, EXTENSION, MAX_LINE_LENGTH, MEAN_LINE_LENGTH, ALNUM_FRACTION,
           ALPHA_PER_TOKEN)  # fmt: skip

# The license ids of `bigquery-public-data.github_repos.licenses` that are MIT, BSD or Apache.
PERMISSIVE_LICENSES = ("mit", "apache-2.0", "bsd-2-clause", "bsd-3-clause")

# RedPajama's `extensions_whitelist` (data_prep/github/github_run_filter.py), matched like its
# `path.endswith(...)`: case-sensitive, so ".C" and ".H" (C++) are listed beside ".c" and ".h", and
# the bare names match any path ending in them ("Dockerfile", "Makefile").
EXTENSIONS = (
    ".asm", ".bat", ".cmd", ".c", ".h", ".cs", ".cpp", ".hpp", ".c++", ".h++", ".cc", ".hh", ".C", ".H",
    ".cmake", ".css", ".dockerfile", ".f90", ".f", ".f03", ".f08", ".f77", ".f95", ".for", ".fpp", ".go",
    ".hs", ".html", ".java", ".js", ".jl", ".lua", ".md", ".markdown", ".php", ".php3", ".php4", ".php5",
    ".phps", ".phpt", ".pl", ".pm", ".pod", ".perl", ".ps1", ".psd1", ".psm1", ".py", ".rb", ".rs",
    ".sql", ".scala", ".sh", ".bash", ".command", ".zsh", ".ts", ".tsx", ".tex", ".vb", "Dockerfile",
    "Makefile", ".xml", ".rst", ".m", ".smali",
)  # fmt: skip

# GPT-NeoX / GPT-2 byte-level pre-tokenization pattern (tokenizers' ByteLevel pre-tokenizer); needs
# the `regex` module for \p{L} / \p{N} (imported only in pretoken mode).
PRETOKEN_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_LEADING_COMMENT = re.compile(r"\s*(//|#|--)")


@dataclasses.dataclass(frozen=True)
class GitHubConfig:
    licenses: tuple[str, ...] = PERMISSIVE_LICENSES  # BigQuery license ids kept (lowercase)
    extensions: tuple[str, ...] = EXTENSIONS  # path suffixes kept (RedPajama's whitelist)
    remove_boilerplate: bool = True  # cut a leading copyright block / leading comment lines
    max_line_length: int = 1000  # characters; a file with a longer line is dropped
    max_mean_line_length: float = 100.0  # characters per line; a higher mean is dropped
    min_alnum_fraction: float = 0.25  # alphanumeric characters / all characters; lower is dropped
    min_alpha_per_token: float = 1.5  # alphabetic characters / tokens; lower is dropped
    token_mode: str = "whitespace"  # "whitespace" (words) | "pretoken" (GPT-NeoX pre-tokenizer pieces)
    tokenizer_json: str = ""  # a Hugging Face tokenizer.json (e.g. pythia's): count real BPE tokens

    def __post_init__(self):
        if self.token_mode not in ("pretoken", "whitespace"):
            raise ValueError(f"github.token_mode must be 'whitespace' or 'pretoken', not {self.token_mode!r}")
        # a negative length or a fraction above 1 would drop every file without an error
        for name in ("max_line_length", "max_mean_line_length", "min_alpha_per_token"):
            if getattr(self, name) < 0:
                raise ValueError(f"github.{name} must be >= 0, not {getattr(self, name)}")
        if not 0.0 <= self.min_alnum_fraction <= 1.0:
            raise ValueError(
                f"github.min_alnum_fraction is a fraction in [0, 1], not {self.min_alnum_fraction}"
            )


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The outcome for one file: `reason` None means kept; `text` is the text after boilerplate
    removal; `detail` says which value broke which threshold."""

    reason: str | None
    text: str
    detail: str = ""


def license_ok(license_id: str | None, cfg: GitHubConfig = GitHubConfig()) -> bool:
    return (license_id or "").strip().lower() in cfg.licenses


def extension_ok(path: str, cfg: GitHubConfig = GitHubConfig()) -> bool:
    return path.endswith(tuple(cfg.extensions))


def remove_boilerplate(text: str) -> str:
    """Cut a license header. If the file opens (after blank lines) with a `/* ... */` block that
    contains "copyright" (any case), the block and the blank lines after it go; otherwise the leading
    run of comment lines (`//`, `#`, `--`) and blank lines goes. A shebang (`#!`) and anything else
    that is not a comment stops the cut (a `#!` line is a comment by the rule, so it is cut too: the
    rule is RedPajama's, not a parser)."""
    stripped = text.lstrip()
    if stripped.startswith("/*"):
        end = stripped.find("*/")
        if end >= 0 and "copyright" in stripped[: end + 2].lower():
            return stripped[end + 2 :].lstrip("\r\n \t")
    lines = text.split("\n")
    i = 0
    while i < len(lines) and (not lines[i].strip() or _LEADING_COMMENT.match(lines[i])):
        i += 1
    return "\n".join(lines[i:])


def count_tokens(text: str, cfg: GitHubConfig = GitHubConfig()) -> int:
    if cfg.tokenizer_json:
        return len(_hf_tokenizer(cfg.tokenizer_json).encode(text, add_special_tokens=False).ids)
    if cfg.token_mode == "whitespace":
        return len(text.split())
    return sum(1 for _ in _pretoken_re().finditer(text))


@lru_cache(maxsize=1)
def _pretoken_re():
    import regex

    return regex.compile(PRETOKEN_PATTERN)


@lru_cache(maxsize=4)
def _hf_tokenizer(path: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


@dataclasses.dataclass(frozen=True)
class TextStats:
    max_line_length: int  # characters of the longest line
    mean_line_length: float  # characters per line (RedPajama: len(text) / number of lines)
    alnum_fraction: float  # alphanumeric characters / characters (0 for an empty text)
    alpha_per_token: float  # alphabetic characters / tokens (0 for a text with no token)


def text_stats(text: str, cfg: GitHubConfig = GitHubConfig()) -> TextStats:
    lines = text.splitlines() or [""]
    n_alpha = sum(c.isalpha() for c in text)
    n_tokens = count_tokens(text, cfg)
    return TextStats(
        max_line_length=max(len(line) for line in lines),
        mean_line_length=len(text) / len(lines),
        alnum_fraction=sum(c.isalnum() for c in text) / len(text) if text else 0.0,
        alpha_per_token=n_alpha / n_tokens if n_tokens else 0.0,
    )


def quality(text: str, cfg: GitHubConfig = GitHubConfig()) -> Verdict:
    """Boilerplate removal, then the four thresholds in order; the text returned is the cleaned one."""
    if cfg.remove_boilerplate:
        text = remove_boilerplate(text)
    reason, detail = check_quality(text_stats(text, cfg), cfg)
    return Verdict(reason, text, detail)


def check_quality(s: TextStats, cfg: GitHubConfig = GitHubConfig()) -> tuple[str | None, str]:
    """(reason, detail) of the first threshold `s` breaks, in order; (None, "") when none: the
    pure decision (the pipeline applies it to the recorded statistics, `lamina refilter` too)."""
    if s.max_line_length > cfg.max_line_length:
        return MAX_LINE_LENGTH, f"longest line {s.max_line_length} > {cfg.max_line_length}"
    if s.mean_line_length > cfg.max_mean_line_length:
        return MEAN_LINE_LENGTH, f"mean line {s.mean_line_length:.1f} > {cfg.max_mean_line_length}"
    if s.alnum_fraction < cfg.min_alnum_fraction:
        return ALNUM_FRACTION, f"alphanumeric {s.alnum_fraction:.3f} < {cfg.min_alnum_fraction}"
    if s.alpha_per_token < cfg.min_alpha_per_token:
        return ALPHA_PER_TOKEN, f"alphabetic/token {s.alpha_per_token:.3f} < {cfg.min_alpha_per_token}"
    return None, ""
