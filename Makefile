# Two commands do all the set-up on a fresh machine with only python3:
#   make test   -- create .venv if needed, run the test suite
#   make book   -- create .venv if needed, execute every chapter, build _build/html strictly
# RNNBOOK_EXECUTE=force|cache|off overrides how chapters execute (default: cache, invalidated
# whenever rnnbook/, the requirements or the config change).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RNNBOOK_EXECUTE ?= cache
export RNNBOOK_EXECUTE

# What executed notebooks depend on beyond their own text (jupyter-cache only hashes the text).
DEPS_HASH = $(shell cat requirements.txt pyproject.toml _config.yml $$(find rnnbook -name '*.py' | sort) | sha256sum | cut -c1-16)

.PHONY: test book bench venv clean gpu-check gpu-session

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $@

test: $(STAMP)
	$(BIN)/python -m pytest

book: $(STAMP)
	@mkdir -p _build/ipython/profile_default
	@cp book/_ext/ipython/ipython_kernel_config.py _build/ipython/profile_default/
	@if [ "$$(cat _build/.deps-hash 2>/dev/null)" != "$(DEPS_HASH)" ]; then \
		echo "rnnbook/, requirements or config changed: clearing the execution cache and sweeps"; \
		rm -rf _build/.jupyter_cache _build/sweeps; fi
	IPYTHONDIR=$(CURDIR)/_build/ipython $(BIN)/jupyter-book build . --all --builder html -W -n --keep-going
	@echo $(DEPS_HASH) > _build/.deps-hash

# The full-size benchmarks on this machine's CPU (each prints its ratio against the obvious
# alternative as its last line; bench_kernels needs about 14 GB of memory, bench_empirical_ntk
# (n=64, L=10, m=1024, against two torch.func references) about 2 GB; bench_sgd (Algorithm 1 at
# m=512, L=10 against an autograd loop, then R = 1, 2, 4 batched runs) under a minute; bench_forms
# (Theorem 4's nested forms, three label vectors at n=2048) under a minute).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_kernels.py
	$(BIN)/python benchmarks/bench_empirical_ntk.py
	$(BIN)/python benchmarks/bench_sgd.py --runs 1,2,4
	$(BIN)/python benchmarks/bench_forms.py

clean:
	rm -rf _build

# On a GPU machine without the venv (torch, numpy, scipy, mpmath, matplotlib, pytest preinstalled):
# the whole suite with CUDA as the default device, so cuda-parametrized and CPU==GPU tests run,
# then the benchmarks at GPU sizes, recorded (with the device's name) in GPU_RESULTS, which the
# performance page shows.  Under five minutes on one H100.
GPU_RESULTS ?= benchmarks/results/gpu.json
gpu-check:
	RNNBOOK_DEVICE=cuda PYTHONPATH=. $(PYTHON) -m pytest -q -p no:cacheprovider -ra
	PYTHONPATH=. $(PYTHON) benchmarks/run_all.py --size gpu --device cuda --output $(GPU_RESULTS)

# One GPU slot of paper-scale work (benchmarks/gpu_session.py): gpu-check's tests and benchmarks,
# then the paper-profile sweeps cheapest first, each unit started only if it ends within BUDGET
# seconds; the files to commit (book/data) and session.json land under OUT.
BUDGET ?= 780
gpu-session:
	PYTHONPATH=. $(PYTHON) benchmarks/gpu_session.py --budget $(BUDGET) --output $${OUT:-_build/gpu_session}
