"""StackExchange threads: a question and its answers as one document.

RedPajama's format, `Q: <title>\n<question body>\nA: <answer>\nA: <answer>...` (bodies as plain
text, `lamina.formats.stackexchange.html_to_text`), with the answers sorted by score, highest first.
RedPajama sorts the Score attribute as a string, so "9" comes before "10" and "-1" before "0"
(BUG); here scores are integers, ties broken by the smaller (older) answer id, so the order is total
and the same on every run.
"""

from __future__ import annotations

from collections.abc import Sequence

from lamina.formats.stackexchange import Post, html_to_text


def answer_order(answers: Sequence[Post]) -> list[Post]:
    """Answers by integer score, highest first; equal scores by id (older first)."""
    return sorted(answers, key=lambda a: (-int(a.score), int(a.id)))


def thread_text(question: Post, answers: Sequence[Post]) -> str:
    """The document text of one question thread (answers in `answer_order`)."""
    body = html_to_text(question.body)
    parts = [f"Q: {question.title.strip()}" + (f"\n{body}" if body else "")]
    parts.extend(f"A: {html_to_text(a.body)}" for a in answer_order(answers))
    return "\n".join(parts)
