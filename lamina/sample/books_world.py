"""Project Gutenberg-style books (`books/pg<N>.txt`): header, `*** START OF ... ***`, hard-wrapped text
in chapters, `*** END OF ... ***`, license footer (our own short wording, not Gutenberg's).

Two editions of one book differ in about 3% of their paragraphs (far above the 90% overlap
threshold): the later-numbered edition is the `near_duplicate`. Every other book is kept.
"""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

from lamina.sample.text import TOPICS, TextGen
from lamina.sample.truth import Truth

ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]
HEADER = """The Project Gutenberg eBook of {title}

This eBook is free for anyone, anywhere, to read and to share. Check the laws of your
country before using it. The license at the end of this file applies to it.

Title: {title}

Author: {author}

Release Date: {date} [eBook #{num}]
{updated}
Language: English

Credits: {credits}


*** START OF THE PROJECT GUTENBERG EBOOK {upper} ***




{title}

by {author}


"""
FOOTER = """

*** END OF THE PROJECT GUTENBERG EBOOK {upper} ***



Updated editions replace earlier ones, and the old editions are renamed.

This file is part of a generated sample (the Lamina sample world). It imitates the layout of a
Project Gutenberg eBook: a header before the START line, the book itself, and this license
section after the END line. A pipeline must keep only the text between the two markers.

Section 1. Terms of use: copy and share this file freely; it has no owner and no warranty.
Section 2. Trademark: the name of the original project is used here only to describe the layout.
"""


def _book(gen: TextGen, chapters: int) -> list[list[str]]:
    """Chapters, each a list of paragraphs (unwrapped)."""
    r = gen.rng
    out = []
    for _ in range(chapters):
        ent = gen.entity(r.choice(TOPICS))
        out.append([gen.en_paragraph(ent, (4, 7)) for _ in range(r.randint(8, 12))])
    return out


def _render(meta: dict, chapters: list[list[str]]) -> str:
    body = []
    for k, pars in enumerate(chapters):
        body.append(f"CHAPTER {ROMAN[k]}.\n\n")
        body.append("\n\n".join(textwrap.fill(p, width=72) for p in pars) + "\n\n\n")
    upper = meta["title"].upper()
    return HEADER.format(upper=upper, **meta) + "".join(body) + FOOTER.format(upper=upper)


def write(out: Path, seed: int, truth: Truth) -> None:
    out.mkdir(parents=True, exist_ok=True)
    r = random.Random(f"{seed}:books")
    gen = TextGen(r)
    books: list[tuple[int, str, str | None, str]] = []
    for k in range(5):
        num = 40100 + k * 37 + r.randint(0, 30)
        place = gen.name()
        title = (
            r.choice(["A History of", "Travels in", "Letters from", "Notes on", "Chronicles of"])
            + f" {place}"
        )
        meta = {"title": title, "author": gen.person(), "date": f"{r.choice(['March', 'June', 'October'])} "
                f"{r.randint(1, 28)}, {r.randint(2004, 2021)}", "num": num, "updated": "",
                "credits": "Produced by volunteers of the sample world"}  # fmt: skip
        chapters = _book(gen, r.randint(4, 6))
        books.append((num, _render(meta, chapters), None, "book"))
        if k == 0:  # a second edition: new number, new header, about 3% of paragraphs revised
            revised = [list(ch) for ch in chapters]
            n_par = sum(len(ch) for ch in revised)
            for _ in range(max(1, n_par * 3 // 100)):
                ch = r.choice(revised)
                i = r.randrange(len(ch))
                ch[i] = ch[i] + " " + gen.en_sentence(gen.entity("town"))
            meta2 = dict(
                meta,
                num=num + 20000,
                date="January 5, 2023",
                updated="Most recently updated: February 1, 2023\n",
                credits="Revised edition",
            )
            books.append((num + 20000, _render(meta2, revised), "near_duplicate", "second_edition"))
    for num, text, reason, kind in books:
        (out / f"pg{num}.txt").write_text(text, encoding="utf-8")
        truth.add("books", f"pg{num}.txt", "dropped" if reason else "kept", reason, kind)
