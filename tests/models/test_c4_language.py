"""C4's language test as TFDS runs it (langdetect, seeded, English >= 0.99) on Google's real C4 pages:
real C4 passed exactly this test, so (almost) every page must pass it again, unchanged."""

from __future__ import annotations

import gzip
import json

from lamina.documents import Document
from lamina.filters.c4 import TFDS_LDNOOBW_COMMIT, bad_words_provenance
from lamina.filters.langid import LangDetect
from lamina.pipelines.corpus import run
from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS

C4 = "c4-en-train.00000-of-01024.head.json.gz"


def test_real_c4_with_the_language_stage_on_is_kept_unchanged(shared_data, tmp_path, capsys):
    config = tmp_path / "c4.toml"
    config.write_text(
        f'[c4]\ninputs = ["json"]\nbadwords = "{shared_data / "c4" / "ldnoobw"}"\n'
    )  # defaults: en, langdetect
    out = tmp_path / "out"
    argv = ["--input", str(tmp_path), "--out", str(out), "--config", str(config), "--sources", "c4",
            "--c4-input", str(shared_data / "c4"), f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
    st = run(argv).stats["c4"]  # no --models: langdetect needs none
    assert st["conservation_ok"] and st["documents_in"] == 1000
    lang = next(s for s in st["funnel"] if s["stage"] == "language")
    assert st["funnel"][-1]["stage"] == "language"
    with gzip.open(shared_data / "c4" / C4, "rt", encoding="utf-8") as f:
        original = {json.loads(line)["url"]: json.loads(line)["text"] for line in f}
    with gzip.open(out / "docs" / "c4" / "en-00000-of-00001.jsonl.gz", "rt", encoding="utf-8") as f:
        kept = [Document.from_json(line) for line in f]
    unchanged = sum(original[d.metadata["url"]] == d.text for d in kept)
    stage_kept = lang["kept"]
    with capsys.disabled():
        print(f"\nreal C4, langdetect at 0.99: language stage kept {stage_kept}/{lang['in']} "
              f"({stage_kept / lang['in']:.2%}); whole pipeline kept {len(kept)}/1000, {unchanged} unchanged "
              f"(other drops: {st['dropped']})")  # fmt: skip
    assert stage_kept >= 0.995 * lang["in"]
    assert unchanged >= 0.995 * len(kept)
    # Which bad-words list the run used: the shared LDNOOBW copy is newer than TFDS's pinned commit.
    bw = st["settings"]["badwords_list"]
    assert bw["path"].endswith("ldnoobw/en") and bw["tfds_pinned_commit"] == TFDS_LDNOOBW_COMMIT[:7]
    assert bw["is_tfds_pinned"] is False and len(bw["sha256"]) == 64
    assert st["settings"]["language_id"] == "langdetect" and "langdetect" in st["settings"]["language_model"]


def test_langdetect_is_seeded_and_names_no_features():
    ld = LangDetect()
    text = "This is clearly an English sentence about the weather and the river near the town."
    assert ld.predict(text) == LangDetect().predict(text) and ld.predict(text)[0] == "en"
    assert ld.predict("12345 !!! ---") == ("", 0.0)  # langdetect finds no features: not English


def test_bad_words_provenance_names_the_list(shared_data, tmp_path):
    own = tmp_path / "en.txt"
    own.write_text("foo\nbar\n")
    p = bad_words_provenance(tmp_path, "en")
    assert p["path"] == str(own) and p["is_tfds_pinned"] is False
    assert bad_words_provenance(shared_data / "c4" / "ldnoobw", "de")["is_tfds_pinned"] is None  # not known
