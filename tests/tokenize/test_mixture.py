"""Mixture weights: LLaMA Table 1 by default, renormalized over the sources present, with a
warning naming the missing ones; misconfiguration is an error."""

from __future__ import annotations

import contextlib
import os

import pytest

from lamina.documents import SOURCES
from lamina.tokenize.mixture import LLAMA_WEIGHTS, MixtureWarning, parse_weights, renormalize


def test_llama_table_1():
    assert tuple(LLAMA_WEIGHTS) == SOURCES
    assert LLAMA_WEIGHTS["commoncrawl"] == 0.67 and LLAMA_WEIGHTS["stackexchange"] == 0.02
    assert sum(LLAMA_WEIGHTS.values()) == pytest.approx(1.0)


def test_all_present_is_table_1_without_warning(recwarn):
    assert renormalize(reversed(SOURCES)) == pytest.approx(LLAMA_WEIGHTS)
    assert list(renormalize(reversed(SOURCES))) == list(SOURCES)  # stable order
    assert not [w for w in recwarn if issubclass(w.category, MixtureWarning)]


def test_missing_sources_renormalize_with_a_warning_naming_them():
    with pytest.warns(MixtureWarning, match=r"\['commoncrawl', 'c4', 'books', 'arxiv', 'stackexchange'\]"):
        w = renormalize(["wikipedia", "github"])
    assert w == pytest.approx({"github": 0.5, "wikipedia": 0.5})


@pytest.mark.parametrize(
    "present, weights, message",
    [
        (["mysource"], None, "no mixture weight"),
        ([], None, "no sources present"),
        (["c4"], {"c4": 0.0, "books": 1.0}, "all have weight 0"),
        (["c4"], {"c4": -1.0}, ">= 0"),
    ],
)
def test_bad_mixtures_are_errors(present, weights, message):
    with pytest.warns(MixtureWarning) if weights and "books" in weights else contextlib.nullcontext():
        with pytest.raises(ValueError, match=message):
            renormalize(present, weights)


def test_user_sources_and_parse():
    assert parse_weights("c4=3, mine=1") == {"c4": 3.0, "mine": 1.0}
    assert renormalize(["mine", "c4"], parse_weights("c4=3,mine=1")) == {"c4": 0.75, "mine": 0.25}
    with pytest.raises(ValueError, match="SOURCE=WEIGHT"):
        parse_weights("c4")
    with pytest.raises(ValueError, match="not a number"):
        parse_weights("c4=lots")


def test_weights_are_identical_across_processes_with_different_hash_seeds():
    """Set iteration order changes with PYTHONHASHSEED; the float sum behind the renormalized weights
    must not, or the manifest differs between two runs on the same input."""
    import subprocess
    import sys

    code = (
        "import json, warnings; warnings.simplefilter('ignore');"
        "from lamina.tokenize.mixture import renormalize;"
        "print(json.dumps([renormalize(['stackexchange', 'arxiv', 'books', 'wikipedia', 'github', 'c4',"
        " 'commoncrawl']), renormalize(['books', 'c4', 'commoncrawl'])]))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout  # fmt: skip
        for seed in range(8)
    }
    assert len(outs) == 1, outs
