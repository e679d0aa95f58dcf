"""The sample world's web pages: what each CommonCrawl WET record holds and what CCNet and C4 do with it.

Every page is made for one filter (the `kind`), and its expected fate under both pipelines is stated
by applying the rules docs/sources.md states (CCNet: digest dedup runs right after the length filter, so the
first copy of a duplicate survives and the copy never reaches line dedup; C4: TFDS order — URL dedup
(newest page wins), line rules, lorem ipsum / curly bracket, too few sentences, language, bad words).

English pages that reach the perplexity stage are 60% fluent (reference, other encyclopedic,
boilerplate-carrying, commercial/chatty, and the C4-rule pages) and 40% spam + word salad, so that
percentile cutoffs computed from the run (tail >= p60) put exactly the spam and salad in the tail. The
LM card's fixed cutoffs come from the same population (`lamina models` line-dedups its cutoff sample,
so the boilerplate-only pages are not in it), and p60 is the lowest spam/salad page.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from lamina.sample import lexicon_en as en
from lamina.sample.lexicon_intl import cyrillic
from lamina.sample.text import TOPICS, Entity, TextGen
from lamina.sample.wikipedia import Citation

DUMPS = ("CC-MAIN-2022-05", "CC-MAIN-2022-21")
DUMP_MONTH = {"CC-MAIN-2022-05": "2022-01", "CC-MAIN-2022-21": "2022-05"}
FOREIGN = ("de", "fr", "es", "it", "ru")

# How many pages of each kind (see the module docstring for the 60/40 balance).
COUNTS = {
    "reference": 48, "good": 10, "duplicate": 8, "boilerplate": 12, "boilerplate_only": 3,
    "non_english": 25, "gibberish": 6, "spam": 31, "word_salad": 30, "short": 8, "non_reference": 15,
    "c4_lorem_ipsum": 1, "c4_curly_bracket": 1, "c4_bad_word": 1, "c4_few_sentences": 2,
}  # fmt: skip

# Boilerplate of three sites: every line occurs on all of the site's pages (5 each), so cc_net's
# line dedup removes it; "Copyright <year>" lines differ only in digits and normalize equal.
SITES = {
    "northwind-media.com": [
        "Northwind Media", "Skip to main content", "Home | News | Topics | Travel | About us | Contact",
        "Search this site", "This website uses cookies to improve your experience. Accept",
        "Related articles", "Most read this week | Editor's picks | Archive", "Follow us on Facebook | Twitter | Instagram",
        "Copyright {year} Northwind Media | All rights reserved", "Privacy Policy | Terms of Use | Cookie Settings",
    ],
    "heritage-trails.net": [
        "Heritage Trails", "Menu", "Destinations | Walks | Maps | Events | Shop",
        "Please enable JavaScript to view the interactive map.", "Share this page: Email | Print",
        "Newsletter sign-up", "Upcoming events | Guided tours | Volunteer days", "(c) {year} Heritage Trails Association", "Sitemap | Accessibility | Contact us",
        "We use cookies to give you the best experience on our site. Manage preferences",
    ],
    "the-curious-almanac.org": [
        "The Curious Almanac", "Log in | Register", "Browse: People | Places | Nature | Crafts",
        "Advertisement", "Back to top", "Random page | Recent changes | Popular entries", "Tags: history, places, nature",
        "All content {year} The Curious Almanac, published under license", "Support us | Donate | Volunteer",
        "Our site uses cookies for analytics and advertising. OK",
    ],
}  # fmt: skip
BAD_WORDS = ["zorbleflax", "snarfwidget", "grumblecrud", "blorptastic", "quexnoodle", "frazzlewump"]


@dataclass
class WebPage:
    """One WET page and its expected fate."""

    kind: str  # what the generator made ("reference", "spam", ...)
    url: str
    title: str
    lines: list[str]  # body lines after the title
    lang: str  # the language the generator wrote ("en", "de", ..., "xx" for noise)
    ccnet: tuple[str | None, str] = (None, "")  # (reason or None if kept, kind)
    c4: str | None = None  # C4 drop reason, None if kept
    dump: str = DUMPS[0]
    record_id: str = ""
    date: str = ""
    copy_of: WebPage | None = field(default=None, repr=False)  # for exact duplicates

    @property
    def body(self) -> str:
        return "\n".join([self.title, *self.lines])


def _slug(s: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in s.lower()).split())


class WebPlanner:
    """Plans every WET page of the sample world (text, URL, kind, expected outcomes)."""

    def __init__(self, seed: int):
        self.rng = random.Random(f"{seed}:web")
        self.gen = TextGen(self.rng)
        self.urls: set[str] = set()

    def url(self, domain: str, path: str) -> str:
        u = f"https://{domain}/{path}"
        n = 2
        while u in self.urls:
            u = f"https://{domain}/{path}-{n}"
            n += 1
        self.urls.add(u)
        return u

    def encyclopedic(self, ent: Entity, n_par: tuple[int, int] = (3, 5)) -> list[str]:
        ent.deck = []
        first = self.gen.en_lead(ent) + " " + self.gen.en_paragraph(ent, (2, 3))
        return [first] + [self.gen.en_paragraph(ent) for _ in range(self.rng.randint(*n_par) - 1)]

    # ---- the page kinds ----------------------------------------------------------------------
    def reference_pages(self, entities: list[Entity]) -> tuple[list[WebPage], dict[str, list[Citation]]]:
        """One informative page per entity, cited by that entity's English article."""
        domains = ["regional-history.org", "naturearchive.net", "heritage-registry.org", "old-maps.info",
                   "museum-notes.org", "encyclopedia-of-places.net"]  # fmt: skip
        pages, cites = [], {}
        for i, ent in enumerate(entities):
            domain = domains[i % len(domains)]
            title = f"{ent.name}: history and facts"
            url = self.url(domain, f"{ent.topic}s/{_slug(ent.name)}")
            pages.append(WebPage("reference", url, title, self.encyclopedic(ent), "en", ("", "reference")))
            cites.setdefault(ent.title, []).append(Citation(url, title, domain))
        return pages, cites

    def good_pages(self, n: int) -> list[WebPage]:
        domains = [
            "localguide.org",
            "travel-notes.net",
            "the-explainer.com",
            "history-corner.org",
            "wander-facts.net",
        ]
        out = []
        for i in range(n):
            ent = self.gen.entity(TOPICS[i % len(TOPICS)])
            url = self.url(domains[i % len(domains)], f"article/{_slug(ent.name)}")
            out.append(WebPage("good", url, f"About {ent.title}", self.encyclopedic(ent), "en", ("", "good")))
        return out

    def boilerplate_pages(self, entities: list[Entity], cites: dict[str, list[Citation]]) -> list[WebPage]:
        """Encyclopedic pages inside site boilerplate (each cited by its entity's article, added to
        `cites`), and one page per site made of nothing but that boilerplate."""
        out = []
        sites = list(SITES)
        n_kept = len(entities)
        for i in range(n_kept + len(sites)):
            site = sites[i % len(sites)]
            lines = [ln.replace("{year}", str(self.rng.randint(2015, 2022))) for ln in SITES[site]]
            if i < n_kept:
                ent = entities[i]
                body = lines[:4] + self.encyclopedic(ent, (2, 3)) + lines[4:]
                url = self.url(site, f"{ent.topic}/{_slug(ent.name)}")
                title = f"{ent.title} | {lines[0]}"
                out.append(WebPage("boilerplate", url, title, body, "en", ("", "boilerplate")))
                cites.setdefault(ent.title, []).append(Citation(url, title, site))
            else:  # nothing but the site's shared lines: the title is the site name, on every page
                url = self.url(site, "index")
                out.append(
                    WebPage(
                        "boilerplate_only",
                        url,
                        lines[0],
                        lines[1:],
                        "en",
                        ("no_lines_left", "boilerplate_only"),
                        c4="too_few_sentences",
                    )
                )
        return out

    def foreign_pages(self, per_lang: int) -> list[WebPage]:
        out = []
        for lang in FOREIGN:
            for _ in range(per_lang):
                name = self.gen.name()
                shown = cyrillic(name) if lang == "ru" else name
                lines = [self.gen.foreign_paragraph(lang, shown) for _ in range(self.rng.randint(3, 5))]
                url = self.url(f"{_slug(name)}.{lang}", f"{lang}/{_slug(name)}")
                out.append(
                    WebPage(
                        "non_english", url, shown, lines, lang, ("language", "non_english"), c4="language"
                    )
                )
        return out

    def gibberish_pages(self, n: int) -> list[WebPage]:
        out = []
        for _ in range(n):
            lines = [" ".join(self.gen.noise_line() for _ in range(3)) for _ in range(self.rng.randint(3, 5))]
            url = self.url(f"{self.gen.noise_word()}.biz", self.gen.noise_word())
            out.append(
                WebPage(
                    "gibberish",
                    url,
                    self.gen.noise_word().capitalize(),
                    lines,
                    "xx",
                    ("language", "gibberish"),
                    c4="language",
                )
            )
        return out

    def spam_pages(self, n: int) -> list[WebPage]:
        out = []
        for _ in range(n):
            lines = [self.gen.spam_line() for _ in range(self.rng.randint(5, 9))]
            url = self.url(
                f"best-{self.rng.choice(['deals', 'offers', 'shop', 'price'])}-{self.rng.randint(10, 99)}.com",
                "-".join(lines[0].split()[:4]),
            )
            out.append(
                WebPage(
                    "spam",
                    url,
                    lines[0][:60].title(),
                    lines,
                    "en",
                    ("perplexity_tail", "spam"),
                    c4="too_few_sentences",
                )
            )
        return out

    def salad_pages(self, n: int) -> list[WebPage]:
        out = []
        for _ in range(n):
            lines = [
                " ".join(self.gen.salad_sentence() for _ in range(self.rng.randint(3, 5)))
                for _ in range(self.rng.randint(3, 5))
            ]
            url = self.url(f"{self.gen.name().lower()}-blog.net", f"post/{self.rng.randint(1000, 9999)}")
            out.append(
                WebPage(
                    "word_salad",
                    url,
                    self.gen.salad_sentence(),
                    lines,
                    "en",
                    ("perplexity_tail", "word_salad"),
                    c4="too_few_sentences",
                )
            )
        return out

    def short_pages(self, n: int) -> list[WebPage]:
        texts = ["Page not found. Return to the home page.", "Coming soon. Check back later!",
                 "Login required", "Thank you for your message. We will reply soon.",
                 "Redirecting...", "Under construction. Please visit again.",
                 "Access denied", "This domain is for sale. Contact the owner."]  # fmt: skip
        out = []
        for i in range(n):
            url = self.url(f"{self.gen.name().lower()}.com", f"p/{i}")
            out.append(
                WebPage(
                    "short",
                    url,
                    self.gen.name(),
                    [texts[i % len(texts)]],
                    "en",
                    ("too_short", "short"),
                    c4="too_few_sentences",
                )
            )
        return out

    def non_reference_pages(self, n: int) -> list[WebPage]:
        out = []
        for i in range(n):
            style = "shop" if i % 2 == 0 else "forum"
            lines = [self.gen.chatty_paragraph(style) for _ in range(self.rng.randint(3, 5))]
            domain = f"{self.gen.name().lower()}-{'store' if style == 'shop' else 'forum'}.com"
            url = self.url(
                domain, f"{'product' if style == 'shop' else 'thread'}/{self.rng.randint(100, 99999)}"
            )
            what = self.rng.choice(en.GOODS_SING)
            title = (
                f"{self.rng.choice(['Great deals on', 'New arrivals:', 'Best sellers:'])} {what} | {domain}"
                if style == "shop"
                else f"Thread: anyone in {self.gen.name()} tried the {what}?"
            )
            out.append(WebPage("non_reference", url, title, lines, "en", ("wikiref", "non_reference")))
        return out

    def c4_rule_pages(self) -> list[WebPage]:
        """Fluent encyclopedic pages (kept by CCNet) each built to trip exactly one C4 rule."""
        out = []
        specials = [
            (
                "c4_lorem_ipsum",
                "lorem_ipsum",
                "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.",
            ),
            (
                "c4_curly_bracket",
                "curly_bracket",
                "Entries in the old catalogue were written in the form {name, year, place} for every object.",
            ),
            (
                "c4_bad_word",
                "bad_words",
                f"Some travellers described the road to the village as a {BAD_WORDS[0]} of the worst kind.",
            ),
        ]
        for kind, reason, special in specials:
            ent = self.gen.entity(self.rng.choice(TOPICS))
            lines = self.encyclopedic(ent, (3, 4))
            lines.insert(1, special)
            url = self.url("notes-and-places.org", f"{_slug(ent.name)}")
            out.append(WebPage(kind, url, f"{ent.title} - notes", lines, "en", ("", kind), c4=reason))
        for _ in range(
            COUNTS["c4_few_sentences"]
        ):  # teaser page: one 2-sentence line, the rest cut off "..."
            ent = self.gen.entity(self.rng.choice(TOPICS))
            ent.deck = []
            lines = [self.gen.en_lead(ent) + " " + self.gen.en_sentence(ent)]
            lines += [self.gen.en_sentence(ent)[:-1] + " ..." for _ in range(self.rng.randint(5, 7))]
            url = self.url("daily-teasers.com", f"{_slug(ent.name)}")
            out.append(
                WebPage(
                    "c4_few_sentences",
                    url,
                    f"{ent.title} - read more",
                    lines,
                    "en",
                    ("", "c4_few_sentences"),
                    c4="too_few_sentences",
                )
            )
        return out
