"""The Sensocan device API: every path, field name and reply meaning the node knows.

Bodies are streamed: a Body pulls its readings from an iterator (the upload's window
of spool records) as httpc's buffer takes them, writing the JSON by hand (the shapes
are fixed and tiny), so an upload's memory does not depend on how many readings it
carries. Its length (Content-Length) comes from the request's planned size, so the
readings are read once to send them. An item allocates nothing: its value goes from the
record's float32 bytes to text (jsonnum.py) and its time from node seconds to ISO 8601
(clock.py), both straight into the writer's buffer. Every reply, including a
transport failure, comes back as a Reply whose `kind` says what the caller must do
with the readings it sent; the body is read as it streams (replyscan.py), in fixed
memory whatever its size, and the functions below say what it blames.
"""

import struct
import time

from micropython import const

import clock
import httpc
import jsonnum
import record
from number import finite  # JSON carries no NaN or infinity
from replyscan import Scan

STORED = "stored"
UNAUTHORIZED = "unauthorized"
NOT_FOUND = "not_found"
INVALID = "invalid"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
NETWORK_ERROR = "network_error"
TLS_REFUSED = "tls_refused"  # the server's certificate is not trusted (api.ca_cert)
BAD_REPLY = "bad_reply"  # no HTTP status line and headers came back
DEADLINE = "deadline"  # the wake's time for the radio (upload.deadline_s) ran out
UNEXPECTED = "unexpected"
_KINDS = {401: UNAUTHORIZED, 404: NOT_FOUND, 422: INVALID, 429: RATE_LIMITED}
_SENSOR_NOT_FOUND = "Sensor not found."
_DEVICE_NOT_FOUND = "Device not found."
_WHY = {httpc.TLS: TLS_REFUSED, httpc.MALFORMED: BAD_REPLY}
_PATHS = ("/readings", "/sensors/%s/readings/bulk", "/sensors/%s/readings")  # by endpoint

# What a failed upload needs, in one place (the README's table "How the node handles
# failures"): the node waits out TRANSIENT ones with backoff (reset by any request the
# server answered), RATE_LIMIT ones as the server says, and PERSON ones (a fix to the
# config or the dashboard) log to flash, light the LED and retry every alert_retry_s.
TRANSIENT, RATE_LIMIT, PERSON = "transient", "rate limit", "needs a person"
_CLASSES = {UNAUTHORIZED: PERSON, NOT_FOUND: PERSON, TLS_REFUSED: PERSON,
            RATE_LIMITED: RATE_LIMIT}
MAX_ITEMS = const(1024)  # items a request carries at most (upload.chunk_max is 1000 at most)

# The endpoints a request can go to: many sensors' items, one sensor's items (named in
# the path), one reading of one sensor.
BATCH, BULK, SINGLE = const(0), const(1), const(2)
# What a 422 says of one item (blame()): nothing, its data, or its sensor (unknown).
BAD, UNKNOWN = const(1), const(2)


def failure(kind):
    """The failure class of a reply kind that stopped an upload (see above)."""
    return _CLASSES.get(kind, TRANSIENT)


def blames_items(reply, batch):
    """A reply that blames some items of the request, not its sender: a 422, a 404 for
    a sensor (in a batch only when it says so: a batch's path names no sensor), a 400
    or a 413 (a request the server will not take as it is). Splitting the request
    finds them; the others go on."""
    if reply.kind is INVALID or reply.status == 400 or reply.status == 413:
        return True
    return reply.kind is NOT_FOUND and reply.message != _DEVICE_NOT_FOUND and (
        not batch or reply.message == _SENSOR_NOT_FOUND)


def names_items(reply):
    """A 422 that may name the items it rejects (data.N.field), not the whole request."""
    return reply.kind is INVALID and not reply.scan.whole


def blame(reply, k):
    """What a 422 naming items (names_items) says of item k of the request: BAD (its
    data), UNKNOWN (its sensor) or 0 (nothing)."""
    scan = reply.scan
    if k >= MAX_ITEMS or not _bit(scan.named, k):
        return 0
    return UNKNOWN if _bit(scan.unknown, k) else BAD


def battery_refused(reply, battery):
    """The log text when a 422 blames the request's battery_voltage, else None."""
    if battery is not None and reply.kind is INVALID and reply.scan.battery:
        return "server rejects battery_voltage %r (%s)" % (battery, detail(reply) or reply.message)
    return None


def detail(reply):
    """The server's words for what it blamed ("" for none), for a log line."""
    return reply.scan.detail if reply.scan else ""


def _bit(bits, i):
    return bits[i >> 3] >> (i & 7) & 1


BULK_PREFIX = b'{"value":'  # bulk and single items name no sensor: it is in the path
BATTERY_MAX = const(100)  # the API's allowed battery_voltage range is 0-100 V
_ITEM_ROOM = const(52)  # an item's tail: number (15), ',"timestamp":"' (14), ISO time (20), '"}'
_TIMESTAMP = b',"timestamp":"'
_scratch = bytearray(_ITEM_ROOM)  # item_size() writes an item's tail here to measure it


class Reply:
    """What the server said. `sent` is False only when the request surely never
    arrived; `resent` True when it went out twice (the server may have both);
    `retry_after` and `remaining` come from the rate-limit headers; `scan` (a
    replyscan.Scan, valid until the next request) is what the body blamed."""

    def __init__(self, kind, status=0, message="", sent=True, scan=None):
        self.kind = kind
        self.status = status
        self.message = message
        self.sent = sent
        self.scan = scan
        self.resent = False
        self.count = self.retry_after = self.remaining = None


def item_prefix(slug=None, uuid=None):
    """The constant head of a batch item for one sensor, rendered once per upload: by
    slug or uuid, whichever is shorter on the wire."""
    if uuid and not (slug and len(slug) < len(uuid)):
        return b'{"sensor_uuid":"' + uuid.encode() + b'","value":'
    return b'{"sensor_slug":"' + slug.encode() + b'","value":'


def item_size(src, at, t):
    """Bytes of an item beyond its prefix: the float32 at src[at:at + 4] (finite) and
    node time `t` (or None) as Body.item writes them. Allocates nothing."""
    return _tail(_scratch, 0, src, at, t)


def _tail(buf, pos, src, at, t):
    """An item's value, timestamp and closing brace at buf[pos:]; returns the end, -1
    for a value JSON cannot carry."""
    end = jsonnum.write(buf, pos, src, at)
    if end < 0:
        return -1
    if t is not None:
        buf[end : end + 14] = _TIMESTAMP
        end = clock.write_iso(buf, end + 14, t)
        buf[end] = 34  # "
        end += 1
    buf[end] = 125  # }
    return end + 1


def battery_ok(v):
    """A battery_voltage the API accepts (finite, 0-100 V)."""
    return finite(v) and 0 <= v <= BATTERY_MAX


class Writer:
    """What a Body writes into. put(data) takes bytes; room(n) gives a position in `buf`
    with n bytes free for text written in place, wrote(end) takes buf[position:end].
    This one counts the bytes (a body's Content-Length) and hands them to `out`, if
    given (allocating a view a piece: for tests and tools); httpc.Client sends them."""

    def __init__(self, out=None):
        self.buf = bytearray(_ITEM_ROOM)
        self.n = 0
        self.out = out

    def put(self, data):
        self.n += len(data)
        if self.out:
            self.out(data)

    def room(self, n):
        return 0

    def wrote(self, end):
        self.n += end
        if self.out:
            self.out(memoryview(self.buf)[:end])


class Body:
    """A readings body, streamed: the same items in the same order every time it is
    written (httpc writes it again to resend it).

    `readings` is a list of (prefix, value, t) with float values (t None: no
    timestamp), or a window the body pulls from: iterating it yields the index of each
    reading's spool record in `readings.buf` (its sensor is the index into `prefixes`
    in a batch; None: bulk items), and readings.when(i) is its time. `size` (the items'
    bytes) and `count` give the length without a walk; without them len() walks the
    items once."""

    def __init__(self, readings, battery=None, head=b'{"data":[', close=b"]", prefixes=None,
                 count=0, size=None):
        if battery is not None and not battery_ok(battery):
            raise ValueError("battery_voltage must be a number from 0 to 100, got %r" % (battery,))
        self.readings = readings
        self.head = head
        self.close = close + (b"" if battery is None else b',"battery_voltage":%.4g' % battery)
        self.prefixes = prefixes
        self.count = count
        self.size = size
        self.items = 0
        self._f = bytearray(4)

    def __len__(self):
        if self.size is None:
            w = Writer()
            self.write_to(w)
            return w.n
        return len(self.head) + self.size + max(0, self.count - 1) + len(self.close) + 1

    def write_to(self, w):
        self.items = 0
        w.put(self.head)
        src = self.readings
        if isinstance(src, (list, tuple)):
            for prefix, value, t in src:
                if not finite(value):
                    raise ValueError("value must be a finite number, got %r" % (value,))
                struct.pack_into("<f", self._f, 0, value)
                self.item(w, prefix, self._f, 0, t)
        else:
            for i in src:  # pulls: the window reads the spool as it goes
                self.reading(w, src, i)
        w.put(self.close)
        w.put(b"}")

    def reading(self, w, src, i):
        """Reading `i` of the window `src`: the per-reading path, which allocates nothing."""
        p = self.prefixes
        buf = src.buf
        self.item(w, p[record.sensor(buf, i)] if p else BULK_PREFIX, buf, record.value_at(i),
                  src.when(i))

    def item(self, w, prefix, src, at, t):
        """One reading: `prefix` its head (item_prefix() or BULK_PREFIX), its value the
        float32 at src[at:at + 4], `t` node seconds or None. Allocates nothing."""
        if self.items:
            w.put(b",")
        self.items += 1
        w.put(prefix)
        end = _tail(w.buf, w.room(_ITEM_ROOM), src, at, t)
        if end < 0:
            raise ValueError("value must be a finite number")
        w.wrote(end)


class Api:
    """One device's view of the API over a keep-alive httpc.Client. `until` (a
    time.ticks_ms() value, or None) is when the radio must be off: no request runs past
    it."""

    def __init__(self, http, device_uuid, token):
        self.http = http
        self.device = device_uuid
        self.until = None
        self.scan = Scan(MAX_ITEMS)
        self._headers = (
            ("Authorization", "Bearer " + token),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        )

    def post(self, path, body):
        """POST a Body to /devices/<device><path>; returns the Reply."""
        scan = self.scan
        deadline = None
        if self.until is not None:
            deadline = time.ticks_diff(self.until, time.ticks_ms())
            if deadline <= 0:
                return Reply(DEADLINE, message="the wake's time for the radio ran out "
                             "(upload.deadline_s)", sent=False)
        scan.reset()
        try:
            r = self.http.request("POST", "/devices/%s%s" % (self.device, path), body,
                                  self._headers, scan.feed, deadline)
        except httpc.HTTPError as e:
            reply = Reply(_WHY.get(e.why, NETWORK_ERROR), message=str(e), sent=e.sent)
            reply.resent = e.resent
            return reply
        scan.finish()
        reply = classify(r.status, r.headers, scan)
        reply.resent = r.resent
        return reply

    def send(self, endpoint, uuid, readings, battery=None, prefixes=None, count=0, size=None):
        """A request to `endpoint` (BATCH; BULK or SINGLE for the sensor `uuid`), its body
        pulling the items from `readings` (see Body: a window's batch items are headed by
        `prefixes`); `count` and `size` as Body's."""
        if endpoint == SINGLE:  # its data is an object, not a list
            body = Body(readings, battery, b'{"data":', b"", None, 1, size)
        else:
            body = Body(readings, battery, prefixes=prefixes if endpoint == BATCH else None,
                        count=count, size=size)
        path = _PATHS[endpoint]
        return self.post(path if endpoint == BATCH else path % uuid, body)

    def single(self, sensor_uuid, value, t=None, battery=None):
        """One reading through the single-reading endpoint."""
        return self.send(SINGLE, sensor_uuid, ((BULK_PREFIX, value, t),), battery)

def classify(status, headers, scan):
    """Turn a status, the kept headers and what the body said into a Reply."""
    kind = (STORED if 200 <= status < 300 else SERVER_ERROR if status >= 500
            else _KINDS.get(status, UNEXPECTED))
    r = Reply(kind, status, scan.message, scan=scan)
    r.count = scan.count
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
