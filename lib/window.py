"""The window an upload works through: the oldest pending readings, read from the
spool a block at a time, and which of them are done, set aside or carried by the
request being sent (a bit each).

A request's body pulls its readings from here (sensocan.Body): iterating the window
walks the current request's readings, reading the spool as it goes, so readings flow
one way, from flash to the socket. Its memory is fixed (one block of records, two
bitmaps, a third once the server blames a reading) whatever the window's length; a
walk allocates nothing per reading.
"""

from micropython import const

import record
from progress import WINDOW_MAX
from record import LOST, RECORD

_BLOCK = const(32)  # records read from flash at a time (512 bytes)
_NONE = const(255)  # the group of a sensor no request carries


class Request:
    """A planned request: to `endpoint`, the readings of request `group` among window
    positions lo..hi-1, of `sensor` (its `uuid`) alone for bulk and single. `count`
    None: what it carries changed since the plan (counted again before it is sent);
    `aside`: some of its readings were set aside, to dead-letter or park when done."""

    def __init__(self, endpoint, group, lo, hi, sensor=None, uuid=None, count=None, size=None):
        self.endpoint = endpoint  # sensocan.BATCH, BULK or SINGLE
        self.uuid = uuid
        self.count = count
        self.size = size  # its items' bytes in a body
        self.group = group
        self.lo = lo
        self.hi = hi
        self.sensor = sensor
        self.aside = False

    def part(self, lo, hi, group=None):
        r = Request(self.endpoint, self.group if group is None else group, lo, hi, self.sensor,
                    self.uuid)
        r.aside = self.aside
        return r


class Window:
    """`group[s]` is the request group of sensor s (the planner's); `date(t, aux)` a
    record's real time or None (clock.Sessions.date)."""

    def __init__(self, spool, group, date):
        self.spool = spool
        self.group = group
        self.date = date
        self.buf = bytearray(_BLOCK * RECORD)
        self.done = bytearray(WINDOW_MAX // 8)  # sent, set aside or a tombstone
        self.aside = None  # to set aside once its request is done: made when first needed
        self.sent = None  # carried by the request being sent, when it is not the last
        self.n = 0  # the window's length
        self.p = 0  # the position in the window of the reading a walk is at
        self.reached = 0  # where the last walk ended (short of its end: unreadable)
        self.req = None  # the Request being sent
        self.track = False  # whether `sent` notes what it carries

    def load(self):
        """The saved progress into `done`; returns its window's length, 0 for none."""
        if self.aside:
            _clear(self.aside)
        return self.spool.progress(self.done)

    def save(self):
        """Save which readings are done (OSError when the flash refuses)."""
        self.spool.save_progress(self.n, self.done)

    def walk(self, lo, hi):
        """Readings lo..hi-1 of the window not yet done, as indices into `buf`; `p` is
        each one's position."""
        buf, done = self.buf, self.done
        while lo < hi:
            n = self.spool.read(lo, buf, hi - lo)
            if not n:
                break
            for p in range(lo, lo + n):
                if not _bit(done, p):
                    self.p = p
                    yield p - lo
            lo += n
        self.reached = lo

    def items(self, req):
        """The readings `req` carries (as walk()), each noted as sent. A file turned
        unreadable since the plan holds tombstones now: they are not carried."""
        g, aside, sent, buf = req.group, self.aside, self.track and self.sent, self.buf
        for i in self.walk(req.lo, req.hi):
            if (self.of(i) == g and not (aside and _bit(aside, self.p))
                    and record.flags(buf, i) != LOST):
                if sent:
                    _set(sent, self.p)
                yield i

    def begin(self, req, last):
        """`req` is the request to send next: iterating the window walks its readings.
        What the window's `last` request carries need not be noted: the window's
        acknowledgement follows it (so a window of one request needs no `sent` map)."""
        self.req = req
        self.track = not last
        if last:
            return
        if self.sent is None:
            self.sent = bytearray(WINDOW_MAX // 8)
        else:
            _clear(self.sent)

    def __iter__(self):
        return self.items(self.req)

    def when(self, i):
        """The real time of record i (sensocan.Body asks it of each reading)."""
        return self.date(record.time_of(self.buf, i), record.aux(self.buf, i))

    def of(self, i):
        """The request group of record i's sensor (_NONE: not a sensor we know)."""
        s = record.sensor(self.buf, i)
        return self.group[s] if s < len(self.group) else _NONE

    def mark(self, p):
        _set(self.done, p)

    def set_aside(self, p):
        if self.aside is None:  # the server blamed a reading: most wakes never get here
            self.aside = bytearray(WINDOW_MAX // 8)
        _set(self.aside, p)

    def is_aside(self, p):
        return self.aside is not None and _bit(self.aside, p)

    def carried(self):
        """The request's readings are stored: mark what it carried done; returns whether
        it carried any (the last request: True, nothing marked)."""
        if not self.track:
            return True
        done, sent = self.done, self.sent
        carried = 0
        for k in range(self.req.lo >> 3, (self.req.hi + 7) >> 3):
            done[k] |= sent[k]
            carried |= sent[k]
        return carried != 0


def _bit(bits, i):
    return bits[i >> 3] >> (i & 7) & 1


def _set(bits, i):
    bits[i >> 3] |= 1 << (i & 7)


def _clear(bits):
    for i in range(len(bits)):
        bits[i] = 0
