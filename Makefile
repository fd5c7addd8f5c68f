# postguard — the two commands:
#   make demo   set everything up, then run the embedded default (broker + database + service + sample posts)
#   make test   set everything up, then run the whole test suite (starts its own broker and database)
# Only Python 3.11+ is needed; the virtual environment lives in .venv.

PYTHON ?= python3
VENV ?= .venv
PIP_EXTRA ?=
# torch is pinned in the same pip invocation as transformers. Which build pip picks depends on the
# index: PyPI's default Linux wheel carries CUDA; PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
# gets the CPU build (what the container image installs).
TORCH_SPEC := torch==2.13.0
STAMP := $(VENV)/.postguard-installed

.PHONY: setup demo test lint typecheck train evaluate bench lock clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "postguard needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet $(PIP_EXTRA) -c constraints.txt "$(TORCH_SPEC)" -e ".[dev,demo]"
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/python -m devtools.demo

test: setup
	$(VENV)/bin/python -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy service models devtools bench tests

train: setup
	$(VENV)/bin/python -m models.train

evaluate: setup
	$(VENV)/bin/python -m models.evaluate

# The benchmark (docs/performance.md): bare model, service end to end, naive consumer, latency under
# load, peak RSS, in one run against a real Tansu and PostgreSQL. BENCH_ARGS=--quick for a short run.
bench: setup
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)

# Regenerate constraints.txt (the exact versions setup, CI and the container image install) after
# changing dependencies in pyproject.toml.
lock:
	deploy/lock_constraints.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
