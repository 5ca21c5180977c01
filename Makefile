# tomobench: `make run` runs the default benchmark, `make test` the test suite.
# Both create the virtual environment first when needed.
VENV ?= .venv
PYTHON ?= python3
# The CPU wheel on this kind of machine; online, pip resolves the same pin from PyPI.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev
CORES ?= all
SNAKEMAKE_ARGS ?=

STAMP := $(VENV)/.installed

.PHONY: install run test lint report clean-results

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	$(VENV)/bin/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests workflow/scripts benchmarks
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	$(VENV)/bin/snakemake --lint

report: $(STAMP)
	$(VENV)/bin/snakemake --report report.html $(SNAKEMAKE_ARGS)
