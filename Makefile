# `make demo` and `make test` each build their own virtualenv from the pinned requirements.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test lint venv venv-dev serve clean bench

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PIP) install -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

demo: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	@PORT=$(PORT) PY=$(PY) bash deploy/demo.sh

lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest

bench: venv-dev
	$(PY) bench/hotspots.py

clean:
	rm -rf $(VENV) var/ staticfiles/ .pytest_cache .ruff_cache .mypy_cache
