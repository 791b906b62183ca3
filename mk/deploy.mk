# Real boards: flash MicroPython, deploy the firmware, provision, watch (tools/*.py).
# Included by the Makefile, which defines BIN and the `setup` target. PORT is the board's
# serial port (e.g. /dev/ttyUSB0, /dev/ttyACM0); DRY_RUN=1 shows without changing.
#
#   make flash PORT=/dev/ttyUSB0 FIRMWARE=ESP32_GENERIC-v1.28.0.bin [CHIP=esp32]
#   make deploy PORT=/dev/ttyUSB0 [BOARD=esp32|unix]
#   make config [PORT=/dev/ttyUSB0] [CONFIG=config.json]   or   make config UPLOAD=my.json PORT=…
#   make monitor PORT=/dev/ttyUSB0
#   make logs PORT=/dev/ttyUSB0

.PHONY: flash deploy config monitor logs

_need = $(if $($(1)),,$(error $(1)= is required, e.g. $(1)=$(2)))
_dry = $(if $(DRY_RUN),--dry-run)

flash: setup
	$(call _need,PORT,/dev/ttyUSB0)$(call _need,FIRMWARE,ESP32_GENERIC-v1.28.0.bin)
	$(BIN)/python -m tools.flash --port $(PORT) --firmware $(FIRMWARE) \
		$(if $(CHIP),--chip $(CHIP)) $(_dry)

deploy: setup
	$(call _need,PORT,/dev/ttyUSB0)
	$(BIN)/python -m tools.deploy --port $(PORT) $(if $(BOARD),--board $(BOARD)) $(_dry)

# CONFIG names a file to write; UPLOAD=file checks an existing one and copies it to PORT.
config: setup
	$(BIN)/python -m tools.provision $(if $(UPLOAD),--upload $(UPLOAD),--out $(or $(CONFIG),config.json)) $(if $(PORT),--port $(PORT))

monitor: setup
	$(call _need,PORT,/dev/ttyUSB0)
	$(BIN)/python -m tools.monitor watch --port $(PORT)

logs: setup
	$(call _need,PORT,/dev/ttyUSB0)
	$(BIN)/python -m tools.monitor logs --port $(PORT)
