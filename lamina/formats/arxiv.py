r"""arXiv source files: a gzipped tar of .tex (and other) files, or a single gzipped .tex — read in
memory, safely, into a `Paper`; then its main file with `\input` / `\include` inlined.

arXiv serves both kinds under one name, so the kind is found from the bytes (gzip magic, then the
tar `ustar` magic), not the file name; a plain `.tar` or `.tex` is read too. Nothing is written to
disk. Safety: a member whose name is absolute or climbs out (`..`) is skipped, as are links, devices
and directories; the compressed size, the decompressed size (a gzip bomb stops at the cap, unread
beyond it), the number of members and each .tex member's size are capped (`ArchiveLimits`). A paper
over a cap is a `PaperDrop` with reason `too_long`; a corrupt archive one with `malformed_record`; an
archive with no .tex file (a PDF-only submission) one with `no_tex` — each naming the file.

Main file: among the .tex files, the one with `\documentclass` (or LaTeX 2.09's `\documentstyle`) and
`\begin{document}`; then one with either; ties go to the larger file, then the smaller name. Inlining
resolves names like LaTeX does, from the archive root, with or without `.tex`; comments are removed
first (a commented-out `\input` stays out); a missing file (often a build product like `vc.tex`) is
left out; a file is never inlined inside itself (recursion guard).
"""

from __future__ import annotations

import dataclasses
import io
import posixpath
import re
import tarfile
import zlib

from lamina.filters.latex import strip_comments

SOURCE = "arxiv"
TEX_SUFFIXES = (".tex", ".ltx", ".latex")
_INPUT = re.compile(r"\\(input|include)\s*(?:\{([^{}]*)\}|\s([^\s{}\\%]+))")
_DOCCLASS = re.compile(r"\\document(?:class|style)\b")
_BEGIN_DOC = re.compile(r"\\begin\s*\{document\}")
MAX_INCLUDE_DEPTH = 16


@dataclasses.dataclass(frozen=True)
class ArchiveLimits:
    max_compressed_bytes: int = 64 << 20  # bytes of the file as stored (arXiv caps uploads at 50 MB)
    max_uncompressed_bytes: int = 256 << 20  # bytes after gunzip: a larger stream stops unread
    max_members: int = 5_000  # tar members
    max_tex_bytes: int = 16 << 20  # bytes of one .tex member


@dataclasses.dataclass(frozen=True)
class Paper:
    id: str  # the arXiv id (file name without .tar.gz / .gz / ...)
    file: str  # the input file's label
    files: dict[str, str]  # .tex path in the archive -> text
    main: str  # the main file's path
    skipped: tuple[str, ...] = ()  # unsafe or non-regular member names left out


@dataclasses.dataclass(frozen=True)
class PaperDrop:
    id: str
    file: str
    reason: str  # malformed_record | too_long | no_tex
    detail: str


def paper_id(label: str) -> str:
    name = label.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".tgz", ".gz", ".tar", *TEX_SUFFIXES):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _gunzip(data: bytes, cap: int) -> bytes:
    """Decompress all gzip members of `data`, at most `cap` bytes (OverflowError beyond)."""
    out = bytearray()
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = d.decompress(data, cap + 1 - len(out))
        out += chunk
        if len(out) > cap:
            raise OverflowError(f"more than {cap} bytes uncompressed")
        if d.unconsumed_tail:
            raise OverflowError(f"more than {cap} bytes uncompressed")
        if not d.eof:
            raise zlib.error("truncated gzip stream")
        data = d.unused_data.lstrip(b"\x00")
    return bytes(out)


def _decode(data: bytes) -> str:
    """TeX sources are UTF-8 or (older papers) Latin-1; Latin-1 decodes any bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _safe_name(name: str) -> str | None:
    """The member's normalized relative path, or None when it is absolute or leaves the archive."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return None
    norm = posixpath.normpath(name.replace("\\", "/"))
    if norm == ".." or norm.startswith("../") or norm == ".":
        return None
    return norm


def _is_tar(raw: bytes) -> bool:
    return len(raw) >= 262 and raw[257:262] == b"ustar"


def read_paper(data: bytes, label: str, limits: ArchiveLimits = ArchiveLimits()) -> Paper | PaperDrop:
    """One arXiv source file's bytes -> Paper, or a PaperDrop naming the file and what was wrong."""
    pid = paper_id(label)
    if len(data) > limits.max_compressed_bytes:
        return PaperDrop(
            pid, label, "too_long", f"{label}: {len(data)} bytes > {limits.max_compressed_bytes}"
        )
    raw = data
    if data[:2] == b"\x1f\x8b":
        try:
            raw = _gunzip(data, limits.max_uncompressed_bytes)
        except OverflowError as e:
            return PaperDrop(pid, label, "too_long", f"{label}: {e}")
        except (zlib.error, EOFError) as e:
            return PaperDrop(pid, label, "malformed_record", f"{label}: corrupt gzip: {e}")
    if _is_tar(raw):
        return _read_tar(raw, pid, label, limits)
    if b"\x00" in raw[:8192]:
        return PaperDrop(pid, label, "no_tex", f"{label}: neither a tar archive nor TeX text")
    if len(raw) > limits.max_tex_bytes:
        return PaperDrop(
            pid, label, "too_long", f"{label}: .tex of {len(raw)} bytes > {limits.max_tex_bytes}"
        )
    name = f"{pid}.tex"
    return Paper(pid, label, {name: _decode(raw)}, name)


def _read_tar(raw: bytes, pid: str, label: str, limits: ArchiveLimits) -> Paper | PaperDrop:
    files: dict[str, str] = {}
    skipped: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for k, member in enumerate(tar):
                if k >= limits.max_members:
                    return PaperDrop(
                        pid, label, "too_long", f"{label}: more than {limits.max_members} members"
                    )
                name = _safe_name(member.name)
                if not member.isreg() or name is None:
                    if not member.isdir():
                        skipped.append(member.name)
                    continue
                if not name.lower().endswith(TEX_SUFFIXES):
                    continue
                if member.size > limits.max_tex_bytes:
                    return PaperDrop(
                        pid,
                        label,
                        "too_long",
                        f"{label}: {member.name} {member.size} bytes > {limits.max_tex_bytes}",
                    )
                f = tar.extractfile(member)
                files[name] = _decode(f.read()) if f else ""
    except (tarfile.TarError, EOFError, OSError) as e:
        return PaperDrop(pid, label, "malformed_record", f"{label}: corrupt tar archive: {e}")
    if not files:
        return PaperDrop(pid, label, "no_tex", f"{label}: no .tex file in the archive")
    return Paper(pid, label, files, main_file(files), tuple(skipped))


def main_file(files: dict[str, str]) -> str:
    """The main .tex file (module docstring)."""

    def score(name: str):
        t = strip_comments(files[name])
        return (bool(_DOCCLASS.search(t)) + bool(_BEGIN_DOC.search(t)), len(t), [-ord(c) for c in name])

    return max(files, key=score)


def _resolve(name: str, files: dict[str, str], here: str) -> str | None:
    name = name.strip()
    for base in ("", posixpath.dirname(here)):
        for cand in (name, f"{name}.tex"):
            path = posixpath.normpath(posixpath.join(base, cand))
            if path in files:
                return path
    return None


def merged_main(paper: Paper) -> tuple[str, set[str]]:
    """(the main file, comments removed, with its `\\input`/`\\include` files inlined; the files used)."""
    used: set[str] = set()

    def inline(path: str, stack: tuple[str, ...]) -> str:
        used.add(path)
        text = strip_comments(paper.files[path])

        def repl(m: re.Match) -> str:
            target = _resolve(m.group(2) if m.group(2) is not None else m.group(3), paper.files, path)
            if target is None or target in stack or len(stack) >= MAX_INCLUDE_DEPTH:
                return ""
            return "\n" + inline(target, (*stack, target)) + "\n"

        return _INPUT.sub(repl, text)

    return inline(paper.main, (paper.main,)), used
