"""The emulated board: the unix port dressed as an ESP32 node.

The simulator (tools/sim.py) plays power supply and world. It passes, in the
environment: SENSOCAN_STATE (state folder: flash.img, rtc.bin, world.json),
SENSOCAN_CONFIG (the config file), SENSOCAN_RESET_CAUSE, SENSOCAN_CLOCK (the RTC's
Unix time at this reset: the simulator's accelerated clock, or 2000-01-01 plus the
uptime after a power-on when it plays a real ESP32's unset RTC; the host clock when
absent) and SENSOCAN_TRUE_CLOCK (what an NTP server would say at this reset).
world.json holds what the simulator switches between runs: {"link": "up"|"down",
"adc": {"34": volts}, "ntp": "ok"|"fail", "rssi": dBm}.
Deep sleep is a process exit; the simulator relaunches the node like a chip reset.
The flash (littlefs on an image file, flashdev.py) is mounted at /flash by reset.py,
the emulated boot ROM.
"""

import json
import math
import os
import sys
import time

NAME = "unix"
STATE = os.getenv("SENSOCAN_STATE") or "state"
FLASH = "/flash"
DATA_DIR = FLASH + "/data"
CONFIG_PATH = os.getenv("SENSOCAN_CONFIG") or FLASH + "/config.json"
FLASH_BYTES = 512 * 4096  # the vfs partition of a 4 MB ESP32
RTC_MEMORY_SIZE = 2048
_CLOCK = int(os.getenv("SENSOCAN_CLOCK") or time.time())
_TRUE_CLOCK = int(os.getenv("SENSOCAN_TRUE_CLOCK") or _CLOCK)
_TICKS = time.ticks_ms()


def _load_world():
    try:
        with open(STATE + "/world.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


_WORLD = _load_world()  # the simulator changes it between runs only: read it once
_RTC_FAULT = _WORLD.get("rtc_fault") is True


def world():
    """What the simulator switched: link, ADC volts, simulated faults."""
    return _WORLD


def reset_cause():
    """'power_on', 'deep_sleep', 'watchdog' or 'soft': why this run started."""
    return os.getenv("SENSOCAN_RESET_CAUSE") or "power_on"


def now():
    """Unix seconds from the board's RTC; world.json {"rtc_fault": true} breaks it."""
    if _RTC_FAULT:
        raise OSError("RTC: simulated hardware fault")
    return _CLOCK + time.ticks_diff(time.ticks_ms(), _TICKS) // 1000


def rtc_memory(data=None):
    """Read (no argument) or replace the RTC slow memory; it survives deep sleep only."""
    path = STATE + "/rtc.bin"
    if data is None:
        try:
            with open(path, "rb") as f:
                return f.read(RTC_MEMORY_SIZE)
        except OSError:
            return b""
    if len(data) > RTC_MEMORY_SIZE:
        raise ValueError("RTC memory holds %d bytes" % RTC_MEMORY_SIZE)
    with open(path, "wb") as f:
        f.write(data)


class _ADC:
    """A simulated ADC1 input: world.json override, else a slow deterministic wave."""

    def __init__(self, pin):
        self.pin = pin

    def read_uv(self):
        v = world().get("adc", {}).get(str(self.pin))
        if v is None:
            v = 1.65 + 0.5 * math.sin(2 * math.pi * now() / 3600 + self.pin)
        return int(v * 1000) * 1000  # ESP32 read_uv() has millivolt resolution


def adc(pin):
    return _ADC(pin)


def sensor_driver(name):
    """Board-only sensor drivers (simulated signal sources); None when not ours."""
    import simsensors

    return simsensors.DRIVERS.get(name)


def link_up(wifi):
    """Bring the network up; raises OSError when the simulator has switched it off."""
    if world().get("link", "up") != "up":
        raise OSError("link down (no access point)")


def rssi():
    """Signal strength in dBm of the link (world.json "rssi"), None when unknown."""
    return world().get("rssi", -60)


def sync_time(host, timeout_s):
    """Set the RTC from (emulated) NTP; returns the seconds it was behind. The new
    setting outlives deep sleep: the simulator reads it from the `rtc_set` file."""
    global _CLOCK
    if world().get("ntp", "ok") != "ok":
        raise OSError("NTP: no reply from %s within %g s" % (host, timeout_s))
    behind = _TRUE_CLOCK - _CLOCK
    _CLOCK = _TRUE_CLOCK
    with open(STATE + "/rtc_set", "w") as f:
        f.write("0")  # the RTC is now this many seconds ahead of the true time
    return behind


def alert(code):
    """Show an alert blink code on the status LED (0: off); here a line on stderr."""
    sys.stderr.write("[led] blink code %d\n" % code)


def link_down():
    pass


def safe_mode_requested(pin):
    """The safe-mode pin held at boot; on this board: world.json {"safe_mode_pin": true}."""
    return pin is not None and world().get("safe_mode_pin") is True


class _Watchdog:
    def feed(self):
        pass


def watchdog(timeout_ms):
    """The simulator kills a run that overstays its --wdt limit; nothing to arm here."""
    return _Watchdog()


def soft_reset():
    """Restart the interpreter (RTC memory kept): the simulator relaunches at once."""
    with open(STATE + "/sleep", "w") as f:
        f.write("reset")
    sys.exit(0)


def deepsleep(ms):
    """Power down for `ms`: tell the simulator how long, then end the process."""
    with open(STATE + "/sleep", "w") as f:
        f.write(str(int(ms)))
    sys.exit(0)


def repl():
    """Leave the REPL usable once main.py returns (safe mode)."""
    os.putenv("MICROPYINSPECT", "1")
