"""What the node remembers across deep sleep, kept in RTC slow memory.

A power cut wipes RTC memory; the checksum tells a valid record from garbage, and
then every field starts from its power-on default.
"""

import binascii
import struct

from micropython import const

UNSET = const(-0x3FFFFFFF)  # a due time never set: long ago (1990), so due at once
_MAGIC = const(0x534E5235)  # "SNR5" (an older layout reads as a power-on)
# The record after its magic, in order: name:struct format (no name: spare bytes). The layout
# and its size come from here; times are node seconds (clock.py), signed: an unset RTC is
# < 0. One string, split only when the record is read or written: no table stays in RAM.
_LAYOUT = ("crashes:B failures:B :2x cycle:I samples:I next_sample:i next_upload:i "
           "retry_at:i sensor_faults:I session:H alert:H unsure:I battery_mv:H unpark_at:i")
_FMT = "<I" + "".join(f.split(":")[1] for f in _LAYOUT.split())
_SIZE = struct.calcsize(_FMT)  # 46; with the CRC 50 of the 64 bytes that are ours


def _fields():
    """(name, format) of every field that holds a value."""
    return [f.split(":") for f in _LAYOUT.split() if f[0] != ":"]


class RtcState:
    """The power-on values; a record read from RTC memory overrides them."""

    crashes = 0      # consecutive crashed runs (boot.py enters safe mode at 3)
    failures = 0     # consecutive failed uploads: the backoff exponent
    cycle = 0        # cycles since power-on
    samples = 0      # sample rounds since power-on
    next_sample = UNSET
    next_upload = UNSET
    retry_at = UNSET     # no upload before this (backoff, rate limit)
    sensor_faults = 0
    session = 0      # boot session of readings taken while the clock is unset
    alert = 0        # blink code of an alert that needs a person (0: none)
    unsure = 0       # readings sent again after a lost reply: maybe duplicates
    battery_mv = 0   # the last battery reading in millivolts (0: none yet)
    unpark_at = UNSET  # parked readings (unknown sensors) go again after this

    @classmethod
    def load(cls, board):
        st = cls()
        raw = board.rtc_memory()
        if len(raw) >= _SIZE + 4:
            (crc,) = struct.unpack_from("<I", raw, _SIZE)
            values = struct.unpack_from(_FMT, raw)
            if crc == binascii.crc32(memoryview(raw)[:_SIZE]) and values[0] == _MAGIC:
                for (name, _), v in zip(_fields(), values[1:]):
                    setattr(st, name, v)
        return st

    def save(self, board):
        """Small unsigned fields saturate rather than wrap (a battery of 70 V is not 4 V)."""
        values = [_MAGIC]
        for name, fmt in _fields():
            v = getattr(self, name)
            top = 0xFF if fmt == "B" else 0xFFFF if fmt == "H" else None
            values.append(v if top is None else max(0, min(v, top)))
        buf = bytearray(_SIZE + 4)
        struct.pack_into(_FMT, buf, 0, *values)
        struct.pack_into("<I", buf, _SIZE, binascii.crc32(memoryview(buf)[:_SIZE]))
        board.rtc_memory(buf)
