"""What the node remembers across deep sleep, kept in RTC slow memory.

A power cut wipes RTC memory; the checksum tells a valid record from garbage, and
then every field starts from its power-on default.
"""

import binascii
import struct

from micropython import const

UNSET = const(-0x3FFFFFFF)  # a due time never set: long ago (1990), so due at once
_MAGIC = const(0x534E5235)  # "SNR5" (an older layout reads as a power-on)
# The record after its magic, in order: (field, struct format). The layout and its size
# come from here; times are node seconds (clock.py), signed: an unset RTC is < 0.
_LAYOUT = (
    ("crashes", "B"), ("failures", "B"), ("", "2x"), ("cycle", "I"), ("samples", "I"),
    ("next_sample", "i"), ("next_upload", "i"), ("retry_at", "i"), ("sensor_faults", "I"),
    ("session", "H"), ("alert", "H"), ("unsure", "I"), ("battery_mv", "H"), ("unpark_at", "i"),
)
_FIELDS = tuple(f for f in _LAYOUT if f[0])  # "": spare bytes
_FMT = "<I" + "".join(f[1] for f in _LAYOUT)
_SIZE = struct.calcsize(_FMT)  # 46; with the CRC 50 of the 64 bytes that are ours
_TOP = {"B": 0xFF, "H": 0xFFFF}  # unsigned small fields saturate rather than wrap


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
                for field, v in zip(_FIELDS, values[1:]):
                    setattr(st, field[0], v)
        return st

    def save(self, board):
        buf = bytearray(_SIZE + 4)
        struct.pack_into(_FMT, buf, 0, _MAGIC, *[self._packed(f) for f in _FIELDS])
        struct.pack_into("<I", buf, _SIZE, binascii.crc32(memoryview(buf)[:_SIZE]))
        board.rtc_memory(buf)

    def _packed(self, field):
        name, fmt = field
        v = getattr(self, name)
        top = _TOP.get(fmt)
        return v if top is None else max(0, min(v, top))
