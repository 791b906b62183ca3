# Device tests (MicroPython): node seconds, ISO 8601 timestamps and HTTP dates.
import gc

import micropython

import clock

E = clock.EPOCH  # Unix seconds of node time 0


def test_epoch_is_2025_and_node_times_stay_small_ints_until_2059():
    assert clock.iso(0) == "2025-01-01T00:00:00Z"
    assert clock.iso(0x3FFFFFFF) == "2059-01-10T13:37:03Z"  # the largest small int
    assert clock.iso(-0x3FFFFFFF) == "1990-12-23T10:22:57Z"
    assert clock.iso(946684800 - E) == "2000-01-01T00:00:00Z"  # a cold-booted ESP32's RTC
    assert not clock.valid(946684800 - E) and not clock.valid(-1) and clock.valid(0)


def test_iso_known_instants():
    assert clock.iso(951782400 - E) == "2000-02-29T00:00:00Z"
    assert clock.iso(1795751875 - E) == "2026-11-27T03:57:55Z"
    assert clock.iso(4102444799 - E) == "2099-12-31T23:59:59Z"


def test_write_iso_agrees_with_days_from_civil_every_8th_day_from_1990_to_2059():
    buf = bytearray(clock.ISO_LEN)
    t = -0x3FFFFFFF // 86400 * 86400 + 86400
    while t < 0x3FFFFFFF - 86400:
        clock.write_iso(buf, 0, t + 3723)
        assert buf[10:] == b"T01:02:03Z", buf
        y, m, d = int(buf[0:4]), int(buf[5:7]), int(buf[8:10])
        assert (clock.days_from_civil(y, m, d) - 20089) * 86400 == t
        t += 86400 * 8


def test_write_iso_into_buffer_at_offset():
    buf = bytearray(b"x" * 24)
    end = clock.write_iso(buf, 2, 1234567890 - E)
    assert end == 22
    assert bytes(buf) == b"xx2009-02-13T23:31:30Zxx"


def write_many(buf, times):
    for t in times:
        clock.write_iso(buf, 0, t)


def test_write_iso_allocates_nothing():
    buf = bytearray(clock.ISO_LEN)
    times = (0, 60061400, 0x3FFFFFFF, -0x3FFFFFFF + 86400, 946684800 - E)
    write_many(buf, times)
    gc.collect()
    micropython.heap_lock()
    try:
        write_many(buf, times)
    finally:
        micropython.heap_unlock()


def test_parse_http_date():
    assert clock.parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777 - E
    assert clock.parse_http_date("Wed, 01 Jan 2025 00:00:10 GMT") == 10
    assert clock.parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC") is None
    assert clock.parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT") is None
    assert clock.parse_http_date("Sun, 06 Nov 1994 08:4x:37 GMT") is None
    assert clock.parse_http_date("") is None
