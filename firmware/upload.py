"""The upload phase: link -> clock -> client -> drain -> outcome, then the radio off.

Imported only when an upload is due and readings wait, after the sampler gave its RAM
back; httpc, sensocan and uplink only once the link and the clock are up (a wake whose
link or clock fails never loads them: docs/internals.md, "Memory").
"""

import os
import time

from micropython import const

import clock
import heap
import log
import schedule

# Failures only a person can clear (sensocan.PERSON): the LED's blink code, and the fix
_PERSON = {
    "unauthorized": (3, "check api.token (Device Details, Credentials tab)"),
    "not_found": (4, "check api.device_uuid (Device Details, Overview tab), or create the device"),
    "tls_refused": (5, "api.ca_cert must be the root CA of the server's certificate chain, "
                    "for the host in api.base_url"),
    "api": (5, "fix it in config.json"),
}
_PARKED_BLINK = const(4)  # a sensor the server does not know: create it on the dashboard


def _words(r):
    """What the drain's Result did, in the cycle line's words."""
    text = "sent %d in %s" % (r.acked, log.count(r.went, "request")) if r.went else (
        "no request sent")
    if r.dead:
        text += ", %d set aside" % r.dead
    if r.parked:
        text += ", %d parked (sensor unknown to the server)" % r.parked
    if r.unsure:
        text += ", %d unanswered (sent again later: maybe twice)" % r.unsure
    return text


class Uploaded:
    """What the phase did. The cycle line's upload part (`text`), what the schedule
    needs, and the wake's upload figures all come from here."""

    def __init__(self):
        self.text = ""
        self.failed = False  # the schedule plans a retry: after `wait`, a backoff if None
        self.wait = None     # seconds: a failure's wait, or a rate-limit pause after success
        self.answered = 0    # requests the server answered (a failure streak ends)
        self.parked = 0      # readings parked this time (sensor unknown to the server)
        self.more = False    # more to send at the next slot: now, or after the pause
        self.jump = 0        # seconds the clock moved when it was synced
        self.figures = {"http_status": 0}


class Upload:
    def __init__(self, board, net, st, spool, ids, sessions, feed, deadline_ms):
        self.board, self.st, self.spool, self.ids = board, st, spool, ids
        # the config's api, upload, wifi, clock and update (None: no field updates)
        self.api, self.up, self.wifi, self.ntp, self.update = net
        self.sessions = sessions  # the node's boot-session table, loaded when first asked
        self.feed = feed          # the watchdog's, once a request
        self.deadline_ms = deadline_ms  # a request's longest, within the watchdog
        self.res = Uploaded()

    def run(self, plan, now, battery):
        """Link, clock, client, drain, outcome; the radio is off again on return."""
        t0 = time.ticks_ms()  # radio_ms: from link_up to link_down, a failed join too
        until = time.ticks_add(t0, self.up["deadline_s"] * 1000)  # the radio is off by then
        if not self._link(t0):
            return self.res
        http = None
        try:
            if not self._clock():
                return self._failed("clock unknown", kind="clock")
            if self.update:  # field updates (docs/updates.md): first, on a whole heap
                with heap.Borrowed():  # the updater, its helpers and its client go after
                    __import__("updater").check(self, now, until)
            http = self._client()
            if http is None:
                return self.res
            drained = self._drain(http, plan, now, battery, until)
            self.res.figures["free_drain"] = heap.free()  # TLS still open: the wake's low point
        finally:
            self._radio_off(http, t0)
        return self._outcome(drained)

    def _link(self, t0):
        """Join the network; False (the phase failed) when it cannot."""
        fig = self.res.figures
        try:
            self.board.link_up(self.wifi)
        except OSError as e:
            fig["radio_ms"] = time.ticks_diff(time.ticks_ms(), t0)
            self._failed("link: %s" % e, kind="link")
            return False
        fig["wifi_connect_ms"] = time.ticks_diff(time.ticks_ms(), t0)
        fig["rssi"] = self.board.rssi()
        return True

    def _radio_off(self, http, t0):
        fig = self.res.figures
        if http is not None:
            fig["tls_handshakes"] = http.handshakes
            fig["bytes_sent"] = http.bytes_sent  # HTTP bytes, before TLS
            http.close()
        self.board.link_down()
        fig["radio_ms"] = time.ticks_diff(time.ticks_ms(), t0)

    def _clock(self):
        """Set the clock from NTP; False when it failed and the RTC was never set."""
        board, st = self.board, self.st
        try:
            behind = board.sync_time(self.ntp["ntp_host"], self.ntp["ntp_timeout_s"])
        except OSError as e:
            if clock.valid(board.now()):
                log.warn("clock: %s; keeping the RTC's time" % e)
                return True
            log.error("clock: %s; the RTC was never set, so no upload (TLS and timestamps "
                      "need the date)" % e)
            return False
        self.res.jump = behind
        if st.session:
            self.sessions().synced(st.session, behind)
            log.info("clock set (%+d s): boot session %d's readings are dated"
                     % (behind, st.session))
            st.session = 0
        return True

    def _client(self):
        """The HTTPS client for api.base_url; None (a person's failure) when a setting
        makes the server unreachable."""
        import httpc

        api = self.api
        try:
            with open(api["ca_cert"] or "", "rb") as f:
                ca = f.read()
        except OSError:
            ca = None  # httpc refuses https without a CA, with a clear message
        try:
            return httpc.Client(api["base_url"], ca=ca,
                                allow_insecure_http=api["allow_insecure_http"],
                                timeout_ms=int(api["timeout_s"] * 1000),
                                deadline_ms=min(int(api["timeout_s"] * 3000), self.deadline_ms))
        except ValueError as e:
            self._person("api", "upload impossible: %s" % e)
            return None

    def _drain(self, http, plan, now, battery, until):
        """Send what waits, oldest first (lib/uplink.py); returns its Result."""
        import sensocan
        import uplink

        st, spool, up = self.st, self.spool, self.up
        # Collect before the TLS handshake, the wake's biggest allocations: measured on the
        # 32-bit port, a whole wake's smallest heap falls 3-6 KiB (docs/internals.md)
        self.res.figures["free_tls"] = heap.free()
        if battery is not None and not sensocan.battery_ok(battery):
            log.warn("battery reads %r V, outside the API's 0-100: not sent" % battery)
            battery = None
        api = sensocan.Api(http, self.api["device_uuid"], self.api["token"])
        if spool.parked() and schedule.unpark_due(st, plan, now):
            log.info("trying %d parked readings again" % spool.unpark())
        return uplink.Uplink(api, spool, self.ids, up["chunk_max"], log, self._date(),
                             self.feed).drain(battery, up["max_requests"], until)

    def _date(self):
        """How readings of a boot session get their time; None with no session on flash
        (a set clock's time, or undated)."""
        try:
            os.stat(self.board.DATA_DIR + "/clock.json")
        except OSError:
            return None
        return self.sessions().date

    def _outcome(self, r):
        """The drain's Result as the cycle line's words, figures, alert and retry."""
        import sensocan

        res, fig = self.res, self.res.figures
        self.st.unsure += r.unsure
        res.answered, res.parked = r.answered, r.parked
        ok = r.kind == sensocan.STORED
        fig.update(sent=r.acked, requests=r.went, unanswered=r.unsure, set_aside=r.dead,
                   parked_now=r.parked, http_status=r.status or (201 if ok and r.requests else 0))
        text = _words(r)
        if not ok:
            text = "%s; %s %d %s" % (text, r.kind, r.status, r.message)
            cls = sensocan.failure(r.kind)
            if cls is sensocan.PERSON:
                return self._person(r.kind, "upload refused (%s %d %s)"
                                    % (r.kind, r.status, r.message), text)
            return self._failed(text, r.wait if cls is sensocan.RATE_LIMIT else None, r.kind)
        self._alert(_PARKED_BLINK if self.spool.parked() else 0)
        if r.wait:
            text += ", rate limit: pause %d s" % r.wait
            res.wait = fig["rate_pause"] = r.wait
        res.more = bool((r.requests >= r.max_requests or r.wait) and self.spool.pending())
        res.text = text
        return res

    def _failed(self, text, wait=None, kind=None):
        """A failure the schedule retries; `kind` is the wake's failure figure: a reply
        kind (sensocan), or "link", "clock", "api" before any request."""
        res = self.res
        res.failed, res.wait, res.text = True, wait, text
        if kind:
            res.figures["failure"] = kind
        return res

    def _person(self, kind, what, text=None):
        """A failure only a person can fix (sensocan.PERSON): on flash, on the LED, and
        tried again every upload.alert_retry_s."""
        code, fix = _PERSON[kind]
        wait = self.up["alert_retry_s"]
        log.error("%s: %s; readings are kept, next try in %d s" % (what, fix, wait))
        self._alert(code)
        return self._failed(text or what, wait, kind)

    def _alert(self, code):
        """Show (or clear, 0) the LED alert that asks for a person."""
        st = self.st
        if st.alert != code:
            if not code:
                log.info("uploads accepted again: alert cleared")
            st.alert = code
            self.board.alert(code)
