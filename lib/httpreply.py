"""An HTTP/1.1 reply read in a fixed buffer: the status line, the headers kept by name,
and the body handed to a sink as it arrives. httpc.Client is the connection it reads from.

Header lines longer than the buffer are skipped and the header section is bounded, so
no reply, however large or strange, costs more memory. Once a status line and headers
have arrived, the status stands: a body cut short (closed, bad framing, the deadline)
gives `complete` False, not an error.
"""

from collections import namedtuple

from micropython import const

_MAX_HEAD = const(65536)  # bytes of status line and headers (or trailer) per reply
_CHUNKED = const(-2)  # body length of a chunked reply (-1: none given, read to close)
_UNFRAMED = const(-3)  # a body whose end cannot be known (bad length, unknown encoding)

# `status` int, `headers` dict of the kept lower-case names (values verbatim),
# `complete` False when the body was cut short, `resent` True when the request went
# out twice (a kept-alive connection closed under it): the server may have both.
Response = namedtuple("Response", ("status", "headers", "complete", "resent"))

# HTTPError.why: what failed
NETWORK = "network"  # DNS, connect, send, the reply's wait: the link or the server's host
TLS = "tls"  # the server's certificate is not trusted: a person must fix the CA or the URL
MALFORMED = "malformed"  # no HTTP status line and headers came back


class HTTPError(Exception):
    """The request failed before a status line and headers came back: transport,
    timeout, TLS or a malformed reply (`why`).

    `sent` is False only when the request cannot have reached the server: no body
    byte (bodyless: not the end of its headers) was written. When True the server
    may have acted on it, so a retry may deliver it twice. `resent`: it went out twice
    before failing (a kept-alive connection closed under it), so both may have arrived.
    """

    def __init__(self, message, sent=False, why=NETWORK, resent=False):
        super(HTTPError, self).__init__(message)
        self.sent = sent
        self.why = why
        self.resent = resent


def _num(buf, start, end, base):
    # Strict unsigned decimal/hex in buf[start:end] (no sign, space or "_"), saturating
    # at 2**24 so it stays a small int; -1 if it is not a number.
    n = 0 if start < end else -1
    for i in range(start, end):
        c = buf[i]
        if 48 <= c <= 57:
            c -= 48
        elif 97 <= c | 32 < 87 + base:  # a-f, in hex
            c = (c | 32) - 87
        else:
            return -1
        n = min(n * base + c, 0x1000000)
    return n


class Reader:
    """Reads replies through `buf`, whose size is the longest status line or kept header;
    its unread bytes are buf[_pos:_end]. The subclass is the connection: its _fill()
    reads more, its close() drops it. `keep_headers`: the header names whose values a
    Response carries (lower-cased)."""

    def __init__(self, size, keep_headers):
        if keep_headers is None:  # one string, not a tuple of six: each constant is an object
            keep_headers = ("retry-after x-ratelimit-limit x-ratelimit-remaining date "
                            "content-type connection").split()
        self.keep_headers = tuple(map(str.lower, keep_headers))
        self.buf = bytearray(size)
        self._mv = memoryview(self.buf)
        self._pos = self._end = self._a = self.bytes_received = 0

    def _fill(self):
        # The connection's: read more bytes into buf[_end:] and count them; 0 at its end.
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def _line(self, name, skip=False):
        # Next line, CR LF or LF stripped, is buf[self._a:<returned end>]; with `skip`, one
        # longer than the buffer is passed over (returns -1), else it is an error.
        buf = self.buf
        size = len(buf)
        long = False
        while (i := buf.find(b"\n", self._pos, self._end)) < 0:
            a = self._pos
            if self._end == size:  # move the partial line to the front
                if not a:
                    if not skip:
                        raise HTTPError("%s line longer than %d bytes" % (name, size),
                                        why=MALFORMED)
                    long = True
                self._end -= a
                buf[: self._end] = self._mv[a:size]
                self._pos = 0
                if long:
                    self._end = 0
            if not self._fill():
                raise HTTPError("connection closed in %s" % name)
        self._a = a = self._pos
        self._pos = i + 1
        if long:
            return -1
        return i - 1 if i > a and buf[i - 1] == 13 else i

    def _header(self, name, start):
        # A header (or trailer) line as _line(); the section is bounded in bytes.
        e = self._line(name, True)
        if self.bytes_received - start > _MAX_HEAD:
            raise HTTPError("reply %ss exceed %d bytes" % (name, _MAX_HEAD), why=MALFORMED)
        return e

    def _reply(self, method, sink, resent):
        # The status line and headers (past any 1xx reply), then the body into `sink`.
        buf = self.buf
        start = self.bytes_received
        while True:
            e = self._line("status")
            a = self._a
            s = -1
            if (e - a >= 12 and buf.startswith("HTTP/1.", a) and 48 <= buf[a + 7] <= 49
                    and buf[a + 8] == 32 and (e == a + 12 or buf[a + 12] == 32)):
                s = _num(buf, a + 9, a + 12, 10)
            if not 100 <= s <= 599:
                raise HTTPError("bad %s %r" % ("status line", bytes(buf[a : min(e, a + 40)])),
                                why=MALFORMED)
            close = buf[a + 7] == 48  # HTTP/1.0
            n = -1  # the body's length
            headers = {}  # only the wanted names
            while (e := self._header("header", start)) != self._a:
                if e < 0:
                    continue  # longer than the buffer: none we keep
                a = self._a
                c = a  # lower-case the name in place: compared without allocating
                while c < e and buf[c] != 58:  # ":"
                    if 65 <= buf[c] <= 90:
                        buf[c] += 32
                    c += 1
                # Bytes up to 32: SP, HTAB or other control bytes, none of them allowed
                # around the name (no obsolete line folding either).
                if c == e or c == a or buf[a] <= 32 or buf[c - 1] <= 32:
                    raise HTTPError("malformed header line %r" % bytes(buf[a : min(e, a + 40)]),
                                    why=MALFORMED)
                v = c + 1
                while v < e and buf[v] <= 32:
                    v += 1
                while e > v and buf[e - 1] <= 32:
                    e -= 1
                c -= a
                if c == 14 and buf.startswith("content-length", a):
                    m = _num(buf, v, e, 10)
                    if n != _CHUNKED:  # Transfer-Encoding wins
                        n = m if m >= 0 and n in (-1, m) else _UNFRAMED
                elif c == 17 and buf.startswith("transfer-encoding", a):
                    n = _CHUNKED if bytes(buf[v:e]).lower() == b"chunked" else _UNFRAMED
                elif c == 10 and buf.startswith("connection", a):
                    close |= b"close" in bytes(buf[v:e]).lower()
                for k in self.keep_headers:
                    if c == len(k) and buf.startswith(k, a):
                        try:
                            headers[k] = str(self._mv[v:e], "utf-8")
                        except UnicodeError:  # not text: as if it were not there
                            pass
            if s >= 200:  # 1xx replies are interim
                break
        if method == "HEAD" or s == 204 or s == 304:
            n = 0
        elif n == -1:
            close = True
        try:
            complete = n != _UNFRAMED and self._body(n, sink)
        except (OSError, HTTPError):  # the status stands; the rest of the body is lost
            complete = False
        if not complete or close or self._pos != self._end:  # bytes beyond the framing
            self.close()
        return Response(s, headers, complete, resent)

    def _body(self, n, sink):
        # n bytes (Content-Length), chunks, or all up to the end of the stream (n -1),
        # each piece to sink; False when the body ended early or broke its framing.
        buf = self.buf
        while n:
            m = n
            if n == _CHUNKED:
                e = self._line("chunk size")
                a = i = self._a
                while i < e and buf[i] != 59:  # chunk extensions (";") are ignored
                    i += 1
                while i > a and buf[i - 1] <= 32:
                    i -= 1
                m = _num(buf, a, i, 16)
                if m < 0:
                    return False
                if not m:  # the trailer: header lines, bounded like the others, not kept
                    start = self.bytes_received
                    while self._header("trailer", start) != self._a:
                        pass
                    return True
            while m:  # hand m bytes (all there are if m < 0) to the sink
                c = self._end - self._pos
                if 0 <= m < c:
                    c = m
                if c:
                    if sink:
                        sink(buf, self._pos, self._pos + c)
                    self._pos += c
                    if m > 0:
                        m -= c
                    continue
                self._pos = self._end = 0
                if not self._fill():
                    return m < 0  # read to close ends here; a counted one ended early
            if n != _CHUNKED:
                return True
            if self._line("chunk") != self._a:
                return False
        return True
