# The two commands of the README. Only python3 (3.11) and make are assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-long crash-long faults-long fuzz soak lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fillfloor demo

# The habits first (seconds), then the suite: lint, format, types (mypy: strict on domain/ and the
# station coordination, pyproject.toml), then every test not marked slow.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q -m "not slow"

test-long: $(STAMP)
	$(BIN)/python -m pytest -q

# The crash suite (tests/sim/test_crash_safety.py): CRASH_RUNS seeded SIGKILLs of a running supervisor,
# each run's summary appended to crash-report.jsonl.
CRASH_RUNS ?= 50
crash-long: $(STAMP)
	CRASH_RUNS=$(CRASH_RUNS) CRASH_REPORT=crash-report.jsonl $(BIN)/python -m pytest -q tests/sim/test_crash_safety.py -k many

# The fuzzing properties (tests/*/test_fuzz_*.py) with 20 times their `make test` examples.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest -q tests/*/test_fuzz_*.py

# The soak run: 16 stations for an hour, memory and loop latency sampled; exit 1 on growth or drift.
# On one core (the first this shell may use, with taskset where there is one): the simulators'
# threads share the process, and handing the GIL across cores starved the floor's loop; 32
# stations and their simulators are more than one core carries (docs/soak.md).
PIN := $(shell command -v taskset >/dev/null 2>&1 && echo taskset -c `$(PYTHON) -c 'import os; print(min(os.sched_getaffinity(0)))'`)
soak: $(STAMP)
	$(PIN) $(BIN)/fillfloor demo --headless --stations 16 --duration 1h --data-dir data/soak

# The device fault matrix over FAULT_SEEDS seeds, over Modbus TCP and over RTU (docs/fault-matrix.md).
FAULT_SEEDS ?= 20
faults-long: $(STAMP)
	FAULT_SEEDS=$(FAULT_SEEDS) $(BIN)/python -m pytest -q -m slow tests/sim/test_fault_matrix.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache .hypothesis
