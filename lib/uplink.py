"""Upload policy: drain the spool oldest first, a window at a time, through the batch
and bulk endpoints over one kept-alive connection.

A window is the oldest pending readings, up to WINDOW_MAX of them and until one sensor
has `chunk_max` in it. It is planned once, in one read of it: each reading is checked
and measured, then the requests are planned (Request: endpoint, sensor, range of the
window, count and bytes). A sensor with a UUID goes to the bulk endpoint (its own
request, items that do not name it) when the bytes that saves beat a request's own
cost, _REQUEST_BYTES; the others share batch requests of at most `chunk_max` items; one
reading alone goes to the single-reading endpoint. Each request's body then pulls its
readings from the window (window.py) as it is sent: one more read, and the memory does
not grow with the window, a chunk or the backlog.

The window's done readings are saved after every 201 (spool.save_progress): after a
reset or a failed request the drain resumes where it stopped and sends no acknowledged
reading again; the window is acknowledged in the spool when all of it is done.
Readings the server rejects (a 422 naming them), corrupt ones and ones that cannot be
dated go to the dead letters; those of a sensor the server does not know are parked
(spool.park) until the node tries them again: one bad reading or sensor never blocks
the queue. Anything else (401, 404 for the device, 429, 5xx, network) stops the drain
with the readings still queued; the caller decides when to try again. What a reply
means is sensocan's to say; what to do about it is decided here.
"""

from micropython import const

import backoff
import clock
import jsonnum
import record
import sensocan
from progress import WINDOW_MAX
from record import CORRUPT, LOST, UNDATED, UNSENDABLE

# Bytes one more request costs beyond its items, measured against the mock: 563 of
# request line, headers (a 40-character token) and reply, plus 33 of body framing
# with a battery_voltage. A sensor goes to the bulk endpoint when leaving the sensor
# name out of its items saves more than this: with the 24 bytes of
# '"sensor_slug":"temp_01",' from 26 readings in the window, with the 53 of a
# sensor_uuid from 12. Fewer bytes also means no more requests: a bulk request
# carries up to chunk_max items like a batch one.
_REQUEST_BYTES = const(600)


class Result:
    """What a drain did; `kind` is sensocan.STORED unless a reply stopped it."""

    def __init__(self, max_requests):
        self.kind = sensocan.STORED
        self.status = 0
        self.message = ""
        self.max_requests = max_requests
        self.requests = 0  # tried (the budget counts them)
        self.went = 0  # that reached the server, or may have
        self.acked = 0
        self.dead = 0
        self.blind = 0
        self.unsure = 0  # readings whose request may have arrived although no reply did
        self.parked = 0  # readings of sensors the server does not know, kept for later
        self.answered = 0  # requests the server took: stored, or items blamed (backoff resets)
        self.wait = None  # seconds the server asked us to hold off
        self.logged = 0  # dead-letter reasons already logged (a bit each): one line per drain

    def stop(self, reply):
        self.kind = reply.kind
        self.status = reply.status
        self.message = reply.message
        return False


class Uplink:
    """Drains one spool. `sensors[k]` is (slug, uuid) of sensor number k (either may be
    None); `date(t, aux)` gives a record's real time or None (clock.Sessions.date)."""

    def __init__(self, api, spool, sensors, chunk_max, log, date=None, feed=None):
        self.api = api
        self.spool = spool
        self.sensors = sensors
        self.prefixes = [sensocan.item_prefix(slug, uuid) for slug, uuid in sensors]
        self.uuids = [uuid for _, uuid in sensors]
        self.chunk_max = chunk_max
        self.log = log
        self.feed = feed  # called once per request: the watchdog
        # sensor numbers the server does not know (404 or 422), learned at an earlier
        # upload for as long as their readings stay parked (until the next retry)
        self.unknown = spool.parked_sensors()
        k = len(sensors)
        self.group = bytearray(k)  # sensor -> its request group in this window
        self.counts = [0] * k  # its readings in the window
        self.sizes = [0] * k  # their bytes in a body, beyond their prefixes
        self.groups = 0
        self.lost = 0  # spool.lost when the window was planned
        # window.py loads here, not with this module: after the node has made its HTTP
        # client's buffers (on the 32-bit port the heaviest configs accepted fail the
        # other way round, tests/test_heap.py: the heap is too fragmented by then)
        from window import Window

        self.win = Window(spool, self.group, date or _dated)

    def drain(self, battery=None, max_requests=20, until=None):
        """Send pending readings until the spool is empty, something fails, the request
        budget is spent or `until` (a ticks_ms() value) has come; returns a Result."""
        res = Result(max_requests)
        self.battery = battery
        self.api.until = until
        while res.requests < max_requests and self.spool.pending():
            tasks = self._plan(res)
            if not self.win.n:
                self.log.error("the spool cannot be read: upload stopped")
                res.kind = sensocan.UNEXPECTED
                break
            go = True
            while tasks and go:
                if res.requests >= max_requests:
                    return res
                go = self._send(tasks, res)
            if tasks:  # stopped with requests to go: the saved progress resumes them
                return res
            self.spool.ack(self.win.n)
            if not go or res.wait is not None:
                break
        return res

    # -- planning ------------------------------------------------------------------

    def _plan(self, res):
        """Load or choose the window, check and measure its readings; returns its
        requests. Unsendable readings are set aside here, before any request."""
        win, counts, sizes = self.win, self.counts, self.sizes
        n = win.load()
        for s in range(len(counts)):
            counts[s] = sizes[s] = 0
        end = n or min(self.spool.pending(), WINDOW_MAX)
        buf = win.buf
        dirty = False
        for i in win.walk(0, end):
            t = self._check(buf, i, res)
            if t is None:
                win.mark(win.p)
                dirty = True
                continue
            s = record.sensor(buf, i)
            counts[s] += 1
            sizes[s] += sensocan.item_size(buf, record.value_at(i), t)
            if not n and counts[s] == self.chunk_max:
                end = win.p + 1
                break
        else:
            end = min(end, win.reached)  # never acknowledge what was not read
        win.n = end
        self.lost = self.spool.lost
        if dirty:
            self._save()
        return self._group(end)

    def _check(self, buf, i, res):
        """Record i's real time, or None when it cannot be sent: then it is set aside
        (checked once per upload: the walks below trust it)."""
        s = record.sensor(buf, i)
        if not record.intact(buf, i):
            return self._aside(buf, i, CORRUPT, "checksum failed", res)
        if record.flags(buf, i) == LOST:  # a tombstone: the spool already counted the loss
            return None
        if s in self.unknown:
            return self._aside(buf, i, 0, None, res)
        if s >= len(self.counts) or not jsonnum.finite(buf, record.value_at(i)):
            return self._aside(buf, i, UNSENDABLE,
                               "sensor %d, value %r" % (s, record.value(buf, i)), res)
        t = self.win.when(i)
        if t is None:
            return self._aside(buf, i, UNDATED,
                              "taken before the clock was ever set in its boot session", res)
        return t

    def _group(self, n):
        """The window's requests: bulk for a sensor when it saves bytes, batches of
        chunk_max for the rest."""
        from window import Request

        counts, group, bulk = self.counts, self.group, len(sensocan.BULK_PREFIX)
        total = sum(counts)
        reqs = []
        batch, room = None, 0
        for s, c in enumerate(counts):
            if not c:
                group[s] = 255
                continue
            uuid, size = self.uuids[s], self.sizes[s]
            if uuid and (c == total or c * (len(self.prefixes[s]) - bulk) > _REQUEST_BYTES):
                group[s] = len(reqs)
                reqs.append(Request(sensocan.SINGLE if total == 1 else sensocan.BULK, len(reqs),
                                    0, n, s, uuid, c, size + c * bulk))
                continue
            if c > room:
                batch = Request(sensocan.BATCH, len(reqs), 0, n, None, None, 0, 0)
                room = self.chunk_max
                reqs.append(batch)
            group[s] = batch.group
            room -= c
            batch.count += c
            batch.size += size + c * len(self.prefixes[s])
        self.groups = len(reqs)
        return reqs

    # -- sending -------------------------------------------------------------------

    def _send(self, tasks, res):
        """Send the first task's request and act on the reply; False: stop draining."""
        req = tasks[0]
        self.win.begin(req, len(tasks) == 1)
        if req.count is None or self.spool.lost != self.lost:  # not the plan's any more
            import blame

            blame.measure(self, req)
        if not req.count:  # everything in it was set aside
            self._finish(tasks, res)
            return True
        if self.feed:
            self.feed()
        reply = self.api.send(req.endpoint, req.uuid, self.win, self.battery, self.prefixes,
                              req.count, req.size)
        items = req.count
        res.requests += 1
        res.went += reply.sent
        if reply.remaining is not None and reply.remaining <= 0:
            res.wait = backoff.rate_wait(reply.retry_after, 0)
        # each copy that may have arrived unanswered may arrive again: the first of a
        # resent request, and one that no status came back for (the resend too)
        res.unsure += items * (reply.resent + (reply.sent and reply.status == 0))
        if reply.kind is sensocan.STORED:
            if reply.count is not None and reply.count != items:
                self.log.warn("server counted %d readings, we sent %d" % (reply.count, items))
            res.answered += 1
            res.acked += items
            self._finish(tasks, res)
            return res.wait is None
        blamed = sensocan.blames_items(reply, req.endpoint == sensocan.BATCH)
        res.answered += blamed
        refused = sensocan.battery_refused(reply, self.battery)
        if refused:
            self.log.warn(refused + "; sending without it")
            self.battery = None
            return True
        if not blamed:
            res.stop(reply)
            if reply.kind is sensocan.RATE_LIMITED:
                res.wait = backoff.rate_wait(reply.retry_after, 0)
            return False
        import blame

        return blame.act(self, tasks, reply, res)

    def _finish(self, tasks, res):
        """The first task's request is done: mark what it carried done (and dead-letter
        or park what it set aside), and save the progress."""
        req = tasks.pop(0)
        win = self.win
        if req.aside:
            import blame

            marked = blame.finish(self, req, res)
        else:
            marked = win.carried()
        if marked and tasks:  # the last one: the window's ack comes next, one write less
            self._save()

    def _save(self):
        try:
            self.win.save()
        except OSError as e:  # after a reset, these readings may be sent again
            self.log.warn("cannot save the upload's progress (%s)" % e)

    def _aside(self, buf, i, why, text, res):
        """Set record i aside, dead (`why` a record flag, `text` what to log) or parked
        (why 0): blame.py, loaded only when a wake needs it."""
        import blame

        blame.aside(self, buf, i, why, text, res)


def _dated(t, aux):
    return t if clock.valid(t) else None
