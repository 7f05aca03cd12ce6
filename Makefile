# The whole setup on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test install bench docs clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The documentation tools (Sphinx, Furo) have their own stamp, so `make test` never installs them.
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[docs,test]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

demo: $(STAMP)
	$(BIN)/exportdsl check policies/*.xpol
	$(BIN)/python -m exportdsl.demo policies

test: $(STAMP)
	$(BIN)/python -m pytest

# The browser the studio's end-to-end tests drive (Debian's chromium, through Playwright); without
# it those tests are skipped, saying so. Needs root and apt-get.
browser:
	apt-get update && apt-get install -y chromium

# The benchmarks of issues 10, 11 and 13, each printing its figures and ratios against hand-written
# baselines measured in the same run (bench_screen's NumPy baseline needs the `bench` extra).
# `make bench QUICK=--quick` runs the short variants.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[bench,test]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench_eval.py $(QUICK)
	$(BIN)/python benchmarks/bench_diff.py
	$(BIN)/python benchmarks/bench_screen.py $(QUICK)
	$(BIN)/python benchmarks/bench_screen_start.py
	$(BIN)/python benchmarks/bench_replay.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis docs/_build
