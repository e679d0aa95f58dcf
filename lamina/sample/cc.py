"""Writes the sample world's CommonCrawl input: two dumps of WET files, wet.paths, and their ground truth."""

from __future__ import annotations

import random
from pathlib import Path

from lamina.sample.text import Entity
from lamina.sample.truth import Truth
from lamina.sample.web import COUNTS, DUMP_MONTH, DUMPS, WebPage, WebPlanner
from lamina.sample.wet import LANG3, WetRecord, record_uuid, wet_file_bytes
from lamina.sample.wikipedia import Citation

FILES_PER_DUMP = {DUMPS[0]: 3, DUMPS[1]: 2}
MALFORMED_FILE = "CC-MAIN-20220516000000-20220516030000-00099.warc.wet.gz"


def plan_web(seed: int, cited: list[Entity]) -> tuple[list[WebPage], dict[str, list[Citation]]]:
    """All WET pages (dump assigned, duplicates made) and the citations of the English articles.

    `cited` are the articles that cite a page: the first COUNTS["reference"] cite a reference page,
    the next COUNTS["boilerplate"] a page inside site boilerplate."""
    p = WebPlanner(seed)
    n_ref = COUNTS["reference"]
    refs, cites = p.reference_pages(cited[:n_ref])
    good = p.good_pages(COUNTS["good"])
    pages = refs + good
    pages += p.boilerplate_pages(cited[n_ref : n_ref + COUNTS["boilerplate"]], cites)
    pages += p.foreign_pages(COUNTS["non_english"] // 5)
    pages += p.gibberish_pages(COUNTS["gibberish"])
    pages += p.spam_pages(COUNTS["spam"])
    pages += p.salad_pages(COUNTS["word_salad"])
    pages += p.short_pages(COUNTS["short"])
    pages += p.non_reference_pages(COUNTS["non_reference"])
    pages += p.c4_rule_pages()
    rng = p.rng
    for page in pages:
        page.dump = rng.choice(DUMPS)
    for i, page in enumerate(refs):
        page.dump = DUMPS[i % 2]
    # Exact duplicates: the same URL and body crawled again in the later dump.
    for orig in good[: COUNTS["duplicate"]]:
        orig.dump = DUMPS[0]
        orig.c4 = "duplicate_url"  # C4 keeps the newest page of a URL: the copy
        pages.append(
            WebPage(
                "duplicate",
                orig.url,
                orig.title,
                list(orig.lines),
                "en",
                ("duplicate_digest", "duplicate"),
                dump=DUMPS[1],
                copy_of=orig,
            )
        )
    for page in pages:
        page.record_id = record_uuid(rng.getrandbits(128))
        day, hh, mm, ss = rng.randint(16, 29), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        page.date = f"{DUMP_MONTH[page.dump]}-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z"
    return pages, cites


def _filename(dump: str, k: int) -> str:
    ym = DUMP_MONTH[dump].replace("-", "")
    return f"CC-MAIN-{ym}16093137-{ym}16123137-{k:05d}.warc.wet.gz"


def write_cc(out: Path, seed: int, pages: list[WebPage], truth: Truth) -> list[str]:
    """Write the WET files of both dumps and wet.paths under `out` (= DIR/cc); return the paths."""
    rng = random.Random(f"{seed}:cc-files")
    copies = {id(p.copy_of): p for p in pages if p.copy_of is not None}  # original -> its copy
    paths: list[str] = []
    for dump in DUMPS:
        (out / dump).mkdir(parents=True, exist_ok=True)
        mine = [p for p in pages if p.dump == dump]
        rng.shuffle(mine)
        n = FILES_PER_DUMP[dump]
        for k in range(n):
            chunk = mine[k::n]
            name = _filename(dump, k)
            recs = [_record(p, rng) for p in chunk]
            info = record_uuid(rng.getrandbits(128))
            date = f"{DUMP_MONTH[dump]}-30T00:00:00Z"
            (out / dump / name).write_bytes(wet_file_bytes(name, dump, date, info, recs))
            paths.append(f"{dump}/{name}")
        for p in mine:
            reason, kind = p.ccnet
            # `original`: the truth key of the document an exact duplicate duplicates (the ledger's
            # duplicate_of): CCNet keeps the first crawl, C4 the newest page of a URL (the copy).
            cc_of = {"original": p.copy_of.record_id} if p.copy_of and reason else {}
            c4_of = {"original": copies[id(p)].record_id} if id(p) in copies and p.c4 else {}
            truth.add("ccnet", p.record_id, "dropped" if reason else "kept", reason or None, kind, **cc_of)
            truth.add("c4", p.record_id, "dropped" if p.c4 else "kept", p.c4, kind, **c4_of)
    paths.append(f"{DUMPS[1]}/{MALFORMED_FILE}")
    (out / DUMPS[1] / MALFORMED_FILE).write_bytes(_malformed(rng, truth))
    (out / "wet.paths").write_text("\n".join(paths) + "\n", encoding="utf-8")
    return paths


def _record(p: WebPage, rng: random.Random) -> WetRecord:
    lang = LANG3.get(p.lang, "eng") if p.lang != "xx" else rng.choice(["eng", "ita", "pol"])
    return WetRecord(
        p.url, p.date, p.record_id, record_uuid(rng.getrandbits(128)), lang, p.body.encode("utf-8")
    )


def _malformed(rng: random.Random, truth: Truth) -> bytes:
    """A file of broken records: invalid UTF-8 in a body, and a Content-Length past the end of the file."""
    dump = DUMPS[1]
    bad_utf8 = WetRecord(
        "https://broken-encoding.example.com/latin1",
        f"{DUMP_MONTH[dump]}-20T10:00:00Z",
        record_uuid(rng.getrandbits(128)),
        record_uuid(rng.getrandbits(128)),
        "eng",
        "Caf\xe9 menu\nOur caf\xe9 serves cr\xeapes and cr\xe8me br\xfbl\xe9e every day of the week. ".encode(
            "latin-1"
        )
        * 6,
    )
    truncated = WetRecord(
        "https://truncated.example.com/page",
        f"{DUMP_MONTH[dump]}-20T10:05:00Z",
        record_uuid(rng.getrandbits(128)),
        record_uuid(rng.getrandbits(128)),
        "eng",
        (
            "Truncated page\n" + "This record says it is longer than it is, because the file was cut. " * 6
        ).encode(),
        content_length=40_000,
    )
    truth.add("ccnet", bad_utf8.record_id, "dropped", "invalid_utf8", "invalid_utf8")
    truth.add("ccnet", truncated.record_id, "dropped", "malformed_record", "malformed_record")
    truth.add("c4", bad_utf8.record_id, "dropped", "invalid_utf8", "invalid_utf8")
    truth.add("c4", truncated.record_id, "dropped", "malformed_record", "malformed_record")
    info = record_uuid(rng.getrandbits(128))
    return wet_file_bytes(
        MALFORMED_FILE, dump, f"{DUMP_MONTH[dump]}-30T00:00:00Z", info, [bad_utf8, truncated]
    )
