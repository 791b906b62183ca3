# sensocan-node: everything a fresh clone needs comes from here.
# Only python3 (3.11) and make are assumed; the rest is pinned in requirements.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The MicroPython unix port the device code runs on; override to test your own build.
MICROPYTHON ?= $(abspath $(BIN)/micropython)
export MICROPYTHON

.PHONY: setup test sim bench fuzz-power check-config battery-life clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed

test: setup
	$(BIN)/python -m pytest -q -n 2 tests

sim: setup
	$(BIN)/python -m tools.demo

# Thousands of power cuts over the real firmware (make test runs a short sweep).
fuzz-power: setup
	$(BIN)/python -m tests.powercut.run --cuts $(or $(CUTS),5000)

# Figures: flash wear, spool speed and heap, upload cost against requests, node heap.
bench: setup
	$(BIN)/python -m tools.bench

# Days a battery lasts, from a documented current model (docs/energy.md).
battery-life: setup
	$(BIN)/python -m tools.battery_life --config $(or $(CONFIG),boards/esp32/config.json) --capacity-mah $(or $(MAH),2500)

check-config: setup
	$(BIN)/python -m tools.check_config $(or $(CONFIG),boards/unix/config.json --skip-files)

clean:
	rm -rf .sim .pytest_cache

# Real boards: flash, deploy, config, monitor, logs (defined after the default target).
include mk/deploy.mk
