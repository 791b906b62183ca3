"""Readings waiting for the server, on flash, oldest first.

Simple first version: one append-only file of 16-byte records and a cursor file
naming how many bytes the server has acknowledged. Readings are staged in RAM and
written with one flush per cycle; the cursor is replaced by write-temp + rename.
"""

import binascii
import os
import struct

from micropython import const

RECORD = const(16)
_FMT = "<BBHIf"  # sensor, flags, reserved, unix time, value; then crc32 of these 12 bytes
_STAGE = const(64)  # records one cycle can stage before commit()


class Spool:
    def __init__(self, root):
        self.root = root
        _mkdir(root)
        self._queue = root + "/queue.bin"
        self._cursor_path = root + "/cursor"
        self._dead = root + "/dead.bin"
        self._stage = bytearray(_STAGE * RECORD)
        self._staged = 0
        self._rec = bytearray(RECORD)
        self.cursor = self._read_cursor()
        self.size = _size(self._queue)

    def _read_cursor(self):
        try:
            with open(self._cursor_path) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    def append(self, sensor, t, value, flags=0):
        """Stage one reading in RAM (allocates nothing); commit() makes it durable."""
        if self._staged == _STAGE:
            raise OSError("spool stage full: commit() first")
        off = self._staged * RECORD
        _pack(self._stage, off, sensor, flags, t, value)
        self._staged += 1

    def commit(self):
        """Write the staged readings with one flush; returns how many were stored."""
        n = self._staged
        if n:
            with open(self._queue, "ab") as f:
                f.write(memoryview(self._stage)[: n * RECORD])
            self.size += n * RECORD
            self._staged = 0
        return n

    def pending(self):
        return (self.size - self.cursor) // RECORD

    def read(self, start, buf):
        """Fill `buf` with whole records from the `start`-th pending one; returns the count."""
        off = self.cursor + start * RECORD
        want = min(len(buf) // RECORD, (self.size - off) // RECORD)
        if want <= 0:
            return 0
        with open(self._queue, "rb") as f:
            f.seek(off)
            f.readinto(memoryview(buf)[: want * RECORD])
        return want

    def ack(self, n):
        """The server stored the first `n` pending readings: forget them."""
        self.cursor = min(self.size, self.cursor + n * RECORD)
        if self.cursor == self.size:
            _remove(self._queue)
            _remove(self._cursor_path)
            self.cursor = self.size = 0
            return
        tmp = self._cursor_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(self.cursor))
        os.rename(tmp, self._cursor_path)

    def dead_letter(self, buf, i):
        """Keep record `i` of `buf` aside: the server rejected it for good."""
        with open(self._dead, "ab") as f:
            f.write(memoryview(buf)[i * RECORD : (i + 1) * RECORD])

    def dead(self):
        return _size(self._dead) // RECORD


def _pack(buf, off, sensor, flags, t, value):
    struct.pack_into(_FMT, buf, off, sensor, flags, 0, t, value)
    struct.pack_into("<I", buf, off + 12, binascii.crc32(memoryview(buf)[off : off + 12]))


def unpack(buf, i):
    """Record `i` of `buf` as (sensor, flags, t, value), or None when its checksum fails."""
    off = i * RECORD
    sensor, flags, _, t, value, crc = struct.unpack_from(_FMT + "I", buf, off)
    if binascii.crc32(memoryview(buf)[off : off + 12]) != crc:
        return None
    return sensor, flags, t, value


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _mkdir(path):
    p = ""
    for part in path.strip("/").split("/"):
        p += "/" + part
        try:
            os.mkdir(p)
        except OSError:
            pass
