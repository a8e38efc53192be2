# The README's two commands: `make demo` (install + run the embedded stack end to end) and
# `make test` (install + pass the tests). Both create ./.venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-run
STORY ?= a fox steals the moon
SHOTS ?= 6

.PHONY: install demo up test lint bench clean studio browser

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

# three test processes, a file's tests kept together; each process starts its own PostgreSQL and
# Temporal dev server (tests/conftest.py), so they share nothing (most tests wait on round trips)
TEST_PROCESSES ?= 3
test: $(STAMP) browser
	$(BIN)/pytest -q -n $(TEST_PROCESSES) --dist loadfile

# the browser suite (tests/api/test_studio_browser.py) drives Debian's `chromium` through Playwright
# (Playwright's own browser download cannot work here): installed with apt-get when running as root
# and missing; otherwise a note, and the suite skips saying why. DD_CHROMIUM points at another binary.
CHROMIUM ?= $(or $(DD_CHROMIUM),/usr/bin/chromium)
browser:
	@if [ -x "$(CHROMIUM)" ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make: installing Debian chromium for the browser tests (apt-get)"; \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } \
			|| echo "make: NOTE could not install chromium; tests/api/test_studio_browser.py will skip"; \
	else \
		echo "make: NOTE $(CHROMIUM) is missing and this is not root: the browser tests will skip" \
			"(install it with: sudo apt-get install chromium)"; \
	fi

# style and the one-way layers (import-linter contract in .importlinter; see docs/architecture.md)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# every group; the `bench` extra brings MoviePy (the compose baseline). The API throughput rows need
# `wrk` (Debian's package): installed with apt-get when running as root, else those rows are skipped.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[dev,gpu,bench]'
	touch $(BENCH_STAMP) $(STAMP) $(RUN_STAMP)

bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk; } || \
		echo "make: NOTE wrk is missing: the API throughput rows will be skipped (apt-get install wrk)"
	$(BIN)/directordeck bench

# the web studio: type-check, build into api/studio_dist (committed, so demo/test need no node) and
# check the bundle budget; needs node >= 20.19 and npm
studio:
	cd studio && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
