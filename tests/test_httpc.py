"""Host side: lib/httpc.py running under MicroPython (-X heapsize=64K) against the mock
server (tools/dev/sensocan_mock), plain and TLS (certificates from tools/certs.py),
whose fault rules send the exact reply bytes each test needs (`raw`), in order.

Device snippets print one `@@<json>` line per outcome; the host asserts on those and
on what the server recorded: its request log, and each connection's bytes and close.
Time bounds are loose hang guards, not speed claims.
"""

import contextlib
import json
import socket
import time

import pytest

from tools.certs import make_ca
from tools.dev import unixport as mpy
from tools.dev.sensocan_mock import MockServer

PRELUDE = r"""
import json, os, time, gc, micropython, httpc
URL = os.getenv("URL")
CA = os.getenv("CA")
ca = open(CA, "rb").read() if CA else None

class Sink:
    # Keeps a reply body's first 4 KiB and counts the rest, as it streams.
    def __init__(self):
        self.head = bytearray(4096)
        self.size = 0

    def __call__(self, buf, a, b):
        n = min(b - a, 4096 - self.size) if self.size < 4096 else 0
        if n > 0:
            self.head[self.size:self.size + n] = buf[a:a + n]
        self.size += b - a

S = Sink()
_request = httpc.Client.request

def _sunk(self, method, path, body=None, headers=None, sink=None, deadline_ms=None):
    return _request(self, method, path, body, headers, sink or S, deadline_ms)

httpc.Client.request = _sunk  # every call's reply body goes to S

def run(fn):
    t0 = time.ticks_ms()
    S.size = 0
    try:
        r = fn()
        out = {"status": r.status, "headers": r.headers, "size": S.size, "complete": r.complete,
               "resent": r.resent}
        try:
            out["body"] = str(S.head[:S.size], "utf-8") if S.size <= 4096 else None
        except UnicodeError:
            out["body"] = None
    except httpc.HTTPError as e:
        out = {"error": str(e), "sent": e.sent, "why": e.why, "resent": e.resent}
    out["ms"] = time.ticks_diff(time.ticks_ms(), t0)
    print("@@" + json.dumps(out))

def stats(c):
    s = c.stats
    print("@@" + json.dumps({"connects": s.connects, "handshakes": s.handshakes,
        "requests": s.requests, "resends": s.resends,
        "bytes_sent": s.bytes_sent, "bytes_received": s.bytes_received}))
"""


def response(status=200, body=b"", headers=(), reason="OK", length=True):
    """Reply bytes; `length=False` leaves out Content-Length."""
    head = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    if length:
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def raw(data, **kw):
    """A fault rule: `data` written as the reply to the next request (see the mock's
    `raw`: close=True or reset=True after it, `times`...)."""
    return {"action": "raw", "data": data.decode("latin-1"), **kw}


@contextlib.contextmanager
def mock(*rules, tls=None):
    """The mock, answering requests by `rules` in turn (each once unless it says `times`);
    it has no devices, so a request no rule takes gets the API's 404."""
    with MockServer({"devices": []}, tls=tls and (str(tls["cert"]), str(tls["key"]))) as srv:
        for rule in rules:
            srv.faults.add(rule)
        yield srv


def base(srv, path=""):
    """The server's URL by name, as the certificate has it."""
    return "%s://localhost:%d%s" % ("https" if srv.tls else "http", srv.port, path)


def logged(srv):
    """(connection, body) of each request the server read, in order."""
    return [(r["connection"], r["body"].encode()) for r in srv.requests()]


def settled(fn, timeout=5.0):
    """fn() once true (the server's thread may finish a moment after the client)."""
    end = time.monotonic() + timeout
    while not fn() and time.monotonic() < end:
        time.sleep(0.01)
    return fn()


@contextlib.contextmanager
def unanswered(connects):
    """A port where nothing answers: with `connects`, TCP connects (the kernel's backlog
    takes it) but nothing is ever said; else the connect never completes (backlog full)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8 if connects else 0)
    port = ls.getsockname()[1]
    filler = None if connects else socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        yield port
    finally:
        if filler:
            filler.close()
        ls.close()


def device(code, url=None, ca=None, timeout=30, heap=mpy.HEAP):
    env = {"URL": url or "", "CA": ca or ""}
    res = mpy.run_code(PRELUDE + code, env=env, timeout=timeout, heap=heap)
    assert res.returncode == 0, "device code failed:\n" + res.stdout + res.stderr
    return [json.loads(ln[2:]) for ln in res.stdout.splitlines() if ln.startswith("@@")]


LINGER = 0.3


def get(url, opts="allow_insecure_http=True", calls=('c.request("GET", "/x")',), ca=None,
        linger=False, heap=mpy.HEAP):
    """Run each call on one client; returns ([results], stats).

    With `linger` the device waits LINGER s after the calls without closing the client,
    so a connection the server saw closed before that was closed by the client itself.
    """
    code = "c = httpc.Client(URL, %s)\n" % opts
    code += "".join("run(lambda: %s)\n" % call for call in calls)
    code += "stats(c)\ntime.sleep_ms(%d)\n" % (LINGER * 1000 if linger else 0)
    *results, st = device(code, url, ca, heap=heap)
    return results, st


def dropped_by_client(conn):
    """The client closed `conn` (a MockServer.connections() entry) itself, well before its
    process ended."""
    closed = conn["client_closed_at"]
    return closed is not None and time.monotonic() - closed > LINGER / 2


def ok(result, status=200):
    assert "error" not in result, result["error"]
    assert result["status"] == status
    return result


def err(result, text, sent):
    assert "error" in result, "expected an error, got %r" % (result,)
    assert text in result["error"], result["error"]
    assert result["sent"] is sent, result
    return result


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("other"), ca_name="some other CA")


@pytest.fixture(scope="module")
def wrong_name(tmp_path_factory):
    """Signed by its own CA, but issued to another host name."""
    return make_ca(tmp_path_factory.mktemp("wrongname"), host="other.example")


# --- request bytes ----------------------------------------------------------------------


def test_request_bytes_on_the_wire():
    big = b"x" * 3000  # larger than the client's buffer: sent on its own, as a memoryview
    with mock(raw(response(201)), raw(response(200), times=3)) as srv:
        (r1, r2, r3, r4), st = get(
            base(srv, "/api/v1/"),
            calls=(
                'c.request("POST", "/readings", b\'{"t":21.5}\', '
                '(("Content-Type", "application/json"), (b"X-Api-Key", b"k1")))',
                'c.request("GET", "/status")',
                'c.request("PUT", "/big", memoryview(bytearray(b"x" * 3000)))',
                'c.request("GET", "")',
            ),
        )
        paths = [r["path"] for r in srv.requests()]
    ok(r1, 201), ok(r2), ok(r3), ok(r4)
    head = b" HTTP/1.1\r\nHost: localhost:%d\r\nConnection: keep-alive\r\n" % srv.port
    [conn] = srv.connections()
    assert conn["received"] == (
        b"POST /api/v1/readings" + head + b"Content-Type: application/json\r\nX-Api-Key: k1\r\n"
        b"Content-Length: 10\r\n\r\n" b'{"t":21.5}'
        + b"GET /api/v1/status" + head + b"\r\n"
        + b"PUT /api/v1/big" + head + b"Content-Length: 3000\r\n\r\n" + big
        + b"GET /api/v1" + head + b"\r\n")
    assert paths == ["/api/v1/readings", "/api/v1/status", "/api/v1/big", "/api/v1"]
    assert st["bytes_sent"] == len(conn["received"])


# --- reply framing ----------------------------------------------------------------------

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\n1 \r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
)


@pytest.mark.parametrize(
    "reply, body",
    [
        (response(200, b"hello"), "hello"),
        (CHUNKED, "hello, world"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", ""),
        (b"HTTP/1.1 200 OK\r\n\r\n" + b"until close" * 100, "until close" * 100),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", "hi"),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + response(200, b"final"), "final"),
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nlf", "lf"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"2\r\nab\r\n" * 900
         + b"0\r\n\r\n", "ab" * 900),  # lines crossing the 1 KB buffer many times
    ],
    ids=["length", "chunked", "chunked-empty", "to-close", "http10", "interim-100", "bare-lf",
         "many-chunks"],
)
def test_reply_framing(reply, body):
    # The server keeps the connection open unless the framing needs a close: a client
    # that wrongly waits for more would run into its 3 s timeout.
    close = b"Content-Length" not in reply and b"chunked" not in reply.lower()
    with mock(raw(reply, close=close)) as srv:
        (r,), _ = get(base(srv), opts="allow_insecure_http=True, timeout_ms=3000")
    assert ok(r)["body"] == body
    assert r["ms"] < 2000


def test_no_body_for_head_204_304_and_connection_reused():
    replies = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",  # HEAD: length of the GET body
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
        response(200, b"after"),
    )
    with mock(*map(raw, replies)) as srv:
        results, st = get(
            base(srv),
            opts="allow_insecure_http=True, timeout_ms=3000",
            calls=('c.request("HEAD", "/")', 'c.request("GET", "/a")', 'c.request("GET", "/b")',
                   'c.request("GET", "/c")'),
        )
    assert [ok(r, s)["body"] for r, s in zip(results, (200, 204, 304, 200))] == ["", "", "", "after"]
    assert st["connects"] == 1 and len(srv.connections()) == 1
    assert all(r["ms"] < 2000 for r in results)


# --- keep-alive, reconnect, Connection: close --------------------------------------------


def test_keep_alive_one_connection_for_many_requests():
    with mock(*[raw(response(200, b"%d" % i)) for i in range(5)]) as srv:
        results, st = get(base(srv), calls=['c.request("GET", "/%d")' % i for i in range(5)])
    assert [ok(r)["body"] for r in results] == ["0", "1", "2", "3", "4"]
    assert st["connects"] == 1 and len(srv.connections()) == 1
    assert st["requests"] == 5 and st["resends"] == 0
    assert st["bytes_received"] == 5 * len(response(200, b"0"))


def test_reconnect_after_server_closed_idle_connection():
    with mock(raw(response(200, b"one"), close=True), raw(response(200, b"two"))) as srv:
        results, st = get(
            base(srv), calls=('c.request("GET", "/1")', 'time.sleep_ms(100) or c.request("GET", "/2")')
        )
        log = logged(srv)
    assert [ok(r)["body"] for r in results] == ["one", "two"]
    # Seen before sending: a new connection, nothing written to the dead one.
    assert st["connects"] == 2 and st["resends"] == 0
    assert [c for c, _ in log] == [0, 1]


@pytest.mark.parametrize("how", ["close", "reset"])
def test_resend_once_when_reused_connection_dies_before_reply(how):
    with mock(raw(response(200, b"one")), {"action": how}, raw(response(200, b"two"))) as srv:
        results, st = get(base(srv), calls=('c.request("POST", "/1", b"a")',
                                            'c.request("POST", "/2", b"b")'))
        log = logged(srv)
    assert [ok(r)["body"] for r in results] == ["one", "two"]
    assert st["connects"] == 2 and st["resends"] == 1
    assert log == [(0, b"a"), (0, b"b"), (1, b"b")]
    # the server read the first "b" before it went: the caller must count it unanswered
    assert [r["resent"] for r in results] == [False, True]


def test_a_resend_that_fails_too_says_the_request_went_out_twice():
    """Both copies may have been stored: the caller must know there were two (a chaos
    draw had one reading three times at the server, counted once as unanswered)."""
    with mock(raw(response(200, b"one")), {"action": "close", "times": 2}) as srv:
        (r1, r2), st = get(base(srv), calls=('c.request("POST", "/1", b"a")',
                                             'c.request("POST", "/2", b"b")'))
        log = logged(srv)
    assert ok(r1)["body"] == "one"
    err(r2, "connection closed before reply", sent=True)
    assert r2["resent"] is True and st["resends"] == 1
    assert log == [(0, b"a"), (0, b"b"), (1, b"b")]


def test_resend_when_send_fails_on_reused_connection():
    """The close is not visible yet at the idle check (a race): the write hits the RST."""
    code = """
class Blind:  # the idle check sees nothing, as when the RST is still in flight
    def modify(self, *a): pass
    def ipoll(self, t): return iter(())
c = httpc.Client(URL, allow_insecure_http=True)
run(lambda: c.request("GET", "/1"))
time.sleep_ms(300)
c._poll = Blind()
run(lambda: c.request("GET", "/2"))
stats(c)
"""
    # the RST 0.1 s after the reply: before it, it would discard the reply unread
    with mock(raw(response(200, b"one"), reset=True, wait=0.1), raw(response(200, b"two"))) as srv:
        r1, r2, st = device(code, base(srv))
        log = logged(srv)
    assert ok(r1)["body"] == "one" and ok(r2)["body"] == "two"
    assert st["connects"] == 2 and st["resends"] == 1
    assert [c for c, _ in log] == [0, 1]  # the write to the reset one never arrived


@pytest.mark.parametrize("how, text", [("close", "connection closed in status"),
                                       ("reset", "reply failed: [Errno 104] ECONNRESET")])
def test_no_resend_once_reply_bytes_arrived(how, text):
    # the client reads the cut status line before the close or the RST 0.1 s later
    with mock(raw(response(200, b"one")), raw(b"HTTP/1.1 20", wait=0.1, **{how: True})) as srv:
        (r1, r2), st = get(base(srv), calls=('c.request("GET", "/1")', 'c.request("GET", "/2")'))
        log = logged(srv)
    ok(r1)
    err(r2, text, sent=True)
    assert st["connects"] == 1 and len(srv.connections()) == 1 and st["resends"] == 0
    assert len(log) == 2


def test_no_resend_on_fresh_connection():
    with mock({"action": "close"}) as srv:
        (r,), st = get(base(srv), calls=('c.request("POST", "/", b"x")',))
        log = logged(srv)
    err(r, "connection closed before reply", sent=True)
    assert st["connects"] == 1 and len(srv.connections()) == 1 and log == [(0, b"x")]


def test_sent_stays_true_when_the_resend_fails_early():
    """The server dies with the second request in hand: the resend's connect is refused,
    so nothing of it went out, and still the first attempt may have arrived."""
    with mock(raw(response(200)), {"action": "crash"}) as srv:
        (r1, r2), st = get(base(srv), calls=('c.request("POST", "/", b"1")',
                                             'c.request("POST", "/", b"2")'))
        log = logged(srv)
    ok(r1)
    err(r2, "connect failed: [Errno 111] ECONNREFUSED", sent=True)
    assert r2["resent"] is True and st["connects"] == 2 and st["resends"] == 1
    assert log == [(0, b"1"), (0, b"2")]


def test_connection_close_reply_is_honoured():
    # the server keeps the first connection open: only the client can end it
    with mock(raw(response(200, b"bye", headers=[("Connection", "Close")])),
              raw(response(200, b"again"))) as srv:
        (r1, r2), st = get(base(srv), calls=('c.request("GET", "/1")', 'c.request("GET", "/2")'),
                           linger=True)
    assert ok(r1)["body"] == "bye" and ok(r2)["body"] == "again"
    assert r1["headers"]["connection"] == "Close"  # values are kept verbatim
    assert st["connects"] == 2 and st["resends"] == 0
    assert dropped_by_client(srv.connections()[0])  # the client hung up, the server did not


# --- TLS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["ca_der", "ca_pem", "bundle_pem"])
def test_tls_with_the_right_ca(certs, other_ca, tmp_path, form):
    ca = certs[form] if form != "bundle_pem" else tmp_path / "bundle.pem"
    if form == "bundle_pem":  # another CA first: every certificate of a bundle is trusted
        ca.write_bytes(other_ca["ca_pem"].read_bytes() + b"\n" + certs["ca_pem"].read_bytes())
    with mock(raw(response(200, b"secure")), raw(response(200, b"again")), tls=certs) as srv:
        (r1, r2), st = get(base(srv, "/api"), opts="ca=ca", ca=str(ca),
                           calls=('c.request("GET", "/1")', 'c.request("GET", "/2")'))
        paths = [r["path"] for r in srv.requests()]
    assert ok(r1)["body"] == "secure" and ok(r2)["body"] == "again"
    assert st["handshakes"] == 1 and st["connects"] == 1
    assert paths == ["/api/1", "/api/2"] and srv.connections()[0]["tls"] is True


def test_tls_reconnect_and_read_to_close(certs):
    with mock(raw(response(200, b"one"), close=True),  # idle close, no close_notify
              raw(b"HTTP/1.1 200 OK\r\n\r\nuntil close", close=True), tls=certs) as srv:
        (r1, r2), st = get(base(srv), opts="ca=ca", ca=str(certs["ca_der"]),
                           calls=('c.request("GET", "/1")', 'time.sleep_ms(100) or c.request("GET", "/2")'))
    assert ok(r1)["body"] == "one" and ok(r2)["body"] == "until close"
    assert st["handshakes"] == 2


def test_tls_wrong_ca_refused(certs, other_ca):
    with mock(raw(response(200)), tls=certs) as srv:
        (r,), st = get(base(srv), opts="ca=ca", ca=str(other_ca["ca_der"]))
        assert settled(srv.connections)
        assert not srv.requests() and srv.connections()[0]["tls"] is False
    err(r, "TLS: certificate not trusted: The certificate is not correctly signed", sent=False)


def test_tls_wrong_hostname_refused(wrong_name):
    with mock(raw(response(200)), tls=wrong_name) as srv:
        (r,), _ = get(base(srv), opts="ca=ca", ca=str(wrong_name["ca_der"]))
        assert not srv.requests()
    err(r, "TLS: certificate not trusted: The certificate Common Name (CN) does not match", sent=False)


def test_tls_handshake_bounded_by_timeout(certs):
    """A TCP port that never speaks TLS."""
    with unanswered(connects=True) as port:
        (r,), _ = get("https://localhost:%d" % port, opts="ca=ca, timeout_ms=300",
                      ca=str(certs["ca_der"]))
    err(r, "TLS handshake timed out after 300 ms", sent=False)
    assert 250 <= r["ms"] < 2000


# --- configuration refusals -------------------------------------------------------------------


def test_http_refused_by_default_and_allowed_with_flag():
    with mock(raw(response(200, b"plain"))) as srv:
        code = """
try:
    httpc.Client(URL)
except ValueError as e:
    print("@@" + json.dumps(str(e)))
c = httpc.Client(URL, allow_insecure_http=True)
run(lambda: c.request("GET", "/"))
"""
        msg, r = device(code, base(srv))
    assert msg == "api.base_url uses plain http://; set api.allow_insecure_http to true to allow it"
    assert ok(r)["body"] == "plain"


def test_https_without_ca_refused():
    code = """
for ca in (None, b""):
    try:
        httpc.Client("https://localhost:1", ca=ca)
    except ValueError as e:
        print("@@" + json.dumps(str(e)))
"""
    msgs = device(code)
    assert len(msgs) == 2 and all("no CA certificate is configured (api.ca_cert)" in m for m in msgs)


# --- limits -----------------------------------------------------------------------------------


def answered(reply, close, heap=mpy.HEAP):
    """One GET against a server that sends `reply`, then closes or waits for the client
    to; returns (result, stats, the connection as the server saw it)."""
    with mock(raw(reply, close=close)) as srv:
        (r,), st = get(base(srv), opts="allow_insecure_http=True, timeout_ms=3000",
                       linger=not close, heap=heap)
        assert len(srv.requests()) == 1
    [conn] = srv.connections()
    return r, st, conn


def big_replies():
    """Replies of every size and framing: 0 B to 1 MiB, with a length, chunked and to close."""
    for size in (0, 4096, 65536, 1 << 20):
        body = bytes(range(256)) * (size // 256)
        yield "length-%d" % size, response(200, body), size, False
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7000]), body[i:i + 7000])
                          for i in range(0, size, 7000))
        yield ("chunked-%d" % size, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunks + b"0\r\n\r\n", size, False)
        yield "to-close-%d" % size, b"HTTP/1.1 200 OK\r\n\r\n" + body, size, True


BIG = list(big_replies())


@pytest.mark.parametrize("reply, size, close", [b[1:] for b in BIG], ids=[b[0] for b in BIG])
def test_replies_of_any_size_stream_through_the_fixed_buffer(reply, size, close):
    """A 32 KiB heap holds the client whatever the reply's size: the body goes to the
    sink piece by piece, and the connection is kept unless the framing needs a close."""
    r, _, conn = answered(reply, close, heap="32K")
    assert ok(r)["size"] == size and r["complete"] is True
    if not close:
        assert not dropped_by_client(conn)


def test_a_huge_content_length_keeps_the_status():
    """A length beyond what is sent: the status stands, the body is reported cut short."""
    r, _, _ = answered(b"HTTP/1.1 201 Created\r\nContent-Length: 99999999999999999999\r\n\r\nabc",
                       close=True)
    assert ok(r, 201)["complete"] is False and r["size"] == 3


def test_headers_filtered_to_keep_list():
    noise = [("X-Noise-%d" % i, "n" * 200) for i in range(20)]  # 4 KB: many buffer refills
    reply = response(
        429,
        b"slow down",
        headers=[("Retry-After", "30"), ("X-RateLimit-Remaining", " 0 "), ("Set-Cookie", "a=" + "b" * 800),
                 *noise, ("Server", "test"), ("X-Custom", "yes"), ("CONTENT-TYPE", "text/plain")],
        reason="Too Many Requests",
    )
    with mock(raw(reply, times=2)) as srv:
        code = """
c = httpc.Client(URL, allow_insecure_http=True)
run(lambda: c.request("GET", "/"))
c.close()
c = httpc.Client(URL, allow_insecure_http=True, keep_headers=("X-Custom",))
run(lambda: c.request("GET", "/"))
"""
        r1, r2 = device(code, base(srv))
    assert ok(r1, 429)["headers"] == {"retry-after": "30", "x-ratelimit-remaining": "0",
                                      "content-type": "text/plain"}
    assert ok(r2, 429)["headers"] == {"x-custom": "yes"}


# --- malformed replies --------------------------------------------------------------------------

MALFORMED = [
    # (id, reply, server closes after it, expected error text): no status and headers
    ("garbage-status", b"FOO BAR\r\n\r\n", False, "bad status line b'FOO BAR'"),
    ("bad-status-code", b"HTTP/1.1 2x0 OK\r\n\r\n", False, "bad status line"),
    ("status-999", b"HTTP/1.1 999 Huh\r\n\r\n", False, "bad status line"),
    ("http2-status", b"HTTP/2 200\r\n\r\n", False, "bad status line"),
    ("status-too-long", b"HTTP/1.1 200 " + b"O" * 2000 + b"\r\n\r\n", False, "status line longer than 1024"),
    ("binary-junk", bytes(range(256)) * 8, False, "bad status line"),
    ("empty-reply", b"", True, "connection closed before reply"),
    ("eof-in-status", b"HTTP/1.1 200", True, "connection closed in status"),
    ("eof-in-headers", b"HTTP/1.1 200 OK\r\nContent-Le", True, "connection closed in header"),
    ("header-no-colon", b"HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", False, "malformed header line"),
    ("header-folded", b"HTTP/1.1 200 OK\r\nA: b\r\n  folded\r\n\r\n", False, "malformed header line"),
    ("header-space-before-colon", b"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", False, "malformed header"),
    ("headers-over-64k", b"HTTP/1.1 200 OK\r\n" + (b"X-Pad: " + b"p" * 1000 + b"\r\n") * 70 + b"\r\n",
     False, "reply headers exceed 65536 bytes"),
]


@pytest.mark.parametrize("reply, close, text", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_reply(reply, close, text):
    r, st, conn = answered(reply, close)
    err(r, text, sent=True)
    assert r["why"] == ("network" if "closed" in text else "malformed")
    assert r["ms"] < 2000  # decided on the bytes, not by a timeout
    assert st["connects"] == 1 and conn["index"] == 0  # a fresh connection: never resent
    if not close:
        assert dropped_by_client(conn)


CUT = [
    # (id, reply, server closes after it, body handed to the sink, complete, connection kept):
    # the status and headers arrived, so the status stands; a body cut short or unframed
    # is reported, and its connection dropped
    ("header-too-long", b"HTTP/1.1 201 OK\r\nX: " + b"a" * 5000 + b"\r\nContent-Length: 2\r\n\r\nok",
     False, "ok", True, True),
    ("many-headers", b"HTTP/1.1 201 OK\r\n" + b"X: y\r\n" * 600 + b"Content-Length: 2\r\n\r\nok",
     False, "ok", True, True),
    ("binary-header-value", b"HTTP/1.1 201 OK\r\nDate: \xff\xfe\r\nContent-Length: 2\r\n\r\nok",
     False, "ok", True, True),
    ("length-not-numeric", b"HTTP/1.1 201 OK\r\nContent-Length: abc\r\n\r\n", False, "", False, False),
    ("length-negative", b"HTTP/1.1 201 OK\r\nContent-Length: -1\r\n\r\n", False, "", False, False),
    ("length-empty", b"HTTP/1.1 201 OK\r\nContent-Length:\r\n\r\n", False, "", False, False),
    ("length-conflict", b"HTTP/1.1 201 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
     False, "", False, False),
    ("unsupported-encoding", b"HTTP/1.1 201 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", False,
     "", False, False),
    ("body-truncated", b"HTTP/1.1 201 OK\r\nContent-Length: 10\r\n\r\nabcde", True, "abcde", False, False),
    ("body-longer-than-length", b"HTTP/1.1 201 OK\r\nContent-Length: 2\r\n\r\nabcdef", False,
     "ab", True, False),
    ("bad-chunk-size", b"HTTP/1.1 201 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", False, "", False, False),
    ("chunk-size-signed", b"HTTP/1.1 201 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", False,
     "", False, False),
    ("chunk-no-crlf", b"HTTP/1.1 201 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
     False, "abc", False, False),
    ("chunk-truncated", b"HTTP/1.1 201 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", True,
     "abc", False, False),
    ("chunked-no-last-chunk", b"HTTP/1.1 201 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
     True, "abc", False, False),
]


@pytest.mark.parametrize("reply, close, body, complete, kept", [m[1:] for m in CUT],
                         ids=[m[0] for m in CUT])
def test_a_reply_cut_short_after_its_headers_keeps_its_status(reply, close, body, complete, kept):
    r, st, conn = answered(reply, close)
    assert ok(r, 201)["body"] == body and r["complete"] is complete
    assert r["ms"] < 2000  # decided on the bytes, not by a timeout
    if not close:  # unframed, it cannot be trusted for another request
        assert dropped_by_client(conn) is not kept


# --- timeouts and the deadline --------------------------------------------------------------


def test_connect_timeout():
    with unanswered(connects=False) as port:
        (r,), st = get("http://127.0.0.1:%d" % port, opts="allow_insecure_http=True, timeout_ms=300")
    err(r, "connect timed out after 300 ms", sent=False)
    assert 250 <= r["ms"] < 2000


def test_connect_bounded_by_deadline():
    with unanswered(connects=False) as port:
        (r,), _ = get("http://127.0.0.1:%d" % port,
                      opts="allow_insecure_http=True, timeout_ms=5000, deadline_ms=400")
    err(r, "connect: deadline of 400 ms exceeded", sent=False)
    assert 350 <= r["ms"] < 2000


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_connect_refused(certs, scheme):
    with unanswered(connects=True) as port:
        pass
    (r,), _ = get("%s://localhost:%d" % (scheme, port), opts="allow_insecure_http=True, ca=ca",
                  ca=str(certs["ca_der"]))  # nothing listens there any more
    err(r, "connect failed: [Errno 111] ECONNREFUSED", sent=False)


def test_read_timeout_when_server_never_answers():
    with mock({"action": "close", "delay": 5}) as srv:  # it reads the request, then nothing
        (r,), _ = get(base(srv), opts="allow_insecure_http=True, timeout_ms=300",
                      calls=('c.request("POST", "/", b"data")',))
        assert logged(srv) == [(0, b"data")]
    err(r, "reply timed out after 300 ms", sent=True)
    assert 250 <= r["ms"] < 2000


# The API's reply (a 404: the mock has no devices), a byte each 50 ms: each wait is short
TRICKLE = {"action": "trickle", "chunk": 1, "interval": 0.05}


@pytest.mark.parametrize("tls", [False, True])
def test_deadline_stops_a_trickling_server(certs, tls):
    with mock(TRICKLE, tls=certs if tls else None) as srv:
        opts = "timeout_ms=500, deadline_ms=700, " + ("ca=ca" if tls else "allow_insecure_http=True")
        (r,), st = get(base(srv), opts=opts, ca=str(certs["ca_der"]) if tls else None)
    err(r, "reply: deadline of 700 ms exceeded", sent=True)
    assert 600 <= r["ms"] < 2000
    assert st["bytes_received"] > 3  # it was trickling, not silent


def test_a_longer_deadline_for_one_request_keeps_the_clients():
    """The wake's time left for the radio (sensocan's `until`) can only shorten a
    request's deadline: with minutes left, a trickling reply still ends at the client's
    (README: a whole request gets 3 x api.timeout_s)."""
    with mock(TRICKLE) as srv:
        (r,), _ = get(base(srv), opts="allow_insecure_http=True, timeout_ms=500, deadline_ms=700",
                      calls=('c.request("GET", "/x", deadline_ms=60000)',))
    err(r, "reply: deadline of 700 ms exceeded", sent=True)
    assert r["ms"] < 5000  # the trickle alone would take over 5 s


@pytest.mark.parametrize("tls", [False, True])
def test_deadline_stops_a_body_that_never_ends(certs, tls):
    """A server that streams a body forever, as fast as the client reads: no wait ever
    comes, and still the request ends at its deadline, its status kept (a chaos draw
    kept a node reading for as long as the server cared to send)."""
    with mock({"action": "endless", "status": 200, "seconds": 20}, tls=certs if tls else None) as srv:
        opts = "timeout_ms=500, deadline_ms=700, " + ("ca=ca" if tls else "allow_insecure_http=True")
        (r,), st = get(base(srv), opts=opts, ca=str(certs["ca_der"]) if tls else None)
    assert ok(r)["complete"] is False
    assert r["size"] > 16384 and r["ms"] < 10000  # it streamed, and ended long before the server


# --- memory ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", [False, True])
def test_fifty_requests_on_one_connection_do_not_grow_the_heap(certs, tls):
    n = 50
    reply = response(200, b'{"accepted":12}', headers=[
        ("Content-Type", "application/json"), ("Server", "x" * 100),
        ("Date", "Mon, 01 Jan 2029 00:00:00 GMT")])
    code = """
c = httpc.Client(URL, %s)
payload = b"r" * 200
hdrs = (("Authorization", "Bearer 0123456789abcdef"), (b"Content-Type", b"application/json"))
r = a0 = a1 = g0 = g1 = None  # globals exist before measuring
for _ in range(5):  # warm up: connect, first-use allocations
    r = c.request("POST", "/readings", payload, hdrs)
gc.collect()
a0 = gc.mem_alloc()
for _ in range(%d):
    r = c.request("POST", "/readings", payload, hdrs)
    if r.status != 200:
        raise SystemExit("bad status")
r = None
gc.collect()
a1 = gc.mem_alloc()
gc.disable()  # what one request leaves for the collector
g0 = gc.mem_alloc()
r = c.request("POST", "/readings", payload, hdrs)
g1 = gc.mem_alloc()
gc.enable()
print("@@" + json.dumps({"grown": a1 - a0, "garbage": g1 - g0, "body": S.size,
                         "free": gc.mem_free()}))
stats(c)
""" % ("ca=ca" if tls else "allow_insecure_http=True", n)
    with mock(raw(reply, times=n + 6), tls=certs if tls else None) as srv:
        m, st = device(code, base(srv), ca=str(certs["ca_der"]) if tls else None)
    print("heap: %r" % m)
    assert st["connects"] == 1 and st["requests"] == n + 6
    assert m["grown"] <= 0, m  # nothing retained per request
    # Response, kept-headers dict and values, body, small pieces: not the reply's size.
    assert m["garbage"] < 1024, m


def test_import_and_client_stay_within_the_heap_budget():
    """httpc's share of the node's heap on an ESP32 (a 32-bit port): at most 9 KiB for
    its loaded bytecode, constants and new names (httpc.py and httpreply.py), 2 KB for a
    client (its 1 KB buffer included); on a 64-bit port the same times
    tools/dev/unixport.WIDE_RATIO.

    Measured in a fresh interpreter. New names (qstrs) count: a few more can make the
    qstr pool grow, by ~0.9 KB at once. One module was 8,576 bytes; as two (reply reading
    apart) 9,024: a module's object, globals and names.
    """
    res = mpy.run_code(
        "import gc\n"
        "gc.collect(); a = gc.mem_alloc()\n"
        "import httpc\n"
        "gc.collect(); b = gc.mem_alloc()\n"
        "c = httpc.Client('http://api.example.com/v1', allow_insecure_http=True)\n"
        "gc.collect(); print(b - a, gc.mem_alloc() - b)\n"
    )
    assert res.returncode == 0, res.stdout + res.stderr
    imported, client = map(int, res.stdout.split())
    scale = 1 if mpy.word_bits() == 32 else mpy.WIDE_RATIO
    print("heap: import %d, client %d (%d-bit)" % (imported, client, mpy.word_bits()))
    assert imported <= 9216 * scale, imported
    assert client <= 2048 * scale, client
