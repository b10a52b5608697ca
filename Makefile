# The layers cheat-sheet. `make html` builds the site, `make test` runs every test.
# Both create the virtual environment .venv from the pinned requirements on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# -j auto: pages are read (and executed) in parallel, one process per core
SPHINXOPTS ?= -W -n --keep-going -j auto
# executed pages run in a separate kernel: it inherits the environment, not sys.path
export PYTHONPATH := $(CURDIR)/code
export MPLBACKEND := Agg

.PHONY: FORCE help html test doctest serve pdf bench clean venv venv-test browser mathjax copy-np126

BUILDDIR := _build
# doctrees outside the HTML folder, so they are not published with the site
SPHINXBUILD = $(BIN)/sphinx-build -d $(BUILDDIR)/doctrees
CHROMIUM := /usr/bin/chromium

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

# Offline math: MathJax 4 from npm, copied into $(BUILDDIR)/mathjax-static (not committed).
mathjax:
	sh tools/mathjax-assets.sh

# A failed build forgets the saved environment, so the next build reads every page again
# and fails again until the cause is fixed (Sphinx does not re-read a page for a warning).
html: $(BUILDDIR)/.html-built

# Everything the site is built from (files, and folders, whose time changes when a file is
# added or removed). Sphinx runs only when one of them is newer than the last successful build,
# so `make html` (and `make test`) with nothing changed returns at once; `make clean html` or
# `touch conf.py` forces a build. Tests and the benchmark are not inputs of the site.
SITE_INPUTS := $(shell find . \( -path ./_build -o -path ./.venv -o -path ./.git -o -path ./tests \
	-o -path ./bench -o -path ./node_modules -o -name __pycache__ -o -name '.*cache' \) -prune \
	-o -print | sed 's/ /\\ /g')
$(BUILDDIR)/.html-built: $(SITE_INPUTS) $(BIN)/.docs-installed $(if $(wildcard $(BUILDDIR)/html/index.html),,FORCE)
	sh tools/mathjax-assets.sh
	@# code/ and sphinxext/ get their __pycache__ now, not from the build or the tests: a folder made
	@# later changes the time of its parent, and the next `make html` would run Sphinx again
	$(BIN)/python -m compileall -q code sphinxext
	@mkdir -p $(BUILDDIR) && touch $@.started  # an input edited during the build is newer
	$(SPHINXBUILD) -b html $(SPHINXOPTS) . $(BUILDDIR)/html \
	  || { rm -f $(BUILDDIR)/doctrees/environment.pickle; exit 1; }
	@mv $@.started $@

FORCE:

serve: venv mathjax
	$(BIN)/sphinx-autobuild -b html -d $(BUILDDIR)/doctrees -n -j auto --watch code \
	  --ignore "$(BUILDDIR)/*" --ignore "*/.jupyter_cache/*" . $(BUILDDIR)/html

pdf: html
	PYTHON=$(BIN)/python CHROMIUM=$(CHROMIUM) sh tools/print-pdf.sh $(BUILDDIR)/html $(BUILDDIR)/cheatsheet.pdf

# Chromium for the browser tests, from Debian (Playwright's own download does not work here).
browser:
	@test -x $(CHROMIUM) || { apt-get update && apt-get install -y chromium; }

# docstrings of code/ and the `>>>` examples of the pages, without building the site
doctest: venv-test
	$(BIN)/pytest -q -p no:randomly code layers examples -k "not bench"

# pytest-xdist, one worker per core; --dist loadfile keeps each test file in one worker, so the
# browser visits every page once and the snippets run once (their module-scoped fixtures);
# --no-loadscope-reorder hands out the files slowest first (the order of tests/conftest.py)
test: html venv-test browser copy-np126
	$(BIN)/pytest -n auto --dist loadfile --no-loadscope-reorder

# The copy test under numpy 1.26, in a second small environment (numpy and scipy only): the
# main environment records each class's calls and results, the copied classes replay them.
# The environment lives under _build/, which Sphinx, pytest and git all leave alone.
VENV_NP126 := $(BUILDDIR)/venv-np126
$(VENV_NP126)/.installed: requirements-np126.txt
	test -x $(VENV_NP126)/bin/python || $(PYTHON) -m venv $(VENV_NP126)
	$(VENV_NP126)/bin/python -m pip install --quiet -r requirements-np126.txt
	touch $@

copy-np126: venv-test $(VENV_NP126)/.installed
	mkdir -p $(BUILDDIR)
	$(BIN)/python tests/copy_np126.py record $(BUILDDIR)/copy-np126.pkl
	$(VENV_NP126)/bin/python tests/copy_np126.py replay $(BUILDDIR)/copy-np126.pkl

bench: venv-test
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python bench/run.py

clean:
	rm -rf _build
