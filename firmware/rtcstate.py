"""What the node remembers across deep sleep, kept in RTC slow memory.

A power cut wipes RTC memory; the checksum tells a valid record from garbage, and
then every field starts from its power-on default.
"""

import binascii
import struct

from micropython import const

UNSET = const(-0x3FFFFFFF)  # a due time never set: long ago (1990), so due at once
_MAGIC = const(0x534E5235)  # "SNR5" (an older layout reads as a power-on)
_FMT = "<IBBHIIiiiIHHIHi"  # times in node seconds (clock.py), signed: an unset RTC is < 0
_SIZE = const(46)  # struct.calcsize(_FMT); with the CRC 50 of the 64 bytes that are ours


class RtcState:
    def __init__(self):
        self.crashes = 0      # consecutive crashed runs (boot.py enters safe mode at 3)
        self.failures = 0     # consecutive failed uploads: the backoff exponent
        self.cycle = 0        # cycles since power-on
        self.samples = 0      # sample rounds since power-on
        self.next_sample = UNSET  # node seconds (clock.py)
        self.next_upload = UNSET
        self.retry_at = UNSET     # no upload before this (backoff, rate limit)
        self.sensor_faults = 0
        self.session = 0      # boot session of readings taken while the clock is unset
        self.alert = 0        # blink code of an alert that needs a human (0: none)
        self.unsure = 0       # readings sent again after a lost reply: maybe duplicates
        self.battery_mv = 0   # the last battery reading in millivolts (0: none yet)
        self.unpark_at = UNSET  # parked readings (unknown sensors) go again after this

    @classmethod
    def load(cls, board):
        st = cls()
        raw = board.rtc_memory()
        if len(raw) >= _SIZE + 4:
            (crc,) = struct.unpack_from("<I", raw, _SIZE)
            if crc == binascii.crc32(memoryview(raw)[:_SIZE]):
                (magic, st.crashes, st.failures, _, st.cycle, st.samples, st.next_sample,
                 st.next_upload, st.retry_at, st.sensor_faults, st.session, st.alert,
                 st.unsure, st.battery_mv, st.unpark_at) = struct.unpack_from(_FMT, raw)
                if magic != _MAGIC:
                    st = cls()
        return st

    def save(self, board):
        buf = bytearray(_SIZE + 4)
        struct.pack_into(_FMT, buf, 0, _MAGIC, min(self.crashes, 255), min(self.failures, 255),
                         0, self.cycle, self.samples, self.next_sample, self.next_upload,
                         self.retry_at, self.sensor_faults, self.session, self.alert,
                         self.unsure, max(0, min(self.battery_mv, 65535)), self.unpark_at)
        struct.pack_into("<I", buf, _SIZE, binascii.crc32(memoryview(buf)[:_SIZE]))
        board.rtc_memory(buf)
