"""Wire statistics for benchmarks, counted where the HTTP stream meets the socket.

`WireStats` (MockServer.wire) adds up TCP connections accepted, TLS handshakes completed
and the HTTP bytes received and sent: plaintext under TLS, request and reply in full,
exactly what recv() returned and send() took, whatever the parser made of it.

Connections to the control endpoint are left out, so a benchmark polling /_mock/stats
does not count itself: each connection's traffic is held back (`Tally`) until its first
request says which kind it is (a connection that never makes one counts when it closes).
"""

import io
import threading

FIELDS = ("connections", "handshakes", "bytes_in", "bytes_out")


class WireStats:
    """The totals, as attributes; safe to update and read from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self.connections = self.handshakes = self.bytes_in = self.bytes_out = 0

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
        received = self._sock.recv_into(buffer)
        self._tally.count(bytes_in=received)
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
