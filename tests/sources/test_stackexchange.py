"""The StackExchange pipeline: HTML to text, numeric answer order (RedPajama's string sort is the
BUG), the streaming reader's handling of bad input, and the Beam pipeline on the sample world's
ground truth and on two real site dumps (coffee, beer)."""

from __future__ import annotations

import collections
import gzip
import io
import re
import xml.etree.ElementTree as ET

import pytest

from lamina.filters.stackexchange import answer_order, thread_text
from lamina.formats.stackexchange import Post, PostDrop, html_to_text, iter_posts, site_of
from tests.sources.conftest import read_docs, run_source, tree_bytes, truth_rows

TAG = re.compile(
    r"</?(?:p|a|code|pre|ul|ol|li|strong|em|b|i|blockquote|br|hr|img|h\d|div|span|sup|sub|strike|del|table|tr|td|th)\b[^>]*>"
)  # noqa: E501


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello &amp; <strong>welcome</strong></p>\n\n<p>Bye</p>\n", "Hello & welcome\nBye"),
        ("<ul>\n<li>one</li>\n<li>two <em>2</em></li>\n</ul>", "- one\n- two 2"),
        ("<p>Run:</p><pre><code>for x in y:\n    print(x &lt; 3)\n</code></pre><p>done</p>",
         "Run:\nfor x in y:\n    print(x < 3)\ndone"),
        ('<p>See <a href="https://e.org">this   guide</a> and <code>a&lt;b</code>.</p>', "See this guide and a<b."),
        ("<p>line<br>break</p><p>x<br/>y</p>", "line\nbreak\nx\ny"),
        ("<p>unclosed <b>bold", "unclosed bold"),
    ],
)  # fmt: skip
def test_html_to_text(html, text):
    assert html_to_text(html) == text


def _post(pid, score, parent=1, body="b"):
    return Post("s.com", pid, 2, parent, score, "", body, "", "", "f", pid)


def test_answers_sort_by_integer_score_not_by_string():
    answers = [_post(2, 9), _post(3, 10), _post(4, -1), _post(5, 0), _post(6, 10), _post(7, 2)]
    assert [a.id for a in answer_order(answers)] == [3, 6, 2, 7, 5, 4]
    # RedPajama's string sort (BUG) would put "9" before "10" and "2" before "10"
    assert sorted(["9", "10", "2"], reverse=True) == ["9", "2", "10"]
    q = Post("s.com", 1, 1, None, 5, "Title?", "<p>Body</p>", "", "", "f", 0)
    assert thread_text(q, [_post(2, 1, body="<p>low</p>"), _post(3, 30, body="<p>high</p>")]) == (
        "Q: Title?\nBody\nA: high\nA: low"
    )


def _xml(rows: str) -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n{rows}</posts>\n'.encode()


def test_reader_counts_bad_rows_and_stops_at_broken_xml():
    rows = ('<row Id="1" PostTypeId="1" Score="3" Title="T" Body="&lt;p&gt;x&lt;/p&gt;" />\n'
            '<row Id="x" PostTypeId="1" Score="3" />\n<row Id="3" PostTypeId="2" Score="1" />\n'
            '<row Id="4" PostTypeId="2" ParentId="1" Score="-2" Body="" />\n')  # fmt: skip
    items = list(iter_posts("s.com/Posts.xml", fileobj=io.BytesIO(gzip.compress(_xml(rows)))))
    assert [type(i).__name__ for i in items] == ["Post", "PostDrop", "PostDrop", "Post"]
    assert items[1].reason == items[2].reason == "malformed_record" and "ParentId" in items[2].detail
    assert items[0].site == "s.com" and items[3].score == -2
    broken = _xml(rows)[:-5]  # every row, then "</po"
    items = list(iter_posts("s.com/Posts.xml", fileobj=io.BytesIO(broken)))
    assert items[-1].reason == "malformed_xml" and "Id=4" in items[-1].detail
    truncated = gzip.compress(_xml(rows))[:-20]
    assert list(iter_posts("s.com/Posts.xml", fileobj=io.BytesIO(truncated)))[-1].reason == "malformed_xml"
    bomb = b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]><posts><row Id="1" Body="&a;"/></posts>'
    (drop,) = iter_posts("s.com/Posts.xml", fileobj=io.BytesIO(bomb))
    assert isinstance(drop, PostDrop) and drop.reason == "malformed_xml"


def test_site_names():
    assert site_of("coffee.stackexchange.com-Posts.xml.gz") == "coffee.stackexchange.com"
    assert site_of("dump/gardening.stackexchange.com/Posts.xml") == "gardening.stackexchange.com"


def test_sample_world_meets_ground_truth(sample_world, tmp_path):
    st = run_source("stackexchange", sample_world / "stackexchange", tmp_path, write_dropped=True)
    truth = truth_rows(sample_world, "stackexchange")
    kept = {d.metadata["key"]: d for d in read_docs(tmp_path / "docs" / "stackexchange")}
    dropped = read_docs(tmp_path / "dropped" / "stackexchange")
    assert set(kept) == {k for k, r in truth.items() if r["expected"] == "kept"} == set(truth)
    assert {k: d.metadata["answer_ids"] for k, d in kept.items()} == {
        k: r["answer_order"] for k, r in truth.items()
    }
    # the only other rows are the tag wikis (PostTypeId 4 and 5), two per site, none in the truth
    assert sorted(d.metadata["post_type"] for d in dropped) == [4, 4, 5, 5]
    assert {d.metadata["drop_reason"] for d in dropped} == {"not_question"}
    assert not set(d.metadata["key"] for d in dropped) & set(truth)
    assert st["documents_in"] == len(truth) + 4 and st["dropped"] == {"not_question": 4}
    for d in kept.values():
        assert d.text.startswith("Q: How do I ") and not TAG.search(d.text)
        assert d.text.count("\nA: ") == len(d.metadata["answer_ids"])


def _raw_posts(path):
    with gzip.open(path) as f:
        return [row.attrib for row in ET.parse(f).getroot()]


def test_real_sites_threads_numeric_order_no_html_byte_identical(shared_data, tmp_path):
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        st = run_source("stackexchange", shared_data / "stackexchange", out)
        outs.append(out)
    assert tree_bytes(outs[0]) == tree_bytes(outs[1])
    docs = read_docs(outs[0] / "docs" / "stackexchange")
    raw = {}
    for site in ("coffee", "beer"):
        raw[f"{site}.stackexchange.com"] = _raw_posts(
            shared_data / "stackexchange" / f"{site}.stackexchange.com-Posts.xml.gz"
        )
    questions = {(s, int(r["Id"])) for s, rows in raw.items() for r in rows if r["PostTypeId"] == "1"}
    others = sum(r["PostTypeId"] not in ("1", "2") for rows in raw.values() for r in rows)
    assert len(questions) == 225 + 663
    assert {(d.metadata["site"], d.metadata["question_id"]) for d in docs} == questions
    assert st["documents_in"] == len(questions) + others and st["dropped"] == {"not_question": others}
    answers = collections.defaultdict(list)
    for s, rows in raw.items():
        for r in rows:
            if r["PostTypeId"] == "2":
                answers[(s, int(r["ParentId"]))].append((int(r["Score"]), int(r["Id"])))
    string_sorted_differs = 0
    for d in docs:
        expect = [
            i
            for _, i in sorted(
                answers[(d.metadata["site"], d.metadata["question_id"])], key=lambda t: (-t[0], t[1])
            )
        ]
        assert d.metadata["answer_ids"] == expect
        scores = d.metadata["answer_scores"]
        assert scores == sorted(scores, reverse=True)
        string_sorted_differs += sorted(map(str, scores), reverse=True) != list(map(str, scores))
        assert not TAG.search(d.text), (d.metadata["key"], TAG.search(d.text).group())
        assert "&lt;" not in d.text and "&amp;" not in d.text
    assert string_sorted_differs > 0  # the real data has threads RedPajama's string sort misorders


def test_bad_rows_and_files_are_counted_drops_in_the_pipeline(tmp_path):
    site = tmp_path / "in" / "tea.stackexchange.com"
    site.mkdir(parents=True)
    rows = ('<row Id="1" PostTypeId="1" Score="1" Title="Green or black?" Body="&lt;p&gt;Which?&lt;/p&gt;" />\n'
            '<row Id="2" PostTypeId="2" ParentId="1" Score="10" Body="&lt;p&gt;green&lt;/p&gt;" />\n'
            '<row Id="3" PostTypeId="2" ParentId="1" Score="9" Body="&lt;p&gt;black&lt;/p&gt;" />\n'
            '<row Id="4" PostTypeId="2" ParentId="99" Score="1" Body="&lt;p&gt;orphan&lt;/p&gt;" />\n'
            '<row Id="5" PostTypeId="1" Score="many" Title="?" />\n'
            '<row Id="6" PostTypeId="7" Score="0" Body="&lt;p&gt;nomination&lt;/p&gt;" />\n')  # fmt: skip
    (site / "Posts.xml").write_bytes(_xml(rows))
    (tmp_path / "in" / "broken.stackexchange.com-Posts.xml.gz").write_bytes(gzip.compress(_xml(rows))[:-40])
    st = run_source("stackexchange", tmp_path / "in", tmp_path / "out", write_dropped=True)
    # tea: 1 thread + orphan + malformed + nomination; broken: the same rows until the gzip breaks
    assert st["dropped"]["orphan_answer"] >= 1 and st["dropped"]["malformed_record"] >= 1
    assert st["dropped"]["malformed_xml"] == 1 and st["dropped"]["not_question"] >= 1
    assert st["documents_in"] == st["documents_kept"] + sum(st["dropped"].values())
    docs = {d.metadata["key"]: d for d in read_docs(tmp_path / "out" / "docs" / "stackexchange")}
    assert docs["tea.stackexchange.com:1"].text == "Q: Green or black?\nWhich?\nA: green\nA: black"
    drops = read_docs(tmp_path / "out" / "dropped" / "stackexchange")
    broken = [d for d in drops if d.metadata["drop_reason"] == "malformed_xml"]
    assert "broken.stackexchange.com-Posts.xml.gz" in broken[0].metadata["drop_detail"]
