"""`lamina models`: train every model the filters need, from text, the way cc_net and RedPajama did,
so the project downloads nothing.

    lamina models --sample out/sample --out out/models
    lamina models --sample out/sample --out out/models --lid-corpus ../shared/data/multilingual/lingua_sentences
    lamina models --sample out/sample --out out/models --wikipedia enwiki-...xml.bz2 --only lm

Writes (docs/interfaces.md, "Models directory"):
  lid/lid.bin + card.json          fastText supervised language id with character n-grams; by default
                                   on the Wikipedia dumps' paragraphs, label = dump language
  lm/<lang>.sp.model, <lang>.arpa.bin, <lang>.card.json
                                   SentencePiece unigram (character_coverage 0.9995) + KenLM 5-gram
                                   (`lmplz -o 5 --discount_fallback`, `build_binary`) on cc_net-normalized
                                   Wikipedia lines; a deterministic tenth of the pages is held out
  wikiref/wikiref.bin + card.json  fastText: WET pages whose URLs Wikipedia cites in <ref>s
                                   (`__label__wiki`) vs random other WET pages (`__label__cc`)
Every card says what the model was trained on, its sizes and settings, and its held-out accuracy
(LID, wikiref) or held-out perplexity (LM). Every file is written under a temporary name and renamed.

`lamina bench langid` trains LID on lingua's 75-language sentences and prints its accuracy on the
Universal Declaration of Human Rights, paragraph by paragraph, for the 20 LLaMA Wikipedia languages.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from lamina.documents import Document
from lamina.filters.langid import LABEL_PREFIX, LanguageIdentifier, one_line
from lamina.filters.normalize import normalize
from lamina.filters.perplexity import PerplexityScorer
from lamina.filters.wikiref import CC_LABEL, WIKI_LABEL, WikiRefClassifier
from lamina.filters.wikitext import ref_urls
from lamina.formats.wikipedia import dump_language, iter_pages, read_wikipedia

REPO = Path(__file__).resolve().parents[1]
SHARED_MULTILINGUAL = REPO.parent / "shared" / "data" / "multilingual"
# The 20 languages of LLaMA's Wikipedia, and the UDHR file that holds each (ISO 639-3 names; Serbian
# in Cyrillic like lingua's sr.txt; both Portuguese variants).
LLAMA_LANGUAGES = ("bg", "ca", "cs", "da", "de", "en", "es", "fr", "hr", "hu",
                   "it", "nl", "pl", "pt", "ro", "ru", "sl", "sr", "sv", "uk")  # fmt: skip
UDHR_FILES = {
    "bg": ["bul"], "ca": ["cat"], "cs": ["ces"], "da": ["dan"], "de": ["deu"], "en": ["eng"],
    "es": ["spa"], "fr": ["fra"], "hr": ["hrv"], "hu": ["hun"], "it": ["ita"], "nl": ["nld"],
    "pl": ["pol"], "pt": ["por_PT", "por_BR"], "ro": ["ron"], "ru": ["rus"], "sl": ["slv"],
    "sr": ["srp_cyrl"], "sv": ["swe"], "uk": ["ukr"],
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class LidConfig:
    dim: int = 16  # embedding size (lid.176: 16)
    epoch: int = 10  # passes over the training text (at least; see min_examples_seen)
    # More passes on small corpora, until training has seen this many examples: at 10 passes over the
    # sample world's ~2,000 Wikipedia paragraphs the model was under-trained and scored fluent English
    # shop and forum pages 0.983-0.989, under C4's 0.99; ~25 passes score them >= 0.995 while character
    # noise stays under 0.45 (cc_net's 0.5). Large corpora (lingua's 75,000 sentences) keep `epoch`.
    min_examples_seen: int = 50_000
    lr: float = 0.5  # learning rate
    minn: int = 2  # shortest character n-gram (lid.176: 2)
    maxn: int = 4  # longest character n-gram (lid.176: 4)
    word_ngrams: int = 2  # word n-grams; 2 also avoids fastText's NaN on tiny data
    bucket: int = 400_000  # hash buckets for n-grams (size of the model: bucket * dim * 4 bytes)
    min_chars: int = 20  # paragraphs shorter than this are not used (headings, list items)
    holdout: float = 0.1  # fraction of examples per language held out for the accuracy in the card
    max_per_language: int = 20_000  # cap on training examples per language (balances big dumps)
    threads: int = 2  # fastText threads (1 makes training bit-for-bit deterministic)
    seed: int = 0  # shuffling and fastText seed


@dataclasses.dataclass(frozen=True)
class LmConfig:
    vocab_size: int = 65536  # SentencePiece vocabulary (cc_net); capped by `chars_per_piece` on small data
    chars_per_piece: int = 200  # at most one vocabulary piece per this many training characters
    min_vocab: int = 200  # never fewer pieces than this
    character_coverage: float = 0.9995  # cc_net's SentencePiece setting
    order: int = 5  # KenLM n-gram order (cc_net: 5)
    lmplz_memory: str = "256M"  # lmplz -S (its default takes 80% of RAM)
    holdout: float = 0.1  # fraction of pages held out (by page-id hash) for the card's perplexity
    threads: int = 2  # SentencePiece training threads


@dataclasses.dataclass(frozen=True)
class WikiRefConfig:
    dim: int = 16  # embedding size
    # passes. With dozens of examples more passes memorize the training negatives, and a good page
    # drawn as a random negative is then dropped by the pipeline that scores it: on sample worlds of
    # seeds 0-2, 25 passes gave wikiref precision/recall >= 0.93, 50 passes precision 0.75-0.88.
    epoch: int = 25
    lr: float = 0.5  # learning rate
    word_ngrams: int = 2  # word bigrams
    bucket: int = 200_000  # hash buckets for word bigrams (model size: bucket * dim * 4 bytes)
    negatives_per_positive: float = 1.0  # random pages per cited one (RedPajama's 1:1 balance)
    holdout: float = 0.2  # fraction of each class held out for the card's accuracy
    threads: int = 1  # fastText threads (1: deterministic)
    seed: int = 0  # sampling and fastText seed


# --- small helpers ------------------------------------------------------------------------------------


def _frac_hash(key: str) -> float:
    """A deterministic number in [0, 1) per key (for held-out splits that do not move between runs)."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 2**32


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(tmp, path)


def kenlm_bin(tool: str) -> str:
    """Path of a KenLM tool: $LAMINA_KENLM_BIN, else PATH, else the Makefile's cache."""
    candidates = []
    if os.environ.get("LAMINA_KENLM_BIN"):
        candidates.append(Path(os.environ["LAMINA_KENLM_BIN"]) / tool)
    found = shutil.which(tool)
    if found:
        candidates.append(Path(found))
    candidates.append(Path.home() / ".cache" / "lamina" / "kenlm-0.3.0" / "bin" / tool)
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    raise FileNotFoundError(
        f"KenLM's {tool} not found (looked in {[str(c) for c in candidates]}); run `make tools`"
    )


def _fasttext_train_and_save(train_file: str, out_path: str, params: dict) -> float:
    """Runs in a fresh process (see `_fasttext_train`): train, retrying at half the learning rate
    if fastText diverges, and save. Returns the learning rate that worked."""
    import fasttext
    import fasttext.FastText

    fasttext.FastText.eprint = lambda *a, **k: None
    lr = params.pop("lr")
    for attempt in range(5):
        try:
            model = fasttext.train_supervised(input=train_file, verbose=0, lr=lr, **params)
            model.save_model(out_path)
            return lr
        except RuntimeError as e:
            if "NaN" not in str(e) or attempt == 4:
                raise RuntimeError(f"fastText training on {train_file} failed at lr={lr}: {e}") from e
            lr /= 2
    raise AssertionError("unreachable")


def _fasttext_train(lines: Iterable[str], out_path: Path, **params) -> float:
    """Train a fastText supervised model on `lines` (`__label__x text`, one example each) into
    `out_path` (written under a temporary name, then renamed); returns the learning rate used.

    Training runs in a fresh Python process: in a process whose heap has been through a large
    fastText `predict` (e.g. the held-out evaluation of a 75-language model), the next training on
    small data failed with "Encountered NaN" at any learning rate (fastText apparently reads memory
    it did not initialize). A clean process makes training independent of what ran before."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    code = (
        "import json, sys; from lamina.models import _fasttext_train_and_save as t; "
        "print(json.dumps(t(*json.loads(sys.argv[1]))))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        train_file = Path(tmpdir) / "train.txt"
        train_file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        args = json.dumps([str(train_file), str(tmp), params])
        proc = subprocess.run(
            [sys.executable, "-c", code, args], capture_output=True, text=True, check=False, env=env
        )
    if proc.returncode != 0:
        raise RuntimeError(f"fastText training failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    lr = float(json.loads(proc.stdout.strip().splitlines()[-1]))
    os.replace(tmp, out_path)
    return lr


def _accuracy(predict, examples: list[tuple[str, str]]) -> tuple[float, dict[str, float]]:
    """(overall accuracy, per-label accuracy) of `predict(texts) -> labels` on (label, text) pairs."""
    if not examples:
        return float("nan"), {}
    got = predict([t for _, t in examples])
    hits: Counter = Counter()
    totals: Counter = Counter()
    for (label, _), pred in zip(examples, got, strict=True):
        totals[label] += 1
        hits[label] += pred == label
    per = {k: round(hits[k] / totals[k], 4) for k in sorted(totals)}
    return round(sum(hits.values()) / len(examples), 4), per


# --- Wikipedia input ----------------------------------------------------------------------------------


def wikipedia_dumps(sample_dir: Path) -> list[Path]:
    """The sample world's dumps, `<sample>/wikipedia/<lang>wiki-*.xml(.bz2)`."""
    d = Path(sample_dir) / "wikipedia"
    dumps = sorted(p for p in d.glob("*wiki-*.xml*") if dump_language(p))
    if not dumps:
        raise FileNotFoundError(
            f"no Wikipedia dumps (<lang>wiki-*.xml.bz2) under {d}; run `lamina sample` first"
        )
    return dumps


def wikipedia_documents(
    dumps: Iterable[Path], languages: Iterable[str] | None = None
) -> dict[str, list[Document]]:
    """Cleaned articles per dump language."""
    wanted = set(languages) if languages else None
    by_lang: dict[str, list[Document]] = defaultdict(list)
    for dump in dumps:
        lang = dump_language(dump)
        if wanted is not None and lang not in wanted:
            continue
        by_lang[lang] += [d for d in read_wikipedia(dump) if isinstance(d, Document)]
    return dict(by_lang)


def paragraphs(text: str, min_chars: int) -> list[str]:
    return [p for p in (one_line(line) for line in text.split("\n")) if len(p) >= min_chars]


# --- language id --------------------------------------------------------------------------------------


def lid_examples_from_corpus(path: Path) -> list[tuple[str, str]]:
    """(lang, text) from a directory of `<lang>.txt` (one example per line) or a fastText-format file
    (`__label__<lang> text` per line)."""
    path = Path(path)
    examples: list[tuple[str, str]] = []
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise FileNotFoundError(f"{path}: no <lang>.txt files")
        for f in files:
            examples += [
                (f.stem, t) for t in (one_line(x) for x in f.read_text(encoding="utf-8").splitlines()) if t
            ]
        return examples
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            label, _, text = line.strip().partition(" ")
            if not label.startswith(LABEL_PREFIX) or not text.strip():
                raise ValueError(f"{path}:{n}: expected '__label__<lang> text', got {line[:80]!r}")
            examples.append((label.removeprefix(LABEL_PREFIX), one_line(text)))
    return examples


def train_lid(examples: list[tuple[str, str]], out_dir: Path, cfg: LidConfig, trained_on: dict) -> dict:
    """Train the fastText LID model on (lang, text) examples; write lid/lid.bin and lid/card.json."""
    rng = random.Random(cfg.seed)
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, text in examples:
        by_lang[lang].append(text)
    train: list[tuple[str, str]] = []
    held: list[tuple[str, str]] = []
    for lang in sorted(by_lang):
        texts = by_lang[lang]
        rng.shuffle(texts)
        n_held = int(len(texts) * cfg.holdout) if len(texts) >= 10 else 0
        held += [(lang, t) for t in texts[:n_held]]
        train += [(lang, t) for t in texts[n_held:][: cfg.max_per_language]]
    if len(by_lang) < 2:
        raise ValueError(f"language id needs at least 2 languages, got {sorted(by_lang)}")
    rng.shuffle(train)
    epoch = max(cfg.epoch, math.ceil(cfg.min_examples_seen / len(train)))
    out = Path(out_dir) / "lid"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    lr_used = _fasttext_train(
        (f"{LABEL_PREFIX}{lang} {text}" for lang, text in train), out / "lid.bin",
        dim=cfg.dim, epoch=epoch, lr=cfg.lr, minn=cfg.minn, maxn=cfg.maxn, wordNgrams=cfg.word_ngrams,
        bucket=cfg.bucket, thread=cfg.threads, seed=cfg.seed, loss="softmax",
    )  # fmt: skip
    lid = LanguageIdentifier(out / "lid.bin")
    acc, per = _accuracy(lambda texts: [lang for lang, _ in lid.predict_many(texts)], held)
    card = {
        "model": "fastText supervised language id (character n-grams)",
        "file": "lid.bin",
        "labels": sorted(by_lang),
        "trained_on": {
            **trained_on,
            "examples": len(train),
            "per_language": {k: len(v) for k, v in sorted(by_lang.items())},
        },
        "settings": {**dataclasses.asdict(cfg), "lr_used": lr_used, "epoch_used": epoch},
        "held_out": {"examples": len(held), "accuracy": acc, "per_language": per},
        "bytes": (out / "lid.bin").stat().st_size,
        "train_seconds": round(time.time() - t0, 1),
    }
    _write_json(out / "card.json", card)
    return card


# --- SentencePiece + KenLM ----------------------------------------------------------------------------


def lm_lines(docs: Iterable[Document]) -> list[str]:
    """cc_net-normalized non-blank lines of the documents (the LM's training text, before pieces)."""
    return [n for d in docs for n in (normalize(line) for line in d.text.split("\n")) if n]


def split_held_out(docs: list[Document], fraction: float) -> tuple[list[Document], list[Document]]:
    """(train, held out): a page is held out when the hash of its id falls under `fraction`."""
    train = [d for d in docs if _frac_hash(d.id) >= fraction]
    held = [d for d in docs if _frac_hash(d.id) < fraction]
    if not train:
        train, held = docs, []
    return train, held


def train_lm(lang: str, docs: list[Document], out_dir: Path, cfg: LmConfig, trained_on: dict) -> dict:
    """SentencePiece + KenLM 5-gram for one language; writes lm/<lang>.{sp.model,arpa.bin,card.json}."""
    import sentencepiece as spm

    out = Path(out_dir) / "lm"
    out.mkdir(parents=True, exist_ok=True)
    train_docs, held_docs = split_held_out(docs, cfg.holdout)
    lines = lm_lines(train_docs)
    chars = sum(len(x) for x in lines)
    if not lines:
        raise ValueError(f"no {lang} text to train a language model on ({trained_on})")
    vocab = max(cfg.min_vocab, min(cfg.vocab_size, chars // cfg.chars_per_piece))
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        prefix = tmpd / f"{lang}.sp"
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_prefix=str(prefix), vocab_size=vocab, model_type="unigram",
            character_coverage=cfg.character_coverage, hard_vocab_limit=False, num_threads=cfg.threads,
            max_sentence_length=1 << 16, minloglevel=2,
        )  # fmt: skip
        sp = spm.SentencePieceProcessor(model_file=str(prefix) + ".model")
        tokens = tmpd / "tokens.txt"
        n_tokens = 0
        with open(tokens, "w", encoding="utf-8") as f:
            for line in lines:
                pieces = sp.encode(line, out_type=str)
                n_tokens += len(pieces)
                f.write(" ".join(pieces) + "\n")
        arpa = tmpd / f"{lang}.arpa"
        lmplz_args = ["-o", str(cfg.order), "-S", cfg.lmplz_memory, "--discount_fallback"]
        lmplz = [kenlm_bin("lmplz"), *lmplz_args, "-T", str(tmpd)]
        _run_tool(lmplz, stdin=tokens, stdout=arpa, what=f"lmplz ({lang})")
        binary = tmpd / f"{lang}.arpa.bin"
        _run_tool([kenlm_bin("build_binary"), str(arpa), str(binary)], what=f"build_binary ({lang})")
        os.replace(str(prefix) + ".model", out / f"{lang}.sp.model")
        os.replace(binary, out / f"{lang}.arpa.bin")
    scorer = PerplexityScorer(out / f"{lang}.sp.model", out / f"{lang}.arpa.bin")
    held_pp = [scorer.perplexity(d.text) for d in held_docs]
    card = {
        "model": "SentencePiece unigram + KenLM n-gram on cc_net-normalized Wikipedia lines",
        "language": lang,
        "files": {"sentencepiece": f"{lang}.sp.model", "kenlm": f"{lang}.arpa.bin"},
        "trained_on": {
            **trained_on,
            "pages": len(train_docs),
            "lines": len(lines),
            "chars": chars,
            "tokens": n_tokens,
        },
        "sentencepiece": {
            "vocab_size": sp.get_piece_size(),
            "vocab_size_asked": vocab,
            "model_type": "unigram",
            "character_coverage": cfg.character_coverage,
        },  # fmt: skip
        "kenlm": {
            "order": cfg.order,
            "lmplz_args": lmplz_args,
            "bytes": (out / f"{lang}.arpa.bin").stat().st_size,
        },
        "held_out": {
            "pages": len(held_docs),
            "page_ids": sorted(d.metadata.get("page_id", "") for d in held_docs),
            "median_perplexity": round(statistics.median(held_pp), 1) if held_pp else None,
        },
        "settings": dataclasses.asdict(cfg),
        "train_seconds": round(time.time() - t0, 1),
    }
    _write_json(out / f"{lang}.card.json", card)
    return card


def _run_tool(cmd: list[str], *, what: str, stdin: Path | None = None, stdout: Path | None = None) -> None:
    with open(stdin or os.devnull, "rb") as fin, open(stdout or os.devnull, "wb") as fout:
        proc = subprocess.run(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace")[-1500:]
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


# --- Wikipedia-reference classifier -------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """URLs compared loosely: no scheme, no `www.`, no fragment, no trailing slash, host lowercased."""
    url = url.strip().split("#", 1)[0]
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    host = host.lower().removeprefix("www.")
    return f"{host}/{path}".rstrip("/")


def cited_urls(dumps: Iterable[Path]) -> set[str]:
    """Normalized URLs cited in `<ref>`s of the dumps' articles (namespace 0, not redirects)."""
    urls: set[str] = set()
    for dump in dumps:
        for page in iter_pages(dump):
            if getattr(page, "ns", None) == 0 and not page.redirect:
                urls.update(normalize_url(u) for u in ref_urls(page.text))
    return urls


def wet_files(sample_dir: Path) -> list[Path]:
    files = sorted((Path(sample_dir) / "cc").rglob("*.warc.wet*"))
    if not files:
        raise FileNotFoundError(f"no WET files under {Path(sample_dir) / 'cc'}; run `lamina sample` first")
    return files


def wet_documents(files: Iterable[Path]) -> list[Document]:
    """Every readable WET page once (exact duplicates across dumps by WARC-Block-Digest skipped)."""
    from lamina.formats.wet import iter_wet

    seen: set[str] = set()
    docs = []
    for f in files:
        for item in iter_wet(f):
            if isinstance(item, Document) and item.metadata.get("digest") not in seen:
                seen.add(item.metadata.get("digest"))
                docs.append(item)
    return docs


def train_wikiref(
    cited: set[str], pages: list[Document], out_dir: Path, cfg: WikiRefConfig, trained_on: dict
) -> dict:
    """positives = pages whose URL is cited, negatives = random other pages; writes wikiref/."""
    rng = random.Random(cfg.seed)
    pos = [d.text for d in pages if normalize_url(d.metadata.get("url", "")) in cited and d.text.strip()]
    others = [
        d.text for d in pages if normalize_url(d.metadata.get("url", "")) not in cited and d.text.strip()
    ]
    if not pos or not others:
        raise ValueError(
            f"reference classifier: {len(pos)} cited pages and {len(others)} others found; need both"
        )
    rng.shuffle(others)
    neg = others[: max(1, round(len(pos) * cfg.negatives_per_positive))]
    rng.shuffle(pos)
    examples = {WIKI_LABEL: pos, CC_LABEL: neg}
    train: list[tuple[str, str]] = []
    held: list[tuple[str, str]] = []
    for label, texts in examples.items():
        n_held = int(len(texts) * cfg.holdout) if len(texts) >= 5 else 0
        held += [(label, t) for t in texts[:n_held]]
        train += [(label, t) for t in texts[n_held:]]
    rng.shuffle(train)
    out = Path(out_dir) / "wikiref"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    lr_used = _fasttext_train(
        (f"{label} {one_line(text)}" for label, text in train), out / "wikiref.bin",
        dim=cfg.dim, epoch=cfg.epoch, lr=cfg.lr, wordNgrams=cfg.word_ngrams, bucket=cfg.bucket,
        thread=cfg.threads, seed=cfg.seed, loss="softmax",
    )  # fmt: skip
    clf = WikiRefClassifier(out / "wikiref.bin")
    acc, per = _accuracy(lambda ts: [WIKI_LABEL if p >= 0.5 else CC_LABEL for p in clf.prob_many(ts)], held)
    card = {
        "model": "fastText Wikipedia-reference classifier (RedPajama): P(__label__wiki)",
        "file": "wikiref.bin",
        "trained_on": {
            **trained_on,
            "cited_urls": len(cited),
            "positives": len(pos),
            "negatives": len(neg),
            "train_examples": len(train),
        },  # fmt: skip
        "settings": {**dataclasses.asdict(cfg), "lr_used": lr_used},
        "held_out": {"examples": len(held), "accuracy_at_0.5": acc, "per_label": per},
        "bytes": (out / "wikiref.bin").stat().st_size,
        "train_seconds": round(time.time() - t0, 1),
    }
    _write_json(out / "card.json", card)
    return card


# --- everything ---------------------------------------------------------------------------------------

MODELS = ("lid", "lm", "wikiref")


def train_all(
    sample_dir: str | Path,
    out_dir: str | Path,
    *,
    wikipedia: list[Path] | None = None,
    lid_corpus: Path | None = None,
    languages: list[str] | None = None,
    only: Iterable[str] = MODELS,
    lid: LidConfig = LidConfig(),
    lm: LmConfig = LmConfig(),
    wikiref: WikiRefConfig = WikiRefConfig(),
) -> dict:
    """Train the models into `out_dir`; returns {"lid": card, "lm": {lang: card}, "wikiref": card}.

    sample_dir: the sample world (its wikipedia/ dumps and cc/ WET files are the default inputs).
    wikipedia: dumps to use instead of the sample's (LID labels and LMs come from their languages).
    lid_corpus: labelled text for LID instead of the dumps (directory of <lang>.txt, or fastText file).
    languages: restrict the dumps (and the LID labels from dumps) to these languages.
    """
    only = set(only)
    unknown = only - set(MODELS)
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; choose from {MODELS}")
    t0 = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    needs_dumps = bool({"lm", "wikiref"} & only) or ("lid" in only and not lid_corpus)
    dumps = [Path(p) for p in wikipedia or []] or (wikipedia_dumps(Path(sample_dir)) if needs_dumps else [])
    cards: dict = {}
    docs_by_lang = (
        wikipedia_documents(dumps, languages) if ("lm" in only or ("lid" in only and not lid_corpus)) else {}
    )
    if "lid" in only:
        if lid_corpus:
            examples = lid_examples_from_corpus(Path(lid_corpus))
            source = {"corpus": str(lid_corpus)}
        else:
            examples = [
                (lang, p)
                for lang, docs in docs_by_lang.items()
                for d in docs
                for p in paragraphs(d.text, lid.min_chars)
            ]
            source = {"wikipedia": [p.name for p in dumps]}
        cards["lid"] = train_lid(examples, out, lid, source)
    if "lm" in only:
        cards["lm"] = {}
        for lang, docs in sorted(docs_by_lang.items()):
            files = [p.name for p in dumps if dump_language(p) == lang]
            cards["lm"][lang] = train_lm(lang, docs, out, lm, {"wikipedia": files})
    if "wikiref" in only:
        wets = wet_files(Path(sample_dir))
        cited = cited_urls(dumps)
        cards["wikiref"] = train_wikiref(
            cited,
            wet_documents(wets),
            out,
            wikiref,
            {"wikipedia": [p.name for p in dumps], "wet_files": len(wets)},
        )
    summary = {
        "trained": sorted(cards),
        "lm_languages": sorted(cards.get("lm", {})),
        "seconds": round(time.time() - t0, 1),
        "inputs": {
            "sample": str(sample_dir),
            "wikipedia": [str(p) for p in dumps],
            "lid_corpus": str(lid_corpus or ""),
        },
    }
    _write_json(out / "models.json", summary)
    return cards


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lamina models", description="train the filter models (see module doc)")
    ap.add_argument(
        "--sample", type=Path, default=Path("out/sample"), help="the sample world (default out/sample)"
    )
    ap.add_argument(
        "--out", type=Path, default=Path("out/models"), help="models directory (default out/models)"
    )
    ap.add_argument(
        "--wikipedia", type=Path, nargs="+", help="Wikipedia dumps to use instead of the sample's"
    )
    ap.add_argument(
        "--lid-corpus", type=Path, help="LID training text: a directory of <lang>.txt or a fastText file"
    )
    ap.add_argument("--languages", nargs="+", help="only these dump languages")
    ap.add_argument("--only", nargs="+", choices=MODELS, default=list(MODELS), help="train only these models")
    args = ap.parse_args(argv)
    t0 = time.time()
    cards = train_all(
        args.sample, args.out, wikipedia=args.wikipedia, lid_corpus=args.lid_corpus,
        languages=args.languages, only=args.only,
    )  # fmt: skip
    if "lid" in cards:
        c = cards["lid"]
        print(f"lid: {len(c['labels'])} languages, held-out accuracy {c['held_out']['accuracy']}")
    for lang, c in cards.get("lm", {}).items():
        print(f"lm {lang}: vocab {c['sentencepiece']['vocab_size']}, held-out median perplexity "
              f"{c['held_out']['median_perplexity']} ({c['held_out']['pages']} pages)")  # fmt: skip
    if "wikiref" in cards:
        c = cards["wikiref"]
        print(f"wikiref: {c['trained_on']['positives']} cited / {c['trained_on']['negatives']} random pages, "
              f"held-out accuracy {c['held_out']['accuracy_at_0.5']}")  # fmt: skip
    print(f"models written to {args.out} in {time.time() - t0:.1f} s")
    return 0


# --- benchmark: LID on the UDHR -----------------------------------------------------------------------


def udhr_paragraphs(
    zip_path: Path, languages: Iterable[str] = LLAMA_LANGUAGES, min_chars: int = 100
) -> list[tuple[str, str]]:
    """(lang, paragraph) for each line of 100+ characters of the UDHR files of `languages`."""
    out = []
    with zipfile.ZipFile(zip_path) as z:
        for lang in languages:
            for name in UDHR_FILES[lang]:
                text = z.read(f"udhr2/{name}.txt").decode("utf-8")
                out += [(lang, p) for p in paragraphs(text, min_chars)]
    return out


def udhr_accuracy(lid_path: Path, zip_path: Path, languages: Iterable[str] = LLAMA_LANGUAGES) -> dict:
    """Accuracy of a LID model on UDHR paragraphs: overall, per language, and the confusions."""
    lid = LanguageIdentifier(lid_path)
    examples = udhr_paragraphs(zip_path, languages)
    preds = [lang for lang, _ in lid.predict_many([t for _, t in examples])]
    confusions = Counter(
        (gold, pred) for (gold, _), pred in zip(examples, preds, strict=True) if gold != pred
    )
    acc, per = _accuracy(lambda texts: preds, examples)
    return {"paragraphs": len(examples), "accuracy": acc, "per_language": per,
            "confusions": {f"{g}->{p}": n for (g, p), n in confusions.most_common()}}  # fmt: skip


def bench(argv: list[str] | None = None) -> dict:
    """Train LID on lingua's sentences (75 languages) and print its UDHR paragraph accuracy."""
    ap = argparse.ArgumentParser(prog="lamina bench langid")
    ap.add_argument(
        "--data", type=Path, default=SHARED_MULTILINGUAL, help="holds lingua_sentences/ and udhr2.zip"
    )
    args = ap.parse_args(argv or [])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        card = train_lid(lid_examples_from_corpus(args.data / "lingua_sentences"), Path(tmp), LidConfig(),
                         {"corpus": "lingua_sentences"})  # fmt: skip
        seconds = time.time() - t0
        result = udhr_accuracy(Path(tmp) / "lid" / "lid.bin", args.data / "udhr2.zip")
    print(f"LID trained on lingua_sentences ({len(card['labels'])} languages) in {seconds:.1f} s; "
          f"held-out sentence accuracy {card['held_out']['accuracy']}")  # fmt: skip
    print(
        f"UDHR, {result['paragraphs']} paragraphs of 100+ chars, 20 LLaMA languages: accuracy {result['accuracy']}"
    )
    print("  " + " ".join(f"{k}={v:.2f}" for k, v in result["per_language"].items()))
    if result["confusions"]:
        print("  confusions: " + ", ".join(f"{k} x{v}" for k, v in list(result["confusions"].items())[:10]))
    return {**result, "train_seconds": round(seconds, 1), "held_out_accuracy": card["held_out"]["accuracy"]}


if __name__ == "__main__":
    sys.exit(main())
