# tomobench: `make run` runs the default benchmark, `make test` the test suite.
# Both create the virtual environment first when needed.
VENV ?= .venv
PYTHON ?= python3
# The CPU wheel on this kind of machine; online, pip resolves the same pin from PyPI.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev
CORES ?= all
SNAKEMAKE_ARGS ?=
# Another configuration: make run CONFIG=config/shrec2021.yaml (replaces config/config.yaml);
# several files are merged in order: CONFIG="config/config.yaml my_changes.yaml".
CONFIG ?=
CONFIG_ARGS := $(if $(CONFIG),--configfile $(CONFIG))

STAMP := $(VENV)/.installed

.PHONY: install run test lint report clean-results check-config

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	$(VENV)/bin/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# One line for a config file that does not exist (snakemake itself prints a traceback).
check-config:
	@for file in $(CONFIG); do test -f "$$file" || \
		{ echo "make: error: CONFIG=$(CONFIG): config file not found ($$file)" >&2; exit 2; }; done

# .venv/bin first on PATH: external pickers' commands (kind: command) run without --sdm find
# the environment's python3 (examples/external_picker/overlay.yaml).
run: check-config $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS) $(CONFIG_ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests workflow/scripts benchmarks
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	$(VENV)/bin/snakemake --lint

report: check-config $(STAMP)
	$(VENV)/bin/snakemake --report report.html $(SNAKEMAKE_ARGS) $(CONFIG_ARGS)
