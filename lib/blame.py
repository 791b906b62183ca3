"""The upload's error path: what to do when the server blames some readings of a
request, or when what a request carries is no longer what the plan measured.

It sets aside the readings a 422 names, learns the sensors the server does not know,
or splits the request until the bad readings are found; when the request is done,
what it set aside goes to the dead letters or is parked, as do the readings the plan
finds it cannot send. uplink.Uplink imports it the
first time a wake needs it: most wakes do not, and the upload is the node's tightest
phase for RAM (on the 32-bit port the heaviest configs accepted, tests/test_heap.py,
do not fit with this code loaded up front).
"""

from micropython import const

import record
import sensocan
from record import CORRUPT, REJECTED, UNDATED, UNSENDABLE

_MAX_BLIND = const(3)  # readings set aside per drain on a rejection that names no item


def act(up, tasks, reply, res):
    """`reply` blames some of the first task's readings (sensocan.blames_items): set
    them aside or split the request; False: stop draining."""
    req = tasks[0]
    if sensocan.names_items(reply) and _named(up, reply, req):
        return True
    if req.endpoint != sensocan.BATCH and reply.kind is sensocan.NOT_FOUND:
        _unknown(up, req.sensor, req)  # its path names the sensor
        return True
    return _bisect(up, tasks, reply, res)


def measure(up, req):
    """Count what `req` carries now, and its bytes: the plan's figures do not hold."""
    win, buf = up.win, up.win.buf
    batch = req.endpoint == sensocan.BATCH
    count = size = 0
    for i in win.items(req):
        count += 1
        size += (len(up.prefixes[record.sensor(buf, i)] if batch else sensocan.BULK_PREFIX)
                 + sensocan.item_size(buf, record.value_at(i), win.when(i)))
    req.count, req.size = count, size


def finish(up, req, res):
    """`req` is done: dead-letter or park what it set aside and mark all of it done;
    returns whether it held any reading."""
    win = up.win
    buf = win.buf
    marked = False
    for i in win.walk(req.lo, req.hi):
        if win.of(i) == req.group:
            if win.is_aside(win.p):
                aside(up, buf, i, 0 if record.sensor(buf, i) in up.unknown else REJECTED, None,
                      res)
            win.mark(win.p)
            marked = True
    return marked


def aside(up, buf, i, why, text, res):
    """Park record i of `buf` (why 0) or keep it in the dead letters marked `why`;
    counted, and the first of each reason a drain logged with `text`."""
    if not why:
        up.spool.park(buf, i)
        res.parked += 1
        return
    if text and not res.logged >> why & 1:
        res.logged |= 1 << why
        up.log.warn("reading set aside in dead letters (%s): %s (more alike are counted, "
                    "not logged)" % (_WHY[why], text))
    up.spool.dead_letter(buf, i, why)
    res.dead += 1


_WHY = {REJECTED: "rejected", CORRUPT: "corrupt", UNSENDABLE: "unsendable", UNDATED: "undated"}


def _named(up, reply, req):
    """Set aside the items a 422 names; False when it names none of this request's."""
    win = up.win
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
        _changed(req)
        up.log.warn("%d reading%s rejected by the server: %s" % (
            added, "s" if added > 1 else "", sensocan.detail(reply) or "(no reason given)"))
    for sensor in unknown:  # after the walk: this one reuses its buffer
        _unknown(up, sensor, req)
    return added > 0


def _bisect(up, tasks, reply, res):
    """Some item is bad but the reply does not say which: split the request."""
    req = tasks[0]
    group = up.group
    sensors = [s for s in range(len(group)) if group[s] == req.group and up.counts[s]]
    if reply.kind is sensocan.NOT_FOUND and len(sensors) == 1:  # it names this sensor
        _unknown(up, sensors[0], req)
        return True
    if len(sensors) > 1:  # usually an unknown sensor: halve the sensors first
        g2 = up.groups
        up.groups += 1
        for s in sensors[len(sensors) // 2 :]:
            group[s] = g2
        req.count = None
        tasks.insert(1, req.part(req.lo, req.hi, g2))
        return True
    items = req.count
    if items > 1:
        k = 0
        for _ in up.win.items(req):
            if k == items // 2:
                p = up.win.p
                tasks[0] = req.part(req.lo, p)
                tasks.insert(1, req.part(p, req.hi))
                return True
            k += 1
    if res.blind == _MAX_BLIND:
        up.log.error("server keeps rejecting readings without naming them; pausing")
        return res.stop(reply)
    res.blind += 1
    up.log.warn("%d reading%s rejected by the server: %d %s" % (
        items, "s" if items > 1 else "", reply.status, sensocan.detail(reply) or reply.message))
    for _ in up.win.items(req):
        up.win.set_aside(up.win.p)
    _changed(req)
    return True


def _unknown(up, s, req):
    """Sensor `s` is unknown to the server: set its readings aside, now and later."""
    if s not in up.unknown:
        up.unknown.add(s)
        up.log.error("the server does not know sensor %s: its readings are parked and "
                     "tried again after upload.alert_retry_s; create it on the "
                     "dashboard's Sensors tab or fix config.json"
                     % (up.sensors[s][0] or up.sensors[s][1]))
    win = up.win
    for i in win.walk(req.lo, req.hi):
        if record.sensor(win.buf, i) == s:
            win.set_aside(win.p)
    _changed(req)


def _changed(req):
    req.aside = True
    req.count = None
