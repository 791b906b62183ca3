"""SHT4x (SHT40/41/45) temperature and humidity over I2C.

Sensirion SHT4x datasheet: "Command Overview" (0x94 soft reset, 1 ms; 0x89 serial
number; 0xFD measure T and RH with high precision, 8.3 ms at most; each reply is 16-bit
words, each followed by its CRC-8), "Checksum Calculation" (drivers/crc8.sensirion),
"Conversion of Signal Output": T = -45 + 175 * S_T / 65535 °C and
RH = -6 + 125 * S_RH / 65535 %RH, clipped to 0..100 %RH.

Bus faults come out as OSError (ENODEV: no answer or no reply ready, ETIMEDOUT,
EIO: a reply word failing its CRC); a temperature outside the sensor's -40..125 °C
raises ValueError.
"""

import time
from errno import EIO

from micropython import const

from drivers.crc8 import sensirion

_SOFT_RESET = const(b"\x94")
_SERIAL = const(b"\x89")
_MEASURE_HIGH = const(b"\xfd")
_MEAS_MS = const(9)
_FULL = const(65535)


class SHT4x:
    def __init__(self, i2c, addr=0x44):
        """addr: 0x44 (SHT4x-A), 0x45 (-B) or 0x46 (-C), by part number."""
        self.i2c = i2c
        self.addr = addr
        self._buf = bytearray(6)
        # Reset: after an MCU reset the sensor may still be in the middle of a command.
        i2c.writeto(addr, _SOFT_RESET)
        time.sleep_ms(1)
        i2c.writeto(addr, _SERIAL)
        time.sleep_ms(10)
        b = self._read()
        self.serial = b[0] << 24 | b[1] << 16 | b[3] << 8 | b[4]
        self._t = self._rh = 0

    def measure(self):
        """One high-precision measurement: (°C, %RH)."""
        self._sample()
        return self._t / _FULL, self._rh / _FULL

    def _sample(self):
        """One measurement in exact integers, allocating nothing: _t in °C x 65535, _rh in
        %RH x 65535 (below 2^24)."""
        self.i2c.writeto(self.addr, _MEASURE_HIGH)
        time.sleep_ms(_MEAS_MS)
        b = self._read()
        t = 175 * (b[0] << 8 | b[1]) - 45 * _FULL
        if not -40 * _FULL <= t <= 125 * _FULL:
            raise ValueError("sht4x: %.2f °C is outside the sensor's -40..125 °C" % (t / _FULL))
        self._t = t
        self._rh = min(max(125 * (b[3] << 8 | b[4]) - 6 * _FULL, 0), 100 * _FULL)

    def _read(self):
        b = self._buf
        self.i2c.readfrom_into(self.addr, b)
        for i in (0, 3):
            if sensirion(b, i, i + 2) != b[i + 2]:
                raise OSError(EIO, "sht4x: CRC error in reply word %d" % (i // 3 + 1))
        return b
