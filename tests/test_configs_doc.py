"""docs/configs.md documents every table and key the files under configs/ may hold, once each."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from lamina.pipelines import options
from lamina.pretrain.train_config import TrainConfig

REPO = Path(__file__).resolve().parents[1]


def documented() -> dict[str, list[str]]:
    """{section heading: [keys in its table]} of docs/configs.md."""
    text = (REPO / "docs" / "configs.md").read_text()
    out = {}
    for head, body in re.findall(r"^### (.+?)\n(.*?)(?=^#|\Z)", text, flags=re.S | re.M):
        out[head] = re.findall(r"^\| `([a-z_0-9]+)` \|", body, flags=re.M)
    return out


def test_every_corpus_table_and_key_is_documented_once():
    docs = documented()
    for field in dataclasses.fields(options.CorpusConfig):
        head = next((h for h in docs if h.startswith(f"`[{field.name}]`")), None)
        assert head is not None, f"[{field.name}] has no section in docs/configs.md"
        keys = [
            f.name
            for f in dataclasses.fields(field.type if isinstance(field.type, type) else type(field.default))
        ]
        assert sorted(docs[head]) == sorted(keys), (field.name, set(keys) ^ set(docs[head]))
    assert set(options.TABLES) == {f.name for f in dataclasses.fields(options.CorpusConfig)}


def test_every_pretrain_key_is_documented_and_the_shipped_files_use_only_documented_keys():
    docs = documented()
    pre = next(v for h, v in docs.items() if h.startswith("top-level keys"))
    assert sorted(pre) == sorted(f.name for f in dataclasses.fields(TrainConfig))
    known = {h.split("`")[1].strip("[]"): set(v) for h, v in docs.items() if h.startswith("`[")}
    for path in sorted((REPO / "configs").rglob("*.toml")):
        data = tomllib.loads(path.read_text())
        if "pretrain" in path.parts:
            assert set(data) - {"model_overrides"} <= set(pre), path
        else:
            for table, values in data.items():
                assert set(values) <= known[table], (path, table)
