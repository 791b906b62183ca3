"""The crash-safe flash spool: every stored reading stays until the server has it.

Readings are fixed 16-byte records (record.py) in files named by the index of their
first record (8 hex digits), so the file after `f` is always `f + its record count` and
no index of files is kept in RAM. Each commit() writes the cycle's readings as one new
small file (one flush; small enough to live inline in littlefs metadata, so no block is
erased for it); once the small files add up to _SEAL_BYTES they are merged into one
segment of a single flash block. The `state` file holds the acknowledged position (the
cursor), the end of the stored readings (the tail, saved at every commit: recovery
counts readings whose files the flash lost) and the counters. Readings set aside
(aside.py) and an upload's progress (progress.py) live beside the queue. docs/spool.md
explains the format and what a power cut or a damaged flash leaves behind.

It relies on littlefs: whole-file commits on close, atomic rename, and directory
entries listed in name order. Appending allocates nothing (record.pack).
"""

import os

from micropython import const

import spoolstate
from record import RECORD, REJECTED, pack

_STAGE = const(64)  # readings one commit can take
_SEAL_BYTES = const(3072)  # small files merge into a segment at this size; segments fit a block
_ENOSPC = const(28)  # littlefs "no space"; MicroPython's errno module has no ENOSPC


class Spool:
    def __init__(self, root, capacity=None, keep_oldest=False, log=None):
        """Open (and recover) the spool in `root`. `capacity` bounds the readings kept:
        beyond it the oldest are dropped, or with `keep_oldest` the newest; either way
        counted in `dropped` and logged."""
        self.root = root
        self.q = root + "/q/"
        self.capacity = capacity
        self.keep_oldest = keep_oldest
        self._bound = "full"  # what set the capacity: the config, or a full flash
        self.log = log
        self.dropped = self.dead = self.lost = 0
        self.writes = 0  # files written since this Spool was opened (flash wear, energy)
        self._stage = bytearray(_STAGE * RECORD)
        self._staged = 0
        self._hint = None  # the file the last read() ended in: the next read starts there
        self._set_aside = None  # aside.Aside, once a reading is set aside
        _mkdirs(self.q)
        self._recover(self._read_state())

    # -- recovery: O(number of files), never O(readings) -----------------------------

    def _recover(self, state):
        """Rebuild the position from the files. `state` is the state file's (cursor,
        tail), None when there is none, False when it is corrupt. Readings the state
        knew of and no file holds any more are counted as lost and logged."""
        _remove(self.root + "/sent.tmp")
        _remove(self.q + "tmp")  # a merge cut short: its small files are all still there
        cursor, tail = state or (None, 0)
        lost = self.lost
        head = end = None
        run_first, run_bytes = None, 0
        gaps = []
        for name, _, _, size in os.ilistdir(self.q):
            if len(name) != 8:
                continue
            first, n = int(name, 16), size // RECORD
            if end is not None and first < end or not n or cursor is not None and first + n <= cursor:
                os.remove(self.q + name)  # merged into its predecessor, empty, or acknowledged
                continue
            if head is None:
                head = first
                if cursor is not None and first > cursor:  # the oldest readings are gone
                    self._missing(first - cursor, "before %08x" % first)
            elif first > end and len(gaps) < 8:
                gaps.append((end, first))  # filled after the listing, not during it
            end = first + n
            if size < _SEAL_BYTES:
                run_first = first if run_first is None else run_first
                run_bytes += size
            else:
                run_first, run_bytes = None, 0
        if cursor is None:
            cursor = head if head is not None else 0
        self.tail = end if end is not None else cursor
        if tail > self.tail:  # the newest readings are gone: their indices are used again
            self._missing(tail - self.tail, "from %08x on" % self.tail)
            _remove(self.root + "/sent")  # its window may cover them
        self.cursor = max(cursor, head if head is not None else cursor)
        self.head = head if head is not None else self.tail
        self._run_first, self._run_bytes = run_first, run_bytes
        if state is False or (state is None and head is not None):
            self._warn("state file %s: counters restart at 0, the %d readings left are sent "
                       "again (some may reach the server twice)"
                       % ("corrupt" if state is False else "missing", self.pending()))
        if gaps:
            import lost

            for first, end in gaps:
                lost.tombstones(self, first, end, "file missing")
        if not state or self.lost != lost:
            self._save()

    def _missing(self, n, where):
        self.lost += n
        self._warn("%d readings %s are missing (%d lost so far)" % (n, where, self.lost))

    def _read_state(self):
        """(cursor, tail) from the state file, and the counters; None without one, False
        when it is corrupt."""
        v = spoolstate.read(self.root + "/state")
        if not v:
            return v
        self.dropped, self.dead, self.lost = v[2], v[3], v[4]
        return v[0], v[1]

    def _save_state(self):
        self.writes += 1
        spoolstate.write(self.root + "/state", self.cursor, self.tail, self.dropped, self.dead,
                         self.lost)

    def _save(self):
        """Save the state, or log why not: the counts then wait for the next save."""
        try:
            self._save_state()
        except OSError as e:
            self._warn_os("cannot save the state (%s)", e)

    def _warn(self, msg):
        if self.log:
            self.log.warn("spool: " + msg)

    def _warn_os(self, fmt, e):
        self._warn(fmt % _why(e))

    # -- writing ---------------------------------------------------------------------

    def append(self, sensor, t, value, flags=0, aux=0):
        """Stage one reading in RAM (allocates nothing); commit() stores it. `aux` is
        16 bits the caller may use (the node: the boot session of an undated time)."""
        if self._staged == _STAGE:
            raise OSError("spool: %d readings staged, commit() first" % _STAGE)
        pack(self._stage, self._staged * RECORD, sensor, flags, t, value, aux)
        self._staged += 1

    def commit(self):
        """Store the staged readings with one flush, then the state's new tail; returns
        how many were stored.

        A full flash drops the oldest files (counted) until the new one fits, or with
        keep_oldest refuses the readings (counted) until some are acknowledged.
        """
        n, self._staged = self._staged, 0
        if not n:
            return 0
        if self.keep_oldest and self.capacity and self.pending() + n > self.capacity:
            return self._refuse(n, self._bound)
        while True:
            try:
                self.writes += 1
                _write(self.q + "%08x" % self.tail, self._stage, n * RECORD)
                break
            except OSError as e:
                _remove(self.q + "%08x" % self.tail)
                if e.args[0] != _ENOSPC or not self._full():
                    return self._refuse(n, _why(e))
        if self._run_first is None:
            self._run_first = self.tail
        self.tail += n
        self._run_bytes += n * RECORD
        if self._run_bytes >= _SEAL_BYTES:
            try:
                self._seal()
            except OSError as e:  # the small files stay as they are; next commit retries
                _remove(self.q + "tmp")
                if e.args[0] != _ENOSPC or not self._full():
                    self._warn_os("cannot merge files (%s)", e)
        while self.capacity and self.pending() > self.capacity and self._drop_oldest("full"):
            pass
        self._save()
        return n

    def _full(self):
        """The flash is full: drop the oldest file to make room (True), or with
        keep_oldest take no more than is held now until readings are acknowledged."""
        if self.keep_oldest:
            self.capacity, self._bound = self.pending(), "flash full"
            return False
        return self._drop_oldest("flash full")

    def _refuse(self, n, why):
        self.dropped += n
        self._save()
        self._warn("cannot store %d readings (%s): dropped (%d so far)" % (n, why, self.dropped))
        return 0

    def _seal(self):
        """Merge the small files into one segment: write it aside, rename it over the
        first small file (atomic), then remove the rest (recovery removes leftovers)."""
        first = f = self._run_first
        names = []
        self.writes += 1
        with open(self.q + "tmp", "wb") as out:
            while f < self.tail:
                name = self.q + "%08x" % f
                with open(name, "rb") as src:
                    n = src.readinto(self._stage)
                out.write(memoryview(self._stage)[:n])
                names.append(name)
                f += n // RECORD
        os.rename(self.q + "tmp", names[0])
        self._hint = None
        for name in names[1:]:
            os.remove(name)
        self._run_first, self._run_bytes = None, 0
        if self.head > first:
            self.head = first

    def _drop_oldest(self, why):
        """Drop the oldest file's unacknowledged readings to make room; False if none.
        The file goes before the log line, which may need its room on a full flash."""
        if self.head >= self.tail or self._next(self.head) >= self.tail:
            return False  # never drop the only file: it holds the newest readings
        end = self._next(self.head)
        lost = end - self.cursor
        self.dropped += lost
        self.cursor = end
        self._save_state()
        self._forget()
        self._warn("%s: dropped the %d oldest readings (%d dropped so far)"
                   % (why, lost, self.dropped))
        return True

    # -- reading and acknowledging ---------------------------------------------------

    def pending(self):
        return self.tail - self.cursor

    def _next(self, f):
        """The index after file `f`."""
        try:
            return f + os.stat(self.q + "%08x" % f)[6] // RECORD
        except OSError:
            return self.tail

    def read(self, start, buf, most=None):
        """Copy pending records from the `start`-th one into `buf` (whole records, at
        most `most`); returns how many. Streams from flash: the backlog is never loaded."""
        want = self.cursor + start
        mv = memoryview(buf)
        got, room = 0, len(buf) // RECORD
        if most is not None and most < room:
            room = most
        f = self._hint if self._hint is not None and self.head <= self._hint <= want else self.head
        broken = None
        while got < room and want < self.tail:
            end = self._next(f)
            if end <= want:
                f = end
                continue
            try:
                with open(self.q + "%08x" % f, "rb") as src:
                    src.seek((want - f) * RECORD)
                    k = min(room - got, end - want)
                    k = src.readinto(mv[got * RECORD : (got + k) * RECORD]) // RECORD
            except OSError as e:
                if broken == f:
                    return got
                broken = f
                import lost

                lost.unreadable(self, f, e)
                continue
            got += k
            want += k
            self._hint = f
            f = end
        return got

    def ack(self, n):
        """The server stored the first `n` pending readings: move the cursor past them
        (atomically), then remove the files that are wholly behind it."""
        self.cursor = min(self.tail, self.cursor + n)
        try:
            self._save_state()
        except OSError as e:  # the files stay: after a reset these readings go again
            self._warn("cannot record the acknowledgement (%s)" % e)
            return
        self._forget()

    def _forget(self):
        self._hint = None
        while self.head < self.tail:
            end = self._next(self.head)
            if end > self.cursor:
                break
            _remove(self.q + "%08x" % self.head)
            if self._run_first is not None and self._run_first <= self.head:
                self._run_first = end if end < self.tail else None
                self._run_bytes = max(0, self._run_bytes - (end - self.head) * RECORD)
            self.head = end


    # -- beside the queue: an upload's progress (progress.py), readings set aside (aside.py)

    def save_progress(self, n, bits):
        """Remember which of the first `n` pending readings are done (bit i of `bits`)."""
        import progress  # only uploads use it

        self.writes += 1
        progress.save(self.root + "/sent", self.cursor, n, bits)

    def progress(self, bits):
        """The saved progress into `bits`; returns its `n` (0: none for these readings)."""
        import progress

        return progress.load(self.root + "/sent", self.cursor, bits)

    def _aside(self):
        """The dead letters and parked readings (aside.py), loaded only once they are
        needed: most wakes set nothing aside."""
        if self._set_aside is None:
            from aside import Aside

            self._set_aside = Aside(self)
        return self._set_aside

    def dead_letter(self, buf, i, why=REJECTED):
        self._aside().dead_letter(buf, i, why)

    def park(self, buf, i):
        self._aside().park(buf, i)

    def parked(self):
        """How many readings are parked."""
        try:
            return os.stat(self.root + "/parked")[6] // RECORD
        except OSError:
            return 0

    def parked_sensors(self):
        return self._aside().parked_sensors(self._stage) if self.parked() else set()

    def unpark(self):
        return self._aside().unpark()

def _why(e):
    """An OSError in the log's words: littlefs's "no space" is a bare 28."""
    return "flash full" if e.args[0] == _ENOSPC else str(e)


def _write(path, data, n):
    with open(path, "wb") as f:
        f.write(data, n)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _mkdirs(path):
    p = ""
    for part in path.strip("/").split("/"):
        p += "/" + part
        try:
            os.mkdir(p)
        except OSError:
            pass
