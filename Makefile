# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch for laptops and CI; GPU users install their CUDA build first (README).
TORCH_CPU ?= torch==2.13.0
TORCH_INDEX ?=
PIP_QUIET ?= -q

.PHONY: run test lint format install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install $(PIP_QUIET) $(TORCH_INDEX) "$(TORCH_CPU)"
	$(BIN)/pip install $(PIP_QUIET) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install $(PIP_QUIET) -e ".[test,dev,nni,mpi,leaderboard]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/aiperf run --spec benchmark_specs/tiny.yaml

test: install-test
	$(BIN)/ruff check aiperf tests benchmarks
	$(BIN)/ruff format --check aiperf tests benchmarks
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check aiperf tests benchmarks
	$(BIN)/ruff format --check aiperf tests benchmarks

format: install-test
	$(BIN)/ruff format aiperf tests benchmarks
	$(BIN)/ruff check --fix aiperf tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
