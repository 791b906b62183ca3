"""A DS18B20 at its power-on 12-bit resolution: convert T (0x44) puts `raw` in the
scratchpad, read scratchpad (0xBE) sends its 9 bytes with their Dallas CRC; until the
first conversion, and after power_on(), the temperature reads 85.0 °C.
"""

from drivers.crc8 import dallas

# Temperature 0x0550 (85 °C), TH 75 °C, TL 70 °C, configuration 12-bit, reserved bytes.
_POWER_ON = b"\x50\x05\x4b\x46\x7f\xff\x0c\x10\x00"


class DS18B20:
    def __init__(self, raw=0x0191, serial=b"\x01\x00\x00\x00\x00\x00"):
        """raw: the temperature register a conversion produces (0x0191: +25.0625 °C)."""
        self.raw = raw
        rom = bytearray(b"\x28" + serial + b"\x00")  # family code 0x28, serial, CRC
        rom[7] = dallas(rom, 0, 7)
        self.rom = bytes(rom)
        self.scratchpad = bytearray(9)
        self.power_on()

    def power_on(self):
        self.scratchpad[:] = _POWER_ON
        self.scratchpad[8] = dallas(self.scratchpad, 0, 8)
        self._sent = 9

    def command(self, cmd):
        sp = self.scratchpad
        if cmd == 0x44:
            sp[0] = self.raw & 0xFF
            sp[1] = self.raw >> 8 & 0xFF
            sp[8] = dallas(sp, 0, 8)
        elif cmd == 0xBE:
            self._sent = 0
        else:
            raise ValueError("ds18b20 model: function command 0x%02x not modelled" % cmd)

    def readbyte(self):
        """The next scratchpad byte while it is being read, else 1s: conversion done."""
        if self._sent < 9:
            self._sent += 1
            return self.scratchpad[self._sent - 1]
        return 0xFF
