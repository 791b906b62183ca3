"""The spool's record: 16 bytes, little-endian (docs/spool.md, "Record").

    0 sensor  1 flags  2-3 aux  4-7 Unix seconds (u32)  8-11 value (float32)  12-15 CRC-32 of 0-11

One definition for the node (lib/spool.py, lib/uplink.py) and the host tools
(tools/spool_dump.py imports it under CPython). Packing, checking and the accessors
allocate nothing, on an ESP32 too, where ints from 2^30 up are heap objects: the
caller's time is in node seconds (clock.py), a small int, and goes to and from the
record's Unix seconds in 16-bit halves; the CRC is crc32.py's.
"""

import struct

from micropython import const

import crc32

RECORD = const(16)
_E_LO = const(0x8580)  # clock.EPOCH's halves: node seconds + EPOCH = a record's Unix time
_E_HI = const(0x6774)
VALUE = const(8)  # offset of the float32 value in a record

# flags of a dead-letter record: why it was set aside
REJECTED = const(1)  # the server refused it (422 or an unknown sensor)
CORRUPT = const(2)  # its checksum failed
UNSENDABLE = const(3)  # a value or sensor index that cannot be sent
UNDATED = const(4)  # taken before the clock was set, in a boot session never synced
LOST = const(0xFF)  # a tombstone standing in for a reading the flash lost: never sent


def pack(buf, off, sensor, flags, t, value, aux=0):
    """Record at buf[off:]; `t` in node seconds, stored as Unix seconds (u32)."""
    buf[off] = sensor
    buf[off + 1] = flags
    buf[off + 2] = aux & 0xFF
    buf[off + 3] = aux >> 8
    lo = (t & 0xFFFF) + _E_LO
    hi = (t >> 16) + _E_HI + (lo >> 16)
    if hi < 0:  # before 1970: no clock says that
        hi = lo = 0
    buf[off + 4] = lo & 0xFF
    buf[off + 5] = lo >> 8 & 0xFF
    buf[off + 6] = hi & 0xFF
    buf[off + 7] = hi >> 8 & 0xFF
    struct.pack_into("<f", buf, off + VALUE, value)
    seal(buf, off)


def seal(buf, off):
    """Write the CRC of the record at buf[off:] (after changing its fields)."""
    crc32.put(buf, off, off + 12, buf, off + 12)


def intact(buf, i):
    """True when record `i` of `buf` passes its checksum."""
    off = i * RECORD
    return crc32.check(buf, off, off + 12, off + 12)


def value_at(i):
    """The offset of record `i`'s float32 value in its buffer."""
    return i * RECORD + VALUE


def sensor(buf, i):
    return buf[i * RECORD]


def flags(buf, i):
    return buf[i * RECORD + 1]


def time_of(buf, i):
    """The time of record `i` of `buf` in node seconds (a small int until 2059)."""
    o = i * RECORD + 4
    return ((((buf[o + 3] << 8 | buf[o + 2]) - _E_HI) << 16)
            + (buf[o + 1] << 8 | buf[o]) - _E_LO)


def aux(buf, i):
    """The `aux` field of record `i` of `buf`."""
    o = i * RECORD + 2
    return buf[o + 1] << 8 | buf[o]


def value(buf, i):
    """The value of record `i` (a heap float on an ESP32: not for the per-reading paths)."""
    return struct.unpack_from("<f", buf, i * RECORD + VALUE)[0]


def unpack(buf, i):
    """Record `i` of `buf` as (sensor, flags, node time, value), or None when its
    checksum fails. Allocates: not for the per-reading paths."""
    if not intact(buf, i):
        return None
    return buf[i * RECORD], buf[i * RECORD + 1], time_of(buf, i), value(buf, i)
