# One-command local workflow: `make run` to start the app, `make test` for what CI runs,
# `make test-fast` for the unit and integration tiers while you work.
# Stamp files make `install` cheap when nothing changed: pip reruns only when
# requirements*.txt is newer than the venv's stamp, npm only when package-lock.json is.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.requirements-dev.stamp
NODE_STAMP := node_modules/.package-lock.stamp
CHECKOV_STAMP := $(VENV)/checkov/.requirements.stamp
# pytest-xdist workers: tests mostly wait on Azurite and devhost, so two suit CI's two cores.
PYTEST_WORKERS ?= 2
# The browser tests' Chromium (Debian's package); tests/conftest.py launches the same path.
CHROMIUM := /usr/bin/chromium

.PHONY: venv node infra-tools browser install run test test-fast lint format bench \
	bench-express bench-thumbnails bench-nightly clean distclean

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements-dev.txt requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

node: $(NODE_STAMP)

$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# checkov (the Bicep scan in tests/infra) needs its own venv: its pins clash with pytest's.
infra-tools: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): infra/requirements-checkov.txt
	PYTHON=$(PYTHON) bash scripts/install_infra_tools.sh

# Browser tests (pytest-playwright, e.g. tests/devhost/test_approvals.py) drive Debian's
# Chromium: Playwright's own browser download does not work in CI. Nothing to do when it is
# there; as root with apt-get (CI), installed without the recommended desktop packages (25
# packages, a 119 MB download, 10-17 s measured); otherwise install it yourself.
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM). Install Debian's package as root" >&2; \
		echo "(sudo apt-get install chromium), or run 'make browser' as root." >&2; \
		exit 1; \
	fi

install: venv node

run: install
	@test -f local.settings.json || cp local.settings.json.example local.settings.json
	@echo "Mail (MAIL_TRANSPORT=file) is written as .eml files to $(CURDIR)/.devhost/mail"
	$(PY) scripts/run_local.py

test: install infra-tools browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -n $(PYTEST_WORKERS)

# The `fast` marker (the unit and integration folders, tests/{unit,integration} and
# tests/devhost_runtime/{unit,integration}, set in tests/conftest.py): no devhost
# processes, no infra tools; Azurite from node_modules for the integration tier.
test-fast: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m fast

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# The replay-overhead benchmark (figures and method in docs/benchmarks.md).
bench: install
	$(PY) -m bench

# Express-order latency, idle and behind 500 and 2,000 queued normal orders, on the main and
# express apps; normal-order throughput beside the express app (docs/benchmarks.md).
bench-express: install
	$(PY) -m bench.express

# Thumbnail decode+resize+encode against libvips, and upload-to-thumbnails (docs/thumbnails.md).
bench-thumbnails: install
	$(PY) -m bench.thumbnails

# Nightly report cost per order at 10,000 and 100,000 orders (docs/nightly-report.md).
bench-nightly: install
	$(PY) -m bench.nightly

clean:
	find . -path ./$(VENV) -prune -o -path ./node_modules -prune -o \
		-name __pycache__ -type d -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .devhost bench/out bench/results
	rm -rf __blobstorage__ __queuestorage__ __azurite_db*

# Also removes the installed tools; the next `make install` recreates them.
distclean: clean
	rm -rf $(VENV) node_modules
