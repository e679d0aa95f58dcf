"""What a review of the input path found as a new user: cases the first tests did not cover."""

from __future__ import annotations

import gzip
import json

from lamina.pipelines.accounting import FILES
from lamina.pipelines.corpus import main
from lamina.pipelines.readers import EMPTY_FILE, Fetch, _ReadC4JsonFn, _ReadWetFn
from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS
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


def test_no_input_root_is_needed_when_every_source_has_its_input(tmp_path, capsys):
    """`--input` was required even with `--c4-input` (and `--set c4.badwords`) naming everything."""
    c4 = tmp_path / "c4"
    c4.mkdir()
    page = "The valley news this week. The mornings were cold and clear. Rain is due on Friday."
    rows = [
        json.dumps({"url": f"https://e.com/{i}", "text": f"{page} {i}", "timestamp": "t"}) for i in range(5)
    ]
    (c4 / "c4-train.00000-of-01024.json.gz").write_bytes(gzip.compress("\n".join(rows).encode() + b"\n"))
    (tmp_path / "badwords").mkdir()
    (tmp_path / "badwords" / "en.txt").write_text("zzzbadword\n")
    out = tmp_path / "out"
    base = ["--out", str(out), "--sources", "c4", "--c4-input", str(c4), "--set", "c4.language=all",
            f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
    # C4 reads WET too by default: one line saying so and how to read the JSON only
    assert main(base) == 2
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1 and "no --cc-input and no --input" in err and 'c4.inputs=["json"]' in err
    )
    base += ["--set", 'c4.inputs=["json"]']
    assert main(base) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--set c4.badwords=PATH" in err, err
    assert main([*base, "--set", f"c4.badwords={tmp_path / 'badwords'}"]) == 0
    st = json.loads((out / "stats" / "c4.json").read_text())
    assert st["documents_in"] == 5 and st["files"]["read"] == 1
    assert json.loads((out / "run.json").read_text())["runs"][-1]["inputs"]["c4"]["spec"] == str(c4)


def test_a_source_without_its_input_and_without_input_root_is_one_line(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "out"), "--sources", "books", f"--runner={FN_API_RUNNER}"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "lamina corpus: no --books-input and no --input: pass --books-input PATH, or --input ROOT that holds books/"
    )


def test_dataflow_without_its_options_is_one_line(tmp_path, capsys):
    """Beam's own option check (project, region, temp_location) was a 15-line traceback."""
    books = tmp_path / "books"
    books.mkdir()
    (books / "pg1.txt").write_text("A book.\n")
    argv = [
        "--out",
        str(tmp_path / "out"),
        "--sources",
        "books",
        "--books-input",
        str(books),
        "--runner",
        "DataflowRunner",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("lamina corpus: --runner DataflowRunner: "), err
    assert "project" in err and "region" in err and "temp_location" in err
    assert not (tmp_path / "out").exists()


def test_a_config_that_is_a_folder_or_not_text_is_one_line(tmp_path, capsys):
    (tmp_path / "bin.toml").write_bytes(bytes(range(256)))
    for config, expected in (
        (tmp_path, "cannot be read (Is a directory)"),
        (tmp_path / "bin.toml", "not UTF-8 text"),
    ):
        assert main(["--out", str(tmp_path / "out"), "--sources", "books", "--config", str(config)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(config) in err and expected in err, err


def test_an_out_that_is_a_file_is_one_line_and_left_alone(tmp_path, capsys):
    (tmp_path / "out").write_text("not a folder")
    books = tmp_path / "books"
    books.mkdir()
    (books / "pg1.txt").write_text("A book.\n")
    argv = [
        "--out",
        str(tmp_path / "out"),
        "--sources",
        "books",
        "--books-input",
        str(books),
        f"--runner={FN_API_RUNNER}",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"lamina corpus: --out {tmp_path / 'out'}: is a file, not a folder; pass a folder (it is created if missing)"
    )
    assert (tmp_path / "out").read_text() == "not a folder"
