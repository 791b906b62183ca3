"""The emulated board: the unix port dressed as an ESP32 node.

The simulator (tools/dev/sim.py) plays power supply and world. It passes, in the
environment: SENSOCAN_STATE (state folder: flash.img, rtc.bin, world.json),
SENSOCAN_CONFIG (the config file), SENSOCAN_RESET_CAUSE, SENSOCAN_CLOCK (the RTC's
Unix time at this reset: the simulator's accelerated clock, or 2000-01-01 plus the
uptime after a power-on when it plays a real ESP32's unset RTC; the host clock when
absent) and SENSOCAN_TRUE_CLOCK (what an NTP server would say at this reset).
world.json holds what the simulator switches between runs: {"link": "up"|"down",
"adc": {"34": volts}, "ntp": "ok"|"fail", "rssi": dBm, "link_ms": join time}, and the
sensor chips on the simulated buses (see i2c() and onewire()).
Deep sleep is a process exit; the simulator relaunches the node like a chip reset.
SENSOCAN_EPOCH=2000 and SENSOCAN_TICKS_WRAP=<ms> give the firmware the ESP32's time
module: seconds from 2000, ticks that wrap at 2^30 ms (<ms> before the first wrap).
The flash (littlefs on an image file, flashdev.py) is mounted at /flash by reset.py,
the emulated boot ROM.
"""

import json
import math
import os
import sys
import time

from micropython import const

from clock import EPOCH

NAME = "unix"
STATE = os.getenv("SENSOCAN_STATE") or "state"
FLASH = "/flash"
DATA_DIR = FLASH + "/data"
CONFIG_PATH = os.getenv("SENSOCAN_CONFIG") or FLASH + "/config.json"
FLASH_BYTES = 512 * 4096  # the vfs partition of a 4 MB ESP32
RTC_MEMORY_SIZE = 2048
SAFE_MODE_GRACE_MS = 0  # world.json holds the pin for the whole run: no window needed
_CLOCK = int(os.getenv("SENSOCAN_CLOCK") or time.time())
_TRUE_CLOCK = int(os.getenv("SENSOCAN_TRUE_CLOCK") or _CLOCK)
_2000 = const(946684800)  # 1970-01-01 to 2000-01-01 in seconds
_PERIOD = const(1 << 30)  # ESP32 ticks period: MP_SMALL_INT_POSITIVE_MASK + 1 (py/mpconfig.h)
_PORT_EPOCH = _2000 if os.getenv("SENSOCAN_EPOCH") == "2000" else 0


class _Esp32Time:
    """The ESP32's time module over the unix port's (MicroPython docs/library/time.rst: the ESP32's epoch is 2000; py/mpconfig.h: ticks wrap at 2^30):
    time() counts from 2000 and runs on the board's RTC (SENSOCAN_CLOCK), and the ticks
    wrap at 2^30 ms, so clock and ticks math that only holds on the unix port (1970,
    2^62) fails here as it would on a board. Anything else is the unix port's."""

    def __init__(self, real, wrap_ms):
        self._real = real
        self._tick0 = _PERIOD - wrap_ms - real.ticks_ms() % _PERIOD

    def __getattr__(self, name):
        return getattr(self._real, name)

    def ticks_ms(self):
        return (self._real.ticks_ms() + self._tick0) % _PERIOD

    def ticks_add(self, t, delta):
        return (t + delta) % _PERIOD

    def ticks_diff(self, a, b):
        return (a - b + _PERIOD // 2) % _PERIOD - _PERIOD // 2

    def time(self):
        return _rtc_seconds()

    def gmtime(self, t=None):
        return self._real.gmtime((_rtc_seconds() if t is None else t) + _PORT_EPOCH)


if _PORT_EPOCH or os.getenv("SENSOCAN_TICKS_WRAP"):
    # Installed before the firmware imports time: they all get this one.
    time = sys.modules["time"] = _Esp32Time(time, int(os.getenv("SENSOCAN_TICKS_WRAP") or 0))
del _Esp32Time  # its RAM back when unused: the upload phase needs every KiB
_TICKS = time.ticks_ms()
_TO_NODE = EPOCH - (_2000 if time.gmtime(0)[0] == 2000 else 0)  # the ESP32 board's conversion


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


def configure(cfg):
    """Nothing to set up: the emulated board has no pins to choose."""


def reset_cause():
    """'power_on', 'deep_sleep', 'watchdog' or 'soft': why this run started."""
    return os.getenv("SENSOCAN_RESET_CAUSE") or "power_on"


def _rtc_seconds():
    """The RTC in the port's epoch, as time.time() gives it."""
    return _CLOCK - _PORT_EPOCH + time.ticks_diff(time.ticks_ms(), _TICKS) // 1000


def now():
    """Node seconds (clock.py) from the board's RTC; world.json {"rtc_fault": true}
    breaks it."""
    if _RTC_FAULT:
        raise OSError("RTC: simulated hardware fault")
    return _rtc_seconds() - _TO_NODE  # what time.time() - _TO_NODE gives on the ESP32


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


def i2c(spec):
    """The simulated I2C bus (i2csim) with the chip models of world.json "i2c",
    {"0x76": {"chip": "bme280", "adc": [adc_T, adc_P, adc_H]}, ...} (each model's
    parameters; default: every I2C driver's model at its default address), and the
    faults of "i2c_faults", [["0x44", "timeout", 2], ["0x76", "stuck"], ...], armed. A
    driver's model is chips/<driver>.py, its class named as the driver's; it is made
    when the sampler first talks to it."""
    import i2csim
    from drivers.registry import DRIVERS

    chips = world().get("i2c") or {"0x%02x" % e[3]: {"chip": name}  # one address, two drivers: the later name
                                   for name, e in sorted(DRIVERS.items()) if e[0] == "i2c"}
    bus = i2csim.I2C({}, {int(addr, 16): _maker(DRIVERS, dict(params))
                          for addr, params in chips.items()})
    for fault in world().get("i2c_faults", ()):
        bus.inject(int(fault[0], 16), *fault[1:])
    return bus


def _maker(drivers, params):
    name = params.pop("chip")
    cls = drivers[name][1][1]
    return lambda: getattr(__import__("chips." + name, None, None, (cls,)), cls)(**params)


def i2c_recover(bus):
    """Bus clear (9 SCL clocks, then a STOP): the simulated bus lets go of SDA."""
    bus.recover()


def onewire(pin):
    """A simulated 1-Wire bus: the DS18B20 models of world.json "onewire",
    {"4": [{"raw": 401, "serial": "010000000000"}, ...]} (default: one DS18B20), and the
    faults of "onewire_faults", {"4": [["crc", 1], ...]}, armed."""
    import binascii

    import i2csim
    from chips.ds18b20 import DS18B20

    chips = []
    for params in world().get("onewire", {}).get(str(pin), [{}]):
        params = dict(params)
        if "serial" in params:
            params["serial"] = binascii.unhexlify(params["serial"])
        chips.append(DS18B20(**params))
    bus = i2csim.OneWire(chips)
    for fault in world().get("onewire_faults", {}).get(str(pin), ()):
        bus.inject(*fault)
    return bus


def link_up(wifi):
    """Bring the network up; raises OSError when the simulator has switched it off.
    world.json "link_ms" (default 0: at once) is how long the emulated join takes,
    so the node's wifi_connect_ms and radio_ms figures see a real wait."""
    time.sleep_ms(world().get("link_ms", 0))
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


def report(figures):
    """The wake's figures for the simulator: its Run.figures, what tests check rather than
    the console's wording (node.py's phases; safe mode's reasons; a crash's count)."""
    with open(STATE + "/wake.json", "w") as f:
        json.dump(figures, f)


def deepsleep(ms):
    """Power down for `ms`: tell the simulator how long, then end the process."""
    with open(STATE + "/sleep", "w") as f:
        f.write(str(int(ms)))
    sys.exit(0)


def repl():
    """Leave the REPL usable once main.py returns (safe mode)."""
    os.putenv("MICROPYINSPECT", "1")
