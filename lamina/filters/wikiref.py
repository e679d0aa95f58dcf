"""The Wikipedia-reference classifier: P(a page looks like what Wikipedia cites), RedPajama's
quality filter for CommonCrawl (keep P(wiki) >= 0.25 there; a setting here).

A linear fastText model with labels `__label__wiki` (pages cited in Wikipedia `<ref>`s) and
`__label__cc` (random pages), trained by `lamina models`. Text goes in on one line, as in training.
Short texts score near 0 (RedPajama issue 62): the threshold is meant for full pages.
"""

from __future__ import annotations

from lamina.filters.langid import LABEL_PREFIX, LazyFastText, one_line

WIKI_LABEL = f"{LABEL_PREFIX}wiki"
CC_LABEL = f"{LABEL_PREFIX}cc"


class WikiRefClassifier(LazyFastText):
    """`prob(text) -> P(wiki)`; the model loads on first use and is not pickled."""

    def prob(self, text: str) -> float:
        return self.prob_many([text])[0]

    def prob_many(self, texts: list[str]) -> list[float]:
        lines = [one_line(t) for t in texts]
        labels, probs = self.model.predict(lines, k=-1)
        out = []
        for labs, ps in zip(labels, probs, strict=True):
            scores = dict(zip(labs, (float(p) for p in ps), strict=True))
            out.append(min(1.0, scores.get(WIKI_LABEL, 0.0)))
        return out
