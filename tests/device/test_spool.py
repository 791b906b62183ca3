# Device tests (MicroPython): the flash spool on littlefs (emulated ESP32 flash).
import gc
import os

import micropython

import flashfs
import spool
from record import CORRUPT, LOST, RECORD, REJECTED, UNSENDABLE, unpack
from spool import Spool

ROOT = "/flash/data/spool"


class Log:
    def __init__(self):
        self.lines = []

    def warn(self, m):
        self.lines.append(m)


def fill(sp, first, n, per_commit=5):
    """Store readings whose value is their number (exact in float32) and time 1e9+number."""
    for i in range(first, first + n):
        sp.append(i % 7, 1000000000 + i, float(i))
        if (i - first + 1) % per_commit == 0:
            assert sp.commit() == per_commit
    sp.commit()


def pending(sp):
    """The pending readings' numbers, streamed from flash in windows of 37 records."""
    buf, k = bytearray(37 * RECORD), 0
    while True:
        got = sp.read(k, buf)
        if not got:
            return
        for i in range(got):
            sensor, flags, t, v = unpack(buf, i)
            assert t == 1000000000 + int(v) and sensor == int(v) % 7 and flags == 0
            yield int(v)
        k += got


def values(sp, n=None):
    """The first n pending readings' numbers (all of them when n is None)."""
    out = []
    for v in pending(sp):
        if n is not None and len(out) == n:
            break
        out.append(v)
    return out


def same(sp, first, end):
    """True when the pending readings are exactly first..end-1, in order."""
    want = first
    for v in pending(sp):
        if v != want:
            return False
        want += 1
    return want == end


def files():
    return sorted(os.listdir(ROOT + "/q"))


def test_store_read_ack_oldest_first_across_files_and_segments():
    flashfs.mount()
    sp = Spool(ROOT)
    fill(sp, 0, 1000)
    assert sp.pending() == 1000 and same(sp, 0, 1000)
    sizes = [os.stat(ROOT + "/q/" + f)[6] for f in files()]
    assert max(sizes) <= 4096 and sum(sizes) == 1000 * RECORD
    small = [s for s in sizes if s < 3072]  # the newest files, not yet merged into a segment
    assert sizes[-len(small):] == small and sum(small) < 3072 and len(sizes) - len(small) == 5
    sp.ack(330)
    assert sp.pending() == 670 and values(sp, 5) == [330, 331, 332, 333, 334]
    sp.ack(670)
    assert sp.pending() == 0 and files() == [] and same(sp, 0, 0)
    fill(sp, 1000, 10)
    assert values(sp) == list(range(1000, 1010)) and files() == ["000003e8", "000003ed"]


def test_reopen_recovers_position_and_counters():
    flashfs.mount()
    sp = Spool(ROOT)
    fill(sp, 0, 500)
    sp.ack(123)
    sp.dead_letter(bytearray(RECORD), 0, CORRUPT)
    sp.ack(0)
    flashfs.remount()
    sp = Spool(ROOT)
    assert sp.pending() == 377 and values(sp, 3) == [123, 124, 125]
    assert sp.dead == 1 and sp.dropped == 0 and sp.lost == 0
    fill(sp, 500, 5)
    assert same(sp, 123, 505)


def test_recovery_removes_what_a_power_cut_leaves_behind():
    flashfs.mount()
    sp = Spool(ROOT)
    fill(sp, 0, 40)
    sp.ack(10)
    q = ROOT + "/q/"
    # a merge cut after its rename: a merged file covers small files still present
    with open(q + "tmp", "wb") as f:
        for name in ("0000000a", "0000000f"):
            f.write(open(q + name, "rb").read())
    os.rename(q + "tmp", q + "0000000a")
    with open(q + "tmp", "wb") as f:  # a merge cut before its rename
        f.write(b"\x00" * 64)
    open(q + "00000028", "wb").close()  # a file created, then the power died
    flashfs.remount()
    log = Log()
    sp = Spool(ROOT, log=log)
    assert "tmp" not in files() and "0000000f" not in files() and "00000028" not in files()
    assert sp.pending() == 30 and values(sp) == list(range(10, 40))
    assert log.lines == [] and sp.lost == 0


def test_missing_state_resends_rather_than_loses():
    flashfs.mount()
    sp = Spool(ROOT)
    fill(sp, 0, 20)
    sp.ack(7)
    os.remove(ROOT + "/state")
    flashfs.remount()
    log = Log()
    sp = Spool(ROOT, log=log)
    assert values(sp) == list(range(5, 20))  # from the oldest file left: 5 sent again
    assert log.lines == ["spool: state file missing: counters restart at 0, the 15 readings "
                         "left are sent again (some may reach the server twice)"]


def test_corrupt_state_is_detected():
    flashfs.mount()
    sp = Spool(ROOT)
    fill(sp, 0, 20)
    sp.ack(7)
    with open(ROOT + "/state", "r+b") as f:
        f.seek(4)
        f.write(b"\xff")
    flashfs.remount()
    log = Log()
    sp = Spool(ROOT, log=log)
    assert values(sp)[0] == 5 and len(log.lines) == 1


def tombstoned(sp):
    """Pending records as values, None for a tombstone."""
    buf = bytearray(RECORD)
    out = []
    while sp.read(len(out), buf):
        _, flags, _, v = unpack(buf, 0)
        out.append(None if flags == LOST else int(v))
    return out


def test_a_vanished_file_becomes_tombstones_counted_and_logged():
    flashfs.mount()
    sp = Spool(ROOT)
    fill(sp, 0, 20)
    os.remove(ROOT + "/q/00000005")
    log = Log()
    sp.log = log
    assert tombstoned(sp) == [0, 1, 2, 3, 4] + [None] * 5 + list(range(10, 20))
    assert sp.lost == 5 and log.lines == [
        "spool: 5 readings lost at 00000005, file unreadable: [Errno 2] ENOENT (5 lost so far)"]
    sp.ack(20)
    assert Spool(ROOT).lost == 5


def test_holes_found_at_boot_become_tombstones_or_move_the_cursor():
    flashfs.mount()
    sp = Spool(ROOT)
    fill(sp, 0, 20)
    sp.ack(3)
    os.remove(ROOT + "/q/00000005")
    flashfs.remount()
    sp = Spool(ROOT)
    assert tombstoned(sp) == [3, 4] + [None] * 5 + list(range(10, 20))
    assert sp.lost == 5 and sp.pending() == 17
    os.remove(ROOT + "/q/00000000")  # the file holding the cursor
    flashfs.remount()
    sp = Spool(ROOT)
    assert tombstoned(sp) == [None] * 5 + list(range(10, 20))
    assert sp.lost == 7 and sp.pending() == 15


def test_capacity_drops_oldest_whole_files_and_counts_them():
    flashfs.mount()
    log = Log()
    sp = Spool(ROOT, capacity=100, log=log)
    fill(sp, 0, 300)
    assert sp.pending() <= 100 and sp.dropped == 300 - sp.pending()
    assert same(sp, sp.dropped, 300)
    assert "full: dropped the" in log.lines[-1]
    flashfs.remount()
    assert Spool(ROOT).dropped == 300 - sp.pending()


def test_keep_oldest_policy_refuses_new_readings():
    flashfs.mount()
    log = Log()
    sp = Spool(ROOT, capacity=100, keep_oldest=True, log=log)
    for i in range(120):
        sp.append(i % 7, 1000000000 + i, float(i))
        if i % 10 == 9:
            assert sp.commit() == (10 if i < 100 else 0)
    assert values(sp) == list(range(100)) and sp.dropped == 20
    assert log.lines[-1] == "spool: cannot store 10 readings (full): dropped (20 so far)"


def test_dead_letters_are_kept_marked_and_rotate():
    flashfs.mount()
    sp = Spool(ROOT)
    fill(sp, 0, 3)
    buf = bytearray(3 * RECORD)
    sp.read(0, buf)
    buf[RECORD + 5] ^= 0xFF  # corrupt record 1
    assert unpack(buf, 1) is None
    sp.dead_letter(buf, 0, REJECTED)
    sp.dead_letter(buf, 1, CORRUPT)
    sp.ack(3)
    dead = open(ROOT + "/dead", "rb").read()
    assert unpack(dead, 0) == (0, REJECTED, 1000000000, 0.0)
    assert dead[RECORD:] == bytes(buf[RECORD : 2 * RECORD])  # byte for byte
    assert sp.dead == 2
    for _ in range(1030):
        sp.dead_letter(buf, 2, UNSENDABLE)
    assert os.stat(ROOT + "/dead.1")[6] >= 16384 and sp.dead == 1032


def test_append_allocates_nothing():
    flashfs.mount()
    sp = Spool(ROOT)
    t, v = 60061400, 21.5  # node seconds (clock.py): 2026-11-27
    gc.collect()
    micropython.heap_lock()
    try:
        for i in range(64):
            sp.append(i % 4, t, v)
    finally:
        micropython.heap_unlock()
    assert sp.commit() == 64


def test_staging_is_bounded():
    flashfs.mount()
    sp = Spool(ROOT)
    for i in range(64):
        sp.append(0, 1, 1.0)
    try:
        sp.append(0, 1, 1.0)
    except OSError as e:
        assert "commit() first" in str(e)
    else:
        raise AssertionError("a 65th reading was staged")
