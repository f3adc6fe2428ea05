# phasegate developer entry points. Every target works on a clean clone: the virtualenv is created on
# first use and re-installed only when pyproject.toml changes (the stamp file records the last install).

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PACKAGES := flows gates models notifications migrations usecases web
LINKS := $(addprefix .typecheck/phasegate/,$(PACKAGES))

.PHONY: demo test test-fast lint typecheck imports check clean bytecode

demo: $(STAMP) bytecode
	$(VENV)/bin/phasegate demo

# The whole suite on TEST_WORKERS pytest-xdist workers: most end-to-end tests wait on subprocesses and servers,
# so more workers than cores pay. `make test TEST_WORKERS=0` runs it serially, in one process.
TEST_WORKERS ?= 4
test: $(STAMP) bytecode
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

# The unit tier: pure domain and rendering tests, no database, Prefect or browser (seconds, while editing).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# mypy reads the `phasegate` namespace through links to the folders (see [tool.mypy] in pyproject.toml).
typecheck: $(STAMP) $(LINKS)
	$(VENV)/bin/mypy --strict

.typecheck/phasegate/%:
	mkdir -p $(@D) && ln -sfn ../../$* $@

imports: $(STAMP)
	$(VENV)/bin/lint-imports

# Everything CI runs after the tests.
check: lint typecheck imports

# Some environments set PYTHONDONTWRITEBYTECODE: then every `phasegate` process (the tests start hundreds)
# would compile the whole package again. compileall writes the bytecode once; it only redoes changed files.
bytecode: $(STAMP)
	$(PY) -m compileall -q $(PACKAGES) tests > /dev/null

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# Caches and build leftovers only: local state under .phasegate/ and the virtualenv are kept.
clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist *.egg-info test-artifacts
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
