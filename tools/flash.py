"""Host tool (CPython): erase an ESP32 and write a MicroPython firmware image with esptool v5.

    python -m tools.flash --port /dev/ttyUSB0 --firmware ESP32_GENERIC-v1.28.0.bin
        [--chip esp32|esp32s2|esp32s3|esp32c3|esp32c6] [--baud 460800] [--dry-run]

The chip is asked of the board (esptool's detect_chip) unless --chip names it; the
image is written at that chip's offset (0x1000 on the ESP32 and ESP32-S2, whose
bootloader sits after a 4 KiB gap; 0x0 on the S3, C3 and C6), as the MicroPython
download page says. The image's own header names the chip it was built for, so a
firmware for another chip is refused before anything is erased. --dry-run prints the
esptool commands and runs nothing (it still asks the board its chip without --chip).
Then: `make deploy PORT=...` and `make config PORT=...`.
"""

import shlex
import struct
import subprocess
import sys
from pathlib import Path

from tools import cli
from tools.session import DeviceError

OFFSETS = {"esp32": 0x1000, "esp32s2": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0, "esp32c6": 0x0}
# esptool's CHIP_NAME -> its --chip name, and the chip id an image header carries
CHIP_NAMES = {"ESP32": "esp32", "ESP32-S2": "esp32s2", "ESP32-S3": "esp32s3",
              "ESP32-C3": "esp32c3", "ESP32-C6": "esp32c6"}
IMAGE_CHIP_IDS = {0: "esp32", 2: "esp32s2", 9: "esp32s3", 5: "esp32c3", 13: "esp32c6"}
_IMAGE_MAGIC = 0xE9


def esptool_cmd():
    exe = Path(sys.executable).parent / "esptool"
    return str(exe) if exe.exists() else "esptool"


def image_chip(firmware):
    """The chip an ESP-IDF image was built for (its extended header), or None if unsure."""
    with open(firmware, "rb") as f:
        head = f.read(16)
    if len(head) < 16 or head[0] != _IMAGE_MAGIC:
        return None
    return IMAGE_CHIP_IDS.get(struct.unpack_from("<H", head, 12)[0])


def detect_chip(port):
    """Ask the ROM bootloader which chip is on `port` (esptool resets it into it)."""
    try:
        from esptool.cmds import detect_chip as esptool_detect
    except ImportError:
        raise DeviceError("esptool is not installed (run `make setup`)") from None
    try:
        with esptool_detect(port) as esp:
            name = esp.CHIP_NAME
    except Exception as e:  # esptool raises its own FatalError and serial errors
        raise DeviceError("cannot ask the chip on %s: %s (give CHIP=esp32|esp32s3|...)"
                          % (port, str(e).splitlines()[0] if str(e) else type(e).__name__)
                          ) from None
    if name not in CHIP_NAMES:
        raise DeviceError("%s is an %s: MicroPython images for it are not supported here"
                          % (port, name))
    return CHIP_NAMES[name]


def commands(port, chip, firmware, baud=460800):
    """The esptool command lines: erase the whole flash, then write the image."""
    if chip not in OFFSETS:
        raise DeviceError("unknown chip %r (known: %s)" % (chip, ", ".join(OFFSETS)))
    base = [esptool_cmd(), "--chip", chip, "--port", port]
    return [base + ["erase-flash"],
            base + ["--baud", str(baud), "write-flash", "0x%x" % OFFSETS[chip], str(firmware)]]


def flash(port, firmware, chip=None, baud=460800, dry_run=False, out=print):
    if not Path(firmware).is_file():
        raise DeviceError("firmware image %s not found (download one from micropython.org/"
                          "download, e.g. ESP32_GENERIC)" % firmware)
    with open(firmware, "rb") as f:
        if f.read(1) != bytes((_IMAGE_MAGIC,)):
            raise DeviceError("%s is not an ESP32 firmware image (a .bin starting with 0xE9; "
                              "not a .uf2, .hex, .elf or zip); nothing was erased" % firmware)
    chip = chip or detect_chip(port)
    built_for = image_chip(firmware)
    if built_for and built_for != chip:
        raise DeviceError("%s is built for %s but the board is an %s; nothing was erased"
                          % (firmware, built_for, chip))
    for cmd in commands(port, chip, firmware, baud):
        out(shlex.join([cli.shown(cmd[0])] + cmd[1:]))
        if not dry_run and subprocess.run(cmd).returncode:
            raise DeviceError("esptool failed (see above); if writing stopped midway, retry "
                              "slower: make flash ... BAUD=115200 (or --baud 115200)")
    return 0


def main(argv=None):
    ap = cli.Parser(prog="flash", description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", required=True)
    ap.add_argument("--firmware", required=True, type=cli.existing_file,
                    help="the MicroPython .bin for the chip")
    ap.add_argument("--chip", choices=sorted(OFFSETS), help="default: ask the board")
    ap.add_argument("--baud", type=cli.int_between(9600, 5000000), default=460800,
                    help="write speed (default 460800; 115200 if writing stops midway)")
    ap.add_argument("--dry-run", action="store_true", help="print the esptool commands only")
    args = ap.parse_args(argv)
    return cli.run_tool("flash", lambda: flash(args.port, args.firmware, args.chip, args.baud,
                                               args.dry_run))


if __name__ == "__main__":
    sys.exit(main())
