"""Host side (CPython): a scripted TCP/TLS server for testing device network code.

Each accepted connection runs the next handler of the script, in its own thread.
A handler gets a `Conn` with blocking helpers: read one HTTP request, send canned
bytes, trickle them, stall, close (FIN) or reset (RST). Every request is recorded
with its exact bytes, so tests can assert on what went over the wire.

    with ScriptedServer([serve(response(200, b"ok"))], tls=certs) as srv:
        ... run device code against srv.url("/api/v1") ...
    assert srv.requests[0].target == "/api/v1/x"
    srv.check()  # re-raises an unexpected exception from a handler

Connections beyond the script are closed at once and counted in `extra`. Every
socket operation has a timeout and `__exit__` closes everything, so a test never
hangs on the server.
"""

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

OP_TIMEOUT = 5.0  # seconds any single blocking server operation may take


class ClientClosed(Exception):
    """The client closed the connection while the handler expected more."""


@dataclass
class Request:
    conn: int  # index of the connection it came on
    method: str
    target: str
    version: str
    headers: list  # [(name, value)] in wire order and spelling
    body: bytes
    raw: bytes = field(repr=False)  # head + body exactly as received

    def header(self, name):
        """First value of header `name` (case-insensitive), or None."""
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


def response(status=200, body=b"", headers=(), reason="OK", length=True):
    """Canned reply bytes; `length=False` leaves out Content-Length."""
    head = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    if length:
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def serve(*replies, close=False):
    """Handler: answer one request with each reply in turn on the same connection,
    then close (FIN) if `close`, else keep it open until the client closes it."""

    def handler(conn):
        for reply in replies:
            if conn.read_request() is None:
                return
            conn.send(reply)
        if close:
            conn.close()
        else:
            conn.wait_closed()

    return handler


class Conn:
    """One accepted connection as seen by a handler."""

    def __init__(self, sock, index, server):
        self.sock = sock
        self.index = index
        self.server = server
        self.closed_at = None  # time.monotonic() when EOF from the client was seen
        self._buf = b""

    def recv(self, timeout=OP_TIMEOUT):
        """Some bytes, or b"" once the client closed."""
        if self._buf:
            data, self._buf = self._buf, b""
            return data
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            data = b""
        if not data and self.closed_at is None:
            self.closed_at = time.monotonic()
        return data

    def read_request(self, timeout=OP_TIMEOUT):
        """Read and record one request; None if the client closed before sending any."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.recv(timeout)
            if not data:
                if buf:
                    raise ClientClosed("client closed mid-request after %r" % buf)
                return None
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        headers = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:]]
        req = Request(self.index, method, target, version, headers, b"", b"")
        n = int(req.header("content-length") or 0)
        while len(rest) < n:
            data = self.recv(timeout)
            if not data:
                raise ClientClosed("client closed after %d of %d body bytes" % (len(rest), n))
            rest += data
        req.body, self._buf = rest[:n], rest[n:]
        req.raw = head + b"\r\n\r\n" + req.body
        with self.server.lock:
            self.server.requests.append(req)
        return req

    def send(self, data):
        self.sock.settimeout(OP_TIMEOUT)
        self.sock.sendall(data)

    def trickle(self, data, interval):
        """Send one byte per `interval` seconds; stops quietly once the client is gone."""
        for i in range(len(data)):
            if self.server.stopping.wait(interval):
                return
            try:
                self.send(data[i : i + 1])
            except OSError:
                return

    def wait_closed(self, timeout=None):
        """Discard input until the client closes (True) or `timeout`/server stop (False)."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.server.stopping.is_set():
            if end is not None and time.monotonic() >= end:
                return False
            try:
                if not self.recv(0.05):
                    return True
            except (socket.timeout, ssl.SSLWantReadError):
                pass
        return False

    def close(self):
        """Close with FIN (under TLS without close_notify, as many servers do)."""
        self.sock.close()

    def reset(self):
        """Abort with RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()


class ScriptedServer:
    """Listen on 127.0.0.1; connection i runs `script[i](conn)`."""

    def __init__(self, script, *, tls=None):
        self.script = list(script)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.requests = []
        self.connections = 0
        self.extra = 0
        self.errors = []  # (connection index, exception) raised by handlers
        self.tls_errors = []  # TLS handshakes the client refused or broke off
        self.conns = []
        self._ctx = None
        if tls:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(str(tls["cert"]), str(tls["key"]))
        self._ls = socket.socket()
        self._ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._ls.bind(("127.0.0.1", 0))
        self._ls.listen(8)
        self.port = self._ls.getsockname()[1]
        self._threads = []

    def url(self, path="", host="localhost"):
        return "%s://%s:%d%s" % ("https" if self._ctx else "http", host, self.port, path)

    def __enter__(self):
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self._ls.close()
        for c in self.conns:
            try:
                c.sock.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(OP_TIMEOUT)

    def check(self):
        """Re-raise the first exception a handler raised."""
        if self.errors:
            raise self.errors[0][1]

    def _accept_loop(self):
        self._ls.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                sock, _ = self._ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                index = self.connections
                self.connections += 1
            if index >= len(self.script):
                self.extra += 1
                sock.close()
                continue
            t = threading.Thread(target=self._run, args=(sock, index), daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self, sock, index):
        if self._ctx:
            sock.settimeout(OP_TIMEOUT)
            try:
                sock = self._ctx.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError) as e:
                self.tls_errors.append((index, e))
                sock.close()
                return
        conn = Conn(sock, index, self)
        self.conns.append(conn)
        try:
            self.script[index](conn)
        except Exception as e:  # noqa: BLE001 - reported through check()
            if not self.stopping.is_set():
                self.errors.append((index, e))
        finally:
            try:
                sock.close()
            except OSError:
                pass


class Blackhole:
    """A port whose connect never completes: a listener with a full accept queue."""

    def __enter__(self):
        self._ls = socket.socket()
        self._ls.bind(("127.0.0.1", 0))
        self._ls.listen(0)
        self.port = self._ls.getsockname()[1]
        self._filler = socket.create_connection(("127.0.0.1", self.port), timeout=OP_TIMEOUT)
        return self

    def __exit__(self, *exc):
        self._filler.close()
        self._ls.close()
