"""Readings the upload sets aside: dead letters for good, parked ones for a while.

Dead letters (`dead`, rotated to `dead.1`) are records the server refused, that failed
their checksum or cannot be sent, marked with why. Parked readings (`parked`) belong to
a sensor the server does not know yet: they go back to the queue when the node tries
them again. Either way the caller acknowledges the reading, so it never blocks the
queue. An Aside belongs to one spool.Spool, whose counters (`dead`, `writes`) it keeps
and whose commit() takes the parked readings back.
"""

import os

from micropython import const

from record import CORRUPT, RECORD, REJECTED, seal

_DEAD_BYTES = const(16384)  # the dead-letter file rotates at this size (one older file kept)


class Aside:
    def __init__(self, spool):
        self.spool = spool
        self.root = spool.root
        self._one = bytearray(RECORD)
        self._unkept = False  # a dead letter or parked reading could not be written

    def dead_letter(self, buf, i, why=REJECTED):
        """Keep record `i` of `buf` aside for good, marked with `why`; counted."""
        rec = self._one
        rec[:] = memoryview(buf)[i * RECORD : (i + 1) * RECORD]
        if why != CORRUPT:  # a corrupt record is kept byte for byte
            rec[1] = why
            seal(rec, 0)
        path = self.root + "/dead"
        try:
            if os.stat(path)[6] >= _DEAD_BYTES:
                os.rename(path, path + ".1")
        except OSError:
            pass
        self._aside("/dead", rec)
        self.spool.dead += 1

    def _aside(self, name, rec):
        """Append `rec` to the file `name`; False when the flash refuses (logged once a
        wake): the caller counts the reading all the same, and the upload goes on."""
        self.spool.writes += 1
        try:
            with open(self.root + name, "ab") as f:
                f.write(rec)
            return True
        except OSError as e:
            if not self._unkept:
                self._unkept = True
                self.spool._warn_os("cannot keep readings aside (%s): counted as dead letters, "
                              "not kept", e)
            return False

    def park(self, buf, i):
        """Keep record `i` of `buf` aside until unpark(): its sensor may yet be created
        on the dashboard. Beyond _DEAD_BYTES of parked readings, or when the flash
        refuses, they become dead letters (rejected)."""
        if (self.spool.parked() * RECORD >= _DEAD_BYTES
                or not self._aside("/parked", memoryview(buf)[i * RECORD : (i + 1) * RECORD])):
            self.dead_letter(buf, i, REJECTED)

    def parked_sensors(self, stage):
        """The sensor numbers of the parked readings: sensors the server did not know at
        the last try, so their new readings join the parked ones without asking again."""
        found = set()
        try:
            with open(self.root + "/parked", "rb") as f:
                while True:
                    n = f.readinto(stage) // RECORD
                    if not n:
                        break
                    for i in range(n):
                        found.add(stage[i * RECORD])
        except OSError:
            pass
        return found

    def unpark(self):
        """Put the parked readings back at the end of the queue, for another try;
        returns how many. A cut before the parked file is removed queues them twice:
        the server may then store some twice."""
        sp = self.spool
        n = 0
        try:
            with open(self.root + "/parked", "rb") as f:
                while True:
                    sp._staged = f.readinto(sp._stage) // RECORD
                    if not sp._staged:
                        break
                    n += sp.commit()
            os.remove(self.root + "/parked")
        except OSError:
            pass
        return n
