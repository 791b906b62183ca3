"""MockServer: the Sensocan API on a local port, each connection in its own thread.

HTTP/1.1 with keep-alive (idle connections closed after `keepalive_timeout`), HTTPS
when given a certificate and key. This module owns the lifecycle (listen, serve, go
down and up, stop) and the pieces; connection.py handles what arrives on each connection.
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
from .traffic import Tally, WireStats


class MockServer:
    """The mock Sensocan API, served from background threads.

        with MockServer("devices.json", clock=fake_clock, rate_limit=5) as server:
            ...  # talk to server.url; then check server.readings(), server.requests()

    `devices` is a devices-file path, its parsed dict, or a registry.Registry; `tls` a
    (cert_pem, key_pem) pair. `clock` (epoch seconds) drives the rate limit, receive
    times and the Date header. `log(entry)` is called once per logged request with its
    method, path, status, reply_class and count. Tokens never reach the log or the store.
    `wire` counts the traffic (traffic.WireStats); down() and up() take the server off
    the network and back.
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
        self.wire = WireStats()
        self.stopping = threading.Event()
        limiter = RateLimiter(rate_limit, clock=clock)
        self.store = Store(db_path)  # last: nothing after it can fail and leak it
        self.api = Api(self.registry, self.store, limiter, unknown_sensor_in_batch)
        self.control = Control(self) if control else None
        self._address = (host, port)  # once listening: the port bound, for up() to rebind
        self._started = False
        self._listener = None  # while listening
        self._thread = None
        self._up_timer = None
        self._lock = threading.Lock()  # down, up and stop may come from any thread

    def start(self):
        """Listen and serve in background threads; returns self."""
        if self._started or self.stopping.is_set():
            raise RuntimeError("a MockServer can be started once")
        try:
            with self._lock:
                self._listen()
        except BaseException:  # e.g. the port is taken: release the store too
            self.stop()
            raise
        self._started = True
        return self

    def stop(self):
        """Stop listening, cut open connections (and faults waiting in them), close the store."""
        self.stopping.set()
        with self._lock:
            self._unlisten()
        self.store.close()

    def down(self, seconds=None):
        """The server goes down: stop listening, so connecting is refused (ECONNREFUSED),
        and cut the open connections. Back with up(), or by itself after `seconds`."""
        with self._lock:
            self._check_started()
            self._unlisten()
            if seconds is not None and not self.stopping.is_set():
                self._up_timer = threading.Timer(seconds, self.up)
                self._up_timer.daemon = True
                self._up_timer.start()

    def up(self):
        """Listen again, on the same port, after down(); nothing if already listening."""
        with self._lock:
            self._check_started()
            self._cancel_up_timer()
            if self._listener is None and not self.stopping.is_set():
                self._listen()

    def wait_idle(self, timeout):
        """Wait until no connection is open, so no fault action is still sleeping or
        sending (a slow one stores after its client gave up); False if some still are
        after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (listener := self._listener) is not None and listener.open_count():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        self._check_started()
        return self._address[1]

    @property
    def url(self):
        """Base URL of the API, e.g. http://127.0.0.1:8080/api/v1."""
        self._check_started()
        return "%s://%s:%d/api/v1" % ("https" if self.tls else "http", *self._address)

    def add_sensor(self, device_uuid, slug, uuid):
        """Create a sensor on a device while the server runs (the dashboard's Sensors tab)."""
        self.registry.add_sensor(device_uuid, slug, uuid)

    def readings(self, device=None):
        """Stored readings as dicts (columns of store.py), oldest first; until stop()."""
        return self.store.readings(device)

    def requests(self):
        """The request log as dicts (columns of store.py), oldest first; until stop()."""
        return self.store.requests()

    def connections(self):
        """Every API connection so far, oldest first (traffic.WireStats.connection_log):
        its `index` (a request log row's `connection`), the bytes the client sent, `tls`
        and `client_closed_at`."""
        return self.wire.connection_log()

    def _check_started(self):
        if not self._started:
            raise RuntimeError("the server is not started")

    def _listen(self):
        listener = _Listener(self._address, self)
        self._address = listener.server_address[:2]
        self._thread = threading.Thread(target=listener.serve_forever, args=(0.05,),
                                        name="sensocan-mock", daemon=True)
        self._listener = listener
        self._thread.start()

    def _unlisten(self):
        self._cancel_up_timer()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown()
            self._thread.join()
            listener.server_close()
            listener.close_connections(timeout=5.0)

    def _cancel_up_timer(self):
        if self._up_timer is not None:
            self._up_timer.cancel()
            self._up_timer = None


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
    stalled client blocks nobody; can cut every open connection when closing."""

    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, app):
        self.app = app
        self._open = {}  # serving thread -> its socket
        self._lock = threading.Lock()
        self.closing = threading.Event()  # set when going down or stopping
        super().__init__(address, Handler)

    def process_request(self, request, client_address):
        thread = threading.Thread(target=self._serve, args=(request, client_address),
                                  daemon=True)
        with self._lock:
            self._open[thread] = request
        thread.start()

    def _serve(self, sock, client_address):
        me = threading.current_thread()
        tally = Tally(self.app.wire)
        try:
            sock.settimeout(self.app.keepalive_timeout)
            if self.app.tls is not None:
                sock = self.app.tls.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
                with self._lock:
                    self._open[me] = sock
                tally.tls = False  # until the handshake completes
                sock.do_handshake()
                tally.tls = True
                tally.count(handshakes=1)
            self.RequestHandlerClass(sock, client_address, self, tally)
        except Exception:
            self.handle_error(sock, client_address)
        finally:
            tally.publish()
            with self._lock:
                self._open.pop(me, None)
            self.shutdown_request(sock)

    def open_count(self):
        """Connections being served now."""
        with self._lock:
            return len(self._open)

    def handle_error(self, request, client_address):
        """Clients vanishing, timing out or failing the TLS handshake are routine here;
        anything else is a bug and printed."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def close_connections(self, timeout):
        """Cut every open connection but the caller's (a /_mock/down still to answer)."""
        self.closing.set()
        me = threading.current_thread()
        with self._lock:
            open_now = [(thread, sock) for thread, sock in self._open.items() if thread is not me]
        for _, sock in open_now:
            try:  # the plain-socket shutdown: leaves the TLS state to its own thread
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread, _ in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))
