# Freeze the node into a custom MicroPython firmware for the ESP32, so its code runs
# from flash (no .mpy files on the filesystem, more heap) and a corrupt filesystem
# cannot take it down:
#
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/sensocan-node/manifest.py
#
# Then flash the build (make flash FIRMWARE=build-ESP32_GENERIC/firmware.bin) and copy
# only config.json and the CA certificate (make config PORT=...): do not `make deploy`
# on top, files on the filesystem would shadow the frozen root modules.
#
# This replaces the port's board manifest ($(PORT_DIR)/boards/manifest.py) rather than
# including it, to swap its _boot.py for boards/esp32/frozen/_boot.py (which does not
# loop for ever on a corrupt filesystem); everything else of it is kept.

metadata(description="Sensocan sensor node", version="0.1.0")

# The port's own modules, without its _boot.py. The list differs between MicroPython
# versions: a file a version does not have is skipped.
for _name in ("apa106.py", "espnow.py", "flashbdev.py", "inisetup.py", "machine.py"):
    try:
        freeze("$(PORT_DIR)/modules", _name)
    except Exception:  # ManifestFileError: not in this MicroPython version
        pass
freeze("boards/esp32/frozen", "_boot.py")

# As in the port's board manifest.
include("$(MPY_DIR)/extmod/asyncio")
require("bundle-networking")  # ssl, ntptime (the node sets its clock with it), mip, ...
require("aioespnow")
require("dht")
require("ds18x20")
require("neopixel")
require("onewire")
require("umqtt.robust")
require("umqtt.simple")
require("upysh")

# The node, laid out as tools/build.py lays it on the filesystem. boot.py and main.py
# are frozen too: MicroPython runs a frozen boot.py or main.py in place of a file
# (pyexec_file_if_exists), so a flash holding only config.json is a complete node.
freeze("firmware")
freeze("boards/esp32", "board.py")
freeze("boards/esp32", "boardmodels.py")  # in lib/ on a filesystem build (tools/build.py)
freeze("lib")
