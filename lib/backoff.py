"""When to try the server again: exponential backoff with jitter, and rate limits.

Many nodes that lost the same server must not come back in lock-step, so every
delay is half fixed, half random ("equal jitter"). The server's own word
(Retry-After, an exhausted X-RateLimit-Remaining) always wins over our guess.
"""

import random

from micropython import const

BASE_S = const(30)
CAP_S = const(3600)
WINDOW_S = const(60)  # the API's rate-limit window


def delay(attempt, base_s=BASE_S, cap_s=CAP_S):
    """Seconds to wait after `attempt` consecutive failures (0 = first failure)."""
    d = min(cap_s, base_s << min(attempt, 16))
    half = d // 2
    return half + random.getrandbits(16) % (half + 1)


def rate_wait(retry_after, remaining):
    """Seconds the server asked us to hold off, or None when it did not."""
    if retry_after is not None:
        return max(1, retry_after)
    if remaining is not None and remaining <= 0:
        return WINDOW_S
    return None
