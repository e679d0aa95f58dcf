"""StackExchange dumps: `stackexchange/<site>/Posts.xml` with the real dump's row attributes.

Questions (PostTypeId 1) with answers (PostTypeId 2, ParentId) whose scores sort differently as
strings and as numbers ("10" < "9" < "2" as strings), negative scores, a question without answers,
and tag-wiki rows (PostTypeId 4/5) that are not Q&A. Bodies are escaped HTML with `&#xA;` newlines, as
in the real dumps. Ground truth per question (`<site>:<Id>`): kept, with the numerically sorted
answer ids in an extra `answer_order` field (RedPajama sorts the strings: BUG).
"""

from __future__ import annotations

import random
from pathlib import Path
from xml.sax.saxutils import escape

from lamina.sample.text import TOPICS, TextGen
from lamina.sample.truth import Truth

SITES = {
    "gardening.stackexchange.com": (["tomatoes", "roses", "an apple tree", "basil", "a lawn", "tulips"],
                                    ["water", "prune", "protect from frost", "feed", "repot", "plant"]),
    "woodworking.stackexchange.com": (["an oak table", "a pine shelf", "a walnut bowl", "a birch chair", "a maple box"],
                                      ["finish", "glue", "sand", "join", "seal", "stain"]),
}  # fmt: skip
SCORE_SETS = [[10, 9, 2], [3, 25, 100, -1], [7], [], [1, 0, 12], [2, 11]]


def _attr(value: str) -> str:
    """Escape an attribute value the way the dumps do (newlines as &#xA;)."""
    return escape(value, {'"': "&quot;", "\n": "&#xA;"})


def _row(**attrs) -> str:
    return "  <row " + " ".join(f'{k}="{_attr(str(v))}"' for k, v in attrs.items() if v is not None) + " />\n"


def write(out: Path, seed: int, truth: Truth) -> None:
    for s_idx, (site, (things, verbs)) in enumerate(SITES.items()):
        r = random.Random(f"{seed}:se:{site}")
        gen = TextGen(r)
        rows: list[str] = []
        next_id = 1
        for q in range(8):
            qid = next_id
            next_id += 1
            thing, verb = r.choice(things), r.choice(verbs)
            scores = SCORE_SETS[(q + s_idx) % len(SCORE_SETS)]
            ans_ids = list(range(next_id, next_id + len(scores)))
            next_id += len(scores)
            day = f"2019-0{1 + q % 9}-1{q % 9}T1{q % 10}:0{q % 10}:00.{100 + q:03d}"
            body = (f"<p>I want to {verb} {thing} this spring. What is the best way to do it?</p>\n\n"
                    f"<p>I tried <code>{verb}-{q}</code> last year but it did not work well. "
                    f"See <a href=\"https://example.org/{q}\">this guide</a>.</p>\n")  # fmt: skip
            accepted = ans_ids[0] if scores and q % 2 == 0 else None
            rows.append(
                _row(
                    Id=qid,
                    PostTypeId=1,
                    AcceptedAnswerId=accepted,
                    CreationDate=day,
                    Score=r.randint(0, 30),
                    ViewCount=r.randint(50, 5000),
                    Body=body,
                    OwnerUserId=r.randint(1, 400),
                    Title=f"How do I {verb} {thing}?",
                    Tags=f"<{verb.split()[0]}><{site.split('.')[0]}>",
                    AnswerCount=len(scores),
                    CommentCount=r.randint(0, 5),
                )
            )
            for aid, score in zip(ans_ids, scores, strict=True):
                ent = gen.entity(r.choice(TOPICS))
                text = gen.en_sentence(ent)
                abody = (
                    f"<p>You should {verb} {thing} early in the morning.</p>\n\n<ul>\n<li>Check it every week."
                    f"</li>\n<li>Use <strong>clean</strong> tools.</li>\n</ul>\n\n<p>Background: {escape(text)}</p>\n"
                )
                rows.append(
                    _row(
                        Id=aid,
                        PostTypeId=2,
                        ParentId=qid,
                        CreationDate=day,
                        Score=score,
                        Body=abody,
                        OwnerUserId=r.randint(1, 400),
                        CommentCount=r.randint(0, 3),
                    )
                )
            order = [a for _, a in sorted(zip(scores, ans_ids, strict=True), key=lambda t: (-t[0], t[1]))]
            kind = "question" if scores else "question_no_answers"
            truth.add("stackexchange", f"{site}:{qid}", "kept", None, kind, answer_order=order)
        tag = next_id
        rows.append(
            _row(
                Id=tag,
                PostTypeId=4,
                CreationDate="2019-01-01T00:00:00.000",
                Score=0,
                Body=f"<p>Questions about {site.split('.')[0]}.</p>\n",
            )
        )
        rows.append(
            _row(
                Id=tag + 1,
                PostTypeId=5,
                CreationDate="2019-01-01T00:00:00.000",
                Score=0,
                Body="<p>The tag wiki body.</p>\n",
            )
        )
        d = out / site
        d.mkdir(parents=True, exist_ok=True)
        xml = '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "".join(rows) + "</posts>\n"
        (d / "Posts.xml").write_text(xml, encoding="utf-8")
