# Real boards: flash MicroPython, deploy the firmware, provision, watch (tools/*.py).
# Included by the Makefile, which defines BIN and the `setup` target. PORT is the board's
# serial port (e.g. /dev/ttyUSB0, /dev/ttyACM0); DRY_RUN=1 shows without changing.
#
#   make flash PORT=/dev/ttyUSB0 FIRMWARE=ESP32_GENERIC-v1.28.0.bin [CHIP=esp32] [BAUD=115200]
#   make deploy PORT=/dev/ttyUSB0 [BOARD=esp32|unix]
#   make config [PORT=/dev/ttyUSB0] [CONFIG=private/config.json]   or   make config UPLOAD=file PORT=…
#   make monitor PORT=/dev/ttyUSB0
#   make logs PORT=/dev/ttyUSB0

.PHONY: flash deploy config monitor logs

_need = $(if $($(1)),,$(error $(1)= is required, e.g. $(1)=$(2)))
_dry = $(if $(DRY_RUN),--dry-run)

flash: setup ## erase the board, write MicroPython (PORT= FIRMWARE= [CHIP=] [BAUD=] [DRY_RUN=1])
	$(call _need,PORT,/dev/ttyUSB0)$(call _need,FIRMWARE,ESP32_GENERIC-v1.28.0.bin)
	$(BIN)/python -m tools.flash --port $(PORT) --firmware $(FIRMWARE) \
		$(if $(CHIP),--chip $(CHIP)) $(if $(BAUD),--baud $(BAUD)) $(_dry)

deploy: setup ## copy the firmware to the board, what changed only (PORT= [BOARD=] [DRY_RUN=1])
	$(call _need,PORT,/dev/ttyUSB0)
	$(BIN)/python -m tools.deploy --port $(PORT) $(if $(BOARD),--board $(BOARD)) $(_dry)

# CONFIG names the file to write (private/ is git-ignored: the file holds the token);
# UPLOAD=file checks an existing one and copies it, with its CA, to PORT.
config: setup ## write private/config.json by questions ([PORT=] [CONFIG=]), or UPLOAD=file PORT=
	$(BIN)/python -m tools.provision $(if $(UPLOAD),--upload $(UPLOAD),--out $(or $(CONFIG),private/config.json)) $(if $(PORT),--port $(PORT))

monitor: setup ## the board's console, live; never interrupts the node (PORT=)
	$(call _need,PORT,/dev/ttyUSB0)
	$(BIN)/python -m tools.monitor watch --port $(PORT)

logs: setup ## health, log tail, spool and dead letters of the node (PORT=)
	$(call _need,PORT,/dev/ttyUSB0)
	$(BIN)/python -m tools.monitor logs --port $(PORT)
