# Device tests (MicroPython): boards/esp32/board.py itself, run on the unix port over
# stand-ins for machine, network, esp32, ntptime and the ESP32's time module (2000
# epoch, ticks wrapping at 2^30 ms, a virtual clock that sleeps take no real time).
# The stand-ins record what the board asks of the hardware; the tests check it against
# what the ESP32 port does (MicroPython's ports/esp32: machine_adc.c, machine_wdt.c, modmachine.c, network_wlan.c).
import sys

import utime

# boards/esp32 is not in the unix build: the board is compiled from its source here
HEAP = "node"  # a phase of the node's wake: see tests/conftest.py
ROOT = [p for p in sys.path if p.endswith("/.build/tests")][0][: -len("/.build/tests")]
_PERIOD = 1 << 30


class Stop(Exception):
    """machine.deepsleep() and soft_reset() do not return."""


class Hw:
    """Everything the stand-ins share: clock, RTC memory, pins, Wi-Fi, calls made."""

    def __init__(self):
        self.ms = _PERIOD - 1500  # the ticks wrap 1.5 s into the test
        self.rtc_s = 849075864  # 2026-11-27T06:24:24Z in seconds since 2000
        self.rtc_mem = b""
        self.calls = []
        self.levels = {}  # pin -> level the outside world pulls it to
        self.sda, self.scl, self.held = 21, 22, 0  # a device holds SDA for `held` clocks
        self.scl_level = 1
        self.aps = []  # (ssid, bssid, channel, rssi)
        self.accept = set()  # BSSIDs that let us join
        self.cause = 4


hw = Hw()


class Time:
    def ticks_ms(self):
        return hw.ms % _PERIOD

    def ticks_add(self, t, d):
        return (t + d) % _PERIOD

    def ticks_diff(self, a, b):
        return (a - b + _PERIOD // 2) % _PERIOD - _PERIOD // 2

    def sleep_ms(self, ms):
        hw.ms += ms

    def sleep_us(self, us):
        pass

    def time(self):
        return hw.rtc_s

    def gmtime(self, t=None):
        return utime.gmtime((hw.rtc_s if t is None else t) + 946684800)


class Pin:
    IN, OUT, OPEN_DRAIN, PULL_UP = 1, 3, 7, 2

    def __init__(self, pin, mode=-1, pull=-1, value=None):
        self.pin = pin
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if self.pin == hw.sda and hw.held:
                return 0
            return hw.levels.get(self.pin, 1)
        if self.pin == hw.scl:
            if v and not hw.scl_level and hw.held:
                hw.held -= 1  # a rising SCL edge: one more bit clocked out of the device
            hw.scl_level = int(bool(v))
        hw.calls.append(("pin", self.pin, int(bool(v))))
        return None


class ADC:
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        hw.calls.append(("adc", pin.pin, atten))


class I2C:
    def __init__(self, id, scl=None, sda=None, freq=None):
        hw.calls.append(("i2c", id, scl.pin, sda.pin, freq))


class SoftI2C:
    def __init__(self, scl=None, sda=None, freq=None):
        hw.calls.append(("softi2c", scl.pin, sda.pin, freq))

    def init(self, scl=None, sda=None, freq=None):
        hw.calls.append(("softi2c.init", scl.pin, sda.pin, freq))


class RTC:
    def memory(self, data=None):
        if data is None:
            return hw.rtc_mem
        assert len(data) <= 2048
        hw.rtc_mem = bytes(data)
        return None

    def datetime(self, dt):
        hw.calls.append(("datetime", dt))


class WDT:
    def __init__(self, timeout=5000):
        hw.calls.append(("wdt", timeout))

    def feed(self):
        hw.calls.append(("feed",))


class Machine:
    PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
    Pin, ADC, I2C, SoftI2C, RTC, WDT = Pin, ADC, I2C, SoftI2C, RTC, WDT

    def reset_cause(self):
        return hw.cause

    def deepsleep(self, ms):
        hw.calls.append(("deepsleep", ms))
        raise Stop()

    def lightsleep(self, ms):
        hw.calls.append(("lightsleep", ms))
        hw.ms += ms

    def soft_reset(self):
        hw.calls.append(("soft_reset",))
        raise Stop()


class WLAN:
    def __init__(self, iface):
        self.on = False
        self.joined = None

    def active(self, on=None):
        if on is not None:
            self.on = on
            hw.calls.append(("active", on))
        return self.on

    def isconnected(self):
        return self.joined is not None

    def config(self, *args, **kw):
        hw.calls.append(("config", kw))

    def scan(self):
        hw.calls.append(("scan",))
        hw.ms += 2000  # a scan of every channel takes time
        return [(s.encode(), b, c, r, 3, False) for s, b, c, r in hw.aps]

    def connect(self, ssid, key, bssid=None):
        assert self.joined is None, "Wifi Internal Error"  # ports/esp32/network_wlan.c
        hw.calls.append(("connect", ssid, bssid))
        for s, b, _, _ in hw.aps:
            if s == ssid and b in hw.accept and bssid in (None, b):
                self.joined = b

    def disconnect(self):
        self.joined = None

    def status(self, what=None):
        return -62 if what == "rssi" else 201


class Partition:
    TYPE_DATA = 1

    @staticmethod
    def find(kind, label=None):
        return []


def module(**attrs):
    class M:
        pass

    m = M()
    for k, v in attrs.items():
        setattr(m, k, v)
    return m


def ntp_time():
    return hw.rtc_s + 3600  # the RTC is an hour behind


def fake_onewire(pin):
    return ("onewire", pin.pin)


def boot():
    """Import the board as a wake does (its RTC memory kept)."""
    sys.modules["time"] = Time()
    sys.modules["machine"] = Machine()
    sys.modules["network"] = module(WLAN=WLAN, STA_IF=0)
    sys.modules["esp32"] = module(Partition=Partition)
    sys.modules["ntptime"] = module(time=ntp_time, host="", timeout=1)
    sys.modules["onewire"] = module(OneWire=fake_onewire)
    sys.modules.pop("board", None)
    if ROOT + "/boards/esp32" not in sys.path:
        sys.path.insert(0, ROOT + "/boards/esp32")
    import board

    hw.calls = []
    return board


def config(power="battery", led=None, low=False):
    return {"pins": {"sda": 21, "scl": 22, "led": led, "button": 0}, "power": power,
            "led_active_low": low}


def calls(kind):
    return [c[1:] for c in hw.calls if c[0] == kind]


def test_names_and_the_2000_epoch_clock():
    board = boot()
    for name in ("reset_cause", "now", "rtc_memory", "adc", "sensor_driver", "link_up",
                 "link_down", "rssi", "sync_time", "alert", "safe_mode_requested", "watchdog",
                 "deepsleep", "repl", "i2c", "i2c_recover", "onewire", "configure"):
        assert callable(getattr(board, name)), name
    assert (board.NAME, board.FLASH, board.DATA_DIR, board.CONFIG_PATH) == (
        "esp32", "", "/data", "/config.json")
    assert board.FLASH_BYTES == 2 * 1024 * 1024 and board.RTC_MEMORY_SIZE == 2048
    assert board.reset_cause() == "deep_sleep"
    assert board.now() == 1795760664 - 1735689600  # node seconds from the port's 2000 ones
    assert board.sync_time("pool.ntp.org", 2) == 3600
    assert calls("datetime") == [((2026, 11, 27, 5, 7, 24, 24, 0),)]  # weekday 1-7: Friday


def test_firmware_rtc_state_and_the_board_record_live_side_by_side():
    board = boot()
    import rtcstate

    st = rtcstate.RtcState()
    st.cycle, st.next_upload = 7, 60070400
    st.save(board)
    board.configure(config("mains", 5, True))
    assert 64 < len(hw.rtc_mem) <= 128
    board = boot()  # deep sleep: RTC memory kept, the interpreter new
    assert rtcstate.RtcState.load(board).cycle == 7 and board._record()[:3] == (1, 5, 1)
    st.cycle = 8
    st.save(board)
    assert board._record()[:3] == (1, 5, 1) and len(board.rtc_memory()) == 64
    try:
        board.rtc_memory(bytes(65))
        raise AssertionError("the firmware's region is 64 bytes")
    except ValueError:
        pass
    hw.rtc_mem = hw.rtc_mem[:70] + b"\xff" + hw.rtc_mem[71:]  # a corrupt record
    board = boot()
    assert board._record()[:3] == (0, 255, 0) and rtcstate.RtcState.load(board).cycle == 8


def test_adc_is_11_db_and_i2c_clears_a_stuck_bus():
    board = boot()
    board.adc(35)
    assert calls("adc") == [(35, 3)]
    spec = {"sda": 21, "scl": 22, "freq": 100000, "soft": False}
    board.i2c(spec)
    assert calls("pin") == [] and calls("i2c") == [(0, 22, 21, 100000)]  # SDA was high
    hw.calls, hw.held = [], 3  # a sensor reset mid-byte holds SDA for 3 more clocks
    board.i2c_recover(None)
    scl = [v for p, v in calls("pin") if p == 22]
    sda = [v for p, v in calls("pin") if p == 21]
    assert scl == [1] + [0, 1] * 3 and sda == [0, 1]  # 3 clocks, then the STOP
    assert calls("i2c") == [(0, 22, 21, 100000)]  # the same static bus, set up again
    hw.calls, hw.held = [], 99  # held for ever: 9 clocks, no more
    bus = board.i2c(dict(spec, soft=True))
    assert [v for p, v in calls("pin") if p == 22].count(0) == 9
    assert calls("softi2c") == [(22, 21, 100000)]
    hw.held = 0
    board.i2c_recover(bus)
    assert calls("softi2c.init") == [(22, 21, 100000)]
    assert board.onewire(4) == ("onewire", 4)


def test_wifi_joins_the_strongest_ap_then_reconnects_fast_from_rtc_memory():
    hw.aps = [("home", b"AAAAAA", 1, -80), ("home", b"BBBBBB", 6, -50), ("else", b"CCCCCC", 11, -30)]
    hw.accept = {b"AAAAAA", b"BBBBBB"}
    wifi = {"ssid": "home", "password": "pw", "timeout_s": 20}
    board = boot()
    board.link_up(wifi)
    assert calls("scan") == [()] and calls("connect") == [("home", b"BBBBBB")]
    board.link_down()
    board = boot()  # the next wake: no scan, the cached channel and BSSID
    t0 = hw.ms
    board.link_up(wifi)
    assert calls("scan") == [] and calls("connect") == [("home", b"BBBBBB")]
    assert ({"channel": 6},) in calls("config") and hw.ms - t0 < 200
    # the access point is gone: the cache is tried for a few seconds, then a scan
    hw.aps, hw.accept = [hw.aps[0], hw.aps[2]], {b"AAAAAA"}
    board.link_down()
    board = boot()
    t0 = hw.ms
    board.link_up(wifi)
    assert calls("connect") == [("home", b"BBBBBB"), ("home", b"AAAAAA")]
    assert calls("scan") == [()] and 4000 <= hw.ms - t0 < 7000
    board.link_down()
    board = boot()
    board.link_up(wifi)
    assert calls("scan") == [] and board._record()[3:5] == (1, b"AAAAAA")
    board.link_down()
    # another network: the cache is not for it; nothing answers: OSError at the deadline
    board = boot()
    t0 = hw.ms
    try:
        board.link_up({"ssid": "away", "password": "pw", "timeout_s": 5})
        raise AssertionError("joined nothing")
    except OSError as e:
        assert "no connection to 'away' within 5 s (status 201)" in str(e), e
    assert calls("scan") == [()] and calls("connect") == [("away", None)]
    assert 5000 <= hw.ms - t0 < 5200 and calls("active")[-1] == (False,)  # radio off


def test_deep_sleep_on_battery_light_sleep_on_mains():
    board = boot()
    board.configure(config("battery"))
    try:
        board.deepsleep(90000)
    except Stop:
        pass
    assert calls("deepsleep") == [(90000,)] and calls("lightsleep") == []
    board.configure(config("mains"))
    board = boot()  # the power mode is kept in RTC memory
    board.watchdog(120000)
    try:
        board.deepsleep(70000)
    except Stop:
        pass
    assert calls("lightsleep") == [(30000,), (30000,), (10000,)]  # the ticks wrapped meanwhile
    assert calls("feed") == [()] * 3 and calls("soft_reset") == [()] and calls("deepsleep") == []


def test_led_blinks_at_its_active_level_and_the_safe_mode_pin_is_read_pulled_up():
    board = boot()
    board.alert(3)  # no LED known yet
    assert calls("pin") == []
    board.configure(config(led=5, low=True))
    hw.calls = []
    board.alert(2)
    assert calls("pin") == [(5, 1), (5, 0), (5, 1), (5, 0), (5, 1)]  # off, then 2 blinks
    assert not board.safe_mode_requested(0) and not board.safe_mode_requested(None)
    hw.levels[0] = 0
    assert board.safe_mode_requested(0)
