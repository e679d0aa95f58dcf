"""The sample world's text generator: template grammars filled with random slot values.

Every kind of page the filters exist for is made here from the project's own word lists
(`lexicon_en`, `lexicon_intl`): fluent encyclopedic text in six languages, fluent commercial and
chatty English, keyword spam, word salad and character noise. All randomness comes from the
`random.Random` passed in, so a seed fixes every word.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, field

from lamina.sample import lexicon_en as en
from lamina.sample.lexicon_intl import LANGS, cyrillic

SLOT_RE = re.compile(r"\{([A-Za-z_]+?)(\d?)\}")
AN_RE = re.compile(r"\b([Aa]) ((?!uni|use|eu|one|Eu)[aeiouAEIOU])")  # "a architect" -> "an architect"
TOPICS = ("town", "river", "mountain", "person", "species", "building", "craft")


@dataclass
class Entity:
    """What an article (and the web pages about it) describes."""

    name: str  # the invented proper name ("Velmora"), or a person's full name
    topic: str  # one of TOPICS or "commerce"
    title: str  # the article title ("Velmora (river)")
    pronoun: str = "he"  # for persons
    ctx: dict[str, str] = field(default_factory=dict)  # slot values fixed for this entity
    deck: list[str] = field(default_factory=list)  # templates not yet used in the current text


class TextGen:
    """Fills templates; one instance per stream of text, seeded by its caller."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._everyday = 0
        self._spam = 0

    # ---- names -------------------------------------------------------------------------------
    def name(self) -> str:
        r = self.rng
        return r.choice(en.NAME_START) + r.choice(en.NAME_MID) + r.choice(en.NAME_END)

    def person(self) -> str:
        return f"{self.rng.choice(en.WORDS['person_first'])} {self.name()}"

    def entity(self, topic: str) -> Entity:
        if topic == "person":
            full = self.person()
            pronoun = "she" if full.split()[0] in en.FEMALE_FIRST else "he"
            ent = Entity(full, topic, full, pronoun=pronoun)
            ent.ctx = {"Person": full, "Person_last": full.split()[-1]}
            return ent
        if topic == "spam":
            title = en.SPAM_TITLES[self._spam % len(en.SPAM_TITLES)]
            self._spam += 1
            return Entity(title, topic, title, ctx={"Name": title})
        if topic == "everyday":
            title = en.EVERYDAY_TITLES[self._everyday % len(en.EVERYDAY_TITLES)]  # each title once
            self._everyday += 1
            return Entity(title, topic, title, ctx={"Name": title})
        name = self.name()
        if topic == "commerce":
            label = self.rng.choice(en.WORDS["commerce"])
            title = f"{label[:1].upper()}{label[1:]} in {name}"
            return Entity(name, topic, title, ctx={"commerce": label, "Commerce_cap": title})
        ctx = {"water": "river"} if topic == "river" else {}
        return Entity(name, topic, name + en.TITLE_SUFFIX[topic], ctx=ctx)

    # ---- slot filling ------------------------------------------------------------------------
    def slot(self, key: str, words: dict[str, list[str]]) -> str:
        r = self.rng
        if key in words:
            return r.choice(words[key])
        if key.startswith("Place"):
            return self.name()
        if key == "Person":
            return self.person()
        if key == "Person_last":
            return self.name()
        if key == "year":
            return str(r.randint(1180, 1990))
        if key == "num":
            return str(r.randint(3, 240))
        if key == "pop":
            return f"{r.randint(1, 95)},{r.randint(0, 999):03d}"
        if key == "small":
            return str(r.randint(2, 12))
        if key == "elev":
            return f"{r.randint(1, 3)},{r.randint(0, 999):03d}"
        if key == "small_elev":
            return str(r.randint(20, 900))
        if key == "price":
            return str(r.randint(2, 20) * 5)
        if key == "adj_nat":
            return r.choice(
                ["German", "French", "Dutch", "Swedish", "Italian", "Austrian", "Polish", "Danish"]
            )
        if key == "compass":
            return r.choice(["north", "south", "east", "west"])
        if key == "landform_sing":
            return r.choice(["hill", "marsh", "meadow", "forest", "ford", "spring"])
        if key == "goods_sing":
            return r.choice(en.GOODS_SING)
        if key == "Brand":
            return r.choice(en.BRANDS)
        if key == "profession_cap":
            p = r.choice(words["profession"])
            return p[:1].upper() + p[1:]
        if key == "spam":
            return r.choice(en.SPAM_KEYWORDS)
        if key in ("Commerce_cap", "commerce"):
            return r.choice(en.WORDS["commerce"])
        raise KeyError(f"sample text: unknown template slot {{{key}}}")

    def fill(self, template: str, words: dict[str, list[str]], ctx: dict[str, str] | None = None) -> str:
        ctx = ctx or {}
        year1: list[int] = []

        def sub(m: re.Match) -> str:
            key, idx = m.group(1), m.group(2)
            full = key + idx
            if full in ctx:
                return ctx[full]
            if key in ctx and not idx:
                return ctx[key]
            if key == "year" and idx == "2" and year1:  # a second year comes after the first
                return str(min(2021, year1[0] + self.rng.randint(5, 120)))
            value = self.slot(key, words)
            if key == "year" and not idx:
                year1.append(int(value))
            return value

        out = AN_RE.sub(lambda m: m.group(1) + "n " + m.group(2), SLOT_RE.sub(sub, template))
        return out[:1].upper() + out[1:]

    # ---- encyclopedic text -------------------------------------------------------------------
    def en_ctx(self, ent: Entity) -> dict[str, str]:
        ctx = {"Name": ent.name, **ent.ctx}
        if ent.topic == "person":
            ctx.update(
                pronoun=ent.pronoun,
                Pronoun=ent.pronoun.capitalize(),
                poss={"he": "his", "she": "her"}[ent.pronoun],
            )
        return ctx

    def en_lead(self, ent: Entity) -> str:
        """The defining first sentence of a text about `ent` (its topic's first template)."""
        return self.fill(en.TEMPLATES[ent.topic][0], en.WORDS, self.en_ctx(ent))

    def en_sentence(self, ent: Entity) -> str:
        """A sentence about `ent`; templates are dealt like cards so a text rarely repeats one."""
        if not ent.deck:
            ent.deck = en.TEMPLATES[ent.topic][1:] + self.rng.sample(en.TEMPLATES["general"], 6)
            self.rng.shuffle(ent.deck)
        return self.fill(ent.deck.pop(), en.WORDS, self.en_ctx(ent))

    def en_paragraph(self, ent: Entity, n: tuple[int, int] = (3, 5)) -> str:
        return " ".join(self.en_sentence(ent) for _ in range(self.rng.randint(*n)))

    def foreign_sentence(self, lang: str, ent_name: str) -> str:
        spec = LANGS[lang]
        ctx = {"Name": ent_name}
        if lang == "ru":
            ctx.update({f"Place{i}": cyrillic(self.name()) for i in ("", "2", "3")})
            ctx["Person"] = f"{cyrillic(self.name())} {cyrillic(self.name())}"
        return self.fill(self.rng.choice(spec["templates"]), spec["words"], ctx)

    def foreign_paragraph(self, lang: str, ent_name: str, n: tuple[int, int] = (3, 5)) -> str:
        return " ".join(self.foreign_sentence(lang, ent_name) for _ in range(self.rng.randint(*n)))

    # ---- web text that is not encyclopedic ---------------------------------------------------
    def chatty_paragraph(self, style: str, n: tuple[int, int] = (3, 5)) -> str:
        pool = en.SHOP if style == "shop" else en.FORUM
        picks = self.rng.sample(pool, self.rng.randint(*n))
        return " ".join(self.fill(t, en.WORDS) for t in picks)

    def spam_line(self) -> str:
        """SEO keyword spam: keywords strung together, often repeated, no sentence structure."""
        r = self.rng
        head = r.sample(en.SPAM_KEYWORDS, 3)
        words = []
        for _ in range(r.randint(14, 24)):
            x = r.random()
            words.append(
                r.choice(head)
                if x < 0.35
                else r.choice(en.FUNCTION_WORDS)
                if x < 0.7
                else r.choice(en.SPAM_KEYWORDS)
            )
        return " ".join(words)

    def salad_sentence(self) -> str:
        """Real English words in random order (a quarter of them function words), no end punctuation."""
        r = self.rng
        words = [
            r.choice(en.FUNCTION_WORDS) if r.random() < 0.25 else r.choice(salad_vocabulary())
            for _ in range(r.randint(8, 16))
        ]
        s = " ".join(words)
        return s[:1].upper() + s[1:]

    def noise_word(self) -> str:
        n = self.rng.randint(2, 11)
        return "".join(self.rng.choice(string.ascii_lowercase) for _ in range(n))

    def noise_line(self) -> str:
        words = [self.noise_word() for _ in range(self.rng.randint(8, 16))]
        s = " ".join(words)
        return s[:1].upper() + s[1:] + "."


_SALAD: list[str] = []


def salad_vocabulary() -> list[str]:
    """Distinct lowercase content words of the English grammar: drawn uniformly, salad is rare-word heavy."""
    if not _SALAD:
        seen: set[str] = set()
        texts = [w for k, ws in en.WORDS.items() if k not in ("month", "person_first") for w in ws]
        for t in texts:
            for w in re.findall(r"\b[a-z]{3,}\b", SLOT_RE.sub(" ", t)):
                if w not in seen:
                    seen.add(w)
                    _SALAD.append(w)
    return _SALAD
