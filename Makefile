# hideez-idp — `make run` starts the IdP with demo data; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: run test lint typecheck pytest sysdeps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/hideez-idp demo

# System packages the tests need: the xmlsec1 program (independent signature checks),
# Debian's Chromium (passkey pages through the DevTools virtual authenticator) and oathtool.
sysdeps:
	@missing=""; \
	command -v xmlsec1 >/dev/null || missing="$$missing xmlsec1"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v oathtool >/dev/null || missing="$$missing oathtool"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) sysdeps
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP) sysdeps
	$(BIN)/python bench/saml_sso.py
	$(BIN)/python bench/saml_core.py
	$(BIN)/python bench/oidc_tokens.py
	$(BIN)/python bench/wsfed.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
