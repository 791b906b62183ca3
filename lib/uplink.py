"""Upload policy: drain the spool oldest first, a window at a time, through the batch
and bulk endpoints over one kept-alive connection.

A window is the oldest pending readings, up to WINDOW_MAX of them and until one sensor
has `chunk_max` in it. It is planned once: a sensor with a UUID goes to the bulk
endpoint (its own request, items that do not name it) when the bytes that saves beat
a request's own cost, _REQUEST_BYTES; the others share batch requests of at most
`chunk_max` items; one reading alone goes to the single-reading endpoint. Request
bodies are streamed from flash (spool.read of _BLOCK records at a time), so memory
does not grow with the window, a chunk or the backlog.

A bitmap of the window's done readings is saved after every 201 (spool.save_progress):
after a reset or a failed request the drain resumes where it stopped and sends no
acknowledged reading again; the window is acknowledged in the spool when all of it is
done. Readings the server rejects (a 422 naming them), corrupt ones and ones that
cannot be dated go to the dead letters; those of a sensor the server does not know are
parked (spool.park) until the node tries them again: one bad reading or sensor never
blocks the queue. Anything else (401, 404 for the device, 429, 5xx,
network) stops the drain with the readings still queued; the caller decides when
to try again.
"""

from micropython import const

import backoff
import clock
import jsonnum
import sensocan
from progress import WINDOW_MAX
from record import (CORRUPT, LOST, RECORD, REJECTED, UNDATED, UNSENDABLE, aux, intact, time_of,
                    unpack)

# Bytes one more request costs beyond its items, measured against the mock: 563 of
# request line, headers (a 40-character token) and reply, plus 33 of body framing
# with a battery_voltage. A sensor goes to the bulk endpoint when leaving the sensor
# name out of its items saves more than this: with the 24 bytes of
# '"sensor_slug":"temp_01",' from 26 readings in the window, with the 53 of a
# sensor_uuid from 12. Fewer bytes also means no more requests: a bulk request
# carries up to chunk_max items like a batch one.
_REQUEST_BYTES = const(600)
_BLOCK = const(32)  # records read from flash at a time (512 bytes)
_MAX_BLIND = const(3)  # readings set aside per drain on a rejection that names no item
_BATCH, _BULK, _SINGLE = const(0), const(1), const(2)


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


def _bit(bits, i):
    return bits[i >> 3] >> (i & 7) & 1


def _set(bits, i):
    bits[i >> 3] |= 1 << (i & 7)


def _of(group, buf, i):
    """The request group of record i's sensor (255: none, or not a sensor we know)."""
    s = buf[i * RECORD]
    return group[s] if s < len(group) else 255


def _clear(bits):
    for i in range(len(bits)):
        bits[i] = 0


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
        self.date = date or _dated
        self.feed = feed  # called once per request: the watchdog
        # sensor numbers the server does not know (404 or 422), learned at an earlier
        # upload for as long as their readings stay parked (until the next retry)
        self.unknown = spool.parked_sensors()
        self.rbuf = bytearray(_BLOCK * RECORD)
        self.done = bytearray(WINDOW_MAX // 8)  # sent, set aside or a tombstone
        self.aside = bytearray(WINDOW_MAX // 8)  # to set aside once its request is done
        self.group = bytearray(len(sensors))  # sensor -> its request group in this window
        self.counts = [0] * len(sensors)
        self.kinds = []  # group -> _BATCH, _BULK or _SINGLE
        self.req = None  # the request being sent: (group, lo, hi)

    def drain(self, battery=None, max_requests=20, until=None):
        """Send pending readings until the spool is empty, something fails, the request
        budget is spent or `until` (a ticks_ms() value) has come; returns a Result."""
        res = Result(max_requests)
        self.battery = battery
        self.api.until = until
        while res.requests < max_requests and self.spool.pending():
            n = self.n = self._plan(res)
            if not n:
                self.log.error("the spool cannot be read: upload stopped")
                res.kind = sensocan.UNEXPECTED
                break
            tasks = [(g, 0, n) for g in range(len(self.kinds))]
            go = True
            while tasks and go:
                if res.requests >= max_requests:
                    return res
                go = self._send(tasks, res)
            if tasks:  # stopped with requests to go: the saved progress resumes them
                return res
            self.spool.ack(n)
            if not go or res.wait is not None:
                break
        return res

    # -- reading the window --------------------------------------------------------

    def _records(self, lo, hi):
        """Positions of the window's readings lo..hi-1 not yet done; reading p is record
        p - self.base of rbuf. Yields small ints: a walk allocates nothing per reading."""
        buf, done = self.rbuf, self.done
        while lo < hi:
            n = min(self.spool.read(lo, buf), hi - lo)
            if not n:
                break
            self.base = lo
            for p in range(lo, lo + n):
                if not _bit(done, p):
                    yield p
            lo += n
        self.reached = lo  # short of hi only when the spool could not be read further

    def _plan(self, res):
        """Load or choose the window and group its readings into requests; returns
        its length. Unsendable readings are set aside here, before any request."""
        done, counts, group, buf = self.done, self.counts, self.group, self.rbuf
        n = self.spool.progress(done)
        _clear(self.aside)
        for s in range(len(counts)):
            counts[s] = 0
        end = n or min(self.spool.pending(), WINDOW_MAX)
        dirty = False
        for p in self._records(0, end):
            i = p - self.base
            o = i * RECORD
            why = None
            s = buf[o]
            if not intact(buf, i):  # checked once per upload: the walks below trust it
                why, text = CORRUPT, "checksum failed"
            else:
                if buf[o + 1] == LOST:  # a tombstone: the spool already counted the loss
                    _set(done, p)
                    dirty = True
                    continue
                if s in self.unknown:
                    self._park(buf, i, res)
                    _set(done, p)
                    dirty = True
                    continue
                if s >= len(counts) or not jsonnum.finite(buf, o + 8):
                    r = unpack(buf, i)
                    why, text = UNSENDABLE, "sensor %d, value %r" % (s, r[3])
                elif self.date(time_of(buf, i), aux(buf, i)) is None:
                    why, text = UNDATED, "taken before the clock was ever set in its boot session"
            if why:
                self._dead(buf, i, why, text, res)
                _set(done, p)
                dirty = True
                continue
            counts[s] += 1
            if not n and counts[s] == self.chunk_max:
                end = p + 1
                break
        else:
            end = min(end, self.reached)  # never acknowledge what was not read
        n = end
        if dirty:
            self._save(n)
        self._group(counts, group)
        return n

    def _group(self, counts, group):
        """Bulk for a sensor when it saves bytes, batches of chunk_max for the rest."""
        kinds = self.kinds = []
        total = sum(counts)
        batch, room = -1, 0
        for s, c in enumerate(counts):
            if not c:
                group[s] = 255
                continue
            uuid = self.uuids[s]
            saved = len(self.prefixes[s]) - len(sensocan.BULK_PREFIX)  # per item, in bulk
            if uuid and (c == total or c * saved > _REQUEST_BYTES):
                group[s] = len(kinds)
                kinds.append(_SINGLE if total == 1 else _BULK)
                continue
            if c > room:
                batch, room = len(kinds), self.chunk_max
                kinds.append(_BATCH)
            group[s] = batch
            room -= c

    # -- sending -------------------------------------------------------------------

    def _items(self, lo, hi):
        """Positions (as _records) of the readings request `self.req` carries."""
        g = self.req[0]
        group, aside, buf = self.group, self.aside, self.rbuf
        for p in self._records(lo, hi):
            i = p - self.base
            # a file turned unreadable since the plan holds tombstones now
            if _of(group, buf, i) == g and not _bit(aside, p) and buf[i * RECORD + 1] != LOST:
                yield p

    def _source(self, body, w):
        """The Body's items: the request's readings with their real times."""
        g, lo, hi = self.req
        prefixes = self.prefixes if self.kinds[g] == _BATCH else None
        for p in self._items(lo, hi):
            self._emit(body, w, p - self.base, prefixes)

    def _emit(self, body, w, i, prefixes):
        """Record i of rbuf into the body (prefixes None: a bulk or single item): the
        upload's per-reading path, which allocates nothing."""
        buf = self.rbuf
        o = i * RECORD
        body.item(w, prefixes[buf[o]] if prefixes else sensocan.BULK_PREFIX, buf, o + 8,
                  self.date(time_of(buf, i), aux(buf, i)))

    def _send(self, tasks, res):
        """Send the first task's request and act on the reply; False: stop draining."""
        g, lo, hi = self.req = tasks[0]
        kind = self.kinds[g]
        items = 0
        sensor = None
        for p in self._items(lo, hi):
            items += 1
            sensor = self.rbuf[(p - self.base) * RECORD]
        if not items:  # everything in it was set aside
            self._finish(tasks, res)
            return True
        if self.feed:
            self.feed()
        api = self.api
        if kind == _BATCH:
            reply = api.send_batch(self._source, self.battery)
        elif kind == _BULK:
            reply = api.send_bulk(self.uuids[sensor], self._source, self.battery)
        else:
            reply = api.send_single(self.uuids[sensor], self._source, self.battery)
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
        blamed = sensocan.blames_items(reply, kind == _BATCH)
        res.answered += blamed
        if reply.kind is sensocan.INVALID:
            scan = reply.scan
            if self.battery is not None and scan.battery:
                self.log.warn("server rejects battery_voltage %r (%s); sending without it"
                              % (self.battery, scan.detail or reply.message))
                self.battery = None
                return True
            if not scan.whole and self._named(scan, lo, hi):
                return True
        if not blamed:
            res.stop(reply)
            if reply.kind is sensocan.RATE_LIMITED:
                res.wait = backoff.rate_wait(reply.retry_after, 0)
            return False
        if kind != _BATCH and reply.kind is sensocan.NOT_FOUND:  # its path names the sensor
            self._unknown(sensor, lo, hi)
            return True
        return self._bisect(tasks, items, reply, res)

    def _named(self, scan, lo, hi):
        """Set aside the items a 422 names (data.N.field: replyscan.Scan's bitmaps);
        False when it names none of this request's."""
        added = 0
        k = 0
        unknown = set()
        for p in self._items(lo, hi):
            if _bit(scan.named, k):
                if _bit(scan.unknown, k):  # an unknown slug or uuid
                    unknown.add(self.rbuf[(p - self.base) * RECORD])
                _set(self.aside, p)
                added += 1
            k += 1
            if k == sensocan.MAX_ITEMS:
                break
        if added:
            self.log.warn("%d reading%s rejected by the server: %s" % (
                added, "s" if added > 1 else "", scan.detail or "(no reason given)"))
        for sensor in unknown:  # after the walk: this one reuses its buffer
            self._unknown(sensor, lo, hi)
        return added > 0

    def _bisect(self, tasks, items, reply, res):
        """Some item is bad but the reply does not say which: split the request."""
        g, lo, hi = tasks[0]
        group = self.group
        sensors = [s for s in range(len(group)) if group[s] == g and self.counts[s]]
        if reply.kind is sensocan.NOT_FOUND and len(sensors) == 1:  # it names this sensor
            self._unknown(sensors[0], lo, hi)
            return True
        if len(sensors) > 1:  # usually an unknown sensor: halve the sensors first
            g2 = len(self.kinds)
            self.kinds.append(_BATCH)
            for s in sensors[len(sensors) // 2 :]:
                group[s] = g2
            tasks.insert(1, (g2, lo, hi))
            return True
        if items > 1:
            k = 0
            for p in self._items(lo, hi):
                if k == items // 2:
                    tasks[0] = (g, lo, p)
                    tasks.insert(1, (g, p, hi))
                    return True
                k += 1
        if res.blind == _MAX_BLIND:
            self.log.error("server keeps rejecting readings without naming them; pausing")
            return res.stop(reply)
        res.blind += 1
        self.log.warn("%d reading%s rejected by the server: %d %s" % (
            items, "s" if items > 1 else "", reply.status,
            reply.scan and reply.scan.detail or reply.message))
        for p in self._items(lo, hi):
            _set(self.aside, p)
        return True

    def _unknown(self, s, lo, hi):
        """Sensor `s` is unknown to the server: set its readings aside, now and later."""
        if s not in self.unknown:
            self.unknown.add(s)
            self.log.error("the server does not know sensor %s: its readings are parked and "
                           "tried again after upload.alert_retry_s; create it on the "
                           "dashboard's Sensors tab or fix config.json"
                           % (self.sensors[s][0] or self.sensors[s][1]))
        buf = self.rbuf
        for p in self._records(lo, hi):
            if buf[(p - self.base) * RECORD] == s:
                _set(self.aside, p)

    def _finish(self, tasks, res):
        """The first task's request is done: dead-letter what it set aside, mark the
        rest sent, and save the progress."""
        g, lo, hi = tasks.pop(0)
        group, aside, done, buf = self.group, self.aside, self.done, self.rbuf
        marked = 0
        for p in self._records(lo, hi):
            i = p - self.base
            if _of(group, buf, i) == g:
                if _bit(aside, p):
                    if buf[i * RECORD] in self.unknown:
                        self._park(buf, i, res)
                    else:
                        self._dead(buf, i, REJECTED, None, res)
                _set(done, p)
                marked += 1
        if marked and tasks:  # the last one: the window's ack comes next, one write less
            self._save(self.n)

    def _save(self, n):
        try:
            self.spool.save_progress(n, self.done)
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
