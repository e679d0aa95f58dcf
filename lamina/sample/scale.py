"""The scaled world (`lamina sample --scale N`): N copies of the sample world in one input tree, with
unique ids and the same ground-truth kinds in the same proportions, so precision and recall stay
measurable as the input grows (docs/runners.md, "The scaled world").

Copy 0 is the sample world itself, byte for byte (the models trained on it serve every copy). Copy
c >= 1 is the sample's files rewritten, never regenerated (so 10^5-10^6 documents take minutes):
- every id becomes a copy's own: WET record ids (a UUID from a hash of (c, id)), C4 and WET URLs (the
  copy's tag as the first host label, after `www.`), Wikipedia and StackExchange ids (+ c x OFFSET),
  GitHub repo names, arXiv ids and Gutenberg numbers;
- every text line of a WET or C4 page, and every GitHub file, carries the copy's tag glued to its
  last word (`river.` -> `river-qbe.`): line dedup, digest dedup, URL dedup and GitHub's content
  dedup see each copy as new text, while documents that are duplicates of each other inside the
  sample stay duplicates inside each copy (the tag is a function of the copy only). Word counts,
  line endings, "lorem ipsum", bad words and `{` are untouched, so the C4 rules decide as in copy 0;
- books get new text (near-duplicate detection would merge perturbed copies): the books generator is
  rerun with the copy's seed, so each copy has its own five books and one revised edition;
- Wikipedia, arXiv and StackExchange texts are copied verbatim (those pipelines do not dedup).
Records the sample makes malformed on purpose (invalid UTF-8, a wrong Content-Length) keep their
bytes; only their ids change. `ground_truth.jsonl` lists every copy's rows (keys remapped).

Files: copies are written in blocks of `BLOCK` copies, one file per (block, sample file), so file
counts grow like a real dump's (WET files of ~BLOCK x the sample's records each).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import re
import tempfile
import time
import uuid
import zlib
from pathlib import Path

from lamina.sample.truth import Truth, read_truth
from lamina.sample.wet import block_digest

BLOCK = 10  # copies per written file
OFFSET = 10_000_000  # Wikipedia page/revision ids and StackExchange post ids of copy c: id + c * OFFSET
_CONSONANTS, _VOWELS = "bdfgklmnprstvz", "aeiou"
_SYLLABLES = [c + v for c in _CONSONANTS for v in _VOWELS]  # 70 syllables: copy index in base 70
_LAST_WORD_RE = re.compile(r"[^\W\d_]+(?=[^\w]*$)")  # the last run of letters (then only non-word chars)
_LETTERS_RE = re.compile(r"[^\W\d_]+")
_IDENT_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def copy_tag(c: int) -> str:
    """The letters-only word that marks copy `c` (c >= 1): `q` + c in base-70 syllables ("qba", ...).
    Distinct for every c (fixed-width syllables, no leading zero)."""
    if c < 1:
        raise ValueError("copy 0 is the sample itself and has no tag")
    digits = []
    while c:
        c, d = divmod(c, len(_SYLLABLES))
        digits.append(_SYLLABLES[d])
    return "q" + "".join(reversed(digits))


def perturb_line(line: str, tag: str) -> str:
    """`line` with `-tag` glued to its last word (before trailing punctuation, quotes and spaces);
    a line without letters gets ` tag` appended; an empty line stays empty."""
    if not line.strip():
        return line
    m = _LAST_WORD_RE.search(line) or _last_letters(line)
    if m is None:
        return f"{line.rstrip()} {tag}{line[len(line.rstrip()) :]}"
    return f"{line[: m.end()]}-{tag}{line[m.end() :]}"


def _last_letters(line: str):
    found = list(_LETTERS_RE.finditer(line))
    return found[-1] if found else None


def perturb_text(text: str, tag: str) -> str:
    return "\n".join(perturb_line(line, tag) for line in text.split("\n"))


def perturb_url(url: str, tag: str) -> str:
    """The copy's tag as the first host label (after the scheme and `www.`): `https://www.a.org/x` ->
    `https://www.qba.a.org/x`. URLs equal after C4's normalization stay equal inside a copy."""
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)(www\.)?", url)
    if not m:
        return f"{tag}.{url}"
    return f"{url[: m.end()]}{tag}.{url[m.end() :]}"


def _copy_uuid(c: int, old: str) -> str:
    bits = int.from_bytes(hashlib.sha256(f"{c}:{old}".encode()).digest()[:16], "big")
    return f"<urn:uuid:{uuid.UUID(int=bits, version=4)}>"


# ---------------------------------------------------------------- CommonCrawl WET


def _gzip_members(data: bytes) -> list[bytes]:
    out = []
    while data:
        d = zlib.decompressobj(wbits=31)
        out.append(d.decompress(data) + d.flush())
        data = d.unused_data
    return out


def _member(data: bytes) -> bytes:
    # Fast gzip member, mtime 0 (byte-identical reruns); level 1 keeps generation fast.
    return gzip.compress(data, compresslevel=1, mtime=0)


def _split_record(rec: bytes) -> tuple[list[str], bytes]:
    head, _, body = rec.partition(b"\r\n\r\n")
    return head.decode("utf-8").split("\r\n"), body


def _rewrite_wet_record(rec: bytes, c: int, tag: str, ids: dict[str, str]) -> bytes:
    """One WET record of copy `c`: ids remapped (`ids` collects old -> new record ids), and for a
    well-formed conversion record the URL and every body line perturbed, digest and length recomputed."""
    lines, rest = _split_record(rec)
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    block = rest[:-4] if rest.endswith(b"\r\n\r\n") else rest
    kind = fields.get("WARC-Type")
    declared = fields.get("Content-Length")
    new_body = None
    if kind == "conversion" and declared == str(len(block)):
        try:
            new_body = perturb_text(block.decode("utf-8"), tag).encode("utf-8")
        except UnicodeDecodeError:
            new_body = None  # deliberately broken bytes: kept as they are
    out = [lines[0]]
    for line in lines[1:]:
        key, sep, value = line.partition(": ")
        if key in ("WARC-Record-ID", "WARC-Refers-To"):
            new = (
                ids.setdefault(value, _copy_uuid(c, value))
                if key == "WARC-Record-ID"
                else _copy_uuid(c, value)
            )
            line = f"{key}{sep}{new}"
        elif key == "WARC-Target-URI" and kind == "conversion":
            line = f"{key}{sep}{perturb_url(value, tag)}"
        elif new_body is not None and key == "WARC-Block-Digest":
            line = f"{key}{sep}{block_digest(new_body)}"
        elif new_body is not None and key == "Content-Length":
            line = f"{key}{sep}{len(new_body)}"
        out.append(line)
    body = block if new_body is None else new_body
    tail = rest[len(block) :]
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8") + body + tail


def _rewrite_warcinfo(rec: bytes, b: int, old: str, new: str) -> bytes:
    """The warcinfo record of a block's file: its own file name and record id."""
    lines, rest = _split_record(rec)
    out = [lines[0]]
    for line in lines[1:]:
        key, sep, value = line.partition(": ")
        if key == "WARC-Filename":
            line = f"{key}{sep}{new}"
        elif key == "WARC-Record-ID":
            line = f"{key}{sep}{_copy_uuid(-b, old + value)}"
        out.append(line)
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8") + rest


def _block_name(name: str, block: int) -> str:
    """`...-00002.warc.wet.gz` of block b -> `...-<b*100 + 2>.warc.wet.gz` (unique while k < 100)."""
    m = re.match(r"^(.*-)(\d{5})(\.warc\.wet\.gz)$", name)
    if not m or int(m.group(2)) >= 100:
        raise ValueError(f"scaled world: unexpected WET file name {name}")
    return f"{m.group(1)}{block * 100 + int(m.group(2)):05d}{m.group(3)}"


def _scale_cc(root: Path, copies: list[list[int]], ids: dict[int, dict[str, str]]) -> None:
    cc = root / "cc"
    base_paths = (cc / "wet.paths").read_text(encoding="utf-8").split()
    paths = list(base_paths)
    members = {p: _gzip_members((cc / p).read_bytes()) for p in base_paths}
    for b, block in enumerate(copies, start=1):
        for p in base_paths:
            folder, name = p.rsplit("/", 1)
            new = f"{folder}/{_block_name(name, b)}"
            parts = [_member(_rewrite_warcinfo(members[p][0], b, name, new.rsplit("/", 1)[1]))]
            for c in block:
                tag = copy_tag(c)
                parts += [_member(_rewrite_wet_record(m, c, tag, ids[c])) for m in members[p][1:]]
            (cc / new).write_bytes(b"".join(parts))
            paths.append(new)
    (cc / "wet.paths").write_text("\n".join(paths) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- C4 json


def _scale_c4(root: Path, copies: list[list[int]], urls: dict[int, dict[str, str]]) -> None:
    c4 = root / "c4"
    files = sorted(p for p in c4.glob("*.json.gz") if ".copies" not in p.name)
    pages = {
        f: [json.loads(x) for x in gzip.decompress(f.read_bytes()).decode("utf-8").splitlines()]
        for f in files
    }
    for b, block in enumerate(copies, start=1):
        for f in files:
            lines = []
            for c in block:
                tag = copy_tag(c)
                for pg in pages[f]:
                    url = urls[c].setdefault(pg["url"], perturb_url(pg["url"], tag))
                    new = {**pg, "url": url, "text": perturb_text(pg["text"], tag)}
                    lines.append(json.dumps(new, ensure_ascii=False) + "\n")
            name = f.name.removesuffix(".json.gz") + f".copies{b:04d}.json.gz"
            (c4 / name).write_bytes(gzip.compress("".join(lines).encode("utf-8"), compresslevel=1, mtime=0))


# ---------------------------------------------------------------- Wikipedia, StackExchange, arXiv


_WIKI_ID_RE = re.compile(r"<(id|parentid)>(\d+)</\1>")


def _scale_wikipedia(root: Path, copies: list[list[int]]) -> None:
    wiki = root / "wikipedia"
    for f in sorted(wiki.glob("*wiki-*.xml.bz2")):
        if ".copies" in f.name:
            continue
        xml = bz2.decompress(f.read_bytes()).decode("utf-8")
        head, sep, rest = xml.partition("  <page>")
        pages, end = rest.rsplit("</mediawiki>", 1) if rest else ("", "")
        for b, block in enumerate(copies, start=1):
            body = [head]
            for c in block:
                body.append(sep + _WIKI_ID_RE.sub(lambda m, c=c: _offset_id(m, c), pages))
            body.append("</mediawiki>" + end)
            name = f.name.replace(".xml.bz2", f".copies{b:04d}.xml.bz2")
            (wiki / name).write_bytes(bz2.compress("".join(body).encode("utf-8"), compresslevel=1))


def _offset_id(m: re.Match, c: int) -> str:
    n = int(m.group(2))
    if n >= OFFSET:
        raise ValueError(f"scaled world: Wikipedia id {n} >= {OFFSET}")
    return f"<{m.group(1)}>{n + c * OFFSET}</{m.group(1)}>"


_SE_ID_RE = re.compile(r'\b(Id|ParentId|AcceptedAnswerId)="(\d+)"')


def _scale_stackexchange(root: Path, copies: list[list[int]], keep_sample: bool) -> None:
    for f in sorted((root / "stackexchange").glob("*/Posts.xml")):
        text = f.read_text(encoding="utf-8-sig")
        head, sep, rest = text.partition("<posts>")
        rows, end = rest.rsplit("</posts>", 1)
        parts = [head, sep, rows] if keep_sample else [head, sep]
        for block in copies:
            for c in block:
                parts.append(
                    _SE_ID_RE.sub(lambda m, c=c: f'{m.group(1)}="{int(m.group(2)) + c * OFFSET}"', rows)
                )
        parts += ["</posts>", end]
        f.write_text("\ufeff" + "".join(parts), encoding="utf-8")


def _scale_arxiv(root: Path, copies: list[list[int]]) -> None:
    arxiv = root / "arxiv"
    for f in sorted(arxiv.iterdir()):
        pid, suffix = _arxiv_id(f.name)
        if ".c" in pid:
            continue
        data = f.read_bytes()
        for block in copies:
            for c in block:
                (arxiv / f"{pid}.c{c:05d}{suffix}").write_bytes(data)


def _arxiv_id(name: str) -> tuple[str, str]:
    for suffix in (".tar.gz", ".gz", ".tar", ".tex"):
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


# ---------------------------------------------------------------- GitHub, books


def perturb_code(content: str, tag: str) -> str:
    """`content` with `_tag` glued to its last identifier (a new exact-dedup hash, lengths and
    character classes almost unchanged); a file without one gets a trailing newline + tag."""
    found = list(_IDENT_RE.finditer(content))
    if not found:
        return content + "\n" + tag
    end = found[-1].end()
    return f"{content[:end]}_{tag}{content[end:]}"


def _scale_github(root: Path, copies: list[list[int]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    gh = root / "github"
    for f in sorted(gh.glob("*.parquet")):
        if ".copies" in f.name:
            continue
        table = pq.read_table(f)
        rows = table.to_pylist()
        for b, block in enumerate(copies, start=1):
            out = []
            for c in block:
                tag = copy_tag(c)
                for row in rows:
                    new = dict(row, repo_name=f"{row['repo_name']}-{tag}")
                    if isinstance(row.get("content"), str):
                        new["content"] = perturb_code(row["content"], tag)
                    if row.get("id") is not None:
                        new["id"] = hashlib.sha1(f"{c}:{row['id']}".encode()).hexdigest()
                    out.append(new)
            name = f.name.replace(".parquet", f".copies{b:04d}.parquet")
            pq.write_table(pa.Table.from_pylist(out, schema=table.schema), gh / name, compression="zstd")


def _scale_books(root: Path, seed: int, copies: list[list[int]], truth: Truth) -> None:
    from lamina.sample import books_world

    books = root / "books"
    for block in copies:
        for c in block:
            with tempfile.TemporaryDirectory(prefix="lamina-books-") as tmp:
                t = Truth()
                books_world.write(Path(tmp), f"{seed}:copy{c}", t)
                for row in t.rows.values():
                    num = int(row["key"].removeprefix("pg").removesuffix(".txt"))
                    new = num + c * 100_000
                    text = (Path(tmp) / row["key"]).read_text(encoding="utf-8")
                    text = text.replace(f"[eBook #{num}]", f"[eBook #{new}]")
                    (books / f"pg{new}.txt").write_text(text, encoding="utf-8")
                    truth.add("books", f"pg{new}.txt", row["expected"], row["reason"], row["kind"])


# ---------------------------------------------------------------- the whole world


def scale_world(root: Path, n: int, seed: int = 0, keep_sample: bool = True) -> dict:
    """Add copies 1..n-1 to the sample world at `root` (written by `write_sample_world(root, seed)`),
    in place, and rewrite its ground truth. Returns {"documents": rows of ground truth, "seconds": s}.

    `keep_sample=False`: the world is copies 1..n, every one rewritten, and the sample's own files
    are removed, so every scale (1x included) is the same mixture of rewritten text (what
    `lamina bench scale` compares: the tag shifts perplexities a little, and a world half sample,
    half copies has run-relative cutoffs that neither half alone would have)."""
    if n < 1:
        raise ValueError(f"--scale must be >= 1, not {n}")
    t0 = time.perf_counter()
    root = Path(root)
    base = read_truth(root / "ground_truth.jsonl")
    sample_files = [p for p in root.rglob("*") if p.is_file() and _is_sample_input(root, p)]
    base_paths = set((root / "cc" / "wet.paths").read_text(encoding="utf-8").split())
    others = list(range(1, n)) if keep_sample else list(range(1, n + 1))
    copies = [others[i : i + BLOCK] for i in range(0, len(others), BLOCK)]
    wet_ids: dict[int, dict[str, str]] = {c: {} for c in others}
    c4_urls: dict[int, dict[str, str]] = {c: {} for c in others}
    truth = Truth()
    for row in base if keep_sample else ():
        truth.add(**row)
    if others:
        _scale_cc(root, copies, wet_ids)
        _scale_c4(root, copies, c4_urls)
        _scale_wikipedia(root, copies)
        _scale_stackexchange(root, copies, keep_sample)
        _scale_arxiv(root, copies)
        _scale_github(root, copies)
        _scale_books(root, seed, copies, truth)
    for c in others:
        tag = copy_tag(c)
        for row in base:
            key = _copy_key(row, c, tag, wet_ids[c], c4_urls[c])
            if key is None:
                continue
            extra = {
                k: v for k, v in row.items() if k not in ("pipeline", "key", "expected", "reason", "kind")
            }
            if "original" in extra:  # the duplicate's original, in the same copy
                extra["original"] = _copy_key(
                    {**row, "key": extra["original"]}, c, tag, wet_ids[c], c4_urls[c]
                )
            if "answer_order" in extra:
                extra["answer_order"] = [int(a) + c * OFFSET for a in extra["answer_order"]]
            truth.add(row["pipeline"], key, row["expected"], row["reason"], row["kind"], **extra)
    if not keep_sample:
        for p in sample_files:
            p.unlink()
        wet = root / "cc" / "wet.paths"
        paths = [x for x in wet.read_text(encoding="utf-8").split() if x not in base_paths]
        wet.write_text("".join(f"{x}\n" for x in paths), encoding="utf-8")
    truth.write(root / "ground_truth.jsonl")
    _write_readme(root, truth, n)
    return {"documents": len(truth.rows), "seconds": time.perf_counter() - t0}


def _is_sample_input(root: Path, p: Path) -> bool:
    """A file of one sample document set (removed when the sample is not kept). Lists and shared
    files stay: README, ground truth, wet.paths, the bad-words list, the per-site Posts.xml."""
    rel = p.relative_to(root).parts
    if len(rel) < 2 or rel[0] == "stackexchange" or rel[:2] == ("c4", "badwords"):
        return False
    return rel[-1] != "wet.paths"


def _copy_key(row: dict, c: int, tag: str, wet_ids: dict[str, str], urls: dict[str, str]) -> str | None:
    p, key = row["pipeline"], row["key"]
    if p == "ccnet" or (p == "c4" and key.startswith("<urn:")):
        return wet_ids[key]
    if p == "c4":
        return urls[key]
    if p == "wikipedia":
        lang, _, pid = key.rpartition(":")
        return f"{lang}:{int(pid) + c * OFFSET}"
    if p == "stackexchange":
        site, _, qid = key.rpartition(":")
        return f"{site}:{int(qid) + c * OFFSET}"
    if p == "arxiv":
        return f"{key}.c{c:05d}"
    if p == "github":
        repo, _, path = key.partition(":")
        return f"{repo}-{tag}:{path}"
    if p == "books":
        return None  # new books per copy, added by _scale_books
    raise ValueError(f"scaled world: unknown pipeline {p!r}")


def _write_readme(root: Path, truth: Truth, n: int) -> None:
    from lamina.sample.readme import write_readme

    write_readme(root, truth, [])
    if n > 1:
        readme = root / "README.md"
        note = (
            f"\nScaled world: {n} copies of the sample (`lamina sample --scale {n}`); copy 0 is the sample "
            "itself, copies 1.. carry their tag (`-qba`, ...) on every line, URL and id "
            "(lamina/sample/scale.py).\n"
        )
        readme.write_text(readme.read_text(encoding="utf-8") + note, encoding="utf-8")
