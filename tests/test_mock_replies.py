"""The mock's fault actions that shape a reply: any size, Laravel's per-item 422, random
chunking, binary junk, a body that never ends, a reset after storing, every form of a
429, extra headers on a stored reply; and waiting for the server to be idle. Real
sockets; the only waits are a fraction of a second.
"""

import errno
import http.client
import json
import re
import time
from contextlib import closing
from email.utils import formatdate

import pytest

from tests.test_mock_server import (  # fixtures too: clock, make_server, server
    GUARD, T0, TEMP, TOKEN_A, batch, bulk, clock, connect, make_server, post, raw_socket,
    send, server, single)
from tools.dev.sensocan_mock import FaultRuleError

pytestmark = pytest.mark.host  # CPython only: make test-32bit leaves it out

ITEMS = [{"sensor_slug": "temp_01", "value": v} for v in range(6)]


def raw_post(server, path, body):
    """POST `body` (JSON) over a raw socket, Connection: close; returns every reply byte."""
    data = json.dumps(body).encode()
    with raw_socket(server) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (path.encode(), TOKEN_A.encode(),
                                                        len(data), data))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


# --- handle with headers, pad --------------------------------------------------------------

def test_handle_adds_headers_to_a_stored_reply(server):
    server.faults.add(action="handle", headers={"X-RateLimit-Remaining": "0", "Retry-After": "90"})
    status, headers, body = post(server, single(), {"data": {"value": 1}})
    assert (status, headers["X-RateLimit-Remaining"], headers["Retry-After"]) == (201, "0", "90")
    assert body["message"] == "Reading stored successfully."
    assert len(server.readings()) == 1


@pytest.mark.parametrize("size", [1000, 1 << 20])
@pytest.mark.parametrize("first", [False, True])
def test_pad_grows_a_stored_reply_to_any_size(server, size, first):
    server.faults.add(action="pad", size=size, first=first)
    with closing(connect(server)) as conn:
        conn.request("POST", bulk(), json.dumps({"data": [{"value": 1}, {"value": 2}]}),
                     {"Authorization": "Bearer " + TOKEN_A, "Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
    assert response.status == 201 and len(raw) == size
    body = json.loads(raw)
    assert (body["message"], body["count"]) == ("Successfully stored 2 readings.", 2)
    assert list(body)[0 if first else -1] == "padding" and set(body["padding"]) == {"x"}
    assert len(server.readings()) == 2


def test_pad_with_a_status_stores_nothing_and_a_short_size_pads_nothing(server):
    server.faults.add(action="pad", size=5000, status=503)
    server.faults.add(action="pad", size=10)
    status, _, body = post(server, single(), {"data": {"value": 1}})
    assert status == 503 and body["message"] == "Service Unavailable"
    assert len(json.dumps(body, separators=(",", ":"))) == 5000
    assert server.readings() == []
    assert post(server, single(), {"data": {"value": 2}})[2] == {
        "message": "Reading stored successfully.", "sensor": TEMP}


# --- reject: Laravel's 422 for some items ---------------------------------------------------

def test_reject_names_a_random_subset_of_the_real_items_and_stores_nothing(server):
    server.faults.add(action="reject", fraction=0.5, seed=3)
    status, _, body = post(server, batch(), {"data": ITEMS})
    assert status == 422
    keys = list(body["errors"])
    named = [int(re.fullmatch(r"data\.(\d+)\.value", k)[1]) for k in keys]
    assert 0 < len(named) < len(ITEMS) and named == sorted(set(named))
    assert body["errors"][keys[0]] == ["The %s field must be a number." % keys[0]]
    assert body["message"] == "The %s field must be a number. (and %d more error%s)" % (
        keys[0], len(keys) - 1, "s" if len(keys) > 2 else "")
    assert server.readings() == []
    # the same seed names the same items: a failing draw replays
    server.faults.add(action="reject", fraction=0.5, seed=3)
    assert list(post(server, batch(), {"data": ITEMS})[2]["errors"]) == keys


def test_reject_names_at_least_one_item(server):
    server.faults.add(action="reject", fraction=0)
    body = post(server, bulk(), {"data": [{"value": 1}, {"value": 2}]})[2]
    assert len(body["errors"]) == 1 and body["message"].endswith("must be a number.")


def test_reject_given_items_field_extra_names_and_size(server):
    server.faults.add(action="reject", items=[1, 4], field="sensor_slug", extra=3, size=4096)
    status, _, body = post(server, batch(), {"data": ITEMS})
    assert status == 422
    assert [k for k in body["errors"] if k != "padding"] == [
        "data.%d.sensor_slug" % i for i in (1, 4, 6, 7, 8)]
    assert body["errors"]["data.1.sensor_slug"] == ["The selected data.1.sensor_slug is invalid."]
    assert body["message"].endswith("(and 4 more errors)")
    assert len(json.dumps(body, separators=(",", ":"))) == 4096
    assert server.readings() == []


def test_reject_a_single_reading_names_data_dot_field(server):
    server.faults.add(action="reject", field="timestamp")
    status, _, body = post(server, single(), {"data": {"value": 1}})
    assert (status, body) == (422, {
        "message": "The data.timestamp field must be a valid date.",
        "errors": {"data.timestamp": ["The data.timestamp field must be a valid date."]}})


def test_reject_processes_a_body_without_readings_normally(server):
    server.faults.add(action="reject")
    status, _, body = post(server, batch(), {"data": []})
    assert (status, body["errors"]) == (422, {"data": ["The data field is required."]})
    assert server.requests()[0]["reply_class"] == "fault:reject"


# --- chunked, junk ---------------------------------------------------------------------------

def test_chunked_sends_the_stored_reply_in_random_chunks(server):
    server.faults.add(action="chunked", chunk_min=3, chunk_max=40, size=2000, seed=1)
    reply = raw_post(server, bulk(), {"data": [{"value": 1}]})
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
    body, sizes = b"", []
    while True:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line, 16)
        if not size:
            break
        body, rest = body + rest[:size], rest[size + 2:]
        sizes.append(size)
    assert rest == b"\r\n"
    assert len(sizes) > 40 and all(3 <= s <= 40 for s in sizes) and len(set(sizes)) > 5
    assert json.loads(body)["count"] == 1 and len(body) == 2000
    assert len(server.readings()) == 1


@pytest.mark.parametrize("store", [False, True])
def test_junk_is_a_binary_body_announced_as_json(server, store):
    server.faults.add(action="junk", status=201, size=3000, store=store, seed=5)
    with closing(connect(server)) as conn:
        conn.request("POST", single(), json.dumps({"data": {"value": 1}}),
                     {"Authorization": "Bearer " + TOKEN_A, "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
    assert (response.status, response.headers["Content-Type"]) == (201, "application/json")
    assert len(data) == 3000
    with pytest.raises(ValueError):
        json.loads(data)
    assert len(server.readings()) == (1 if store else 0)


# --- endless --------------------------------------------------------------------------------

@pytest.mark.parametrize("chunked", [False, True])
def test_endless_keeps_sending_until_the_client_goes(server, chunked):
    server.faults.add(action="endless", chunked=chunked)
    data = json.dumps({"data": {"value": 1}}).encode()
    with raw_socket(server) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (single().encode(), TOKEN_A.encode(), len(data), data))
        got = b""
        while len(got) < 3 << 20:  # 3 MB and still coming
            chunk = sock.recv(65536)
            assert chunk, "the endless body ended"
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 ") and b"Content-Length" not in head
    assert (b"Transfer-Encoding: chunked" in head) == chunked
    assert b'"sensor":"%s","padding":"' % TEMP.encode() in body
    assert body.count(b"x") > 2 << 20 and (b"\r\n4000\r\n" in body) == chunked
    assert server.wait_idle(GUARD)  # the client went: so did the sender
    assert len(server.readings()) == 1


def test_endless_with_a_status_stores_nothing_and_stops_after_its_seconds(server):
    server.faults.add(action="endless", status=503, seconds=0.2)
    got = raw_post(server, single(), {"data": {"value": 1}})  # read to the close
    assert got.startswith(b"HTTP/1.1 503 ") and b"Connection: close" in got
    assert b'{"message":"Service Unavailable","padding":"xxx' in got
    assert server.readings() == []


# --- reset after storing, storm, rule checks, wait_idle ---------------------------------------

def test_reset_after_storing_keeps_the_readings(server):
    server.faults.add(action="reset", store=True)
    with pytest.raises(ConnectionResetError) as error:
        post(server, single(), {"data": {"value": 1}})
    assert error.value.errno == errno.ECONNRESET
    assert len(server.readings()) == 1


@pytest.mark.parametrize("params, retry_after, remaining", [
    ({"retry_after": None}, None, "0"),
    ({"retry_after": 30, "remaining": False}, "30", None),
    ({"retry_after": 90, "as_date": True}, formatdate(T0 + 90, usegmt=True), "0")])
def test_storm_words_its_429_as_asked(server, params, retry_after, remaining):
    server.faults.add(action="storm", **params)
    status, headers, _ = post(server, single(), {"data": {"value": 1}})
    assert (status, headers["Retry-After"], headers["X-RateLimit-Remaining"]) == (
        429, retry_after, remaining)
    if params.get("as_date"):
        assert headers["Date"] == formatdate(T0, usegmt=True)
    assert server.readings() == []


@pytest.mark.parametrize("rule, field", [
    ({"action": "junk", "store": 1}, "store: must be of type bool"),
    ({"action": "pad", "size": True}, "size: must be of type int"),
    ({"action": "reject", "fraction": "half"}, "fraction: must be of type int | float"),
    ({"action": "pad"}, "pad: missing a required argument: 'size'")])
def test_new_actions_check_their_parameters(server, rule, field):
    with pytest.raises(FaultRuleError, match=re.escape(field)):
        server.faults.add(rule)


def test_wait_idle_waits_for_a_slow_action_to_store(server):
    server.faults.add(action="handle", delay=0.3)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=0.05)
    with closing(conn), pytest.raises(TimeoutError):
        send(conn, "POST", single(), {"data": {"value": 1}})
    assert not server.wait_idle(0.01)
    assert server.wait_idle(GUARD) and len(server.readings()) == 1
    started = time.monotonic()
    assert server.wait_idle(GUARD) and time.monotonic() - started < 1  # idle: at once
