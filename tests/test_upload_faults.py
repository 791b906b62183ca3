"""Host side (CPython): the whole node under the simulator against a misbehaving mock.

Every fault mode of the server, a day offline, a clock that starts unset, a tight rate
limit and the health readings: after recovery every sampled reading is on the server,
with its real measurement time; duplicates come only from a request whose reply was
lost, and the node counted them.
"""

import pytest

from tests.nodekit import Kit, backlog, epoch, health_kit, sampled, stored, total, uploaded


def drain(kit, most=15):
    """Wake until an upload leaves nothing behind; returns the runs."""
    runs = []
    while not runs or backlog(runs[-1]) or not uploaded(runs[-1]):
        assert len(runs) < most, runs[-1].output
        runs += kit.cycles(1)
    return runs


def check_delivered(kit, runs):
    """Every sampled reading stored, at its sample time; returns the duplicates."""
    keys = [(r["sensor_slug"], epoch(r["timestamp"])) for r in kit.readings()]
    sample_times = {r.started for r in runs if stored(r) == 3}
    assert len(set(keys)) == sampled(runs)
    assert {t for _, t in keys} == sample_times
    return len(keys) - len(set(keys))


# fault rule -> whether the server may have stored a request whose reply never came
FAULTS = {
    "5xx": ({"action": "reply", "status": 503, "times": 2}, False),
    "drop before storing": ({"action": "close", "times": 2}, False),
    "reply lost after storing": ({"action": "drop_after_store", "times": 1}, True),
    "slow reply past the timeout": ({"action": "handle", "delay": 2.5, "times": 1}, True),
    "reply trickled byte by byte": ({"action": "trickle", "interval": 0.002, "times": 2}, False),
    "TCP reset": ({"action": "reset", "times": 2}, False),
    "429 storm": ({"action": "storm", "retry_after": 5, "times": 3}, False),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_mode_ends_with_every_reading_delivered(kit, name):
    rule, may_duplicate = FAULTS[name]
    kit.write_config(api={"timeout_s": 1})
    runs = kit.cycles(1)
    kit.server.faults.add(dict(rule))
    while kit.server.faults.rules():  # until the server has played the fault out
        assert len(runs) < 20, runs[-1].output
        runs += kit.cycles(1)
    runs += drain(kit)
    out = "".join(r.output for r in runs)
    if rule["action"] == "handle":  # a slow but normal reply: the client gave up on it
        assert "timed out" in out, out
    else:
        faulted = [r for r in kit.server.requests() if (r["reply_class"] or "").startswith("fault:")]
        assert faulted, "the fault never happened"
    dups = check_delivered(kit, runs)
    unsure = total(runs, "unanswered")
    if may_duplicate:
        assert unsure >= dups
    else:
        assert dups == 0
    assert "Traceback" not in "".join(r.output for r in runs)


def test_server_down_then_back(kit):
    runs = kit.cycles(1)
    kit.server.down()
    try:
        runs += kit.cycles(5)
        assert any(r.figures.get("failure") == "network_error" for r in runs), runs[-1].output
    finally:
        kit.server.up()
    runs += drain(kit)
    assert check_delivered(kit, runs) == 0


def test_the_node_never_causes_a_429_under_a_tight_rate_limit(tmp_path):
    kit = Kit(tmp_path, rate_limit=3)
    try:
        kit.write_config(upload={"chunk_max": 4})
        kit.sim.set_link(False)
        runs = kit.cycles(8)  # 24 readings: about 8 requests of at most 4
        kit.sim.set_link(True)
        runs += drain(kit, most=30)
        assert any(r.figures.get("rate_pause") for r in runs)
        assert [r for r in kit.server.requests() if r["status"] == 429] == []
        assert check_delivered(kit, runs) == 0
    finally:
        kit.stop()


def test_a_day_offline_is_delivered_in_order_with_real_times(kit):
    """24 hours of readings every 15 minutes, accelerated: the whole backlog arrives,
    each sensor's in measurement order, with the battery voltage on every request."""
    kit.write_config(sample_interval_s=900, upload_interval_s=3600)
    runs = kit.cycles(1)
    kit.sim.set_link(False)
    start = kit.sim.clock
    while kit.sim.clock < start + 86400:
        runs += kit.cycles(1)
    kit.sim.set_link(True)
    runs += drain(kit)
    assert check_delivered(kit, runs) == 0
    stored = kit.readings()
    assert len(stored) >= 3 * 96
    for slug in ("temp_01", "humidity", "soil"):
        times = [r["measured_at"] for r in stored if r["sensor_slug"] == slug]
        assert times == sorted(times)
    # humidity is configured by UUID: its backlog went through the bulk endpoint
    assert {r["endpoint"] for r in stored if r["sensor_slug"] == "humidity"} >= {"bulk"}
    posts = [r for r in kit.server.requests() if r["method"] == "POST"]
    assert all('"battery_voltage":' in r["body"] for r in posts)
    assert len(posts) <= len(stored) / 20


def test_readings_before_the_first_time_sync_get_their_real_times(tmp_path):
    """The RTC starts at 2000 on power-on. Readings of a boot session that syncs later
    are dated by its offset; those of a session cut off before any sync cannot be
    dated and go to the dead letters, never to the server with a made-up date."""
    kit = Kit(tmp_path, rtc_unset=True)
    try:
        kit.sim.set_link(False)
        lost = kit.cycles(1)  # session 1: never synced
        while sampled(lost) < 6:
            lost += kit.cycles(1)
        kit.sim.power_cut()
        runs = kit.cycles(2)  # session 2, still offline
        assert "clock not set: readings are stamped in boot session 2" in runs[0].output
        kit.sim.set_link(True)
        runs += drain(kit)
        assert any("boot session 2's readings are dated" in r.output for r in runs)
        assert check_delivered(kit, runs) == 0
        assert {epoch(r["timestamp"]) for r in kit.readings()} >= {
            r.started for r in runs[:2] if stored(r) == 3}
        assert runs[-1].figures["dead_letters"] >= sampled(lost) == 6
        assert any("(undated): taken before the clock was ever set" in r.output for r in runs)
    finally:
        kit.stop()


HEALTH = {"spool_depth": "node_backlog", "http_status": "node_http", "reset_cause": "node_reset",
          "min_free_heap": "node_heap", "tls_handshakes": "node_tls",
          "wifi_connect_ms": "node_wifi_ms", "rssi": "node_rssi", "dead_letters": "node_dead"}


def test_health_figures_arrive_as_readings(tmp_path):
    kit = health_kit(tmp_path, HEALTH)
    try:
        runs = kit.cycles(12)  # health readings join the backlog after every upload
        got = {}
        for r in kit.readings():
            got.setdefault(r["sensor_slug"], []).append(r["value"])
        assert got["node_http"][0] == 201 and got["node_tls"][0] == 1
        # power-on (the config is validated in that wake), then deep sleep
        assert got["node_reset"][0] == 1 and 2 in got["node_reset"]
        assert all(v > 4096 for v in got["node_heap"]) and got["node_rssi"][0] == -60
        assert got["node_backlog"][0] == 0 and got["node_dead"][0] == 0
        assert all(v >= 0 for v in got["node_wifi_ms"])
        readings = [r for r in kit.readings() if r["sensor_slug"] in HEALTH.values()]
        assert {r["endpoint"] for r in readings} == {"batch"}
        others = [r for r in kit.readings() if r["sensor_slug"] not in HEALTH.values()]
        assert 0 < len(others) <= sampled(runs)
    finally:
        kit.stop()


def test_wrong_token_then_fixed_resumes_without_a_visit(kit):
    kit.write_config(api={"token": "not-the-token"})
    run = kit.cycles(1)[0]
    assert "[led] blink code 3" in run.output and run.figures["alert"] == 3
    assert run.figures["retry_in"] == 3600
    kit.write_config()
    kit.sim.clock += 3600
    runs = drain(kit)
    assert "uploads accepted again: alert cleared" in "".join(r.output for r in runs)
    assert check_delivered(kit, [run] + runs) == 0
