# Tipline: `make run` starts it, `make test` checks everything CI checks.
# Works on a fresh Debian machine with Python 3.11+: it installs uv if missing, then the locked deps.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BOOT := .uv-bootstrap
UV := $(shell command -v uv 2>/dev/null || echo $(BOOT)/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Compile bytecode once: without .pyc files every process re-parses aiogram's ~700 modules
# (10-20 s per start on a busy 2-core machine), and the tests start many processes.
export UV_COMPILE_BYTECODE := 1
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test lint typecheck imports pytest bench sync clean

$(BOOT)/bin/uv:
	@command -v uv >/dev/null 2>&1 || { \
	  $(PYTHON) -m venv $(BOOT) && $(BOOT)/bin/pip install -q "uv>=0.5"; }

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $@

sync: $(VENV)/.synced

run: sync
	$(VENV)/bin/tipline run

lint: sync
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: sync
	$(VENV)/bin/mypy

imports: sync
	$(VENV)/bin/lint-imports

pytest: sync
	$(VENV)/bin/pytest

test: lint typecheck imports pytest

bench: sync
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(BOOT) .mypy_cache .ruff_cache .pytest_cache
