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
from record import CORRUPT, LOST, REJECTED, UNDATED, UNSENDABLE
from window import Request, Window

# Bytes one more request costs beyond its items, measured against the mock: 563 of
# request line, headers (a 40-character token) and reply, plus 33 of body framing
# with a battery_voltage. A sensor goes to the bulk endpoint when leaving the sensor
# name out of its items saves more than this: with the 24 bytes of
# '"sensor_slug":"temp_01",' from 26 readings in the window, with the 53 of a
# sensor_uuid from 12. Fewer bytes also means no more requests: a bulk request
# carries up to chunk_max items like a batch one.
_REQUEST_BYTES = const(600)
_MAX_BLIND = const(3)  # readings set aside per drain on a rejection that names no item


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
        self.first = [0] * k  # window positions of its first and last reading
        self.last = [0] * k
        self.groups = 0
        self.lost = 0  # spool.lost when the window was planned
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
            if not counts[s]:
                self.first[s] = win.p
            counts[s] += 1
            self.last[s] = win.p
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
        return self._group()

    def _check(self, buf, i, res):
        """Record i's real time, or None when it cannot be sent: then it is set aside
        (checked once per upload: the walks below trust it)."""
        s = record.sensor(buf, i)
        if not record.intact(buf, i):
            return self._dead(buf, i, CORRUPT, "checksum failed", res)
        if record.flags(buf, i) == LOST:  # a tombstone: the spool already counted the loss
            return None
        if s in self.unknown:
            return self._park(buf, i, res)
        if s >= len(self.counts) or not jsonnum.finite(buf, record.value_at(i)):
            return self._dead(buf, i, UNSENDABLE, "sensor %d, value %r" % (s, record.value(buf, i)),
                              res)
        t = self.win.when(i)
        if t is None:
            return self._dead(buf, i, UNDATED,
                              "taken before the clock was ever set in its boot session", res)
        return t

    def _group(self):
        """The window's requests: bulk for a sensor when it saves bytes, batches of
        chunk_max for the rest."""
        counts, group, bulk = self.counts, self.group, len(sensocan.BULK_PREFIX)
        total = sum(counts)
        reqs = []
        batch, room = None, 0
        for s, c in enumerate(counts):
            if not c:
                group[s] = 255
                continue
            uuid, size, lo, hi = self.uuids[s], self.sizes[s], self.first[s], self.last[s] + 1
            if uuid and (c == total or c * (len(self.prefixes[s]) - bulk) > _REQUEST_BYTES):
                group[s] = len(reqs)
                reqs.append(Request(sensocan.SINGLE if total == 1 else sensocan.BULK, len(reqs),
                                    lo, hi, s, uuid, c, size + c * bulk))
                continue
            if c > room:
                batch = Request(sensocan.BATCH, len(reqs), lo, hi, None, None, 0, 0)
                room = self.chunk_max
                reqs.append(batch)
            group[s] = batch.group
            room -= c
            batch.count += c
            batch.size += size + c * len(self.prefixes[s])
            batch.lo, batch.hi = min(batch.lo, lo), max(batch.hi, hi)
        self.groups = len(reqs)
        return reqs

    # -- sending -------------------------------------------------------------------

    def _send(self, tasks, res):
        """Send the first task's request and act on the reply; False: stop draining."""
        req = tasks[0]
        self.win.begin(req)
        if req.count is None or self.spool.lost != self.lost:
            self._measure(req)
        if not req.count:  # everything in it was set aside
            self._finish(tasks, res)
            return True
        if self.feed:
            self.feed()
        reply = self.api.send(req, self.win, self.battery, self.prefixes)
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
        if sensocan.names_items(reply) and self._named(reply, req):
            return True
        if not blamed:
            res.stop(reply)
            if reply.kind is sensocan.RATE_LIMITED:
                res.wait = backoff.rate_wait(reply.retry_after, 0)
            return False
        if req.endpoint != sensocan.BATCH and reply.kind is sensocan.NOT_FOUND:
            self._unknown(req.sensor, req)  # its path names the sensor
            return True
        return self._bisect(tasks, reply, res)

    def _measure(self, req):
        """Count what `req` carries now, and its bytes: the plan's figures do not hold."""
        win, buf = self.win, self.win.buf
        batch = req.endpoint == sensocan.BATCH
        count = size = 0
        for i in win.items(req):
            count += 1
            size += (len(self.prefixes[record.sensor(buf, i)] if batch else sensocan.BULK_PREFIX)
                     + sensocan.item_size(buf, record.value_at(i), win.when(i)))
        req.count, req.size = count, size

    def _named(self, reply, req):
        """Set aside the items a 422 names; False when it names none of this request's."""
        win = self.win
        added = k = 0
        unknown = set()
        for i in win.items(req):
            blame = sensocan.blame(reply, k)
            if blame:
                if blame == sensocan.UNKNOWN:
                    unknown.add(record.sensor(win.buf, i))
                win.set_aside(win.p)
                added += 1
            k += 1
        if added:
            self._changed(req)
            self.log.warn("%d reading%s rejected by the server: %s" % (
                added, "s" if added > 1 else "", sensocan.detail(reply) or "(no reason given)"))
        for sensor in unknown:  # after the walk: this one reuses its buffer
            self._unknown(sensor, req)
        return added > 0

    def _bisect(self, tasks, reply, res):
        """Some item is bad but the reply does not say which: split the request."""
        req = tasks[0]
        group = self.group
        sensors = [s for s in range(len(group)) if group[s] == req.group and self.counts[s]]
        if reply.kind is sensocan.NOT_FOUND and len(sensors) == 1:  # it names this sensor
            self._unknown(sensors[0], req)
            return True
        if len(sensors) > 1:  # usually an unknown sensor: halve the sensors first
            g2 = self.groups
            self.groups += 1
            for s in sensors[len(sensors) // 2 :]:
                group[s] = g2
            req.count = None
            tasks.insert(1, req.part(req.lo, req.hi, g2))
            return True
        items = req.count
        if items > 1:
            k = 0
            for _ in self.win.items(req):
                if k == items // 2:
                    p = self.win.p
                    tasks[0] = req.part(req.lo, p)
                    tasks.insert(1, req.part(p, req.hi))
                    return True
                k += 1
        if res.blind == _MAX_BLIND:
            self.log.error("server keeps rejecting readings without naming them; pausing")
            return res.stop(reply)
        res.blind += 1
        self.log.warn("%d reading%s rejected by the server: %d %s" % (
            items, "s" if items > 1 else "", reply.status, sensocan.detail(reply) or reply.message))
        for _ in self.win.items(req):
            self.win.set_aside(self.win.p)
        self._changed(req)
        return True

    def _unknown(self, s, req):
        """Sensor `s` is unknown to the server: set its readings aside, now and later."""
        if s not in self.unknown:
            self.unknown.add(s)
            self.log.error("the server does not know sensor %s: its readings are parked and "
                           "tried again after upload.alert_retry_s; create it on the "
                           "dashboard's Sensors tab or fix config.json"
                           % (self.sensors[s][0] or self.sensors[s][1]))
        win = self.win
        for i in win.walk(req.lo, req.hi):
            if record.sensor(win.buf, i) == s:
                win.set_aside(win.p)
        self._changed(req)

    def _changed(self, req):
        req.aside = True
        req.count = None

    def _finish(self, tasks, res):
        """The first task's request is done: mark what it carried done (and dead-letter
        or park what it set aside), and save the progress."""
        req = tasks.pop(0)
        win = self.win
        if not req.aside:
            marked = win.carried()
        else:
            marked = False
            buf = win.buf
            for i in win.walk(req.lo, req.hi):
                if win.of(i) == req.group:
                    if win.is_aside(win.p):
                        if record.sensor(buf, i) in self.unknown:
                            self._park(buf, i, res)
                        else:
                            self._dead(buf, i, REJECTED, None, res)
                    win.mark(win.p)
                    marked = True
        if marked and tasks:  # the last one: the window's ack comes next, one write less
            self._save()

    def _save(self):
        try:
            self.win.save()
        except OSError as e:  # after a reset, these readings may be sent again
            self.log.warn("cannot save the upload's progress (%s)" % e)

    def _park(self, buf, i, res):
        self.spool.park(buf, i)
        res.parked += 1

    def _dead(self, buf, i, why, text, res):
        if text and not res.logged >> why & 1:
            res.logged |= 1 << why
            self.log.warn("reading set aside in dead letters (%s): %s (more alike are counted, "
                          "not logged)" % (_WHY[why], text))
        self.spool.dead_letter(buf, i, why)
        res.dead += 1


_WHY = {REJECTED: "rejected", CORRUPT: "corrupt", UNSENDABLE: "unsendable", UNDATED: "undated"}


def _dated(t, aux):
    return t if clock.valid(t) else None
