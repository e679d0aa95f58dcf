"""A small corpus run directory built from real text, and a tokenizer trained on it.

Sources: `wikipedia` (real web sentences in 75 languages, lingua), `c4` (Tatoeba sentences,
non-ASCII heavy), `github` (real Python source: the standard library's own files). Documents are
groups of consecutive lines; a few edge cases are added on purpose: a document starting with
spaces, one that is only spaces (dropped as `empty`), one starting with a newline and a tab.
"""

from __future__ import annotations

import gzip
import lzma
import sysconfig
from pathlib import Path

import pytest

from lamina.documents import Document, stable_id

LINGUA_LANGS = ("en", "de", "fr", "ru", "ja", "zh", "ar", "hi", "ko", "el", "he", "th", "tr", "vi", "uk")
STDLIB_FILES = ("json/decoder.py", "json/encoder.py", "textwrap.py", "shlex.py", "fnmatch.py", "heapq.py")


def write_docs(corpus: Path, source: str, texts: list[str], name: str = "part-00000") -> None:
    d = corpus / "docs" / source
    d.mkdir(parents=True, exist_ok=True)
    with gzip.open(d / f"{name}.jsonl.gz", "wt", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(Document(stable_id(source, name, str(i)), source, t).to_json() + "\n")


def lingua_docs(shared_data: Path, per_doc: int = 8, lines: int = 80) -> list[str]:
    docs = []
    for lang in LINGUA_LANGS:
        sents = (
            (shared_data / "multilingual" / "lingua_sentences" / f"{lang}.txt")
            .read_text("utf-8")
            .splitlines()
        )
        sents = sents[:lines]
        docs += [" ".join(sents[i : i + per_doc]) for i in range(0, len(sents), per_doc)]
    return docs


def tatoeba_docs(shared_data: Path, n: int = 1500, per_doc: int = 10) -> list[str]:
    rows = []
    with lzma.open(shared_data / "multilingual" / "tatoeba-nonascii-CC0.tsv.xz", "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 80 == 0:  # spread over the (language-sorted) file
                rows.append(line.rstrip("\n").split("\t")[-1])
            if len(rows) >= n:
                break
    return ["\n".join(rows[i : i + per_doc]) for i in range(0, len(rows), per_doc)]


def code_docs() -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return [(stdlib / f).read_text("utf-8") for f in STDLIB_FILES]


@pytest.fixture(scope="session")
def code_texts() -> list[str]:
    """Real Python source files (the standard library's), whole."""
    return code_docs()


@pytest.fixture(scope="session")
def corpus_dir(shared_data, tmp_path_factory) -> Path:
    corpus = tmp_path_factory.mktemp("corpus")
    wiki = lingua_docs(shared_data)
    wiki += [
        "   leading spaces are stripped before encoding",
        "     ",
        "\n\tstarts with a newline and a tab 42",
    ]
    write_docs(corpus, "wikipedia", wiki[: len(wiki) // 2], "part-00000")
    write_docs(corpus, "wikipedia", wiki[len(wiki) // 2 :], "part-00001")
    write_docs(corpus, "c4", tatoeba_docs(shared_data))
    write_docs(corpus, "github", code_docs())
    return corpus


@pytest.fixture(scope="session")
def tokenizer_model(corpus_dir) -> Path:
    """Trained once per session on the test corpus (vocab 1200, ~300k characters)."""
    from lamina.tokenize.mixture import MixtureWarning
    from lamina.tokenize.train import TokenizerConfig, train

    with pytest.warns(MixtureWarning, match="commoncrawl"):  # 3 of LLaMA's 7 sources are present
        return train(corpus_dir, TokenizerConfig(vocab_size=1200, sample_chars=300_000, num_threads=2))


def train_cli(corpus: Path, *args: str) -> int:
    """`lamina tokenizer train --corpus CORPUS ARGS...`, SentencePiece's and Beam's warnings silenced."""
    import warnings

    from lamina.cli import main as lamina

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lamina(["tokenizer", "train", "--corpus", str(corpus), *args])
