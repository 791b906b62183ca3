# Device tests (MicroPython): the emulated board as an ESP32. SENSOCAN_EPOCH=2000 and
# SENSOCAN_TICKS_WRAP give the firmware the ESP32's time module (seconds from 2000,
# ticks wrapping at 2^30 ms: docs/library/time.rst and py/mpconfig.h), so the firmware's
# clock and ticks math is checked against them; and the simulated buses' defaults.
import errno
import os

import utime  # the unix port's own clock, which the board leaves alone

CLOCK = 1795760664  # 2026-11-27T06:24:24Z: the simulator's clocks are Unix seconds
_2000 = 946684800
EPOCH = 1735689600  # clock.EPOCH: the board gives node seconds, Unix - EPOCH


def boot(**env):
    """The board as a reset with these settings starts it."""
    for k, v in env.items():
        os.putenv(k, str(v))
    try:
        os.mkdir("state")
    except OSError:
        pass
    import board

    return board


def iso(t):
    import clock

    buf = bytearray(clock.ISO_LEN)
    clock.write_iso(buf, 0, t)
    return bytes(buf)


def test_the_2000_epoch_goes_through_the_esp32_boards_conversion():
    board = boot(SENSOCAN_EPOCH=2000, SENSOCAN_CLOCK=CLOCK, SENSOCAN_TRUE_CLOCK=CLOCK + 90)
    import time

    assert time.gmtime(0)[0] == 2000 and board._TO_NODE == EPOCH - _2000
    assert abs(time.time() - (CLOCK - _2000)) <= 1
    assert time.gmtime(time.time())[:3] == (2026, 11, 27)
    assert abs(board.now() - (CLOCK - EPOCH)) <= 1
    assert iso(board.now()).startswith(b"2026-11-27T06:24:2")
    assert board.sync_time("pool.ntp.org", 1) in (89, 90, 91)
    assert abs(board.now() - (CLOCK + 90 - EPOCH)) <= 1
    assert abs(time.time() - (CLOCK + 90 - _2000)) <= 1


def test_an_unset_rtc_reads_2000_and_the_firmware_knows_it_is_unset():
    board = boot(SENSOCAN_EPOCH=2000, SENSOCAN_CLOCK=_2000 + 5)  # 5 s after power-on
    import time

    import clock

    assert time.time() in (5, 6) and board.now() in (_2000 - EPOCH + 5, _2000 - EPOCH + 6)
    assert not clock.valid(board.now()) and iso(board.now()) == b"2000-01-01T00:00:05Z"


def test_ticks_wrap_at_2_30_and_the_clock_runs_on_across_the_wrap():
    board = boot(SENSOCAN_TICKS_WRAP=300, SENSOCAN_CLOCK=CLOCK)
    import time

    t0 = time.ticks_ms()
    assert (1 << 30) - 320 < t0 < 1 << 30
    assert time.ticks_add(t0, 1000) < 1000 and time.ticks_diff(time.ticks_add(t0, 1000), t0) == 1000
    utime.sleep_ms(1200)
    t1 = time.ticks_ms()
    assert t1 < 1500 and 1150 <= time.ticks_diff(t1, t0) <= 1500
    assert time.ticks_diff(t0, t1) < 0  # t0 is before t1, although it is the bigger number
    assert board.now() == CLOCK - EPOCH + 1


def test_a_driver_timeout_measured_across_the_wrap():
    board = boot(SENSOCAN_TICKS_WRAP=300)
    from drivers.ds18b20 import DS18B20

    bus = board.onewire(4)
    bus.inject("short")  # read slots read 0: the conversion never ends
    start = utime.ticks_ms()
    try:
        DS18B20(bus).measure()
        raise AssertionError("no timeout")
    except OSError as e:
        assert e.errno == errno.ETIMEDOUT, e
    took = utime.ticks_diff(utime.ticks_ms(), start)
    assert 1000 <= took < 1500, took  # its 1000 ms limit, wrap or not


def test_default_world_has_a_chip_for_every_driver():
    board = boot()
    bus = board.i2c({"sda": None, "scl": None, "freq": 100000, "soft": False})
    assert bus.scan() == [0x23, 0x44, 0x48, 0x76]  # every I2C driver at its default address
    board.i2c_recover(bus)
    assert bus.recoveries == 1
    ow = board.onewire(4)
    assert len(ow.scan()) == 1 and ow.scan()[0][0] == 0x28
