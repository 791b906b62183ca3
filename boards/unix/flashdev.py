"""Emulated SPI flash for the unix board: a host file with ESP32 geometry.

512 blocks of 4 KiB, erased = 0xFF, driven by littlefs through the extended block
device protocol. It counts programs and erases (the wear figures come from here)
and can cut the power after the Nth program or erase: that operation is torn (only
its first half lands) and every later one is dropped, as in littlefs's own emulated
block device. The cut raises PowerCut, and so does every later write: no code
runs on after the power died (not even a `with` block's close, whose error would
otherwise replace the PowerCut).
"""

from micropython import const

BLOCK_SIZE = const(4096)
BLOCKS = const(512)
_IOCTL_SYNC = const(3)
_IOCTL_COUNT = const(4)
_IOCTL_SIZE = const(5)
_IOCTL_ERASE = const(6)
_ERASED = b"\xff" * 256  # written repeatedly: a whole erased block would cost 4 KiB of heap


class PowerCut(BaseException):
    """The emulated supply died; not an Exception, so firmware guards don't swallow it."""


class FlashImage:
    def __init__(self, path, blocks=BLOCKS, block_size=BLOCK_SIZE, cut_after=None):
        self.blocks = blocks
        self.block_size = block_size
        self.cut_after = cut_after
        self.progs = 0
        self.erases = 0
        self.prog_bytes = 0
        self.cut = False
        self._death = PowerCut()  # preallocated: finalizers may write with the heap locked
        try:
            self.f = open(path, "r+b")
        except OSError:
            self.f = open(path, "w+b")
            self._fill(blocks * block_size)
            self.f.flush()

    def blank(self):
        """Never formatted: the first block is still erased."""
        buf = bytearray(256)
        self.readblocks(0, buf)
        return buf == _ERASED

    def _cut_now(self):
        """True when this operation is the one the power dies in."""
        return self.cut_after is not None and self.progs + self.erases >= self.cut_after

    def _die(self):
        self.cut = True
        self.f.flush()
        raise self._death

    def readblocks(self, block, buf, off=0):
        try:
            self.f.seek(block * self.block_size + off)
            self.f.readinto(buf)
        except ValueError:  # closed: a finalizer reaching a dead chip after the run
            if not self.cut:
                raise

    def writeblocks(self, block, buf, off=None):
        if self.cut:
            raise self._death
        if off is None:  # simple protocol: whole blocks, erase included
            for i in range(len(buf) // self.block_size):
                self.ioctl(_IOCTL_ERASE, block + i)
            off = 0
        self.f.seek(block * self.block_size + off)
        if self._cut_now():
            self.f.write(memoryview(buf)[: len(buf) // 2])  # torn: half reached the cells
            self._die()
        self.f.write(buf)
        self.progs += 1
        self.prog_bytes += len(buf)

    def ioctl(self, op, arg):
        if op == _IOCTL_COUNT:
            return self.blocks
        if op == _IOCTL_SIZE:
            return self.block_size
        if self.cut and op in (_IOCTL_SYNC, _IOCTL_ERASE):
            raise self._death
        if op == _IOCTL_SYNC:
            self.f.flush()
        elif op == _IOCTL_ERASE:
            self.f.seek(arg * self.block_size)
            if self._cut_now():
                self._fill(self.block_size // 2)  # torn: half the block erased
                self._die()
            self._fill(self.block_size)
            self.erases += 1
        return 0

    def _fill(self, n):
        for _ in range(n // len(_ERASED)):
            self.f.write(_ERASED)

    def close(self):
        self.f.close()
