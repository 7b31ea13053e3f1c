# The two commands of the README: `make demo` and `make test`.
# Both create and use a local virtual environment in .venv.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/crp demo --out demo-output

test: $(STAMP)
	sh scripts/install_chromium.sh
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check mpc parties scripts tests
	$(VENV)/bin/ruff format --check mpc parties scripts tests
	$(VENV)/bin/mypy mpc parties

bench: $(STAMP)
	$(PY) scripts/benchmark.py

clean:
	rm -rf $(VENV) demo-output bench-output
