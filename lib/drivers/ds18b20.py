"""DS18B20 temperature over 1-Wire, in °C.

Maxim DS18B20 datasheet: "ROM Commands" (0xCC skip ROM for a sensor alone on its bus,
0x55 match ROM to pick one by its 64-bit code), "Function Commands" (0x44 convert T:
the sensor answers read slots with 0 until done; 0xBE read scratchpad: 9 bytes, the
last the CRC of the others), "CRC Generation" (drivers/crc8.dallas), Table 1 (the
temperature register: 1/16 °C two's complement at 12-bit resolution, the power-on
default; 0x0191 is +25.0625 °C, 0xFF5E is -10.125 °C), Table 2 (750 ms conversion at
12 bits). The sensor must be powered from VDD: a parasite-powered one cannot answer
read slots while converting.

The bus is an onewire.OneWire (reset, writebyte, write, readbyte, readinto). Faults come
out as OSError (ENODEV: no presence pulse, EIO: scratchpad CRC error, ETIMEDOUT: the
conversion did not end). ValueError for a temperature outside -55..125 °C, and for
85.0 °C, the power-on value: it means the sensor reset (lost power) instead of
converting; a true 85.0 °C reading is given up for that.
"""

import time
from errno import EIO, ENODEV, ETIMEDOUT

from micropython import const

from drivers.crc8 import dallas

_MATCH_ROM = const(0x55)
_SKIP_ROM = const(0xCC)
_CONVERT_T = const(0x44)
_READ_SCRATCHPAD = const(0xBE)
_CONV_MAX_MS = const(1000)
_POWER_ON = const(0x0550)  # 85.0 °C


class DS18B20:
    def __init__(self, ow, rom=None):
        """rom: the sensor's 8-byte ROM code (OneWire.scan()), or None when it is alone."""
        self.ow = ow
        self.rom = rom
        self._buf = bytearray(9)

    def measure(self):
        """One 12-bit conversion: °C."""
        return self._raw() / 16

    def _raw(self):
        """One conversion's temperature register, signed, in 1/16 °C, allocating nothing."""
        ow = self.ow
        self._select()
        ow.writebyte(_CONVERT_T)
        start = time.ticks_ms()
        while not ow.readbyte():
            if time.ticks_diff(time.ticks_ms(), start) > _CONV_MAX_MS:
                raise OSError(ETIMEDOUT, "ds18b20: conversion did not end (line held low?)")
        self._select()
        ow.writebyte(_READ_SCRATCHPAD)
        b = self._buf
        ow.readinto(b)
        if dallas(b, 0, 9):
            raise OSError(EIO, "ds18b20: scratchpad CRC error")
        raw = b[1] << 8 | b[0]
        if raw == _POWER_ON:
            raise ValueError("ds18b20: 85.0 °C, the power-on value: the sensor reset "
                             "instead of converting")
        if raw & 0x8000:
            raw -= 0x10000
        if not -55 * 16 <= raw <= 125 * 16:
            raise ValueError("ds18b20: %.4f °C is outside the sensor's -55..125 °C" % (raw / 16))
        return raw

    def _select(self):
        ow = self.ow
        if not ow.reset():
            raise OSError(ENODEV, "ds18b20: no presence pulse")
        if self.rom is None:
            ow.writebyte(_SKIP_ROM)
        else:
            ow.writebyte(_MATCH_ROM)
            ow.write(self.rom)
