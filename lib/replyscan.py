"""What a Sensocan reply body says, read as it streams in (httpc's sink), in fixed memory.

A reply can be any size: a 422 naming every item of a 1000-reading request is 70 KB, a
proxy's error page or a broken server sends anything. Nothing of it is kept but what
the uplink acts on: the top-level "message" (its first TEXT bytes) and "count"; from
"errors", which data items it blames (keys `data.N...`, a bitmap), which of those blame
the item's sensor (`data.N.sensor_slug`, `data.N.sensor_uuid`), whether it names
`battery_voltage` or anything else about the request as a whole, and its first error
as text for the log. A JSON tokenizer with no recursion and a depth bound; string
contents are skipped with find(), so a long body costs time, never memory. A body that
is not JSON (or nests deeper than _DEPTH) stops the scan where it goes wrong: what was
read until then stands.
"""

from micropython import const

TEXT = const(96)  # bytes kept of a message or an error's text
_DEPTH = const(16)
_KEY, _COLON, _VALUE, _AFTER = const(0), const(1), const(2), const(3)  # what comes next
_SKIP, _KEY1, _KEY2, _MSG, _DETAIL = const(0), const(1), const(2), const(3), const(4)
_MESSAGE, _COUNT, _ERRORS = const(1), const(2), const(3)  # top-level keys we read
_SCALAR = b"0123456789+-.eEtruefalsn"  # the bytes of numbers, true, false and null


class Scan:
    """One reply body at a time: reset(), then feed(buf, start, end) for each piece.

    After it: `message` (str), `count` (int or None), `named` and `unknown` (bitmaps of
    the first `max_items` items: bit i set when the errors blame item i, or its
    sensor), `battery` (battery_voltage is blamed), `whole` (some other key that names
    no item), `detail` (the first error, "key: text"), `bad` (the body is not JSON from
    some point on).
    """

    def __init__(self, max_items):
        n = (max_items + 7) // 8
        self.named = bytearray(n)
        self.unknown = bytearray(n)
        self._cap = bytearray(TEXT)
        self._kinds = bytearray(_DEPTH)  # 123 "{" or 91 "[" per depth
        self.reset()

    def reset(self):
        for b in (self.named, self.unknown):
            for i in range(len(b)):
                b[i] = 0
        self.message = self.detail = ""
        self.count = None
        self.battery = self.whole = self.bad = False
        self._depth = 0
        self._next = _VALUE
        self._top = 0  # the top-level key whose value the scan is in
        self._role = -1  # inside a string: what it is for (-1: not in a string)
        self._esc = False
        self._ncap = 0
        self._key = ""  # the errors key whose first text becomes `detail`
        self._num = -1  # "count" digits so far (-1: not in it)

    def feed(self, buf, i, end):
        while i < end and not self.bad:
            if self._role >= 0:
                i = self._string(buf, i, end)
                continue
            c = buf[i]
            i += 1
            if c <= 32:
                continue
            if self._num >= 0 or self._next == _AFTER and c in _SCALAR:
                if 48 <= c <= 57 and self._num >= 0:
                    self._num = min(self._num * 10 + c - 48, 0x3FFFFFFF)
                elif c in _SCALAR:
                    self._num = -1  # a fraction, a sign or a literal: not a count
                    self.count = None
                    self._next = _AFTER
                else:
                    self._end_number()
                    i -= 1  # the byte after the number is read again
                continue
            self._token(c)

    def _end_number(self):
        if self._num >= 0 and self._depth == 1 and self._top == _COUNT:
            self.count = self._num
        self._num = -1

    def _token(self, c):
        depth, nxt = self._depth, self._next
        if c == 34:  # "
            if nxt == _KEY:
                role = _KEY1 if depth == 1 else _KEY2 if depth == 2 and self._top == _ERRORS else _SKIP
            elif nxt == _VALUE:
                role = (_MSG if depth == 1 and self._top == _MESSAGE
                        else _DETAIL if self._key and depth > 1 and self._top == _ERRORS
                        else _SKIP)
            else:
                self.bad = True
                return
            self._role = role
            self._ncap = 0
        elif c == 123 or c == 91:  # { [
            if nxt != _VALUE or depth == _DEPTH:
                self.bad = True
                return
            self._kinds[depth] = c
            self._depth = depth + 1
            self._next = _KEY if c == 123 else _VALUE
        elif c == 125 or c == 93:  # } ]
            if not depth or self._kinds[depth - 1] != c - 2 or nxt == _COLON:
                self.bad = True
                return
            self._depth = depth - 1
            self._next = _AFTER
        elif c == 58:  # :
            self.bad = nxt != _COLON
            self._next = _VALUE
        elif c == 44:  # ,
            self.bad = nxt != _AFTER or not depth
            self._next = _KEY if self._kinds[depth - 1] == 123 else _VALUE
        elif nxt == _VALUE and c in _SCALAR:
            self._next = _AFTER
            self._num = c - 48 if 48 <= c <= 57 and depth == 1 and self._top == _COUNT else -1
            if self._num < 0 and depth == 1 and self._top == _COUNT:
                self.count = None
        else:
            self.bad = True

    def _string(self, buf, i, end):
        """Read string bytes from i; returns where the scan goes on."""
        if self._esc:  # the byte after a backslash: kept as it is, never the end
            self._esc = False
            self._keep(buf, i, i + 1)
            return i + 1
        q = buf.find(b'"', i, end)
        b = buf.find(b"\\", i, q if q >= 0 else end)
        stop = b if b >= 0 else q if q >= 0 else end
        self._keep(buf, i, stop)
        if stop == end:
            return end
        if stop == b:
            self._esc = True
            return stop + 1
        self._end_string()
        return stop + 1

    def _keep(self, buf, i, j):
        if self._role > _SKIP:
            n = min(j - i, TEXT - self._ncap)
            if n > 0:
                self._cap[self._ncap : self._ncap + n] = buf[i : i + n]
                self._ncap += n

    def _end_string(self):
        role, cap, n = self._role, self._cap, self._ncap
        self._role = -1
        self._next = _COLON if self._next == _KEY else _AFTER
        if role == _KEY1:
            self._top = (_MESSAGE if cap[:n] == b"message" else _COUNT if cap[:n] == b"count"
                         else _ERRORS if cap[:n] == b"errors" else 0)
        elif role == _KEY2:
            self._blame(cap, n)
        elif role == _MSG:
            self.message = _text(cap, n)
        elif role == _DETAIL:
            self.detail = self._key + ": " + _text(cap, n)
            self._key = ""

    def _blame(self, cap, n):
        """An errors key: data.N.field blames item N (its sensor, for sensor_*); any other
        key the request as a whole, battery_voltage apart."""
        if not self.detail and not self._key:
            self._key = _text(cap, n)
        k, item = 5, -1
        if n > 5 and cap[:5] == b"data.":
            while k < n and 48 <= cap[k] <= 57 and item < 100000:
                item = (item if item > 0 else 0) * 10 + cap[k] - 48
                k += 1
            if k < n and cap[k] != 46:  # "data.3x": not an item
                item = -1
        if item < 0:
            if cap[:n] == b"battery_voltage":
                self.battery = True
            else:
                self.whole = True
        elif item < len(self.named) * 8:
            bit = 1 << (item & 7)
            self.named[item >> 3] |= bit
            if k + 8 <= n and cap[k + 1 : k + 8] == b"sensor_":
                self.unknown[item >> 3] |= bit

    def finish(self):
        """The body ended: a number at its very end is complete now."""
        self._end_number()


def _text(cap, n):
    try:
        return str(cap[:n], "utf-8")
    except UnicodeError:  # cut in a multi-byte character, or not text at all
        return repr(bytes(cap[:n]))[2:-1]
