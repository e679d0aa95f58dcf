"""Wikipedia `pages-articles` dumps of the sample world (MediaWiki export schema 0.10, .xml.bz2).

Articles carry the markup the cleaner must remove (infobox templates, tables, File: links, `<ref>`
citations with `{{cite web}}` and bare `[http://... title]` links, comments, headings) and the dump
carries what the reader must skip (redirects, pages outside namespace 0). English articles cite the
sample world's "reference" web pages, whose URLs are in the WET files.
"""

from __future__ import annotations

import bz2
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from lamina.sample import lexicon_en as en
from lamina.sample.lexicon_intl import LANGS, cyrillic
from lamina.sample.text import Entity, TextGen
from lamina.sample.truth import Truth

DUMP_DATE = "20220801"
WIKI_LANGS = ("en", "de", "fr", "es", "it", "ru")
NAMESPACES = [(-2, "Media"), (-1, "Special"), (0, ""), (1, "Talk"), (2, "User"), (4, "Wikipedia"),
              (6, "File"), (10, "Template"), (14, "Category")]  # fmt: skip
LINKABLE = [
    w for k in ("industry", "building", "profession", "field", "craft", "material") for w in en.WORDS[k]
]


@dataclass(frozen=True)
class Citation:
    """A web page an English article cites (its text is written into the WET files)."""

    url: str  # the cited URL (a WET record's WARC-Target-URI)
    title: str  # the page title
    site: str  # publisher shown in the citation


def mediawiki_sha1(text: str) -> str:
    """MediaWiki's <sha1>: base-36 of the SHA-1 of the revision text, 31 digits."""
    n = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest(), "big")
    digits = ""
    while n:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
    return digits.rjust(31, "0")


def _link(gen: TextGen, sentence: str) -> str:
    """Wrap one linkable word of the sentence in [[...]] (sometimes piped)."""
    hits = [w for w in LINKABLE if f" {w} " in sentence]
    if not hits or gen.rng.random() < 0.35:
        return sentence
    w = gen.rng.choice(sorted(hits))
    target = f"[[{w}]]" if gen.rng.random() < 0.5 else f"[[{w[:1].upper()}{w[1:]} (topic)|{w}]]"
    return sentence.replace(f" {w} ", f" {target} ", 1)


def _cite(c: Citation, i: int, bare: bool) -> str:
    if bare:
        return f'<ref name="r{i}">[{c.url} {c.title}]</ref>'
    return (
        f"<ref>{{{{cite web |url={c.url} |title={c.title} |website={c.site} "
        f"|access-date=2022-0{1 + i % 6}-1{i % 9}}}}}</ref>"
    )


def en_article(gen: TextGen, ent: Entity, cites: list[Citation]) -> str:
    """Wikitext of one English article about `ent`, citing `cites`."""
    r = gen.rng
    year = r.randint(1200, 1900)
    lead = gen.en_lead(ent).replace(ent.name, f"'''{ent.name}'''", 1)
    parts = [
        f"{{{{Infobox {ent.topic}\n| name = {ent.name}\n| established = {year}\n| image = {ent.name}.jpg\n}}}}"
    ]
    lead_par = lead + " " + " ".join(_link(gen, gen.en_sentence(ent)) for _ in range(r.randint(2, 3)))
    if cites:
        lead_par += _cite(cites[0], r.randint(0, 9), bare=r.random() < 0.4)
    parts.append(lead_par)
    parts.append(f"<!-- TODO: expand the {ent.topic} section -->")
    sections = en.SECTIONS.get(ent.topic, ["History", "Description"])
    for k, sec in enumerate(sections[: r.randint(2, len(sections))]):
        parts.append(f"== {sec} ==")
        for _ in range(r.randint(1, 3)):
            sents = [_link(gen, gen.en_sentence(ent)) for _ in range(r.randint(3, 5))]
            if k == 1 and len(cites) > 1:
                sents[-1] += _cite(cites[1], 1, bare=True)
            parts.append(" ".join(sents))
        if k == 0:
            parts.append(
                f"[[File:{ent.name} view.jpg|thumb|right|A view of {ent.name} in {r.randint(1890, 2015)}]]"
            )
        if k == 1 and r.random() < 0.6:
            rows = "\n|-\n".join(
                f"| {y} || {r.randint(100, 99999):,}" for y in sorted(r.sample(range(1800, 2021), 3))
            )
            parts.append('{| class="wikitable"\n! Year !! Value\n|-\n' + rows + "\n|}")
    parts.append("== References ==\n{{Reflist}}")
    parts.append(f"[[Category:{ent.topic.capitalize()}s of {gen.name()}]]")
    return "\n\n".join(parts)


def foreign_article(gen: TextGen, lang: str, name: str) -> str:
    r = gen.rng
    spec = LANGS[lang]
    lead = gen.foreign_paragraph(lang, name).replace(name, f"'''{name}'''", 1)
    parts = [f"{{{{Infobox\n| name = {name}\n| year = {r.randint(1200, 1900)}\n}}}}", lead]
    for sec in spec["sections"][: r.randint(2, 4)]:
        parts.append(f"== {sec} ==")
        for _ in range(r.randint(1, 3)):
            parts.append(gen.foreign_paragraph(lang, name))
    parts.append(f"[[{spec['siteinfo'][1]}:{name}.jpg|thumb|{name}]]")
    parts.append(f"[[{spec['siteinfo'][3]}:{name}]]")
    return "\n\n".join(parts)


def _page_xml(
    title: str, ns: int, page_id: int, text: str, rng: random.Random, redirect: str | None = None
) -> str:
    ts = f"2022-0{rng.randint(1, 7)}-{rng.randint(10, 28)}T{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}Z"
    redirect_xml = f"    <redirect title={quoteattr(redirect)} />\n" if redirect else ""
    return (
        f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n{redirect_xml}"
        f"    <revision>\n      <id>{page_id * 1000 + rng.randint(1, 999)}</id>\n"
        f"      <parentid>{page_id * 1000}</parentid>\n      <timestamp>{ts}</timestamp>\n"
        f"      <contributor>\n        <username>{escape(gen_user(rng))}</username>\n"
        f"        <id>{rng.randint(1000, 99999)}</id>\n      </contributor>\n"
        f"      <comment>update</comment>\n      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
        f'      <text bytes="{len(text.encode("utf-8"))}" xml:space="preserve">{escape(text)}</text>\n'
        f"      <sha1>{mediawiki_sha1(text)}</sha1>\n    </revision>\n  </page>\n"
    )


def gen_user(rng: random.Random) -> str:
    return rng.choice(["Editor", "Wikiuser", "Bot", "Archivist", "Reader"]) + str(rng.randint(1, 999))


def _header(lang: str) -> str:
    site = LANGS[lang]["siteinfo"] if lang != "en" else ("Wikipedia", "File", "Template", "Category", "User")
    local = {6: site[1], 10: site[2], 14: site[3], 2: site[4], 4: site[0]}
    ns_xml = "".join(
        f'      <namespace key="{k}" case="first-letter" />\n'
        if k == 0
        else f'      <namespace key="{k}" case="first-letter">{escape(local.get(k, v))}</namespace>\n'
        for k, v in NAMESPACES
    )
    return (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.mediawiki.org/xml/export-0.10/ '
        'http://www.mediawiki.org/xml/export-0.10.xsd" version="0.10" '
        f'xml:lang="{lang}">\n  <siteinfo>\n    <sitename>{escape(site[0])}</sitename>\n'
        f"    <dbname>{lang}wiki</dbname>\n    <base>https://{lang}.wikipedia.org/wiki/Main_Page</base>\n"
        "    <generator>MediaWiki 1.39.0-wmf.22</generator>\n    <case>first-letter</case>\n"
        f"    <namespaces>\n{ns_xml}    </namespaces>\n  </siteinfo>\n"
    )


def write_dump(path: Path, lang: str, pages: list[str]) -> None:
    xml = _header(lang) + "".join(pages) + "</mediawiki>\n"
    path.write_bytes(bz2.compress(xml.encode("utf-8"), 9))


def write_wikipedia(
    out: Path,
    seed: int,
    truth: Truth,
    en_entities: list[Entity],
    citations: dict[str, list[Citation]],
    n_foreign: int = 45,
) -> dict[str, int]:
    """Write one dump per language under `out`; return articles per language.

    `en_entities` are the English articles (in order); `citations[title]` the pages each one cites.
    """
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for lang in WIKI_LANGS:
        rng = random.Random(f"{seed}:wiki:{lang}")
        gen = TextGen(rng)
        pages: list[str] = []
        page_id = 10
        articles: list[tuple[str, str]] = []
        if lang == "en":
            for ent in en_entities:
                articles.append((ent.title, en_article(gen, ent, citations.get(ent.title, []))))
        else:
            for _ in range(n_foreign):
                name = gen.name()
                shown = cyrillic(name) if lang == "ru" else name
                articles.append((shown, foreign_article(gen, lang, shown)))
        talk = {"en": "Talk", "de": "Diskussion", "fr": "Discussion", "es": "Discusión", "it": "Discussione",
                "ru": "Обсуждение"}[lang]  # fmt: skip
        for i, (title, text) in enumerate(articles):
            pages.append(_page_xml(title, 0, page_id, text, rng))
            truth.add("wikipedia", f"{lang}:{page_id}", "kept", None, "article")
            page_id += rng.randint(1, 40)
            if i % 9 == 4:  # a redirect to the article just written
                alias = title.split(" (")[0] + ("s" if lang == "en" else " (Begriff)")
                pages.append(_page_xml(alias, 0, page_id, f"#REDIRECT [[{title}]]", rng, redirect=title))
                truth.add("wikipedia", f"{lang}:{page_id}", "dropped", "redirect", "redirect")
                page_id += rng.randint(1, 40)
            if i % 15 == 7:  # a non-article page (project or template namespace)
                ns, prefix = (
                    (4, LANGS.get(lang, {}).get("siteinfo", ("Wikipedia",))[0]) if i % 2 else (1, talk)
                )
                body = f"== {title} ==\n{gen.en_paragraph(en_entities[0]) if lang == 'en' else ''} ~~~~"
                pages.append(_page_xml(f"{prefix}:{title}", ns, page_id, body, rng))
                truth.add("wikipedia", f"{lang}:{page_id}", "dropped", "namespace", "non_article")
                page_id += rng.randint(1, 40)
        write_dump(out / f"{lang}wiki-{DUMP_DATE}-pages-articles.xml.bz2", lang, pages)
        counts[lang] = len(articles)
    return counts
