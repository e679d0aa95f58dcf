"""C4-style raw pages (`c4/*.json.gz`, one `{"url", "text", "timestamp"}` per line) and the bad-words list.

Expectations follow TFDS c4_utils: URL dedup keeps the newest page per normalized URL (scheme, `www.`,
trailing `/` and `?utm_...`/`?ref...` query stripped), pages over 190,000 characters are dropped,
then the line rules, lorem ipsum, curly bracket, fewer than 3 sentences, language (English >= 0.99),
bad words. Each page is built to trip at most one rule.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

from lamina.sample.lexicon_intl import cyrillic
from lamina.sample.text import TOPICS
from lamina.sample.truth import Truth
from lamina.sample.web import BAD_WORDS, WebPlanner, _slug

N_GOOD = 24


def _page(url: str, lines: list[str], ts: str) -> dict:
    return {"url": url, "text": "\n".join(lines), "timestamp": ts}


def plan(seed: int) -> list[tuple[dict, str | None, str]]:
    """(page, C4 reason or None, kind) for every C4 json page."""
    p = WebPlanner(seed * 7919 + 17)  # its own stream: no page text is shared with the WET pages
    r, g = p.rng, p.gen
    out: list[tuple[dict, str | None, str]] = []

    def ts() -> str:
        return f"2019-0{r.randint(1, 9)}-{r.randint(10, 28)}T{r.randint(10, 23)}:{r.randint(10, 59)}:{r.randint(10, 59)}Z"

    for i in range(N_GOOD):
        ent = g.entity(TOPICS[i % len(TOPICS)])
        url = p.url(r.choice(["c4-history.org", "placesandpeople.net", "oldtowns.info"]), _slug(ent.name))
        out.append((_page(url, [ent.title, *p.encyclopedic(ent)], ts()), None, "good"))
    # Same normalized URL twice: the newer crawl wins.
    ent = g.entity("town")
    body = p.encyclopedic(ent)
    old = _page(f"http://www.town-archive.org/{_slug(ent.name)}/", [ent.title, *body], "2019-01-12T08:00:00Z")
    new = _page(
        f"https://town-archive.org/{_slug(ent.name)}?utm_source=feed",
        [ent.title, *body[:-1]],
        "2019-04-20T08:00:00Z",
    )
    out += [(old, "duplicate_url", "duplicate_url"), (new, None, "good")]
    specials = [
        ("lorem_ipsum", "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."),
        ("curly_bracket", "The config line reads {title: museum, year: 1890} in the old catalogue."),
        ("bad_words", f"Local people call the steep lane behind the church a real {BAD_WORDS[1]} in winter."),
    ]
    for reason, line in specials:
        ent = g.entity(r.choice(TOPICS))
        lines = p.encyclopedic(ent)
        lines.insert(2, line)
        out.append(
            (_page(p.url("c4-specials.org", _slug(ent.name)), [ent.title, *lines], ts()), reason, reason)
        )
    for _ in range(2):  # menu-like pages: short lines without end marks, one 2-sentence paragraph
        ent = g.entity(r.choice(TOPICS))
        ent.deck = []
        lines = [ent.title, "Home", "Gallery", "Opening hours", g.en_lead(ent) + " " + g.en_sentence(ent)]
        lines += [g.en_sentence(ent)[:-1] for _ in range(4)]
        out.append(
            (_page(p.url("c4-menus.org", _slug(ent.name)), lines, ts()), "too_few_sentences", "few_sentences")
        )
    for lang in ("de", "fr", "ru"):
        name = g.name()
        shown = cyrillic(name) if lang == "ru" else name
        lines = [shown] + [g.foreign_paragraph(lang, shown) for _ in range(3)]
        out.append((_page(p.url(f"{_slug(name)}.{lang}", "seite"), lines, ts()), "language", "non_english"))
    # Over 190,000 characters (C4's page length limit).
    ent = g.entity("river")
    par = p.encyclopedic(ent)
    lines, k = [ent.title], 0
    while sum(len(x) + 1 for x in lines) <= 200_000:
        lines.append(f"{par[k % len(par)]} (Part {k}.)")
        k += 1
    out.append((_page(p.url("very-long-pages.org", "river"), lines, ts()), "too_long", "too_long"))
    return out


def write(out: Path, seed: int, truth: Truth) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pages = plan(seed)
    half = (len(pages) + 1) // 2
    for k, chunk in enumerate((pages[:half], pages[half:])):
        raw = "".join(json.dumps(pg, ensure_ascii=False) + "\n" for pg, _, _ in chunk).encode("utf-8")
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
            gz.write(raw)
        (out / f"c4-raw.{k:05d}-of-00002.json.gz").write_bytes(buf.getvalue())
    newer = {"duplicate_url": pages[[k for _, k, _ in pages].index("duplicate_url") + 1][0]["url"]}
    for pg, reason, kind in pages:
        of = {"original": newer[reason]} if reason in newer else {}  # the ledger's duplicate_of
        truth.add("c4", pg["url"], "dropped" if reason else "kept", reason, kind, **of)
    (out / "badwords").mkdir(exist_ok=True)
    (out / "badwords" / "en.txt").write_text("\n".join(BAD_WORDS) + "\n", encoding="utf-8")
