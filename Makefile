# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: test demo bench clean

$(VENV)/.installed: setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip setuptools wheel
	$(PY) -m pip install $(PIP_FLAGS) -e '.[test,bench]'
	touch $@

## Install into .venv and run the whole test suite.
test: $(VENV)/.installed
	$(PY) -m pytest -p no:cacheprovider

## Install into .venv and run the demo against embedded NETCONF servers.
demo: $(VENV)/.installed
	$(VENV)/bin/ncclient-twisted demo

## Run the benchmarks side by side with the peers; writes benchmarks/RESULTS.md.
bench: $(VENV)/.installed
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info
