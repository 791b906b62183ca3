"""Host side: the whole node (simulator, node's heap) against the mock at its boundaries.

Liveness: if the server accepts valid readings, every valid reading arrives, whatever
else is in the backlog; replies of any size or shape; backoff that resets on progress;
parked readings retried on their own schedule; clock steps of any size. Checked on the
figures each wake reports (Run.figures), not on the console's wording.
"""

import json

import pytest

from tests.nodekit import Kit, backlog, epoch, sampled, total

GHOST = {"slug": "ghost", "driver": "wave"}  # a sensor the server does not know


def with_ghost(kit, **upload):
    cfg = json.loads(kit.config_path.read_text())
    cfg["sensors"].append(dict(GHOST))
    cfg["upload"] = dict(cfg.get("upload", {}), **upload)
    kit.config_path.write_text(json.dumps(cfg))


def blame(indices, size):
    """A 422 naming `indices` as unknown sensors, padded to about `size` bytes the way a
    verbose server words it (a long message per key)."""
    errors = {"data.%d.sensor_slug" % i: ["The selected data.%d.sensor_slug is invalid." % i]
              for i in indices}
    pad = max(0, size - len(json.dumps(errors)) - 60)
    errors["data.%d.sensor_slug" % indices[0]].append("x" * pad)
    return {"message": "Validation failed.", "errors": errors}


@pytest.fixture
def kit(tmp_path):
    k = Kit(tmp_path)
    yield k
    k.stop()


@pytest.mark.parametrize("size", [4096, 65536, 1 << 20], ids=["4KB", "64KB", "1MB"])
def test_a_422_of_any_size_sets_the_unknown_sensor_aside_and_the_rest_flows(kit, size):
    """The tester's stall: a 422 naming every unknown item outgrew the client's buffer,
    and the node called it a network error for hours. Now it is read as it streams, at
    the node's heap (an ESP32's on a 32-bit port), whatever its size."""
    with_ghost(kit)
    kit.server.faults.add(action="reply", status=422, times=1, body=blame([3], size))
    run = kit.cycles(1)[0]
    f = run.figures
    assert "MemoryError" not in run.output
    assert (f["stored"], f["sent"], f["parked_now"], f["requests"]) == (4, 3, 1, 2), run.output
    assert "failure" not in f
    assert backlog(run) == 0 and f["parked"] == 1 and f["alert"] == 4
    # the next upload: the sensor is known to be unknown, so no request asks about it
    kit.sim.clock += 200
    run = kit.cycles(1)[0]
    assert (run.figures["requests"], run.figures["parked"]) == (1, 2)
    assert len(kit.readings()) == 6


@pytest.mark.parametrize("fault", [
    {"action": "garbage"},  # not HTTP at all: a bad reply, maybe stored
    {"action": "truncate", "keep": 30},  # cut after the status line
    {"action": "bad_chunked"},
    {"action": "junk", "status": 201, "size": 65536, "store": True},  # binary, said to be JSON
    {"action": "endless", "seconds": 20},  # stored, then a body that does not end
    {"action": "endless", "status": 422, "chunked": True, "seconds": 20},
], ids=["garbage", "truncated", "bad-chunks", "binary", "endless", "endless-422"])
def test_junk_replies_are_unanswered_never_a_crash(kit, fault):
    """At the node's heap, whatever the body: a bad reply is unanswered and sent again,
    a status that came stands (the endless one's body is cut at the request's deadline)."""
    kit.write_config(api={"timeout_s": 1})  # a request's deadline: 3 s
    kit.server.faults.add(times=1, **fault)
    runs = kit.cycles(1)
    assert "MemoryError" not in runs[0].output and "Traceback" not in runs[0].output
    while backlog(runs[-1]):
        kit.sim.clock += 30
        runs += kit.cycles(1)
        assert len(runs) < 6, runs[-1].output
    stored = kit.readings()
    keys = [(r["sensor_slug"], r["sensor_uuid"], r["timestamp"]) for r in stored]
    assert len(set(keys)) == sampled(runs)  # everything arrived
    assert len(keys) - len(set(keys)) <= total(runs, "unanswered")  # twice only if counted


def test_backoff_resets_whenever_the_server_takes_a_request(kit):
    """With some requests failing, the retries stay near the first backoff step while
    the server takes the others (the tester saw them sit near the 3,600 s cap)."""
    kit.write_config(upload={"chunk_max": 1, "backoff_base_s": 20, "backoff_cap_s": 3600})
    kit.sim.set_link(False)
    runs = kit.cycles(1)
    while backlog(runs[-1]) < 12:  # a backlog of single-reading requests
        runs += kit.cycles(1)
    kit.sim.set_link(True)
    waits = []
    for _ in range(4):  # an upload's first request is taken, its second fails
        kit.server.faults.add(action="handle", times=1)
        kit.server.faults.add(action="reply", status=503, times=1)
        run = kit.cycles(1)[0]
        while "requests" not in run.figures:  # sampling wakes until the retry is due
            run = kit.cycles(1)[0]
        f = run.figures
        assert (f.get("failure"), f["sent"], f["requests"]) == ("server_error", 1, 2), run.output
        waits.append(f["retry_in"])
    assert max(waits) <= 20, waits  # the first step every time: base 20 s, full jitter


def test_a_404_unknown_sensor_costs_its_search_once_and_is_retried_on_schedule(tmp_path):
    k = Kit(tmp_path, unknown_sensor_in_batch=404)
    try:
        with_ghost(k, alert_retry_s=600)
        first = k.cycles(1)[0]  # 4 readings, one of them the ghost's: found by halving
        assert first.figures["parked_now"] == 1 and first.figures["requests"] >= 3
        uploads = []
        for _ in range(12):  # uploads every 180 s; the parked retry every 600 s
            k.sim.clock += 60
            run = k.cycles(1)[0]
            if "requests" in run.figures:
                uploads.append(run)
        retries = [r for r in uploads if r.figures["requests"] > 1]
        plain = [r for r in uploads if r.figures["requests"] == 1]
        assert plain and all(r.figures["parked_now"] >= 1 for r in plain)  # no search
        # retried once its 600 s were up, not pushed back by the uploads that parked more
        assert retries and 600 <= retries[0].started - first.started <= 600 + 180 + 60
        assert backlog(uploads[-1]) == 0
    finally:
        k.stop()


def test_clock_steps_never_oversleep_and_readings_keep_their_true_times(kit):
    runs = kit.cycles(2)
    for step in (-2 * 86400, 400 * 86400, -400 * 86400):
        kit.sim.clock += step  # the world's time steps: RTC and NTP agree on it
        stepped = kit.cycles(3)
        for r in stepped:
            assert r.figures["sleep"] <= 60, (step, r.output)  # never past the next sample
        runs += stepped
    while backlog(runs[-1]):
        runs += kit.cycles(1)
        assert len(runs) < 20
    times = sorted({epoch(r["timestamp"]) for r in kit.readings()})
    assert times == sorted({r.started for r in runs if r.figures.get("stored")})
    assert len(kit.readings()) == sampled(runs)


def test_the_longest_intervals_and_a_clock_crossing_2059(kit):
    """Where the node's ints meet 2^30 on an ESP32: the longest sleep (a day's sample
    interval, 86,400,000 ms) and node seconds passing 2^30 (2059-01-10T13:37:04Z). Run by
    make test-32bit on 31-bit ints, by make test on 62-bit ones: the same readings."""
    kit.write_config(sample_interval_s=86400, upload_interval_s=604800)
    run = kit.cycles(1)[0]
    assert run.figures["sleep"] <= 86400 and run.sleep_s * 1000 < 1 << 30
    kit.sim.clock = 1735689600 + (1 << 30) - 90  # the clock steps to 90 s before 2^30
    kit.write_config(sample_interval_s=60, upload_interval_s=60)
    runs = kit.cycles(1)
    while runs[-1].started < 1735689600 + (1 << 30) + 60 or backlog(runs[-1]):
        runs += kit.cycles(1)
        assert len(runs) < 12, runs[-1].output
    assert all(r.figures.get("sleep", 0) <= 60 for r in runs)
    times = sorted({epoch(r["timestamp"]) for r in kit.readings()})
    assert times[-1] - 1735689600 >= 1 << 30  # readings from after 2^30 node seconds
    assert times[1:] == sorted({r.started for r in runs if r.figures.get("stored")})
