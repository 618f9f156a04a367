# Every target creates the local virtualenv on first use, so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SOURCES := cdr_pipeline tests benchmarks notebooks

.PHONY: demo notebooks test test-fast check lint imports typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cdr demo

# Analyst notebooks (docs/notebooks.md): the notebooks extra on first use, the demo warehouse
# when there is none yet, then JupyterLab on notebooks/.
notebooks: $(STAMP)
	test -x $(BIN)/jupyter-lab || $(BIN)/pip install --quiet -e '.[notebooks]'
	test -f "$${CDR_WAREHOUSE:-warehouse}/cdr.duckdb" || $(BIN)/cdr demo
	# as root (a container), JupyterLab refuses to start unless told it may
	$(BIN)/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# pytest-xdist workers, one per core by default (`make test TEST_WORKERS=0` runs in one process)
TEST_WORKERS ?= auto

# The package compiled to bytecode first: where PYTHONDONTWRITEBYTECODE is set (CI images
# often set it) no run writes it, and each of the ~150 `cdr` processes the tests start
# compiled every module it imports again (0.3-0.5 s of CPU each)
# (the 30 slowest tests listed at the end: the suite's time is kept in view)
test: $(STAMP)
	$(BIN)/python -m compileall -q cdr_pipeline >/dev/null
	$(BIN)/pytest -q -n $(TEST_WORKERS) --durations=30

# the same without the end-to-end tests marked slow (a real wheel, notebooks, kill -9...)
test-fast: $(STAMP)
	$(BIN)/python -m compileall -q cdr_pipeline >/dev/null
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

# the layers of docs/design.md, as import-linter contracts (pyproject.toml)
imports: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy cdr_pipeline notebooks

check: lint imports typecheck test

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) warehouse .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
