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

Actions (see each docstring): handle, reply, storm, close, reset, reply_close,
drop_after_store, garbage, truncate, bad_length, bad_chunked, trickle. The usual cases:

    5xx                          {"action": "reply", "status": 503}
    drop before storing          {"action": "close"}  (FIN)  or  {"action": "reset"}  (RST)
    drop after storing           {"action": "drop_after_store"}: the reply is lost
    slow reply (past a timeout)  {"action": "handle", "delay": 30}: stored after the delay
    reply trickled byte by byte  {"action": "trickle", "chunk": 1, "interval": 0.5}
    429 storm                    {"action": "storm", "retry_after": 5, "times": null}
    server down                  not a rule: MockServer.down() / POST /_mock/down

An action is a function `(exchange, **params)` registered with @action. The exchange
gives it: handle() (normal processing, readings stored, returns the Reply), render(reply)
(the RawReply about to be written), send(reply), write(bytes), close() (drop the
connection once the action returns), reset() (abort it now with a TCP RST) and
sleep(seconds). Adding an action is adding one function; its annotated parameters are
type-checked when a rule is added.
"""

import inspect
import json
import re
import threading
from dataclasses import dataclass, field

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
def handle(ex):
    """Normal processing and reply (with `delay`: a slow server)."""
    ex.send(ex.handle())


@action
def reply(ex, status: int, body=None, headers: dict | None = None):
    """Answer `status`, `body` (JSON, or a str sent as is; default {"message": <reason>})
    and `headers` instead of handling the request; stores nothing."""
    ex.send(Reply(status, {"message": reason(status)} if body is None else body,
                  dict(headers or {})))


@action
def storm(ex, retry_after: int = 1):
    """Too Many Requests, as the rate limit words it, with `Retry-After: retry_after` and
    `X-RateLimit-Remaining: 0`; stores nothing. A storm: give it `times` (null: until
    cleared), whatever the real limit says."""
    reply(ex, 429, {"message": "Too Many Requests"},
          {"Retry-After": str(retry_after), "X-RateLimit-Remaining": "0"})


@action
def close(ex):
    """Read the request, then close the connection without replying; stores nothing."""
    ex.close()


@action
def reset(ex):
    """Read the request, then abort the connection with a TCP reset (the client gets
    ECONNRESET, under TLS too); stores nothing."""
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
def trickle(ex, chunk: int = 1, interval: int | float = 0.05):
    """Normal processing; the reply goes out `chunk` bytes at a time, `interval` s apart."""
    data = ex.render(ex.handle()).to_bytes()
    step = max(1, chunk)
    for start in range(0, len(data), step):
        if start:
            ex.sleep(interval)
        ex.write(data[start:start + step])


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
            _check(name, value, not isinstance(value, bool) and isinstance(value, expected),
                   "of type %s" % getattr(expected, "__name__", expected))


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
