# The layers cheat-sheet. `make html` builds the site, `make test` runs every test.
# Both create the virtual environment .venv from the pinned requirements on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SPHINXOPTS ?= -W -n --keep-going -j 1
# executed pages run in a separate kernel: it inherits the environment, not sys.path
export PYTHONPATH := $(CURDIR)/code
export MPLBACKEND := Agg

.PHONY: help html test doctest serve pdf bench clean venv venv-test browser

help:
	@echo "make html     build the site into _build/html (warnings are errors)"
	@echo "make test     run every test: layers, doctests, pages, browser"
	@echo "make doctest  run only the doctests (docstrings and pages)"
	@echo "make serve    live-reloading preview while writing"
	@echo "make pdf      print the landing cheat-sheet to _build/cheatsheet.pdf"
	@echo "make bench    benchmark every layer against PyTorch"

$(BIN)/.docs-installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.test-installed: requirements-test.txt requirements.txt $(BIN)/.docs-installed
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

venv: $(BIN)/.docs-installed
venv-test: $(BIN)/.test-installed

html: venv
	$(BIN)/sphinx-build -b html $(SPHINXOPTS) . _build/html

doctest: venv-test
	$(BIN)/python -m pytest -q -p no:randomly --doctest-modules code $(wildcard layers/*.md) -k "not bench"

test: venv-test
	$(BIN)/python -m pytest

bench: venv-test
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python bench/run.py

clean:
	rm -rf _build
