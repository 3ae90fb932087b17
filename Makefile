# hideez-idp — `make run` starts the IdP with demo data; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test lint typecheck pytest sysdeps services bench bench-all clean

# A fresh Debian has python3 without its venv module (package python3-venv); a venv made
# without it has bin/python but no pip, so pip is what says the venv is usable.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { echo "installing: python3-venv"; \
	  $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/hideez-idp demo

# SATOSA with the plugin pack (config/satosa/) beside the Flask IdP, a pysaml2 upstream IdP and
# the demo SP, on localhost (docs/satosa.md).
.PHONY: run-satosa
run-satosa: $(STAMP)
	$(BIN)/python -m demo_satosa

# System packages the tests need: the xmlsec1 program (independent signature checks),
# Debian's Chromium (passkey pages through the DevTools virtual authenticator), oathtool, and
# Samba as an AD DC for directory sync (samba-ad-provision is only recommended, yet needed),
# and docker-compose to validate docker/compose.yaml.
sysdeps:
	@missing=""; \
	command -v xmlsec1 >/dev/null || missing="$$missing xmlsec1"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v oathtool >/dev/null || missing="$$missing oathtool"; \
	command -v samba >/dev/null || missing="$$missing samba samba-ad-dc"; \
	dpkg -s samba-ad-provision >/dev/null 2>&1 || missing="$$missing samba-ad-provision"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# docker-compose (v1) validates docker/compose.yaml; without its recommended Docker engine.
	@command -v docker-compose >/dev/null || { echo "installing: docker-compose"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }

# The tests use PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379); the CI machines run
# both. Start them if they are installed but not answering (pg_ctlcluster only runs as root
# or the cluster owner).
services:
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || ! command -v redis-server >/dev/null || \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@pg_isready -h 127.0.0.1 -q 2>/dev/null || ! command -v pg_ctlcluster >/dev/null || \
	  $(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) sysdeps services
	$(BIN)/pytest -q

test: lint typecheck pytest

# The sign-in paths through HTTP in one table, with the scale and core figures (~6 minutes).
bench: $(STAMP) sysdeps services
	$(BIN)/python bench/paths.py
	$(BIN)/python bench/cores.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/session_memory.py

# Everything: the above and each feature's own benchmark.
bench-all: bench
	$(BIN)/python bench/saml_core.py
	$(BIN)/python bench/oidc_tokens.py
	$(BIN)/python bench/wsfed.py
	$(BIN)/python bench/satosa_mfa.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/push.py
	$(BIN)/python bench/workstations.py
	$(BIN)/python bench/proximity.py
	$(BIN)/python bench/keys.py
	$(BIN)/python bench/pc_login.py
	$(BIN)/python bench/api.py
	$(BIN)/python -m bench.load.run --runs 1

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
