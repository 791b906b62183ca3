# Flash benchmark (MicroPython): what the spool costs the flash, and how fast it is.
#
#   micropython spool_flash.py WORKDIR MODE [ARGS]
#
# MODE wear DAYS SENSORS: a node sampling SENSORS per minute, uploading every 15 min,
#   for DAYS days; prints bytes programmed and blocks erased per reading, for the
#   spool and for the naive design (all readings appended to one file, one flush a cycle).
# MODE backlog N: store N readings (5 a commit); prints the time per commit and the
#   time to open (recover) the spool at that size (a 4 MiB partition past 1.2 MB).
# MODE capacity: fill a 2 MiB partition until the spool drops; prints readings kept.
# Each prints one line: "RESULT key=value ...".
import os
import sys
import time

import flashdev
import vfs

from spool import RECORD, Spool

WORK = sys.argv[1]


def fresh(name, blocks=512):
    path = WORK + "/" + name
    try:
        os.remove(path)
    except OSError:
        pass
    dev = flashdev.FlashImage(path, blocks=blocks)
    vfs.VfsLfs2.mkfs(dev)
    vfs.mount(vfs.VfsLfs2(dev), "/flash")
    os.mkdir("/flash/data")
    return dev


def reset(dev):
    dev.progs = dev.erases = dev.prog_bytes = 0


def wear(days, sensors):
    cycles = days * 1440
    dev = fresh("wear.img")
    sp = Spool("/flash/data/spool")
    reset(dev)
    t = 60060400
    buf = bytearray(50 * RECORD)
    for c in range(cycles):
        for s in range(sensors):
            sp.append(s, t, 20.0 + s)
        sp.commit()
        if c % 15 == 14:  # upload: read windows of 50 and acknowledge them
            while sp.pending():
                sp.ack(sp.read(0, buf))
        t += 60
    n = cycles * sensors
    spool_bytes, spool_erases = dev.prog_bytes, dev.erases
    vfs.umount("/flash")

    dev = fresh("naive.img")
    reset(dev)
    rec = bytearray(sensors * RECORD)
    acked = 0
    for c in range(cycles):
        with open("/flash/data/queue.bin", "ab") as f:
            f.write(rec)
        if c % 15 == 14:  # upload everything: a cursor file, then the queue goes
            acked += 15 * sensors
            with open("/flash/data/cursor", "w") as f:
                f.write(str(acked))
            os.remove("/flash/data/queue.bin")
    vfs.umount("/flash")
    print("RESULT readings=%d spool_bytes=%.1f spool_erases=%.4f naive_bytes=%.1f "
          "naive_erases=%.4f" % (n, spool_bytes / n, spool_erases / n, dev.prog_bytes / n,
                                 dev.erases / n))


def backlog(n):
    blocks = 512 if n * RECORD < 1200000 else 1024  # 100k readings need an 8 MB board
    fresh("backlog.img", blocks)
    sp = Spool("/flash/data/spool")
    t = 60060400
    start = time.ticks_us()
    for i in range(n // 5):
        for s in range(5):
            sp.append(s, t, 21.5)
        sp.commit()
        t += 60
    per_commit = time.ticks_diff(time.ticks_us(), start) / (n // 5)
    start = time.ticks_us()
    sp = Spool("/flash/data/spool")
    recover = time.ticks_diff(time.ticks_us(), start)
    files = len(os.listdir("/flash/data/spool/q"))
    assert sp.pending() == n
    vfs.umount("/flash")
    print("RESULT readings=%d commit_us=%.0f recover_us=%d files=%d flash_mib=%d"
          % (n, per_commit, recover, files, blocks * 4096 // 1048576))


def capacity():
    fresh("capacity.img")
    sp = Spool("/flash/data/spool")
    t = 60060400
    kept = 0
    while not sp.dropped:
        for s in range(5):
            sp.append(s, t, 21.5)
        sp.commit()
        kept = max(kept, sp.pending())
        t += 60
    default = 512 * 4096 * 3 // 4 // 4096 * 192  # what node.py configures by default
    full = Spool("/flash/data/spool", capacity=None)
    while full.dropped == sp.dropped:  # and without a bound: until the flash itself is full
        for s in range(5):
            full.append(s, t, 21.5)
        full.commit()
        kept = max(kept, full.pending())
        t += 60
    vfs.umount("/flash")
    print("RESULT default_capacity=%d flash_full_at=%d" % (default, kept))


mode = sys.argv[2]
if mode == "wear":
    wear(int(sys.argv[3]), int(sys.argv[4]))
elif mode == "backlog":
    backlog(int(sys.argv[3]))
else:
    capacity()
