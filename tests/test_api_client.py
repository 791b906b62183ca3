"""lib/sensocan.py under MicroPython against the Sensocan mock: every endpoint's body
on the wire checked field by field, and every reply class."""

import json

import pytest

from tools.dev import unixport as mpy
from tests.nodekit import DEVICE, SENSORS, TOKEN
from tools import certs
from tools.dev.sensocan_mock import MockServer

T = 60061400  # 2026-11-27T03:43:20Z in node seconds (lib/clock.py)


@pytest.fixture
def server(tmp_path):
    """A mock of its own per test: the rate-limit counts the replies show start afresh."""
    paths = certs.make_ca(tmp_path)
    devices = {"devices": [{"uuid": DEVICE, "token": TOKEN, "sensors": SENSORS},
                           {"uuid": "b" * 8 + "-0000-0000-0000-" + "0" * 12, "token": "other",
                            "sensors": []}]}
    # a stopped clock: one rate-limit window for the whole test, however slow the host
    with MockServer(devices, tls=(str(paths["cert"]), str(paths["key"])), control=True,
                    clock=lambda: float(T)) as s:
        s.ca = str(paths["ca_der"])
        yield s


def run_api(server, body, token=TOKEN, device=DEVICE):
    """Run `body` on the device with `api` (a sensocan.Api) and `T` defined; prints go back."""
    code = (
        "import httpc, sensocan\n"
        "ca = open(%r, 'rb').read()\n"
        "http = httpc.Client('https://localhost:%d/api/v1', ca=ca)\n"
        "api = sensocan.Api(http, %r, %r)\n"
        "T = %d\n"
        "def blamed(s):\n"
        "    if s is None:\n"
        "        return []\n"
        "    bit = lambda b, i: b[i >> 3] >> (i & 7) & 1\n"
        "    return (['data.%%d%%s' %% (i, ' (sensor)' if bit(s.unknown, i) else '')\n"
        "             for i in range(64) if bit(s.named, i)]\n"
        "            + ['battery_voltage'] * s.battery + ['(request)'] * s.whole)\n"
        "def show(r):\n"
        "    print('REPLY', r.kind, r.status, repr(r.message), r.count, r.remaining,"
        " r.retry_after, r.sent, blamed(r.scan))\n"
        % (server.ca, server.port, device, token, T)) + body
    res = mpy.run_code(code)
    assert res.returncode == 0, res.stdout + res.stderr
    return [line.split(" ", 1)[1] for line in res.stdout.splitlines() if line.startswith("REPLY")]


def last_body(server):
    return server.requests()[-1]["body"]


def test_single_reading(server):
    out = run_api(server, "show(api.single(%r, 25.5, T, battery=3.7))" % SENSORS[0]["uuid"])
    assert out == ["stored 201 'Reading stored successfully.' None 999 None True []"]
    assert last_body(server) == (
        '{"data":{"value":25.5,"timestamp":"2026-11-27T03:43:20Z"},"battery_voltage":3.7}')
    r = server.readings()[-1]
    assert (r["sensor_uuid"], r["value"], r["timestamp"], r["battery_voltage"], r["endpoint"]) == (
        SENSORS[0]["uuid"], 25.5, "2026-11-27T03:43:20Z", 3.7, "single")


def test_bulk_readings(server):
    out = run_api(server, (
        "items = [(sensocan.BULK_PREFIX, v, T + 900 * i) for i, v in enumerate((22.1, 22.4, 22.8))]\n"
        "show(api.send(sensocan.BULK, %r, items, 3.6))\n") % SENSORS[1]["uuid"])
    assert out == ["stored 201 'Successfully stored 3 readings.' 3 999 None True []"]
    assert json.loads(last_body(server)) == {"data": [
        {"value": 22.1, "timestamp": "2026-11-27T03:43:20Z"},
        {"value": 22.4, "timestamp": "2026-11-27T03:58:20Z"},
        {"value": 22.8, "timestamp": "2026-11-27T04:13:20Z"}], "battery_voltage": 3.6}
    assert [r["value"] for r in server.readings()[-3:]] == [22.1, 22.4, 22.8]


def test_batch_by_slug_and_uuid_without_timestamp(server):
    out = run_api(server, (
        "show(api.send(sensocan.BATCH, None, [(sensocan.item_prefix('temp_01'), 25.5, T),\n"
        "                      (sensocan.item_prefix(None, %r), 60.2, None),\n"
        "                      (sensocan.item_prefix('soil'), -0.000123456789, T)]))\n")
        % SENSORS[1]["uuid"])
    assert out == ["stored 201 'Successfully processed 3 readings.' 3 999 None True []"]
    assert last_body(server) == (
        '{"data":[{"sensor_slug":"temp_01","value":25.5,"timestamp":"2026-11-27T03:43:20Z"},'
        '{"sensor_uuid":"%s","value":60.2},'
        '{"sensor_slug":"soil","value":-0.0001234568,"timestamp":"2026-11-27T03:43:20Z"}]}'
        % SENSORS[1]["uuid"])
    assert server.readings()[-2]["timestamp"] is None  # the server stamps it itself


def test_nan_and_infinity_are_refused_before_sending(server):
    before = len(server.requests())
    out = run_api(server, (
        "for v in (float('nan'), float('inf'), -float('inf')):\n"
        "    try:\n"
        "        api.send(sensocan.BULK, %r, [(sensocan.BULK_PREFIX, v, T)])\n"
        "        print('REPLY accepted')\n"
        "    except ValueError as e:\n"
        "        print('REPLY refused', e)\n"
        "for b in (float('nan'), 150, -0.1):\n"
        "    try:\n"
        "        api.single(%r, 1.0, T, battery=b)\n"
        "    except ValueError as e:\n"
        "        print('REPLY refused', e)\n") % (SENSORS[0]["uuid"], SENSORS[0]["uuid"]))
    assert out == ["refused value must be a finite number, got nan",
                   "refused value must be a finite number, got inf",
                   "refused value must be a finite number, got -inf",
                   "refused battery_voltage must be a number from 0 to 100, got nan",
                   "refused battery_voltage must be a number from 0 to 100, got 150",
                   "refused battery_voltage must be a number from 0 to 100, got -0.1"]
    assert len(server.requests()) == before


def test_reply_classes(server):
    s = SENSORS[0]["uuid"]
    assert run_api(server, "show(api.single(%r, 1.0, T))" % s, token="wrong") == [
        "unauthorized 401 'Unauthenticated.' None 999 None True []"]
    assert run_api(server, "show(api.single(%r, 1.0, T))" % s, token="other") == [
        "unauthorized 401 'Unauthenticated.' None 998 None True []"]
    assert run_api(server, "show(api.single(%r, 1.0, T))" % ("0" * 8 + SENSORS[0]["uuid"][8:])) == [
        "not_found 404 'Sensor not found.' None 997 None True []"]
    assert run_api(server, (
        "show(api.send(sensocan.BATCH, None, [(sensocan.item_prefix(None, %r), 1.0, T)], 99.5))\n") % s) == ["stored 201 'Successfully processed 1 readings.' 1 996 None True []"]
    server.faults.add(action="reply", status=422, times=1, body={
        "message": "Validation failed.", "errors": {"battery_voltage": ["out of range"]}})
    assert run_api(server, "show(api.single(%r, 1.0, T, battery=3.7))" % s) == [
        "invalid 422 'Validation failed.' None None None True ['battery_voltage']"]
    server.faults.add(action="reply", status=429, times=1, headers={"Retry-After": "30"},
                      body={"message": "Too Many Requests"})
    assert run_api(server, "show(api.single(%r, 1.0, T))" % s) == [
        "rate_limited 429 'Too Many Requests' None None 30 True []"]
    server.faults.add(action="reply", status=429, times=1, body={"message": "Too Many Requests"},
                      headers={"Retry-After": "Fri, 27 Nov 2026 03:45:00 GMT",
                               "Date": "Fri, 27 Nov 2026 03:43:20 GMT"})
    assert run_api(server, "show(api.single(%r, 1.0, T))" % s)[0].startswith(
        "rate_limited 429 'Too Many Requests' None None 100 ")
    server.faults.add(action="reply", status=503, times=1, body="<html>busy</html>")
    assert run_api(server, "show(api.single(%r, 1.0, T))" % s) == [
        "server_error 503 '' None None None True []"]
    server.faults.add(action="reply", status=409, times=1, body={"message": "Bad."})
    assert run_api(server, "show(api.single(%r, 1.0, T))" % s) == [
        "unexpected 409 'Bad.' None None None True []"]
    server.faults.add(action="close", times=1)
    out = run_api(server, "show(api.single(%r, 1.0, T))" % s)
    assert out[0].startswith("network_error 0 ") and out[0].endswith(" True []")


def test_validation_errors_name_the_items(server):
    out = run_api(server, (
        "r = api.send(sensocan.BATCH, None, [(sensocan.item_prefix('temp_01'), 1.0, T),\n"
        "                     (sensocan.item_prefix('no_such_slug'), 2.0, T)])\n"
        "show(r)\n"
        "print('REPLY', r.scan.detail)\n"))
    assert out[0].startswith("invalid 422 'Validation failed.'")
    assert out[0].endswith("['data.1 (sensor)']")
    assert out[1].startswith("data.1.sensor_slug: ")
