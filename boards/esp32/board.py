"""Board support for a real ESP32: the only module that touches machine/network/esp32.

The firmware sees the same small API as on the emulated board (boards/unix):
flash paths, reset cause, a Unix-epoch clock, RTC memory, ADC, I2C, 1-Wire, link,
watchdog and sleep. Deployed to the device root next to boot.py. Pins, LED and power
mode come from the validated config (lib/boardmodels.BOARD_MODELS plus the config's
overrides) through configure(), which the node calls at the start of every wake; they
are kept in RTC memory too, so that what runs before configure() (a crash's sleep) knows them.

RTC slow memory (2048 bytes): the firmware's rtcstate in bytes 0-63 (it uses 50), the
board's own checksummed record at 64: power mode, LED, the access point's BSSID and
channel (docs/hardware.md).
"""

import struct
import time
from binascii import crc32

import machine
from micropython import const

from clock import EPOCH

NAME = "esp32"
FLASH = ""
DATA_DIR = "/data"
CONFIG_PATH = "/config.json"
RTC_MEMORY_SIZE = 2048
SAFE_MODE_GRACE_MS = 1500  # after a reset: time to press BOOT (a strapping pin)


def _vfs_bytes():
    import esp32

    parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    return parts[0].info()[3] if parts else 2 * 1024 * 1024


FLASH_BYTES = _vfs_bytes()  # the littlefs partition (2 MiB on a 4 MB board)
# port seconds - this = node seconds (clock.py): the ESP32 counts from 2000, so a small int
_TO_NODE = EPOCH - (946684800 if time.gmtime(0)[0] == 2000 else 0)

_CAUSES = {
    machine.PWRON_RESET: "power_on",
    machine.HARD_RESET: "power_on",
    machine.DEEPSLEEP_RESET: "deep_sleep",
    machine.WDT_RESET: "watchdog",
    machine.SOFT_RESET: "soft",
}
_NODE = const(64)  # RTC bytes 0-63 are the firmware's (rtcstate.py)
_REC = "<HBBBB6sI"  # magic, mains, LED pin (255: none), LED active low, channel, BSSID, SSID crc
_REC_SIZE = const(16)
_MAGIC = const(0x5342)
_NO_LED = const(255)
_FAST_MS = const(4000)  # a cached access point that does not answer in this is dropped
_NAP_MS = const(30000)  # light-sleep slice on mains, well inside the watchdog's 120 s
_rtc = bytearray(_NODE + _REC_SIZE + 4)
_wlan = None
_wdt = None
_i2c_spec = None


def _load_rtc():
    """Mirror RTC memory; a record failing its checksum (power cut) reads as defaults."""
    mem = machine.RTC().memory()
    n = min(len(mem), len(_rtc))
    _rtc[:n] = mem[:n]
    rec = memoryview(_rtc)[_NODE:]
    ok = struct.unpack_from("<I", rec, _REC_SIZE)[0] == crc32(rec[:_REC_SIZE])
    if not ok or struct.unpack_from("<H", rec, 0)[0] != _MAGIC:
        struct.pack_into(_REC, rec, 0, _MAGIC, 0, _NO_LED, 0, 0, b"", 0)


def _record():
    """(mains, LED pin, LED active low, channel, BSSID, SSID crc)."""
    return struct.unpack_from(_REC, _rtc, _NODE)[1:]


def _store(mains, led, low, channel, bssid, tag):
    rec = memoryview(_rtc)[_NODE:]
    struct.pack_into(_REC, rec, 0, _MAGIC, mains, led, low, channel, bssid, tag)
    struct.pack_into("<I", rec, _REC_SIZE, crc32(rec[:_REC_SIZE]))
    machine.RTC().memory(_rtc)


_load_rtc()


def configure(cfg):
    """Take the config's LED and power mode (kept in RTC memory for later wakes)."""
    _, _, _, channel, bssid, tag = _record()
    led = cfg["pins"]["led"]
    _store(cfg["power"] == "mains", _NO_LED if led is None else led,
           cfg["led_active_low"], channel, bssid, tag)


def reset_cause():
    return _CAUSES.get(machine.reset_cause(), "power_on")


def now():
    """Node seconds (clock.py), from the RTC."""
    return time.time() - _TO_NODE


def rtc_memory(data=None):
    """Read or replace the firmware's part of RTC memory (64 bytes at most)."""
    if data is None:
        return bytes(_rtc[:_NODE])
    if len(data) > _NODE:
        raise ValueError("the firmware's RTC memory holds %d bytes" % _NODE)
    _rtc[: len(data)] = data
    _rtc[len(data) : _NODE] = bytes(_NODE - len(data))
    machine.RTC().memory(_rtc)


def adc(pin):
    """ADC1 pins only: ADC2 cannot be read while Wi-Fi is on. 11 dB: 150-2450 mV linear,
    read_uv() calibrated from eFuse (MicroPython docs/esp32/quickref.rst, "ADC")."""
    return machine.ADC(machine.Pin(pin), atten=machine.ADC.ATTN_11DB)


def i2c(spec):
    """The config's I2C bus (hardware I2C 0, or SoftI2C when spec["soft"]), freed first
    when a sensor still holds SDA low from a reset in the middle of a transfer."""
    global _i2c_spec
    _i2c_spec = spec
    _unstick(spec)
    scl, sda = machine.Pin(spec["scl"]), machine.Pin(spec["sda"])
    if spec["soft"]:
        return machine.SoftI2C(scl=scl, sda=sda, freq=spec["freq"])
    return machine.I2C(0, scl=scl, sda=sda, freq=spec["freq"])


def i2c_recover(bus):
    """After a timeout: clock a stuck sensor free, then set the bus up again in place
    (the drivers hold it; hardware I2C objects are static, I2C(0, ...) re-inits it)."""
    spec = _i2c_spec
    _unstick(spec)
    scl, sda = machine.Pin(spec["scl"]), machine.Pin(spec["sda"])
    if spec["soft"]:
        bus.init(scl=scl, sda=sda, freq=spec["freq"])
    else:
        machine.I2C(0, scl=scl, sda=sda, freq=spec["freq"])


def _unstick(spec):
    """I2C bus clear (NXP UM10204 §3.1.16): with SDA held low, clock SCL up to 9 times
    until the device lets go, then a STOP, which no MicroPython API does."""
    sda = machine.Pin(spec["sda"], machine.Pin.IN, machine.Pin.PULL_UP)
    if sda.value():
        return
    scl = machine.Pin(spec["scl"], machine.Pin.OPEN_DRAIN, value=1)
    for _ in range(9):
        scl.value(0)
        time.sleep_us(5)
        scl.value(1)
        time.sleep_us(5)
        if sda.value():
            break
    sda.init(machine.Pin.OPEN_DRAIN, value=0)  # STOP: SDA rises while SCL is high
    time.sleep_us(5)
    sda.value(1)


def onewire(pin):
    """A 1-Wire bus on `pin` (micropython-lib onewire, frozen in the ESP32 firmware)."""
    import onewire

    return onewire.OneWire(machine.Pin(pin))


def sensor_driver(name):
    return None  # no board-only drivers: everything real lives in lib/drivers


def link_up(wifi):
    """Join the access point within wifi.timeout_s: wlan.connect() has no timeout and
    retries for ever (ports/esp32/network_wlan.c), hence our own deadline. The access point joined last
    (BSSID and channel, in RTC memory) is tried first for a few seconds; without it, or
    when it fails, a scan picks the strongest access point of the SSID, and is cached."""
    global _wlan
    import network

    _wlan = w = network.WLAN(network.STA_IF)
    w.active(True)
    if w.isconnected():
        return
    w.config(reconnects=2)
    ssid, key = wifi["ssid"], wifi["password"]
    name = ssid.encode()
    deadline = time.ticks_add(time.ticks_ms(), int(wifi["timeout_s"] * 1000))
    mains, led, low, channel, bssid, tag = _record()
    if channel and tag == crc32(name):
        _tune(w, channel)
        w.connect(ssid, key, bssid=bssid)
        fast = time.ticks_add(time.ticks_ms(), _FAST_MS)
        if _joined(w, fast if time.ticks_diff(deadline, fast) > 0 else deadline):
            return
        w.disconnect()  # connect() while connecting: "Wifi Internal Error" (ports/esp32/network_wlan.c)
        _store(mains, led, low, 0, b"", 0)
    best = None
    for found in w.scan():
        if found[0] == name and (best is None or found[3] > best[3]):
            best = found
    if best is None:  # hidden, or out of range: let the driver look
        w.connect(ssid, key)
    else:
        w.connect(ssid, key, bssid=best[1])
    if _joined(w, deadline):
        if best is not None:
            _store(mains, led, low, best[2], best[1], crc32(name))
        return
    status = w.status()
    link_down()
    raise OSError("Wi-Fi: no connection to %r within %d s (status %s)"
                  % (ssid, wifi["timeout_s"], status))


def _tune(w, channel):
    try:
        w.config(channel=channel)  # esp_wifi_set_channel: start on the cached channel
    except (OSError, ValueError):
        pass


def _joined(w, deadline):
    while not w.isconnected():
        if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
            return False
        if _wdt is not None:  # wifi.timeout_s may be as long as the watchdog's
            _wdt.feed()
        time.sleep_ms(50)
    return True


def rssi():
    """Signal strength of the access point in dBm, None when not connected."""
    try:
        return _wlan.status("rssi")
    except (AttributeError, OSError):
        return None


def sync_time(host, timeout_s):
    """Set the RTC from NTP; returns the seconds it was behind (TLS needs the date)."""
    import ntptime

    ntptime.host = host
    ntptime.timeout = timeout_s
    before = now()
    t = ntptime.time()  # seconds in this port's epoch
    tm = time.gmtime(t)
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))
    return t - _TO_NODE - before


def alert(code):
    """Blink the status LED `code` times (0: off); a sign that needs a human."""
    _, led, low = _record()[:3]
    if led == _NO_LED:
        return
    pin = machine.Pin(led, machine.Pin.OUT, value=low)
    for _ in range(code):
        pin.value(not low)
        time.sleep_ms(150)
        pin.value(low)
        time.sleep_ms(250)


def link_down():
    """Radio off: it is the battery's biggest cost."""
    if _wlan is not None:
        _wlan.disconnect()
        _wlan.active(False)


def safe_mode_requested(pin):
    """The safe-mode pin pulled low (to GND) at boot."""
    return pin is not None and machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0


def watchdog(timeout_ms):
    """machine.WDT cannot be stopped and does not outlive deep sleep: made every wake."""
    global _wdt
    _wdt = machine.WDT(timeout=timeout_ms)
    return _wdt


def report(figures):
    """A wake's figures: on a board the console line and the health readings carry them."""


def deepsleep(ms):
    """Sleep until the next cycle. On battery: deep sleep, the chip resets on waking. On
    mains: light sleep in slices, feeding the watchdog, then a soft reset runs the next
    cycle with a clean heap (RTC memory and the Wi-Fi driver survive it: ports/esp32/main.c)."""
    if not _record()[0]:
        machine.deepsleep(ms)  # never returns
    end = time.ticks_add(time.ticks_ms(), ms)
    left = ms
    while left > 0:
        machine.lightsleep(min(left, _NAP_MS))
        if _wdt is not None:
            _wdt.feed()
        left = time.ticks_diff(end, time.ticks_ms())
    machine.soft_reset()


def repl():
    pass  # main.py returning is enough: the REPL runs on the UART
