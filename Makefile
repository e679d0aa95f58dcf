# Lamina. On a fresh machine the only two commands are `make corpus` and `make test`:
# every target below creates and fills the virtual environment and builds KenLM's tools itself.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= out
# Compiled tools are cached outside the clone, so a fresh clone on the same machine reuses them.
LAMINA_CACHE ?= $(HOME)/.cache/lamina
KENLM_VERSION := 0.3.0
KENLM_BIN := $(LAMINA_CACHE)/kenlm-$(KENLM_VERSION)/bin
export LAMINA_KENLM_BIN := $(abspath $(KENLM_BIN))
BOOST_PKGS := libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev \
              zlib1g-dev libbz2-dev liblzma-dev cmake
LAMINA := $(PY) -m lamina
PYTEST_ARGS ?=

.PHONY: help venv tools system-deps sample models corpus pretrain report bench gpu-check test test-fast lint format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install the pinned dependencies and the package
$(STAMP): requirements.txt requirements-dev.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

system-deps: ## Debian packages KenLM's tools build with (installs them when run as root)
	@if ! dpkg -s $(BOOST_PKGS) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BOOST_PKGS); \
	  else \
	    echo "KenLM's lmplz needs Debian packages; as root run: apt-get install -y $(BOOST_PKGS)"; exit 1; \
	  fi; \
	fi

tools: $(KENLM_BIN)/lmplz ## build KenLM's lmplz and build_binary from the PyPI source distribution (cached)
$(KENLM_BIN)/lmplz: | system-deps
	@set -e; tmp=$$(mktemp -d); \
	$(PYTHON) -m pip download -q --no-deps --no-binary kenlm -d $$tmp kenlm==$(KENLM_VERSION); \
	tar -xzf $$tmp/kenlm-$(KENLM_VERSION).tar.gz -C $$tmp; \
	cmake -S $$tmp/kenlm-$(KENLM_VERSION) -B $$tmp/build -DCMAKE_BUILD_TYPE=Release >/dev/null; \
	$(MAKE) -s -C $$tmp/build -j2 lmplz build_binary >/dev/null; \
	mkdir -p $(KENLM_BIN); cp $$tmp/build/bin/lmplz $$tmp/build/bin/build_binary $(KENLM_BIN)/; \
	rm -rf $$tmp; echo "built $(KENLM_BIN)/lmplz and build_binary"

sample: venv ## write the sample world to $(OUT)/sample
	$(LAMINA) sample --out $(OUT)/sample

models: venv tools sample ## train language id, SentencePiece + KenLM per language, the reference classifier
	$(LAMINA) models --sample $(OUT)/sample --out $(OUT)/models

corpus: models ## run every source pipeline on the sample world, train the tokenizer, write shards and reports
	$(LAMINA) corpus --input $(OUT)/sample --models $(OUT)/models --out $(OUT)/corpus --ledger
	$(LAMINA) tokenizer train --corpus $(OUT)/corpus --vocab-size 2000
	$(LAMINA) tokenizer shards --corpus $(OUT)/corpus
	$(LAMINA) report --corpus $(OUT)/corpus
	@echo "corpus: documents in $(OUT)/corpus/docs, statistics in $(OUT)/corpus/stats," \
	      "shards in $(OUT)/corpus/shards, report at $(OUT)/corpus/report/index.html"

$(OUT)/corpus/shards/manifest.json:
	$(MAKE) corpus OUT=$(OUT)

report: venv ## rebuild the HTML filter reports of $(OUT)/corpus
	$(LAMINA) report --corpus $(OUT)/corpus

.PHONY: chromium
chromium: ## Debian's headless Chromium, for the report's browser test (installs it when run as root)
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else \
	    echo "the report's browser test needs Debian's chromium; as root run: apt-get install -y chromium"; exit 1; \
	  fi; \
	fi

# A second `make pretrain` into a finished run is refused: PRETRAIN_ARGS=--resume or --overwrite.
PRETRAIN_ARGS ?=
pretrain: venv $(OUT)/corpus/shards/manifest.json ## train the tiny model on CPU on the corpus shards
	$(LAMINA) pretrain --config configs/pretrain/tiny.toml --manifest $(OUT)/corpus/shards/manifest.json \
	  --out $(OUT)/pretrain $(PRETRAIN_ARGS)

# `make bench BENCH="ccnet shards"` runs only those (`lamina bench --help` lists them; docs/benchmarks.md).
BENCH ?=
bench: venv tools ## benchmarks (lamina/bench/): ratios against a baseline, side by side; BENCH="NAME ..." for some
	-$(if $(if $(BENCH),$(filter datatrove,$(BENCH)),all),$(MAKE) -s datatrove-venv || echo "datatrove could not be installed: lamina bench datatrove will skip",@true)
	$(LAMINA) bench $(BENCH)

gpu-check: venv ## on one CUDA device (minutes): xformers, manual backward, 13B layer memory, 1B tokens/s + MFU -> JSON
	timeout 600 $(PY) scripts/gpu_check.py --out $(OUT)/gpu_check.json

test: venv tools airflow ## run the whole test suite (also creates .venv-airflow for the DAG tests)
	$(PY) -m pytest -q $(PYTEST_ARGS) tests

test-fast: venv tools airflow ## the tests not marked slow
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS) tests

lint: venv ## ruff check and format check
	$(VENV)/bin/ruff check lamina tests dags
	$(VENV)/bin/ruff format --check lamina tests dags

format: venv
	$(VENV)/bin/ruff format lamina tests dags

clean: ## remove outputs (keeps .venv and the tool cache)
	rm -rf $(OUT)

# Airflow lives in its own environment: its pins must not disturb Beam and torch in .venv. The DAGs in
# dags/ run their stages in an environment with the lamina wheel (`make wheel`; their `python`
# setting), so the lamina package is not installed here. docs/orchestration.md: deploying them.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
WHEEL_DIR ?= dist

.PHONY: airflow wheel
wheel: venv ## build the lamina wheel (dist/lamina-*.whl) that Airflow and Beam workers install
	rm -f $(WHEEL_DIR)/lamina-*.whl
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w $(WHEEL_DIR) .
	@ls $(WHEEL_DIR)/lamina-*.whl

airflow: $(AIRFLOW_STAMP) ## create .venv-airflow (Airflow 3.3.2 + the Beam provider) for the DAGs in dags/
$(AIRFLOW_STAMP): requirements-airflow.txt
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install -q -r requirements-airflow.txt
	touch $@

# The Beam worker environment: what a Dataflow worker installs from `--setup_file ./setup.py` — the
# package's sdist and its install_requires (versions pinned by requirements.txt), nothing else (no torch).
# Cached outside the clone like KenLM's tools, keyed by the hash of setup.py + requirements.txt; the
# package itself is uninstalled again (the worker-pool test installs the sdist of the tree it tests).
WORKER_KEY := $(shell cat setup.py requirements.txt 2>/dev/null | sha256sum | cut -c1-12)
WORKER_VENV := $(LAMINA_CACHE)/worker-venv-$(WORKER_KEY)
export LAMINA_WORKER_VENV := $(abspath $(WORKER_VENV))

.PHONY: worker-venv
worker-venv: $(WORKER_VENV)/.installed ## the clean Beam worker venv (setup.py's runtime deps only), cached
	@echo $(WORKER_VENV)
$(WORKER_VENV)/.installed: setup.py requirements.txt
	@set -e; rm -rf $(WORKER_VENV); tmp=$$(mktemp -d); t0=$$(date +%s); \
	$(PYTHON) -m venv $(WORKER_VENV); \
	$(WORKER_VENV)/bin/python setup.py -q egg_info --egg-base $$tmp sdist --dist-dir $$tmp >/dev/null 2>&1; \
	sed 's/\[[^]]*\]//' requirements.txt > $$tmp/constraints.txt; \
	$(WORKER_VENV)/bin/python -m pip install -q -c $$tmp/constraints.txt $$tmp/lamina-*.tar.gz; \
	$(WORKER_VENV)/bin/python -m pip uninstall -q -y lamina; rm -rf $$tmp; \
	touch $@; echo "built $(WORKER_VENV) in $$(( $$(date +%s) - t0 )) s"

# datatrove for `lamina bench datatrove`, in its own venv (datatrove[processing] pulls
# fasttext-numpy2-wheel, which must not sit beside `fasttext` in .venv). Cached like the worker venv;
# `make bench` goes on without it when it cannot be installed (the benchmark then says it skipped).
DATATROVE_KEY := $(shell cat requirements-datatrove.txt 2>/dev/null | sha256sum | cut -c1-12)
DATATROVE_VENV := $(LAMINA_CACHE)/datatrove-venv-$(DATATROVE_KEY)
export LAMINA_DATATROVE_VENV := $(abspath $(DATATROVE_VENV))

.PHONY: datatrove-venv
datatrove-venv: $(DATATROVE_VENV)/.installed ## datatrove[processing] in its own cached venv (for lamina bench datatrove)
	@echo $(DATATROVE_VENV)
$(DATATROVE_VENV)/.installed: requirements-datatrove.txt
	@set -e; rm -rf $(DATATROVE_VENV); t0=$$(date +%s); \
	$(PYTHON) -m venv $(DATATROVE_VENV); \
	$(DATATROVE_VENV)/bin/python -m pip install -q -r requirements-datatrove.txt; \
	touch $@; echo "built $(DATATROVE_VENV) in $$(( $$(date +%s) - t0 )) s"
