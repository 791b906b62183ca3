# Device tests (MicroPython): bytes flipped in the flash blocks that hold the spool's
# readings, as a worn or disturbed flash would. The spool still opens and stores, and
# every reading stored before is still pending, or counted as lost (and logged), or
# fails its checksum when read (the uplink sets it aside as corrupt, counted and
# logged: tests/test_flash_damage.py): none is lost silently.
import binascii
import os
import struct

import flashfs
from record import LOST, RECORD, intact, unpack
from spool import Spool
from test_spool import ROOT, Log, fill

BLOCKS = 64
BLOCK = 4096
STORED = 600  # readings 0..599, 5 a commit: four segments and the small files after them
ACKED = 100
TMP = os.getenv("TEST_TMP") + "/"


def holds_pending(block):
    """True when `block` holds a pending reading of fill(): a record passing its CRC at
    any offset (inline in directory metadata, or in a segment's own block)."""
    mv = memoryview(block)
    for off in range(BLOCK - RECORD + 1):
        if binascii.crc32(mv[off : off + 12]) == struct.unpack_from("<I", block, off + 12)[0]:
            r = unpack(bytes(mv[off : off + RECORD]), 0)
            if r[1] == 0 and ACKED <= r[3] < STORED:
                return True
    return False


def spool_blocks(image):
    buf = bytearray(BLOCK)
    found = []
    with open(image, "rb") as f:
        for b in range(BLOCKS):
            f.readinto(buf)
            if holds_pending(buf):
                found.append(b)
    return found


def damaged_copy(image, block, seed, flips=8):
    """flash.img as `image`, with `flips` bytes of `block` inverted (positions from seed)."""
    buf = bytearray(BLOCK)
    x = seed * 2654435761 % 4294967291
    with open(TMP + "flash.img", "rb") as src, open(TMP + image, "wb") as dst:
        for b in range(BLOCKS):
            src.readinto(buf)
            for _ in range(flips if b == block else 0):
                x = x * 1103515245 + 12345 & 0x7FFFFFFF
                buf[x % BLOCK] ^= 0xFF
            dst.write(buf)


def accounted(sp):
    """Read every pending record: the intact readings must be fill()'s, in order; returns
    (readings of 100..599 missing, records failing their checksum)."""
    seen = bytearray(STORED)
    buf = bytearray(32 * RECORD)
    k = corrupt = 0
    last = -1
    while True:
        got = sp.read(k, buf)
        if not got:
            break
        for i in range(got):
            if not intact(buf, i):
                corrupt += 1
            elif buf[i * RECORD + 1] != LOST:
                v = int(unpack(buf, i)[3])
                assert last < v < STORED + 10, (last, v)
                last = v
                if v < STORED:
                    seen[v] = 1
        k += got
    return sum(1 for v in range(ACKED, STORED) if not seen[v]), corrupt


def test_flipped_bytes_in_the_spools_blocks_never_lose_a_reading_silently():
    flashfs.mount(blocks=BLOCKS)
    sp = Spool(ROOT)
    fill(sp, 0, STORED)
    sp.ack(ACKED)
    flashfs.unmount()
    blocks = spool_blocks(TMP + "flash.img")
    assert len(blocks) >= 5, blocks  # the segments, and the directory of the small files
    outcomes = {"lost": 0, "corrupt": 0, "intact": 0}
    for block in blocks:
        for seed in (1, 2):
            damaged_copy("bad.img", block, seed)
            flashfs.mount("bad.img", BLOCKS, fresh=False)
            log = Log()
            sp = Spool(ROOT, log=log)
            missing, corrupt = accounted(sp)
            assert missing <= sp.lost + corrupt, (block, seed, missing, sp.lost, corrupt)
            if sp.lost:
                assert any("lost" in line or "missing" in line for line in log.lines), log.lines
            outcomes["lost" if sp.lost else "corrupt" if corrupt else "intact"] += 1
            fill(sp, STORED, 10)  # the damaged flash still stores
            assert sp.pending() >= 10
            lost = sp.lost
            flashfs.remount("bad.img", BLOCKS)
            log = Log()
            sp = Spool(ROOT, log=log)  # counted once: a reboot finds nothing new
            assert sp.lost == lost and log.lines == [], (block, seed, log.lines)
            flashfs.unmount()
    assert outcomes["lost"] and outcomes["corrupt"], outcomes  # both kinds of damage seen
