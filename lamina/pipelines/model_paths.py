"""Where a corpus run's models are, and their checks before the pipeline is built.

Each model is taken from its flag (`--lid-model`, `--lm-dir`, `--wikiref-model`), else the
`[models]` table, else its place in `--models DIR` (`lid/lid.bin`, `lm/`, `wikiref/wikiref.bin`):
our models, fastText's `lid.176.bin`/`.ftz` and cc_net's `<lang>.arpa.bin` + `<lang>.sp.model`
alike, by path or gs:// URL. `prepare` checks every model the chosen sources need
(`lamina.models.check`) and resolves the perplexity cutoffs, before any worker starts; a problem is
a one-line `ModelError`.
"""

from __future__ import annotations

import dataclasses

from lamina.models.check import ModelError, check_fasttext, check_lm, lm_cutoffs
from lamina.pipelines import options as opts


@dataclasses.dataclass(frozen=True)
class ModelPaths:
    lid: str | None  # fastText LID model file
    lm: str | None  # folder of <lang>.sp.model + <lang>.arpa.bin
    wikiref: str | None  # reference classifier model file


def resolve(args, cfg: opts.CorpusConfig) -> ModelPaths:
    root = (getattr(args, "models", None) or "").rstrip("/")

    def pick(flag: str, configured: str, default: str) -> str | None:
        return getattr(args, flag, None) or configured or (f"{root}/{default}" if root else None)

    return ModelPaths(
        lid=pick("lid_model", cfg.models.lid, "lid/lid.bin"),
        lm=(pick("lm_dir", cfg.models.lm, "lm") or "").rstrip("/") or None,
        wikiref=pick("wikiref_model", cfg.models.wikiref, "wikiref/wikiref.bin"),
    )


def _need(path: str | None, what: str, flag: str) -> str:
    if not path:
        raise ModelError(f"{what} is needed: pass --models DIR (of `lamina models`) or {flag} PATH")
    return path


def prepare(paths: ModelPaths, cfg: opts.CorpusConfig, sources: list[str], check: bool = True) -> dict:
    """Check the models of `sources`; returns the CCNet cutoffs to apply, {lang: {"p30", "p60",
    "origin"}}, or {} when they are computed from the run (or, with `check` False, e.g. a Dataflow
    dry run, read from the cards by the workers)."""
    cc = cfg.ccnet
    cutoffs: dict = {}
    if "commoncrawl" in sources:
        lid = _need(paths.lid, "the language id model", "--lid-model")
        lm = _need(paths.lm, "the perplexity models' folder", "--lm-dir")
        if check:
            check_fasttext(lid, "language id model", labels=cc.languages)
            for lang in cc.languages:
                check_lm(lm, lang)
            if cc.wikiref:
                check_fasttext(_need(paths.wikiref, "the reference classifier", "--wikiref-model"),
                               "reference classifier", labels=("wiki", "cc"))  # fmt: skip
        given = cc.given_cutoffs()
        if given is not None:
            origin = f"preset {cc.cutoffs}" if isinstance(cc.cutoffs, str) else "config"
            missing = [lang for lang in cc.languages if lang not in given]
            if missing:
                raise ModelError(f"ccnet.cutoffs ({origin}) has no cutoffs for language(s) {missing}")
            cutoffs = {k: {"p30": v[0], "p60": v[1], "origin": origin} for k, v in given.items()}
        elif cc.cutoffs == "model" and check:
            for lang in cc.languages:
                got = lm_cutoffs(lm, lang, cc.scoring)
                if got is None:
                    raise ModelError(
                        f"{lm}/{lang}.card.json has no {cc.scoring}-scoring cutoffs (cc_net's models have no "
                        f'card): set [ccnet] cutoffs = "run", "ccnet_en" or {{{lang} = [p30, p60]}}'
                    )
                cutoffs[lang] = {"p30": got[0], "p60": got[1], "origin": f"model card {lm}/{lang}.card.json"}
    if "c4" in sources and cfg.c4.language != "all" and cfg.c4.language_id == "fasttext" and check:
        check_fasttext(_need(paths.lid, "the language id model", "--lid-model"), "language id model",
                       labels=(cfg.c4.language,))  # fmt: skip
    return cutoffs
