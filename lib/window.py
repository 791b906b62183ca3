"""The window an upload works through: the oldest pending readings, read from the
spool a block at a time, and which of them are done, set aside or carried by the
request being sent (a bit each).

A request's body pulls its readings from here (sensocan.Body): iterating the window
walks the current request's readings, reading the spool as it goes, so readings flow
one way, from flash to the socket. Its memory is fixed (one block of records, three
bitmaps) whatever the window's length; a walk allocates nothing per reading.
"""

from micropython import const

import record
import sensocan
from progress import WINDOW_MAX
from record import LOST, RECORD

_BLOCK = const(32)  # records read from flash at a time (512 bytes)
_NONE = const(255)  # the group of a sensor no request carries


class Request(sensocan.Request):
    """A planned request: the readings of request `group` among window positions
    lo..hi-1, of `sensor` alone for bulk and single. `count` None: what it carries has
    changed since the plan (counted again before it is sent); `aside`: some of its
    readings were set aside, to dead-letter or park when it is done."""

    def __init__(self, endpoint, group, lo, hi, sensor=None, uuid=None, count=None, size=None):
        sensocan.Request.__init__(self, endpoint, uuid, count, size)
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
        self.aside = bytearray(WINDOW_MAX // 8)  # to set aside once its request is done
        self.sent = bytearray(WINDOW_MAX // 8)  # carried by the request being sent
        self.n = 0  # the window's length
        self.p = 0  # the position in the window of the reading a walk is at
        self.reached = 0  # where the last walk ended (short of its end: unreadable)
        self.req = None  # the request being sent (sensocan.Request with group, lo, hi)

    def load(self):
        """The saved progress into `done`; returns its window's length, 0 for none."""
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
        g, aside, sent, buf = req.group, self.aside, self.sent, self.buf
        for i in self.walk(req.lo, req.hi):
            if self.of(i) == g and not _bit(aside, self.p) and record.flags(buf, i) != LOST:
                _set(sent, self.p)
                yield i

    def begin(self, req):
        """`req` is the request to send next: iterating the window walks its readings."""
        self.req = req
        _clear(self.sent)

    def __iter__(self):
        return self.items(self.req)

    # what sensocan.Body asks of each reading
    def sensor(self, i):
        return record.sensor(self.buf, i)

    def value_at(self, i):
        return record.value_at(i)

    def when(self, i):
        return self.date(record.time_of(self.buf, i), record.aux(self.buf, i))

    def of(self, i):
        """The request group of record i's sensor (_NONE: not a sensor we know)."""
        s = record.sensor(self.buf, i)
        return self.group[s] if s < len(self.group) else _NONE

    def mark(self, p):
        _set(self.done, p)

    def set_aside(self, p):
        _set(self.aside, p)

    def is_aside(self, p):
        return _bit(self.aside, p)

    def carried(self):
        """The request's readings are stored: mark what it carried done; returns whether
        it carried any."""
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
