# `make run` and `make test` set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench install clean chromium postgresql

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/optout run

# `make test` installs two Debian packages when they are missing, with apt-get: as root, or
# through sudo otherwise (it asks for your password then).
APT := $(if $(filter 0,$(shell id -u)),,sudo )
APT_INSTALL = $(APT)apt-get update -qq && $(APT)env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

# The browser test drives Debian's Chromium (Playwright cannot download its own browser here).
chromium:
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium for the browser tests ($(APT)apt-get)"; \
		$(APT_INSTALL) chromium >/dev/null; }

# The standby and fault tests start their own PostgreSQL servers from Debian's binaries.
postgresql:
	@ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 || { \
		echo "installing Debian's postgresql for the standby and fault tests ($(APT)apt-get)"; \
		$(APT_INSTALL) postgresql >/dev/null; }

test: $(STAMP) chromium postgresql
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
