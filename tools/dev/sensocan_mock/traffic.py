"""Wire statistics for benchmarks, counted where the HTTP stream meets the socket.

`WireStats` (MockServer.wire) adds up TCP connections accepted, TLS handshakes completed
and the HTTP bytes received and sent: plaintext under TLS, request and reply in full,
exactly what recv() returned and send() took, whatever the parser made of it.

Connections to the control endpoint are left out, so a benchmark polling /_mock/stats
does not count itself: each connection's traffic is held back (`Tally`) until its first
request says which kind it is (a connection that never makes one counts when it closes).

Each counted connection is also kept whole for tests (MockServer.connections()): its
number, every byte the client sent, whether its TLS handshake failed, and when the
client closed its side, which tells a client that hung up from a server that did.
"""

import io
import ssl
import threading
import time

FIELDS = ("connections", "handshakes", "bytes_in", "bytes_out")


class WireStats:
    """The totals, as attributes; safe to update and read from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self.connections = self.handshakes = self.bytes_in = self.bytes_out = 0
        self._tallies = []  # every counted connection, in the order counted

    def add(self, tally):
        """Keep a connection counted from now on; returns its number (from 0)."""
        with self._lock:
            self._tallies.append(tally)
            return len(self._tallies) - 1

    def connection_log(self):
        """Each counted connection so far (not cleared by reset()), as a dict: `index`,
        `received` (bytes), `tls` (None: plain; False: the handshake failed) and
        `client_closed_at` (time.monotonic() when the client closed its side, or None)."""
        with self._lock:
            tallies = list(self._tallies)
        return [{"index": t.index, "received": bytes(t.received), "tls": t.tls,
                 "client_closed_at": t.client_closed_at} for t in tallies]

    def reset(self):
        """Start counting from zero; returns the counts until now."""
        with self._lock:
            counts = self._counts()
            for name in FIELDS:
                setattr(self, name, 0)
        return counts

    def count(self, **amounts):
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def to_dict(self):
        with self._lock:
            return self._counts()

    def _counts(self):
        return {name: getattr(self, name) for name in FIELDS}


class Tally:
    """One connection's share of the WireStats, used from its own thread only."""

    def __init__(self, stats):
        self._stats = stats
        self._held = dict.fromkeys(FIELDS, 0)  # None once the connection is classified
        self._held["connections"] = 1
        self.index = None  # the connection's number, once counted
        self.received = bytearray()
        self.tls = None
        self.client_closed_at = None

    def count(self, **amounts):
        if self._held is None:
            if self._stats is not None:
                self._stats.count(**amounts)
        else:
            for name, amount in amounts.items():
                self._held[name] += amount

    def publish(self):
        """API traffic (or a connection closing unclassified): counted, live from now on."""
        if self._held is not None:
            self._stats.count(**self._held)
            self.index = self._stats.add(self)
            self._held = None

    def drop(self):
        """Control traffic, unless already published: never counted."""
        if self._held is not None:
            self._stats = self._held = None


class SocketStream(io.RawIOBase):
    """A connection's byte stream, counting each recv() and send() into a Tally."""

    def __init__(self, sock, tally):
        super().__init__()
        self._sock = sock
        self._tally = tally

    def readable(self):
        return True

    def writable(self):
        return True

    def readinto(self, buffer):
        try:
            received = self._sock.recv_into(buffer)
        except (ConnectionResetError, ssl.SSLEOFError):
            received = 0
        tally = self._tally
        tally.count(bytes_in=received)
        tally.received += memoryview(buffer)[:received]
        if not received and tally.client_closed_at is None:
            tally.client_closed_at = time.monotonic()
        return received

    def write(self, data):
        """Send all of `data`, like sendall() but counting every part the socket took, so
        a connection cut halfway through a reply counts what did go out."""
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):
            part = self._sock.send(view[sent:])
            self._tally.count(bytes_out=part)
            sent += part
        return sent
