# The README's two commands: `make demo` (install + run the embedded stack end to end) and
# `make test` (install + pass the tests). Both create ./.venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
STORY ?= a fox steals the moon
SHOTS ?= 6

.PHONY: install demo up test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/directordeck demo "$(STORY)" --shots $(SHOTS)

up: $(STAMP)
	$(BIN)/directordeck up

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/bench -s --override-ini addopts=

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
