"""MockServer: the Sensocan API on a local port, each connection in its own thread.

HTTP/1.1 with keep-alive (idle connections closed after `keepalive_timeout`), HTTPS
when given a certificate and key. This module owns the lifecycle (listen, serve, stop)
and the pieces; connection.py handles what arrives on each connection.
"""

import socket
import socketserver
import ssl
import sys
import threading
import time

from . import registry
from .api import Api
from .connection import Handler
from .control import Control
from .faults import Faults
from .ratelimit import RateLimiter
from .store import Store


class MockServer:
    """The mock Sensocan API, served from background threads.

        with MockServer("devices.json", clock=fake_clock, rate_limit=5) as server:
            ...  # talk to server.url; then check server.readings(), server.requests()

    `devices` is a devices-file path, its parsed dict, or a registry.Registry; `tls` a
    (cert_pem, key_pem) pair. `clock` (epoch seconds) drives the rate limit, receive
    times and the Date header. `log(entry)` is called once per logged request with its
    method, path, status, reply_class and count. Tokens never reach the log or the store.
    """

    def __init__(self, devices, db_path=":memory:", *, host="127.0.0.1", port=0, tls=None,
                 rate_limit=1000, keepalive_timeout=5.0, max_body=1 << 20,
                 unknown_sensor_in_batch=422, control=False, clock=time.time, log=None):
        if unknown_sensor_in_batch not in (422, 404):
            raise ValueError("unknown_sensor_in_batch must be 422 or 404")
        if not keepalive_timeout > 0 or max_body < 0:
            raise ValueError("keepalive_timeout must be > 0 and max_body >= 0")
        self.registry = _registry(devices)
        self.tls = _tls_context(*tls) if tls else None
        self.clock = clock
        self.keepalive_timeout = keepalive_timeout
        self.max_body = max_body
        self.log = log
        self.faults = Faults()
        self.stopping = threading.Event()
        limiter = RateLimiter(rate_limit, clock=clock)
        self.store = Store(db_path)  # last: nothing after it can fail and leak it
        self.api = Api(self.registry, self.store, limiter, unknown_sensor_in_batch)
        self.control = Control(self.faults, self.store) if control else None
        self._address = (host, port)
        self._listener = None
        self._thread = None

    def start(self):
        """Listen and serve in background threads; returns self."""
        if self._listener is not None or self.stopping.is_set():
            raise RuntimeError("a MockServer can be started once")
        try:
            self._listener = _Listener(self._address, self)
        except BaseException:  # e.g. the port is taken: release the store too
            self.stop()
            raise
        self._thread = threading.Thread(target=self._listener.serve_forever, args=(0.05,),
                                        name="sensocan-mock", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop listening, cut open connections (waking sleeping faults), close the store."""
        self.stopping.set()
        if self._listener is not None:
            self._listener.shutdown()
            self._thread.join()
            self._listener.server_close()
            self._listener.close_connections(timeout=5.0)
        self.store.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._bound()[1]

    @property
    def url(self):
        """Base URL of the API, e.g. http://127.0.0.1:8080/api/v1."""
        host, port = self._bound()
        return "%s://%s:%d/api/v1" % ("https" if self.tls else "http", host, port)

    def readings(self, device=None):
        """Stored readings as dicts (columns of store.py), oldest first; until stop()."""
        return self.store.readings(device)

    def requests(self):
        """The request log as dicts (columns of store.py), oldest first; until stop()."""
        return self.store.requests()

    def _bound(self):
        if self._listener is None:
            raise RuntimeError("the server is not started")
        return self._listener.server_address[:2]


def _registry(devices):
    if isinstance(devices, registry.Registry):
        return devices
    if isinstance(devices, dict):
        return registry.parse(devices)
    return registry.load(devices)


def _tls_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class _Listener(socketserver.TCPServer):
    """Serves each connection in its own daemon thread, TLS handshake included, so a
    stalled client blocks nobody; can cut every open connection when stopping."""

    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, app):
        self.app = app
        self._open = {}  # serving thread -> its socket
        self._lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request, client_address):
        thread = threading.Thread(target=self._serve, args=(request, client_address),
                                  daemon=True)
        with self._lock:
            self._open[thread] = request
        thread.start()

    def _serve(self, sock, client_address):
        me = threading.current_thread()
        try:
            sock.settimeout(self.app.keepalive_timeout)
            if self.app.tls is not None:
                sock = self.app.tls.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
                with self._lock:
                    self._open[me] = sock
                sock.do_handshake()
            self.finish_request(sock, client_address)
        except Exception:
            self.handle_error(sock, client_address)
        finally:
            with self._lock:
                self._open.pop(me, None)
            self.shutdown_request(sock)

    def handle_error(self, request, client_address):
        """Clients vanishing, timing out or failing the TLS handshake are routine here;
        anything else is a bug and printed."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def close_connections(self, timeout):
        with self._lock:
            open_now = list(self._open.items())
        for _, sock in open_now:
            try:  # the plain-socket shutdown: leaves the TLS state to its own thread
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread, _ in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))
