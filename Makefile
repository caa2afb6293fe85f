# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   set up .venv and run the main job on built-in data
#   make test   set up .venv and run ruff, lint-imports (the layers) and the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mlp demo
	@echo "Next: $(VENV)/bin/mlp playground   (the lecture, live in your browser: http://127.0.0.1:8765)"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest

# the benchmark's peers (JAX, optax: the bench extra) on top of .[all]; make test never installs them
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -e '.[all,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) benchmarks/run.py

bench-quick: $(BENCH_STAMP)
	$(PY) benchmarks/run.py --quick --no-write   # prints only: RESULTS.md holds full runs

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache mlp-out
