# Every target builds what it needs from the project's own files.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test test-spark lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[test]"
	touch $@

$(VENV)/.installed-lint: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[lint]"
	touch $@

$(VENV)/.installed-spark: pyproject.toml $(VENV)/.installed-test
	$(PIP) install -q -e ".[test,spark]"
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[bench]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/redcat demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

# The Spark engine against DuckDB (PySpark and Java 17+; several minutes on 2 cores, so not in `test`)
test-spark: $(VENV)/.installed-spark
	$(BIN)/python -m pytest tests/engine/test_spark.py -p no:cacheprovider

LINT_DIRS := src tests $(wildcard bench)

lint: $(VENV)/.installed-lint
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/ruff format --check $(LINT_DIRS)
	$(BIN)/mypy

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench
	# links redirect under wrk (installs Debian's wrk when missing and root), beside a bare app
	$(BIN)/python -m bench.links

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
