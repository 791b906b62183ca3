"""Wall-clock time on the node: node seconds, and ISO 8601 UTC text written in place.

The firmware counts time in node seconds: Unix seconds minus EPOCH (2025-01-01). On an
ESP32 small ints have 31 bits, so a Unix time (1.8e9 in 2027) would be a heap-allocated
long int in every sum and comparison; node seconds stay small ints until 2059, and the
arithmetic here never leaves them (no divmod tuples, no civil() tuple). An RTC that was
never set (a cold-booted ESP32 starts at 2000-01-01) reads as a negative time: valid()
tells it apart, bootsessions.py dates what was stamped with it. Records on flash keep
Unix seconds (spool.py converts), so their format does not depend on this choice.
"""

from micropython import const

EPOCH = const(1735689600)  # Unix seconds of node time 0, 2025-01-01T00:00:00Z
_EPOCH_DAYS = const(20089)  # days from 1970-01-01 to EPOCH
_SHIFT = const(739557)  # days from 0000-03-01 (the algorithm's day 0) to EPOCH
_DAYS_0000_TO_1970 = const(719468)
_DAYS_PER_ERA = const(146097)  # 400 Gregorian years
ISO_LEN = const(20)  # len("2026-11-27T10:00:00Z")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def valid(t):
    """True when node time `t` comes from a set clock, not from a freshly reset RTC."""
    return t >= 0


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a Gregorian date."""
    year -= 1 if month <= 2 else 0
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * _DAYS_PER_ERA + doe - _DAYS_0000_TO_1970


def parse_http_date(s):
    """An IMF-fixdate ('Sun, 06 Nov 1994 08:49:37 GMT') in node seconds, else None."""
    parts = s.split()
    if len(parts) != 6 or parts[5] != "GMT" or parts[2] not in _MONTHS:
        return None
    hms = parts[4].split(":")
    try:
        day, year = int(parts[1]), int(parts[3])
        h, m, sec = int(hms[0]), int(hms[1]), int(hms[2])
    except (ValueError, IndexError):
        return None
    days = days_from_civil(year, _MONTHS.index(parts[2]) + 1, day) - _EPOCH_DAYS
    return days * 86400 + h * 3600 + m * 60 + sec


def _digits(buf, pos, n, width):
    end = pos + width
    i = end
    while i > pos:
        i -= 1
        buf[i] = 48 + n % 10
        n //= 10
    return end


def write_iso(buf, pos, t):
    """Write node time `t` as YYYY-MM-DDTHH:MM:SSZ into `buf` at `pos`; returns the end.
    Allocates nothing: it is on the upload's per-reading path."""
    days = t // 86400
    secs = t - days * 86400
    z = days + _SHIFT  # the civil-from-days algorithm of H. Hinnant, in small ints
    era = z // _DAYS_PER_ERA
    doe = z - era * _DAYS_PER_ERA
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    pos = _digits(buf, pos, yoe + era * 400 + (month <= 2), 4)
    buf[pos] = 45  # -
    pos = _digits(buf, pos + 1, month, 2)
    buf[pos] = 45
    pos = _digits(buf, pos + 1, doy - (153 * mp + 2) // 5 + 1, 2)
    buf[pos] = 84  # T
    pos = _digits(buf, pos + 1, secs // 3600, 2)
    buf[pos] = 58  # :
    pos = _digits(buf, pos + 1, secs // 60 % 60, 2)
    buf[pos] = 58
    pos = _digits(buf, pos + 1, secs % 60, 2)
    buf[pos] = 90  # Z
    return pos + 1


def iso(t):
    """Node time `t` as an ISO 8601 UTC string, for logs (allocates)."""
    b = bytearray(ISO_LEN)
    write_iso(b, 0, t)
    return b.decode()
