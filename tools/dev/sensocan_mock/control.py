"""The /_mock/ control endpoint: lets another process steer faults and see what arrived.

Served only when asked for (`--control`, `MockServer(control=True)`): it has no auth and
is not part of the Sensocan API. Its requests skip faults and the request log.

    POST   /_mock/faults     add a rule (JSON, see faults.py)    -> 201 {"rule": {...}}
    GET    /_mock/faults     the active rules                   -> 200 {"rules": [...]}
    DELETE /_mock/faults     remove them all                    -> 200 {"count": N}
    GET    /_mock/readings   stored readings [?device=UUID]     -> 200 {"readings": [...]}
    GET    /_mock/requests   the request log                    -> 200 {"requests": [...]}
    GET    /_mock/stats      wire statistics (traffic.py)       -> 200 {"wire": {...}}
    DELETE /_mock/stats      the same, and reset them to zero   -> 200 {"wire": {...}}
    POST   /_mock/down       go down [{"seconds": N}: up again  -> 200 {"seconds": N}
                             after N s]; this reply is the last

There is no /_mock/up: while down, the port refuses every connection, this endpoint's
included, so only `seconds` (or MockServer.up() in-process) brings the server back.

`ControlClient` is the other side, for the command line (`python -m tools.dev.sensocan_mock
fault`).
"""

import http.client
import json
import ssl
from urllib.parse import parse_qs, urlsplit

from .faults import FaultRuleError
from .wire import Reply, json_message

PREFIX = "/_mock/"


class Control:
    def __init__(self, server):
        self.server = server
        self._routes = {
            "/_mock/faults": {"POST": self._add_fault, "GET": self._list_faults,
                              "DELETE": self._clear_faults},
            "/_mock/readings": {"GET": self._readings},
            "/_mock/requests": {"GET": self._requests},
            "/_mock/stats": {"GET": self._stats, "DELETE": self._reset_stats},
            "/_mock/down": {"POST": self._down},
        }

    def handle(self, request):
        methods = self._routes.get(request.path)
        if methods is None:
            return json_message(404, "Not Found.")
        if request.method not in methods:
            return json_message(405, "Supported methods: %s." % ", ".join(methods),
                                {"Allow": ", ".join(methods)})
        try:
            return methods[request.method](request)
        except _Refused as e:
            return e.reply

    def _add_fault(self, request):
        try:
            rule = self.server.faults.add(_json_body(request))
        except FaultRuleError as e:
            return json_message(422, "Invalid fault rule: %s" % e)
        return Reply(201, {"message": "Fault added.", "rule": rule.to_dict()})

    def _list_faults(self, request):
        return Reply(200, {"rules": [rule.to_dict() for rule in self.server.faults.rules()]})

    def _clear_faults(self, request):
        return Reply(200, {"message": "Faults cleared.", "count": self.server.faults.clear()})

    def _readings(self, request):
        device = parse_qs(request.query).get("device", [None])[0]
        return Reply(200, {"readings": self.server.store.readings(device)})

    def _requests(self, request):
        return Reply(200, {"requests": self.server.store.requests()})

    def _stats(self, request):
        return Reply(200, {"wire": self.server.wire.to_dict()})

    def _reset_stats(self, request):
        return Reply(200, {"message": "Stats reset.", "wire": self.server.wire.reset()})

    def _down(self, request):
        spec = _json_body(request, empty={})
        seconds = spec.get("seconds") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or set(spec) - {"seconds"} or not _is_duration(seconds):
            raise _Refused(json_message(
                422, 'Expected no body, or {"seconds": N} with 0 < N < 1e6.'))
        self.server.down(seconds)
        return Reply(200, {"message": "Server down.", "seconds": seconds})


class _Refused(Exception):
    """Ends a control request early with `reply`."""

    def __init__(self, reply):
        super().__init__(reply.status)
        self.reply = reply


def _json_body(request, empty=None):
    """The request's JSON; `empty` if given and there is no body."""
    if not request.body and empty is not None:
        return empty
    try:
        return json.loads(request.body)
    except (ValueError, RecursionError):
        raise _Refused(json_message(400, "Malformed JSON body.")) from None


def _is_duration(seconds):
    return seconds is None or (type(seconds) in (int, float) and 0 < seconds < 1e6)


class ControlError(Exception):
    """The control endpoint cannot be reached, or refused the request; says why."""


class ControlClient:
    """Calls the control endpoint of a running mock server (served with --control).

    `url` is the server's, e.g. its base URL as `serve` prints it; `ca_cert` the CA to
    verify an https server with (default: the system's).
    """

    def __init__(self, url, ca_cert=None, timeout=10.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ControlError("expected the server's URL, like http://127.0.0.1:8080, "
                               "not %r" % url)
        self.url = "%s://%s" % (parts.scheme, parts.netloc)
        self._netloc = parts.netloc
        self._timeout = timeout
        self._context = None
        if parts.scheme == "https":
            try:
                self._context = ssl.create_default_context(cafile=ca_cert)
            except (OSError, ValueError) as e:
                raise ControlError("CA certificate %s: %s" % (ca_cert, e)) from None

    def call(self, method, route, body=None):
        """`method` on /_mock/`route` with `body` as JSON; returns the reply's JSON."""
        try:
            status, data = self._exchange(method, PREFIX + route, body)
        except (OSError, http.client.HTTPException) as e:
            raise ControlError("cannot reach %s: %s" % (self.url, e)) from None
        try:
            reply = json.loads(data)
        except ValueError:
            raise ControlError("%s%s%s: HTTP %d, not a JSON reply: is it a sensocan mock?"
                               % (self.url, PREFIX, route, status)) from None
        if status == 404:
            raise ControlError("no control endpoint at %s (serve the mock with --control)"
                               % self.url)
        if not 200 <= status < 300:
            raise ControlError("%s: %s" % (status, reply.get("message", reply)
                                           if isinstance(reply, dict) else reply))
        return reply

    def _exchange(self, method, path, body):
        if self._context is None:
            conn = http.client.HTTPConnection(self._netloc, timeout=self._timeout)
        else:
            conn = http.client.HTTPSConnection(self._netloc, timeout=self._timeout,
                                               context=self._context)
        try:
            conn.request(method, path, None if body is None else json.dumps(body).encode(),
                         {"Content-Type": "application/json"})
            reply = conn.getresponse()
            return reply.status, reply.read()
        finally:
            conn.close()
