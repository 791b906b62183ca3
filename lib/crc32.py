"""CRC-32 (the value binascii.crc32 and zlib.crc32 give) kept in two 16-bit halves.

binascii.crc32 returns the whole 32-bit value: on an ESP32, whose small ints stop at
2^30, three results in four are heap-allocated long ints. Spool records are checked on
every append and every upload, so here each half stays a small int and the result goes
straight into the record's bytes. A nibble at a time from two 16-entry tables: no table
to build at import, 64 bytes of constants.
"""

from micropython import const

# CRC-32 (reflected polynomial 0xEDB88320) of each nibble, low and high 16 bits.
_LO = (0x0000, 0x1064, 0x20C8, 0x30AC, 0x4190, 0x51F4, 0x6158, 0x713C,
       0x8320, 0x9344, 0xA3E8, 0xB38C, 0xC2B0, 0xD2D4, 0xE278, 0xF21C)
_HI = (0x0000, 0x1DB7, 0x3B6E, 0x26D9, 0x76DC, 0x6B6B, 0x4DB2, 0x5005,
       0xEDB8, 0xF00F, 0xD6D6, 0xCB61, 0x9B64, 0x86D3, 0xA00A, 0xBDBD)
_MASK = const(0xFFFF)
_sum = bytearray(4)  # the last checksum, little-endian: check() compares it in place


def put(src, start, end, dest, at):
    """Write the CRC-32 of src[start:end] little-endian into dest[at:at + 4]."""
    lo = hi = _MASK
    tl, th = _LO, _HI
    for j in range(start, end):
        b = src[j]
        i = (lo ^ b) & 15
        lo = (lo >> 4 | (hi & 15) << 12) ^ tl[i]
        hi = hi >> 4 ^ th[i]
        i = (lo ^ b >> 4) & 15
        lo = (lo >> 4 | (hi & 15) << 12) ^ tl[i]
        hi = hi >> 4 ^ th[i]
    lo ^= _MASK
    hi ^= _MASK
    dest[at] = lo & 0xFF
    dest[at + 1] = lo >> 8
    dest[at + 2] = hi & 0xFF
    dest[at + 3] = hi >> 8


def check(buf, start, end, at):
    """True when buf[at:at + 4] holds the CRC-32 of buf[start:end]."""
    put(buf, start, end, _sum, 0)
    return (_sum[0] == buf[at] and _sum[1] == buf[at + 1] and _sum[2] == buf[at + 2]
            and _sum[3] == buf[at + 3])
