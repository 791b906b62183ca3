"""Wall-clock helpers: ISO 8601 UTC timestamps written straight into a payload buffer.

Times are Unix seconds everywhere in the firmware (the board converts from the
ESP32's 2000 epoch), so records and payloads mean the same on every port. A time
before VALID_FROM comes from an RTC that was never set (bootsessions.py dates it).
"""

from micropython import const

VALID_FROM = const(1735689600)  # 2025-01-01: an RTC before this was never set

_DAYS_0000_TO_1970 = const(719468)  # days from 0000-03-01 to 1970-01-01
_DAYS_PER_ERA = const(146097)       # 400 Gregorian years
ISO_LEN = const(20)                 # len("2026-11-27T10:00:00Z")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a Gregorian date (inverse of civil())."""
    year -= 1 if month <= 2 else 0
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * _DAYS_PER_ERA + doe - _DAYS_0000_TO_1970


def parse_http_date(s):
    """An IMF-fixdate ('Sun, 06 Nov 1994 08:49:37 GMT') as Unix seconds, else None."""
    parts = s.split()
    if len(parts) != 6 or parts[5] != "GMT" or parts[2] not in _MONTHS:
        return None
    hms = parts[4].split(":")
    try:
        day, year = int(parts[1]), int(parts[3])
        h, m, sec = int(hms[0]), int(hms[1]), int(hms[2])
    except (ValueError, IndexError):
        return None
    days = days_from_civil(year, _MONTHS.index(parts[2]) + 1, day)
    return days * 86400 + h * 3600 + m * 60 + sec


def civil(t):
    """Unix seconds -> (year, month, day, hour, minute, second), integer math only."""
    days, secs = divmod(int(t), 86400)
    z = days + _DAYS_0000_TO_1970
    era = z // _DAYS_PER_ERA
    doe = z - era * _DAYS_PER_ERA
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month, day, secs // 3600, secs // 60 % 60, secs % 60


def _digits(buf, pos, n, width):
    end = pos + width
    i = end
    while i > pos:
        i -= 1
        buf[i] = 48 + n % 10
        n //= 10
    return end


def write_iso(buf, pos, t):
    """Write `t` as YYYY-MM-DDTHH:MM:SSZ into `buf` at `pos`; returns the end position."""
    year, month, day, hour, minute, second = civil(t)
    pos = _digits(buf, pos, year, 4)
    buf[pos] = 45  # -
    pos = _digits(buf, pos + 1, month, 2)
    buf[pos] = 45
    pos = _digits(buf, pos + 1, day, 2)
    buf[pos] = 84  # T
    pos = _digits(buf, pos + 1, hour, 2)
    buf[pos] = 58  # :
    pos = _digits(buf, pos + 1, minute, 2)
    buf[pos] = 58
    pos = _digits(buf, pos + 1, second, 2)
    buf[pos] = 90  # Z
    return pos + 1


def iso(t):
    """`t` as an ISO 8601 UTC string, for logs (allocates)."""
    b = bytearray(ISO_LEN)
    write_iso(b, 0, t)
    return b.decode()


def valid(t):
    """True when `t` comes from a set clock, not from a freshly reset RTC."""
    return t >= VALID_FROM
