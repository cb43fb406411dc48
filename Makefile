# `make demo` and `make test` create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/nbasim run experiments/configs/quickstart.toml --workers 2

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest -n auto --dist loadfile

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,bench]"
	$(PY) benchmarks/bench_world.py
	$(PY) benchmarks/bench_envs.py
	$(PY) benchmarks/bench_policies.py
	$(PY) benchmarks/bench_vw.py
	$(PY) benchmarks/bench_calibrate.py
	$(PY) benchmarks/bench_ope.py
	$(PY) benchmarks/bench_learning.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
