"""Small HTTP/1.1 client: verified TLS, one kept-alive connection, replies of any
size read in a fixed 1 KiB buffer, and an overall deadline per request
(micropython-lib `requests` has none of these).

    c = Client("https://api.sensocan.com/api/v1", ca=ca_der)
    r = c.request("POST", "/readings", body, (("Content-Type", "application/json"),), sink)
    r.status, r.headers.get("retry-after"), r.complete

A reply's body is never held: its bytes go to `sink(buf, start, end)` as they arrive
(the caller parses what it needs, sensocan.Scan) and are dropped; httpreply.py reads
replies, this module connects, sends and decides on a resend.

The socket is non-blocking and every wait is a poll bounded by the per-wait timeout
and the deadline, so no silent or trickling server (or TLS handshake) outlasts it.
The counters are kept on the client itself: the node's heap pays for each object.
"""

import time

from micropython import const

from httpreply import MALFORMED, NETWORK, TLS, HTTPError, Reader, Response  # noqa: F401

_BUF = const(1024)  # send/receive buffer; also the longest status line or kept header
_TLS_VERIFY = const(-0x2700)  # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, as OSError on some builds
_POLLIN = const(1)  # select.POLLIN, POLLOUT, POLLERR|POLLHUP: the same on every port
_POLLOUT = const(4)
_POLLERR_HUP = const(24)


class Client(Reader):
    """One server, one persistent connection; not for concurrent use.

    The keyword settings stay readable as attributes of the same names (keep_headers
    lower-cased). `stats` is the client itself: its connects, handshakes, requests,
    resends (requests sent again on a new connection), bytes_sent and bytes_received
    (HTTP bytes, before TLS) count for benchmarks.
    """

    def __init__(self, base_url, *, ca=None, allow_insecure_http=False, timeout_ms=10000,
                 deadline_ms=30000, keep_headers=None):
        https = base_url.startswith("https://")
        if not https and not base_url.startswith("http://"):
            raise ValueError("api.base_url must start with https:// (got %r)" % base_url)
        rest = base_url[7 + https :]
        b = rest.encode()
        for c in b" @?#[]\\":  # bytes: iterating a str would make each char a new qstr
            if c in b:
                raise ValueError("api.base_url: %r is not allowed" % chr(c))
        auth = rest.split("/", 1)[0]
        # The request line's text after the method: a space and the base path.
        self._target = (" " + rest[len(auth) :].rstrip("/")).encode()
        port = 443 if https else 80
        host, c, p = auth.partition(":")
        if c:
            if not p.isdigit() or not 0 < int(p) < 65536:
                raise ValueError("api.base_url has a bad port %r" % p)
            if int(p) == port:
                auth = host  # the Host header leaves out a default port
            port = int(p)
        if not host:
            raise ValueError("api.base_url has no host")
        self.host, self.port = host, port
        self._head = (" HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n" % auth).encode()
        self._ctx = self._addr = self._sock = self._raw = self._poll = None
        if https:
            if not ca:
                raise ValueError("no CA certificate is configured (api.ca_cert) for https://")
            import tls  # only https pays for TLS

            ctx = self._ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = tls.CERT_REQUIRED  # the client default, but never rely on it
            if isinstance(ca, str):
                ca = ca.encode()
            ders = ca.split(b"-----BEGIN CERTIFICATE-----")
            if len(ders) > 1 or b"-----END" in ca:
                # Not every build's mbedtls parses PEM (the unix port's does not): load DER.
                from binascii import a2b_base64

                pems, ders = ders[1:], []
                for pem in pems:
                    i = pem.find(b"-----END")
                    if i < 0:
                        ders = None
                        break
                    ders.append(a2b_base64(pem[:i]))
                if not ders:
                    raise ValueError("api.ca_cert: no complete PEM CERTIFICATE block")
            for der in ders:  # each call adds to the trusted set
                try:
                    ctx.load_verify_locations(der)
                except (ValueError, OSError) as e:
                    raise ValueError("api.ca_cert: invalid certificate (%s)" % e)
        elif not allow_insecure_http:
            raise ValueError("api.base_url uses plain http://; "
                             "set api.allow_insecure_http to true to allow it")
        Reader.__init__(self, _BUF, keep_headers)
        self.timeout_ms = timeout_ms
        self.deadline_ms = deadline_ms
        self.stats = self
        self.connects = self.handshakes = self.requests = self.resends = self.bytes_sent = 0

    def close(self):
        """Drop the connection; the next request opens a new one."""
        s, r = self._sock, self._raw
        self._sock = self._raw = self._poll = None
        if s:
            s.close()
        if r:  # a TLS wrapper whose handshake failed no longer owns the socket
            r.close()

    def request(self, method, path, body=None, headers=None, sink=None, deadline_ms=None):
        """Send one request and read its reply, or raise HTTPError (and close).

        `method` is a str; `path` (str or bytes) follows the base path; `headers` are
        (name, value) pairs, bytes saving a copy; `body` is bytes-like or streamed: an
        object with len() and write_to(writer), called again if the request is resent,
        that writes through this client's put(), room() and wrote() (sensocan.Writer).
        The reply's body goes to `sink(buf, start, end)` piece by piece (None: dropped).
        The client's deadline bounds the whole request; `deadline_ms` shortens it.
        """
        if path and not path.startswith("/"):  # MicroPython's bytes take a str prefix too
            raise ValueError("path must start with /")
        if isinstance(body, str):
            raise TypeError("body must be bytes")
        n = -1 if body is None else len(body)  # a streamed body checks its items here
        self.requests += 1
        d = self.deadline_ms
        self._deadline = time.ticks_add(time.ticks_ms(), min(deadline_ms or d, d))
        self._sent = False  # sticky across the resend
        resent = False
        while True:
            got = self.bytes_received
            reused = False
            try:
                s = self._sock
                if s:
                    # A server that dropped the idle connection left it readable (FIN,
                    # RST or close_notify); nor may it have sent anything unasked.
                    self._poll.modify(s, _POLLIN)
                    reused = not any(self._poll.ipoll(0))
                    if not reused:
                        self.close()
                self._send(method, path, body, n, headers)
                self._phase = "reply"
                if self._fill():
                    return self._reply(method, sink, resent)
                raise OSError("connection closed before reply")  # like a reset
            except OSError as e:
                err = e
            except BaseException as e:
                self.close()
                if isinstance(e, HTTPError):  # timeouts and bad replies: never resent
                    e.sent = self._sent
                    e.resent = resent
                    raise
                if not isinstance(e, ValueError) or self._phase != "TLS handshake":
                    raise
                err = e  # how mbedtls rejects a certificate on the unix port
            self.close()
            # The server dropped the idle connection just as we reused it: the send fails
            # or the reply ends before its first byte. Resend (once: the new connection
            # is not a reused one); if the request had gone out, it may now arrive twice.
            if reused and self.bytes_received == got:
                self.resends += 1
                resent = self._sent
                continue
            why = NETWORK
            if not self._addr:  # the only step before there is an address
                err = "DNS lookup of %s failed: %s" % (self.host, err)
            elif isinstance(err, ValueError) or err.errno == _TLS_VERIFY:
                err = str(err.args[-1]).strip().replace("\n", ", ")  # unix: several lines
                err = "TLS: certificate not trusted: " + err
                why = TLS
            else:
                err = "%s failed: %s" % (self._phase, err)
            raise HTTPError(err, self._sent, why, resent)

    def _send(self, method, path, body, n, headers):
        # Connect unless the idle connection is still up, then write the request.
        self._pos = self._end = 0
        if not self._sock:
            # Imported here: a module global would hold a dict slot for the client's life.
            import errno
            import select
            import socket

            self._phase = "connect"
            if not self._addr:
                # getaddrinfo() has no timeout on MicroPython and so sits outside the
                # deadline: resolve once and keep the address for the client's life.
                self._addr = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)[0]
            ai = self._addr
            s = self._sock = self._raw = socket.socket(ai[0], socket.SOCK_STREAM, ai[2])
            self.connects += 1
            s.setblocking(False)
            p = self._poll = select.poll()
            p.register(s, _POLLOUT)
            try:
                s.connect(ai[-1])
            except OSError as e:
                if e.errno != errno.EINPROGRESS:
                    raise
            if self._wait(_POLLOUT) & _POLLERR_HUP:
                s.readinto(self._mv[:1])  # raises the pending error, e.g. ECONNREFUSED
                raise OSError(errno.ECONNABORTED)
            if self._ctx:
                self._phase = "TLS handshake"
                self.handshakes += 1
                import gc

                gc.collect()  # gives empty GC areas back to the IDF heap mbedtls uses (ESP32)
                # No handshake here: it runs within the first writes, under our deadline.
                s = self._sock = self._ctx.wrap_socket(s, server_hostname=self.host,
                                                       do_handshake_on_connect=False)
                p.unregister(self._raw)
                p.register(s, _POLLOUT)
        put = self.put
        put(method)
        put(self._target)
        put(path if path or len(self._target) > 1 else "/")
        put(self._head)
        for k, v in headers or ():
            put(k)
            put(b": ")
            put(v)
            put(b"\r\n")
        if n >= 0:
            put(b"Content-Length: %d\r\n" % n)
        put(b"\r\n")
        if hasattr(body, "write_to"):  # streamed: written piece by piece through our buffer
            w = self.bytes_sent + self._end + n
            body.write_to(self)
            if self.bytes_sent + self._end != w:
                raise ValueError("streamed body is %d bytes, not its declared length %d"
                                 % (self.bytes_sent + self._end - w + n, n))
            self._write(self.buf, self._end, True)
        elif n > _BUF - self._end:  # a big body goes out on its own, from the caller's buffer
            self._write(self.buf, self._end, False)
            self._write(body, n, True)
        else:
            if n > 0:
                put(body)
            self._write(self.buf, self._end, True)
        self._end = 0

    def _wait(self, event):
        # Poll for `event` within the per-wait timeout and the request's deadline.
        left = time.ticks_diff(self._deadline, time.ticks_ms())
        t = min(left, self.timeout_ms)
        if t > 0:
            p = self._poll
            p.modify(self._sock, event)
            for _, got in p.ipoll(t):
                return got
        if left <= self.timeout_ms:
            raise HTTPError("%s: deadline of %d ms exceeded" % (self._phase, self.deadline_ms))
        raise HTTPError("%s timed out after %d ms" % (self._phase, self.timeout_ms))

    def _write(self, data, n, sent):
        # `sent`: these bytes complete the request, so from the first one on it may
        # reach the server.
        s = self._sock
        off = 0
        while off < n:
            w = s.write(data, off, n - off)
            if w:
                off += w
                self.bytes_sent += w
                self._phase = "send"  # past any TLS handshake
                if sent:
                    self._sent = True
            else:
                self._wait(_POLLOUT)

    def put(self, data):
        """Add bytes (or a str) to the request, gathered in buf[:_end]: one TLS record
        (TCP segment) when it fills, not one per piece."""
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        w = self.room(n) if n <= _BUF else self._flush()
        if n > _BUF:
            return self._write(data, n, False)
        self.buf[w : w + n] = data
        self._end = w + n

    def room(self, n):
        """The position in buf where `n` (<= 1 KiB) bytes of the request can be written
        in place; wrote() takes them."""
        return self._end if self._end + n <= _BUF else self._flush()

    def wrote(self, end):
        self._end = end

    def _flush(self):
        self._write(self.buf, self._end, False)
        self._end = 0
        return 0

    def _fill(self):
        # Read more reply bytes after the unread ones, buf[_pos:_end]; 0 at end of stream.
        # The deadline holds while bytes keep coming too: a body that never ends, fast.
        mv = self._mv[self._end :]
        while (n := self._sock.readinto(mv)) is None or time.ticks_diff(
                self._deadline, time.ticks_ms()) <= 0:
            self._wait(_POLLIN)
        self.bytes_received += n
        self._end += n
        return n
