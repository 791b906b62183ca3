"""A TMP117's registers (datasheet §7.6) behind its pointer register: a write's first
byte sets the pointer, two more (MSB first) write the register there; a read gives the
pointed register. Temperature result 0x00 (8000h, -256 °C, until a conversion),
configuration 0x01 (0220h) and device ID 0x0F. A one-shot conversion (MOD 11) puts `raw`
in the result at once, sets Data_Ready, which reading the configuration or the result
clears, and shuts the chip down (MOD 01). Continuous mode, the soft reset and the other
registers are not modelled.
"""

_RESULT = 0x00
_CONFIG = 0x01
_DATA_READY = 0x2000
_MOD = 0x0C00


class TMP117:
    def __init__(self, raw=0x0C80, device_id=0x0117):
        """raw: the result register a conversion produces (0x0C80: 25 °C, Table 7-1)."""
        self.raw = raw
        self.stalled = False  # True: a conversion never ends
        self.configured = None  # the last configuration word written
        self.regs = {_RESULT: 0x8000, _CONFIG: 0x0220, 0x0F: device_id}
        self.ptr = _RESULT

    def write(self, reg, rest):
        if reg not in self.regs:
            raise ValueError("tmp117 model: register 0x%02x not modelled" % reg)
        self.ptr = reg
        if not rest:
            return
        if reg != _CONFIG or len(rest) != 2:
            raise ValueError("tmp117 model: only 2-byte configuration writes are modelled")
        v = rest[0] << 8 | rest[1]
        mode = v & _MOD
        if v & 0x0002 or mode in (0, 0x0800):
            raise ValueError("tmp117 model: soft reset and continuous mode not modelled")
        self.configured = v
        config = self.regs[_CONFIG] & 0xF000 | v & 0x0FFC  # bits 15:12 are read-only flags
        if mode == _MOD and not self.stalled:  # one-shot: convert, then shut down
            self.regs[_RESULT] = self.raw & 0xFFFF
            config = config & ~_MOD | 0x0400 | _DATA_READY
        self.regs[_CONFIG] = config

    def read(self, buf):
        if len(buf) != 2:
            raise ValueError("tmp117 model: reads of %d bytes not modelled" % len(buf))
        v = self.regs[self.ptr]
        buf[0] = v >> 8
        buf[1] = v & 0xFF
        if self.ptr == _RESULT or self.ptr == _CONFIG:
            self.regs[_CONFIG] &= ~_DATA_READY
