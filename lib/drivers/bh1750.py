"""BH1750 ambient light over I2C, in lux.

ROHM BH1750FVI datasheet: "Instruction Set Architecture" (0x20: one-time
H-resolution mode, 1 lx resolution; the chip powers down after the measurement, which
suits a node that sleeps between readings), "Measurement mode explanation" (120 ms
typical, 180 ms at most), "Measurement sequence example" (lux = count / 1.2 at the
default measurement time: 0x8390 reads 28067 lx).

Bus faults come out as OSError (ENODEV, ETIMEDOUT). A count of 0xFFFF is the top of
the scale, light too bright to tell apart (over 54612 lx): it raises ValueError rather
than passing for a measurement.
"""

import time

from micropython import const

_ONE_TIME_H = const(b"\x20")
_MEAS_MS = const(180)
_SATURATED = const(0xFFFF)


class BH1750:
    def __init__(self, i2c, addr=0x23):
        """addr: 0x23 with ADDR low, 0x5C with ADDR high."""
        self.i2c = i2c
        self.addr = addr
        self._buf = bytearray(2)

    def measure(self):
        """One H-resolution measurement: lux."""
        return self._count() / 1.2

    def _count(self):
        """One measurement's count, lux x 1.2, allocating nothing."""
        self.i2c.writeto(self.addr, _ONE_TIME_H)
        time.sleep_ms(_MEAS_MS)
        b = self._buf
        self.i2c.readfrom_into(self.addr, b)
        count = b[0] << 8 | b[1]
        if count == _SATURATED:
            raise ValueError("bh1750: saturated (count 0xFFFF): over 54612 lx")
        return count
