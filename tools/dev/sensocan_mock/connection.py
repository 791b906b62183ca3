"""One client connection: read each request in full, log it, answer it.

A request goes to the control endpoint, to the first matching fault rule, or to the
API. `Exchange` is the per-request interface fault actions work through; the request
log entry is completed before the first reply byte is written, so a client (or test)
that has a reply in hand always finds its request logged. All reading and writing goes
through a SocketStream, which counts the traffic (traffic.py).
"""

import io
import socket
import struct
import traceback
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from .api import Outcome, resolve
from .control import PREFIX as CONTROL_PREFIX
from .faults import ACTIONS
from .traffic import SocketStream
from .wire import BodyError, Request, json_message, read_body, reason, render

_DRAIN_LIMIT = 64 << 20  # bytes read and dropped after rejecting a body


class Handler(BaseHTTPRequestHandler):
    """One connection: reads each request in full, then dispatches it."""

    protocol_version = "HTTP/1.1"

    def __init__(self, request, client_address, server, tally):
        self.tally = tally  # set first: the base class serves the whole connection in __init__
        super().__init__(request, client_address, server)

    def setup(self):
        """StreamRequestHandler's setup, through a SocketStream so the traffic is counted."""
        self.connection = self.request
        stream = SocketStream(self.connection, self.tally)
        self.rfile = io.BufferedReader(stream)
        self.wfile = stream

    def _dispatch(self):
        """Every method: what is not the API's to refuse is refused by the API (404/405)."""
        app = self.server.app
        target = urlsplit(self.path)
        control = app.control is not None and target.path.startswith(CONTROL_PREFIX)
        if control:
            self.tally.drop()
        else:
            self.tally.publish()
        received_at = app.clock()
        route = resolve(target.path)
        try:
            body = read_body(self.rfile, self.headers, app.max_body)
        except BodyError as e:
            self._reject(Request(self.command, target.path, target.query, self.headers, None,
                                 received_at), route, e)
            return
        request = Request(self.command, target.path, target.query, self.headers, body,
                          received_at)
        if control:
            reply = app.control.handle(request)
            self.close_connection |= self.server.closing.is_set()  # after /_mock/down
            self.wfile.write(self.render(reply).to_bytes())
            return
        rule = app.faults.take(request.method, request.path,
                               None if route is None else route.kind)
        exchange = Exchange(self, request, route, rule)
        try:
            if rule is None:
                exchange.send(exchange.handle())
            else:
                exchange.sleep(rule.delay)
                ACTIONS[rule.action](exchange, **rule.params)
        finally:
            exchange.finish()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _reject(self, request, route, error):
        """Answer a body that cannot be read, then drain what the client still sends, so it
        reads this reply rather than a connection reset."""
        self.close_connection = True
        exchange = Exchange(self, request, route)
        exchange.outcome = Outcome(json_message(error.status, error.message), error.reply_class)
        exchange.send(exchange.outcome.reply)
        try:
            self.connection.shutdown(socket.SHUT_WR)
            drained = 0
            while drained < _DRAIN_LIMIT:
                data = self.rfile.read1(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass

    def render(self, reply):
        return render(reply, date=formatdate(self.server.app.clock(), usegmt=True),
                      close=self.close_connection, head_only=self.command == "HEAD")

    def send_error(self, code, message=None, explain=None):
        """Protocol errors found by http.server (bad request line or headers), as JSON."""
        self.close_connection = True
        self.wfile.write(self.render(json_message(code, message or reason(code))).to_bytes())

    def log_message(self, format, *args):
        """Silenced: requests are reported through MockServer.log, never with headers."""


class Exchange:
    """One logged request: what fault actions act through (see faults.py)."""

    def __init__(self, handler, request, route, rule=None):
        self._handler = handler
        self._app = handler.server.app
        self.request = request
        self.route = route
        self.rule = rule
        self.outcome = None  # the API's Outcome, once handle() ran
        self.status = None  # status of the reply rendered for the wire, if any
        self._finished = False
        body = None if request.body is None else request.body.decode("utf-8", "replace")
        request.id = self._app.store.begin_request(
            received_at=request.received_at, connection=handler.tally.index,
            method=request.method, path=handler.path,
            device_uuid=None if route is None else route.device_uuid,
            content_type=request.headers.get("Content-Type"), body=body)

    def handle(self):
        """Process the request normally (once: readings are stored); returns its Reply."""
        if self.outcome is None:
            try:
                self.outcome = self._app.api.handle(self.request, self.route)
            except Exception:  # a bug or a database failure: answer as the real API would
                traceback.print_exc()
                self.outcome = Outcome(json_message(500, "Server Error"), "server_error")
        return self.outcome.reply

    def render(self, reply):
        """The RawReply for `reply`, about to be written."""
        raw = self._handler.render(reply)
        self.status = reply.status
        return raw

    def send(self, reply):
        self.write(self.render(reply).to_bytes())

    def write(self, data):
        self.finish()  # the log is complete before the client can see anything
        self._handler.wfile.write(data)

    def close(self):
        """Close the connection once the action returns, without saying so."""
        self._handler.close_connection = True

    def reset(self):
        """Abort the connection now with a TCP reset: SO_LINGER 0, then close the
        descriptor taken from under the handler (and TLS), so no FIN or alert goes first."""
        self.finish()
        self.close()
        sock = self._handler.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        socket.socket(fileno=sock.detach()).close()

    def down(self, seconds=None):
        """Take the server down (MockServer.down): this connection is closed when the
        action returns, others at once."""
        self._app.down(seconds)

    def now(self):
        """The server's clock (epoch seconds), as the Date header has it."""
        return self._app.clock()

    def closing(self):
        """The server is going down or stopping: an action still sending should stop."""
        return self._handler.server.closing.is_set()

    def sleep(self, seconds):
        """Wait `seconds`; the server stopping or going down cuts the wait and the action."""
        if self._handler.server.closing.wait(seconds):
            raise ConnectionAbortedError("the server is going down")

    def finish(self):
        """Complete the request's log entry (once)."""
        if self._finished:
            return
        self._finished = True
        if self.rule is not None:
            reply_class = "fault:" + self.rule.action
        else:
            reply_class = self.outcome.reply_class
        auth_ok = None if self.outcome is None else self.outcome.auth_ok
        count = 0 if self.outcome is None else self.outcome.count
        self._app.store.finish_request(self.request.id, status=self.status,
                                       reply_class=reply_class, auth_ok=auth_ok)
        if self._app.log is not None:
            self._app.log({"method": self.request.method, "path": self._handler.path,
                           "status": self.status, "reply_class": reply_class, "count": count})
