"""arXiv: the LaTeX cleaner as table tests, safe in-memory reading of source archives, and the Beam
pipeline on the sample world (ground truth, conservation, re-run bytes) and on 7 real papers."""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import time
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline

from lamina.filters import latex
from lamina.formats import arxiv as fmt
from lamina.pipelines import arxiv as ax
from lamina.pipelines.corpus import build_source

FN_API_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
DOC = (
    "\\documentclass{article}\n{pre}\\begin{document}\n\\maketitle\nAbstract text.\n{body}\n\\end{document}\n"
)


def clean(body: str, pre: str = "") -> latex.Cleaned:
    return latex.clean_paper(DOC.replace("{pre}", pre).replace("{body}", body))


@pytest.mark.parametrize(
    ("pre", "body", "expected"),
    [
        # escaped percent kept, inline comment cut, comment lines (even indented) removed
        ("", "\\section{A}\n95\\% of x. % remark\n  % whole line\nEnd.", "\\section{A}\n95\\% of x.\nEnd.\n"),
        ("", "\\section{A}\na \\\\% comment after a line break\n", "\\section{A}\na \\\\\n"),
        # nested braces in arguments
        ("\\newcommand{\\pair}[2]{\\langle #1, #2 \\rangle}",
         "\\section{A}\n$\\pair{\\frac{a}{b}}{\\{c\\}}$", "\\section{A}\n$\\langle \\frac{a}{b}, \\{c\\} \\rangle$\n"),
        # \def with parameters, braced and single-token arguments
        ("\\def\\foo#1#2{[#1|#2]}", "\\section{A}\n\\foo{x y}z and \\foo \\alpha{b}",
         "\\section{A}\n[x y|z] and [\\alpha|b]\n"),
        # argument-less \def and \newcommand without braces around the name; a space follows a word
        ("\\def\\eps{\\varepsilon}\\newcommand\\R{\\mathbb{R}}", "\\section{A}\n$\\eps\\in\\R^n$, \\R.",
         "\\section{A}\n$\\varepsilon\\in\\mathbb{R}^n$, \\mathbb{R}.\n"),
        # optional first argument with a default
        ("\\newcommand{\\opt}[2][d]{(#1:#2)}", "\\section{A}\n\\opt{b} \\opt[c]{b}", "\\section{A}\n(d:b) (c:b)\n"),
        # macros using macros, and the argument holding a macro; renewcommand of a known name
        ("\\newcommand{\\R}{\\mathbb{R}}\\newcommand{\\norm}[1]{\\lVert #1\\rVert}\\renewcommand{\\vec}[1]{\\mathbf{#1}}",
         "\\section{A}\n$\\norm{\\vec{x}}\\in\\R$", "\\section{A}\n$\\lVert \\mathbf{x}\\rVert\\in\\mathbb{R}$\n"),
        # a body ending in a control word does not fuse with the next letter
        ("\\newcommand{\\op}[1]{#1\\cdot}", "\\section{A}\n\\op{a}b", "\\section{A}\na\\cdot b\n"),
        # \\ (a line break) followed by a macro's name is not that macro
        ("\\newcommand{\\R}{X}", "\\section{A}\na\\\\R", "\\section{A}\na\\\\R\n"),
        # starred sections and sections with a short title start the text; \sectionmark does not
        ("", "\\sectionmark{x}\nlost\n\\section*{Intro}\nkept", "\\section*{Intro}\nkept\n"),
        ("", "lost\n\\subsection [Short]{Long title}\nkept", "\\subsection [Short]{Long title}\nkept\n"),
        ("", "lost\n\\paragraph{P.} kept", "\\paragraph{P.} kept\n"),
        # the bibliography and what follows it are removed, whichever kind
        ("", "\\section{A}\ntext\n\\bibliographystyle{plain}\n\\bibliography{refs}\n\\appendix\n\\section{B}\ngone",
         "\\section{A}\ntext\n"),
        ("", "\\section{A}\ntext\n\\begin{thebibliography}{9}\n\\bibitem{a} A.\n\\end{thebibliography}",
         "\\section{A}\ntext\n"),
        # a class hack redefining \section cannot erase the structure; definitions in the body go
        ("\\renewcommand\\section{\\@ifstar{\\a}{\\b}}", "\\section{A}\n\\newcommand{\\x}{y}\\x.", "\\section{A}\ny.\n"),
        # recursion: a macro in its own expansion is left as written
        ("\\newcommand{\\loopy}{\\loopy!}", "\\section{A}\n\\loopy", "\\section{A}\n\\loopy!\n"),
        ("\\newcommand{\\ping}{\\pong}\\newcommand{\\pong}{\\ping}", "\\section{A}\n\\ping", "\\section{A}\n\\ping\n"),
        # a missing argument leaves the use as written
        ("\\newcommand{\\two}[2]{#1#2}", "\\section{A}\n{\\two{a}}", "\\section{A}\n{\\two{a}}\n"),
        # comment environments removed
        ("", "\\section{A}\n\\begin{comment}\nhidden\n\\end{comment}\nshown", "\\section{A}\n\nshown\n"),
    ],
)  # fmt: skip
def test_clean_paper_table(pre, body, expected):
    c = clean(body, pre)
    assert c.reason is None
    assert c.text == expected


def test_no_section_is_dropped():
    c = clean("Just a note with no sections.\n\\section without braces is text")
    assert c.reason == latex.NO_SECTION and c.text == ""


def test_macro_bomb_terminates_bounded():
    pre = "".join(f"\\newcommand{{\\m{chr(97 + k)}}}{{\\m{chr(98 + k)}\\m{chr(98 + k)}}}" for k in range(25))
    t = time.perf_counter()
    c = clean("\\section{A}\n\\ma", pre)
    assert time.perf_counter() - t < 5
    assert len(c.text) < latex.MAX_GROWTH * 2000 + 70_000


def test_definitions_from_other_files_count():
    c = latex.clean_paper(
        "\\begin{document}\\section{A}\n\\K{x}\n\\end{document}", ["\\newcommand{\\K}[1]{<#1>}"]
    )
    assert c.text == "\\section{A}\n<x>\n"


def _tar(files: dict[str, bytes], extra=None) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or ():
            tar.addfile(info)
    return gzip.compress(raw.getvalue(), mtime=0)


def test_archive_is_read_safely_main_file_chosen_and_inputs_inlined():
    link = tarfile.TarInfo("link.tex")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    data = _tar(
        {
            "../evil.tex": b"\\documentclass{x}\\begin{document}EVIL\\end{document}",
            "/abs.tex": b"ABS",
            "notes.tex": b"\\section{Notes} a long file without a documentclass " * 50,
            "paper.tex": b"\\documentclass{article}\n\\begin{document}\n\\input{sec/one}\n%\\input{sec/two}\n"
            b"\\include{missing}\\input{paper}\n\\end{document}\n",
            "sec/one.tex": b"\\section{One}\nfrom one \\input sec/three\n",
            "sec/three.tex": b"and three\n",
            "sec/two.tex": b"TWO",
            "fig.pdf": b"%PDF",
        },
        [link],
    )
    paper = fmt.read_paper(data, "2101.00001.tar.gz")
    assert isinstance(paper, fmt.Paper) and paper.id == "2101.00001"
    assert sorted(paper.files) == ["notes.tex", "paper.tex", "sec/one.tex", "sec/three.tex", "sec/two.tex"]
    assert set(paper.skipped) == {"../evil.tex", "/abs.tex", "link.tex"}
    assert paper.main == "paper.tex"
    merged, used = fmt.merged_main(paper)
    assert "from one" in merged and "and three" in merged and "TWO" not in merged
    assert used == {"paper.tex", "sec/one.tex", "sec/three.tex"}  # itself not re-inlined, missing skipped


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        (b"\x1f\x8b\x08\x00garbage", "malformed_record", "corrupt gzip"),
        (gzip.compress(b"x" * 600)[:-12], "malformed_record", "corrupt gzip"),  # truncated
        (gzip.compress(b"\0" * 5000), "no_tex", "neither a tar archive nor TeX"),
        (_tar({"fig.png": b"\x89PNG"}), "no_tex", "no .tex file"),
        (gzip.compress(b"%" * 3_000_000), "too_long", "uncompressed"),  # a gzip bomb stops at the cap
    ],
)
def test_bad_archives_are_named_drops(data, reason, detail):
    limits = fmt.ArchiveLimits(max_uncompressed_bytes=1_000_000)
    d = fmt.read_paper(data, "sub/2101.00002.gz", limits)
    assert isinstance(d, fmt.PaperDrop) and d.reason == reason and d.id == "2101.00002"
    assert d.detail.startswith("sub/2101.00002.gz") and detail in d.detail


def test_corrupt_tar_is_named_drop():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("a.tex")
        info.size = 5000
        tar.addfile(info, io.BytesIO(b"a" * 5000))
    d = fmt.read_paper(gzip.compress(raw.getvalue()[:1500]), "2101.00003.tar.gz")
    assert isinstance(d, fmt.PaperDrop) and d.reason == "malformed_record" and "corrupt tar" in d.detail


def _run(spec: Path, out: Path) -> dict:
    p = BeamPipeline(runner=FN_API_RUNNER, options=PipelineOptions([]))
    build_source(p, "arxiv", str(spec), str(out), ax.ArxivPipelineConfig(), write_dropped=True)
    p.run().wait_until_finish()
    return json.loads((out / "stats" / "arxiv.json").read_text())


def _docs(out: Path, sub: str) -> dict[str, dict]:
    got = {}
    for f in sorted((out / sub / "arxiv").glob("*.jsonl.gz")):
        for line in gzip.open(f, "rt", encoding="utf-8"):
            d = json.loads(line)
            got[d["metadata"]["arxiv_id"]] = d
    return got


def _files(out: Path) -> dict[str, bytes]:
    return {str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*")) if f.is_file()}


def test_pipeline_meets_sample_ground_truth_and_reruns_byte_identical(sample_world, tmp_path):
    st = _run(sample_world / "arxiv", tmp_path / "a")
    truth = {
        t["key"]: (t["expected"], t["reason"])
        for t in map(json.loads, (sample_world / "ground_truth.jsonl").read_text().splitlines())
        if t["pipeline"] == "arxiv"
    }
    kept, dropped = _docs(tmp_path / "a", "docs"), _docs(tmp_path / "a", "dropped")
    got = {k: ("kept", None) for k in kept} | {
        k: ("dropped", d["metadata"]["drop_reason"]) for k, d in dropped.items()
    }
    assert got == truth
    assert st["conservation_ok"] and st["documents_in"] == len(truth) == 5
    assert st["documents_in"] == st["documents_kept"] + sum(st["dropped"].values())
    assert [s["stage"] for s in st["funnel"]] == ["read", "clean"]
    for pid, d in kept.items():
        text = d["text"]
        assert re.match(r"\\(sub)*section\*?\s*[\[{]", text), pid
        assert "\\bibliography" not in text and "thebibliography" not in text and "appendix" not in text
        assert latex._unescaped_percent(text) == -1 and "\\%" in text  # comments gone, \% kept
        for name in ("\\newcommand", "\\def", "\\norm", "\\pair", "\\eps", "\\R", "\\field", "\\half"):
            assert not re.search(re.escape(name) + r"(?![A-Za-z])", text), (pid, name)
    multi = kept["2201.01000"]["text"]
    assert multi.startswith("\\section{Introduction}")  # from the \input file
    assert "\\left\\lVert \\mathbf{x} \\right\\rVert \\le \\varepsilon" in multi
    assert "\\langle \\mathbf{x}, \\mathbf{y} \\rangle" in multi
    _run(sample_world / "arxiv", tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


# A macro each real paper defines and uses (with arguments where the paper has one): name, expansion.
REAL_MACROS = {
    "2006.02250": ("\\sens", "\\tilde{"),  # \newcommand{\sens}[1]{\tilde{#1}}
    "1708.00137": ("\\ket", "\\right\\rangle"),  # \newcommand{\ket}[1]{\left| #1 \right\rangle}
    "1606.03757": ("\\dnest", "\\pkg{DNest4}"),
    "1703.09710": ("\\celerite", "\\textsf{celerite}"),  # \project{celerite}, itself a macro
    "1907.10121": ("\\code", "\\texttt{"),  # \newcommand{\code}[1]{\texttt{#1}}
}


def test_real_arxiv_papers(shared_data, tmp_path):
    src = tmp_path / "arxiv"
    src.mkdir()
    folders = sorted(p for p in (shared_data / "arxiv").iterdir() if p.is_dir())
    assert len(folders) == 7
    for folder in folders:  # packed as arXiv ships them: one gzipped tar per paper
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    tar.add(f, arcname=str(f.relative_to(folder)))
        (src / f"{folder.name.split('_')[0]}.tar.gz").write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    st = _run(src, tmp_path / "out")
    assert st["conservation_ok"] and st["documents_in"] == 7 and st["documents_kept"] == 7, st["dropped"]
    kept = _docs(tmp_path / "out", "docs")
    for pid, d in kept.items():
        text, folder = d["text"], next(f for f in folders if f.name.startswith(pid))
        assert re.match(r"\\(part|chapter|section|subsection|subsubsection|paragraph)\*?\s*[\[{]", text), pid
        for gone in ("\\documentclass", "\\begin{document}", "\\usepackage", "\\end{document}", "\\bibitem",
                     "\\bibliography", "thebibliography", "\\newcommand", "\\renewcommand"):  # fmt: skip
            assert gone not in text, (pid, gone)
        assert all(latex._unescaped_percent(line) < 0 for line in text.split("\n")), pid
        # what follows the bibliography in the main file (methods, appendices) is gone too
        main = latex.strip_comments(
            (folder / d["metadata"]["main"]).read_text(encoding="utf-8", errors="replace")
        )
        bib = re.search(r"\\bibliography\{|\\begin\{thebibliography\}", main)
        before = main[: bib.start()]
        after = [ln.strip() for ln in main[bib.end() :].split("\n") if len(ln.strip()) > 40]
        assert not [ln for ln in after if ln not in before and ln in text], pid
        # every user macro is expanded: no defined name is left in the text
        macros = {}
        for f in sorted(folder.rglob("*.tex")):
            macros.update(latex.extract_definitions(latex.strip_comments(f.read_text(errors="replace")))[1])
        left = {m for m in re.findall(r"\\([A-Za-z]+)", text) if m in latex.user_macros(macros)}
        assert not left, (pid, sorted(left)[:10])
        if pid in REAL_MACROS:
            name, expansion = REAL_MACROS[pid]
            assert name[1:] in macros and expansion in text, pid
            assert not re.search(re.escape(name) + r"(?![A-Za-z])", text), pid
            assert d["metadata"]["macro_expansions"] > 0
    # scipy's paper is spread over \input files: their text is inlined
    assert "cKDTree" in kept["1907.10121"]["text"]
