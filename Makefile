# Two entry points (see README): `make demo` and `make test`.
# Both build .venv with a Python >= 3.12 found by scripts/find-python.
VENV ?= .venv
PY := $(VENV)/bin/python
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: env demo test test-slow clean

$(VENV)/.built: pyproject.toml scripts/find-python
	@PYBIN=$$(sh scripts/find-python) && echo "using $$PYBIN ($$($$PYBIN --version))" && \
	  $$PYBIN -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,plot]'
	touch $@

env: $(VENV)/.built

demo: env
	$(VENV)/bin/populace demo

# The suite without the NUTS fits (within 10 minutes on 2 cores), then those fits on their own;
# CI runs both (.ci/run).
test: env
	$(PY) -m pytest -m "not slow"

test-slow: env
	$(PY) -m pytest -m slow

clean:
	rm -rf $(VENV) build *.egg-info
