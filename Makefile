# `make test` runs everything CI runs: test-only setup (the npm js-ipfs node and
# ipfs-car, installed under tests/ when npm is present), lint, types, the test suite.
PYTHON ?= python
NPM_INSTALL = npm install --no-audit --no-fund --loglevel=error

.PHONY: test test-deps lint pytest

test: test-deps lint pytest

test-deps:
	@if command -v npm >/dev/null 2>&1; then \
	  (cd tests/ipfs_node && test -x node_modules/.bin/jsipfs || $(NPM_INSTALL)) && \
	  (cd tests/tools && test -x node_modules/.bin/ipfs-car || $(NPM_INSTALL)); \
	else echo "npm not found: IPFS node and ipfs-car tests will be skipped" >&2; fi

lint:
	$(PYTHON) -m ruff check mirror tests bench manifests mirror.py
	$(PYTHON) -m mypy

pytest:
	$(PYTHON) -m pytest
