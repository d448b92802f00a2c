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

.PHONY: run test test-scale lint typecheck imports pytest bench reliability sync font wrk clean

$(BOOT)/bin/uv:
	@command -v uv >/dev/null 2>&1 || { \
	  $(PYTHON) -m venv $(BOOT) && $(BOOT)/bin/pip install -q "uv>=0.5"; }

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $@

sync: $(VENV)/.synced font

# Posters print Chinese with Debian's Noto CJK font (TIPLINE_POSTER_FONT overrides the path).
# Installed when we can (root with apt-get); otherwise say how, and go on without posters.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
FONT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk
font:
	@if [ ! -f $(CJK_FONT) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && $(FONT_INSTALL) >/dev/null; } \
	      || echo "Could not install the poster font; try: $(FONT_INSTALL)"; \
	  else \
	    echo "Posters need the CJK font; install it with: sudo $(FONT_INSTALL)"; \
	  fi; \
	fi

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

# The multi-process test at five times the size `make test` runs it (10,000 webhook updates).
test-scale: sync
	TIPLINE_MP_UPDATES=10000 TIPLINE_MP_PHOTOS=96 $(VENV)/bin/pytest -x -q -s tests/test_multiprocess.py

# bench/intake.py drives durable admission with wrk (C, so the driver leaves the 2 cores to the
# server); without it, a Python driver stands in and the figure comes out lower.
WRK_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && $(WRK_INSTALL) >/dev/null; } \
	      || echo "Could not install wrk; try: $(WRK_INSTALL)"; \
	  else \
	    echo "bench/intake.py is best driven by wrk: sudo $(WRK_INSTALL)"; \
	  fi; \
	fi

# The reliability suite at full size (R1 alone soaks for 10 minutes on PostgreSQL); `make test`
# runs its short tier. Figures are printed per scenario; docs/reliability.md keeps the last run's.
reliability: sync
	RELIABILITY=full $(VENV)/bin/pytest tests/reliability -m reliability -s -q -p no:cacheprovider

bench: sync wrk
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(BOOT) .mypy_cache .ruff_cache .pytest_cache
