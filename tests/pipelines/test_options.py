"""Corpus settings: TOML files, presets, and mistakes named clearly; a run honours them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lamina.pipelines.corpus import run
from lamina.pipelines.options import CCNetConfig, load_config
from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS

REPO = Path(__file__).resolve().parents[2]


def test_shipped_configs_load():
    default = load_config(REPO / "configs" / "corpus" / "default.toml")
    assert default.ccnet == CCNetConfig() and default.c4.lid_threshold == 0.99
    assert load_config(REPO / "configs" / "corpus" / "tiny.toml").run.write_dropped is True


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[ccnet]\nmin_lenght = 3\n", "unknown setting"),
        ("[cnet]\n", "unknown table"),
        ('[ccnet]\ndedup_scope = "shard"\n', "dedup_scope"),
        ('[ccnet]\ncutoffs = "ccnet_fr"\n', "unknown preset"),
        ('[ccnet]\nkeep_buckets = ["top"]\n', "unknown buckets"),
        ("[ccnet]\nlid_threshold = 5\n", r"ccnet.lid_threshold is a probability in \[0, 1\], not 5"),
        ("[ccnet]\nwikiref_threshold = -0.1\n", "ccnet.wikiref_threshold is a probability"),
        ("[ccnet]\ncutoff_percentiles = [60, 30]\n", "cutoff_percentiles must be two percents"),
        ("[c4]\nlid_threshold = 99\n", "c4.lid_threshold is a probability"),
        ("[c4]\nfasttext_threshold = 1.5\n", "c4.fasttext_threshold is a probability"),
        ("[github]\nmax_line_length = -5\n", r"github.max_line_length must be >= 0, not -5"),
        ("[github]\nmin_alnum_fraction = 25\n", r"github.min_alnum_fraction is a fraction in \[0, 1\]"),
    ],
)
def test_config_mistakes_are_named(tmp_path, toml, message):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ValueError, match=message):
        load_config(path)


def test_cutoff_presets_and_given_values(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[ccnet]\ncutoffs = "ccnet_en"\n')
    assert load_config(path).ccnet.given_cutoffs() == {"en": (340.0, 520.0)}
    path.write_text("[ccnet]\ncutoffs = {en = [10, 20.5]}\n")
    assert load_config(path).ccnet.given_cutoffs() == {"en": (10.0, 20.5)}
    assert CCNetConfig().given_cutoffs() is None  # computed from the run


def test_run_honours_settings(sample_world, sample_models, tmp_path):
    """Given cutoffs that put everything in the head, per-dump line dedup, wikiref off."""
    config = tmp_path / "c.toml"
    config.write_text('[ccnet]\ncutoffs = {en = [1e12, 2e12]}\ndedup_scope = "dump"\nwikiref = false\n')
    out = tmp_path / "out"
    argv = ["--input", str(sample_world), "--models", str(sample_models), "--out", str(out), "--config", str(config),
            "--sources", "commoncrawl", f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
    st = run(argv).stats["commoncrawl"]
    assert [s["stage"] for s in st["funnel"]][-1] == "buckets" and "wikiref" not in st["dropped"]
    assert "perplexity_tail" not in st["dropped"]
    assert st["settings"]["dedup_scope"] == "dump" and st["settings"]["wikiref"] is False
    assert sorted(p.name for p in (out / "docs" / "commoncrawl").iterdir()) == [
        "en_head-00000-of-00001.jsonl.gz"
    ]
    with gzip.open(out / "docs" / "commoncrawl" / "en_head-00000-of-00001.jsonl.gz", "rt") as f:
        assert all("wiki_prob" not in json.loads(line)["metadata"] for line in f)
    assert (out / "stats" / "commoncrawl.json").is_file() and not (out / "stats" / "c4.json").exists()
