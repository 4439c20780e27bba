# Two entry points (README): `make demo` and `make test`. Both set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NCA := .venv-nca
OUT ?= out/demo

.PHONY: demo test lint setup system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The NetworkPolicy analyser (IBM np-guard) pins PyYAML to another exact version: its own venv.
	test -x $(NCA)/bin/python || $(PYTHON) -m venv $(NCA)
	$(NCA)/bin/python -m pip install --quiet network-config-analyzer==2.1.0
	touch $(STAMP)

setup: system-deps $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: setup
	bash scripts/demo.sh $(OUT)

test: setup
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	cd roles/.. && $(BIN)/ansible-lint --profile production site.yml roles/

clean:
	rm -rf $(VENV) $(NCA) out .pytest_cache .mypy_cache .ruff_cache
