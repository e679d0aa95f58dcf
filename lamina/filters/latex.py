r"""Cleaning an arXiv paper's LaTeX (docs/sources.md, arXiv), pure functions over text.

`clean_paper(merged, other_sources)` applies, in order:
1. comments: a line whose first non-blank character is an unescaped `%` goes, with its newline; an
   inline `%` comment goes to the end of its line; `\%` (an escaped percent) stays. `comment`
   environments go too.
2. macro definitions: `\newcommand`, `\renewcommand`, `\providecommand`, `\DeclareRobustCommand`
   (starred or not, name braced or not, `[n]` arguments and an optional `[default]` first argument)
   and `\def` / `\gdef` / `\edef` / `\xdef` with undelimited parameters `#1..#9` are collected from
   the paper's text and from its other .tex files, and removed from the text.
3. everything before the first sectioning command (`\part`, `\chapter`, `\section`, `\subsection`,
   `\subsubsection`, `\paragraph`, starred or with an optional title) is removed; none: `no_section`.
4. the bibliography and everything after it (`\bibliography{`, `\begin{thebibliography}`,
   `\printbibliography`; else `\end{document}`) is removed.
5. user macros are expanded inline, arguments included (RedPajama expands only argument-less ones):
   braced, single-token and optional arguments, args expanded first, then the body; a macro inside its
   own expansion is left as written (recursion guard), as is anything beyond `MAX_DEPTH` levels or
   once the text has grown past `MAX_GROWTH` times its size.
Never expanded: macros whose name holds `@` (LaTeX internals) and the commands the cleaner itself
relies on (sectioning, bibliography, `\begin`/`\end`, `\input`/`\include`), so a class hack like
`\renewcommand\section{...}` cannot erase the paper's structure. Known limits: `%` inside `\verb` or
verbatim environments is taken as a comment; `\def` with delimited parameters (`\def\a#1.{...}`) is
removed but not expanded; a macro body that ends in a macro taking its arguments from the text after
it is expanded only as far as the body reaches.
"""

from __future__ import annotations

import dataclasses
import re

NO_SECTION = "no_section"
SECTIONING = ("part", "chapter", "section", "subsection", "subsubsection", "paragraph")
PROTECTED = frozenset(
    (*SECTIONING, "subparagraph", "begin", "end", "bibliography", "bibliographystyle", "printbibliography",
     "input", "include", "newcommand", "renewcommand", "providecommand", "def", "gdef", "edef", "xdef")
)  # fmt: skip
MAX_DEPTH = 32  # nested expansions before the rest is left as written
MAX_GROWTH = 20  # the expanded text may be at most this many times (+ 64 KiB) the input's size

_SECTION = re.compile(r"\\(?:" + "|".join(SECTIONING) + r")\*?\s*[\[{]")
_BIBLIOGRAPHY = re.compile(r"\\bibliography\s*\{|\\begin\s*\{thebibliography\}|\\printbibliography\b")
_END_DOCUMENT = re.compile(r"\\end\s*\{document\}")
_BEGIN_DOCUMENT = re.compile(r"\\begin\s*\{document\}")
_BIBSTYLE = re.compile(r"\\bibliographystyle\s*\{[^{}]*\}")
_COMMENT_ENV = re.compile(r"\\begin\s*\{comment\}.*?\\end\s*\{comment\}", re.S)
_NEWCOMMAND = re.compile(r"\\(newcommand|renewcommand|providecommand|DeclareRobustCommand)\b\*?")
_DEF = re.compile(r"(?:\\(?:long|global|protected|outer)\s*)*\\([gex]?def)(?![A-Za-z])")
_CONTROL_WORD = re.compile(r"\\([A-Za-z]+)")
_BLANKS = re.compile(r"\n{3,}")
_ENDS_IN_WORD = re.compile(r"\\[A-Za-z]+$")


@dataclasses.dataclass(frozen=True)
class Macro:
    nargs: int  # number of arguments (0..9)
    default: str | None  # the optional first argument's default (newcommand's [default]); None: none
    body: str  # replacement text with #1..#9
    supported: bool = True  # False: a \def with delimited parameters (removed, not expanded)


@dataclasses.dataclass(frozen=True)
class Cleaned:
    text: str  # the cleaned paper ("" when dropped)
    reason: str | None  # None: kept; "no_section"
    macros: int = 0  # user macros defined
    expansions: int = 0  # macro uses expanded


# ---------------------------------------------------------------- comments


def _unescaped_percent(line: str) -> int:
    """Index of the first `%` not escaped by an odd run of backslashes, or -1."""
    i = line.find("%")
    while i >= 0:
        j = i
        while j > 0 and line[j - 1] == "\\":
            j -= 1
        if (i - j) % 2 == 0:
            return i
        i = line.find("%", i + 1)
    return -1


def strip_comments(text: str) -> str:
    """Comment lines removed, inline comments cut, `\\%` kept, `comment` environments removed."""
    out = []
    for line in text.split("\n"):
        i = _unescaped_percent(line)
        if i < 0:
            out.append(line)
        elif line[:i].strip():
            out.append(line[:i].rstrip())
        # else: a comment line, dropped with its newline
    return _COMMENT_ENV.sub("", "\n".join(out))


# ---------------------------------------------------------------- reading TeX groups


def read_group(text: str, i: int, open_: str = "{", close: str = "}") -> tuple[str, int] | None:
    """`text[i]` is `open_`: (content, index after the matching `close`), braces balanced and
    backslash escapes skipped; None when it never closes."""
    depth, j, n = 0, i, len(text)
    brace = 0  # inside [...], braces still nest (a default like [{]}])
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if open_ != "{":
            if c == "{":
                brace += 1
            elif c == "}":
                brace -= 1
        if brace == 0 or open_ == "{":
            if c == open_:
                depth += 1
            elif c == close:
                depth -= 1
                if depth == 0:
                    return text[i + 1 : j], j + 1
        j += 1
    return None


def _skip_space(text: str, i: int, newlines: bool = True) -> int:
    """Skip spaces and tabs (and single newlines: TeX's argument scanning stops at a blank line)."""
    n = len(text)
    while i < n and text[i] in " \t\n\r":
        if text[i] == "\n" and (not newlines or text[i + 1 : i + 2] == "\n"):
            break
        i += 1
    return i


def _read_control_sequence(text: str, i: int) -> tuple[str, int] | None:
    """`text[i]` is a backslash: (the control sequence, index after it)."""
    m = _CONTROL_WORD.match(text, i)
    if m:
        return m.group(0), m.end()
    if i + 1 < len(text):
        return text[i : i + 2], i + 2
    return None


def read_argument(text: str, i: int) -> tuple[str, int] | None:
    """One undelimited TeX argument starting at or after `i`: a braced group's content, a control
    sequence, or one character; None at a closing brace, a blank line or the end of the text."""
    i = _skip_space(text, i)
    if i >= len(text) or text[i] in "}\n":
        return None
    if text[i] == "{":
        return read_group(text, i)
    if text[i] == "\\":
        return _read_control_sequence(text, i)
    return text[i], i + 1


# ---------------------------------------------------------------- definitions


def _parse_newcommand(text: str, m: re.Match) -> tuple[str, Macro, int] | None:
    i = _skip_space(text, m.end())
    if i < len(text) and text[i] == "{":
        g = read_group(text, i)
        if g is None:
            return None
        name, i = g[0].strip(), g[1]
    elif i < len(text) and text[i] == "\\":
        cs = _read_control_sequence(text, i)
        if cs is None:
            return None
        name, i = cs
    else:
        return None
    if not re.fullmatch(r"\\[A-Za-z@]+", name):
        return None
    nargs, default = 0, None
    i = _skip_space(text, i)
    if text.startswith("[", i):
        g = read_group(text, i, "[", "]")
        if g is None or not g[0].strip().isdigit():
            return None
        nargs, i = int(g[0].strip()), g[1]
        i = _skip_space(text, i)
        if text.startswith("[", i):
            g = read_group(text, i, "[", "]")
            if g is None:
                return None
            default, i = g
            i = _skip_space(text, i)
    if not text.startswith("{", i) or not 0 <= nargs <= 9:
        return None
    g = read_group(text, i)
    if g is None:
        return None
    body, end = g
    return name[1:], Macro(nargs, default, body), end


def _parse_def(text: str, m: re.Match) -> tuple[str, Macro, int] | None:
    i = _skip_space(text, m.end())
    cs = _read_control_sequence(text, i) if text.startswith("\\", i) else None
    if cs is None:
        return None
    name, i = cs
    brace = text.find("{", i)
    if brace < 0:
        return None
    params = text[i:brace]
    if len(params) > 40 or "\n\n" in params:
        return None  # not a parameter text: leave it as written
    g = read_group(text, brace)
    if g is None:
        return None
    body, end = g
    undelimited = re.fullmatch(r"(?:#[1-9])*", params.strip())
    nums = [int(d) for d in re.findall(r"#([1-9])", params)]
    supported = bool(undelimited) and nums == list(range(1, len(nums) + 1))
    return name[1:], Macro(len(nums), None, body, supported), end


def extract_definitions(text: str) -> tuple[str, dict[str, Macro]]:
    """(the text without its macro definitions, {name: Macro}) — later definitions win, except
    `\\providecommand`, which never overrides."""
    macros: dict[str, Macro] = {}
    out, pos = [], 0
    pattern = re.compile(f"{_NEWCOMMAND.pattern}|{_DEF.pattern}")
    i = 0
    while True:
        m = pattern.search(text, i)
        if m is None:
            break
        if m.group(1):
            parsed = _parse_newcommand(text, m)
        else:
            parsed = _parse_def(text, m)
        if parsed is None:
            i = m.end()
            continue
        name, macro, end = parsed
        if m.group(1) != "providecommand" or name not in macros:
            macros[name] = macro
        out.append(text[pos : m.start()])
        pos = i = end
    out.append(text[pos:])
    return "".join(out), macros


def user_macros(macros: dict[str, Macro]) -> dict[str, Macro]:
    """The definitions that are expanded: supported, not internal (`@`), not a protected command."""
    return {k: v for k, v in macros.items() if v.supported and "@" not in k and k not in PROTECTED}


# ---------------------------------------------------------------- expansion


class _Expander:
    def __init__(self, macros: dict[str, Macro], budget: int):
        self.macros = macros
        self.budget = budget  # characters the expansion may still add
        self.count = 0

    def expand(self, text: str, stack: tuple[str, ...] = ()) -> str:
        if len(stack) >= MAX_DEPTH:
            return text
        out, pos, i, n = [], 0, 0, len(text)
        while True:
            i = text.find("\\", i)
            if i < 0 or i + 1 >= n:
                break
            m = _CONTROL_WORD.match(text, i)
            if m is None:  # a control symbol (\\, \%, \{ ...): skip both characters
                i += 2
                continue
            name = m.group(1)
            macro = self.macros.get(name)
            if macro is None or name in stack or self.budget <= 0:
                i = m.end()
                continue
            call = self._arguments(text, m.end(), macro)
            if call is None:  # arguments missing: leave the use as written
                i = m.end()
                continue
            args, end = call
            args = [self.expand(a, stack) for a in args]
            body = _substitute(macro.body, args)
            expanded = self.expand(body, (*stack, name))
            self.budget -= max(0, len(expanded) - (end - i))
            self.count += 1
            out.append(text[pos:i])
            if end < n and text[end].isalpha() and _ENDS_IN_WORD.search(expanded):
                expanded += " "  # `\\foo{a}b` with a body ending in `\\bar`: not `\\barb`
            out.append(expanded)
            pos = i = end
        out.append(text[pos:])
        return "".join(out)

    @staticmethod
    def _arguments(text: str, i: int, macro: Macro) -> tuple[list[str], int] | None:
        args: list[str] = []
        k = 0
        if macro.default is not None and macro.nargs >= 1:
            j = _skip_space(text, i)
            if text.startswith("[", j):
                g = read_group(text, j, "[", "]")
                if g is None:
                    return None
                args.append(g[0])
                i = g[1]
            else:
                args.append(macro.default)
            k = 1
        for _ in range(k, macro.nargs):
            a = read_argument(text, i)
            if a is None:
                return None
            args.append(a[0])
            i = a[1]
        return args, i


def _substitute(body: str, args: list[str]) -> str:
    def repl(m: re.Match) -> str:
        if m.group(0) == "##":
            return "#"
        k = int(m.group(1)) - 1
        return args[k] if k < len(args) else m.group(0)

    return re.sub(r"##|#([1-9])", repl, body)


def expand_macros(text: str, macros: dict[str, Macro]) -> tuple[str, int]:
    """(text with every use of `macros` expanded, number of expansions)."""
    if not macros:
        return text, 0
    ex = _Expander(macros, budget=MAX_GROWTH * len(text) + 65_536)
    return ex.expand(text), ex.count


# ---------------------------------------------------------------- structure


def cut_preamble(text: str) -> str | None:
    """The text from its first sectioning command on (searched after `\\begin{document}` when there
    is one), or None when it has none."""
    begin = _BEGIN_DOCUMENT.search(text)
    m = _SECTION.search(text, begin.end() if begin else 0)
    return text[m.start() :] if m else None


def cut_bibliography(text: str) -> str:
    """The text before its bibliography (or `\\end{document}`), stray `\\bibliographystyle`s removed."""
    m = _BIBLIOGRAPHY.search(text) or _END_DOCUMENT.search(text)
    if m:
        text = text[: m.start()]
    return _BIBSTYLE.sub("", text)


def clean_paper(merged: str, other_sources: list[str] = ()) -> Cleaned:
    """Steps 1-5 of the module docstring on a paper whose main file has its inputs inlined;
    `other_sources`: the paper's .tex files not included by it (their macro definitions count)."""
    macros: dict[str, Macro] = {}
    for src in other_sources:
        macros.update(extract_definitions(strip_comments(src))[1])
    text, own = extract_definitions(strip_comments(merged))
    macros.update(own)
    body = cut_preamble(text)
    if body is None:
        return Cleaned("", NO_SECTION, len(macros))
    body = cut_bibliography(body)
    expandable = user_macros(macros)
    body, n = expand_macros(body, expandable)
    body = _BLANKS.sub("\n\n", body).strip() + "\n"
    return Cleaned(body, None, len(expandable), n)
