"""What a review of the input path found as a new user: cases the first tests did not cover."""

from __future__ import annotations

import gzip
import json

from lamina.pipelines.accounting import FILES
from lamina.pipelines.corpus import main
from lamina.pipelines.readers import EMPTY_FILE, Fetch, _ReadC4JsonFn, _ReadWetFn
from tests.pipelines.test_inputs import _c4_argv, _outputs, _web_world


def test_a_zero_byte_input_is_a_failed_file_not_a_file_read(tmp_path):
    """A zero-byte WET or .json.gz (an interrupted download) was counted `read` with no record: the
    run passed with its documents missing. It is a failed file naming why; a real file beside it
    still reads."""
    empty_wet, empty_json = tmp_path / "CC-MAIN-0-00000.warc.wet.gz", tmp_path / "c4-train.json.gz"
    empty_wet.write_bytes(b"")
    empty_json.write_bytes(b"")
    for fn, path in (
        (_ReadWetFn("commoncrawl", 10**6, Fetch()), empty_wet),
        (_ReadC4JsonFn("c4", Fetch()), empty_json),
    ):
        kept, dropped, tally = _outputs(fn.process((str(path), path.name)))
        assert (kept, dropped) == ([], [])
        assert tally == {(FILES, "failed", f"{path}: {EMPTY_FILE}"): 1}, tally
    good = tmp_path / "c4-good.json.gz"
    good.write_bytes(gzip.compress(json.dumps({"url": "u", "text": "t"}).encode() + b"\n"))
    kept, _, tally = _outputs(_ReadC4JsonFn("c4", Fetch()).process((str(good), good.name)))
    assert len(kept) == 1 and tally[(FILES, "read", "")] == 1


def test_a_zero_byte_wet_file_fails_the_run_naming_it(tmp_path, capsys):
    root, out = _web_world(tmp_path), tmp_path / "out"
    (root / "cc" / "CC-MAIN-2023-06-part-2.warc.wet.gz").write_bytes(b"")
    (root / "cc" / "wet.paths").write_text(
        "".join(f"CC-MAIN-2023-06-part-{k}.warc.wet.gz\n" for k in range(3))
    )
    assert main(_c4_argv(root, out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "part-2.warc.wet.gz" in err and "empty file" in err, err
    assert not (out / "stats" / "c4.json").exists()
