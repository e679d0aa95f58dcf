"""`lamina models`: train every model the filters need, from text, the way cc_net and RedPajama did,
so the project downloads nothing. One module per model kind; docs/models.md is the reference.

    lamina models --sample out/sample --out out/models
    lamina models --sample out/sample --out out/models --lid-corpus ../shared/data/multilingual/lingua_sentences
    lamina models --wikipedia enwiki-...xml.bz2 --wet CC-MAIN-...warc.wet.gz --cutoff-sample c4-*.json.gz

Writes (docs/interfaces.md, "Models directory"), each model with its card as soon as it is trained:
  lid/lid.bin + card.json          fastText supervised LID (`lid.py`)
  lm/<lang>.sp.model, <lang>.arpa.bin, <lang>.card.json
                                   SentencePiece unigram + KenLM 5-gram and the fixed p30/p60
                                   cutoffs (`lm.py`)
  wikiref/wikiref.bin + card.json  the Wikipedia-reference classifier (`wikiref.py`)
  models.json                      what was trained from what (updated after every model)
Every card records the files' bytes and sha256; `check.py` verifies them when a corpus run starts.
What the models measure (`lamina bench langid`, `lamina bench c4lang`) lives in lamina/bench/.
"""

from lamina.models.check import ModelError
from lamina.models.cli import MODELS, main, train_all
from lamina.models.common import NotEnoughData, kenlm_bin
from lamina.models.lid import LidConfig, iter_lid_corpus, lid_examples_from_corpus, train_lid
from lamina.models.lm import LmConfig, train_lm
from lamina.models.wikipedia import paragraphs, wikipedia_documents, wikipedia_dumps
from lamina.models.wikiref import WikiRefConfig, cited_urls, normalize_url, train_wikiref

__all__ = [
    "MODELS", "LidConfig", "LmConfig", "ModelError", "NotEnoughData", "WikiRefConfig", "cited_urls",
    "iter_lid_corpus", "kenlm_bin", "lid_examples_from_corpus", "main", "normalize_url", "paragraphs",
    "train_all", "train_lid", "train_lm", "train_wikiref", "wikipedia_documents", "wikipedia_dumps",
]  # fmt: skip
