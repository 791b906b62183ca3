# Device tests (MicroPython): the spool's write counter (the flash_writes health figure)
# counts every file it writes.
import os

import aside
import atomic
import flashfs
import lost
import progress
import spool
import spoolstate
from record import RECORD
from spool import Spool

ROOT = "/flash/data/spool"
_opened = [0]
_open = open


def _counting_open(path, mode="r", *args):
    """The builtin open, counting the files opened for writing (or appending)."""
    if "w" in mode or "a" in mode:
        _opened[0] += 1
    return _open(path, mode, *args)


# the modules' global: every open() of the spool (spool.py and the files beside its queue) and
# of the atomic writes it makes goes through it
spool.open = spoolstate.open = aside.open = lost.open = progress.open = atomic.open = _counting_open


def fill(sp, first, n, per_commit):
    for i in range(first, first + n):
        sp.append(i % 3, 1000000000 + i, float(i))
        if (i - first + 1) % per_commit == 0:
            sp.commit()
    sp.commit()


def test_spool_counts_every_file_it_writes():
    flashfs.mount()
    sp = Spool(ROOT, capacity=400)
    assert sp.writes == _opened[0] == 1  # a new spool saves its state
    fill(sp, 0, 250, 50)  # 5 commits (a file and the state each), a merge at 3 KiB
    assert _opened[0] == 1 + 5 * 2 + 1 and sp.writes == _opened[0]
    sp.save_progress(10, bytearray(2))
    buf = bytearray(3 * RECORD)
    assert sp.read(0, buf) == 3
    sp.dead_letter(buf, 0)
    sp.ack(10)
    assert _opened[0] == 15 and sp.writes == _opened[0]
    fill(sp, 250, 250, 50)  # beyond the capacity: the oldest files go (state saves)
    assert sp.dropped and sp.writes == _opened[0]
    full = Spool(ROOT, capacity=400, keep_oldest=True)
    before = _opened[0]
    assert full.pending() == 300
    fill(full, 500, 120, 60)  # stored (file, state), then refused (360 + 60 > 400): state
    assert full.dropped == sp.dropped + 60 and full.writes == _opened[0] - before == 3


def test_spool_counts_the_writes_of_its_recovery():
    flashfs.mount()
    sp = Spool(ROOT)
    fill(sp, 0, 30, 10)
    names = sorted(n for n in os.listdir(ROOT + "/q") if len(n) == 8)
    assert len(names) == 3
    os.remove(ROOT + "/q/" + names[1])  # a file the flash lost: tombstones take its place
    before = _opened[0]
    again = Spool(ROOT)
    assert again.lost == 10 and again.writes == _opened[0] - before == 2  # tombstones, state
