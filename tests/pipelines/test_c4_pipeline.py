"""The C4 pipeline on Google's real C4 pages (already C4-filtered: almost all must survive our rules
unchanged), run as a Beam pipeline end to end with the real LDNOOBW list."""

from __future__ import annotations

import gzip
import json

from lamina.documents import Document
from lamina.pipelines.corpus import run
from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS


def test_c4_pipeline_keeps_real_c4_unchanged(shared_data, tmp_path):
    config = tmp_path / "c4.toml"
    # Real C4 is English by Google's langdetect already; "all" skips our LID (TFDS's lang="all").
    config.write_text(
        f'[c4]\ninputs = ["json"]\nlanguage = "all"\nbadwords = "{shared_data / "c4" / "ldnoobw"}"\n'
    )
    out = tmp_path / "out"
    argv = ["--input", str(tmp_path), "--models", str(tmp_path / "no-models"), "--out", str(out),
            "--config", str(config), "--sources", "c4", "--c4-input", str(shared_data / "c4"),
            f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
    st = run(argv).stats["c4"]
    assert st["conservation_ok"] and st["documents_in"] == 1000
    assert [s["stage"] for s in st["funnel"]] == [
        "read",
        "too_long",
        "duplicate_url",
        "clean",
        "line_dedup",
        "bad_words",
    ]
    assert st["documents_kept"] >= 970, st["dropped"]
    assert set(st["dropped"]) <= {"too_few_sentences", "bad_words", "curly_bracket", "lorem_ipsum"}
    with gzip.open(out / "docs" / "c4" / "all-00000-of-00001.jsonl.gz", "rt", encoding="utf-8") as f:
        kept = [Document.from_json(line) for line in f]
    ids = [d.id for d in kept]
    assert ids == sorted(ids) and len(kept) == st["documents_kept"]
    with gzip.open(
        shared_data / "c4" / "c4-en-train.00000-of-01024.head.json.gz", "rt", encoding="utf-8"
    ) as f:
        original = {json.loads(line)["url"]: json.loads(line)["text"] for line in f}
    unchanged = sum(original[d.metadata["url"]] == d.text for d in kept)
    assert unchanged >= 0.97 * len(original), unchanged
    # every line key the owner combine sent reached its page in the join (none lost in the shuffle)
    line_dedup = next(s for s in st["funnel"] if s["stage"] == "line_dedup")
    owned = line_dedup["joined"]["owned"]
    assert owned["sent"] == owned["received"] >= line_dedup["lines_kept"] > 0, owned
    url = next(s for s in st["funnel"] if s["stage"] == "duplicate_url")["joined"]["first"]
    assert url["sent"] == url["received"] == 1000 - st["dropped"].get("too_long", 0), url  # one URL each
