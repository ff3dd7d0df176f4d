# Two commands do all set-up on a fresh machine:
#   make book   – create the virtual environment if missing, execute every chapter (quick profile) and render _build/html
#   make test   – create the virtual environment if missing, run ruff and the test-suite
# The environment lives outside the clone so that it is created once and reused (override with VENV=...).
# rrlib itself is not installed into it: every command runs from the clone, so each clone tests its own code.
VENV ?= $(HOME)/.cache/rrbook/venv
PROFILE ?= quick
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rrbook-lock-$(shell sha256sum requirements-lock.txt requirements-autoattack.txt pyproject.toml | sha256sum | cut -c1-16)

.PHONY: venv data browser tools book chapters test lint clean gpu-prepare gpu-check

venv: $(STAMP) data browser

# Offline Fashion-MNIST (the quick profile's image data) from Debian's dataset-fashion-mnist package, where it can be
# installed (root on Debian/Ubuntu); elsewhere rrlib downloads it through torchvision or explains where to put it.
FMNIST_DIR := /usr/share/datasets/fashion-mnist
data:
	@if [ ! -d $(FMNIST_DIR) ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
	  || echo "warning: could not install dataset-fashion-mnist; see README (Data)"; \
	fi

# Headless Chromium and its driver from Debian's chromium and chromium-driver, where they can be installed (root on
# Debian/Ubuntu), for tests/test_layout.py (nothing wider than the text column); elsewhere that test is skipped.
browser:
	@if ! command -v chromedriver >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium and chromium-driver"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "warning: could not install chromium and chromium-driver; tests/test_layout.py will be skipped"; \
	fi

# requirements-autoattack.txt (torchattacks, for the AutoAttack tests and train-classifier --autoattack) goes in
# WITHOUT dependencies: its metadata pins an old requests that it never imports (see that file). Afterwards
# `pip check` reports only that pin ("torchattacks ... has requirement requests~=2.25.1").
$(STAMP): requirements-lock.txt requirements-autoattack.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-autoattack.txt
	@rm -f $(VENV)/.rrbook-lock-*
	@touch $(STAMP)

# cffconvert (validates CITATION.cff in tests/test_publishing.py) in an environment of its own: it needs
# jsonschema < 4, which Jupyter's packages in the main environment cannot share. actionlint (the workflows' check)
# is in the main environment, from requirements-lock.txt.
TOOLS ?= $(HOME)/.cache/rrbook/tools
tools:
	@test -x $(TOOLS)/bin/cffconvert || (python3 -m venv $(TOOLS) && \
	  $(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check cffconvert==2.0.0)

book: venv
	$(PY) -m rrlib.book build --profile $(PROFILE)

chapters: venv
	$(PY) -m rrlib.book run --profile $(PROFILE)

lint: venv
	$(PY) -m ruff check .

# One pytest-xdist worker per core, each taking a whole test file at a time, the longest chapters first
# (tests/conftest.py): each chapter is executed once, by the worker that takes its file, and module fixtures once.
test: venv tools
	$(PY) -m ruff check .
	RRBOOK_TOOLS=$(TOOLS) $(PY) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

# The prepared GPU check (book/how_to_run.md, "The GPU check"): `make gpu-prepare` here fills the ignored folder .gpu/
# (wheels the lent machine lacks, Fashion-MNIST, the commit); on the lent machine `make gpu-check OUT=<folder>` runs
# benchmarks/gpu_check.py with that machine's python3 (no venv there; here the venv's). GPU_CHECK_ARGS="--device cpu
# --tiny" dry-runs it on the CPU.
GPU_PYTHON ?= $(if $(wildcard $(PY)),$(PY),python3)
GPU_CHECK_ARGS ?=
gpu-prepare:
	python3 benchmarks/gpu_prepare.py

gpu-check:
	$(GPU_PYTHON) benchmarks/gpu_check.py --out $(or $(OUT),_build/gpu-check) $(GPU_CHECK_ARGS)

clean:
	rm -rf _build
