# Device tests (MicroPython): httpc on fake `socket` and `select` modules, for what a
# real socket cannot show on demand: a write failing between headers and body, a
# reset after part of the reply, ESP32-style TLS errors, DNS failure, URL checks.
import errno
import sys


class Sock:
    """Accepts `accept` bytes, then fails writes with OSError(err); reads `reply`,
    then OSError(read_err) if set, else EOF."""

    def __init__(self, reply=b"", accept=1 << 20, err=errno.ECONNRESET, read_err=None):
        self.reply, self.accept, self.err, self.read_err = reply, accept, err, read_err
        self.data = bytearray()
        self.dropped = False  # the peer closed it while idle
        self.closed = False

    def setblocking(self, flag):
        pass

    def connect(self, addr):
        raise OSError(errno.EINPROGRESS)

    def write(self, buf, off, n):
        if self.accept <= 0:
            raise OSError(self.err)
        k = min(n, self.accept)
        self.accept -= k
        self.data.extend(bytes(buf[off : off + k]))
        return k

    def readinto(self, mv):
        if not self.reply:
            if self.read_err:
                raise OSError(self.read_err)
            return 0
        k = min(len(mv), len(self.reply))
        mv[:k] = self.reply[:k]
        self.reply = self.reply[k:]
        return k

    def close(self):
        self.closed = True


class socket:  # stands in for the module
    SOCK_STREAM = 1
    queue = []  # Sock objects handed out by successive socket() calls

    @staticmethod
    def getaddrinfo(host, port, af, kind):
        if host == "nxdomain.example":
            raise OSError(-202)  # what the ESP32 port raises
        return [(2, 1, 6, "", ("192.0.2.1", port))]

    @staticmethod
    def socket(af, kind, proto):
        return socket.queue.pop(0)


class Poll:
    def register(self, s, ev=0):
        self.s = s

    def unregister(self, s):
        pass

    def modify(self, s, ev):
        self.ev = ev

    def ipoll(self, t):
        if t == 0:  # the idle check
            return iter([(self.s, 1)] if self.s.dropped else [])
        return iter([(self.s, self.ev)])


class select:  # stands in for the module
    poll = Poll


sys.modules["socket"] = socket
sys.modules["select"] = select
import httpc  # noqa: E402

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def client(*socks, **kw):
    socket.queue[:] = socks
    return httpc.Client("http://api.example/v1", allow_insecure_http=True, **kw)


def fails(fn, text):
    try:
        fn()
    except httpc.HTTPError as e:
        assert text in str(e), str(e)
        return e
    raise AssertionError("no HTTPError")


HEAD = b"POST /v1/r HTTP/1.1\r\nHost: api.example\r\nConnection: keep-alive\r\n" \
    b"Content-Length: 2000\r\n\r\n"


def test_sent_false_when_only_headers_went_out():
    s = Sock(accept=len(HEAD))  # the headers go out, the 2000-byte body is refused
    c = client(s)
    e = fails(lambda: c.request("POST", "/r", b"x" * 2000), "send failed: [Errno")
    assert e.sent is False and s.data == HEAD and s.closed


def test_sent_true_once_a_body_byte_went_out():
    c = client(Sock(accept=len(HEAD) + 1))
    assert fails(lambda: c.request("POST", "/r", b"x" * 2000), "send failed").sent is True


def test_sent_true_once_a_small_request_went_out():
    c = client(Sock())  # written, then EOF instead of a reply
    assert fails(lambda: c.request("GET", "/r"), "connection closed before reply").sent is True


def test_reused_connection_resent_after_send_failure():
    first, second = Sock(reply=OK), Sock(reply=OK)
    c = client(first, second)
    assert c.request("GET", "/a").status == 200
    first.accept = 0  # the peer's reset was not visible to the idle check
    got = bytearray()
    r = c.request("POST", "/b", b"data", sink=lambda buf, a, b: got.extend(buf[a:b]))
    assert got == b"ok" and not r.resent  # the first send failed before a byte went out
    assert c.stats.resends == 1 and c.stats.connects == 2
    assert second.data.endswith(b"\r\n\r\ndata")


def test_reused_connection_not_resent_after_part_of_the_reply():
    first = Sock(reply=OK)
    c = client(first, Sock(reply=OK))
    c.request("GET", "/a")
    first.reply, first.read_err = b"HTTP/1.1 2", errno.ECONNRESET
    e = fails(lambda: c.request("GET", "/b"), "reply failed: [Errno")
    assert e.sent is True and c.stats.resends == 0 and c.stats.connects == 1


def test_idle_connection_dropped_by_peer_is_replaced_before_sending():
    first, second = Sock(reply=OK), Sock(reply=OK)
    c = client(first, second)
    c.request("GET", "/a")
    n = len(first.data)
    first.dropped = True
    assert c.request("GET", "/b").status == 200
    assert len(first.data) == n and first.closed  # nothing written to the dead one
    assert c.stats.resends == 0 and c.stats.connects == 2


class TLSSock(Sock):
    def write(self, buf, off, n):
        raise OSError(-0x2700, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED")


class Ctx:
    def wrap_socket(self, s, server_hostname, do_handshake_on_connect):
        assert server_hostname == "api.example" and not do_handshake_on_connect
        return TLSSock()


def test_esp32_style_certificate_error_is_a_clear_transport_error():
    raw = Sock()
    c = client(raw)
    c._ctx = Ctx()  # as the ESP32 reports a failed verification: OSError(-9984, ...)
    e = fails(lambda: c.request("GET", "/"), "TLS: certificate not trusted: MBEDTLS_ERR_X509")
    assert e.sent is False and raw.closed and c.stats.handshakes == 1


def test_dns_failure():
    socket.queue[:] = []
    c = httpc.Client("http://nxdomain.example", allow_insecure_http=True)
    e = fails(lambda: c.request("GET", "/"), "DNS lookup of nxdomain.example failed")
    assert e.sent is False


def test_base_url_parsing():
    c = httpc.Client("http://h:8080/api/v1/", allow_insecure_http=True)
    assert (c.host, c.port, c._target) == ("h", 8080, b" /api/v1")
    assert c._head == b" HTTP/1.1\r\nHost: h:8080\r\nConnection: keep-alive\r\n"
    c = httpc.Client("http://h", allow_insecure_http=True)
    assert (c.host, c.port, c._target) == ("h", 80, b" ")
    assert c._head == b" HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"


def test_bad_base_urls_name_the_problem():
    for url, text in (
        ("ftp://h/", "must start with https://"),
        ("api.sensocan.com", "must start with https://"),
        ("https:///api", "has no host"),
        ("http://h:99999", "bad port"),
        ("http://h:/x", "bad port"),
        ("http://h:8o/x", "bad port"),
        ("http://user@h/", "'@' is not allowed"),
        ("http://h/a b", "' ' is not allowed"),
        ("http://h/x?q=1", "'?' is not allowed"),
        ("http://[::1]/", "'[' is not allowed"),
    ):
        try:
            httpc.Client(url, allow_insecure_http=True)
        except ValueError as e:
            assert "api.base_url" in str(e) and text in str(e), (url, str(e))
        else:
            raise AssertionError(url)


def test_bad_ca_data_refused():
    for ca, text in (
        (b"not a certificate", "api.ca_cert: invalid certificate"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n", "no complete PEM CERTIFICATE block"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no complete PEM"),
    ):
        try:
            httpc.Client("https://h", ca=ca)
        except ValueError as e:
            assert text in str(e), str(e)
        else:
            raise AssertionError(ca)


def test_path_and_body_types_checked():
    c = client()
    for call in (lambda: c.request("GET", "x"), lambda: c.request("POST", "/", "text")):
        try:
            call()
        except (ValueError, TypeError):
            pass
        else:
            raise AssertionError("accepted")
    assert c.stats.connects == 0
