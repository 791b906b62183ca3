"""A BH1750's one-time H-resolution measurement (command 0x20): the next read gives
the count, big-endian; the data register reads 0 before any measurement.
"""


class BH1750:
    def __init__(self, count=0x8390):
        """count: what a measurement reads, lux x 1.2 (0x8390: the datasheet's 28067 lx)."""
        self.count = count
        self._data = bytearray(2)

    def write(self, cmd, rest):
        if cmd != 0x20:
            raise ValueError("bh1750 model: command 0x%02x not modelled" % cmd)
        self._data[0] = self.count >> 8
        self._data[1] = self.count & 0xFF

    def read(self, buf):
        buf[0], buf[1] = self._data[0], self._data[1]
