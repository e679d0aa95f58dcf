"""The scaled world (`lamina sample --scale N`): unique ids, the same kinds in the same proportions,
copy 0 equal to the sample, reruns byte-identical, and the pipelines meet the ground truth on it."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from lamina.filters.normalize import normalize_for_dedup
from lamina.formats.wet import read_wet
from lamina.sample import main, write_sample_world
from lamina.sample.scale import BLOCK, copy_tag, perturb_code, perturb_line, perturb_url, scale_world
from lamina.sample.truth import read_truth

N = 3


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "README.md"
    }


@pytest.fixture(scope="module")
def scaled(tmp_path_factory) -> Path:
    root = write_sample_world(tmp_path_factory.mktemp("scaled"), seed=0)
    scale_world(root, N, seed=0)
    return root


def test_copy_tags_are_distinct_words():
    tags = [copy_tag(c) for c in range(1, 20_001)]
    assert len(set(tags)) == len(tags)
    assert all(t.isalpha() and t.islower() for t in tags)
    with pytest.raises(ValueError):
        copy_tag(0)


def _c4_end_mark(line: str) -> bool:
    s = line.rstrip()
    return s.endswith((".", "?", "!", '"')) and not s.endswith("...")


@pytest.mark.parametrize(
    "line",
    [
        "The old mill stood by the river for two hundred years.",
        'He wrote: "the bridge is closed."',
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
        "The config line reads {title: museum, year: 1890} in the old catalogue.",
        "Copyright 2019 Northwind Media | All rights reserved",
        "Home | News | Topics",
        "Wait for it...",
    ],
)
def test_perturbed_line_keeps_what_the_rules_read(line):
    a, b = perturb_line(line, copy_tag(1)), perturb_line(line, copy_tag(2))
    assert len(a.split()) == len(line.split())  # C4's 5-words rule
    assert _c4_end_mark(a) == _c4_end_mark(line)
    for s in ("lorem ipsum", "{", "javascript", "rights reserved"):
        assert (s in a.lower()) == (s in line.lower())
    # line dedup sees a new line in every copy (even after cc_net's normalization)
    assert len({normalize_for_dedup(x) for x in (line, a, b)}) == 3


def test_perturbation_is_a_function_of_the_copy_only():
    # documents that are duplicates inside the sample stay duplicates inside each copy
    t = copy_tag(7)
    assert perturb_line("Copyright 2019 A", t) != perturb_line("Copyright 2020 A", t)
    assert normalize_for_dedup(perturb_line("Copyright 2019 A", t)) == normalize_for_dedup(
        perturb_line("Copyright 2020 A", t)
    )
    from lamina.filters.c4 import normalize_url

    old, new = "http://www.town-archive.org/x/", "https://town-archive.org/x?utm_source=feed"
    assert normalize_url(perturb_url(old, t)) == normalize_url(perturb_url(new, t))
    assert normalize_url(perturb_url(old, t)) != normalize_url(perturb_url(old, copy_tag(8)))
    code = "int main() { return 0; }\n"
    assert perturb_code(code, t) == perturb_code(code, t) != perturb_code(code, copy_tag(8))
    assert len(perturb_code(code, t).splitlines()) == len(code.splitlines())


def test_scaled_world_has_every_kind_n_times_with_unique_ids(scaled, sample_world):
    base = read_truth(sample_world / "ground_truth.jsonl")
    rows = read_truth(scaled / "ground_truth.jsonl")
    assert len(rows) == N * len(base)
    assert len({(r["pipeline"], r["key"]) for r in rows}) == len(rows)

    def kinds(rs):
        return Counter((r["pipeline"], r["kind"], r["expected"], r["reason"]) for r in rs)

    assert kinds(rows) == Counter({k: N * n for k, n in kinds(base).items()})
    # the WET records on disk are exactly the ground truth's CCNet keys, each once
    wet = (scaled / "cc" / "wet.paths").read_text().split()
    base_wet = (sample_world / "cc" / "wet.paths").read_text().split()
    assert len(wet) == (1 + -(-(N - 1) // BLOCK)) * len(base_wet)  # one file per (block, sample file)
    ids = Counter()
    for rel in wet:
        docs, drops = read_wet(scaled / "cc" / rel, label=rel)
        ids.update(d.metadata["record_id"] for d in docs)
    keys = {r["key"] for r in rows if r["pipeline"] == "ccnet" and r["expected"] == "kept"}
    assert keys <= set(ids) and max(ids.values()) == 1


def test_copy_zero_is_the_sample_and_reruns_are_identical(scaled, sample_world, tmp_path):
    base, big = _digests(sample_world), _digests(scaled)
    changed = [k for k in base if big.get(k) != base[k]]
    # lists that grow: the ground truth, wet.paths and one Posts.xml per site (copies' rows appended)
    assert all(k in ("ground_truth.jsonl", "cc/wet.paths") or k.startswith("stackexchange/") for k in changed)
    listed = (scaled / "cc" / "wet.paths").read_text()
    assert listed.startswith((sample_world / "cc" / "wet.paths").read_text())
    assert main(["--out", str(tmp_path / "w"), "--scale", str(N)]) == 0
    assert _digests(tmp_path / "w") == big


@pytest.mark.slow
def test_pipelines_meet_the_ground_truth_on_the_scaled_world(scaled, sample_models, tmp_path):
    from lamina.pipelines.corpus import run
    from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS
    from tests.pipelines.test_corpus_sample import TARGETS, ground_truth, outcomes, precision_recall

    out = tmp_path / "corpus"
    corpus = run(
        ["--input", str(scaled), "--models", str(sample_models), "--out", str(out), "--write-dropped",
         f"--runner={FN_API_RUNNER}", *IN_PROCESS]
    )  # fmt: skip
    rows = read_truth(scaled / "ground_truth.jsonl")
    per_pipeline = Counter(r["pipeline"] for r in rows)
    for source, st in corpus.stats.items():
        pipeline = {"commoncrawl": "ccnet"}.get(source, source)
        if pipeline != "stackexchange":  # its documents_in counts every row (answers, tag wikis)
            assert st["documents_in"] == per_pipeline[pipeline], source
    for pipeline, source in (("ccnet", "commoncrawl"), ("c4", "c4")):
        truth, got = ground_truth(scaled, pipeline), outcomes(out, source)
        assert set(truth) <= set(got)
        table = precision_recall(truth, got)
        for (pl, c), (min_p, min_r) in TARGETS.items():
            if pl == pipeline:
                p, r, n = table[c]
                assert p >= min_p and r >= min_r, f"{pipeline} {c}: {p:.3f} {r:.3f} ({n})"
    expected = Counter(r["reason"] for r in rows if r["pipeline"] == "github" and r["reason"])
    assert json.loads((out / "stats" / "github.json").read_text())["dropped"] == dict(expected)


def test_a_world_of_rewritten_copies_only(tmp_path, sample_world):
    # what the scale benchmark runs: every copy rewritten (1x included), none of the sample's files
    root = write_sample_world(tmp_path / "w", seed=0)
    scale_world(root, 2, seed=0, keep_sample=False)
    base = read_truth(sample_world / "ground_truth.jsonl")
    rows = read_truth(root / "ground_truth.jsonl")
    assert len(rows) == 2 * len(base)
    assert not {(r["pipeline"], r["key"]) for r in rows} & {(r["pipeline"], r["key"]) for r in base}
    names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    sample_names = {p.relative_to(sample_world).as_posix() for p in sample_world.rglob("*") if p.is_file()}
    shared = {"README.md", "ground_truth.jsonl", "cc/wet.paths", "c4/badwords/en.txt"}
    assert names & sample_names == shared | {n for n in sample_names if n.startswith("stackexchange/")}
    listed = (root / "cc" / "wet.paths").read_text().split()
    assert sorted(listed) == sorted(n.removeprefix("cc/") for n in names if n.endswith(".warc.wet.gz"))
