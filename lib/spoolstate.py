"""The spool's `state` file: where the queue stands and what it has counted.

28 bytes: magic "SPL1", cursor, tail, dropped, dead letters, lost (u32 little-endian
each) and the CRC-32 of the 24 before it (docs/spool.md). Overwritten in place:
littlefs commits a file's new content atomically on close. The node's spool and
tools/spool_dump.py (under CPython) both read it here.
"""

import binascii
import struct

from micropython import const

_FMT = "<IIIIII"
_MAGIC = const(0x53504C31)
_SIZE = const(28)


def parse(raw):
    """(cursor, tail, dropped, dead, lost) from the file's bytes; None for an empty file
    (a power cut while it was first created), False for a corrupt one."""
    if not raw:
        return None
    if len(raw) != _SIZE:
        return False
    v = struct.unpack(_FMT + "I", raw)
    if v[0] != _MAGIC or v[6] != binascii.crc32(memoryview(raw)[:24]):
        return False
    return v[1:6]


def read(path):
    """parse() of the file at `path`; None when there is none."""
    try:
        with open(path, "rb") as f:
            return parse(f.read())
    except OSError:
        return None


def write(path, cursor, tail, dropped, dead, lost):
    buf = bytearray(_SIZE)
    struct.pack_into(_FMT, buf, 0, _MAGIC, cursor, tail, dropped, dead, lost)
    struct.pack_into("<I", buf, 24, binascii.crc32(memoryview(buf)[:24]))
    with open(path, "wb") as f:
        f.write(buf)
