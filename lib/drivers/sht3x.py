"""SHT3x (SHT30/31/35) temperature and humidity over I2C.

Sensirion "Datasheet SHT3x-DIS" (version 5, 2018): Table 7, the address (0x44 with ADDR
low, 0x45 high); §4.3 Table 9, 0x2400 a single-shot high-repeatability measurement
without clock stretching, 15 ms at most (§2.2 Table 4), the read header NACKed until it
is done; §4.4, the reply is T and RH as 16-bit words, each followed by its CRC-8
(§4.12: drivers/crc8.sensirion); §4.9, 0x30A2 soft reset, 1.5 ms; §4.11, 0xF32D reads
the status register, whose bit 4 says a reset happened; §4.13, T = -45 + 175 * S_T /
65535 °C and RH = 100 * S_RH / 65535 %RH.

Bus faults come out as OSError (ENODEV: no answer, no reply ready or no SHT3x,
ETIMEDOUT, EIO: a reply word failing its CRC); a temperature outside the sensor's
-40..125 °C raises ValueError (drivers/sensirion.py).
"""

from errno import ENODEV

from micropython import const

from drivers.sensirion import Sensirion

_SOFT_RESET = const(b"\x30\xa2")
_STATUS = const(b"\xf3\x2d")
_RESET_SEEN = const(0x0010)  # status bit 4


class SHT3x(Sensirion):
    NAME = "sht3x"
    MEASURE = b"\x24\x00"  # single shot, high repeatability, no clock stretching
    MEASURE_MS = 16

    def __init__(self, i2c, addr=0x44):
        """addr: 0x44 or 0x45, as the ADDR pin is wired. The status register shows the
        soft reset, which tells an SHT3x from another chip at the address."""
        super().__init__(i2c, addr, _SOFT_RESET, 2)
        i2c.writeto(addr, _STATUS)
        b = self._read(memoryview(self._buf)[:3])
        self.status = b[0] << 8 | b[1]
        if not self.status & _RESET_SEEN:
            raise OSError(ENODEV, "sht3x: no SHT3x at 0x%02x (status 0x%04x, no reset seen)"
                          % (addr, self.status))

