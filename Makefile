# Two entry points (see README): `make demo` and `make test`.
# Both build .venv with a Python >= 3.12 found by scripts/find-python.
VENV ?= .venv
PY := $(VENV)/bin/python
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: env demo test test-slow results-check mutation clean

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

# Every result under benchmarks/results names its command and commit (PROVENANCE.md); the SBC
# tables follow from their ranks; rectify_sim rerun agrees within Monte-Carlo error (~3 min).
results-check: env
	$(PY) benchmarks/results_check.py --check

# mutmut on modules whose tests run without NUTS; writes benchmarks/results/mutation_score.md
# with every survivor (about 65 min on 2 cores).
MUTATE := src/populace/simulate/ppi.py src/populace/evaluation/metrics/coverage.py \
	src/populace/evaluation/metrics/intervals.py src/populace/study/check.py
mutation: env
	$(PY) -m pip install --quiet -e '.[mutation]'
	$(PY) benchmarks/mutations/score.py --modules $(MUTATE) --tests tests/simulate tests/evaluation tests/study --max-children 1

clean:
	rm -rf $(VENV) build *.egg-info
