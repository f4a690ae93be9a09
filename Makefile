# Two entry points for a new user: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all docs venv clean

# versions pinned by deploy/docker/constraints.txt (the tested set; regenerate with deploy/docker/freeze.py)
$(STAMP): pyproject.toml deploy/docker/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]" -c deploy/docker/constraints.txt
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m lia_dask.demo --out demo_output

test: $(STAMP)
	$(PY) -m pytest -q -ra

test-all: $(STAMP)
	$(PY) -m pytest -q -ra -m ""

# API reference from the numpydoc docstrings; warnings are errors (tests/test_docs.py builds it too)
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "API reference: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) demo_output .pytest_cache docs/_build
