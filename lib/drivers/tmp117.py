"""TMP117 temperature over I2C, in °C: one one-shot conversion a call.

TI TMP117 datasheet (SNOSD82D): register map §7.6 (temperature result 0x00, reset value
8000h; configuration 0x01; device ID 0x0F, 0117h: revision in bits 15:12, device ID in
11:0), configuration register bits (13 Data_Ready, set when a conversion ends and cleared
by reading the configuration or the result; 11:10 MOD, 11 one-shot; 6:5 AVG, 01 eight
conversions averaged, the power-on default), one-shot mode §7.4.3 (one conversion, then
the chip shuts down: 150 nA between the node's samples instead of the 3.5 µA of its
power-on continuous mode), averaging §7.3.2 (8 conversions of 15.5 ms: 125 ms),
temperature format §7.3.3 and Table 7-1 (16-bit two's complement, 7.8125 m°C a bit:
0C80h is 25 °C, FFF0h is -0.125 °C). The offset the chip keeps in its EEPROM (register
07h) is applied by the chip itself.

Bus faults come out as OSError (ENODEV: no answer or another chip, ETIMEDOUT: the
conversion did not end); ValueError for the result register's reset value (-256 °C: the
chip reset instead of converting) and for a temperature outside -55..150 °C.
"""

import time
from errno import ENODEV, ETIMEDOUT

from micropython import const

_RESULT = const(0x00)
_CONFIG = const(0x01)
_DEVICE_ID = const(0x0F)
_TMP117_ID = const(0x117)
_ONE_SHOT_AVG8 = const(b"\x0c\x20")  # MOD 11 (bits 11:10), AVG 01 (bits 6:5)
_DATA_READY = const(0x20)  # bit 13: bit 5 of the register's first byte
_RESET_VALUE = const(0x8000)
_CONV_MS = const(125)
_POLL_MS = const(5)
_POLLS = const(10)
_LOW = const(-55 * 128)
_HIGH = const(150 * 128)


class TMP117:
    def __init__(self, i2c, addr=0x48):
        """addr: 0x48 with ADD0 to GND, 0x49 to V+, 0x4A to SDA, 0x4B to SCL (§7.5.3.1.2)."""
        self.i2c = i2c
        self.addr = addr
        self._buf = b = bytearray(2)
        i2c.readfrom_mem_into(addr, _DEVICE_ID, b)
        found = (b[0] << 8 | b[1]) & 0x0FFF
        if found != _TMP117_ID:
            raise OSError(ENODEV, "tmp117: device id 0x%03x at 0x%02x, expected 0x117"
                          % (found, addr))

    def measure(self):
        """One one-shot conversion of 8 averaged: °C."""
        return self._raw() / 128

    def _raw(self):
        """One conversion's result register, signed, in 1/128 °C, allocating nothing."""
        i2c, addr, b = self.i2c, self.addr, self._buf
        i2c.writeto_mem(addr, _CONFIG, _ONE_SHOT_AVG8)
        time.sleep_ms(_CONV_MS)
        for _ in range(_POLLS):
            i2c.readfrom_mem_into(addr, _CONFIG, b)
            if b[0] & _DATA_READY:
                break
            time.sleep_ms(_POLL_MS)
        else:
            raise OSError(ETIMEDOUT, "tmp117: conversion did not finish")
        i2c.readfrom_mem_into(addr, _RESULT, b)
        raw = b[0] << 8 | b[1]
        if raw == _RESET_VALUE:
            raise ValueError("tmp117: -256 °C, the reset value: the chip reset instead of "
                             "converting")
        raw -= (raw & 0x8000) << 1  # two's complement
        if not _LOW <= raw <= _HIGH:
            raise ValueError("tmp117: %.4f °C is outside the sensor's -55..150 °C" % (raw / 128))
        return raw
