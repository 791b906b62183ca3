"""What Sensirion's humidity sensors (drivers/sht3x.py, drivers/sht4x.py) share: a
command starts one measurement, the reply is 16-bit words each followed by its CRC-8
(drivers/crc8.sensirion), temperature T = -45 + 175 * S_T / 65535 °C within the
sensors' -40..125 °C, humidity RH = RH_OFFSET + RH_SCALE * S_RH / 65535 %RH clipped to
0..100. A subclass names its commands and its humidity scale.
"""

import time
from errno import EIO

from micropython import const

from drivers.crc8 import sensirion

_FULL = const(65535)


class Sensirion:
    NAME = ""  # in messages
    MEASURE = b""  # the command for one measurement
    MEASURE_MS = 0  # its longest duration
    RH_OFFSET = 0
    RH_SCALE = 100

    def __init__(self, i2c, addr, reset, reset_ms):
        """Soft reset first: after an MCU reset the sensor may still be in the middle of
        a command."""
        self.i2c = i2c
        self.addr = addr
        self._buf = bytearray(6)
        i2c.writeto(addr, reset)
        time.sleep_ms(reset_ms)
        self._t = self._rh = 0

    def measure(self):
        """One measurement: (°C, %RH)."""
        self._sample()
        return self._t / _FULL, self._rh / _FULL

    def _sample(self):
        """One measurement in exact integers, allocating nothing: _t in °C x 65535, _rh in
        %RH x 65535 (below 2^24)."""
        self.i2c.writeto(self.addr, self.MEASURE)
        time.sleep_ms(self.MEASURE_MS)
        b = self._read(self._buf)
        t = 175 * (b[0] << 8 | b[1]) - 45 * _FULL
        if not -40 * _FULL <= t <= 125 * _FULL:
            raise ValueError("%s: %.2f °C is outside the sensor's -40..125 °C"
                             % (self.NAME, t / _FULL))
        self._t = t
        rh = self.RH_SCALE * (b[3] << 8 | b[4]) + self.RH_OFFSET * _FULL
        self._rh = min(max(rh, 0), 100 * _FULL)

    def _read(self, b):
        """Fill `b` with reply words and their CRCs, each word checked."""
        self.i2c.readfrom_into(self.addr, b)
        i = 0
        while i < len(b):
            if sensirion(b, i, i + 2) != b[i + 2]:
                raise OSError(EIO, "%s: CRC error in reply word %d" % (self.NAME, i // 3 + 1))
            i += 3
        return b
