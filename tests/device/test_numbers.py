# Device tests (MicroPython): the small-int arithmetic of the per-reading paths, which
# must allocate nothing on an ESP32 (a 32-bit port: ints from 2^30 up are heap objects):
# CRC-32 in halves, float32 to JSON text, and node seconds to and from a record.
import binascii
import gc
import struct

import micropython

import clock
import crc32
import jsonnum
import record
import spool
from record import RECORD


def locked(fn):
    """fn() with the heap locked (after a warm-up call): any allocation raises."""
    fn()
    gc.collect()
    micropython.heap_lock()
    try:
        return fn()
    finally:
        micropython.heap_unlock()


def test_crc32_is_binasciis_and_allocates_nothing():
    data = bytearray(range(7, 47))
    out = bytearray(4)
    for n in range(len(data)):
        crc32.put(data, 0, n, out, 0)
        assert struct.unpack("<I", out)[0] == binascii.crc32(data[:n]), n
    crc32.put(data, 0, 20, data, 36)  # the CRC of data[:20], in place after it
    assert locked(lambda: crc32.check(data, 0, 20, 36))
    data[3] ^= 1
    assert not locked(lambda: crc32.check(data, 0, 20, 36))


def text(v):
    src, out = bytearray(4), bytearray(16)
    struct.pack_into("<f", src, 0, v)
    end = jsonnum.write(out, 0, src, 0)
    return None if end < 0 else bytes(out[:end])


def test_float32_text_is_7_significant_digits_like_percent_g():
    assert text(22.1) == b"22.1" and text(-7.5) == b"-7.5" and text(1013.25) == b"1013.25"
    assert text(0.0) == b"0" and text(-0.0) == b"-0" and text(100.0) == b"100"
    assert text(1e7) == b"1e+07" and text(9999999.0) == b"9999999"
    assert text(0.0001) == b"0.0001" and text(0.00001) == b"1e-05"
    assert text(3.4028235e38) == b"3.402823e+38" and text(1e-45) == b"1.401298e-45"
    assert text(16777215.0) == b"1.677722e+07"
    assert text(1234567.5) == b"1234568" and text(1234568.5) == b"1234568"  # half to even
    assert text(float("nan")) is None and text(float("inf")) is None
    assert text(float("-inf")) is None


def test_float32_text_allocates_nothing():
    src, out = bytearray(12), bytearray(16)
    struct.pack_into("<fff", src, 0, 22.1, -1.2e-38, 3.4e38)

    def write_all():
        for at in (0, 4, 8):
            jsonnum.write(out, 0, src, at)
            jsonnum.finite(src, at)

    locked(write_all)


def test_node_seconds_round_trip_through_a_records_unix_seconds():
    buf = bytearray(RECORD)
    for t in (0, 1, 60061400, 0x3FFFFFFF, -1, 946684800 - clock.EPOCH, 86399 - clock.EPOCH):
        record.pack(buf, 0, 3, 0, t, 1.5, 0x1234)
        unix = struct.unpack_from("<I", buf, 4)[0]  # what host tools read
        assert unix == t + clock.EPOCH, t
        assert record.time_of(buf, 0) == t and record.aux(buf, 0) == 0x1234
        assert record.unpack(buf, 0) == (3, 0, t, 1.5)
    record.pack(buf, 0, 3, 0, -clock.EPOCH - 5, 1.5)  # before 1970: no clock says that
    assert struct.unpack_from("<I", buf, 4)[0] == 0


def test_packing_and_checking_a_record_allocate_nothing():
    buf = bytearray(2 * RECORD)

    def pack_and_check():
        record.pack(buf, RECORD, 200, 0, 60061400, 21.5, 7)
        return record.intact(buf, 1) and record.time_of(buf, 1) + record.aux(buf, 1)

    assert locked(pack_and_check) == 60061407
    buf[RECORD + 9] ^= 0x10
    assert not record.intact(buf, 1)


def test_times_past_2059_and_to_2106_still_round_trip_through_a_record():
    """From 2059-01-10 node seconds are long ints on an ESP32: slower, still right, up to
    the last second a record's u32 holds (2106-02-07)."""
    buf = bytearray(RECORD)
    for t in (0x40000000, 0x40000005, 0x7FFFFFFF, 0xFFFFFFFF - clock.EPOCH):
        record.pack(buf, 0, 1, 0, t, 2.5)
        assert struct.unpack_from("<I", buf, 4)[0] == t + clock.EPOCH
        assert record.time_of(buf, 0) == t and record.intact(buf, 0)
    assert clock.iso(0x40000005) == "2059-01-10T13:37:09Z"
    assert clock.iso(0xFFFFFFFF - clock.EPOCH) == "2106-02-07T06:28:15Z"


def test_a_spool_whose_indices_cross_2_30_keeps_every_reading_in_order():
    """Record indices are counters too (the files' names): crossing 2^30 they turn into
    long ints on an ESP32, and the spool goes on."""
    import flashfs

    flashfs.mount()
    root = "/flash/data/wrap"
    sp = spool.Spool(root)
    start = (1 << 30) - 40
    sp.cursor = sp.tail = sp.head = start
    sp._save_state()
    sp = spool.Spool(root)  # recovered from that state, as after a reset
    for i in range(100):
        sp.append(i % 3, 60061400 + i, float(i))
        if i % 16 == 15:
            sp.commit()
    sp.commit()
    assert sp.pending() == 100 and sp.tail == start + 100
    buf = bytearray(60 * RECORD)
    got = []
    while sp.pending():
        n = sp.read(0, buf)
        got += [record.unpack(buf, i)[3] for i in range(n)]
        sp.ack(n)
    assert got == [float(i) for i in range(100)] and sp.lost == 0
    assert spool.Spool(root).pending() == 0


def test_commit_allocates_the_same_for_one_reading_as_for_64():
    """commit() opens its files (the readings' and the state's: their objects and names,
    and the state's CRC, boxed when it reaches 2^30): nothing a reading adds."""
    import flashfs

    flashfs.mount()
    sp = spool.Spool("/flash/data/commits")

    def commit(n):
        for i in range(n):
            sp.append(i % 3, 60061400 + i, 21.5)
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        sp.commit()
        spent = gc.mem_alloc() - before
        gc.enable()
        return spent

    commit(1)
    one, many = commit(1), commit(64)
    assert abs(many - one) <= 32, (one, many)
