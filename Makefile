# Two commands for a new user: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# llama-cpp-python ships as source and compiles on first install (about 5 minutes on 2 cores;
# pip caches the wheel, so only the first install pays). On x86-64 it is built for AVX2/AVX-512
# rather than -march=native: llama.cpp's AMX kernels crash on some virtual machines that
# advertise AMX.
ifeq ($(shell uname -m),x86_64)
CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	$(if $(shell grep -m1 -o -w avx512f /proc/cpuinfo 2>/dev/null),-DGGML_AVX512=ON)
endif
export CMAKE_ARGS
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test install install-test bench clean

run: $(BIN)/.installed
	$(BIN)/assistant

test: $(BIN)/.installed-test
	$(BIN)/python -m pytest

# Each prints its figures; BENCHMARKS.md holds the latest. All five take about 15 minutes
# (bench/stt_models.py, about 50 minutes, runs on its own).
bench: $(BIN)/.installed-test
	$(BIN)/python bench/provider_stream.py
	$(BIN)/python bench/tui_stream.py
	$(BIN)/python bench/voice_latency.py
	$(BIN)/python bench/turn_model.py
	$(BIN)/python bench/bot_throughput.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pipecat-ai is installed for one file only, the Smart Turn v3 end-of-turn model it bundles
# (audio/turn.py reads it without importing pipecat). Without --no-deps it would bring 24 more
# packages (numba, aiohttp, openai, ...) and pin soundfile and protobuf below what we use.
$(BIN)/.installed: pyproject.toml | $(BIN)/python
	@sh .ci/pip-install $(BIN)/python -e .
	@sh .ci/pip-install $(BIN)/python --no-deps "pipecat-ai>=1.14,<2"
	@touch $@

$(BIN)/.installed-test: $(BIN)/.installed
	@sh .ci/pip-install $(BIN)/python -e '.[test]'
	@touch $@

clean:
	rm -rf $(VENV)
