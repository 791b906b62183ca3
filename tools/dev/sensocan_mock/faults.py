"""Fault injection: rules that take over matching requests to misbehave on purpose.

A rule is a flat dict, given to `MockServer.faults.add(...)` or POSTed as JSON to
/_mock/faults:

    {"action": "reply", "status": 503, "headers": {"Retry-After": "3"},   # action + params
     "path": "/readings$", "kind": "batch", "method": "POST",            # match (all optional)
     "times": 2, "delay": 0.5}                                           # next 2, after 0.5 s

`path` is a regex searched in the path (no query string); `kind` is single, bulk or
batch; `times` is how many matching requests it takes (null: all of them); `delay` is
slept before acting. The first matching rule wins. Other keys are the action's params.
Actions that call handle() go through the API (rate limit included); the others do not.

Actions (see each docstring, and the table in docs/testing.md): handle, reply, pad,
reject, chunked, junk, endless, storm, close, reset, reply_close, drop_after_store,
garbage, truncate, bad_length, bad_chunked, raw, crash, trickle. The usual cases:

    5xx                          {"action": "reply", "status": 503}
    drop before storing          {"action": "close"}  (FIN)  or  {"action": "reset"}  (RST)
    drop after storing           {"action": "drop_after_store"}: the reply is lost
    slow reply (past a timeout)  {"action": "handle", "delay": 30}: stored after the delay
    reply trickled byte by byte  {"action": "trickle", "chunk": 1, "interval": 0.5}
    429 storm                    {"action": "storm", "retry_after": 5, "times": null}
    a 1 MB reply                 {"action": "pad", "size": 1048576}  (stored, then padded)
    Laravel's 422 for some items {"action": "reject", "fraction": 0.3}  (stores nothing)
    a body that never ends       {"action": "endless"}
    exact reply bytes            {"action": "raw", "data": "HTTP/1.1 200 OK\\n\\n", "close": true}
    server down                  {"action": "crash"} mid-request, or MockServer.down() /
                                 POST /_mock/down

An action is a function `(exchange, **params)` registered with @action. The exchange
gives it: request (its method, path, headers and body), handle() (normal processing,
readings stored, returns the Reply), render(reply) (the RawReply about to be written),
send(reply), write(bytes), close() (drop the connection once the action returns),
reset() (abort it now with a TCP RST), sleep(seconds), now() (the server's clock),
closing() (the server is going down) and down(seconds) (take the server down). Adding
an action is adding one function; its annotated parameters are type-checked when a
rule is added.
"""

import inspect
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate

from .validation import KINDS
from .wire import Reply, reason

ACTIONS = {}
_MATCHING = ("path", "kind", "method", "times", "delay")


class FaultRuleError(ValueError):
    """A rule that cannot be used; says which field is wrong."""


def action(fn):
    """Register `fn(exchange, **params)` as the action named like the function."""
    ACTIONS[fn.__name__] = fn
    return fn


@action
def handle(ex, headers: dict | None = None):
    """Normal processing and reply (with `delay`: a slow server), `headers` added to it
    (say X-RateLimit-Remaining: 0 on a 201)."""
    reply = ex.handle()
    ex.send(Reply(reply.status, reply.body, {**reply.headers, **(headers or {})}))


@action
def reply(ex, status: int, body=None, headers: dict | None = None):
    """Answer `status`, `body` (JSON, or a str sent as is; default {"message": <reason>})
    and `headers` instead of handling the request; stores nothing."""
    ex.send(Reply(status, {"message": reason(status)} if body is None else body,
                  dict(headers or {})))


@action
def storm(ex, retry_after: int | None = 1, remaining: bool = True, as_date: bool = False):
    """Too Many Requests, as the rate limit words it, with `Retry-After: retry_after`
    (null: no Retry-After; `as_date`: as the HTTP date that many seconds after the
    reply's Date) and, with `remaining`, `X-RateLimit-Remaining: 0`; stores nothing. A
    storm: give it `times` (null: until cleared), whatever the real limit says."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = (formatdate(ex.now() + retry_after, usegmt=True) if as_date
                                  else str(retry_after))
    if remaining:
        headers["X-RateLimit-Remaining"] = "0"
    reply(ex, 429, {"message": "Too Many Requests"}, headers)


@action
def pad(ex, size: int, status: int | None = None, first: bool = False):
    """The reply's JSON body grown to `size` bytes by a "padding" string (its first key
    with `first`, else its last): normal processing, or with `status` a {"message"}
    reply that stores nothing."""
    ex.send(_padded(ex.handle() if status is None else _message(status), size, first))


@action
def reject(ex, fraction: int | float = 0.5, items: list | None = None, field: str = "value",
           extra: int = 0, size: int = 0, seed: int = 0):
    """Laravel's 422 for some of the request's items, storing nothing: names `items` (item
    indices), or else a random `fraction` of the items (at least one; `seed` picks them),
    as `data.N.<field>` (`data.<field>` for a single reading), plus `extra` indices past
    the request's own; the body grown to `size` bytes. A body without readings is
    processed normally."""
    data = _request_data(ex.request)
    if isinstance(data, dict):
        keys = ["data." + field]
    elif isinstance(data, list) and data:
        n = len(data)
        if items is None:
            rng = random.Random(seed)
            items = [i for i in range(n) if rng.random() < fraction] or [rng.randrange(n)]
        keys = ["data.%d.%s" % (i, field) for i in list(items) + list(range(n, n + extra))]
    else:
        return ex.send(ex.handle())
    errors = {key: [_VALIDATION.get(field, "The %s field is invalid.") % key] for key in keys}
    message = errors[keys[0]][0]
    if len(keys) > 1:  # how Laravel sums up the others
        message += " (and %d more error%s)" % (len(keys) - 1, "s" if len(keys) > 2 else "")
    ex.send(_padded(Reply(422, {"message": message, "errors": errors}), size))


@action
def chunked(ex, chunk_min: int = 1, chunk_max: int = 4096, size: int = 0, seed: int = 0):
    """Normal processing; the reply (its body grown to `size` bytes) sent with
    Transfer-Encoding: chunked, in chunks of random sizes from `chunk_min` to
    `chunk_max` bytes (`seed` draws them), each chunk in its own write."""
    raw = ex.render(_padded(ex.handle(), size))
    body, rng = raw.body, random.Random(seed)
    raw.remove("Content-Length")
    raw.set("Transfer-Encoding", "chunked")
    raw.body = b""
    ex.write(raw.to_bytes())
    start = 0
    while start < len(body):
        end = start + rng.randint(max(1, chunk_min), max(1, chunk_min, chunk_max))
        ex.write(b"%x\r\n%s\r\n" % (len(body[start:end]), body[start:end]))
        start = end
    ex.write(b"0\r\n\r\n")


@action
def junk(ex, status: int = 200, size: int = 256, store: bool = False, seed: int = 0):
    """A `status` reply announced as JSON whose body is `size` random bytes (`seed`);
    with `store`, after storing the readings."""
    if store:
        ex.handle()
    raw = ex.render(_message(status))
    raw.body = random.Random(seed).randbytes(size)
    raw.set("Content-Length", str(size))
    ex.write(raw.to_bytes())


@action
def endless(ex, status: int | None = None, chunked: bool = False, seconds: int | float = 60):
    """A reply whose body never ends: normal processing (or with `status` a reply that
    stores nothing), its status line and headers, then a JSON string that goes on until
    the client goes, the server goes down or `seconds` pass; framed by the connection's
    close, or with `chunked` as chunks. The connection is closed after it."""
    raw = ex.render(_message(status) if status is not None else ex.handle())
    head = raw.body[:-1] + b',"padding":"'  # the reply's object, still open
    raw.remove("Content-Length")
    if chunked:
        raw.set("Transfer-Encoding", "chunked")
    raw.set("Connection", "close")
    raw.body = b""
    ex.close()
    ex.write(raw.to_bytes())
    data, until = head, time.monotonic() + seconds
    while time.monotonic() < until and not ex.closing():
        ex.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        data = b"x" * 16384


@action
def close(ex):
    """Read the request, then close the connection without replying; stores nothing."""
    ex.close()


@action
def reset(ex, store: bool = False):
    """Read the request, then abort the connection with a TCP reset (the client gets
    ECONNRESET, under TLS too); with `store`, after storing the readings, else storing
    nothing."""
    if store:
        ex.handle()
    ex.reset()


@action
def reply_close(ex):
    """Normal processing and reply, then close although the reply did not announce it."""
    ex.send(ex.handle())
    ex.close()


@action
def drop_after_store(ex):
    """Store the readings, then close without replying: the reply is lost in flight."""
    ex.handle()
    ex.close()


@action
def garbage(ex, status_line: str = "HTTX/1.1 ??? Nonsense"):
    """Store the readings; reply with a malformed status line, then close."""
    raw = ex.render(ex.handle())
    raw.status_line = status_line
    ex.write(raw.to_bytes())
    ex.close()


@action
def truncate(ex, keep: int = 20):
    """Store the readings; send only the first `keep` bytes of the reply, then close."""
    ex.write(ex.render(ex.handle()).to_bytes()[:keep])
    ex.close()


@action
def bad_length(ex, delta: int = 10):
    """Store the readings; reply with a Content-Length `delta` bytes off, then close."""
    raw = ex.render(ex.handle())
    raw.set("Content-Length", str(len(raw.body) + delta))
    ex.write(raw.to_bytes())
    ex.close()


@action
def bad_chunked(ex):
    """Store the readings; reply chunked, the chunk size larger than the data, then close."""
    raw = ex.render(ex.handle())
    raw.remove("Content-Length")
    raw.set("Transfer-Encoding", "chunked")
    raw.body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(raw.body) + 16, raw.body)
    ex.write(raw.to_bytes())
    ex.close()


@action
def raw(ex, data: str, close: bool = False, reset: bool = False, wait: int | float = 0):
    """Write `data` as it is, in place of a reply, storing nothing: each character one
    byte (0-255), so a test sends the exact bytes it means (an interim 100, a bare LF, a
    cut status line, a body with no framing). Then, `wait` s later: with `close` a FIN,
    with `reset` a TCP reset; else the connection stays open for the next request."""
    ex.write(data.encode("latin-1"))
    if close or reset:
        ex.sleep(wait)
        if reset:
            ex.reset()
        ex.close()


@action
def crash(ex, seconds: int | float | None = None):
    """The server dies with the request in hand: no reply, the connection closed, and
    the server down (connections refused) for `seconds` (null: until MockServer.up())."""
    ex.close()
    ex.down(seconds)


@action
def trickle(ex, chunk: int = 1, interval: int | float = 0.05):
    """Normal processing; the reply goes out `chunk` bytes at a time, `interval` s apart."""
    data = ex.render(ex.handle()).to_bytes()
    step = max(1, chunk)
    for start in range(0, len(data), step):
        if start:
            ex.sleep(interval)
        ex.write(data[start:start + step])


_VALIDATION = {  # Laravel's wording, as validation.py gives it
    "value": "The %s field must be a number.",
    "timestamp": "The %s field must be a valid date.",
    "sensor_slug": "The selected %s is invalid.",
    "sensor_uuid": "The selected %s is invalid.",
}


def _message(status):
    return Reply(status, {"message": reason(status)})


def _padded(reply, size, first=False):
    """`reply` with its JSON object body grown to `size` bytes (as rendered) by a
    "padding" key of x's; as it is when already that long or not an object."""
    if not isinstance(reply.body, dict):
        return reply
    length = len(json.dumps(reply.body, separators=(",", ":")))
    pad = size - length - len(',"padding":""')
    if pad <= 0:
        return reply
    body = {"padding": "x" * pad, **reply.body} if first else {**reply.body, "padding": "x" * pad}
    return Reply(reply.status, body, reply.headers)


def _request_data(request):
    """The request body's "data" (a list or an object), or None if it has none."""
    try:
        data = json.loads(request.body or b"").get("data")
    except (ValueError, AttributeError, RecursionError):
        return None
    return data if isinstance(data, (dict, list)) else None


@dataclass
class Rule:
    action: str
    params: dict = field(default_factory=dict)
    path: str | None = None
    kind: str | None = None
    method: str | None = None
    times: int | None = 1  # requests left to take; None = unlimited
    delay: int | float = 0

    def __post_init__(self):
        if not isinstance(self.action, str) or self.action not in ACTIONS:
            raise FaultRuleError("action: %r is not one of %s" % (self.action, ", ".join(ACTIONS)))
        _check_params(ACTIONS[self.action], self.params)
        try:  # rules are JSON at the control endpoint, both ways
            json.dumps(self.params)
        except (TypeError, ValueError) as e:
            raise FaultRuleError("%s: parameters must be JSON values: %s"
                                 % (self.action, e)) from None
        _check("kind", self.kind, self.kind is None or self.kind in KINDS,
               "one of %s" % ", ".join(KINDS))
        _check("method", self.method, self.method is None or isinstance(self.method, str),
               "a string")
        _check("times", self.times, self.times is None or (
            type(self.times) is int and self.times > 0), "a positive integer or null")
        _check("delay", self.delay, type(self.delay) in (int, float) and 0 <= self.delay < 1e6,
               "a number of seconds below 1e6")
        if self.method is not None:
            self.method = self.method.upper()
        try:
            self._pattern = None if self.path is None else re.compile(self.path)
        except (re.error, TypeError) as e:
            raise FaultRuleError("path: not a regex: %s" % e) from None

    @classmethod
    def from_dict(cls, spec):
        """A rule from its flat form, a dict (see the module doc)."""
        params = dict(spec)
        if "action" not in params:
            raise FaultRuleError("action: missing")
        name = params.pop("action")
        matching = {k: params.pop(k) for k in _MATCHING if k in params}
        return cls(name, params, **matching)

    def to_dict(self):
        return {"action": self.action, **self.params, "path": self.path, "kind": self.kind,
                "method": self.method, "times": self.times, "delay": self.delay}

    def matches(self, method, path, kind):
        return ((self.method is None or self.method == method)
                and (self.kind is None or self.kind == kind)
                and (self._pattern is None or self._pattern.search(path) is not None))


def _check(name, value, ok, expected):
    if not ok:
        raise FaultRuleError("%s: must be %s, not %r" % (name, expected, value))


def _check_params(fn, params):
    signature = inspect.signature(fn)
    try:
        signature.bind(None, **params)
    except TypeError as e:
        raise FaultRuleError("%s: %s" % (fn.__name__, e)) from None
    for name, value in params.items():
        expected = signature.parameters[name].annotation
        if expected is not inspect.Parameter.empty:
            # JSON's true is no number: a bool passes only where the parameter is one
            boolean = expected is bool or bool in getattr(expected, "__args__", ())
            ok = isinstance(value, expected) and (boolean or not isinstance(value, bool))
            _check(name, value, ok, "of type %s" % getattr(expected, "__name__", expected))


class Faults:
    """The active rules, in the order added; safe to use from any thread."""

    def __init__(self):
        self._rules = []
        self._lock = threading.Lock()

    def add(self, spec=None, **fields):
        """Add a rule from a dict and/or keywords (`add(action="close", kind="bulk")`)."""
        if spec is not None and not isinstance(spec, dict):
            raise FaultRuleError("a rule must be an object")
        rule = Rule.from_dict({**(spec or {}), **fields})
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self):
        """Remove every rule; returns how many there were."""
        with self._lock:
            count, self._rules = len(self._rules), []
        return count

    def rules(self):
        with self._lock:
            return list(self._rules)

    def take(self, method, path, kind):
        """The first rule matching this request, counted as used; None if none matches."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, kind):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self._rules.remove(rule)
                    return rule
        return None
