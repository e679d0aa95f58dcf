"""arXiv sources: `<id>.tar.gz` tarballs of several .tex files and one single gzipped `<id>.gz` .tex.

They hold what the cleaner must handle: a preamble before the first sectioning command, `\\input`
of another file, `\\newcommand`/`\\renewcommand` with and without arguments, `\\def`, comment lines and
inline `%` comments beside escaped `\\%`, a bibliography (`\\bibliography{}` or `thebibliography`) with
an appendix after it. One paper has no sectioning command at all: `no_section`.
Tar members have fixed mtime/uid/gid/names and gzip mtime 0, so archives are byte-identical per seed.
"""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from pathlib import Path

from lamina.sample.text import TOPICS, TextGen
from lamina.sample.truth import Truth

MAIN = r"""%% Generated sample paper {pid}
\documentclass[11pt]{{article}}
\usepackage{{amsmath,amssymb}}
\usepackage{{graphicx}}
% macros used in the text
\newcommand{{\R}}{{\mathbb{{R}}}}
\newcommand{{\norm}}[1]{{\left\lVert #1 \right\rVert}}
\newcommand{{\pair}}[2]{{\langle #1, #2 \rangle}}
\def\eps{{\varepsilon}}
\renewcommand{{\vec}}[1]{{\mathbf{{#1}}}}
\title{{{title}}}
\author{{{author}}}
\begin{{document}}
\maketitle
\begin{{abstract}}
{abstract}
\end{{abstract}}

\input{{sections/intro}}

\section{{Method}}
\label{{sec:method}}
{par1} % TODO: shorten this paragraph
% This whole line is a comment and must disappear.
We keep $\norm{{\vec{{x}}}} \le \eps$ for every $\vec{{x}} \in \R^n$, and about 95\% of the values satisfy
$\pair{{\vec{{x}}}}{{\vec{{y}}}} > 0$. % inline remark after an escaped percent sign

\subsection*{{Results}}
{par2}

\bibliographystyle{{plain}}
\bibliography{{refs}}

\appendix
\section{{Extra material}}
This appendix comes after the bibliography and is removed with it.
\end{{document}}
"""
INTRO = r"""\section{{Introduction}}
% intro written by the second author
{par} See Section~\ref{{sec:method}} and \cite{{ref1}}.
"""
BIB = """@article{{ref1,
  title = {{{title}}},
  author = {{{author}}},
  year = {{{year}}},
}}
"""
SINGLE = r"""\documentclass{{amsart}}
\newcommand{{\field}}{{\mathbb{{F}}}}
\def\half{{\frac{{1}}{{2}}}}
\begin{{document}}
\title{{{title}}}
\maketitle
\section[Short]{{{head}}}
{par1}
% a comment line
Over $\field_2$ the bound is $\half$, i.e. 50\% of the cases. % why: see above
\subsubsection{{Details}}
{par2}
\begin{{thebibliography}}{{9}}
\bibitem{{a}} {author}, \emph{{{title}}}, {year}.
\end{{thebibliography}}
\end{{document}}
"""
NO_SECTION = r"""\documentclass{{article}}
\begin{{document}}
\title{{{title}}}
\maketitle
{par1}

{par2}
\end{{document}}
"""


def _tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 1_640_995_200, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    return _gzip(raw.getvalue())


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    return buf.getvalue()


def write(out: Path, seed: int, truth: Truth) -> None:
    out.mkdir(parents=True, exist_ok=True)
    r = random.Random(f"{seed}:arxiv")
    gen = TextGen(r)

    def par() -> str:
        return gen.en_paragraph(gen.entity(r.choice(TOPICS)), (3, 5))

    def fields(pid: str) -> dict:
        ent = gen.entity(r.choice(TOPICS))
        return {"pid": pid, "title": f"On the {r.choice(['structure', 'history', 'measurement'])} of {ent.title}",
                "author": gen.person(), "abstract": par(), "par1": par(), "par2": par(), "year": r.randint(1990, 2021),
                "head": f"The case of {ent.name}"}  # fmt: skip

    for k in range(3):
        pid = f"2201.{1000 + k * 17:05d}"
        f = fields(pid)
        files = {
            "main.tex": MAIN.format(**f).encode(),
            "sections/intro.tex": INTRO.format(par=par()).encode(),
            "refs.bib": BIB.format(**f).encode(),
            "figures/plot.pdf": b"%PDF-1.4\n% binary figure placeholder\n%%EOF\n",
        }
        (out / f"{pid}.tar.gz").write_bytes(_tar_gz(files))
        truth.add("arxiv", pid, "kept", None, "paper")
    pid = "2201.01100"
    (out / f"{pid}.gz").write_bytes(_gzip(SINGLE.format(**fields(pid)).encode()))
    truth.add("arxiv", pid, "kept", None, "single_tex")
    pid = "2201.01200"
    (out / f"{pid}.tar.gz").write_bytes(_tar_gz({"note.tex": NO_SECTION.format(**fields(pid)).encode()}))
    truth.add("arxiv", pid, "dropped", "no_section", "no_section")
