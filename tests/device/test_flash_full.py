# Device tests (MicroPython): a flash full to its last block. The spool's drop policy
# goes on working and is counted, and the log's warning lines still reach log.txt.
import os

import flashfs
import log
import record
import spool
from record import RECORD
from spool import Spool
from test_spool import ROOT, same

DATA = "/flash/data"
LOG = DATA + "/log.txt"
ENOSPC = 28
T = 60061400  # node seconds (clock.py): 2026-11-27


def setup(blocks=16):
    """A small flash with the node's folders and the log on it, as firmware/node.py sets it."""
    flashfs.mount(blocks=blocks)
    os.mkdir(DATA)
    log.setup(lambda: T, LOG)


def logged():
    try:
        with open(LOG) as f:
            return f.read().splitlines()
    except OSError:
        return []


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def fill_flash(first=0):
    """Take every free block of the flash with files of one block each, until littlefs
    answers ENOSPC; returns the next file number."""
    buf = bytearray(4096)
    n = first
    while True:
        name = "/flash/fill%d" % n
        try:
            with open(name, "wb") as f:
                f.write(buf)
        except OSError as e:
            assert e.args[0] == ENOSPC, e
            os.remove(name)  # created, then the write failed: an empty entry
            return n
        n += 1


def test_a_warning_reaches_the_log_on_a_full_flash():
    setup()
    for i in range(160):  # about 11 KiB: the log has rotated once
        log.warn("sensor %d: a line of about sixty bytes to fill the log" % i)
    assert exists(LOG + ".1")
    n = fill_flash()
    log.warn("spool: the newest line")
    assert logged()[-1].endswith(" WARN spool: the newest line")
    assert not exists(LOG + ".1")  # the older lines made room
    fill_flash(n)  # what they freed is taken too: the flash is full again
    log.error("after that")
    assert logged()[-1].endswith(" ERROR after that")


def commit_n(sp, first, n):
    for i in range(first, first + n):
        sp.append(i % 7, 1000000000 + i, float(i))
    return sp.commit()


def test_full_flash_drop_oldest_keeps_storing_counts_and_logs():
    setup()
    sp = Spool(ROOT, log=log)  # no capacity: only the flash bounds it
    stored = 0
    while not sp.dropped:
        assert commit_n(sp, stored, 50) == 50 and stored < 5000  # 64 KiB hold 4096 at most
        stored += 50
    for _ in range(20):  # full: every commit still stores, the oldest go
        assert commit_n(sp, stored, 50) == 50
        stored += 50
    assert sp.pending() + sp.dropped == stored and sp.lost == 0
    assert same(sp, stored - sp.pending(), stored)  # the newest are kept
    drops = [line for line in logged() if " WARN spool: flash full: dropped the " in line]
    assert drops and drops[-1].endswith("(%d dropped so far)" % sp.dropped)
    flashfs.remount(blocks=16)
    again = Spool(ROOT)
    assert again.dropped == sp.dropped and again.pending() == sp.pending()


def filled_drop_newest():
    """A drop_newest spool given 50 readings a commit until the 64 KiB flash refused
    some; returns it and the readings it stored."""
    setup()
    sp = Spool(ROOT, keep_oldest=True, log=log)
    stored = 0
    while commit_n(sp, stored, 50):
        stored += 50
        assert stored < 5000  # 64 KiB hold 4096 at most
    return sp, stored


def test_full_flash_drop_newest_refuses_counts_and_logs():
    sp, stored = filled_drop_newest()
    kept = sp.pending()
    assert kept == stored and sp.dropped == 50
    for i in range(5):  # refused: nothing stored, every one counted
        assert commit_n(sp, stored + 50 * (i + 1), 50) == 0
    assert sp.pending() == kept and sp.dropped == 300 and sp.lost == 0
    assert same(sp, 0, kept)  # the oldest are kept
    assert logged()[-1].endswith(" WARN spool: cannot store 50 readings (flash full): dropped "
                                 "(300 so far)")
    sp.ack(kept // 2)  # an upload makes room: new readings are stored again
    assert commit_n(sp, 100000, 50) == 50 and sp.pending() == kept - kept // 2 + 50
    flashfs.remount(blocks=16)
    assert Spool(ROOT).dropped == 300


def full_spool():
    """A drop_newest spool that filled the flash, and every block left taken too."""
    sp = filled_drop_newest()[0]
    fill_flash()
    return sp


def test_readings_set_aside_on_a_full_flash_are_counted():
    sp = full_spool()
    buf = bytearray(RECORD)
    assert sp.read(0, buf) == 1
    for _ in range(20):  # the upload goes on: nothing raises, every reading is counted
        sp.dead_letter(buf, 0, record.REJECTED)
        sp.park(buf, 0)
    assert sp.dead + sp.parked() == 40 and sp.dead > 20  # some parked, the rest dead
    refused = [line for line in logged() if " cannot keep readings aside (flash full)" in line]
    assert len(refused) == 1, logged()  # once a wake, not once a reading
    sp.ack(1)
    flashfs.remount(blocks=16)
    assert Spool(ROOT).dead == sp.dead


def test_a_lost_file_on_a_full_flash_is_counted_once_there_is_room():
    sp = full_spool()
    names = sorted(n for n in os.listdir(ROOT + "/q") if len(n) == 8)
    first, after = int(names[1], 16), int(names[2], 16)
    assert os.stat(ROOT + "/q/" + names[1])[6] >= 3072  # a segment: a block of its own
    os.remove(ROOT + "/q/" + names[1])
    n = fill_flash(1000)  # its block is taken: the tombstones find no room
    assert n > 1000
    buf = bytearray(RECORD)
    k = 0
    while sp.read(k, buf):
        k += 1
    assert k == first and sp.lost == 0  # read up to the hole; it stays pending
    assert logged()[-1].endswith(" spool: cannot write tombstones at %08x (file unreadable: "
                                 "[Errno 2] ENOENT; flash full)" % first)
    for i in range(1000, n):
        os.remove("/flash/fill%d" % i)
    k = 0
    while sp.read(k, buf):
        k += 1
    assert k == sp.pending() and sp.lost == after - first  # now filled, counted, logged
    assert logged()[-1].endswith(" spool: %d readings lost at %08x, file unreadable: [Errno 2] "
                                 "ENOENT (%d lost so far)" % (after - first, first, after - first))
