"""When to try the server again: exponential backoff with full jitter, rate limits,
and a per-device phase.

Many nodes that lost the same server must not come back in lock-step: a retry waits
a uniformly random time up to the capped exponential delay ("full jitter", applied
after the cap so capped nodes spread too), and each device's regular uploads sit at
its own offset in the interval (phase). The server's own word (Retry-After, an
exhausted X-RateLimit-Remaining) always wins over our guess.
"""

import binascii
import random

from micropython import const

BASE_S = const(30)
CAP_S = const(3600)
WINDOW_S = const(60)  # the API's rate-limit window
RATE_MAX_S = const(86400)  # a Retry-After beyond a day is taken as a day: a bound on replies


def delay(attempt, base_s=BASE_S, cap_s=CAP_S):
    """Seconds to wait after `attempt` consecutive failures (0 = the first one):
    uniform in 1..min(cap_s, base_s * 2**attempt)."""
    d = min(cap_s, base_s << min(attempt, 17))  # 3600 << 17 is still a small int on the ESP32
    return 1 + random.getrandbits(24) % max(1, d)


def rate_wait(retry_after, remaining):
    """Seconds the server asked us to hold off, or None when it did not."""
    if retry_after is not None:
        return max(1, min(retry_after, RATE_MAX_S))
    if remaining is not None and remaining <= 0:
        return WINDOW_S + 1  # the window opened within a second we only know as a whole
    return None


def phase(key, period):
    """A fixed offset in 0..period-1 for this device (`key`: its UUID), so a fleet
    configured alike does not upload in the same second."""
    return binascii.crc32(key.encode()) % period
