"""Per-key fixed-window request limit, as Laravel's throttle middleware applies it.

A window opens at a key's first request and lasts `window` seconds; up to `limit`
requests pass in it. Time comes from an injectable clock so tests never wait.
"""

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # whole seconds until the window frees; 0 when allowed

    def headers(self):
        """The headers every reply to a rate-limited path carries."""
        headers = {"X-RateLimit-Limit": str(self.limit),
                   "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    def __init__(self, limit, window=60.0, clock=time.time):
        if limit < 1:
            raise ValueError("rate limit must be at least 1 request per window")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows = {}  # key -> (window start, requests counted)
        self._lock = threading.Lock()

    def hit(self, key):
        """Count one request for `key` if the window has room; say whether it passes."""
        with self._lock:
            now = self._clock()
            start, count = self._windows.get(key, (now, 0))
            if now >= start + self.window:
                start, count = now, 0
            if count >= self.limit:
                wait = max(1, math.ceil(start + self.window - now))
                return Decision(False, self.limit, 0, wait)
            self._windows[key] = (start, count + 1)
            return Decision(True, self.limit, self.limit - count - 1, 0)
