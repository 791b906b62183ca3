"""When the next sample, upload and wake are due: arithmetic on node seconds (clock.py).

Pure: no board, no flash, no log. It reads the config's timing once (Plan) and moves the
due times of the RTC state (rtcstate.py); tests/device/test_schedule.py drives it alone.
"""

import backoff
from rtcstate import UNSET

_DUE = ("next_sample", "next_upload", "retry_at")  # what a clock step moves along


class Plan:
    """The config's timing: all the schedule reads of it."""

    def __init__(self, cfg):
        up = cfg["upload"]
        self.sample_s = cfg["sample_interval_s"]
        self.upload_s = cfg["upload_interval_s"]
        self.bands = cfg["power_bands"]  # [[below_v, upload_s]], highest voltage first
        self.base_s = up["backoff_base_s"]
        self.cap_s = up["backoff_cap_s"]
        self.alert_s = up["alert_retry_s"]
        self.phase_key = cfg["api"]["device_uuid"]


def next_due(due, interval, now):
    """The first slot after `now` on the grid of `interval`s through `due`."""
    if due > now + interval:  # the clock went backwards: restart the grid
        return now + interval
    if due <= now:
        due += ((now - due) // interval + 1) * interval
    return due


def settle(st, plan, now):
    """A clock that stepped (NTP, a hand-set RTC, a flat RTC battery) may leave due times
    days or years ahead. The next sample is never further off than its interval: what it
    is beyond that, the clock went back at least, and every due time moves back as far (a
    backoff of seconds stays seconds). None stays further off than the longest wait it is
    ever set to, so a step never makes the node sleep past its next sample."""
    back = 0 if st.next_sample == UNSET else st.next_sample - now - plan.sample_s
    longest_upload = max([plan.upload_s] + [b for _, b in plan.bands])
    for name, most in (("next_sample", plan.sample_s), ("next_upload", longest_upload),
                       ("retry_at", max(plan.cap_s, plan.alert_s, backoff.RATE_MAX_S)),
                       ("unpark_at", plan.alert_s)):
        t = getattr(st, name)
        if back > 0 and t != UNSET:
            t -= back
        setattr(st, name, min(t, now + most))


def upload_due(st, now):
    return now >= st.next_upload and now >= st.retry_at


def sampled(st, plan, now):
    """A sampling round ran at `now`: the next is on the grid of the interval."""
    st.next_sample = next_due(now if st.next_sample == UNSET else st.next_sample,
                              plan.sample_s, now)


def unpark_due(st, plan, now):
    """True when parked readings may go again (then not before alert_s from now)."""
    if now < st.unpark_at:
        return False
    st.unpark_at = now + plan.alert_s
    return True


def uploaded(st, plan, now, up):
    """Plan after an upload (upload.py's Uploaded). Returns the seconds until the retry
    after a failure, else None."""
    if up.answered:  # the server took requests: whatever failed next starts afresh
        st.failures = 0
    if up.parked and st.unpark_at <= now:  # the first parked since the last try
        st.unpark_at = now + plan.alert_s
    if up.failed:
        wait = up.wait
        if wait is None:
            wait = backoff.delay(st.failures, plan.base_s, plan.cap_s)
        st.failures += 1
        st.retry_at = now + wait
        return wait
    if up.wait:  # a rate-limit pause after requests that went well
        st.retry_at = now + up.wait
    return None


def shift(st, jump):
    """The clock was set `jump` seconds forward: due times keep their place in real time."""
    for name in _DUE:
        t = getattr(st, name)
        if t != UNSET:
            setattr(st, name, t + jump)


def upload_interval(plan, mv):
    """The upload interval at a battery of `mv` millivolts (0: unknown): power bands."""
    interval = plan.upload_s
    for below_v, band in plan.bands:  # highest voltage first: the last match is the lowest
        if 0 < mv < below_v * 1000:
            interval = band
    return interval


def next_upload(st, plan, now):
    """Set the next scheduled upload, on this device's phase of its interval (a fleet
    configured alike does not upload in the same second); returns the interval."""
    interval = upload_interval(plan, st.battery_mv)
    first = backoff.phase(plan.phase_key, interval)
    st.next_upload = next_due(first if st.next_upload == UNSET else st.next_upload,
                              interval, now)
    return interval


def sleep_s(st, now):
    """Seconds until the next thing is due, at least 1."""
    return max(1, min(st.next_sample, max(st.next_upload, st.retry_at)) - now)
