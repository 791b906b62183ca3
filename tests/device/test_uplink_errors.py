# Device tests (MicroPython): the uplink's reply policy (422 isolation, unknown sensors, stops, rate limits).
import gc

import httpc
import record
import sensocan
import spool as spool_mod
from spool import Spool
from uplink import Uplink
HEAP = "node"  # a phase of the node's wake: see tests/conftest.py

from uplinkkit import T0, U, SLUGS, UUIDS, TMP, Log, Http, ok, fill, setup, values


def test_422_items_go_to_dead_letters_and_the_rest_is_resent():
    bad = (422, {}, {"message": "Validation failed.",
                     "errors": {"data.1.value": ["The data.1.value field must be a number."],
                                "data.4.timestamp": ["bad date"]}})
    sp, http, up, log = setup(10, [bad, ok(8)], sensors=[("a", None)])
    res = up.drain()
    assert res.kind == sensocan.STORED and res.acked == 8 and res.dead == 2
    assert values(http.sent[1]) == [0.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert sp.pending() == 0 and sp.dead == 2
    assert any("data.1.value" in line or "data.4.timestamp" in line for line in log.lines)
    dead = bytearray(open(TMP + "/spool/dead", "rb").read())
    assert [record.unpack(dead, i)[3] for i in range(2)] == [1.0, 4.0]


def test_422_without_item_index_bisects_to_the_culprit():
    vague = (422, {}, {"message": "Validation failed.", "errors": {"data": ["nope"]}})
    # reading 1 is the bad one: halve until it is alone, set it aside, carry on
    sp, http, up, _ = setup(4, [vague, vague, ok(1), vague, ok(1), ok(2)],
                            sensors=[("a", None)], chunk=4)
    res = up.drain()
    assert [values(b) for b in http.sent] == [
        [0.0, 1.0, 2.0, 3.0], [0.0, 1.0], [0.0], [1.0], [2.0, 3.0]][:3] + [
        values(b) for b in http.sent[3:]]
    assert values(http.sent[3]) == [1.0] and values(http.sent[-1]) == [2.0, 3.0]
    assert res.dead == 1 and res.acked == 3 and sp.pending() == 0 and sp.dead == 1


def test_battery_rejected_is_dropped_not_the_readings():
    bad = (422, {}, {"message": "Validation failed.",
                     "errors": {"battery_voltage": ["between 0 and 100"]}})
    sp, http, up, _ = setup(3, [bad, ok(3)])
    res = up.drain(battery=99.0)
    assert res.acked == 3 and "battery_voltage" not in http.sent[1][1]


def test_failures_stop_the_drain_and_keep_everything():
    for status, kind in ((401, sensocan.UNAUTHORIZED), (404, sensocan.NOT_FOUND),
                         (503, sensocan.SERVER_ERROR), (409, sensocan.UNEXPECTED)):
        sp, _, up, _ = setup(15, [ok(5), (status, {}, {"message": "Device not found."})],
                             chunk=6, root="/spool%d" % status)
        res = up.drain()
        assert res.kind == kind and res.status == status
        assert res.acked == 5 and sp.pending() == 15  # the window is acknowledged whole
        sp = up = None
        gc.collect()


def test_429_reports_the_servers_wait():
    sp, http, up, _ = setup(5, [(429, {"retry-after": "17"}, {"message": "Too Many Requests"})])
    res = up.drain()
    assert res.kind == sensocan.RATE_LIMITED and res.wait == 17 and sp.pending() == 5


def test_exhausted_rate_budget_pauses_after_a_success():
    sp, http, up, _ = setup(15, [(201, {"x-ratelimit-remaining": "0"}, {"count": 5})], chunk=6)
    res = up.drain()
    assert res.kind == sensocan.STORED and res.acked == 5 and res.wait == 61
    assert len(http.sent) == 1 and sp.pending() == 15


def test_a_sensor_the_server_does_not_know_stops_blocking_after_one_search():
    """A 404 'Sensor not found.' in a batch names no item: halve the sensors until
    the unknown one is alone, then set its readings aside and skip it from then on."""
    nf = (404, {}, {"message": "Sensor not found."})
    sp, http, up, log = setup(9, [nf, ok(3), nf, nf, ok(3)], chunk=9)
    res = up.drain()
    slugs = [sorted({i["sensor_slug"] for i in b["data"]}) for _, b in http.sent]
    assert slugs == [["a", "b", "c"], ["a"], ["b", "c"], ["b"], ["c"]]
    assert res.kind == sensocan.STORED and sp.pending() == 0
    assert sp.parked() == 3 and sp.dead == 0 and res.acked == 6 and res.parked == 3
    assert any("the server does not know sensor b:" in line for line in log.lines)
    fill(sp, 3)
    http.replies = [ok(2)]
    up.drain()
    assert sorted({i["sensor_slug"] for i in http.sent[-1][1]["data"]}) == ["a", "c"]


def test_bulk_404_means_that_sensor_is_unknown():
    nf = (404, {}, {"message": "Sensor not found."})
    sp, http, up, _ = setup(180, [ok(60), nf, ok(60)], sensors=UUIDS, chunk=100)
    res = up.drain()
    assert res.acked == 120 and res.parked == 60 and sp.pending() == 0 and len(http.sent) == 3
    assert "/bulk" in http.sent[1][0]


def test_unknown_slug_named_by_a_422_is_learnt():
    bad = (422, {}, {"message": "Validation failed.", "errors": {
        "data.1.sensor_slug": ["The selected data.1.sensor_slug is invalid."]}})
    sp = Spool(TMP + "/learn")
    for i in range(6):
        sp.append(i % 2, T0 + i, float(i))
    sp.commit()
    http = Http([bad, ok(3)])
    up = Uplink(sensocan.Api(http, "dev", "tok"), sp, SLUGS[:2], 10, Log())
    # two sensors with 3 readings each share one batch: a, b, a, b, ...
    res = up.drain()
    assert values(http.sent[1]) == [0.0, 2.0, 4.0]  # all of b's readings set aside
    assert res.acked == 3 and sp.parked() == 3 and sp.pending() == 0


def test_a_422_naming_an_unknown_slug_and_a_later_item_across_read_blocks():
    """The items named lie in different flash reads of the request (32 records each)."""
    bad = (422, {}, {"message": "Validation failed.", "errors": {
        "data.1.sensor_slug": ["The selected data.1.sensor_slug is invalid."],
        "data.70.value": ["The data.70.value field must be a number."]}})
    sp, http, up, _ = setup(80, [bad, ok(39)], sensors=SLUGS[:2], chunk=100)
    res = up.drain()
    assert values(http.sent[1]) == [float(i) for i in range(0, 80, 2) if i != 70]
    assert res.acked == 39 and sp.dead == 1 and sp.parked() == 40 and sp.pending() == 0


def test_a_pause_after_the_windows_last_request_still_acknowledges_it():
    last = (201, {"x-ratelimit-remaining": "0"}, {"count": 5})
    sp, http, up, _ = setup(15, [ok(5), ok(5), last], chunk=6)
    res = up.drain()
    assert res.acked == 15 and res.wait == 61 and sp.pending() == 0 and len(http.sent) == 3


def test_parked_readings_go_again_and_arrive_once_the_sensor_exists():
    nf = (404, {}, {"message": "Sensor not found."})
    sp, http, up, _ = setup(180, [ok(60), nf, ok(60)], sensors=UUIDS, chunk=100)
    up.drain()
    assert sp.parked() == 60 and sp.pending() == 0
    assert sp.unpark() == 60 and sp.parked() == 0 and sp.pending() == 60
    http.replies = [ok(60)]  # the sensor was created meanwhile
    res = Uplink(sensocan.Api(http, "dev", "tok"), sp, UUIDS, 100, Log()).drain()
    assert res.acked == 60 and sp.pending() == 0
    assert values(http.sent[-1]) == [float(i) for i in range(1, 180, 3)]  # in order


def test_the_wakes_radio_deadline_stops_the_drain_before_a_request():
    import time

    sp, http, up, _ = setup(30, [ok()] * 10, chunk=6)
    res = up.drain(until=time.ticks_add(time.ticks_ms(), -1))
    assert res.kind == sensocan.DEADLINE and res.went == 0 and not http.sent
    assert sensocan.failure(res.kind) is sensocan.TRANSIENT and sp.pending() == 30


def test_a_request_that_went_out_twice_counts_as_unanswered_though_stored():
    sp, http, up, _ = setup(6, [], chunk=6)
    http.replies = [(201, {}, {"count": 6})]

    def twice(method, path, body, headers, sink=None, deadline_ms=None):
        r = Http.request(http, method, path, body, headers, sink, deadline_ms)
        return httpc.Response(r.status, r.headers, r.complete, True)  # the first may be stored

    http.request = twice
    res = up.drain()
    assert res.acked == 6 and res.unsure == 6 and sp.pending() == 0


def test_a_request_resent_and_unanswered_twice_counts_each_copy():
    """The kept-alive connection dropped it (maybe stored), and the resend got no reply
    either (maybe stored too): its readings may arrive twice more when sent again."""
    sp, http, up, _ = setup(6, [ok(6)], chunk=6)

    def lost_twice(method, path, body, headers, sink=None, deadline_ms=None):
        http.request = lambda *a, **k: Http.request(http, *a, **k)
        raise httpc.HTTPError("reply failed: connection closed before reply", True,
                              httpc.NETWORK, True)

    http.request = lost_twice
    res = up.drain()
    assert res.kind == sensocan.NETWORK_ERROR and res.unsure == 12 and sp.pending() == 6
    res = up.drain()
    assert res.acked == 6 and res.unsure == 0 and sp.pending() == 0


def test_400_and_413_split_the_request_like_a_vague_422():
    for status in (400, 413):
        big = (status, {}, {"message": "Payload Too Large."})
        sp, http, up, _ = setup(4, [big, ok(2), ok(2)], sensors=[("a", None)], chunk=4,
                                root="/split%d" % status)
        res = up.drain()
        assert [len(b["data"]) for _, b in http.sent] == [4, 2, 2]
        assert res.acked == 4 and res.dead == 0 and sp.pending() == 0
        sp = up = None
        gc.collect()
