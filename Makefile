# Two commands: `make book` (set up, execute every study at PROFILE, build the HTML book) and `make test`.
PROFILE ?= default
PYTHON_BIN ?= $(shell command -v python3.11 || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FOUNDATION_VENV := .venv-foundation
FOUNDATION_STAMP := $(FOUNDATION_VENV)/.installed

.PHONY: setup browser book test bench clean lock

setup: $(STAMP)

# SevenNet and CHGNet need e3nn/PyTorch versions that MACE's pins exclude: their own environment, used through a
# worker process (paperlib/models/foundation.py).
$(FOUNDATION_STAMP): requirements-foundation.txt
	test -x $(FOUNDATION_VENV)/bin/python || $(PYTHON_BIN) -m venv $(FOUNDATION_VENV)
	$(FOUNDATION_VENV)/bin/python -m pip install -q --upgrade pip
	$(FOUNDATION_VENV)/bin/python -m pip install -q -r requirements-foundation.txt
	touch $(FOUNDATION_STAMP)

$(STAMP): requirements.lock requirements-nodeps.txt pyproject.toml $(FOUNDATION_STAMP)
	$(PYTHON_BIN) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (set PYTHON_BIN)"'
	test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

# Headless Chromium and its driver (Debian packages) for the test that reads the built book as a reader would:
# only `make test` needs them, so `make book` asks for neither root nor a browser.
browser:
	@command -v chromium > /dev/null && command -v chromedriver > /dev/null || { \
	  test "$$(id -u)" = 0 || { echo "install Debian's chromium and chromium-driver (root needed)"; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null; }

# requirements.txt states what the project needs (ranges); requirements.lock pins what is installed. Re-resolve
# the pins with pip-tools in an environment of its own; torch is pinned without the local "+cpu" label of the
# wheel this machine holds, so that the lock installs elsewhere too.
lock:
	test -x .venv-lock/bin/pip-compile || { $(PYTHON_BIN) -m venv .venv-lock && .venv-lock/bin/pip install -q pip-tools; }
	.venv-lock/bin/pip-compile -q --upgrade --no-header --strip-extras --no-emit-index-url --no-emit-find-links \
	  -o requirements.lock.new requirements.txt
	{ head -n 2 requirements.lock; sed 's/^torch==\([0-9.]*\)+cpu/torch==\1/' requirements.lock.new; } > requirements.lock.tmp
	rm requirements.lock.new && mv requirements.lock.tmp requirements.lock

book: $(STAMP)
	$(VENV)/bin/paperlib book --profile $(PROFILE)

# Two pytest workers (a 2-core machine's worth); the tests that need the studies' smoke runs share one of them.
TEST_WORKERS ?= 2
test: $(STAMP) browser
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadgroup

bench: $(STAMP)
	$(PY) bench/training_throughput.py
	$(PY) bench/reference_md.py
	$(PY) bench/hessian_losses.py
	$(PY) bench/labelling_speedup.py
	$(PY) bench/determinism_cost.py
	$(PY) bench/ml_md.py
	$(PY) bench/worker_memory.py

clean:
	rm -rf _build book/studies book/claims.md results
