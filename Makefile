# sensocan-node: everything a fresh clone needs comes from here.
# Only python3 (3.11) and make are assumed; the rest is pinned in requirements.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The MicroPython unix port the device code runs on; override to test your own build.
MICROPYTHON ?= $(abspath $(BIN)/micropython)
export MICROPYTHON

.PHONY: help setup test test-32bit sim bench fuzz-power chaos check-config battery-life docs docs-check clean release
.DEFAULT_GOAL := help

# Every target with a `## ` comment after its prerequisites lists itself here.
help: ## this list
	@awk -F':.*## ' '/^[a-zA-Z0-9_-]+:.*## /{printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed ## create .venv with the pinned packages (the other targets do it too)

test: setup ## the test suite (MICROPYTHON=path: your own unix-port build)
	$(BIN)/python -m pytest -q -n 2 tests

# The device and node tests again on a 32-bit unix port, the stand-in for an ESP32's ints
# and object sizes (docs/testing.md says how to build one): MICROPYTHON32=path/to/micropython
test-32bit: setup ## the device and node tests on a 32-bit MicroPython (MICROPYTHON32=path)
	@if [ ! -x "$(MICROPYTHON32)" ]; then \
	  echo "test-32bit: no 32-bit MicroPython at MICROPYTHON32='$(MICROPYTHON32)'. Build one as MicroPython's"; \
	  echo "  own CI builds its 32-bit unix port (gcc-multilib needed), then pass its path:"; \
	  echo "  git clone -b v1.28.0 https://github.com/micropython/micropython && cd micropython"; \
	  echo "  git submodule update --init lib/mbedtls lib/micropython-lib && make -C mpy-cross"; \
	  echo "  make -C ports/unix MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0"; \
	  echo "  make test-32bit MICROPYTHON32=\$$PWD/ports/unix/build-standard/micropython"; \
	  echo "  (details, and the split-heap flags that match an ESP32: docs/testing.md)"; exit 2; fi
	MICROPYTHON=$(abspath $(MICROPYTHON32)) $(BIN)/python -m pytest -q -n 2 -m "not host" tests

sim: setup ## an emulated node against a local Sensocan mock for ~30 s
	$(BIN)/python -m tools.demo

fuzz-power: setup ## thousands of power cuts over the real firmware (CUTS=n, default 5000)
	$(BIN)/python -m tests.powercut.run --cuts $(or $(CUTS),5000)
	$(BIN)/python -m tests.powercut.update_run

# Thousands of adversarial draws (tests/chaos): server behaviours, clock steps, power
# cuts; tens of minutes. CHAOS_SEED=n replays a run; MICROPYTHON=path for another port.
chaos: setup ## a property-based test of the whole node against a hostile server (CHAOS_DRAWS=n, default 2000)
	$(BIN)/python -m tests.chaos.run --draws $(or $(CHAOS_DRAWS),2000) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))

bench: setup ## figures: flash wear, spool speed, upload cost, wake heaps (MICROPYTHON32= adds the 32-bit port)
	$(BIN)/python -m tools.dev.bench $(if $(MICROPYTHON32),--micropython32 $(MICROPYTHON32))

# A field update (docs/updates.md): the .mpy tree and manifest.json in .release/VERSION.
release: setup ## build a field-update release (VERSION=x.y.z [SETTINGS=patch.json] [DOWNGRADE=1])
	$(call _need,VERSION,1.4.0)
	$(BIN)/python -m tools.release --version $(VERSION) $(if $(SETTINGS),--settings $(SETTINGS)) $(if $(DOWNGRADE),--downgrade)

battery-life: setup ## days on a battery (CONFIG=, MAH=2500, BOARD_MODEL= to override)
	$(BIN)/python -m tools.battery_life --config $(or $(CONFIG),boards/esp32/config.json) \
		--capacity-mah $(or $(MAH),2500) $(if $(BOARD_MODEL),--board-model $(BOARD_MODEL))

check-config: setup ## check a config.json with the node's validator (CONFIG=file)
	$(BIN)/python -m tools.check_config $(or $(CONFIG),boards/unix/config.json --skip-files)

# The docs' "real output" blocks (<!-- output: NAME --> before a fence) come from real runs:
# tools/dev/docs.py runs the simulator, the virtual board and the tools, and rewrites or compares.
docs: setup ## rewrite the docs' "real output" blocks from fresh runs (~1 min)
	$(BIN)/python -m tools.dev.docs

docs-check: setup ## compare the docs' "real output" blocks with fresh runs (~1 min)
	$(BIN)/python -m tools.dev.docs --check

clean: ## remove .sim/, .vboard/ and .pytest_cache/
	rm -rf .sim .vboard .pytest_cache

# Real boards: flash, deploy, config, monitor, logs.
include mk/deploy.mk
