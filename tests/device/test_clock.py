# Device tests (MicroPython): ISO 8601 timestamps and HTTP dates.
import clock


def test_iso_known_instants():
    assert clock.iso(0) == "1970-01-01T00:00:00Z"
    assert clock.iso(951782400) == "2000-02-29T00:00:00Z"
    assert clock.iso(1795751875) == "2026-11-27T03:57:55Z"
    assert clock.iso(4102444799) == "2099-12-31T23:59:59Z"


def test_civil_round_trips_every_day_for_130_years():
    t = 0
    while t < 4102444800:
        y, m, d, hh, mm, ss = clock.civil(t + 3723)
        assert (hh, mm, ss) == (1, 2, 3)
        assert clock.days_from_civil(y, m, d) * 86400 == t
        t += 86400 * 7 + 86400  # every 8th day keeps the test quick


def test_write_iso_into_buffer_at_offset():
    buf = bytearray(b"x" * 24)
    end = clock.write_iso(buf, 2, 1234567890)
    assert end == 22
    assert bytes(buf) == b"xx2009-02-13T23:31:30Zxx"


def test_parse_http_date():
    assert clock.parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777
    assert clock.parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC") is None
    assert clock.parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT") is None
    assert clock.parse_http_date("Sun, 06 Nov 1994 08:4x:37 GMT") is None
    assert clock.parse_http_date("") is None
