"""Board support for a real ESP32: the only module that touches machine/network/esp32.

The firmware sees the same small API as on the emulated board (boards/unix):
flash paths, reset cause, a Unix-epoch clock, RTC memory, ADC, I2C, link, watchdog
and deep sleep. Deployed to the device root next to boot.py.
"""

import time

import machine

NAME = "esp32"
FLASH = ""
DATA_DIR = "/data"
CONFIG_PATH = "/config.json"
RTC_MEMORY_SIZE = 2048
LED_PIN = 2  # the DevKitC's blue LED; None on boards without one


def _vfs_bytes():
    import esp32

    parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    return parts[0].info()[3] if parts else 2 * 1024 * 1024


FLASH_BYTES = _vfs_bytes()  # the littlefs partition (2 MiB on a 4 MB board)
_EPOCH = 946684800 if time.gmtime(0)[0] == 2000 else 0  # ESP32 counts from 2000

_CAUSES = {
    machine.PWRON_RESET: "power_on",
    machine.HARD_RESET: "power_on",
    machine.DEEPSLEEP_RESET: "deep_sleep",
    machine.WDT_RESET: "watchdog",
    machine.SOFT_RESET: "soft",
}
_wlan = None


def reset_cause():
    return _CAUSES.get(machine.reset_cause(), "power_on")


def now():
    """Unix seconds (the port's own epoch is 2000)."""
    return time.time() + _EPOCH


def rtc_memory(data=None):
    rtc = machine.RTC()
    if data is None:
        return rtc.memory()
    rtc.memory(data)


def adc(pin):
    """ADC1 pins only (32-39): ADC2 cannot be read while Wi-Fi is on."""
    return machine.ADC(machine.Pin(pin), atten=machine.ADC.ATTN_11DB)


def sensor_driver(name):
    return None  # no board-only drivers: everything real lives in lib/drivers


def link_up(wifi):
    """Join the access point within wifi.timeout_s.

    wlan.connect() has no timeout and retries for ever, hence our own deadline.
    """
    global _wlan
    import network

    _wlan = network.WLAN(network.STA_IF)
    _wlan.active(True)
    if not _wlan.isconnected():
        _wlan.config(reconnects=2)
        _wlan.connect(wifi["ssid"], wifi["password"])
        deadline = time.ticks_add(time.ticks_ms(), int(wifi["timeout_s"] * 1000))
        while not _wlan.isconnected():
            if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                status = _wlan.status()
                link_down()
                raise OSError("Wi-Fi: no connection to %r within %d s (status %s)"
                              % (wifi["ssid"], wifi["timeout_s"], status))
            time.sleep_ms(100)


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
    return t + _EPOCH - before


def alert(code):
    """Blink the status LED `code` times (0: off); a sign that needs a human."""
    if LED_PIN is None:
        return
    led = machine.Pin(LED_PIN, machine.Pin.OUT)
    for _ in range(code):
        led.value(1)
        time.sleep_ms(150)
        led.value(0)
        time.sleep_ms(250)


def link_down():
    if _wlan is not None:
        _wlan.disconnect()
        _wlan.active(False)


def safe_mode_requested(pin):
    """The safe-mode pin pulled low (to GND) at boot."""
    return pin is not None and machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0


def watchdog(timeout_ms):
    return machine.WDT(timeout=timeout_ms)


def soft_reset():
    machine.soft_reset()


def deepsleep(ms):
    machine.deepsleep(ms)


def repl():
    pass  # main.py returning is enough: the REPL runs on the UART
