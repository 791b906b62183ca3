"""An SHT3x's commands (datasheet SHT3x-DIS §4.3 Table 9, §4.9, §4.11): 0x2400 a
single-shot high-repeatability measurement without clock stretching, 0x30A2 soft reset
(sets status bit 4), 0xF32D read the status register. A command is two bytes; a reply is
16-bit words, each followed by its CRC-8; reading with no reply pending is NACKed, as the
chip NACKs the read header until a measurement is done.
"""

import errno

from drivers.crc8 import sensirion


class SHT3x:
    def __init__(self, t_raw=0x6666, rh_raw=0x6666, status=0x8010):
        """t_raw, rh_raw: the S_T and S_RH words a measurement replies; status: the
        register at power-up (Table 18: alert pending, reset detected)."""
        self.t_raw = t_raw
        self.rh_raw = rh_raw
        self.status = status
        self.measurements = 0
        self._reply = bytearray(6)
        self._ready = 0  # bytes of the pending reply

    def write(self, msb, rest):
        if len(rest) != 1:
            raise ValueError("sht3x model: writes other than a 2-byte command not modelled")
        cmd = msb << 8 | rest[0]
        if cmd == 0x2400:
            self.measurements += 1
            self._word(0, self.t_raw)
            self._word(3, self.rh_raw)
            self._ready = 6
        elif cmd == 0x30A2:
            self.status |= 0x0010
            self._ready = 0
        elif cmd == 0xF32D:
            self._word(0, self.status)
            self._ready = 3
        else:
            raise ValueError("sht3x model: command 0x%04x not modelled" % cmd)

    def read(self, buf):
        if not self._ready:
            raise OSError(errno.ENODEV)
        if len(buf) > self._ready:
            raise ValueError("sht3x model: reads past the reply not modelled")
        self._ready = 0
        for i in range(len(buf)):
            buf[i] = self._reply[i]

    def _word(self, at, v):
        r = self._reply
        r[at] = v >> 8
        r[at + 1] = v & 0xFF
        r[at + 2] = sensirion(r, at, at + 2)
