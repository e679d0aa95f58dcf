"""The same seed writes byte-identical files; `lamina sample` writes a world from the command line."""

from __future__ import annotations

from lamina.sample import main


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_byte_identical(sample_world, world_again):
    a, b = _files(sample_world), _files(world_again)
    assert a.keys() == b.keys() and len(a) > 10
    assert [k for k in a if a[k] != b[k]] == []


def test_cli_other_seed_differs(tmp_path, sample_world, capsys):
    assert main(["--out", str(tmp_path / "w"), "--seed", "1"]) == 0
    assert str(tmp_path / "w") in capsys.readouterr().out
    assert (tmp_path / "w" / "ground_truth.jsonl").read_bytes() != (
        sample_world / "ground_truth.jsonl"
    ).read_bytes()
    size = sum(p.stat().st_size for p in (tmp_path / "w").rglob("*") if p.is_file())
    assert size < 5_000_000
