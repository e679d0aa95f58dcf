"""MediaWiki markup -> plain text, as the LLaMA/RedPajama Wikipedia data was cleaned.

RedPajama used the Hugging Face `wikipedia` dataset, whose cleaner walks mwparserfromhell's parse
tree section by section: File/Image/Media links, `<ref>` tags and tables are removed, then
`strip_code()` drops templates (infoboxes, citation and reference-list templates), comments and
formatting while keeping link text; sections are joined with blank lines. We do the same, and also
remove category links (HF kept their names as stray words at the end of the page) and interlanguage
links, and delete what the parser could not make sense of (unbalanced `{{`, `[[`, `{|` leftovers),
so that no markup reaches the corpus.

The media and category prefixes are localized: each dump's `<siteinfo>` names its own File (6),
Media (-2) and Category (14) namespaces, and `MEDIA_ALIASES` / `CATEGORY_ALIASES` add the aliases
MediaWiki accepts for the 20 LLaMA languages (e.g. "Bild" in German, "Картинка" in Bulgarian).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import mwparserfromhell
from mwparserfromhell.nodes import Wikilink

# Aliases of the File namespace (besides the English "File", "Image", "Media") per language: the
# canonical local names and the legacy "Image" ones that old articles still use.
MEDIA_ALIASES: dict[str, tuple[str, ...]] = {
    "bg": ("Медия", "Файл", "Картинка", "Изображение"),
    "ca": ("Fitxer", "Imatge", "Multimèdia"),
    "cs": ("Média", "Soubor", "Obrázek"),
    "da": ("Billede", "Fil"),
    "de": ("Medium", "Datei", "Bild"),
    "en": (),
    "es": ("Medio", "Archivo", "Imagen"),
    "fr": ("Média", "Fichier", "Image"),
    "hr": ("Mediji", "DT", "Slika", "Datoteka"),
    "hu": ("Média", "Fájl", "Kép"),
    "it": ("Immagine", "File"),
    "nl": ("Media", "Bestand", "Afbeelding"),
    "pl": ("Plik", "Grafika"),
    "pt": ("Multimédia", "Ficheiro", "Arquivo", "Imagem"),
    "ro": ("Fișier", "Fişier", "Imagine"),
    "ru": ("Медиа", "Файл", "Изображение"),
    "sl": ("Slika", "Datoteka"),
    "sr": ("Медиј", "Датотека", "Слика", "Medij", "Datoteka", "Slika", "Fajl"),
    "sv": ("Media", "Fil", "Bild"),
    "uk": ("Медіа", "Файл", "Зображення"),
}
# The Category namespace per language (category links are page metadata, not text).
CATEGORY_ALIASES: dict[str, tuple[str, ...]] = {
    "bg": ("Категория",),
    "ca": ("Categoria",),
    "cs": ("Kategorie",),
    "da": ("Kategori",),
    "de": ("Kategorie",),
    "en": (),
    "es": ("Categoría",),
    "fr": ("Catégorie",),
    "hr": ("Kategorija",),
    "hu": ("Kategória",),
    "it": ("Categoria",),
    "nl": ("Categorie",),
    "pl": ("Kategoria",),
    "pt": ("Categoria",),
    "ro": ("Categorie",),
    "ru": ("Категория",),
    "sl": ("Kategorija",),
    "sr": ("Категорија", "Kategorija"),
    "sv": ("Kategori",),
    "uk": ("Категорія",),
}
# Tags whose whole content is dropped: citations, tables, and tags that hold no prose.
REMOVED_TAGS = frozenset(
    {"ref", "references", "table", "gallery", "math", "chem", "score", "timeline", "graph",
     "syntaxhighlight", "source", "imagemap", "mapframe", "templatedata", "hiero", "nowiki"}
)  # fmt: skip
_MAGIC_WORD_RE = re.compile(r"__[A-Z]+__")
# Interlanguage links in old dumps: [[de:Foo]], [[zh-min-nan:Foo]].
_INTERLANG_RE = re.compile(r"^:?[a-z]{2,3}(?:-[a-z]+)*:", re.IGNORECASE)
# Leftovers of markup the parser left as text (unbalanced or broken constructs).
_LEFTOVER_RES = (
    re.compile(r"\{\|.*?(?:\|\}|\Z)", re.DOTALL),  # a table the parser did not recognize
    re.compile(r"<ref[^>]*/>|<ref[^>]*>.*?(?:</ref>|\Z)", re.DOTALL | re.IGNORECASE),
    re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>"),  # stray html tags
)
_BRACKETS_RE = re.compile(r"\{\{|\}\}|\[\[|\]\]|\{\||\|\}")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_TRAILING_SPACE_RE = re.compile(r"[ \t]+\n")
_SPACES_RE = re.compile(r"[ \t]{2,}")


def _link_open_re(names: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted({re.escape(n.strip()) for n in names if n.strip()}, key=len, reverse=True))
    return re.compile(rf"\[\[\s*:?\s*(?:{alternatives})\s*:", re.IGNORECASE)


def _remove_links(wikitext: str, opener: re.Pattern[str]) -> str:
    """Cut every `[[Prefix:...]]` out of raw wikitext, nested `[[...]]` in captions included.

    Done before parsing because a caption with broken formatting (an unclosed bold) makes
    mwparserfromhell give up on the whole link and leave it as plain text.
    """
    out, pos = [], 0
    while (m := opener.search(wikitext, pos)) is not None:
        out.append(wikitext[pos : m.start()])
        depth, i = 1, m.end()
        while depth and i < len(wikitext):
            if wikitext.startswith("[[", i):
                depth, i = depth + 1, i + 2
            elif wikitext.startswith("]]", i):
                depth, i = depth - 1, i + 2
            elif wikitext.startswith("\n\n", i):
                break  # a link never spans paragraphs: what follows was not part of it
            else:
                i += 1
        pos = i
    out.append(wikitext[pos:])
    return "".join(out)


def _prefix_re(names: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted({re.escape(n.strip()) for n in names if n.strip()}, key=len, reverse=True))
    return re.compile(rf"^\s*:?\s*(?:{alternatives})\s*:", re.IGNORECASE)


class WikitextCleaner:
    """Turns one page's wikitext into plain text. One instance per dump language (it holds the
    compiled namespace prefixes); `extra_media` / `extra_category` are the dump's own namespace
    names from `<siteinfo>`."""

    def __init__(self, lang: str = "en", extra_media: Iterable[str] = (), extra_category: Iterable[str] = ()):
        self.lang = lang
        media = ["File", "Image", "Media", *MEDIA_ALIASES.get(lang, ()), *extra_media]
        self._media_re = _prefix_re(media)
        self._media_open_re = _link_open_re(media)
        self._category_re = _prefix_re(["Category", *CATEGORY_ALIASES.get(lang, ()), *extra_category])

    def _drop_link(self, link: Wikilink) -> bool:
        title = str(link.title)
        if self._media_re.match(title) or self._category_re.match(title):
            return True
        # Interlanguage links ([[de:Foo]]) have no text of their own; [[:de:Foo|text]] and
        # [[:Category:Foo]] (leading colon) are inline links and keep their text.
        return link.text is None and not title.startswith(":") and bool(_INTERLANG_RE.match(title))

    def clean(self, wikitext: str) -> str:
        """Plain text: sections' text (headings included) joined by blank lines."""
        code = mwparserfromhell.parse(_remove_links(wikitext, self._media_open_re))
        sections = []
        for section in code.get_sections(flat=True, include_lead=True, include_headings=True):
            for node in list(section.ifilter_wikilinks(recursive=True)):
                if self._drop_link(node):
                    _remove(section, node)
            for node in list(section.ifilter_tags(recursive=True)):
                if str(node.tag).strip().lower() in REMOVED_TAGS:
                    _remove(section, node)
            text = section.strip_code(normalize=True, collapse=True, keep_template_params=False)
            text = _tidy(text)
            if text:
                sections.append(text)
        return "\n\n".join(sections)


def _remove(section, node) -> None:
    # A node nested in one already removed is no longer found: nothing left to do.
    try:
        section.remove(node)
    except ValueError:
        pass


_STRAY_QUOTES_RE = re.compile(r"'{2,}")


def remove_stray_quotes(text: str) -> str:
    """Bold/italic quote runs that strip_code leaves when they are unbalanced or run into an
    apostrophe (two quotes closing a title, or three before a possessive s; MediaWiki closes them at
    the end of the line): an odd run between two letters keeps one apostrophe (the possessive),
    every other run goes."""

    def fix(m: re.Match[str]) -> str:
        before = text[m.start() - 1] if m.start() else " "
        after = text[m.end()] if m.end() < len(text) else " "
        return "'" if len(m.group()) % 2 == 1 and before.isalnum() and after.isalpha() else ""

    return _STRAY_QUOTES_RE.sub(fix, text)


def _tidy(text: str) -> str:
    text = _MAGIC_WORD_RE.sub("", text)
    text = remove_stray_quotes(text)
    for pattern in _LEFTOVER_RES:
        text = pattern.sub("", text)
    text = _BRACKETS_RE.sub("", text)
    lines = [line.strip() for line in text.split("\n")]
    # Drop lines that are only list bullets or table/template residue ("*", "|", "!").
    lines = [line for line in lines if line.strip("*#:;|!-= ")] or []
    text = "\n".join(lines)
    text = _SPACES_RE.sub(" ", _TRAILING_SPACE_RE.sub("\n", text))
    return _BLANK_LINES_RE.sub("\n\n", text).strip()


_URL_RE = re.compile(r"https?://[^\s|\]\[<>{}\"']+", re.IGNORECASE)
_REF_RE = re.compile(r"<ref(?:\s[^>]*)?>(.*?)</ref>", re.DOTALL | re.IGNORECASE)


def ref_urls(wikitext: str) -> list[str]:
    """The URLs cited inside `<ref>...</ref>` (bare, bracketed or in `{{cite ...|url=}}`), in order
    and without duplicates: the positives of the Wikipedia-reference classifier (RedPajama)."""
    seen: dict[str, None] = {}
    for ref in _REF_RE.findall(wikitext):
        for url in _URL_RE.findall(ref):
            seen.setdefault(url.rstrip(".,;:)"), None)
    return list(seen)


def clean_wikitext(wikitext: str, lang: str = "en") -> str:
    """One-off convenience: `WikitextCleaner(lang).clean(wikitext)`."""
    return WikitextCleaner(lang).clean(wikitext)


__all__ = ["CATEGORY_ALIASES", "MEDIA_ALIASES", "WikitextCleaner", "clean_wikitext", "ref_urls"]
