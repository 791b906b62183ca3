"""The Sensocan device API: request bodies, headers and reply classification.

Bodies are written into one preallocated buffer (JSON by hand: the shapes are fixed
and tiny), so an upload never builds per-reading dicts or strings. Every reply,
including a transport failure, comes back as a Reply whose `kind` says what the
caller must do with the readings it sent.
"""

import json

from micropython import const

import clock
import httpc

STORED = "stored"
UNAUTHORIZED = "unauthorized"
NOT_FOUND = "not_found"
INVALID = "invalid"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
NETWORK_ERROR = "network_error"
UNEXPECTED = "unexpected"
_KINDS = {401: UNAUTHORIZED, 404: NOT_FOUND, 422: INVALID, 429: RATE_LIMITED}

_ITEM_MAX = const(64)  # '"value":-1.234568e+10,"timestamp":"2026-11-27T10:00:00Z"},'
_CLOSE_MAX = const(40)  # '],"battery_voltage":-1.234e+10}'
BULK_PREFIX = b"{"  # bulk items name no sensor: it is in the path


class Reply:
    """What the server said. `sent` is False only when the request surely never
    arrived; `retry_after` and `remaining` come from the rate-limit headers."""

    def __init__(self, kind, status=0, message="", sent=True):
        self.kind = kind
        self.status = status
        self.message = message
        self.sent = sent
        self.errors = self.count = self.retry_after = self.remaining = None


def finite(v):
    """JSON cannot carry NaN or infinity; such values are refused before sending."""
    return (type(v) is float or type(v) is int) and v == v and v - v == 0


def item_prefix(slug=None, uuid=None):
    """The constant head of a batch item for one sensor, rendered once per upload."""
    if uuid:
        return b'{"sensor_uuid":"' + uuid.encode() + b'",'
    return b'{"sensor_slug":"' + slug.encode() + b'",'


def rejected_items(errors):
    """Indices of the data items a 422 names (`data.3.value` -> 3), and whether any
    error concerns the request as a whole (`battery_voltage`, `data`)."""
    items, whole = set(), False
    for key in errors or ():
        parts = key.split(".")
        if len(parts) >= 3 and parts[0] == "data" and parts[1].isdigit():
            items.add(int(parts[1]))
        else:
            whole = True
    return items, whole


class Api:
    """One device's view of the API over a keep-alive httpc.Client."""

    def __init__(self, http, device_uuid, token, body_size=4096):
        self.http = http
        self.device = device_uuid
        self._headers = (
            ("Authorization", "Bearer " + token),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        )
        self.body = bytearray(body_size)
        self._n = 0
        self.items = 0

    def _put(self, data):
        n = self._n + len(data)
        self.body[self._n : n] = data
        self._n = n

    def begin(self, head=b'{"data":['):
        """Start a body: a bulk or batch array by default."""
        self._n = self.items = 0
        self._put(head)

    def add(self, prefix, value, t=None):
        """Append one item; False (nothing written) when the buffer is full.

        Raises ValueError for a value JSON cannot carry, before anything is sent.
        """
        if not finite(value):
            raise ValueError("value must be a finite number, got %r" % (value,))
        if self._n + len(prefix) + _ITEM_MAX + _CLOSE_MAX > len(self.body):
            return False
        if self.items:
            self._put(b",")
        self._put(prefix)
        self._put(b'"value":%.7g' % value)
        if t is not None:
            self._put(b',"timestamp":"')
            self._n = clock.write_iso(self.body, self._n, t)
            self._put(b'"')
        self._put(b"}")
        self.items += 1
        return True

    def _post(self, path, close, battery):
        """Close the body (`close`, then battery_voltage) and POST it."""
        self._put(close)
        if battery is not None:
            if not finite(battery):
                raise ValueError("battery_voltage must be a finite number, got %r" % (battery,))
            self._put(b',"battery_voltage":%.4g' % battery)
        self._put(b"}")
        try:
            r = self.http.request("POST", "/devices/%s%s" % (self.device, path),
                                  memoryview(self.body)[: self._n], self._headers)
        except httpc.HTTPError as e:
            return Reply(NETWORK_ERROR, message=str(e), sent=e.sent)
        return classify(r.status, r.headers, r.body)

    def send_batch(self, battery=None):
        """POST the items added since begin() (prefixes from item_prefix) as one batch."""
        return self._post("/readings", b"]", battery)

    def send_bulk(self, sensor_uuid, battery=None):
        """POST the items added since begin() (prefix BULK_PREFIX) for one sensor."""
        return self._post("/sensors/%s/readings/bulk" % sensor_uuid, b"]", battery)

    def single(self, sensor_uuid, value, t=None, battery=None):
        """POST one reading to the single-reading endpoint."""
        self.begin(b'{"data":')
        if not self.add(BULK_PREFIX, value, t):
            raise ValueError("request body buffer too small")
        return self._post("/sensors/%s/readings" % sensor_uuid, b"", battery)


def classify(status, headers, body):
    """Turn a status, the kept headers and the body into a Reply."""
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = {}
    if type(doc) is not dict:
        doc = {}
    msg = doc.get("message")
    kind = (STORED if 200 <= status < 300 else SERVER_ERROR if status >= 500
            else _KINDS.get(status, UNEXPECTED))
    r = Reply(kind, status, msg if type(msg) is str else "")
    if kind is INVALID and type(doc.get("errors")) is dict:
        r.errors = doc["errors"]
    if type(doc.get("count")) is int:
        r.count = doc["count"]
    v = headers.get("x-ratelimit-remaining", "").strip()
    if v.isdigit():
        r.remaining = int(v)
    v = headers.get("retry-after", "").strip()
    if v.isdigit():
        r.retry_after = int(v)
    elif v:  # an HTTP-date: how far ahead of the reply's own Date
        when, now = clock.parse_http_date(v), clock.parse_http_date(headers.get("date", ""))
        if when is not None and now is not None:
            r.retry_after = max(0, when - now)
    return r
