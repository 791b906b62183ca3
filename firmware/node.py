"""The node's cycle: sample -> store -> upload -> sleep.

The only module that knows all the parts: config, board, drivers, spool, uplink.
Readings reach the flash spool before the radio is even considered, and the radio
is on only while there is something to upload.
"""

import gc
import os
import sys
import time

from micropython import const

import backoff
import clock
import log
from rtcstate import UNSET, RtcState
from spool import Spool

_WDT_MS = const(120000)  # covers DNS, NTP, a TLS handshake and a request at its deadline
_RESET_CODES = {"power_on": 1, "deep_sleep": 2, "watchdog": 3, "soft": 4}
# Failures only a person can clear (sensocan.PERSON): the LED's blink code, and the fix
_PERSON = {
    "unauthorized": (3, "check api.token (Device Details, Credentials tab)"),
    "not_found": (4, "check api.device_uuid (Device Details, Overview tab), or create the device"),
    "tls_refused": (5, "api.ca_cert must be the root CA of the server's certificate chain, "
                    "for the host in api.base_url"),
    "api": (5, "fix it in config.json"),
}
_PARKED_BLINK = const(4)  # a sensor the server does not know: create it on the dashboard
_T0 = time.ticks_ms()  # awake_ms counts from here: main.py imports this just before run()
_OTA = sys.modules.get("otaboot")  # field updates' pointer: loaded only on a node that updated


def _count(n, noun):
    """'no readings', '1 reading', '2 readings': a count in the console's words."""
    return "%s %s%s" % (n or "no", noun, "" if n == 1 else "s")


def _next_due(due, interval, now):
    """The first slot after `now` on the grid of `interval`s through `due`."""
    if due > now + interval:  # the clock went backwards: restart the grid
        return now + interval
    if due <= now:
        due += ((now - due) // interval + 1) * interval
    return due


class Node:
    def __init__(self, board, cfg, st):
        self.board = board
        self.cfg = cfg
        self.st = st
        sp = cfg["spool"]
        # by default 3/4 of the flash, counting a segment at its smallest (3 KiB a block)
        capacity = sp["capacity"] or board.FLASH_BYTES * 3 // 4 // 4096 * 192
        self.spool = Spool(board.DATA_DIR + "/spool", capacity,
                           sp["when_full"] == "drop_newest", log)
        # every sensor the spool may hold readings of; the config's sensors, then the
        # health figures, have their numbers in that table
        health = cfg["health"]
        import sensortable

        self.ids, numbers = sensortable.load(
            board.DATA_DIR + "/sensors.json",
            [(s["slug"], s["uuid"]) for s in cfg["sensors"]] + [(health[k], None) for k in health])
        self.numbers = numbers[: len(cfg["sensors"])]
        self.health = dict(zip(health, numbers[len(cfg["sensors"]) :]))
        self._sessions = None
        self.figures = {"reset_cause": _RESET_CODES.get(board.reset_cause(), 0)}
        self.jump = 0  # seconds the clock moved when it was synced this wake

    def sessions(self):
        """The boot-session table (bootsessions.py), loaded only when some reading or
        the clock needs it."""
        if self._sessions is None:
            import bootsessions

            self._sessions = bootsessions.Sessions(self.board.DATA_DIR + "/clock.json")
        return self._sessions

    def _session(self, now):
        """The aux field for readings stamped `now`: 0 with a set clock, else the boot
        session (numbered at its first undated reading) the upload will date them by."""
        st = self.st
        if clock.valid(now):
            return 0
        if not st.session:
            st.session = self.sessions().start()
            log.warn("clock not set: readings are stamped in boot session %d until the "
                     "first time sync" % st.session)
        return st.session

    def sample(self, now, battery_too):
        """The sampling phase; returns (readings stored or None, battery volts or None)."""
        due = now >= self.st.next_sample
        if not (due or battery_too):
            return None, None
        import sampler

        s = sampler.Sampler(self.board, self.cfg, self.st)
        stored = s.sample(self.spool, self.numbers, now, self._session(now)) if due else None
        battery = s.read_battery(now) if battery_too else None
        s = None
        sampler.unload()
        self.cfg["sensors"] = self.cfg["battery"] = None
        return stored, battery

    def _low_heap(self):
        """Note the free heap (after a collection) at a phase boundary."""
        gc.collect()
        free = gc.mem_free()
        self.figures["min_free_heap"] = min(self.figures.get("min_free_heap", free), free)

    def _sync(self):
        """Set the clock from NTP; False when it failed and the RTC was never set."""
        board, st, ck = self.board, self.st, self.cfg["clock"]
        try:
            behind = board.sync_time(ck["ntp_host"], ck["ntp_timeout_s"])
        except OSError as e:
            if clock.valid(board.now()):
                log.warn("clock: %s; keeping the RTC's time" % e)
                return True
            log.error("clock: %s; the RTC was never set, so no upload (TLS and timestamps "
                      "need the date)" % e)
            return False
        self.jump = behind
        if st.session:
            self.sessions().synced(st.session, behind)
            log.info("clock set (%+d s): boot session %d's readings are dated"
                     % (behind, st.session))
            st.session = 0
        return True

    def upload(self, now, battery):
        """Drain the spool through the API; returns the cycle line's upload part."""
        board, st, up, fig = self.board, self.st, self.cfg["upload"], self.figures
        api_cfg = self.cfg["api"]
        fig["http_status"] = 0
        t0 = time.ticks_ms()  # radio_ms: from link_up to link_down, a failed join too
        until = time.ticks_add(t0, up["deadline_s"] * 1000)  # the radio is off by then
        try:
            board.link_up(self.cfg["wifi"])
        except OSError as e:
            fig["radio_ms"] = time.ticks_diff(time.ticks_ms(), t0)
            return self._retry(now, None, "link: %s" % e)
        fig["wifi_connect_ms"] = time.ticks_diff(time.ticks_ms(), t0)
        fig["rssi"] = board.rssi()
        http = None
        try:
            if not self._sync():
                return self._retry(now, None, "clock unknown")
            if self.cfg.get("update"):  # field updates: first, on a whole heap
                __import__("updater").check(self, now, until)
            import httpc  # only now: a wake without a link or a clock never loads them
            import sensocan
            import uplink

            try:
                with open(api_cfg["ca_cert"] or "", "rb") as f:
                    ca = f.read()
            except OSError:
                ca = None  # httpc refuses https without a CA, with a clear message
            try:
                http = httpc.Client(api_cfg["base_url"], ca=ca,
                                    allow_insecure_http=api_cfg["allow_insecure_http"],
                                    timeout_ms=int(api_cfg["timeout_s"] * 1000),
                                    # within the watchdog, which is fed once a request
                                    deadline_ms=min(int(api_cfg["timeout_s"] * 3000),
                                                    _WDT_MS - 10000))
            except ValueError as e:  # a setting the server cannot be reached with
                return self._person(now, "api", "upload impossible: %s" % e)
            if battery is not None and not sensocan.battery_ok(battery):
                log.warn("battery reads %r V, outside the API's 0-100: not sent" % battery)
                battery = None
            api = sensocan.Api(http, api_cfg["device_uuid"], api_cfg["token"])
            date = None  # readings without a session: a set clock's time, or undated
            try:
                os.stat(self.board.DATA_DIR + "/clock.json")
                date = self.sessions().date
            except OSError:
                pass
            if self.spool.parked() and now >= st.unpark_at:
                log.info("trying %d parked readings again" % self.spool.unpark())
                st.unpark_at = now + up["alert_retry_s"]
            res = uplink.Uplink(api, self.spool, self.ids, up["chunk_max"], log,
                                date, self.wdt.feed).drain(battery, up["max_requests"], until)
            self._low_heap()
            if res.acked and _OTA:  # the first upload stored with a new set confirms it
                _OTA.confirm(board)
        finally:
            if http:
                fig["tls_handshakes"] = http.handshakes
                fig["bytes_sent"] = http.bytes_sent  # HTTP bytes, before TLS
                http.close()
            board.link_down()
            fig["radio_ms"] = time.ticks_diff(time.ticks_ms(), t0)
        st.unsure += res.unsure
        fig.update(sent=res.acked, requests=res.went, unanswered=res.unsure,
                   set_aside=res.dead, parked_now=res.parked,
                   http_status=res.status or (201 if res.requests else 0))
        if res.answered:  # the server took requests: whatever failed next starts afresh
            st.failures = 0
        if res.parked and st.unpark_at <= now:  # the first parked since the last try
            st.unpark_at = now + up["alert_retry_s"]
        text = "sent %d in %s" % (res.acked, _count(res.went, "request")) if res.went else (
            "no request sent")
        if res.dead:
            text += ", %d set aside" % res.dead
        if res.parked:
            text += ", %d parked (sensor unknown to the server)" % res.parked
        if res.unsure:
            text += ", %d unanswered (sent again later: maybe twice)" % res.unsure
        if res.kind != sensocan.STORED:
            fig["failure"] = res.kind
            text = "%s; %s %d %s" % (text, res.kind, res.status, res.message)
            cls = sensocan.failure(res.kind)
            if cls is sensocan.PERSON:
                return self._person(now, res.kind, "upload refused (%s %d %s)"
                                    % (res.kind, res.status, res.message), text)
            return self._retry(now, res.wait if cls is sensocan.RATE_LIMIT else None, text)
        self._alert(_PARKED_BLINK if self.spool.parked() else 0)
        if res.wait:
            st.retry_at = now + res.wait
            text += ", rate limit: pause %d s" % res.wait
        # more to send: the next slot is now, or when the rate-limit pause ends
        self.more = (res.requests >= res.max_requests or res.wait) and self.spool.pending()
        return text

    def _alert(self, code):
        """Show (or clear, 0) the LED alert that asks for a person."""
        st = self.st
        if st.alert != code:
            if not code:
                log.info("uploads accepted again: alert cleared")
            st.alert = code
            self.board.alert(code)

    def _person(self, now, kind, what, text=None):
        """A failure only a person can fix (sensocan.PERSON): on flash, on the LED, and
        tried again every upload.alert_retry_s."""
        code, fix = _PERSON[kind]
        wait = self.cfg["upload"]["alert_retry_s"]
        log.error("%s: %s; readings are kept, next try in %d s" % (what, fix, wait))
        self._alert(code)
        return self._retry(now, wait, text or what)

    def _record_health(self):
        """Store the health figures as readings under their slugs: they travel (batch)
        with the next upload. The energy ones are this wake's so far: awake_ms from
        node.py's import, radio_ms from link_up to link_down, bytes_sent in HTTP bytes,
        flash_writes the spool's files written (this commit not counted). In node.py,
        not a module of its own: after TLS the heap is too broken up to load one."""
        sp, fig, t = self.spool, self.figures, self.board.now()
        fig.update(spool_depth=sp.pending(), dropped=sp.dropped, dead_letters=sp.dead,
                   unsure=self.st.unsure, flash_writes=sp.writes,
                   awake_ms=time.ticks_diff(time.ticks_ms(), _T0))
        aux = self._session(t)
        for name, number in self.health.items():
            v = fig.get(name)
            if v is not None:
                sp.append(number, t, v, 0, aux)
        sp.commit()

    def _retry(self, now, wait, what):
        """Plan the next upload attempt after a failure (backoff unless told)."""
        st, up = self.st, self.cfg["upload"]
        if wait is None:
            wait = backoff.delay(st.failures, up["backoff_base_s"], up["backoff_cap_s"])
        st.failures += 1
        st.retry_at = now + wait
        self.figures["retry_in"] = wait
        return "%s, retry in %d s" % (what, wait)

    def _settle(self, now):
        """A clock that stepped (NTP, a hand-set RTC, a flat RTC battery) may leave due
        times days or years ahead. The next sample is never set further off than its
        interval: what it is beyond that, the clock went back at least, and every due
        time moves back as far (a backoff of seconds stays seconds, not a day). And none
        stays further off than the longest wait it is ever set to, so a step never makes
        the node sleep past its next sample."""
        st, cfg, up = self.st, self.cfg, self.cfg["upload"]
        back = 0 if st.next_sample == UNSET else st.next_sample - now - cfg["sample_interval_s"]
        bands = [cfg["upload_interval_s"]] + [b for _, b in cfg["power_bands"]]
        for name, most in (("next_sample", cfg["sample_interval_s"]),
                           ("next_upload", max(bands)),
                           ("retry_at", max(up["backoff_cap_s"], up["alert_retry_s"],
                                            backoff.RATE_MAX_S)),
                           ("unpark_at", up["alert_retry_s"])):
            t = getattr(st, name)
            if back > 0 and t != UNSET:
                t -= back
            setattr(st, name, min(t, now + most))

    def cycle(self):
        """One wake: sample and/or upload when due; returns seconds until the next wake."""
        board, st, cfg = self.board, self.st, self.cfg
        self.wdt = board.watchdog(_WDT_MS)
        now = board.now()
        self._settle(now)
        st.cycle += 1
        if st.alert:
            board.alert(st.alert)
        parts = []
        due = now >= st.next_upload and now >= st.retry_at
        # the battery is read before the radio is on: transmit bursts sag the supply
        stored, battery = self.sample(now, due)
        if battery is not None:  # kept for the power bands: a wake that fails to read
            st.battery_mv = int(battery * 1000)  # it goes by the last reading
        if stored is not None:
            parts.append("stored %d" % stored)
            self.figures["stored"] = stored
            st.next_sample = _next_due(now if st.next_sample == UNSET else st.next_sample,
                                       cfg["sample_interval_s"], now)
        upload = due and self.spool.pending()
        self.wdt.feed()
        gc.collect()
        self._low_heap()
        self.more = False
        if upload:
            parts.append("upload: " + self.upload(now, battery))
            gc.collect()
            if self.health:
                self._record_health()
        if self.jump:  # the clock was set: keep the schedule where it was meant to be
            for k in ("next_sample", "next_upload", "retry_at"):
                if getattr(st, k) != UNSET:
                    setattr(st, k, getattr(st, k) + self.jump)
            now += self.jump
        if due and not (upload and st.failures) and not self.more:
            # the first upload slot is on this device's own phase of the interval
            interval = cfg["upload_interval_s"]
            mv = st.battery_mv
            for below_v, band in cfg["power_bands"]:  # highest voltage first
                if 0 < mv < below_v * 1000:
                    interval = band
            if interval != cfg["upload_interval_s"]:
                parts.append("battery %d mV: upload every %d s" % (mv, interval))
                self.figures["upload_every"] = interval
            first = backoff.phase(cfg["api"]["device_uuid"], interval)
            st.next_upload = _next_due(first if st.next_upload == UNSET else st.next_upload,
                                       interval, now)
        gc.collect()
        sp, fig = self.spool, self.figures
        fig.update(cycle=st.cycle, backlog=sp.pending(), parked=sp.parked(), dead_letters=sp.dead,
                   dropped=sp.dropped, lost=sp.lost, sensor_faults=st.sensor_faults,
                   alert=st.alert)
        parts.append("backlog %d" % fig["backlog"])
        for name in ("parked", "dead_letters", "dropped", "lost", "sensor_faults"):
            if fig[name]:
                parts.append("%s %d" % (name.replace("_", " "), fig[name]))
        if st.alert:
            parts.append("ALERT %d" % st.alert)
        wake = min(st.next_sample, max(st.next_upload, st.retry_at))
        fig["sleep"] = sleep = max(1, wake - board.now())
        parts.append("sleep %d s" % sleep)
        if _OTA:
            _OTA.figures(fig, parts)
        log.info("cycle %d: %s" % (st.cycle, ", ".join(parts)))
        board.report(fig)
        return sleep


def run(board, cfg):
    """One cycle, then deep sleep until the next thing is due."""
    log.setup(board.now, board.DATA_DIR + "/log.txt")
    board.configure(cfg)  # pins, LED and power mode, before anything uses them
    st = RtcState.load(board)
    if board.reset_cause() == "power_on":
        log.info("power on: %s, sample every %d s, upload every %d s"
                 % (_count(len(cfg["sensors"]), "sensor"), cfg["sample_interval_s"],
                    cfg["upload_interval_s"]))
        for line in cfg["warnings"]:  # allowed but risky (a strapping pin...): once a power-on
            log.warn("config: " + line)
    sleep = Node(board, cfg, st).cycle()
    st.crashes = 0
    st.save(board)
    if _OTA:
        _OTA.woke(board)
    board.deepsleep(sleep * 1000)
