"""Upload policy: drain the spool through the batch endpoint, oldest first.

A window of readings is read from flash into one buffer, sent as one batch and
acknowledged in the spool only after a 201. Items the server rejects for good (a
422 naming them, or a sensor it does not know) go to the dead-letter area and the
rest of the window is sent again, so one bad reading never blocks the queue.
Everything else (401, 404, 429, 5xx, network) stops the drain with the readings
still queued; the caller decides when to try again.
"""

import backoff
import sensocan
from spool import CORRUPT, LOST, RECORD, REJECTED, UNSENDABLE, unpack

_SENSOR_NOT_FOUND = "Sensor not found."


_MAX_BLIND = 3  # readings set aside per drain on a rejection that names no item
ADMIN_RETRY_S = 3600  # 401/404: somebody must fix the token or device; do not hammer


def retry_wait(res, log):
    """Seconds until the next attempt after a drain that stopped on `res`, or None
    for the usual exponential backoff."""
    if res.kind is sensocan.UNAUTHORIZED or res.kind is sensocan.NOT_FOUND:
        log.error("upload refused (%d %s): check api.token, api.device_uuid and the sensors "
                  "in config.json; readings are kept" % (res.status, res.message))
        return ADMIN_RETRY_S
    return res.wait


class Result:
    def __init__(self, max_requests):
        self.kind = sensocan.STORED
        self.status = 0
        self.message = ""
        self.requests = 0
        self.max_requests = max_requests
        self.acked = 0
        self.dead = 0
        self.blind = 0
        self.wait = None  # seconds the server asked us to hold off

    def stop(self, reply):
        self.kind = reply.kind
        self.status = reply.status
        self.message = reply.message
        return False


class Uplink:
    def __init__(self, api, spool, prefixes, batch_size, log, feed=None):
        self.api = api
        self.feed = feed  # called once per request: the watchdog
        self.spool = spool
        self.prefixes = prefixes  # sensor index -> batch item prefix (sensocan.item_prefix)
        self.buf = bytearray(batch_size * RECORD)
        self.log = log
        self.unknown = set()  # sensor numbers the server does not know (404 or 422)

    def drain(self, battery=None, max_requests=20):
        """Send pending readings until the spool is empty, something fails or the
        request budget is spent; returns a Result."""
        res = Result(max_requests)
        while res.requests < max_requests:
            n = self.spool.read(0, self.buf)
            if n == 0 or not self._window(n, battery, res):
                break
        return res

    def _window(self, n, battery, res):
        """Deliver the first `n` pending readings; False when the drain must stop.

        Readings set aside (`skip`) go to the dead letters only when the window is
        acknowledged, so a window that shrinks never sets one aside twice.
        """
        skip = {}
        while res.requests < res.max_requests:
            pos, n = self._build(n, skip)
            if not pos:
                if n == 0:
                    self.log.error("a single reading does not fit the request body")
                    res.kind = sensocan.UNEXPECTED
                    return False
                self._ack(n, skip, res)
                return True
            if self.feed:
                self.feed()
            reply = self.api.send_batch(battery)
            res.requests += 1
            if reply.remaining is not None and reply.remaining <= 0:
                res.wait = backoff.rate_wait(reply.retry_after, 0)
            if reply.kind is sensocan.STORED:
                if reply.count is not None and reply.count != len(pos):
                    self.log.warn("server counted %d readings, we sent %d" % (reply.count, len(pos)))
                res.acked += len(pos)
                self._ack(n, skip, res)
                return res.wait is None
            if reply.kind is sensocan.INVALID:
                bad, whole = sensocan.rejected_items(reply.errors)
                if battery is not None and "battery_voltage" in (reply.errors or ()):
                    self.log.warn("server rejects battery_voltage %r: %s; sending without it"
                                  % (battery, reply.errors["battery_voltage"]))
                    battery = None
                    continue
                if bad and not whole:
                    added = 0
                    for i in bad:
                        if i < len(pos) and pos[i] not in skip:
                            why = _errors_of(reply.errors, i)
                            skip[pos[i]] = (REJECTED, why)
                            if ".sensor_" in why:  # an unknown slug or uuid
                                self._unknown(pos[i])
                            added += 1
                    if added:
                        continue
            if not _item_problem(reply):
                res.stop(reply)
                if reply.kind is sensocan.RATE_LIMITED:
                    res.wait = backoff.rate_wait(reply.retry_after, 0)
                return False
            if len(pos) > 1:  # some item is bad but the reply does not say which: bisect
                n = pos[len(pos) // 2 - 1] + 1
                continue
            if reply.kind is sensocan.NOT_FOUND:  # the one left names an unknown sensor
                self._unknown(pos[0])
                skip[pos[0]] = (REJECTED, reply.message)
                continue
            if res.blind == _MAX_BLIND:
                self.log.error("server keeps rejecting readings without naming them; pausing")
                return res.stop(reply)
            res.blind += 1
            skip[pos[0]] = (REJECTED, reply.errors or reply.message)
        return False

    def _unknown(self, i):
        """Record i names a sensor the server does not know: set its readings aside."""
        sensor = unpack(self.buf, i)[0]
        if sensor not in self.unknown:
            self.unknown.add(sensor)
            self.log.error("the server does not know sensor %s: its readings go to the dead "
                           "letters; check config.json and the dashboard's Sensors tab"
                           % bytes(self.prefixes[sensor]).decode())

    def _build(self, n, skip):
        """Put up to `n` window readings into the request body.

        Returns their positions and where the window now ends (before `n` when the
        body buffer filled first).
        """
        api = self.api
        api.begin()
        pos = []
        for i in range(n):
            if i in skip:
                continue
            rec = unpack(self.buf, i)
            if rec is None:
                skip[i] = (CORRUPT, "checksum failed")
                continue
            sensor, flags, t, value = rec
            if flags == LOST:  # a tombstone: the spool already counted the loss
                skip[i] = None
                continue
            if sensor in self.unknown:
                skip[i] = (REJECTED, "sensor unknown to the server")
                continue
            if sensor >= len(self.prefixes) or not sensocan.finite(value):
                skip[i] = (UNSENDABLE, "sensor %d, value %r" % (sensor, value))
                continue
            if not api.add(self.prefixes[sensor], value, t):
                return pos, i
            pos.append(i)
        return pos, n

    def _ack(self, n, skip, res):
        for i in skip:
            if i < n and skip[i]:
                why, text = skip[i]
                self.log.warn("reading set aside in dead letters (%s): %s"
                              % (_WHY[why], text))
                self.spool.dead_letter(self.buf, i, why)
                res.dead += 1
        self.spool.ack(n)


_WHY = {REJECTED: "rejected", CORRUPT: "corrupt", UNSENDABLE: "unsendable"}


def _errors_of(errors, i):
    prefix = "data.%d." % i
    return "; ".join("%s: %s" % (k, " ".join(v) if type(v) is list else v)
                     for k, v in errors.items() if k.startswith(prefix))


def _item_problem(reply):
    """A reply that blames some item of the batch without saying which one."""
    if reply.kind is sensocan.INVALID:
        return True
    return reply.kind is sensocan.NOT_FOUND and reply.message == _SENSOR_NOT_FOUND
