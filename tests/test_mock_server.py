"""The Sensocan mock server (tools/dev/sensocan_mock), driven over real sockets.

Time is a FakeClock injected into the server; the only real waits are short hang
guards and the sub-second keep-alive timeout the idle-connection test needs.
"""

import http.client
import json
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
from contextlib import closing
from email.utils import formatdate
from pathlib import Path

import pytest

from tools.certs import make_ca
from tools.dev.sensocan_mock import DevicesFileError, FaultRuleError, MockServer
from tools.dev.sensocan_mock.__main__ import main as cli
from tools.dev.sensocan_mock.registry import load, parse

pytestmark = pytest.mark.host  # CPython only: make test-32bit leaves it out

ROOT = Path(__file__).resolve().parent.parent
GUARD = 5  # seconds: only ever reached when something hangs

DEV_A, TOKEN_A = "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "token-a-0123456789"
TEMP, HUM = "7a8b9c0d-1234-5678-90ab-cdef12345678", "9c8b7a6d-0000-4000-8000-000000000002"
DEV_B, TOKEN_B = "b2c3d4e5-0000-4000-8000-0000000000bb", "token-b-9876543210"
SENSOR_B = "c3d4e5f6-0000-4000-8000-0000000000cc"
DEVICES = {"devices": [
    {"uuid": DEV_A, "token": TOKEN_A,
     "sensors": [{"uuid": TEMP, "slug": "temp_01"}, {"uuid": HUM, "slug": "humidity"}]},
    {"uuid": DEV_B, "token": TOKEN_B, "sensors": [{"uuid": SENSOR_B, "slug": "temp_01"}]},
]}
T0 = 1_700_000_000.0
TS = "2023-10-27T10:00:00Z"
TS_EPOCH = 1698400800.0


def single(device=DEV_A, sensor=TEMP):
    return "/api/v1/devices/%s/sensors/%s/readings" % (device, sensor)


def bulk(device=DEV_A, sensor=TEMP):
    return single(device, sensor) + "/bulk"


def batch(device=DEV_A):
    return "/api/v1/devices/%s/readings" % device


class FakeClock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_server(clock):
    started = []

    def make(devices=DEVICES, **options):
        server = MockServer(devices, clock=clock, **options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server):
    return make_server()


def connect(server):
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=GUARD)


def send(conn, method, path, body=None, token=TOKEN_A, headers=None):
    """One request on `conn`; returns (status, headers, parsed JSON or None)."""
    head = {"Content-Type": "application/json"}
    if token is not None:
        head["Authorization"] = "Bearer " + token
    head.update(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    conn.request(method, path, body=body, headers=head)
    response = conn.getresponse()
    data = response.read()
    return response.status, response.headers, json.loads(data) if data else None


def call(server, method, path, body=None, **kw):
    with closing(connect(server)) as conn:
        return send(conn, method, path, body, **kw)


def post(server, path, body, **kw):
    return call(server, "POST", path, body, **kw)


def raw_socket(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=GUARD)


def read_reply(sock):
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.headers, response.read()


# --- the three endpoints ---------------------------------------------------------------

def test_single_reading_is_stored_field_by_field(server):
    status, headers, body = post(server, single(), {"data": {"value": 25.5, "timestamp": TS},
                                                    "battery_voltage": 3.7})
    assert status == 201
    assert body == {"message": "Reading stored successfully.", "sensor": TEMP}
    assert headers["Content-Type"] == "application/json"
    [reading] = server.readings()
    [request] = server.requests()
    assert reading == {
        "id": reading["id"], "request_id": request["id"], "device_uuid": DEV_A,
        "sensor_uuid": TEMP, "sensor_slug": "temp_01", "value": 25.5, "timestamp": TS,
        "measured_at": TS_EPOCH, "battery_voltage": 3.7, "endpoint": "single",
        "received_at": T0}


def test_single_reading_without_timestamp_is_measured_at_server_time(server, clock):
    clock.now = T0 + 12.5
    assert post(server, single(), {"data": {"value": 7}})[0] == 201
    [reading] = server.readings()
    assert (reading["value"], reading["timestamp"]) == (7.0, None)
    assert reading["measured_at"] == reading["received_at"] == T0 + 12.5
    assert reading["battery_voltage"] is None


def test_bulk_readings_are_stored_in_order(server):
    data = [{"value": 22.1, "timestamp": "2023-10-27T09:00:00Z"},
            {"value": "22.4", "timestamp": "2023-10-27T11:15:00+02:00"},
            {"value": 22.8}]
    status, _, body = post(server, bulk(), {"data": data, "battery_voltage": 3.6})
    assert status == 201
    assert body == {"message": "Successfully stored 3 readings.", "sensor": TEMP, "count": 3}
    readings = server.readings()
    assert [r["value"] for r in readings] == [22.1, 22.4, 22.8]
    assert [r["timestamp"] for r in readings] == [data[0]["timestamp"], data[1]["timestamp"], None]
    assert [r["measured_at"] for r in readings] == [TS_EPOCH - 3600, TS_EPOCH - 2700, T0]
    assert {(r["endpoint"], r["battery_voltage"], r["sensor_uuid"]) for r in readings} == {
        ("bulk", 3.6, TEMP)}
    assert len({r["request_id"] for r in readings}) == 1


def test_batch_items_name_their_sensor_by_slug_or_uuid(server):
    data = [{"sensor_slug": "temp_01", "value": 25.5, "timestamp": TS},
            {"sensor_uuid": HUM, "value": 60.2},
            {"sensor_slug": "humidity", "sensor_uuid": HUM, "value": 61}]
    status, _, body = post(server, batch(), {"data": data, "battery_voltage": 3.7})
    assert status == 201
    assert body == {"message": "Successfully processed 3 readings.", "count": 3}
    assert [(r["sensor_uuid"], r["sensor_slug"], r["value"], r["endpoint"])
            for r in server.readings()] == [
        (TEMP, "temp_01", 25.5, "batch"), (HUM, "humidity", 60.2, "batch"),
        (HUM, "humidity", 61.0, "batch")]


@pytest.mark.parametrize("value, stored", [
    (25, 25.0), (-0.5, -0.5), ("25.5", 25.5), (" -1e3 ", -1000.0), ("+.5", 0.5), (0, 0.0)])
def test_numeric_values_and_numeric_strings_are_accepted(server, value, stored):
    assert post(server, single(), {"data": {"value": value}})[0] == 201
    assert server.readings()[0]["value"] == stored


@pytest.mark.parametrize("timestamp, epoch", [
    ("2023-10-27T10:00:00Z", TS_EPOCH), ("2023-10-27T12:00:00+02:00", TS_EPOCH),
    ("2023-10-27T10:00:00", TS_EPOCH), ("2023-10-27T10:00:00.250Z", TS_EPOCH + 0.25),
    ("2023-10-27", TS_EPOCH - 36000)])
def test_iso8601_timestamps_are_kept_as_sent_and_parsed_to_utc(server, timestamp, epoch):
    assert post(server, single(), {"data": {"value": 1, "timestamp": timestamp}})[0] == 201
    [reading] = server.readings()
    assert (reading["timestamp"], reading["measured_at"]) == (timestamp, epoch)


def test_request_log_records_each_request_without_the_token(server, clock):
    post(server, single(), {"data": {"value": 1}})
    clock.now += 1
    post(server, batch(), {"data": []}, token="not-" + TOKEN_A)
    post(server, batch(), b"{}", token=TOKEN_B, headers={"Content-Type": "text/plain"})
    first, second, third = server.requests()
    assert first == {"id": first["id"], "received_at": T0, "connection": 0, "method": "POST",
                     "path": single(),
                     "device_uuid": DEV_A, "status": 201, "reply_class": "created",
                     "auth_ok": 1, "content_type": "application/json",
                     "body": '{"data": {"value": 1}}'}
    assert (second["received_at"], second["status"], second["reply_class"],
            second["auth_ok"]) == (T0 + 1, 401, "unauthenticated", 0)
    assert (third["status"], third["content_type"], third["auth_ok"]) == (401, "text/plain", 0)
    assert TOKEN_A not in repr(server.requests() + server.readings())


def test_a_server_that_cannot_listen_fails_to_start(server):
    second = MockServer(DEVICES, port=server.port)
    with pytest.raises(OSError):
        second.start()
    with pytest.raises(RuntimeError):
        second.start()


def test_date_header_comes_from_the_injected_clock(server):
    _, headers, _ = post(server, single(), {"data": {"value": 1}})
    assert headers["Date"] == formatdate(T0, usegmt=True)


# --- errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("authorization", [
    None, "Bearer wrong-token", "bearer " + TOKEN_A, "Token " + TOKEN_A, "Bearer ", TOKEN_A])
def test_missing_or_unknown_token_is_401(server, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    status, _, body = post(server, single(), {"data": {"value": 1}}, token=None, headers=headers)
    assert (status, body) == (401, {"message": "Unauthenticated."})
    assert server.readings() == []


def test_another_devices_token_is_401(server):
    body = {"data": [{"sensor_slug": "temp_01", "value": 1}]}
    status, _, body = post(server, batch(DEV_A), body, token=TOKEN_B)
    assert (status, body) == (401, {"message": "Unauthenticated."})
    assert server.readings() == []


def test_unknown_device_is_404_for_a_valid_token(server):
    status, _, body = post(server, single("no-such-device"), {"data": {"value": 1}})
    assert (status, body) == (404, {"message": "Device not found."})


@pytest.mark.parametrize("path", [single(sensor="no-such-sensor"), bulk(sensor=SENSOR_B)])
def test_unknown_sensor_in_the_path_is_404(server, path):
    status, _, body = post(server, path, {"data": {"value": 1}})
    assert (status, body) == (404, {"message": "Sensor not found."})


@pytest.mark.parametrize("path, token, expected", [
    (single("no-such-device"), "unknown", 401),  # token before device
    (single(DEV_A, "no-such-sensor"), TOKEN_B, 401),  # token-device match before sensor
    (single("no-such-device", "no-such-sensor"), TOKEN_A, 404)])
def test_checks_run_in_the_documented_order(server, path, token, expected):
    assert post(server, path, {"data": {"value": 1}}, token=token)[0] == expected


VALIDATION_CASES = [
    ("single", {}, {"data": ["The data field is required."]}),
    ("single", {"data": "25.5"}, {"data": ["The data field must be an array."]}),
    ("single", {"data": {"timestamp": TS}}, {"data.value": ["The sensor value is required."]}),
    ("single", {"data": {"value": True}},
     {"data.value": ["The data.value field must be a number."]}),
    ("single", {"data": {"value": "abc", "timestamp": "27/10/2023"}, "battery_voltage": 101}, {
        "data.value": ["The data.value field must be a number."],
        "data.timestamp": ["The data.timestamp field must be a valid date."],
        "battery_voltage": ["The battery voltage field must be between 0 and 100."]}),
    ("bulk", {"data": []}, {"data": ["The data field is required."]}),
    ("bulk", {"data": {"value": 1}}, {"data": ["The data field must be an array."]}),
    ("bulk", {"data": [{"value": 1}, {}, {"value": "0x1A", "timestamp": "2023-13-01T00:00:00Z"},
                       {"value": 2, "timestamp": 1698400800}, {"value": 3, "timestamp": None}]}, {
        "data.1.value": ["The data.1.value field is required."],
        "data.2.value": ["The data.2.value field must be a number."],
        "data.2.timestamp": ["The data.2.timestamp field must be a valid date."],
        "data.3.timestamp": ["The data.3.timestamp field must be a valid date."],
        "data.4.timestamp": ["The data.4.timestamp field must be a valid date."]}),
    ("bulk", {"data": [{"value": ""}, {"value": []}, {"value": "NaN"}, 5],
              "battery_voltage": "high"}, {
        "data.0.value": ["The data.0.value field is required."],
        "data.1.value": ["The data.1.value field is required."],
        "data.2.value": ["The data.2.value field must be a number."],
        "data.3.value": ["The data.3.value field is required."],
        "battery_voltage": ["The battery voltage field must be a number."]}),
    ("batch", {"data": [{"sensor_slug": "temp_01", "value": 1}, {"value": 2}]}, {
        "data.1.sensor_slug": [
            "The data.1.sensor_slug field is required when data.1.sensor_uuid is not present."],
        "data.1.sensor_uuid": [
            "The data.1.sensor_uuid field is required when data.1.sensor_slug is not present."]}),
    ("batch", {"data": [{"sensor_slug": 5, "value": 1}], "battery_voltage": -0.1}, {
        "data.0.sensor_slug": ["The data.0.sensor_slug field must be a string."],
        "battery_voltage": ["The battery voltage field must be between 0 and 100."]}),
]


@pytest.mark.parametrize("kind, body, errors", VALIDATION_CASES)
def test_validation_reports_every_error_and_stores_nothing(server, kind, body, errors):
    path = {"single": single(), "bulk": bulk(), "batch": batch()}[kind]
    status, _, reply = post(server, path, body)
    assert (status, reply) == (422, {"message": "Validation failed.", "errors": errors})
    assert server.readings() == []
    assert server.requests()[0]["reply_class"] == "validation_failed"


UNKNOWN_SENSORS = {"data": [{"sensor_slug": "nope", "value": 1},
                            {"sensor_uuid": SENSOR_B, "value": 2},  # device B's sensor
                            {"sensor_slug": "temp_01", "value": 3}]}


def test_unknown_sensor_in_a_batch_is_422_by_default(server):
    status, _, body = post(server, batch(), UNKNOWN_SENSORS)
    assert (status, body) == (422, {"message": "Validation failed.", "errors": {
        "data.0.sensor_slug": ["The selected data.0.sensor_slug is invalid."],
        "data.1.sensor_uuid": ["The selected data.1.sensor_uuid is invalid."]}})
    assert server.readings() == []


def test_unknown_sensor_in_a_batch_can_be_404(make_server):
    server = make_server(unknown_sensor_in_batch=404)
    status, _, body = post(server, batch(), UNKNOWN_SENSORS)
    assert (status, body) == (404, {"message": "Sensor not found."})
    status, _, body = post(server, batch(), {"data": UNKNOWN_SENSORS["data"] + [{"value": 4}]})
    assert status == 422 and set(body["errors"]) == {"data.3.sensor_slug", "data.3.sensor_uuid"}
    assert server.readings() == []


@pytest.mark.parametrize("body", [
    b"{", b'{"data": {"value": NaN}}', b'{"data": {"value": Infinity}}', b"\xff\xfe{}",
    b"[" * 100_000])
def test_malformed_json_is_400(server, body):
    status, _, reply = post(server, single(), body)
    assert (status, reply) == (400, {"message": "Malformed JSON body."})
    assert server.requests()[0]["reply_class"] == "malformed_json"


@pytest.mark.parametrize("headers, body", [
    ({"Content-Type": "text/plain"}, b'{"data": {"value": 1}}'), ({}, b"")])
def test_undeclared_or_empty_json_is_read_as_no_input(server, headers, body):
    status, _, reply = post(server, single(), body, headers=headers)
    assert (status, reply["errors"]) == (422, {"data": ["The data field is required."]})


def test_body_over_the_limit_is_413_and_closes(make_server):
    server = make_server(max_body=64)
    with closing(connect(server)) as conn:
        status, headers, body = send(conn, "POST", single(),
                                     {"data": {"value": 1, "pad": "x" * 100}})
        assert (status, body) == (413, {"message": "Payload Too Large."})
        assert headers["Connection"] == "close"
        assert conn.sock is None  # http.client saw the close
        chunks = (b"x" * 40 for _ in range(3))
        conn.request("POST", single(), chunks, {"Authorization": "Bearer " + TOKEN_A},
                     encode_chunked=True)
        assert conn.getresponse().status == 413
    assert [r["reply_class"] for r in server.requests()] == ["too_large", "too_large"]
    assert server.requests()[0]["body"] is None


def test_unknown_path_is_404_and_wrong_method_405(server):
    assert call(server, "POST", "/api/v1/nothing", {})[:3:2] == (404, {"message": "Not Found."})
    status, headers, body = call(server, "GET", batch())
    assert (status, headers["Allow"], headers["X-RateLimit-Remaining"]) == (405, "POST", "999")
    assert body == {"message": "The GET method is not supported for route api/v1/devices/%s/"
                               "readings. Supported methods: POST." % DEV_A}


def test_head_gets_headers_only_and_the_connection_stays_usable(server):
    with closing(connect(server)) as conn:
        conn.request("HEAD", batch())
        response = conn.getresponse()
        assert (response.status, response.read()) == (405, b"")
        assert int(response.headers["Content-Length"]) > 0
        assert send(conn, "POST", single(), {"data": {"value": 1}})[0] == 201


def test_malformed_request_line_gets_a_json_400(server):
    with raw_socket(server) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        status, headers, body = read_reply(sock)
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert "message" in json.loads(body)


# --- rate limit ------------------------------------------------------------------------

def test_rate_limit_counts_every_request_to_a_device(make_server, clock):
    server = make_server(rate_limit=3)
    replies = [post(server, single(), {"data": {"value": 1}}),
               post(server, single(), {"data": {"value": 1}}, token="wrong"),
               post(server, single(sensor="nope"), {"data": {"value": 1}})]
    assert [(s, h["X-RateLimit-Limit"], h["X-RateLimit-Remaining"]) for s, h, _ in replies] == [
        (201, "3", "2"), (401, "3", "1"), (404, "3", "0")]
    status, headers, body = post(server, single(), {"data": {"value": 2}})
    assert (status, body) == (429, {"message": "Too Many Requests"})
    assert (headers["Retry-After"], headers["X-RateLimit-Remaining"]) == ("60", "0")
    clock.now += 45.5
    assert post(server, single(), {"data": {"value": 3}})[1]["Retry-After"] == "15"
    assert post(server, single(DEV_B, SENSOR_B), {"data": {"value": 4}}, token=TOKEN_B)[0] == 201
    assert [r["value"] for r in server.readings()] == [1.0, 4.0]  # 429s stored nothing
    clock.now = T0 + 60
    status, headers, _ = post(server, single(), {"data": {"value": 5}})
    assert (status, headers["X-RateLimit-Remaining"]) == (201, "2")
    assert [r["reply_class"] for r in server.requests()].count("rate_limited") == 2


# --- connections -----------------------------------------------------------------------

def test_keep_alive_serves_two_requests_on_one_connection(server):
    with closing(connect(server)) as conn:
        assert send(conn, "POST", single(), {"data": {"value": 1}})[0] == 201
        sock = conn.sock
        assert send(conn, "POST", single(), {"data": {"value": "x"}})[0] == 422
        assert send(conn, "POST", single(), {"data": {"value": 2}})[0] == 201
        assert conn.sock is sock and sock is not None
    assert len(server.readings()) == 2


def test_connection_close_is_honoured(server):
    with raw_socket(server) as sock:
        body = b'{"data": {"value": 1}}'
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s"
                     % (single().encode(), TOKEN_A.encode(), len(body), body))
        status, headers, _ = read_reply(sock)
        assert (status, headers["Connection"]) == (201, "close")
        assert sock.recv(1) == b""


def test_idle_keep_alive_connection_is_closed_after_the_timeout(make_server):
    server = make_server(keepalive_timeout=0.2)
    with closing(connect(server)) as conn:
        status, headers, _ = send(conn, "POST", single(), {"data": {"value": 1}})
        assert status == 201 and "Connection" not in headers
        assert conn.sock.recv(1) == b""  # the server hung up (GUARD bounds the wait)


def test_chunked_request_body_is_accepted(server):
    with closing(connect(server)) as conn:
        parts = [b'{"data": [{"value"', b": 1}, ", b'{"value": 2}]}']
        conn.request("POST", bulk(), iter(parts), {"Authorization": "Bearer " + TOKEN_A,
                                                   "Content-Type": "application/json"},
                     encode_chunked=True)
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())["count"]) == (201, 2)
    assert server.requests()[0]["body"] == b"".join(parts).decode()


def test_malformed_chunked_body_is_400(server):
    with raw_socket(server) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"zz\r\n{}\r\n0\r\n\r\n" % single().encode())
        status, headers, body = read_reply(sock)
    assert (status, json.loads(body)) == (400, {"message": "Malformed chunked body."})
    assert headers["Connection"] == "close"


# --- HTTPS -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"))


def test_https_with_the_test_ca(make_server, certs, tmp_path):
    server = make_server(tls=(certs["cert"], certs["key"]))
    assert server.url == "https://127.0.0.1:%d/api/v1" % server.port
    other = make_ca(tmp_path / "other", ca_name="some other CA")
    stranger = http.client.HTTPSConnection(
        "127.0.0.1", server.port, timeout=GUARD,
        context=ssl.create_default_context(cafile=str(other["ca_pem"])))
    with pytest.raises(ssl.SSLCertVerificationError):
        send(stranger, "POST", single(), {"data": {"value": 1}})
    trusted = http.client.HTTPSConnection(
        "127.0.0.1", server.port, timeout=GUARD,
        context=ssl.create_default_context(cafile=str(certs["ca_pem"])))
    assert send(trusted, "POST", single(), {"data": {"value": 1}})[0] == 201
    assert send(trusted, "POST", single(), {"data": {"value": 2}})[0] == 201  # keep-alive
    trusted.close()
    assert [r["value"] for r in server.readings()] == [1.0, 2.0]


# --- devices file ----------------------------------------------------------------------

@pytest.mark.parametrize("doc, problem", [
    ({}, "devices: missing"),
    ({"devices": {}}, "devices: must be a list"),
    ({"devices": [{"token": "t", "sensors": []}]}, "devices[0].uuid: missing"),
    ({"devices": [{"uuid": "d/1", "token": "t", "sensors": []}]},
     "devices[0].uuid: must be letters, digits"),
    ({"devices": [{"uuid": "d", "token": "a b", "sensors": []}]},
     "devices[0].token: must be printable ASCII without spaces"),
    ({"devices": [{"uuid": "d", "token": "t"}]}, "devices[0].sensors: missing"),
    ({"devices": [{"uuid": "d", "token": "t", "sensors": [{"uuid": "s1", "slug": "a"},
                                                          {"uuid": "s2"}]}]},
     "devices[0].sensors[1].slug: missing"),
    ({"devices": [{"uuid": "d", "token": "t", "sensors": [{"uuid": 5, "slug": "a"}]}]},
     "devices[0].sensors[0].uuid: must be a string"),
    ({"devices": [{"uuid": "d", "token": "t", "sensors": [{"uuid": "s", "slug": "a"},
                                                          {"uuid": "s", "slug": "b"}]}]},
     "devices[0].sensors[1].uuid: same as devices[0].sensors[0].uuid"),
    ({"devices": ["d"]}, "devices[0]: must be an object"),
])
def test_devices_file_errors_name_the_field(doc, problem):
    with pytest.raises(DevicesFileError) as error:
        parse(doc)
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems


def test_devices_file_reports_all_problems_and_never_echoes_a_token():
    doc = {"devices": [{"uuid": "d1", "token": "secret-1", "sensors": []},
                       {"uuid": "d1", "token": "secret-1", "sensors": [{"slug": "x"}]}]}
    with pytest.raises(DevicesFileError) as error:
        parse(doc)
    assert error.value.problems == ["devices[1].uuid: same as devices[0].uuid",
                                    "devices[1].token: same as devices[0].token",
                                    "devices[1].sensors[0].uuid: missing"]
    assert "secret-1" not in str(error.value)


def test_devices_file_load_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(DevicesFileError, match="not valid JSON"):
        load(tmp_path / "bad.json")
    with pytest.raises(DevicesFileError, match="cannot read"):
        load(tmp_path / "missing.json")


def test_example_devices_file_is_valid():
    device = load(ROOT / "tools" / "devices.example.json").devices[0]
    assert device.sensor_by_slug("temp_01").uuid == "7a8b9c0d-1234-5678-90ab-cdef12345678"


# --- command line ----------------------------------------------------------------------

def test_cli_serve_prints_the_listening_line_serves_and_stops_on_sigterm(tmp_path):
    devices = tmp_path / "devices.json"
    devices.write_text(json.dumps(DEVICES))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.dev.sensocan_mock", "serve", "--devices", str(devices),
         "--db", str(tmp_path / "mock.db"), "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert select.select([proc.stdout], [], [], GUARD)[0], "no listening line"
        line = proc.stdout.readline()
        match = re.fullmatch(r"sensocan-mock listening on (http://127\.0\.0\.1:(\d+)/api/v1)\n",
                             line)
        assert match, line
        conn = http.client.HTTPConnection("127.0.0.1", int(match[2]), timeout=GUARD)
        assert send(conn, "POST", single(), {"data": {"value": 1}})[0] == 201
        assert send(conn, "POST", single(), {"data": {"value": 1}}, token="wrong")[0] == 401
        conn.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=GUARD)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert out.splitlines() == ["POST %s 201 created count=1" % single(),
                                "POST %s 401 unauthenticated count=0" % single()]
    assert TOKEN_A not in out + err


def test_cli_serve_reports_a_bad_devices_file(tmp_path, capsys):
    (tmp_path / "devices.json").write_text('{"devices": [{"uuid": "d", "token": "t"}]}')
    assert cli(["serve", "--devices", str(tmp_path / "devices.json"),
                "--db", str(tmp_path / "mock.db")]) == 1
    assert "devices[0].sensors: missing" in capsys.readouterr().err


def test_cli_list_reads_while_a_server_writes(make_server, tmp_path, capsys, clock):
    db = tmp_path / "mock.db"
    server = make_server(db_path=db)
    post(server, bulk(), {"data": [{"value": 20.5, "timestamp": "2023-10-27T09:00:00Z"},
                                   {"value": 22, "timestamp": TS}]})
    post(server, single(sensor=HUM), {"data": {"value": 55}, "battery_voltage": 3.3})
    assert cli(["list", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "received", "device", "sensor", "value", "measured",
                                "sent", "timestamp", "battery", "endpoint", "request"]
    assert len(lines) == 4
    assert lines[1].split()[3:8] == ["temp_01", "20.5", "2023-10-27T09:00:00Z",
                                     "2023-10-27T09:00:00Z", "-"]
    assert lines[3].split()[3:] == ["humidity", "55", "2023-11-14T22:13:20Z", "-", "3.3",
                                    "single", "2"]
    assert cli(["list", "--db", str(db), "--summary", "--device", DEV_A]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:] for line in lines[1:]] == [
        ["humidity", HUM, "1", "2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z", "55", "55", "55"],
        ["temp_01", TEMP, "2", "2023-10-27T09:00:00Z", TS, "20.5", "22", "22"]]
    assert cli(["list", "--db", str(db), "--device", DEV_B]) == 0
    assert capsys.readouterr().out == "no readings\n"


def test_cli_list_reports_a_missing_database(tmp_path, capsys):
    assert cli(["list", "--db", str(tmp_path / "none.db")]) == 1
    assert "sensocan-mock:" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_cli_provision_creates_then_updates_a_devices_file(tmp_path, capsys):
    path = tmp_path / "devices.json"
    assert cli(["provision", "--devices", str(path), "--device-uuid", "node-1",
                "--sensor", "temp_01", "--sensor", "hum:" + HUM]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["uuid"] == "node-1" and len(created["token"]) >= 20
    assert [s["slug"] for s in created["sensors"]] == ["temp_01", "hum"]
    assert created["sensors"][1]["uuid"] == HUM
    assert load(path).device("node-1").to_dict() == created

    assert cli(["provision", "--devices", str(path), "--device-uuid", "node-1",
                "--sensor", "temp_01:fixed-uuid", "--sensor", "gps_lat"]) == 0
    updated = json.loads(capsys.readouterr().out)
    assert updated["token"] == created["token"]
    assert [(s["slug"], s["uuid"]) for s in updated["sensors"]][:2] == [
        ("temp_01", "fixed-uuid"), ("hum", HUM)]
    assert cli(["provision", "--devices", str(path), "--device-uuid", "node-2",
                "--token", "given-token"]) == 0
    assert load(path).device_for_token("given-token").uuid == "node-2"
    assert load(path).device("node-1").to_dict() == updated


# --- faults ----------------------------------------------------------------------------

def test_fault_reply_fires_for_the_next_n_matching_requests(server):
    server.faults.add(action="reply", status=503, times=2, kind="single")
    assert post(server, bulk(), {"data": [{"value": 1}]})[0] == 201  # other kind: normal
    for _ in range(2):
        assert post(server, single(), {"data": {"value": 2}})[::2] == (
            503, {"message": "Service Unavailable"})
    assert post(server, single(), {"data": {"value": 3}})[0] == 201
    assert [r["value"] for r in server.readings()] == [1.0, 3.0]
    assert [r["reply_class"] for r in server.requests()] == [
        "created", "fault:reply", "fault:reply", "created"]
    assert server.faults.rules() == []


def test_fault_reply_with_headers_and_body_always(server):
    server.faults.add({"action": "reply", "status": 429, "headers": {"Retry-After": "7"},
                       "body": {"message": "slow down"}, "times": None, "path": "/bulk$"})
    for _ in range(3):
        status, headers, body = post(server, bulk(), {"data": [{"value": 1}]})
        assert (status, headers["Retry-After"], body) == (429, "7", {"message": "slow down"})
    assert server.faults.clear() == 1
    assert post(server, bulk(), {"data": [{"value": 1}]})[0] == 201


def test_fault_reply_can_send_a_proxys_html_page(server):
    page = "<html><body>502 Bad Gateway</body></html>"
    server.faults.add(action="reply", status=502, body=page, headers={"Content-Type": "text/html"})
    with closing(connect(server)) as conn:
        conn.request("POST", batch(), b"{}")
        response = conn.getresponse()
        assert (response.status, response.read().decode()) == (502, page)
        assert response.headers.get_all("Content-Type") == ["text/html"]

def test_fault_close_drops_the_connection_and_stores_nothing(server):
    server.faults.add(action="close")
    with pytest.raises(http.client.RemoteDisconnected):
        post(server, single(), {"data": {"value": 1}})
    assert server.readings() == []
    [request] = server.requests()
    assert (request["status"], request["reply_class"]) == (None, "fault:close")


def test_fault_drop_after_store_loses_the_reply_but_keeps_the_readings(server):
    server.faults.add(action="drop_after_store", kind="batch")
    with pytest.raises(http.client.RemoteDisconnected):
        post(server, batch(), {"data": [{"sensor_slug": "temp_01", "value": 1}]})
    assert [r["value"] for r in server.readings()] == [1.0]
    assert server.requests()[0]["reply_class"] == "fault:drop_after_store"


def test_fault_reply_close_hangs_up_after_an_unannounced_reply(server):
    server.faults.add(action="reply_close")
    with closing(connect(server)) as conn:
        status, headers, _ = send(conn, "POST", single(), {"data": {"value": 1}})
        assert status == 201 and "Connection" not in headers
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            send(conn, "POST", single(), {"data": {"value": 2}})
    assert [r["value"] for r in server.readings()] == [1.0]


@pytest.mark.parametrize("rule, error", [
    ({"action": "garbage"}, http.client.BadStatusLine),
    ({"action": "truncate", "keep": 250}, http.client.IncompleteRead),
    ({"action": "bad_length", "delta": 10}, http.client.IncompleteRead),
    ({"action": "bad_chunked"}, http.client.IncompleteRead)])
def test_fault_malformed_replies_after_storing(server, rule, error):
    server.faults.add(rule)
    with pytest.raises(error):
        post(server, single(), {"data": {"value": 1}})
    assert len(server.readings()) == 1


def test_fault_trickle_and_delay_still_deliver_the_reply(server):
    server.faults.add(action="trickle", chunk=7, interval=0.001)
    server.faults.add(action="handle", delay=0.01)
    for value in (1, 2):
        assert post(server, single(), {"data": {"value": value}})[::2] == (
            201, {"message": "Reading stored successfully.", "sensor": TEMP})
    assert [r["reply_class"] for r in server.requests()] == ["fault:trickle", "fault:handle"]


@pytest.mark.parametrize("rule, field", [
    ({}, "action: missing"), ({"action": "explode"}, "action:"),
    ({"action": "reply"}, "reply: missing a required argument"),
    ({"action": "reply", "status": "503"}, "status: must be of type int"),
    ({"action": "close", "status": 500}, "close: got an unexpected keyword"),
    ({"action": "close", "kind": "all"}, "kind:"), ({"action": "close", "times": 0}, "times:"),
    ({"action": "close", "delay": -1}, "delay:"), ({"action": "close", "path": "("}, "path:"),
    ({"action": ["close"]}, "action:"),
    ({"action": "reply", "status": 500, "body": {1}}, "reply: parameters must be JSON values")])
def test_fault_rules_are_checked_when_added(server, rule, field):
    with pytest.raises(FaultRuleError, match=re.escape(field)):
        server.faults.add(rule)


def test_control_endpoint_adds_lists_and_clears_faults(make_server):
    server = make_server(control=True)
    rule = {"action": "reply", "status": 500, "kind": "single", "times": None}
    status, _, body = post(server, "/_mock/faults", rule, token=None)
    assert status == 201 and body["rule"]["status"] == 500
    assert call(server, "GET", "/_mock/faults")[2]["rules"] == [body["rule"]]
    assert post(server, single(), {"data": {"value": 1}})[0] == 500
    assert call(server, "DELETE", "/_mock/faults")[::2] == (
        200, {"message": "Faults cleared.", "count": 1})
    assert post(server, single(), {"data": {"value": 2}})[0] == 201
    readings = call(server, "GET", "/_mock/readings?device=" + DEV_A)[2]["readings"]
    assert [r["value"] for r in readings] == [2.0]
    assert call(server, "GET", "/_mock/readings?device=" + DEV_B)[2] == {"readings": []}
    assert len(call(server, "GET", "/_mock/requests")[2]["requests"]) == 2  # control not logged
    status, _, body = post(server, "/_mock/faults", {"action": "nope"})
    assert status == 422 and body["message"].startswith("Invalid fault rule: action:")
    assert post(server, "/_mock/faults", b"[1")[0] == 400
    assert call(server, "PUT", "/_mock/faults")[1]["Allow"] == "POST, GET, DELETE"


def test_control_endpoint_is_off_by_default(server):
    assert post(server, "/_mock/faults", {"action": "close"})[0] == 404
    assert server.faults.rules() == []

