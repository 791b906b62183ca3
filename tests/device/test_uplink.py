# Device tests (MicroPython): how the uplink plans windows and requests (batch, bulk, single), resumes and dates readings.
import gc

import clock
import progress
import record
import sensocan
import spool as spool_mod
from spool import Spool
from uplink import Uplink
HEAP = "node"  # a phase of the node's wake: see tests/conftest.py

from uplinkkit import T0, U, SLUGS, UUIDS, TMP, Log, Http, answer, ok, fill, setup, values


def test_batches_carry_whole_sensors_oldest_first_and_ack_on_201():
    # 25 readings of 3 slug-only sensors; chunk 10: each sensor's 8-9 readings fill a batch
    sp, http, up, _ = setup(25, [ok(9), ok(8), ok(8)])
    res = up.drain(battery=3.71)
    assert res.kind == sensocan.STORED and res.acked == 25 and res.requests == 3
    assert sp.pending() == 0
    assert [p for p, _ in http.sent] == ["/devices/dev/readings"] * 3
    assert values(http.sent[0]) == [float(i) for i in range(0, 25, 3)]
    assert values(http.sent[2]) == [float(i) for i in range(2, 25, 3)]
    first = http.sent[0][1]["data"][0]
    assert first == {"sensor_slug": "a", "value": 0.0, "timestamp": "2026-11-27T03:43:20Z"}
    assert http.sent[0][1]["battery_voltage"] == 3.71


def test_small_counts_share_one_batch():
    sp, http, up, _ = setup(9, [ok(9)], sensors=UUIDS, chunk=50)
    res = up.drain()
    assert res.requests == 1 and res.acked == 9
    assert http.sent[0][0] == "/devices/dev/readings"
    # named by slug, shorter than the UUID
    assert [item["sensor_slug"] for item in http.sent[0][1]["data"][:3]] == ["a", "b", "c"]


def test_a_long_backlog_goes_to_the_bulk_endpoint_per_sensor():
    # 3 sensors with UUIDs, 60 readings each: leaving the 53-byte sensor_uuid out
    # of 60 items beats a request's own cost, so one bulk request per sensor
    sp, http, up, _ = setup(180, [ok(60)] * 3, sensors=UUIDS, chunk=100)
    res = up.drain()
    assert res.acked == 180 and res.requests == 3 and sp.pending() == 0
    assert [p for p, _ in http.sent] == ["/devices/dev/sensors/%s/readings/bulk" % u for u in U[:3]]
    assert http.sent[1][1]["data"][0] == {"value": 1.0, "timestamp": "2026-11-27T03:43:21Z"}
    assert values(http.sent[1]) == [float(i) for i in range(1, 180, 3)]


def test_chunk_max_caps_a_request_and_ends_the_window():
    sp, http, up, _ = setup(100, [ok(10)] * 10, sensors=[("a", U[0])], chunk=10)
    res = up.drain(max_requests=50)
    assert res.requests == 10 and res.acked == 100
    assert all(len(b["data"]) == 10 for _, b in http.sent)
    assert values(http.sent[3]) == [float(i) for i in range(30, 40)]


def test_mixed_window_bulk_for_the_chatty_sensor_batch_for_the_rest():
    sp = Spool(TMP + "/mixed")
    for i in range(40):
        sp.append(0, T0 + i, float(i))
        if i % 10 == 0:
            sp.append(1, T0 + i, 100.0 + i)
            sp.append(2, T0 + i, 200.0 + i)
        sp.commit()
    http = Http([ok(40), ok(8)])
    up = Uplink(sensocan.Api(http, "dev", "tok"), sp, [("a", U[0]), ("b", None), ("c", None)],
                100, Log())
    res = up.drain()
    assert res.acked == 48 and sp.pending() == 0
    assert http.sent[0][0] == "/devices/dev/sensors/%s/readings/bulk" % U[0]
    assert len(http.sent[0][1]["data"]) == 40
    assert http.sent[1][0] == "/devices/dev/readings"
    assert [i["sensor_slug"] for i in http.sent[1][1]["data"]] == ["b", "c"] * 4


def test_one_reading_alone_uses_the_single_endpoint():
    sp, http, up, _ = setup(1, [ok()], sensors=UUIDS)
    res = up.drain(battery=3.6)
    assert res.acked == 1
    assert http.sent[0] == ("/devices/dev/sensors/%s/readings" % U[0], {
        "data": {"value": 0.0, "timestamp": "2026-11-27T03:43:20Z"}, "battery_voltage": 3.6})


def test_a_resumed_window_never_resends_an_acknowledged_request():
    """Sensor a's batch got its 201, b's failed: after a reset (new Spool and
    Uplink on the same flash) only b's and c's readings go, then the window is acked."""
    sp, http, up, _ = setup(15, [ok(5), (503, {}, {"message": "busy"})], chunk=6)
    assert up.drain().kind == sensocan.SERVER_ERROR
    sp = Spool(TMP + "/spool")
    http = Http([ok(5), ok(5)])
    res = Uplink(sensocan.Api(http, "dev", "tok"), sp, SLUGS, 6, Log()).drain()
    assert res.acked == 10 and sp.pending() == 0
    assert [[i["sensor_slug"] for i in b["data"]][0] for _, b in http.sent] == ["b", "c"]


def test_progress_shifts_when_the_oldest_readings_are_dropped():
    sp, http, up, _ = setup(15, [ok(5), (503, {}, {"message": "busy"})], chunk=6)
    up.drain()
    done = bytearray(progress.WINDOW_MAX // 8)
    # sensor a's readings, at positions 0, 3, 6, 9 and 12, are done
    assert sp.progress(done) == 15 and done[:2] == bytearray((0b01001001, 0b00010010))
    sp.ack(3)  # as if the three oldest had been dropped to make room: 0, 3, 6 and 9 now
    assert sp.progress(done) == 12 and done[:2] == bytearray((0b01001001, 0b00000010))
    sp.ack(12)
    assert sp.progress(done) == 0


def test_request_budget_bounds_one_drain():
    # a window of 28 (sensor a reaches chunk 10 at reading 27) in 3 batches, then 2 left
    sp, http, up, _ = setup(30, [ok()] * 6)
    res = up.drain(max_requests=2)
    assert res.requests == 2 and sp.pending() == 30
    res = up.drain(max_requests=5)
    assert res.requests == 2 and sp.pending() == 0
    assert [len(b["data"]) for _, b in http.sent] == [10, 9, 9, 2]


def test_readings_from_before_the_clock_was_set_are_dated_or_set_aside():
    sp = Spool(TMP + "/undated")
    y2000 = 946684800 - clock.EPOCH  # a cold-booted RTC, in node seconds
    fill(sp, 4, 1, t0=y2000 + 100, aux=7)  # 2000-01-01 + 100 s, boot session 7
    fill(sp, 2, 1, t0=y2000 + 5, aux=6)    # session 6 ended before any sync
    offsets = {7: T0 - y2000 - 100}

    def date(t, aux):
        if t >= 0:
            return t
        return t + offsets[aux] if aux in offsets else None

    http = Http([ok(4)])
    res = Uplink(sensocan.Api(http, "dev", "tok"), sp, SLUGS[:1], 10, Log(), date).drain()
    assert [i["timestamp"] for i in http.sent[0][1]["data"]] == [
        "2026-11-27T03:43:20Z", "2026-11-27T03:43:21Z", "2026-11-27T03:43:22Z",
        "2026-11-27T03:43:23Z"]
    assert res.acked == 4 and res.dead == 2 and sp.pending() == 0
    dead = bytearray(open(TMP + "/undated/dead", "rb").read())
    assert record.unpack(dead, 0)[1] == record.UNDATED


def test_memory_does_not_grow_with_the_chunk():
    """A 1000-item bulk request is streamed: the drain's peak heap is that of a
    10-item one (measured around a drain, after warming up the code paths)."""
    peaks = []
    for chunk in (10, 1000):
        sp = Spool(TMP + "/mem%d" % chunk)
        fill(sp, 1000, 1)
        http = Sink()
        up = Uplink(sensocan.Api(http, "dev", "tok"), sp, [("a", U[0])], chunk, Log())
        gc.collect()
        base = gc.mem_alloc()
        http.base = base
        up.drain(max_requests=200)
        assert sp.pending() == 0
        peaks.append(http.peak - base)
        sp = up = http = None
        gc.collect()
    assert peaks[1] < peaks[0] + 512, peaks


class Sink:
    """Counts a streamed body without keeping it; notes the heap in use meanwhile."""

    def __init__(self):
        self.peak = 0

    def request(self, method, path, body, headers, sink=None, deadline_ms=None):
        n = len(body)
        w = Peak(self)
        body.write_to(w)
        assert w.n == n
        return answer(201, {}, {"count": 0}, sink)


class Peak(sensocan.Writer):
    """A counting writer that notes the heap in use at every piece (allocating nothing)."""

    def __init__(self, sink):
        sensocan.Writer.__init__(self)
        self.sink = sink

    def put(self, data):
        sensocan.Writer.put(self, data)
        self.sink.peak = max(self.sink.peak, gc.mem_alloc())

    def wrote(self, end):
        sensocan.Writer.wrote(self, end)
        self.sink.peak = max(self.sink.peak, gc.mem_alloc())


def test_the_body_writers_per_reading_path_allocates_nothing():
    """Every item of a request goes from its record to JSON as the body pulls it from
    the window (Window.items, Body.reading, Body.item): with the heap locked, a whole
    block of records (batch and bulk items, dated by a boot session) is pulled and
    written; and a request of 32 readings leaves the same garbage as one of 1 (what a
    request costs does not grow with its readings)."""
    import micropython
    from uplink import Result

    sp = Spool(TMP + "/noalloc")
    y2000 = 946684800 - clock.EPOCH
    fill(sp, 40, 2, t0=y2000 + 100, aux=3)  # before the first sync: dated by session 3
    offsets = {3: T0 - y2000}

    def date(t, aux):
        return t if t >= 0 else t + offsets[aux] if aux in offsets else None

    up = Uplink(sensocan.Api(None, "dev", "tok"), sp, UUIDS[:2], 100, Log(), date)
    reqs = up._plan(Result(10))
    assert [(r.endpoint, r.count) for r in reqs] == [(sensocan.BATCH, 40)]  # one batch
    win = up.win
    batch, bulk = sensocan.Body(win, prefixes=up.prefixes), sensocan.Body(win)
    w = sensocan.Writer()

    def start():
        win.begin(reqs[0], False)
        it = iter(win)
        return it, next(it)  # the first block read from flash (opening a file allocates)

    _pull(batch, bulk, w, win, *start())
    it, i = start()
    gc.collect()
    micropython.heap_lock()
    try:
        _pull(batch, bulk, w, win, it, i)
    finally:
        micropython.heap_unlock()
    assert w.n > 62 * 40 and batch.items == bulk.items == 62
    garbage = []
    for hi in (1, 32):
        win.begin(reqs[0].part(0, hi), False)
        body = sensocan.Body(win, prefixes=up.prefixes)
        body.write_to(sensocan.Writer())  # warm up
        w = sensocan.Writer()
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        body.write_to(w)
        garbage.append(gc.mem_alloc() - before)
        gc.enable()
        assert w.n > 40 * body.items and body.items == hi  # one batch of both sensors
    assert garbage[0] == garbage[1], garbage


def _pull(batch, bulk, w, win, it, i):
    """Reading i and the next 30 of a block as batch and bulk items (not a closure:
    calling one with this many variables allocates)."""
    for _ in range(31):
        batch.reading(w, win, i)
        bulk.reading(w, win, i)
        i = next(it)
