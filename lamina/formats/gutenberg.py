"""Project Gutenberg plain-text books -> the book text without Gutenberg's header and license footer.

LLaMA (and RedPajama) keep only the book: everything before the START marker (title block, "This
eBook is for the use of anyone...", release data) and everything from the END marker on (the full
Project Gutenberg License) is removed. The markers changed over the years; the variants handled:

- `*** START OF THE PROJECT GUTENBERG EBOOK <TITLE> ***` (2020s), `*** START OF THIS PROJECT
  GUTENBERG EBOOK ... ***` (2000s-2010s), with or without spaces inside the asterisks, `ETEXT` or
  `E-BOOK` for `EBOOK`, and indented (pg84's END marker is indented);
- the older "small print" header that ends with `*END*THE SMALL PRINT! FOR PUBLIC DOMAIN
  ETEXTS*Ver.04.29.93*END*` (or `*END THE SMALL PRINT! ...`): the book starts after it;
- end lines `End of the Project Gutenberg EBook of ...`, `End of Project Gutenberg's ...` (used
  alone by old files, and just before the `*** END` marker by newer ones: removed in both cases).

A book with no marker at all (a file already stripped, or not from Gutenberg) is KEPT WHOLE, with
`markers = "none"` in its metadata, and the pipeline counts it (statistics distribution
`boilerplate_lines` grouped by marker style): dropping it would lose a book because its wrapper is
missing, and guessing where a header ends would cut real text. A START without END (a truncated
download) keeps everything after START (`markers = "start_only"`); an END without START keeps
everything before it (`"end_only"`).

Bytes: UTF-8 (a BOM is removed) and, failing that, Windows-1252 (many copies in the wild were
re-saved so); the encoding used is in the metadata. CRLF becomes LF.
"""

from __future__ import annotations

import dataclasses
import re

_STAR = r"^\s*\*{2,}\s*"
_EBOOK = r"PROJECT\s+GUTENBERG(?:'S)?\s+(?:E-?BOOK|E-?TEXT|EBK)"
START_RE = re.compile(_STAR + r"START\s+OF\s+(?:THE|THIS)\s+" + _EBOOK, re.IGNORECASE)
END_RE = re.compile(_STAR + r"END\s+OF\s+(?:THE|THIS)\s+" + _EBOOK, re.IGNORECASE)
SMALL_PRINT_END_RE = re.compile(r"^\s*\*?\s*END\s*\*?\s*THE\s+SMALL\s+PRINT", re.IGNORECASE)
# "End of the Project Gutenberg EBook of X", "End of Project Gutenberg's X", "End of The Project
# Gutenberg Etext of X": the old end line (alone) or the line just before the *** END marker.
END_LINE_RE = re.compile(r"^\s*End\s+of\s+(?:the\s+)?Project\s+Gutenberg", re.IGNORECASE)
TITLE_RE = re.compile(r"^\s*Title:\s*(.+?)\s*$")
# How far (in non-blank lines) before the END marker an "End of the Project Gutenberg..." line is
# looked for.
END_LINE_LOOKBACK = 5

STYLES = ("start_end", "start_only", "end_only", "small_print", "none")


@dataclasses.dataclass(frozen=True)
class Stripped:
    """A book with its Gutenberg wrapper removed."""

    text: str  # the book text, LF line ends, no leading/trailing blank lines
    markers: str  # one of STYLES: which markers were found
    header_lines: int  # non-blank lines removed before the book
    footer_lines: int  # non-blank lines removed after the book
    title: str  # from the header's "Title:" line, "" when absent


def decode_book(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (BOM removed), else Windows-1252, else Latin-1 (never fails: every
    byte is a Latin-1 character, so a book is never lost to its encoding)."""
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _first(lines: list[str], pattern: re.Pattern[str], start: int = 0) -> int:
    for i in range(start, len(lines)):
        if pattern.search(lines[i]):
            return i
    return -1


def _nonblank(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip())


def strip_gutenberg(text: str) -> Stripped:
    """Remove the header and footer (see the module docstring for the rules)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title = ""
    start = _first(lines, START_RE)
    small_print = False
    if start < 0:
        start = _first(lines, SMALL_PRINT_END_RE)
        small_print = start >= 0
    for line in lines[: max(start, 0)]:
        m = TITLE_RE.match(line)
        if m:
            title = m.group(1)
            break
    body_from = start + 1 if start >= 0 else 0
    end = _first(lines, END_RE, body_from)
    if end < 0:
        end = _first(lines, END_LINE_RE, body_from)
    body_to = end if end >= 0 else len(lines)
    # The "End of the Project Gutenberg EBook of ..." line a few lines before the END marker.
    seen = 0
    for i in range(body_to - 1, body_from - 1, -1):
        if not lines[i].strip():
            continue
        if END_LINE_RE.search(lines[i]):
            body_to = i
            break
        seen += 1
        if seen >= END_LINE_LOOKBACK:
            break
    body = lines[body_from:body_to]
    lead = next((i for i, line in enumerate(body) if line.strip()), len(body))
    trail = next((i for i, line in enumerate(reversed(body)) if line.strip()), len(body))
    kept = body[lead : len(body) - trail] if lead < len(body) else []
    if small_print:
        markers = "small_print"
    elif start >= 0:
        markers = "start_end" if end >= 0 else "start_only"
    else:
        markers = "end_only" if end >= 0 else "none"
    return Stripped(
        text="\n".join(line.rstrip() for line in kept),
        markers=markers,
        header_lines=_nonblank(lines[: body_from + lead]),
        footer_lines=_nonblank(lines[body_to - trail :]),
        title=title,
    )
