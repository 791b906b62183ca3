"""An SHT4x's commands (datasheet "Command Overview"): 0xFD high-precision measurement,
0x89 serial number, 0x94 soft reset. A reply is two 16-bit words, each followed by its
CRC-8; reading with no reply pending is NACKed, as on the chip.
"""

import errno

from drivers.crc8 import sensirion


class SHT4x:
    def __init__(self, t_raw=0x6666, rh_raw=0x6666, serial=0x12345678):
        """t_raw, rh_raw: the S_T and S_RH words a measurement replies."""
        self.t_raw = t_raw
        self.rh_raw = rh_raw
        self.serial = serial
        self._reply = bytearray(6)
        self._ready = False

    def write(self, cmd, rest):
        if cmd == 0xFD:
            self._words(self.t_raw, self.rh_raw)
        elif cmd == 0x89:
            self._words(self.serial >> 16, self.serial & 0xFFFF)
        elif cmd == 0x94:
            self._ready = False
        else:
            raise ValueError("sht4x model: command 0x%02x not modelled" % cmd)

    def read(self, buf):
        if not self._ready:
            raise OSError(errno.ENODEV)
        self._ready = False
        for i in range(len(buf)):
            buf[i] = self._reply[i]

    def _words(self, a, b):
        r = self._reply
        r[0] = a >> 8
        r[1] = a & 0xFF
        r[2] = sensirion(r, 0, 2)
        r[3] = b >> 8
        r[4] = b & 0xFF
        r[5] = sensirion(r, 3, 5)
        self._ready = True
