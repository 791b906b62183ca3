# Device tests (MicroPython): the upload policy against a scripted API.
import gc
import json
import os

import sensocan
from spool import Spool
from uplink import Uplink

TMP = os.getenv("TEST_TMP")
PREFIXES = [sensocan.item_prefix("a"), sensocan.item_prefix("b"), sensocan.item_prefix("c")]


class Log:
    def __init__(self):
        self.lines = []

    def warn(self, m):
        self.lines.append(m)

    error = info = warn


class Http:
    """Answers each request with the next scripted (status, headers, body); records bodies."""

    def __init__(self, replies):
        self.replies = replies
        self.sent = []

    def request(self, method, path, body, headers):
        self.sent.append(json.loads(bytes(body)))
        status, headers, body = self.replies.pop(0)

        class R:
            pass

        r = R()
        r.status, r.headers, r.body = status, headers, json.dumps(body).encode()
        return r


def ok(n):
    return (201, {"x-ratelimit-remaining": "999"}, {"message": "ok", "count": n})


def setup(n, replies, batch=10, root="/spool"):
    sp = Spool(TMP + root)
    for i in range(n):
        sp.append(i % 3, 1795751000 + i, float(i))
        if (i + 1) % 50 == 0:
            sp.commit()
    sp.commit()
    http = Http(replies)
    api = sensocan.Api(http, "dev", "tok", 2048)
    log = Log()
    return sp, http, Uplink(api, sp, PREFIXES, batch, log), log


def values(body):
    return [item["value"] for item in body["data"]]


def test_drains_oldest_first_in_batches_and_acks_on_201():
    sp, http, up, _ = setup(25, [ok(10), ok(10), ok(5)])
    res = up.drain(battery=3.71)
    assert res.kind == sensocan.STORED and res.acked == 25 and res.requests == 3
    assert sp.pending() == 0
    assert values(http.sent[0]) == [float(i) for i in range(10)]
    assert values(http.sent[2]) == [20.0, 21.0, 22.0, 23.0, 24.0]
    first = http.sent[0]["data"][0]
    assert first == {"sensor_slug": "a", "value": 0.0, "timestamp": "2026-11-27T03:43:20Z"}
    assert http.sent[0]["battery_voltage"] == 3.71


def test_422_items_go_to_dead_letters_and_the_rest_is_resent():
    bad = (422, {}, {"message": "Validation failed.",
                     "errors": {"data.1.value": ["The data.1.value field must be a number."],
                                "data.4.timestamp": ["bad date"]}})
    sp, http, up, log = setup(10, [bad, ok(8)])
    res = up.drain()
    assert res.kind == sensocan.STORED and res.acked == 8 and res.dead == 2
    assert values(http.sent[1]) == [0.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert sp.pending() == 0 and sp.dead == 2
    assert any("data.1.value" in line for line in log.lines)


def test_422_without_item_index_bisects_to_the_culprit():
    vague = (422, {}, {"message": "Validation failed.", "errors": {"data": ["nope"]}})
    # reading 1 is the bad one: halve until it is alone, set it aside, carry on
    sp, http, up, _ = setup(4, [vague, vague, ok(1), vague, vague, ok(2)], batch=4)
    res = up.drain()
    assert [values(b) for b in http.sent] == [
        [0.0, 1.0, 2.0, 3.0], [0.0, 1.0], [0.0], [1.0, 2.0, 3.0], [1.0], [2.0, 3.0]]
    assert res.dead == 1 and res.acked == 3 and sp.pending() == 0 and sp.dead == 1


def test_battery_rejected_is_dropped_not_the_readings():
    bad = (422, {}, {"message": "Validation failed.",
                     "errors": {"battery_voltage": ["between 0 and 100"]}})
    sp, http, up, _ = setup(3, [bad, ok(3)])
    res = up.drain(battery=150.0)
    assert res.acked == 3 and "battery_voltage" not in http.sent[1]


def test_failures_stop_the_drain_and_keep_everything():
    for status, kind in ((401, sensocan.UNAUTHORIZED), (404, sensocan.NOT_FOUND),
                         (503, sensocan.SERVER_ERROR), (400, sensocan.UNEXPECTED)):
        sp, _, up, _ = setup(15, [ok(10), (status, {}, {"message": "Device not found."})],
                             root="/spool%d" % status)
        res = up.drain()
        assert res.kind == kind and res.status == status
        assert res.acked == 10 and sp.pending() == 5
        sp = up = None
        gc.collect()


def test_429_reports_the_servers_wait():
    sp, http, up, _ = setup(5, [(429, {"retry-after": "17"}, {"message": "Too Many Requests"})])
    res = up.drain()
    assert res.kind == sensocan.RATE_LIMITED and res.wait == 17 and sp.pending() == 5


def test_exhausted_rate_budget_pauses_after_a_success():
    sp, http, up, _ = setup(15, [(201, {"x-ratelimit-remaining": "0"}, {"count": 10})])
    res = up.drain()
    assert res.kind == sensocan.STORED and res.acked == 10 and res.wait == 60
    assert len(http.sent) == 1 and sp.pending() == 5


def test_request_budget_bounds_one_drain():
    sp, http, up, _ = setup(30, [ok(10)] * 3)
    res = up.drain(max_requests=2)
    assert res.requests == 2 and sp.pending() == 10


def test_a_sensor_the_server_does_not_know_stops_blocking_after_one_search():
    """A 404 'Sensor not found.' names no item: bisect once, then skip that sensor."""
    nf = (404, {}, {"message": "Sensor not found."})
    # readings 0..8 of sensors 0, 1, 2, 0, 1, 2, ...; the server does not know sensor 1
    sp, http, up, log = setup(9, [nf, nf, nf, ok(1), nf, nf, nf, nf, ok(5)], batch=9)
    res = up.drain()
    assert [values(b) for b in http.sent] == [
        [float(i) for i in range(9)], [0.0, 1.0, 2.0, 3.0], [0.0, 1.0], [0.0],
        [float(i) for i in range(1, 9)], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0], [1.0],
        [2.0, 3.0, 5.0, 6.0, 8.0]]  # once found, sensor 1 is no longer sent
    assert res.kind == sensocan.STORED and sp.pending() == 0
    assert sp.dead == 3 and res.acked == 6
    assert any('sensor {"sensor_slug":"b",' in line for line in log.lines)


def test_unknown_slug_named_by_a_422_is_learnt():
    bad = (422, {}, {"message": "Validation failed.", "errors": {
        "data.1.sensor_slug": ["The selected data.1.sensor_slug is invalid."]}})
    sp, http, up, _ = setup(6, [bad, ok(4)], batch=6)
    res = up.drain()
    assert values(http.sent[1]) == [0.0, 2.0, 3.0, 5.0]  # both readings of sensor 1 set aside
    assert res.acked == 4 and sp.dead == 2 and sp.pending() == 0
