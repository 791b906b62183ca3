"""The spool's `sent` file: which readings of the window being uploaded are done.

A bitmap, saved (tmp-then-rename) after every request of a window, so an upload split
over several requests resumes after a reset without sending an acknowledged reading
again. Tied to the spool's cursor when saved: spool.Spool.save_progress() and
progress() call these.
"""

import binascii
import struct

from micropython import const

import atomic

_SENT_MAGIC = const(0x53454E31)  # "SEN1"
WINDOW_MAX = const(2048)  # readings a progress bitmap covers


def save(path, cursor, n, bits):
    """Remember (atomically) which of the first `n` readings from `cursor` on are done:
    bit i of `bits` set."""
    size = 16 + (n + 7) // 8
    buf = bytearray(size + 4)
    struct.pack_into("<IIII", buf, 0, _SENT_MAGIC, cursor, n, 0)
    buf[16:size] = memoryview(bits)[: size - 16]
    struct.pack_into("<I", buf, size, binascii.crc32(memoryview(buf)[:size]))
    atomic.write(path, buf)


def load(path, cursor, bits):
    """Load the progress saved in `path` into `bits` (WINDOW_MAX bits); returns its `n`,
    0 if there is none for the readings from `cursor` on. Readings dropped since then
    shift it; an acknowledged window makes it stale."""
    for i in range(len(bits)):
        bits[i] = 0
    try:
        with open(path, "rb") as f:
            raw = f.read(16 + WINDOW_MAX // 8 + 4)
        magic, base, n, _ = struct.unpack_from("<IIII", raw)
        size = 16 + (n + 7) // 8
        if (magic != _SENT_MAGIC or n > WINDOW_MAX or len(raw) != size + 4
                or struct.unpack_from("<I", raw, size)[0] != binascii.crc32(raw[:size])):
            return 0
    except (OSError, ValueError):
        return 0
    shift = cursor - base
    if not 0 <= shift < n:
        return 0
    n -= shift
    for i in range(n):
        j = i + shift
        if raw[16 + j // 8] >> (j % 8) & 1:
            bits[i // 8] |= 1 << (i % 8)
    return n
