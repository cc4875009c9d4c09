# Every target sets up what it needs: a fresh machine runs `make run` or `make test` directly.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# The CPU build of torch lies on local disk; a bare `torch` could pull a multi-GB CUDA build.
TORCH   := torch==2.13.0

.PHONY: setup bytecode system-tools run test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,ray]'
	touch $(STAMP)

setup: $(STAMP)

# An editable install leaves bytecode to the first import, and an environment with
# PYTHONDONTWRITEBYTECODE (as here) recompiles every module on every start; compileall only
# redoes changed files.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q daemon/flickerd

## run the daemon on the embedded default config (./hotfolder/incoming -> ./hotfolder/incoming.fixed)
run: bytecode
	$(BIN)/flickerd run

## system tools the tests drive for real (Prometheus, systemd-analyze, Chromium); needs root + apt
system-tools:
	./scripts/system-tools

## run the test suite
test: system-tools bytecode
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## run the benchmarks (numbers go in the issue notes)
bench: bytecode
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info daemon/*.egg-info
