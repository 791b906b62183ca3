"""Fault injection in the mock server beyond single replies: TCP resets, 429 storms, slow
replies, the server going down, wire statistics, and scripting all that from the
command line. Real sockets throughout; the few real waits are a second at most.
"""

import errno
import http.client
import json
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from contextlib import closing
from email.utils import formatdate

import pytest

from tests.test_mock_server import (  # fixtures too: clock, make_server, server, certs
    DEVICES, GUARD, ROOT, T0, TEMP, TOKEN_A, bulk, call, certs, clock, connect, make_server,
    post, raw_socket, send, server, single)
from tools.dev.sensocan_mock import MockServer
from tools.dev.sensocan_mock.__main__ import main as cli

pytestmark = pytest.mark.host  # CPython only: make test-32bit leaves it out

BODY = b'{"data": {"value": 1}}'


def raw_request(body=BODY, close=True):
    """A POST of one reading as bytes, so its length on the wire is known."""
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (single().encode(), TOKEN_A.encode(), len(body),
               b"Connection: close\r\n" if close else b"", body))


def read_all(sock):
    """Everything until the server closes: its counters are final by then."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def wait_for(condition):
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def refused(server):
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=GUARD).close()
    except ConnectionRefusedError:
        return True
    return False


def tls_over_raw_socket(server, ca_pem):
    """A TLS client driven over a plain socket it keeps, to see what TCP itself reports."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=GUARD)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context(cafile=str(ca_pem)).wrap_bio(
        incoming, outgoing, server_hostname="localhost")
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(outgoing.read())
            incoming.write(sock.recv(65536))
    sock.sendall(outgoing.read())
    return sock, tls, outgoing


# --- reset -----------------------------------------------------------------------------

def test_fault_reset_aborts_with_a_tcp_reset_and_stores_nothing(server):
    server.faults.add(action="reset")
    with pytest.raises(ConnectionResetError) as error:
        post(server, single(), {"data": {"value": 1}})
    assert error.value.errno == errno.ECONNRESET  # not a mere close (RemoteDisconnected)
    assert server.readings() == []
    [request] = server.requests()
    assert (request["status"], request["reply_class"]) == (None, "fault:reset")
    assert post(server, single(), {"data": {"value": 2}})[0] == 201


def test_fault_reset_resets_the_tcp_connection_under_tls(make_server, certs):
    server = make_server(tls=(certs["cert"], certs["key"]))
    server.faults.add(action="reset")
    sock, tls, outgoing = tls_over_raw_socket(server, certs["ca_pem"])
    with sock:
        tls.write(raw_request())
        sock.sendall(outgoing.read())
        with pytest.raises(ConnectionResetError):
            read_all(sock)  # any session tickets first, then the RST
    assert server.readings() == []
    assert server.requests()[0]["reply_class"] == "fault:reset"


# --- storm -----------------------------------------------------------------------------

def test_fault_storm_answers_429_with_retry_after_and_stores_nothing(server):
    server.faults.add(action="storm", retry_after=5, times=None)
    for path, body in ((single(), {"data": {"value": 1}}), (bulk(), {"data": [{"value": 2}]})):
        status, headers, reply = post(server, path, body)
        assert (status, reply) == (429, {"message": "Too Many Requests"})
        assert (headers["Retry-After"], headers["X-RateLimit-Remaining"]) == ("5", "0")
    assert server.readings() == []
    assert [r["reply_class"] for r in server.requests()] == ["fault:storm"] * 2
    assert server.faults.clear() == 1
    assert post(server, single(), {"data": {"value": 3}})[0] == 201


def test_fault_storm_default_retry_after_is_one_second(server):
    server.faults.add(action="storm")
    assert post(server, single(), {"data": {"value": 1}})[1]["Retry-After"] == "1"
    assert post(server, single(), {"data": {"value": 1}})[0] == 201  # times: 1 by default


# --- slow ------------------------------------------------------------------------------

def test_fault_slow_reply_past_the_client_timeout_still_stores(server):
    server.faults.add(action="handle", delay=1)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=0.1)
    with closing(conn), pytest.raises(TimeoutError):
        send(conn, "POST", single(), {"data": {"value": 1}})
    assert server.readings() == []  # not yet: the server is still "thinking"
    wait_for(lambda: len(server.readings()) == 1)
    assert server.requests()[0]["reply_class"] == "fault:handle"


# --- raw, crash and the connection log ------------------------------------------------

def test_fault_raw_sends_its_bytes_exactly_then_keeps_closes_or_resets(server):
    reply = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\nX: \xff\n\nrest"
    server.faults.add(action="raw", data=reply)
    server.faults.add(action="raw", data="HTTP/1.1 20", close=True)
    server.faults.add(action="raw", data="", reset=True)
    with raw_socket(server) as sock:
        sock.sendall(raw_request(close=False))
        wait_for(lambda: len(server.requests()) == 1)
        got = b""
        while len(got) < len(reply):
            got += sock.recv(65536)
        assert got == reply.encode("latin-1")  # one byte a character, nothing added
        sock.sendall(raw_request(close=False))  # the connection was kept for this one
        assert read_all(sock) == b"HTTP/1.1 20"  # then a FIN
    with raw_socket(server) as sock, pytest.raises(ConnectionResetError):
        sock.sendall(raw_request(close=False))
        read_all(sock)
    assert server.readings() == []  # raw stores nothing
    assert [r["reply_class"] for r in server.requests()] == ["fault:raw"] * 3


def test_fault_crash_closes_without_a_reply_and_takes_the_server_down(server):
    server.faults.add(action="crash", seconds=0.3)
    with raw_socket(server) as sock:
        sock.sendall(raw_request(close=False))
        assert read_all(sock) == b""
    assert refused(server) and server.readings() == []
    wait_for(lambda: not refused(server))  # up again after `seconds`
    assert post(server, single(), {"data": {"value": 2}})[0] == 201


def test_the_connection_log_has_each_connections_bytes_and_who_closed_it(server):
    with raw_socket(server) as sock:
        sock.sendall(raw_request(close=False))
        wait_for(lambda: len(server.requests()) == 1)
    wait_for(lambda: server.connections()[0]["client_closed_at"] is not None)
    post(server, single(), {"data": {"value": 2}})
    first, second = server.connections()
    assert (first["index"], first["received"], first["tls"]) == (0, raw_request(close=False), None)
    assert second["index"] == 1 and second["received"].startswith(b"POST " + single().encode())
    assert [r["connection"] for r in server.requests()] == [0, 1]


# --- down and up -----------------------------------------------------------------------

def test_down_refuses_connections_and_drops_open_ones_until_up(server):
    port = server.port
    with closing(connect(server)) as conn:
        assert send(conn, "POST", single(), {"data": {"value": 1}})[0] == 201
        server.down()
        assert conn.sock.recv(1) == b""  # the keep-alive connection was cut
    with pytest.raises(ConnectionRefusedError):
        post(server, single(), {"data": {"value": 2}})
    server.down()  # already down: nothing happens
    server.up()
    server.up()  # already up: nothing happens
    assert server.port == port
    assert post(server, single(), {"data": {"value": 3}})[0] == 201
    assert [r["value"] for r in server.readings()] == [1.0, 3.0]


def test_down_for_some_seconds_comes_back_up_by_itself(server):
    server.down(seconds=1)
    assert refused(server)
    wait_for(lambda: not refused(server))
    assert post(server, single(), {"data": {"value": 1}})[0] == 201


def test_down_cuts_a_slow_fault_short_before_it_stores(server):
    server.faults.add(action="handle", delay=60)
    failures = []

    def client():
        try:
            post(server, single(), {"data": {"value": 1}})
        except (http.client.HTTPException, OSError) as e:
            failures.append(e)

    thread = threading.Thread(target=client)
    thread.start()
    wait_for(lambda: len(server.requests()) == 1)
    started = time.monotonic()
    server.down()
    assert time.monotonic() - started < 1
    thread.join(GUARD)
    assert len(failures) == 1 and server.readings() == []


def test_down_and_up_need_a_started_server():
    idle = MockServer(DEVICES)
    with pytest.raises(RuntimeError):
        idle.down()
    with pytest.raises(RuntimeError):
        idle.up()
    idle.stop()


def test_control_endpoint_takes_the_server_down_for_some_seconds(make_server):
    server = make_server(control=True)
    with closing(connect(server)) as conn:
        status, headers, body = send(conn, "POST", "/_mock/down", {"seconds": 1})
        assert (status, body) == (200, {"message": "Server down.", "seconds": 1})
        assert headers["Connection"] == "close"
    assert refused(server)
    wait_for(lambda: not refused(server))
    assert post(server, single(), {"data": {"value": 1}})[0] == 201


@pytest.mark.parametrize("body, status", [
    (b"{", 400), ({"seconds": 0}, 422), ({"seconds": "5"}, 422), ({"for": 5}, 422), ([5], 422)])
def test_control_endpoint_checks_the_down_request(make_server, body, status):
    server = make_server(control=True)
    assert post(server, "/_mock/down", body)[0] == status
    assert not refused(server)


# --- wire statistics -------------------------------------------------------------------

def test_wire_stats_count_the_bytes_that_crossed_the_socket(server):
    request = raw_request()
    with raw_socket(server) as sock:
        sock.sendall(request)
        reply = read_all(sock)
    body = b'{"message":"Reading stored successfully.","sensor":"%s"}' % TEMP.encode()
    assert reply == (b"HTTP/1.1 201 Created\r\nDate: %s\r\nServer: sensocan-mock\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\nX-RateLimit-Limit: 1000\r\n"
                     b"X-RateLimit-Remaining: 999\r\n\r\n%s"
                     % (formatdate(T0, usegmt=True).encode(), len(body), body))
    assert server.wire.to_dict() == {"connections": 1, "handshakes": 0,
                                     "bytes_in": len(request), "bytes_out": len(reply)}
    assert (server.wire.bytes_in, server.wire.bytes_out) == (len(request), len(reply))


def test_wire_stats_add_up_keep_alive_requests_and_reset(server):
    first, second = raw_request(close=False), raw_request(b'{"data": {"value": 22}}')
    with raw_socket(server) as sock:
        sock.sendall(first + second)  # pipelined: the server reads them as they come
        replies = read_all(sock)
    assert replies.count(b"HTTP/1.1 201 Created") == 2
    assert server.wire.reset() == {"connections": 1, "handshakes": 0,
                                   "bytes_in": len(first) + len(second),
                                   "bytes_out": len(replies)}
    assert server.wire.to_dict() == dict.fromkeys(
        ("connections", "handshakes", "bytes_in", "bytes_out"), 0)


def test_wire_stats_count_what_was_sent_not_what_the_parser_used(make_server):
    server = make_server(max_body=64)
    server.faults.add(action="truncate", keep=20)
    with raw_socket(server) as sock:
        sock.sendall(raw_request())
        assert len(read_all(sock)) == 20
    too_large = raw_request(b"x" * 5000)  # refused after the headers, then drained
    with raw_socket(server) as sock:
        sock.sendall(too_large)
        sock.shutdown(socket.SHUT_WR)
        reply = read_all(sock)
    assert b" 413 " in reply
    expected = {"connections": 2, "handshakes": 0,
                "bytes_in": len(raw_request()) + len(too_large), "bytes_out": 20 + len(reply)}
    wait_for(lambda: server.wire.bytes_in == expected["bytes_in"])  # drained after replying
    assert server.wire.to_dict() == expected


def test_wire_stats_count_tls_handshakes_and_plaintext_bytes(make_server, certs):
    server = make_server(tls=(certs["cert"], certs["key"]))
    context = ssl.create_default_context(cafile=str(certs["ca_pem"]))
    request = raw_request()
    with context.wrap_socket(raw_socket(server), server_hostname="localhost") as sock:
        sock.sendall(request)
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 201 Created\r\n")
    with raw_socket(server) as sock:  # no handshake: a connection, but nothing else
        sock.sendall(b"not TLS\r\n\r\n")
        assert read_all(sock) == b""
    assert server.wire.to_dict() == {"connections": 2, "handshakes": 1,
                                     "bytes_in": len(request), "bytes_out": len(reply)}


def test_control_endpoint_reports_wire_stats_leaving_itself_out(make_server):
    server = make_server(control=True)
    request = raw_request()
    with raw_socket(server) as sock:
        sock.sendall(request)
        reply = read_all(sock)
    counts = {"connections": 1, "handshakes": 0, "bytes_in": len(request),
              "bytes_out": len(reply)}
    assert call(server, "GET", "/_mock/stats")[::2] == (200, {"wire": counts})
    assert call(server, "DELETE", "/_mock/stats")[2] == {"message": "Stats reset.",
                                                         "wire": counts}
    assert call(server, "GET", "/_mock/stats")[2]["wire"] == dict.fromkeys(counts, 0)


# --- command line ----------------------------------------------------------------------

def test_cli_serve_starts_with_the_faults_of_a_file_then_of_each_option(tmp_path):
    devices, faults = tmp_path / "devices.json", tmp_path / "faults.json"
    devices.write_text(json.dumps(DEVICES))
    faults.write_text(json.dumps([{"action": "storm", "retry_after": 9}]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.dev.sensocan_mock", "serve", "--devices", str(devices),
         "--db", str(tmp_path / "mock.db"), "--faults-file", str(faults),
         "--fault", '{"action": "reply", "status": 503}', "--fault", '{"action": "reset"}'],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert select.select([proc.stdout], [], [], GUARD)[0], "no listening line"
        port = int(proc.stdout.readline().rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=GUARD)
        status, headers, _ = send(conn, "POST", single(), {"data": {"value": 1}})
        assert (status, headers["Retry-After"]) == (429, "9")
        assert send(conn, "POST", single(), {"data": {"value": 1}})[0] == 503
        with pytest.raises(ConnectionResetError) as error:
            send(conn, "POST", single(), {"data": {"value": 1}})
        assert error.value.errno == errno.ECONNRESET
        conn.close()
        assert send(conn, "POST", single(), {"data": {"value": 1}})[0] == 201
        conn.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=GUARD)
    assert proc.returncode == 0


@pytest.mark.parametrize("options, message", [
    (["--fault", "{nope"], "--fault {nope: not valid JSON: Expecting property name"),
    (["--fault", '{"action": "explode"}'], """--fault {"action": "explode"}: action: 'explode'"""
                                          " is not one of"),
    (["--fault", '{"action": "storm", "retry_after": "5"}'], "retry_after: must be of type int"),
    (["--faults-file", "FAULTS"], "FAULTS[1]: action: missing"),
    (["--faults-file", "NONE"], "No such file or directory"),
])
def test_cli_serve_refuses_bad_fault_rules(tmp_path, capsys, options, message):
    devices, faults = tmp_path / "devices.json", tmp_path / "faults.json"
    devices.write_text(json.dumps(DEVICES))
    faults.write_text(json.dumps([{"action": "close"}, {"status": 503}]))
    paths = {"FAULTS": str(faults), "NONE": str(tmp_path / "none.json")}
    options = [paths.get(o, o) for o in options]
    assert cli(["serve", "--devices", str(devices), "--db", str(tmp_path / "mock.db")]
               + options) == 1
    err = capsys.readouterr().err
    assert message.replace("FAULTS", str(faults)) in err and "Traceback" not in err


def test_cli_serve_refuses_a_faults_file_that_is_not_a_list(tmp_path, capsys):
    (tmp_path / "devices.json").write_text(json.dumps(DEVICES))
    (tmp_path / "faults.json").write_text('{"action": "close"}')
    assert cli(["serve", "--devices", str(tmp_path / "devices.json"), "--db",
                str(tmp_path / "mock.db"), "--faults-file", str(tmp_path / "faults.json")]) == 1
    assert "must be a JSON list of fault rules" in capsys.readouterr().err


def fault_cli(server, capsys, *args):
    """`fault --control <server's url> ARGS`: (exit code, parsed stdout or None, stderr)."""
    code = cli(["fault", "--control", server.url, *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else None, err


def test_cli_fault_adds_lists_and_clears_rules(make_server, capsys):
    server = make_server(control=True)
    code, reply, _ = fault_cli(server, capsys, "add", '{"action": "storm", "times": null}')
    assert code == 0 and reply["rule"]["action"] == "storm"
    assert post(server, single(), {"data": {"value": 1}})[0] == 429
    assert fault_cli(server, capsys, "list")[1]["rules"] == [reply["rule"]]
    assert fault_cli(server, capsys, "clear")[:2] == (0, {"message": "Faults cleared.",
                                                          "count": 1})
    assert post(server, single(), {"data": {"value": 1}})[0] == 201


def test_cli_fault_reads_and_resets_wire_stats(make_server, capsys):
    server = make_server(control=True)
    with raw_socket(server) as sock:
        sock.sendall(raw_request())
        read_all(sock)
    assert fault_cli(server, capsys, "stats")[1]["wire"]["connections"] == 1
    assert fault_cli(server, capsys, "stats", "--reset")[1]["wire"]["connections"] == 1
    assert fault_cli(server, capsys, "stats")[1]["wire"]["connections"] == 0


def test_cli_fault_takes_the_server_down(make_server, capsys):
    server = make_server(control=True)
    assert fault_cli(server, capsys, "down", "--for", "1")[:2] == (
        0, {"message": "Server down.", "seconds": 1.0})
    code, _, err = fault_cli(server, capsys, "list")
    assert code == 1 and "cannot reach http://127.0.0.1:%d: " % server.port in err
    assert "Connection refused" in err and "Traceback" not in err
    wait_for(lambda: not refused(server))


def test_cli_fault_over_https_with_the_servers_ca(make_server, certs, capsys):
    server = make_server(control=True, tls=(certs["cert"], certs["key"]))
    assert fault_cli(server, capsys, "--ca-cert", str(certs["ca_pem"]), "list")[:2] == (
        0, {"rules": []})
    code, _, err = fault_cli(server, capsys, "list")  # the system CAs do not know it
    assert code == 1 and "certificate verify failed" in err


@pytest.mark.parametrize("args, message", [
    (["add", "{nope"], "RULE: not valid JSON"),
    (["add", '{"action": "explode"}'], "422: Invalid fault rule: action: 'explode' is not one"),
    (["add", "[]"], "422: Invalid fault rule: a rule must be an object"),
    (["down", "--for", "0"], '422: Expected no body, or {"seconds": N}'),
])
def test_cli_fault_reports_refusals_clearly(make_server, capsys, args, message):
    server = make_server(control=True)
    code, out, err = fault_cli(server, capsys, *args)
    assert (code, out) == (1, None)
    assert message in err and "Traceback" not in err
    assert server.faults.rules() == [] and not refused(server)


def test_cli_fault_needs_a_control_endpoint_and_a_url(server, capsys):
    code, _, err = fault_cli(server, capsys, "list")
    assert code == 1 and "no control endpoint at http://127.0.0.1:%d" % server.port in err
    assert cli(["fault", "--control", "localhost:8080", "list"]) == 1
    assert "expected the server's URL" in capsys.readouterr().err
