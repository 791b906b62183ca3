"""Readings the flash lost: tombstones take their place in the spool's index space.

A file that vanished (found at recovery) or cannot be read any more leaves a hole;
tombstone records fill it, so the file after `f` is still `f + its record count`, and
the loss is counted and logged. spool.Spool imports this only when that happens: a
damaged flash is rare, and the upload is the node's tightest phase for RAM.
"""

import os

from record import LOST, RECORD, pack


def unreadable(sp, f, e):
    """File `f` of spool `sp` vanished or cannot be read: tombstones take its place."""
    try:
        os.remove(sp.q + "%08x" % f)
    except OSError:
        pass
    after = sp.tail
    for name, _, _, _ in os.ilistdir(sp.q):
        if len(name) == 8 and f < int(name, 16) < after:
            after = int(name, 16)
    tombstones(sp, f, after, "file unreadable: %s" % e)
    sp._save()


def tombstones(sp, first, end, why):
    """Fill records first..end-1 with tombstones, so the index space has no hole;
    counted as lost once written (a hole the flash has no room to fill yet stays,
    and is found again), then logged: on a full flash the log makes room for itself."""
    buf = bytearray(16 * RECORD)
    for i in range(16):
        pack(buf, i * RECORD, 0, LOST, 0, 0.0)
    sp.writes += 1
    name = sp.q + "%08x" % first
    try:
        with open(name, "wb") as out:
            for f in range(first, end, 16):
                out.write(memoryview(buf)[: min(16, end - f) * RECORD])
    except OSError as e:
        try:
            os.remove(name)
        except OSError:
            pass
        sp._warn_os("cannot write tombstones at %08x (%s; %%s)" % (first, why), e)
        return
    n = end - max(first, sp.cursor)  # acknowledged ones were not lost
    sp.lost += n
    sp._warn("%d readings lost at %08x, %s (%d lost so far)" % (n, first, why, sp.lost))
