# Every target creates .venv and installs what it needs, so each works on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck bench browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	RIGHTLY_HOME=$${RIGHTLY_HOME:-$(CURDIR)/.rightly-demo} $(BIN)/rightly demo

# Every test, with ruff and mypy first (CI runs exactly this).
test: $(STAMP) browser lint typecheck
	$(BIN)/python -m pytest -q -ra

lint: $(STAMP)
	$(BIN)/ruff check rightly tests bench
	$(BIN)/ruff format --check rightly tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: test

bench: $(STAMP)
	$(BIN)/python -m bench

# Debian's Chromium for the browser tests (skipped when it cannot be installed outside CI).
browser:
	@test -x /usr/bin/chromium || (command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium could not be installed; browser tests will skip")

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
