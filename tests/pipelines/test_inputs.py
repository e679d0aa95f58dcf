"""Nothing lost at the input: files accounted like documents, readers that resume after a bad record,
binary content dropped, 128-bit ids from input identity, a file fed twice refused, failed files
failing the run (or tolerated and reported), and a failed rerun leaving the previous outputs as
they were."""

from __future__ import annotations

import gzip
import json
import random
import socket
from pathlib import Path

import pytest
from apache_beam.pvalue import TaggedOutput

from lamina.documents import stable_id
from lamina.filters.binary import binary_reason
from lamina.formats.wet import input_identity, read_wet, record_key
from lamina.pipelines.accounting import FILES, TALLY
from lamina.pipelines.corpus import main, run
from lamina.pipelines.readers import Fetch, InputError, _ReadC4JsonFn, expand_inputs, open_input
from tests.pipelines.conftest import FN_API_RUNNER, IN_PROCESS
from tests.pipelines.wet_fixtures import wet_record, write_wet

PAGE = (
    "This page is about the weather in the valley this week. The mornings were cold and clear. "
    "By noon the wind came up from the west and the clouds rolled in over the hills. "
    "Rain is expected again on Friday, so bring a coat if you plan to walk the river path."
)


def _outputs(element_stream) -> tuple[list, list, dict]:
    """(kept, [(stage, Dropped)], {(stage, field, reason): n}) of a reader DoFn's outputs."""
    kept, dropped, tally = [], [], {}
    for e in element_stream:
        if isinstance(e, TaggedOutput):
            if e.tag == TALLY:
                tally[e.value[0]] = tally.get(e.value[0], 0) + e.value[1]
            else:
                dropped.append(e.value)
        else:
            kept.append(e)
    return kept, dropped, tally


def test_c4_reader_resumes_after_a_bad_byte(tmp_path, shared_data):
    """18 real C4 lines with a bad byte in line 10: one malformed_record naming line 10, the other 17
    read (before, the reader stopped the file there and counted the 8 good lines after it nowhere)."""
    with gzip.open(shared_data / "c4" / "c4-en-train.00000-of-01024.head.json.gz", "rb") as f:
        raw = [f.readline().rstrip(b"\n") for _ in range(18)]
    urls = [json.loads(line)["url"] for line in raw]
    cut = raw[9].index(b'"text"') + 12
    raw[9] = raw[9][:cut] + b"\xff" + raw[9][cut:]
    path = tmp_path / "c4-train.00000-of-01024.json.gz"
    path.write_bytes(gzip.compress(b"\n".join(raw) + b"\n"))
    kept, dropped, tally = _outputs(_ReadC4JsonFn("c4", Fetch()).process((str(path), path.name)))
    assert len(kept) + len(dropped) == 18
    assert [d.metadata["url"] for d in kept] == urls[:9] + urls[10:]
    ((stage, d),) = dropped
    assert (stage, d.reason) == ("read", "malformed_record") and "line 10:" in d.detail
    assert tally[(FILES, "read", "")] == 1 and tally[("read", "kept", "")] == 17


def _records(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    words = "river stone cloud bread lamp garden window winter letter market".split()
    return [
        wet_record(i, b"Title\n" + " ".join(rng.choice(words) for _ in range(200)).encode()) for i in range(n)
    ]


def test_single_stream_gzip_wet_counts_every_record(tmp_path, shared_data):
    records = _records(40)
    one = tmp_path / "one-stream.warc.wet.gz"
    one.write_bytes(gzip.compress(b"".join(records)))
    members = write_wet(tmp_path / "members.warc.wet.gz", records)
    docs, drops = read_wet(one)
    assert drops == [] and len(docs) == 40
    ref, _ = read_wet(members)
    assert [d.text for d in docs] == [d.text for d in ref]
    # the real CC file re-gzipped as one stream reads the same documents
    real = shared_data / "cc" / "whirlwind.warc.wet.gz"
    regz = tmp_path / "whirlwind.warc.wet.gz"
    regz.write_bytes(gzip.compress(gzip.decompress(real.read_bytes())))
    assert [d.text for d in read_wet(regz)[0]] == [d.text for d in read_wet(real)[0]]
    # cut in the middle: the records before the cut are kept, the cut is one counted drop
    data = one.read_bytes()
    one.write_bytes(data[: len(data) // 2])
    docs, drops = read_wet(one)
    assert 10 < len(docs) < 40 and [d.reason for d in drops] == ["malformed_record"]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "single-stream-gzip"])
def test_lying_content_length_loses_no_next_record(tmp_path, gz):
    records = _records(4)
    lie = wet_record(9, b"Title\nshort body").replace(b"Content-Length: 16", b"Content-Length: 5000")
    data = records[0] + records[1] + lie + records[2] + records[3]
    path = tmp_path / "lie.warc.wet"
    path.write_bytes(gzip.compress(data) if gz else data)
    docs, drops = read_wet(path)
    assert [d.metadata["url"] for d in docs] == [f"http://example.com/page{i}" for i in range(4)]
    ((drop),) = drops
    assert (
        drop.reason == "malformed_record" and "Content-Length 5000 runs into the next record" in drop.detail
    )
    huge = data.replace(b"Content-Length: 5000", b"Content-Length: 90000000")  # over max_bytes too
    path.write_bytes(huge)
    docs, drops = read_wet(path)
    assert len(docs) == 4 and [d.reason for d in drops] == ["malformed_record"]


@pytest.mark.parametrize(
    ("text", "binary"),
    [
        ("plain prose.\n\tindented\r\n\x0cpage break", False),
        ("a stray escape \x1b[1m in a page. " + "ordinary text " * 40, False),
        ("MZ\x90\x00\x03 executable header", True),  # a NUL early on: git's test
        ("".join(chr(b) for b in random.Random(1).randbytes(4000)), True),  # random bytes as Latin-1
    ],
)
def test_binary_rule(text, binary):
    assert bool(binary_reason(text)) is binary


def test_ids_are_128_bit_and_carry_the_input_identity(shared_data):
    i = stable_id("commoncrawl", "x")
    assert i.startswith("commoncrawl/") and len(i.split("/", 1)[1]) == 32 and int(i.split("/")[1], 16) >= 0
    assert stable_id("commoncrawl", "x") == i and stable_id("c4", "x") != i
    # a WET record's id: its file's identity (dump + CC file name) and its index, wherever the file lies
    a = "crawl-data/CC-MAIN-2023-06/segments/1/wet/CC-MAIN-20230126210844-20230127000844-00000.warc.wet.gz"
    b = "mirror/CC-MAIN-2023-06/CC-MAIN-20230126210844-20230127000844-00000.warc.wet.gz"
    assert input_identity(a) == input_identity(b) == "CC-MAIN-2023-06/" + a.rsplit("/", 1)[1]
    assert (
        record_key("commoncrawl", a, 3) == record_key("commoncrawl", b, 3) != record_key("commoncrawl", a, 4)
    )
    assert input_identity("c4/part-1.json.gz") != input_identity("c4/other/part-1.json.gz")
    docs, _ = read_wet(shared_data / "cc" / "whirlwind.warc.wet.gz", label="x/whirlwind.warc.wet.gz")
    assert docs[0].id == record_key("commoncrawl", "whirlwind.warc.wet.gz", 1)


def test_one_input_fed_twice_is_refused(tmp_path):
    name = "CC-MAIN-20230126210844-20230127000844-00000.warc.wet.gz"
    (tmp_path / "CC-MAIN-2023-06").mkdir()
    f = write_wet(tmp_path / "CC-MAIN-2023-06" / name, _records(2))
    copy = tmp_path / "copy" / "CC-MAIN-2023-06"
    copy.mkdir(parents=True)
    (copy / name).write_bytes(f.read_bytes())
    (tmp_path / "wet.paths").write_text(f"CC-MAIN-2023-06/{name}\nCC-MAIN-2023-06/{name}\n")
    with pytest.raises(InputError, match="the same input is given twice"):
        expand_inputs(str(tmp_path / "wet.paths"))
    with pytest.raises(InputError, match=f"both CC-MAIN-2023-06/{name}"):
        expand_inputs(str(tmp_path))  # the folder holds the file and a copy of it elsewhere
    (tmp_path / "wet.paths").write_text(f"CC-MAIN-2023-06/{name}\n")
    assert len(expand_inputs(str(tmp_path / "wet.paths"))) == 1


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_url_fetch_retries_with_backoff_then_names_the_error():
    waits: list[float] = []
    url = f"http://127.0.0.1:{_closed_port()}/CC-MAIN-x.warc.wet.gz"
    with pytest.raises(OSError, match=r"(?i)refused.*after 4 attempts"):
        open_input(url, Fetch(retries=3, backoff_s=0.5), sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0]


def _web_world(tmp_path: Path) -> Path:
    """An input root with cc/ (two WET files + wet.paths) and c4/badwords, for C4 without models."""
    root = tmp_path / "in"
    (root / "cc").mkdir(parents=True)
    (root / "c4" / "badwords").mkdir(parents=True)
    (root / "c4" / "badwords" / "en.txt").write_text("zzzbadword\n")
    for k in range(2):
        body = [
            wet_record(10 * k + i, f"Title\nPage {k}-{i} of the valley news. {PAGE}".encode())
            for i in range(3)
        ]
        write_wet(root / "cc" / f"CC-MAIN-2023-06-part-{k}.warc.wet.gz", body)
    (root / "cc" / "wet.paths").write_text(
        "CC-MAIN-2023-06-part-0.warc.wet.gz\nCC-MAIN-2023-06-part-1.warc.wet.gz\n"
    )
    return root


def _c4_argv(root: Path, out: Path, *more: str) -> list[str]:
    return ["--input", str(root), "--out", str(out), "--sources", "c4", "--set", "c4.language=all",
            "--set", 'c4.inputs=["wet"]', "--set", "run.fetch_retries=1", "--set", "run.fetch_backoff_s=0.01",
            f"--runner={FN_API_RUNNER}", *IN_PROCESS, *more]  # fmt: skip


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_unreachable_url_fails_the_run_and_a_failed_rerun_leaves_outputs(tmp_path, capsys):
    root, out = _web_world(tmp_path), tmp_path / "out"
    st = run(_c4_argv(root, out)).stats["c4"]
    assert st["files"] == {"matched": 2, "read": 2, "failed": 0, "failed_files": [], "conservation_ok": True}
    assert st["documents_in"] == 6
    before = _snapshot(out)
    assert "docs/c4/all-00000-of-00001.jsonl.gz" in before and "stats/c4.json" in before
    assert not (out / ".staging").exists()  # promoted, and the empty staging folders removed
    url = f"http://127.0.0.1:{_closed_port()}/crawl-data/CC-MAIN-2023-06/wet/part-9.warc.wet.gz"
    (root / "cc" / "wet.paths").write_text(f"CC-MAIN-2023-06-part-0.warc.wet.gz\n{url}\n")
    assert main(_c4_argv(root, out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and url in err and "--allow-failed-inputs 1" in err
    assert {k: v for k, v in _snapshot(out).items() if not k.startswith(".staging")} == before
    # tolerated: the run passes and the statistics name the failed file and its error
    assert main(_c4_argv(root, out, "--allow-failed-inputs", "1")) == 0
    assert url in capsys.readouterr().out
    st = json.loads((out / "stats" / "c4.json").read_text())
    assert (st["files"]["matched"], st["files"]["read"], st["files"]["failed"]) == (2, 1, 1)
    assert (
        st["files"]["failed_files"][0]["file"] == url and "refused" in st["files"]["failed_files"][0]["error"]
    )
    assert st["documents_in"] == 3 and st["conservation_ok"]
    from lamina.reports.cli import main as report_main

    assert report_main(["--corpus", str(out)]) == 0  # the report shows the failed file too
    page = (out / "report" / "c4.html").read_text()
    assert "2 matched, 1 read, 1 failed" in page and url in page


def test_binary_books_and_github_rows_are_counted_drops(tmp_path, shared_data):
    books = tmp_path / "books"
    books.mkdir()
    (books / "pg84.txt").write_bytes((shared_data / "books" / "pg84.txt").read_bytes())
    (books / "pg99999.txt").write_bytes(random.Random(0).randbytes(200_000))
    gh = tmp_path / "github"
    gh.mkdir()
    good = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    rows = [
        {"repo_name": "a/b", "path": "src/ok.py", "content": good, "license": "mit"},
        {"repo_name": "a/b", "path": "src/blob.py", "content": "PK\x03\x04\x00\x00" + good, "license": "mit"},
    ]
    (gh / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    argv = ["--input", str(tmp_path), "--out", str(out), "--sources", "books,github", "--write-dropped",
            f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
    stats = run(argv).stats
    for source, n_in in (("books", 2), ("github", 2)):
        st = stats[source]
        assert st["funnel"][0]["stage"] == "read" and st["funnel"][0]["dropped"] == {"binary": 1}, st[
            "funnel"
        ][0]
        assert st["documents_in"] == n_in and st["files"]["conservation_ok"]
    with gzip.open(out / "dropped" / "github" / "binary-00000-of-00001.jsonl.gz", "rt") as f:
        (dropped,) = [json.loads(line) for line in f]
    assert dropped["metadata"]["path"] == "src/blob.py" and "NUL" in dropped["metadata"]["drop_detail"]


def _mistake(tmp_path: Path, kind: str) -> tuple[list[str], str]:
    root = _web_world(tmp_path)
    base = _c4_argv(root, tmp_path / "out")
    if kind == "misspelled_flag":
        return [*base, "--write-droped"], "unknown option --write-droped (did you mean --write-dropped?)"
    if kind == "toml_type":
        (tmp_path / "c.toml").write_text('[ccnet]\nlid_threshold = "0.5"\n')
        return [
            *base,
            "--config",
            str(tmp_path / "c.toml"),
        ], "[ccnet] lid_threshold: expected a number, got the string '0.5'"
    if kind == "missing_input":
        return [
            *base,
            "--cc-input",
            str(tmp_path / "nowhere"),
        ], f"no input files match *.warc.wet.gz under {tmp_path}/nowhere"
    if kind == "unknown_runner":
        return [*base, "--runner=SparkRuner"], "unknown runner 'SparkRuner'; valid: "
    if kind == "no_models":
        return ["--input", str(root), "--sources", "commoncrawl"], "is needed: pass --models DIR"
    if kind == "missing_badwords":
        return [
            *base,
            "--set",
            f"c4.badwords={tmp_path}/none.txt",
        ], "c4 bad-words list: [Errno 2] No such file"
    if kind == "bad_set":
        return [*base, "--set", "ccnet.min_length=many"], "--set [ccnet] min_length: expected an integer"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "misspelled_flag",
        "toml_type",
        "missing_input",
        "unknown_runner",
        "no_models",
        "missing_badwords",
        "bad_set",
    ],
)
def test_user_mistakes_are_one_line_before_the_run(tmp_path, capsys, kind):
    argv, expected = _mistake(tmp_path, kind)
    out = tmp_path / "out"
    (out / "docs" / "c4").mkdir(parents=True)
    (out / "docs" / "c4" / "all-00000-of-00001.jsonl.gz").write_bytes(b"previous")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    if kind == "missing_input":
        assert "--cc-input" in err
    if kind == "unknown_runner":
        assert "DataflowRunner" in err and "FlinkRunner" in err
    assert (
        out / "docs" / "c4" / "all-00000-of-00001.jsonl.gz"
    ).read_bytes() == b"previous"  # nothing deleted


def test_progress_on_the_local_runner_and_no_worker_warnings(tmp_path, capfd):
    """Two worker processes (the default runner): progress lines with documents, rate and files of
    total; Beam's "No semi_persistent_directory" worker warnings are not shown."""
    root, out = _web_world(tmp_path), tmp_path / "out"
    argv = ["--input", str(root), "--out", str(out), "--sources", "c4", "--set", "c4.language=all",
            "--set", 'c4.inputs=["wet"]', "--set", "run.progress_s=0.3", "--direct_num_workers=2"]  # fmt: skip
    assert main(argv) == 0
    err = capfd.readouterr().err
    assert "semi_persistent_directory" not in err and "No session file" not in err
    lines = [line for line in err.splitlines() if line.startswith("lamina corpus [")]
    assert lines, err[-2000:]
    assert "c4 " in lines[-1] and " docs (" in lines[-1] and "/s), files " in lines[-1] and "/2" in lines[-1]


def test_every_source_accounts_its_files(tmp_path, shared_data):
    """The real samples of the module sources: files matched = read, none failed, per source."""
    out = tmp_path / "out"
    argv = ["--input", str(shared_data), "--out", str(out), "--sources", "stackexchange,arxiv,books",
            f"--runner={FN_API_RUNNER}", *IN_PROCESS]  # fmt: skip
    for source, st in run(argv).stats.items():
        f = st["files"]
        assert f["matched"] == f["read"] > 0 and f["failed"] == 0 and f["conservation_ok"], (source, f)
