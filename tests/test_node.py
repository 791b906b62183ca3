"""Integration: the real firmware on the emulated board against the Sensocan mock.

Each test runs wakes of the node (one MicroPython process each, 64 KiB heap) through
tools/dev/sim.py and checks what the server stored and what the node kept.
"""

import json
import zlib

import pytest

from tests.nodekit import (DEVICE, ROOT, SENSORS, TOKEN, Kit, backlog, epoch, sampled, stored,
                           uploaded)
from tools import certs


def csv_rows(n):
    """The first n values of the replayed humidity recording."""
    rows = (ROOT / "boards/unix/data/humidity.csv").read_text().split("\n")[2:]
    return [float(v) for v in rows[:n]]


def test_readings_arrive_with_measurement_times_field_by_field(kit):
    runs = kit.cycles(4)  # samples at t0, +60, +120, +180; uploads at t0 and +180
    sent = [r for r in kit.server.requests() if r["path"].endswith("/readings")]
    assert sent[0]["status"] == 201
    first = json.loads(sent[0]["body"])
    assert sorted(first) == ["battery_voltage", "data"]
    assert 3.3 <= first["battery_voltage"] <= 4.2
    assert [sorted(item) for item in first["data"]] == [
        ["sensor_slug", "timestamp", "value"], ["sensor_uuid", "timestamp", "value"],
        ["sensor_slug", "timestamp", "value"]]
    assert [i.get("sensor_slug") or i["sensor_uuid"] for i in first["data"]] == [
        "temp_01", SENSORS[1]["uuid"], "soil"]
    t0 = runs[0].started
    assert {epoch(i["timestamp"]) for i in first["data"]} == {t0}
    # the saw wave and the recorded CSV are known signals: check the values themselves
    assert first["data"][0]["value"] == pytest.approx(20 + 5 * (2 * (t0 % 600) / 600 - 1), abs=1e-4)
    assert first["data"][1]["value"] == csv_rows(1)[0]
    # later uploads come on this device's own phase of the 180 s interval
    # (backoff.phase), so a fleet configured alike does not upload in the same second
    phase = zlib.crc32(DEVICE.encode()) % 180
    runs += kit.cycles(3)
    uploads = [r for r in runs[1:] if uploaded(r)]
    assert uploads and all((r.started - phase) % 180 <= 2 for r in uploads), (
        phase, [r.started % 180 for r in uploads])
    sample_times = {r.started for r in runs if stored(r) == 3}
    arrived = kit.readings()
    assert {epoch(r["timestamp"]) for r in arrived} <= sample_times
    assert len(arrived) + backlog(runs[-1]) == sampled(runs)
    assert {r["device_uuid"] for r in arrived} == {DEVICE}
    humidity = [r["value"] for r in arrived if r["sensor_slug"] == "humidity"]
    assert humidity == csv_rows(len(humidity))


def test_the_cycle_line_says_what_the_wake_did(kit):
    """The console's one line a wake, in its words (tests elsewhere read the figures)."""
    run = kit.cycles(1)[0]
    assert "INFO cycle 1: stored 3, upload: sent 3 in 1 request, backlog 0, sleep %d s\n" % (
        run.figures["sleep"]) in run.output
    kit.sim.set_link(False)
    kit.sim.clock += 180
    run = kit.cycles(1)[0]
    line = ("INFO cycle 2: stored 3, upload: link: link down (no access point), retry in %d s, "
            "backlog 3, sleep %d s\n" % (run.figures["retry_in"], run.figures["sleep"]))
    assert line in run.output


def test_request_headers_and_the_token_never_printed(kit):
    runs = kit.cycles(2)
    req = kit.server.requests()[0]
    assert req["method"] == "POST" and req["content_type"] == "application/json"
    assert req["path"] == "/api/v1/devices/%s/readings" % DEVICE
    assert req["auth_ok"] == 1  # "Authorization: Bearer <token>" matched this device
    for run in runs:
        assert TOKEN not in run.output


def test_offline_readings_are_buffered_and_drained_with_real_timestamps(kit):
    runs = kit.cycles(1)
    kit.sim.set_link(False)
    offline = kit.cycles(1)
    # retry wakes (jittered backoff) sample nothing; uploads come on the device's phase
    while sampled(offline) < 9 or not any(r.figures.get("failure") == "link" for r in offline):
        assert len(offline) < 12, offline[-1].output
        offline += kit.cycles(1)
    assert backlog(offline[-1]) == sampled(offline) >= 9
    assert len(kit.readings()) == 3
    kit.sim.set_link(True)
    back = kit.cycles(1)
    while backlog(back[-1]):  # the next upload comes when the (jittered) backoff ends
        assert len(back) < 20, back[-1].output  # a backoff after 6 failures: <= 16 min
        back += kit.cycles(1)
    arrived = kit.readings()
    times = [r.started for r in runs + offline + back if stored(r) == 3]
    assert len(arrived) == 3 * len(times)
    assert sorted({epoch(r["timestamp"]) for r in arrived}) == times
    for slug in ("temp_01", "humidity", "soil"):
        assert len([r for r in arrived if r["sensor_slug"] == slug]) == len(times)


def test_wrong_token_keeps_readings_and_pauses_an_hour(kit):
    kit.write_config(api={"token": "not-the-token"})
    run = kit.cycles(1)[0]
    f = run.figures
    assert (f["failure"], f["http_status"], f["retry_in"], f["alert"]) == (
        "unauthorized", 401, 3600, 3)  # needs a person: the LED, and an hour's wait
    assert "ERROR upload refused (unauthorized 401 Unauthenticated.): check api.token" in run.output
    assert backlog(run) == 3 and kit.readings() == []
    assert "not-the-token" not in run.output
    kit.write_config()
    kit.sim.clock += 3600  # an hour later, with the token fixed
    run = kit.cycles(1)[0]
    assert backlog(run) == 0 and len(kit.readings()) == 6


def test_unknown_device_is_404_and_nothing_is_lost(kit):
    kit.write_config(api={"device_uuid": "00000000-0000-0000-0000-000000000000"})
    run = kit.cycles(1)[0]
    f = run.figures
    assert (f["failure"], f["http_status"], f["retry_in"], f["alert"]) == (
        "not_found", 404, 3600, 4)
    assert "check api.device_uuid" in run.output
    assert backlog(run) == 3


def test_server_errors_back_off_and_deliver_later(kit):
    kit.server.faults.add(action="reply", status=503, times=2)
    runs = kit.cycles(1)
    assert backlog(runs[0]) == 3
    while backlog(runs[-1]):
        assert len(runs) < 8, runs[-1].output
        runs += kit.cycles(1)
    failed = [r for r in runs if r.figures.get("failure") == "server_error"]
    assert [r.figures["http_status"] for r in failed] == [503, 503]
    assert all(1 <= r.figures["retry_in"] <= 60 for r in failed)  # backoff: 30 s, then 60
    assert failed[:2] == runs[:2] and stored(runs[1]) is None  # the retry came first
    assert len(kit.readings()) == sampled(runs)


def test_rate_limit_waits_as_long_as_the_server_says(kit):
    kit.server.faults.add(action="reply", status=429, times=1,
                          headers={"Retry-After": "150"}, body={"message": "Too Many Requests"})
    run = kit.cycles(1)[0]
    f = run.figures
    assert (f["failure"], f["http_status"], f["retry_in"]) == ("rate_limited", 429, 150)
    assert backlog(run) == 3
    # the cycle line's words for a failed upload: kind, status, the server's message
    assert "upload: sent 0 in 1 request; rate_limited 429 Too Many Requests, retry in 150 s" in (
        run.output)


def test_validation_failure_sets_the_bad_reading_aside(kit):
    errors = {"data.1.value": ["The data.1.value field must be a number."]}
    kit.server.faults.add(action="reply", status=422, times=1,
                          body={"message": "Validation failed.", "errors": errors})
    run = kit.cycles(1)[0]
    assert "reading rejected by the server: data.1.value: The data.1" in run.output
    assert backlog(run) == 0 and run.figures["dead_letters"] == 1
    assert [r["sensor_slug"] for r in kit.readings()] == ["temp_01", "soil"]


def test_reply_lost_in_flight_is_resent_once(kit):
    kit.server.faults.add(action="drop_after_store", times=1)
    runs = kit.cycles(1)
    assert backlog(runs[0]) == 3
    while backlog(runs[-1]):
        assert len(runs) < 6
        runs += kit.cycles(1)
    stored = kit.readings()
    first = [r for r in stored if epoch(r["timestamp"]) == runs[0].started]
    assert len(first) == 6  # at-least-once: the batch whose reply was lost, twice
    assert len(stored) == sampled(runs) + 3


def test_server_down_keeps_everything(tmp_path):
    k = Kit(tmp_path)
    port = k.server.port
    k.stop()
    runs = k.cycles(3)
    assert (runs[0].figures["failure"], runs[0].figures["http_status"]) == ("network_error", 0)
    assert backlog(runs[-1]) == sampled(runs) >= 3
    from tools.dev.sensocan_mock import MockServer
    k.server = MockServer(k.server.registry, str(tmp_path / "mock2.sqlite"), port=port,
                          tls=(str(k.paths["cert"]), str(k.paths["key"]))).start()
    try:
        runs += k.cycles(1)
        while backlog(runs[-1]):
            assert len(runs) < 12
            runs += k.cycles(1)
        assert len(k.readings()) == sampled(runs)
    finally:
        k.stop()


def test_wrong_ca_is_refused_clearly_and_no_reading_is_lost(kit, tmp_path):
    other = certs.make_ca(tmp_path / "other", ca_name="somebody else")
    kit.write_config(api={"ca_cert": str(other["ca_der"])})
    run = kit.cycles(1)[0]
    f = run.figures
    # only a person can fix it: not retried like a blip, but logged, on the LED, hourly
    assert (f["failure"], f["retry_in"], f["alert"], f["unanswered"]) == (
        "tls_refused", 3600, 5, 0)
    assert "ERROR upload refused (tls_refused 0 TLS: certificate not trusted" in run.output
    assert backlog(run) == 3 and kit.readings() == []
    kit.write_config(api={"ca_cert": str(kit.paths["ca_pem"])})  # the right CA, as PEM
    kit.sim.clock += 3600
    run = kit.cycles(1)[0]
    assert backlog(run) == 0 and len(kit.readings()) == 6 and run.figures["alert"] == 0


def test_plain_http_is_refused_unless_allowed(tmp_path):
    k = Kit(tmp_path, tls=None)
    try:
        url = "http://localhost:%d/api/v1" % k.server.port
        k.write_config(api={"base_url": url})
        run = k.sim.run_cycle()
        assert any("api.base_url: plain http:// is refused" in line for line in run.safe_mode)
        assert k.readings() == []
        k.write_config(api={"base_url": url, "allow_insecure_http": True})
        run = k.cycles(1)[0]
        assert backlog(run) == 0 and len(k.readings()) == 3
    finally:
        k.stop()


def test_bad_config_enters_safe_mode_with_a_usable_repl(kit):
    kit.write_config(sample_interval_s="60", sensors=[{"slug": "x", "driver": "adc", "pin": "34"}])
    run = kit.sim.run_cycle(typed="print('answer', 6 * 7)\n")
    assert run.safe_mode and run.sleep_s is None
    reasons = "\n".join(run.safe_mode)
    assert "sample_interval_s: expected an integer, got \"60\"" in reasons
    assert 'sensors[0].pin: expected an integer, got "34"' in reasons
    assert "SAFE MODE: the node will not run until this is fixed:" in run.output  # for a person
    assert "answer 42" in run.output  # the REPL ran what we typed
    assert kit.server.requests() == []


def test_crash_loop_stops_in_safe_mode(kit):
    kit.sim.set_world(rtc_fault=True)  # a peripheral failing in a way nothing handles
    runs = [kit.sim.run_cycle() for _ in range(4)]
    assert "OSError: RTC: simulated hardware fault" in runs[0].output
    assert [(r.figures["crashes"], r.figures["sleep"], r.sleep_s) for r in runs[:3]] == [
        (1, 20, 20), (2, 40, 40), (3, 80, 80)]
    assert "crash 1, retry in 20 s" in runs[0].output  # on the flash log, for a person
    assert runs[3].sleep_s is None
    assert runs[3].safe_mode[0].startswith("crash loop: the last 3 runs crashed")
    kit.sim.set_world(rtc_fault=False)
    kit.sim.power_cut()  # a power cycle clears RTC memory, and with it the crash count
    assert backlog(kit.cycles(1)[0]) == 0


def test_editing_the_sensor_list_never_relabels_stored_readings(kit):
    kit.sim.set_link(False)
    old = sampled(kit.cycles(2)) // 3  # wakes whose temp_01, humidity, soil readings wait
    cfg = json.loads(kit.config_path.read_text())
    cfg["sensors"] = [cfg["sensors"][2], cfg["sensors"][0]]  # humidity removed, order swapped
    kit.config_path.write_text(json.dumps(cfg))
    kit.sim.set_link(True)
    runs = kit.cycles(1)
    while backlog(runs[-1]):
        assert len(runs) < 6
        runs += kit.cycles(1)
    stored = kit.readings()
    by_time = {}
    for r in stored:
        by_time.setdefault(r["timestamp"], set()).add(r["sensor_slug"])
    times = sorted(by_time)
    assert [by_time[t] for t in times] == [{"temp_01", "humidity", "soil"}] * old + [
        {"temp_01", "soil"}] * (sampled(runs) // 2)
    assert [r["value"] for r in stored if r["sensor_slug"] == "humidity"] == csv_rows(old)


@pytest.mark.parametrize("mode", [422, 404])
def test_a_sensor_unknown_to_the_server_never_blocks_the_others(tmp_path, mode):
    k = Kit(tmp_path, unknown_sensor_in_batch=mode)  # the contract allows either reply
    try:
        cfg = json.loads(k.config_path.read_text())
        cfg["sensors"].append({"slug": "ghost", "driver": "wave"})
        k.config_path.write_text(json.dumps(cfg))
        runs = k.cycles(1)
        while backlog(runs[-1]):
            assert len(runs) < 6, runs[-1].output
            runs += k.cycles(1)
        assert "the server does not know sensor ghost: its readings are parked" in runs[0].output
        ghost = sampled(runs) // 4
        assert len(k.readings()) == 3 * ghost
        assert (runs[-1].figures["parked"], runs[-1].figures["alert"]) == (ghost, 4)
        # the sensor is created on the dashboard: within upload.alert_retry_s, without a
        # visit to the node, its parked readings arrive with their measurement times
        k.server.add_sensor(DEVICE, "ghost", "99999999-8888-7777-6666-555555555555")
        k.sim.clock += 3600
        later = k.cycles(1)
        while backlog(later[-1]) or later[-1].figures["parked"]:
            assert len(later) < 6, later[-1].output
            later += k.cycles(1)
        assert "uploads accepted again: alert cleared" in "".join(r.output for r in later)
        assert later[-1].figures["alert"] == 0
        ghosts = [r for r in k.readings() if r["sensor_slug"] == "ghost"]
        assert len(ghosts) == sampled(runs + later) // 4
        assert {epoch(r["timestamp"]) for r in ghosts} == {
            r.started for r in runs + later if stored(r) == 4}
    finally:
        k.stop()


@pytest.mark.host
def test_the_firmware_names_no_module_of_the_emulated_board():
    """firmware/ runs on every board: it imports, and names in strings (an unload list,
    say), none of boards/unix's own modules; what a phase loaded goes by heap.Borrowed."""
    import ast

    unix = {p.stem for p in (ROOT / "boards/unix").glob("*.py")} | {"chips"}
    unix.discard("board")  # every board has one: the firmware's one way in
    for src in sorted((ROOT / "firmware").glob("*.py")):
        named = set()
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.Import):
                named |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                named.add(node.module or "")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                named.add(node.value)
        found = {n for n in named if n.split(".")[0] in unix}
        assert not found, (src.name, found)
