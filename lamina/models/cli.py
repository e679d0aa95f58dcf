"""`lamina models`: train every model the filters need, in order (language id, then per language
SentencePiece + KenLM with their fixed cutoffs, then the reference classifier), each written with
its card as soon as it is done, and `models.json` updated after each."""

from __future__ import annotations

import argparse
import glob
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from lamina.formats.wikipedia import dump_language
from lamina.models.common import NotEnoughData, UsageError, write_json
from lamina.models.lid import LidConfig, iter_lid_corpus, train_lid
from lamina.models.lm import LmConfig, train_lm
from lamina.models.wikipedia import dump_languages, iter_documents, paragraphs, wikipedia_dumps
from lamina.models.wikiref import WikiRefConfig, cited_urls, iter_web_pages, train_wikiref

MODELS = ("lid", "lm", "wikiref")
MAX_CUTOFF_DOCS = 20_000  # web pages per language scored for the cutoffs at most
MAX_CUTOFF_SCAN = 200_000  # web pages read for the cutoff sample at most (their line hashes: ~50 MB)
CUTOFF_MIN_LENGTH = 300  # characters: like the pages that reach CCNet's perplexity stage (too_short)


PROGRESS_S = 10.0  # seconds between progress lines on stderr while one model reads its input


class Progress:
    """`lamina models` progress on stderr: a line when a model starts and when it is written, and
    while a model reads its input one line every PROGRESS_S seconds (items read, rate)."""

    def __init__(self) -> None:
        self.t0 = time.time()

    def say(self, msg: str) -> None:
        elapsed = time.strftime("%H:%M:%S", time.gmtime(time.time() - self.t0)).removeprefix("0")
        print(f"lamina models [{elapsed}] {msg}", file=sys.stderr, flush=True)

    def counted(self, items: Iterable, what: str) -> Iterator:
        """`items` unchanged, with a line every PROGRESS_S seconds: `<what>: N read (R/s)`."""
        start = last = time.time()
        n = 0
        for n, item in enumerate(items, 1):  # noqa: B007 - n is the count after the loop
            now = time.time()
            if now - last >= PROGRESS_S:
                self.say(f"{what}: {n:,} read ({n / max(now - start, 1e-9):,.0f}/s)")
                last = now
            yield item
        self.say(f"{what}: {n:,} read in {time.time() - start:.0f} s")


def web_files(specs: Iterable[str | Path]) -> list[str]:
    """WET / JSON-lines files from paths, folders (searched for *.warc.wet*, *.jsonl*, *.json.gz) and
    globs, sorted."""
    out: list[str] = []
    for spec in specs:
        spec = str(spec)
        if Path(spec).is_dir():
            for pattern in ("**/*.warc.wet*", "**/*.jsonl", "**/*.jsonl.gz", "**/*.json.gz"):
                out += glob.glob(f"{spec.rstrip('/')}/{pattern}", recursive=True)
        elif any(c in spec for c in "*?["):
            out += glob.glob(spec, recursive=True)
        elif Path(spec).is_file():
            out.append(spec)
        else:
            raise FileNotFoundError(f"no web files at {spec} (a WET/JSON-lines file, folder or glob)")
    return sorted(set(out))


def _lid_examples(dumps: list[Path], languages, min_chars: int) -> Iterator[tuple[str, str]]:
    for lang in dump_languages(dumps, languages):
        for d in iter_documents(dumps, lang):
            yield from ((lang, p) for p in paragraphs(d.text, min_chars))


def _cutoff_candidates(files: list[str]) -> Iterator:
    """The web pages a CCNet run would line-dedup, in order: 300+ characters, exact copies (digest)
    once, at most MAX_CUTOFF_SCAN of them. Deterministic, so two passes see the same pages."""
    digests: set[str] = set()
    n = 0
    for doc in iter_web_pages(files):
        if n >= MAX_CUTOFF_SCAN:
            return
        digest = doc.metadata.get("digest")
        if len(doc.text) < CUTOFF_MIN_LENGTH or (digest and digest in digests):
            continue
        if digest:
            digests.add(digest)
        n += 1
        yield doc


def _duplicate_lines(files: list[str]):
    """cc_net's line dedup over the candidates: the sorted hashes (uint64) of the lines that occur
    more than once among them. Holds 8 bytes per line of the candidates."""
    import numpy as np

    from lamina.filters.lines import line_hashes

    chunks = [np.asarray(line_hashes(d.text), dtype=np.uint64) for d in _cutoff_candidates(files)]
    if not chunks:
        return np.zeros(0, dtype=np.uint64)
    values, counts = np.unique(np.concatenate(chunks), return_counts=True)
    return values[counts > 1]


def _split_web_by_language(
    files: list[str], lid_path: Path | None, languages: list[str], tmp: Path
) -> tuple[dict, set]:
    """The cutoff sample: each web page as a CCNet run scores it, its text appended to
    `<tmp>/<lang>.jsonl` (at most MAX_CUTOFF_DOCS per language). Like the pipeline: pages under 300
    characters and exact copies (digest) are left out, lines occurring more than once among the
    pages are removed (cc_net's line dedup: a page left with no line is left out), then the language
    (its `language` field, else the LID at cc_net's 0.5 on the deduplicated text). Two passes over
    `files`: line hashes first, then the pages. Returns (pages per language, the languages whose pages
    were taken without a language check: one language, no `language` field and no LID model)."""
    import numpy as np

    from lamina.filters.langid import LanguageIdentifier
    from lamina.filters.lines import line_hashes, remove_lines

    dups = _duplicate_lines(files)
    lid = LanguageIdentifier(lid_path) if lid_path and lid_path.is_file() else None
    counts: dict[str, int] = {}
    assumed: set[str] = set()
    handles = {}
    try:
        for doc in _cutoff_candidates(files):
            text = doc.text
            hashes = np.asarray(line_hashes(text), dtype=np.uint64)
            dup = hashes[np.isin(hashes, dups)] if len(dups) else hashes[:0]
            if len(dup):
                text, _, kept = remove_lines(text, {int(h) for h in dup})
                if not kept:
                    continue
            lang = doc.metadata.get("language")
            if not lang and lid is not None:
                lang, score = lid.predict(text.replace("\n", " "))
                lang = lang if score >= 0.5 else ""
            if not lang and lid is None and len(languages) == 1:
                lang = languages[0]  # no LID to ask: the pages are taken as the one language's
                assumed.add(lang)
            if lang not in languages or counts.get(lang, 0) >= MAX_CUTOFF_DOCS:
                continue
            if lang not in handles:
                handles[lang] = open(tmp / f"{lang}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
            handles[lang].write(json.dumps(text) + "\n")
            counts[lang] = counts.get(lang, 0) + 1
    finally:
        for h in handles.values():
            h.close()
    return counts, assumed


def _check_dumps(dumps: list[Path], languages: list[str] | None) -> None:
    """Before any training: every dump exists and names its language (a dump the name does not place
    was skipped, so a run could train nothing and exit 0), and `languages` matches some dump."""
    for p in dumps:
        if not p.is_file():
            raise FileNotFoundError(f"no Wikipedia dump at {p} (--wikipedia)")
        if not dump_language(p):
            raise UsageError(
                f"{p}: the dump's language comes from its name; name it as Wikimedia does "
                "(<lang>wiki-<date>-pages-articles*.xml.bz2, e.g. enwiki-20220801-pages-articles.xml.bz2)"
            )
    if languages and dumps and not dump_languages(dumps, languages):
        have = ", ".join(dump_languages(dumps))
        raise UsageError(
            f"--languages {' '.join(languages)}: no dump of these languages (the dumps hold {have})"
        )


def _texts(path: Path) -> Iterator[str]:
    if path.is_file():
        with open(path, encoding="utf-8") as f:
            yield from (json.loads(line) for line in f)


def train_all(
    sample_dir: str | Path,
    out_dir: str | Path,
    *,
    wikipedia: list[Path] | None = None,
    wet: list[str | Path] | None = None,
    cutoff_sample: list[str | Path] | None = None,
    lid_corpus: Path | None = None,
    languages: list[str] | None = None,
    only: Iterable[str] = MODELS,
    lid: LidConfig = LidConfig(),  # noqa: B008 - frozen dataclasses, safe as defaults
    lm: LmConfig = LmConfig(),  # noqa: B008
    wikiref: WikiRefConfig = WikiRefConfig(),  # noqa: B008
) -> dict:
    """Train the models into `out_dir`; returns {"lid": card, "lm": {lang: card}, "wikiref": card}.

    sample_dir: the sample world (its wikipedia/ dumps and cc/ WET files are the default inputs).
    wikipedia: dumps to use instead of the sample's (LID labels and LMs come from their languages).
    wet: web pages for the reference classifier (WET or JSON lines; default <sample>/cc).
    cutoff_sample: web pages whose perplexity percentiles become the LM cards' cutoffs (default `wet`).
    lid_corpus: labelled text for LID instead of the dumps (directory of <lang>.txt, or fastText file).
    languages: restrict the dumps (and the LID labels from dumps) to these languages.
    Raises `NotEnoughData` (after writing every other model) when the reference classifier cannot
    be trained from what was given.
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
    _check_dumps(dumps, languages if needs_dumps else None)
    default_web = [Path(sample_dir) / "cc"] if (Path(sample_dir) / "cc").is_dir() else []
    wet_list = web_files(wet if wet is not None else default_web) if {"lm", "wikiref"} & only else []
    cut_list = web_files(cutoff_sample) if cutoff_sample is not None else wet_list
    cards: dict = {}
    summary = {
        "trained": [],
        "lm_languages": [],
        "inputs": {
            "sample": str(sample_dir),
            "wikipedia": [str(p) for p in dumps],
            "wet": wet_list,
            "cutoff_sample": cut_list,
            "lid_corpus": str(lid_corpus or ""),
        },
    }

    progress = Progress()

    def done(name: str, written: str = "") -> None:
        progress.say(f"{name} written: {out / (written or name)} ({time.time() - t0:.0f} s so far)")
        summary["trained"] = sorted(set(summary["trained"]) | {name})
        summary["lm_languages"] = sorted(cards.get("lm", {}))
        summary["seconds"] = round(time.time() - t0, 1)
        write_json(out / "models.json", summary)

    if "lid" in only:
        if lid_corpus:
            examples, source = iter_lid_corpus(Path(lid_corpus)), {"corpus": str(lid_corpus)}
        else:
            examples = _lid_examples(dumps, languages, lid.min_chars)
            source = {"wikipedia": [p.name for p in dumps]}
        progress.say(f"lid: reading {lid_corpus or f'{len(dumps)} dump(s)'}, then training fastText")
        cards["lid"] = train_lid(progress.counted(examples, "lid: paragraphs"), out, lid, source)
        done("lid")
    if "lm" in only:
        cards["lm"] = {}
        langs = dump_languages(dumps, languages)
        with tempfile.TemporaryDirectory() as tmp:
            if cut_list:
                progress.say(f"lm: sorting {len(cut_list)} web file(s) by language for the cutoffs")
            counts, assumed = (
                _split_web_by_language(cut_list, out / "lid" / "lid.bin", langs, Path(tmp))
                if cut_list
                else ({}, set())
            )
            names = ", ".join(Path(f).name for f in cut_list[:3]) + (" ..." if len(cut_list) > 3 else "")
            for lang in langs:
                files = [p.name for p in dumps if dump_language(p) == lang]
                progress.say(f"lm {lang}: reading {len(files)} dump(s), then SentencePiece and KenLM")
                pages = progress.counted(iter_documents(dumps, lang), f"lm {lang}: pages")
                cards["lm"][lang] = train_lm(
                    lang, pages, out, lm, {"wikipedia": files},
                    cutoff_docs=_texts(Path(tmp) / f"{lang}.jsonl"),
                    cutoff_source=names + (" (language not checked: no LID model)" if lang in assumed else ""),
                )  # fmt: skip
                done("lm", f"lm/{lang}.*")
            summary["cutoff_pages_per_language"] = counts
    if "wikiref" in only:
        try:
            progress.say(f"wikiref: URLs cited by {len(dumps)} dump(s), then {len(wet_list)} web file(s)")
            pages = progress.counted(iter_web_pages(wet_list), "wikiref: web pages")
            cards["wikiref"] = train_wikiref(
                cited_urls(dumps), pages, out, wikiref,
                {"wikipedia": [p.name for p in dumps], "web_files": len(wet_list)},
            )  # fmt: skip
            done("wikiref")
        except NotEnoughData as e:
            summary["not_trained"] = {"wikiref": str(e)}
            write_json(out / "models.json", summary)
            raise
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
    ap.add_argument("--wet", nargs="+", help="web pages (WET, JSON lines; files, folders, globs) for the "
                    "reference classifier and the cutoffs (default <sample>/cc)")  # fmt: skip
    ap.add_argument("--cutoff-sample", nargs="+", help="web pages whose perplexity p30/p60 become the "
                    "LM cards' cutoffs (default: --wet)")  # fmt: skip
    ap.add_argument(
        "--lid-corpus", type=Path, help="LID training text: a directory of <lang>.txt or a fastText file"
    )
    ap.add_argument("--languages", nargs="+", help="only these dump languages")
    ap.add_argument("--only", nargs="+", choices=MODELS, default=list(MODELS), help="train only these models")
    args = ap.parse_args(argv)
    t0 = time.time()
    failed = None
    try:
        train_all(
            args.sample, args.out, wikipedia=args.wikipedia, wet=args.wet, cutoff_sample=args.cutoff_sample,
            lid_corpus=args.lid_corpus, languages=args.languages, only=args.only,
        )  # fmt: skip
    except NotEnoughData as e:
        failed = str(e)
    except (FileNotFoundError, UsageError) as e:
        print(f"lamina models: {e}", file=sys.stderr)
        return 2
    _print_cards(args.out)
    print(f"models written to {args.out} in {time.time() - t0:.1f} s")
    if failed:
        print(f"lamina models: {failed}", file=sys.stderr)
        return 2
    return 0


def _print_cards(out: Path) -> None:
    """One line per model this run trained (models.json's list)."""
    summary = json.loads((out / "models.json").read_text()) if (out / "models.json").is_file() else {}
    trained = summary.get("trained", [])
    if "lid" in trained:
        c = json.loads((out / "lid" / "card.json").read_text())
        print(f"lid: {len(c['labels'])} languages, held-out accuracy {c['held_out']['accuracy']}")
    for lang in summary.get("lm_languages", []):
        c = json.loads((out / "lm" / f"{lang}.card.json").read_text())
        cut = c.get("cutoffs") or {}
        doc = cut.get("document") or {}
        span = (
            ", 90% intervals "
            + " ".join(
                f"{k} {lo}-{hi}" for k, (lo, hi) in (cut.get("interval_90") or {}).get("document", {}).items()
            )
            if cut.get("interval_90")
            else ""
        )
        print(f"lm {lang}: vocab {c['sentencepiece']['vocab_size']}, held-out median perplexity "
              f"{c['held_out']['median_perplexity']} ({c['held_out']['pages']} pages); cutoffs "
              f"{'/'.join(str(v) for v in doc.values()) or 'none'}{span} from {cut.get('origin', '-')}")  # fmt: skip
    if "wikiref" in trained:
        c = json.loads((out / "wikiref" / "card.json").read_text())
        print(f"wikiref: {c['trained_on']['positives']} cited / {c['trained_on']['negatives']} random pages, "
              f"held-out accuracy {c['held_out']['accuracy_at_0.5']}")  # fmt: skip
