# The README's two commands: `make demo` (install + run the embedded stack end to end) and
# `make test` (install + pass the tests). Both create ./.venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-run
STORY ?= a fox steals the moon
SHOTS ?= 6

.PHONY: install demo up test lint bench clean

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# runtime only: what `make demo` needs
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e .
	touch $(RUN_STAMP)

# runtime + test tools + the gpu extra (torch==2.13.0 CPU build, diffusers) for the provider tests
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[dev,gpu]'
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

demo: $(RUN_STAMP)
	$(BIN)/directordeck demo "$(STORY)" --shots $(SHOTS)

up: $(RUN_STAMP)
	$(BIN)/directordeck up

test: $(STAMP)
	$(BIN)/pytest -q

# style and the one-way layers (import-linter contract in .importlinter; see docs/architecture.md)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/directordeck bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
