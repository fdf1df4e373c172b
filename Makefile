# `make test` runs everything CI runs: test-only setup (the npm js-ipfs node and
# ipfs-car, installed under tests/ when npm is present), lint, types, the JavaScript unit
# tests of the verifier page, the test suite.
PYTHON ?= python
NPM_INSTALL = npm install --no-audit --no-fund --loglevel=error

.PHONY: test test-deps lint jstest pytest

test: test-deps lint jstest pytest

test-deps:
	@if command -v npm >/dev/null 2>&1; then \
	  (cd tests/ipfs_node && test -x node_modules/.bin/jsipfs || $(NPM_INSTALL)) && \
	  (cd tests/tools && test -x node_modules/.bin/ipfs-car || $(NPM_INSTALL)); \
	else echo "npm not found: IPFS node and ipfs-car tests will be skipped" >&2; fi

lint:
	$(PYTHON) -m ruff check mirror tests bench manifests mirror.py
	$(PYTHON) -m mypy

# The verifier page's JavaScript units, with Node's own test runner (no npm packages).
jstest:
	@if command -v node >/dev/null 2>&1; then node --test tests/js/; \
	else echo "node not found: JavaScript unit tests skipped" >&2; fi

pytest:
	$(PYTHON) -m pytest
