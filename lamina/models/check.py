"""Model checks run when a corpus run starts, before any worker: every model file exists, is what
its name says (a fastText model whose bytes add up, a SentencePiece model, a KenLM model) and
loads; where `lamina models` trained it, its size and sha256 match the card beside it. A bad model
is a `ModelError` whose message is one line naming the file.

Why walk the fastText format: fastText's `load_model` checks only the magic number, then reads its
matrices without checking for the end of the file, so a truncated `lid.bin` loads and predicts
garbage (a run then dropped every document as `language`). `fasttext_end` reads the header,
the dictionary and the matrix shapes (dense or quantized `.ftz`) and says where the file must end.

Remote models (gs://...): checked for existence and, where a card is there, size and sha256 after
`localize` copies them; the loading itself is the workers' (untestable offline; kept simple).
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import sys
from pathlib import Path

KENLM_BINARY_MAGIC = b"mmap lm http://kheafield.com/code"  # the start of every KenLM binary file
FASTTEXT_MAGIC = 793712314
FASTTEXT_VERSION = 12


class ModelError(ValueError):
    """A model that is missing, truncated or not what it should be; the message is one line."""


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (C++ libraries write there directly) for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _read(f, n: int, path: str) -> bytes:
    b = f.read(n)
    if len(b) != n:
        raise ModelError(f"{path}: truncated fastText model (file ends inside its header or dictionary)")
    return b


def _skip_pq(f, path: str) -> None:
    dim, _nsubq, _dsub, _lastdsub = struct.unpack("<4i", _read(f, 16, path))
    f.seek(dim * 256 * 4, 1)  # centroids: dim * ksub (256) floats


def _skip_matrix(f, quantized: bool, path: str) -> None:
    if not quantized:
        m, n = struct.unpack("<qq", _read(f, 16, path))
        f.seek(m * n * 4, 1)
        return
    qnorm = _read(f, 1, path)[0]
    m, _n, codesize = struct.unpack("<qqi", _read(f, 20, path))
    f.seek(codesize, 1)
    _skip_pq(f, path)
    if qnorm:
        f.seek(m, 1)
        _skip_pq(f, path)


def fasttext_end(path: str | Path) -> int:
    """The byte offset where a fastText .bin/.ftz model (format version 12) must end."""
    path = str(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8 or struct.unpack("<ii", head) != (FASTTEXT_MAGIC, FASTTEXT_VERSION):
            raise ModelError(f"{path}: not a fastText model (wrong magic number or version)")
        f.seek(12 * 4 + 8, 1)  # Args: 12 int32 and one double
        size, _nwords, _nlabels, _ntokens, prune = struct.unpack("<iiiqq", _read(f, 28, path))
        if size < 0 or prune < -1:
            raise ModelError(f"{path}: not a fastText model (dictionary header {size}, {prune})")
        buf, pos = b"", 0
        for _ in range(size):  # entries: word\0, int64 count, int8 type
            while True:
                end = buf.find(b"\0", pos)
                if end >= 0 and len(buf) >= end + 10:
                    break
                more = f.read(1 << 20)
                if not more:
                    raise ModelError(f"{path}: truncated fastText model (file ends inside its dictionary)")
                buf, pos = buf[pos:] + more, 0
            pos = end + 10
        f.seek(-(len(buf) - pos), 1)
        f.seek(max(prune, 0) * 8, 1)
        quant_input = _read(f, 1, path)[0]
        _skip_matrix(f, bool(quant_input), path)
        qout = _read(f, 1, path)[0]
        _skip_matrix(f, bool(qout), path)
        return f.tell()


def _card_for(path: Path) -> tuple[dict | None, Path | None]:
    """The card `lamina models` wrote for this file, and where: lid/card.json, wikiref/card.json
    ({"file", "bytes", "sha256"}) or lm/<lang>.card.json ({"files": {kind: {file, bytes, sha256}}})."""
    candidates = [path.parent / "card.json"]
    lang = path.name.split(".", 1)[0]
    candidates.append(path.parent / f"{lang}.card.json")
    for c in candidates:
        if not c.is_file():
            continue
        try:
            card = json.loads(c.read_text())
        except (OSError, ValueError) as e:
            raise ModelError(f"{c}: unreadable model card ({e})") from e
        if card.get("file") == path.name:
            return card, c
        for entry in (card.get("files") or {}).values():
            if isinstance(entry, dict) and entry.get("file") == path.name:
                return entry, c
    return None, None


def _check_card(path: Path) -> dict | None:
    from lamina.models.common import sha256_of

    card, where = _card_for(path)
    if card is None or "sha256" not in card:
        return None
    size = path.stat().st_size
    if size != card.get("bytes"):
        raise ModelError(
            f"{path}: {size} bytes, its card {where} says {card.get('bytes')} (truncated or replaced)"
        )
    digest = sha256_of(path)
    if digest != card["sha256"]:
        raise ModelError(
            f"{path}: sha256 {digest[:12]}... does not match its card {where} ({card['sha256'][:12]}...)"
        )
    return card


def _local(path: str, what: str) -> Path:
    from apache_beam.io.filesystems import FileSystems

    from lamina.pipelines.readers import localize

    if "://" in path:
        if not FileSystems.exists(path):
            raise ModelError(f"{what} not found: {path}")
        return Path(localize(path))
    p = Path(path)
    if not p.is_file():
        hint = " (a directory: pass the model file)" if p.is_dir() else ""
        raise ModelError(f"{what} not found: {path}{hint}; train it with `lamina models` or pass its path")
    return p


def check_fasttext(path: str, what: str, labels: tuple[str, ...] = ()) -> dict:
    """A fastText model (lid.bin, lid.176.bin/.ftz, wikiref.bin): structure, card, load, labels."""
    p = _local(path, what)
    end = fasttext_end(p)
    size = p.stat().st_size
    if end != size:
        kind = "truncated" if size < end else "has trailing bytes"
        raise ModelError(f"{path}: {what} {kind}: {size} bytes, its header says {end}")
    card = _check_card(p)
    from lamina.filters.langid import LABEL_PREFIX, load_fasttext

    try:
        model = load_fasttext(p)
        known = [x.removeprefix(LABEL_PREFIX) for x in model.get_labels()]
    except Exception as e:  # noqa: BLE001 - fastText raises ValueError/RuntimeError/MemoryError
        raise ModelError(
            f"{path}: {what} does not load: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from e
    missing = [x for x in labels if x not in known]
    if missing:
        raise ModelError(f"{path}: {what} has no label(s) {missing} (it knows {len(known)}: {known[:10]}...)")
    return {"path": path, "bytes": size, "card": bool(card), "labels": len(known)}


def check_lm(lm_dir: str, lang: str) -> dict:
    """`<lang>.sp.model` + `<lang>.arpa.bin` in `lm_dir` (ours, or cc_net's released files)."""
    sp_path = _local(f"{lm_dir.rstrip('/')}/{lang}.sp.model", f"SentencePiece model for {lang!r}")
    lm_path = _local(f"{lm_dir.rstrip('/')}/{lang}.arpa.bin", f"KenLM model for {lang!r}")
    _check_card(sp_path)
    card = _check_card(lm_path)
    import kenlm
    import sentencepiece

    try:
        sentencepiece.SentencePieceProcessor(model_file=str(sp_path))
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"{sp_path}: not a SentencePiece model ({str(e).splitlines()[0][:120]})") from e
    with open(lm_path, "rb") as f:
        head = f.read(len(KENLM_BINARY_MAGIC))
    if head != KENLM_BINARY_MAGIC and not head.startswith(b"\\data\\") and not head.startswith(b"\n\\data\\"):
        raise ModelError(f"{lm_path}: not a KenLM model (neither KenLM's binary format nor ARPA text)")
    try:
        config = kenlm.Config()
        config.load_method = kenlm.LoadMethod.LAZY  # map, do not read: cc_net's en model is 4 GB
        with _quiet_stderr():  # KenLM reports ARPA loading progress on stderr (fd 2)
            kenlm.Model(str(lm_path), config)
    except Exception as e:  # noqa: BLE001 - kenlm raises OSError/RuntimeError with C++ messages
        first = " ".join(str(e).split())[:160]
        raise ModelError(f"{lm_path}: KenLM model does not load ({first})") from e
    return {"sp": str(sp_path), "kenlm": str(lm_path), "card": bool(card)}


def lm_cutoffs(lm_dir: str, lang: str, scoring: str) -> tuple[float, float] | None:
    """The fixed (p30, p60) of `<lm_dir>/<lang>.card.json` for `scoring`, None without a card."""
    from lamina.pipelines.readers import localize

    path = f"{lm_dir.rstrip('/')}/{lang}.card.json"
    try:
        card = json.loads(Path(localize(path)).read_text()) if "://" in path or Path(path).is_file() else None
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: unreadable model card ({e})") from e
    cut = (card or {}).get("cutoffs") or {}
    values = cut.get(scoring)
    if not values:
        return None
    low, high = (values[f"p{p}"] for p in cut["percentiles"])
    return float(low), float(high)
