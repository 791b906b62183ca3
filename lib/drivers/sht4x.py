"""SHT4x (SHT40/41/45) temperature and humidity over I2C.

Sensirion SHT4x datasheet: "Command Overview" (0x94 soft reset, 1 ms; 0x89 serial
number; 0xFD measure T and RH with high precision, 8.3 ms at most; each reply is 16-bit
words, each followed by its CRC-8), "Checksum Calculation" (drivers/crc8.sensirion),
"Conversion of Signal Output": T = -45 + 175 * S_T / 65535 °C and
RH = -6 + 125 * S_RH / 65535 %RH, clipped to 0..100 %RH.

Bus faults come out as OSError (ENODEV: no answer or no reply ready, ETIMEDOUT,
EIO: a reply word failing its CRC); a temperature outside the sensor's -40..125 °C
raises ValueError (drivers/sensirion.py).
"""

import time

from micropython import const

from drivers.sensirion import Sensirion

_SOFT_RESET = const(b"\x94")
_SERIAL = const(b"\x89")


class SHT4x(Sensirion):
    NAME = "sht4x"
    MEASURE = b"\xfd"  # high precision
    MEASURE_MS = 9
    RH_OFFSET = -6
    RH_SCALE = 125

    def __init__(self, i2c, addr=0x44):
        """addr: 0x44 (SHT4x-A), 0x45 (-B) or 0x46 (-C), by part number."""
        super().__init__(i2c, addr, _SOFT_RESET, 1)
        i2c.writeto(addr, _SERIAL)
        time.sleep_ms(10)
        b = self._read(self._buf)
        self.serial = b[0] << 24 | b[1] << 16 | b[3] << 8 | b[4]

