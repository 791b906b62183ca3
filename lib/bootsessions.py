"""Dating readings taken before the clock was set.

A cold-booted ESP32's RTC starts at 2000-01-01. Readings taken before the first time
sync keep that RTC time plus their boot session's number (in the spool record's aux
field); when the clock syncs, the session's offset is recorded here, and the upload
adds it: the reading gets its real time. A session that ended (power cut) before any
sync has no offset: its readings cannot be dated and are never sent with a made-up
date. Loaded only while some session needs it.
"""

import json

from micropython import const

import atomic
import clock

_KEPT = const(8)


class Sessions:
    """Boot sessions with an unset clock, and the offsets that date their readings.

    One small file, rewritten atomically: when a session starts (at most once per
    power-on, and only while the clock is unset) and when its clock syncs.
    """

    def __init__(self, path):
        self.path = path
        self.last = 0
        self.offsets = {}
        try:
            with open(path) as f:
                doc = json.load(f)
            self.last = doc["last"]
            self.offsets = {int(k): int(v) for k, v in doc["offsets"]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # lost or never written: earlier undated readings stay undated

    def start(self):
        """Number a new session (1-65535, kept in the records' 16-bit aux field)."""
        self.last = self.last % 0xFFFF + 1
        self.offsets.pop(self.last, None)
        self._save()
        return self.last

    def synced(self, session, offset):
        """The clock of `session` was `offset` seconds behind the real time."""
        self.offsets[session] = offset
        while len(self.offsets) > _KEPT:
            self.offsets.pop(min(self.offsets, key=lambda k: (k - self.last - 1) % 0xFFFF))
        self._save()

    def date(self, t, session):
        """The real time of a reading stamped `t` in `session`, or None if unknown."""
        if clock.valid(t):
            return t
        off = self.offsets.get(session)
        if off is None or not clock.valid(t + off):
            return None
        return t + off

    def _save(self):
        atomic.dump(self.path, {"last": self.last,
                                "offsets": [[k, v] for k, v in self.offsets.items()]})
