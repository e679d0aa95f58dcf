"""The repository's layout holds: every module of the package imports in a fresh interpreter, the
package's module-level import graph has no cycle, the plain model imports nothing of the parallelism
and checkpointing code, every benchmark lives in lamina/bench/, and every repository file that
configs/, README.md and docs/ name exists."""

from __future__ import annotations

import ast
import glob
import importlib.util
import io
import itertools
import json
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "lamina"

# Modules that run in another interpreter and import a package .venv does not hold: imported only
# where that package is installed.
OTHER_VENV = {"lamina.bench.datatrove_side": "datatrove"}
# model.py is plain single-device code: activation checkpointing and parallelism are applied from
# outside (parallelize.py -> remat.apply_ac).
NOT_IN_MODEL = {"lamina.pretrain.remat", "lamina.pretrain.tp_block", "lamina.pretrain.parallelize"}


def module_files() -> dict[str, Path]:
    """{dotted module name: file} of every module of the package (packages by their __init__.py)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.Module, module_level: bool):
    """Import statements of a module: those run at import time (top level, also under if/try/with,
    not under `if TYPE_CHECKING`, not inside functions or classes' methods), or every one."""
    if not module_level:
        yield from (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))
        return
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef)) or type(node).__name__ == "TryStar":
            for field in ("body", "orelse", "finalbody"):
                stack.extend(getattr(node, field, []))
            stack.extend(n for h in getattr(node, "handlers", []) for n in h.body)


def imports_of(name: str, path: Path, modules: dict[str, Path], module_level: bool = True) -> set[str]:
    """The package's modules that `name` imports: `import a.b` and `from a import b` name module a.b
    when it is one, else a (an attribute of a's module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path)), module_level):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            ]
        found.update(t for t in targets if t in modules and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if start in state:
            continue
        path, iters = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"b", "c"}}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]


def test_import_graph_resolves_from_imports_to_modules():
    graph = import_graph()
    # `from lamina.pretrain.model import Transformer` is an edge to the module, `from lamina.pretrain
    # import remat` one to the submodule.
    assert "lamina.pretrain.model" in graph["lamina.pretrain.remat"]
    assert "lamina.pretrain.remat" in graph["lamina.pretrain.parallelize"]


def test_the_package_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle)


def test_model_imports_nothing_of_checkpointing_or_parallelism():
    modules = module_files()
    graph = import_graph()
    name = "lamina.pretrain.model"
    # anywhere in the file, also lazily inside a function
    assert not imports_of(name, modules[name], modules, module_level=False) & NOT_IN_MODEL
    reached, todo = set(), [name]  # and nothing it imports reaches them at import time
    while todo:
        for dep in graph[todo.pop()] - reached:
            reached.add(dep)
            todo.append(dep)
    assert not reached & NOT_IN_MODEL, sorted(reached & NOT_IN_MODEL)


def test_every_benchmark_lives_in_lamina_bench():
    """One place for the benchmarks: no module or test file named for a benchmark outside lamina/bench/
    and tests/bench/, and every module in lamina/bench/ is a registered benchmark or a helper one of
    them runs (the datatrove side)."""
    from lamina.bench import BENCHES

    stray = [
        n for n in module_files() if "bench" in n.rpartition(".")[2] and not n.startswith("lamina.bench")
    ]
    assert stray == [], f"benchmark modules outside lamina/bench/: {stray}"
    stray_tests = [
        str(p.relative_to(REPO))
        for p in (REPO / "tests").rglob("*.py")
        if "bench" in p.name and p.parent != REPO / "tests" / "bench"
    ]
    assert stray_tests == [], f"benchmark tests outside tests/bench/: {stray_tests}"
    registered = {module for module, _ in BENCHES.values()}
    inside = {n for n in module_files() if n.startswith("lamina.bench.")}
    assert registered <= inside
    assert inside - registered == set(OTHER_VENV), sorted(inside - registered)


def test_every_module_imports_in_a_fresh_interpreter():
    names = [
        n
        for n in module_files()
        if not n.endswith(".__main__")  # runs a command when imported
        and not (n in OTHER_VENV and importlib.util.find_spec(OTHER_VENV[n]) is None)
    ]
    code = (
        "import importlib, json, sys\n"
        "bad = {}\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except BaseException as err:\n"
        "        bad[name] = f'{type(err).__name__}: {err}'\n"
        "print(json.dumps(bad))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(names)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {}
    assert len(names) > 50  # the whole package, not an empty walk


# --- names of repository files in configs/, README.md and docs/

TOP = ("lamina", "docs", "configs", "scripts", "tests", "dags", ".ci")
EXT = r"py|md|toml|json|txt|sh|ini|cfg|yaml|yml|png|svg|html"
# `lamina/pretrain/model.py`, `configs/pretrain/{7b,13b}.toml`, `configs/corpus/*.toml`, `lamina/pretrain/`:
# not preceded by a path character (`out/corpus/docs/...` is an output, not a repository file).
REPO_PATH = re.compile(
    rf"(?<![\w./~$<>-])((?:{'|'.join(re.escape(t) for t in TOP)})/(?:[\w.*{{}},-]+/)*(?:[\w*{{}},-]+\.(?:{EXT})\b|(?=[\s`)'\"|,;:])))"
)
# Bare names of files at the repository root (README.md, Makefile, setup.py, requirements*.txt).
ROOT_NAME = re.compile(r"(?<![\w./-])([A-Z][A-Z_]+\.md|Makefile|setup\.py|requirements[\w-]*\.txt)\b")
MD_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def _expand_braces(pattern: str) -> list[str]:
    parts = re.split(r"\{([^{}]*)\}", pattern)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(c) for c in itertools.product(*choices)]


def _exists(pattern: str, base: Path) -> bool:
    return all(glob.glob(str(base / p.rstrip("/"))) for p in _expand_braces(pattern))


def referenced_files() -> list[tuple[str, str]]:
    """(file, reference) for every name of a repository file in configs/, README.md and docs/."""
    out = []
    texts = [
        REPO / "README.md",
        *sorted((REPO / "docs").rglob("*.md")),
        *sorted((REPO / "configs").rglob("*")),
    ]
    for path in (p for p in texts if p.is_file() and p.suffix in {".md", ".toml", ".json"}):
        text, rel = path.read_text(), str(path.relative_to(REPO))
        out += [(rel, m.group(1)) for m in REPO_PATH.finditer(text)]
        out += [(rel, m.group(1)) for m in ROOT_NAME.finditer(text)]
        if path.suffix == ".md":  # relative links, from the page's folder
            for m in MD_LINK.finditer(text):
                target = m.group(1)
                if "://" not in target and not target.startswith("mailto:"):
                    out.append((rel, os.path.relpath((path.parent / target).resolve(), REPO)))
    return out


def comments_and_docstrings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python file; other string literals are data
    (a test's example input), not prose a reader follows."""
    out = [
        (tok.start[0], tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                out.append((node.body[0].lineno, doc))
    return out


def code_references() -> list[tuple[str, str]]:
    """(file:line, reference) for every name of a repository file in the comments and docstrings of
    the Python files (package, scripts, tests, DAGs)."""
    out = []
    for top in ("lamina", "scripts", "tests", "dags"):
        for path in sorted((REPO / top).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            for line, text in comments_and_docstrings(path.read_text()):
                out += [
                    (f"{rel}:{line}", m.group(1)) for rx in (REPO_PATH, ROOT_NAME) for m in rx.finditer(text)
                ]
    return out


def test_reference_finder_sees_paths_globs_braces_and_root_names():
    found = [
        m.group(1)
        for m in REPO_PATH.finditer(
            "see `lamina/pretrain/model.py`, configs/pretrain/{7b,13b}.toml and configs/corpus/*.toml; "
            "lamina/pretrain/ (`out/corpus/docs/c4/x.md` is an output)"
        )
    ]
    assert found == [
        "lamina/pretrain/model.py",
        "configs/pretrain/{7b,13b}.toml",
        "configs/corpus/*.toml",
        "lamina/pretrain/",
    ]
    assert [m.group(1) for m in ROOT_NAME.finditer("(NOTES.md, Model); see README.md and Makefile")] == [
        "NOTES.md",
        "README.md",
        "Makefile",
    ]
    assert _exists("configs/pretrain/{7b,13b}.toml", REPO) and not _exists(
        "configs/pretrain/{7b,8b}.toml", REPO
    )


def test_every_repository_file_named_in_configs_readme_and_docs_exists():
    refs = referenced_files()
    assert len(refs) > 50  # the finder sees the references
    missing = sorted({(f, r) for f, r in refs if not _exists(r, REPO)})
    assert missing == [], "\n".join(f"{f}: {r} is not in the repository" for f, r in missing)


def test_comment_finder_reads_comments_and_docstrings_only():
    source = (
        '"""Module doc: see lamina/pretrain/model.py."""\n'
        "def f():\n"
        '    """Function doc (NOTES.md)."""\n'
        "    x = 'lamina/not_prose.py'  # a comment naming docs/models.md\n"
    )
    texts = [text for _, text in comments_and_docstrings(source)]
    assert any("lamina/pretrain/model.py" in t for t in texts) and any("NOTES.md" in t for t in texts)
    assert any("docs/models.md" in t for t in texts)
    assert not any("not_prose" in t for t in texts)  # a string literal is data


def test_every_repository_file_named_in_code_comments_and_docstrings_exists():
    """A comment or docstring that sends the reader to a file (`see docs/models.md`) names one that
    is in the repository, not a note kept elsewhere; data outside it is named by its path
    (`../shared/data/books/PROVENANCE.md`)."""
    refs = code_references()
    assert len(refs) > 100  # the finder sees the references
    missing = sorted({(f, r) for f, r in refs if not _exists(r, REPO)})
    assert missing == [], "\n".join(f"{f}: {r} is not in the repository" for f, r in missing)


@pytest.mark.parametrize("path", ["requirements.txt", "requirements-dev.txt", "setup.py", "Makefile"])
def test_no_reference_to_a_readme_section_that_is_not_there(path):
    """Comments that send the reader to a README section ("see README "Installing"") name one that
    exists."""
    readme = (REPO / "README.md").read_text()
    headings = {h.strip().lower() for h in re.findall(r"^#+\s*(.+)$", readme, flags=re.M)}
    for section in re.findall(r'README[\'"]?s?\s+"([^"]+)"', (REPO / path).read_text()):
        assert section.strip().lower() in headings, (
            f'{path} cites README "{section}", which has no such section'
        )
