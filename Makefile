# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: test demo bench docs lint compat clean

# The package alone: what `make demo` needs.
$(VENV)/.demo-installed: setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -e .
	touch $@

# The package with the test and benchmark peers: what `make test` needs.
$(VENV)/.installed: $(VENV)/.demo-installed
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip setuptools wheel
	$(PY) -m pip install $(PIP_FLAGS) -e '.[test,bench]'
	touch $@

$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install $(PIP_FLAGS) -e '.[docs]'
	touch $@

$(VENV)/.lint-installed: $(VENV)/.installed
	$(PY) -m pip install $(PIP_FLAGS) -e '.[lint]'
	touch $@

## Install into .venv and run the whole test suite.
test: $(VENV)/.installed
	$(PY) -m pytest -p no:cacheprovider

## Install into .venv and run the demo against embedded NETCONF servers.
demo: $(VENV)/.demo-installed
	$(VENV)/bin/ncclient-twisted demo

## Run the benchmarks side by side with the peers; writes benchmarks/RESULTS.md.
bench: $(VENV)/.installed
	$(PY) -m benchmarks.run

## Build the documentation (docs/_build/html); any Sphinx warning is an error.
docs: $(VENV)/.docs-installed
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

## ruff and mypy (settings in ruff.toml and setup.cfg).
lint: $(VENV)/.lint-installed
	$(PY) -m ruff check .
	$(PY) -m mypy ncclient_twisted
	$(PY) -m mypy --follow-imports=silent examples

## The suite against the oldest and newest supported ncclient and Twisted (noxfile.py).
compat: $(VENV)/.installed
	$(PY) -m pip install $(PIP_FLAGS) nox
	$(PY) -m nox

clean:
	rm -rf $(VENV) build dist *.egg-info docs/_build .nox
