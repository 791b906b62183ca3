"""The node's cycle: sample -> store -> upload -> sleep.

The only module that knows all the parts: config, board, drivers, spool, uplink.
Readings reach the flash spool before the radio is even considered, and the radio
is on only while there is something to upload.
"""

import gc

import log
import sensortable
from rtcstate import RtcState
from spool import Spool

_MAX_REQUESTS = 20    # per upload, so a huge backlog cannot keep the radio on for ever
_WDT_MS = 120000
_BODY_BYTES = 4096    # one request body: 35-50 readings, one ESP32 TLS record


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
        # every sensor the spool may hold readings of, and the config's in that table
        self.ids, self.numbers = sensortable.load(
            board.DATA_DIR + "/sensors.json", [(s["slug"], s["uuid"]) for s in cfg["sensors"]])

    def sample(self, now, battery_too):
        """The sampling phase; returns (readings stored or None, battery volts or None)."""
        due = now >= self.st.next_sample
        if not (due or battery_too):
            return None, None
        import sampler

        s = sampler.Sampler(self.board, self.cfg, self.st)
        stored = s.sample(self.spool, self.numbers, now) if due else None
        battery = s.read_battery(now) if battery_too else None
        s = None
        sampler.unload()
        self.cfg["sensors"] = self.cfg["battery"] = None
        return stored, battery

    def upload(self, now, battery, wdt):
        """Drain the spool through the API; returns a summary for the cycle line."""
        import httpc
        import sensocan
        import uplink

        api_cfg = self.cfg["api"]
        try:
            self.board.link_up(self.cfg["wifi"])
        except OSError as e:
            return self._retry(now, None, "link: %s" % e)
        http = None
        try:
            try:
                with open(api_cfg["ca_cert"] or "", "rb") as f:
                    ca = f.read()
            except OSError:
                ca = None  # httpc refuses https without a CA, with a clear message
            http = httpc.Client(api_cfg["base_url"], ca=ca,
                                allow_insecure_http=api_cfg["allow_insecure_http"],
                                timeout_ms=int(api_cfg["timeout_s"] * 1000),
                                deadline_ms=int(api_cfg["timeout_s"] * 3000))
        except ValueError as e:  # a setting the server cannot be reached with
            self.board.link_down()
            log.error("upload impossible: %s; readings are kept" % e)
            return self._retry(now, uplink.ADMIN_RETRY_S, "api: %s" % e)
        try:
            prefixes = [sensocan.item_prefix(slug, uuid) for slug, uuid in self.ids]
            api = sensocan.Api(http, api_cfg["device_uuid"], api_cfg["token"], _BODY_BYTES)
            res = uplink.Uplink(api, self.spool, prefixes, api_cfg["batch_size"], log,
                                wdt.feed).drain(battery, _MAX_REQUESTS)
        finally:
            http.close()
            self.board.link_down()
        text = "sent %d, %d requests" % (res.acked, res.requests)
        if res.dead:
            text += ", %d set aside" % res.dead
        if res.kind != sensocan.STORED:
            return self._retry(now, uplink.retry_wait(res, log),
                               "%s; %s %d %s" % (text, res.kind, res.status, res.message))
        self.st.failures = 0
        if res.wait:
            self.st.retry_at = now + res.wait
            text += ", rate limit: pause %d s" % res.wait
        return text

    def _retry(self, now, wait, what):
        """Plan the next upload attempt after a failure (backoff unless told)."""
        import backoff

        st = self.st
        if wait is None:
            wait = backoff.delay(st.failures)
        st.failures += 1
        st.retry_at = now + wait
        return "%s, retry in %d s" % (what, wait)

    def cycle(self):
        """One wake: sample and/or upload when due; returns seconds until the next wake."""
        board, st, cfg = self.board, self.st, self.cfg
        wdt = board.watchdog(_WDT_MS)
        now = board.now()
        st.cycle += 1
        parts = []
        due = now >= st.next_upload and now >= st.retry_at
        # the battery is read before the radio is on: transmit bursts sag the supply
        stored, battery = self.sample(now, due)
        if stored is not None:
            parts.append("stored %d" % stored)
            st.next_sample = _next_due(st.next_sample or now, cfg["sample_interval_s"], now)
        upload = due and self.spool.pending()
        wdt.feed()
        gc.collect()
        if upload:
            parts.append("upload: " + self.upload(now, battery, wdt))
        if due and not (upload and st.failures):  # a failed upload retries after its backoff
            st.next_upload = _next_due(st.next_upload or now, cfg["upload_interval_s"], now)
        gc.collect()
        sp = self.spool
        parts.append("backlog %d" % sp.pending())
        for name, n in (("dead letters", sp.dead), ("dropped", sp.dropped), ("lost", sp.lost)):
            if n:
                parts.append("%s %d" % (name, n))
        if st.sensor_faults:
            parts.append("sensor faults %d" % st.sensor_faults)
        wake = min(st.next_sample, max(st.next_upload, st.retry_at))
        sleep = max(1, wake - board.now())
        parts.append("sleep %d s" % sleep)
        log.info("cycle %d: %s" % (st.cycle, ", ".join(parts)))
        return sleep


def run(board, cfg):
    """One cycle, then deep sleep until the next thing is due."""
    log.setup(board.now, board.DATA_DIR + "/log.txt")
    st = RtcState.load(board)
    if board.reset_cause() == "power_on":
        log.info("power on: %d sensors, sample every %d s, upload every %d s"
                 % (len(cfg["sensors"]), cfg["sample_interval_s"], cfg["upload_interval_s"]))
    sleep = Node(board, cfg, st).cycle()
    st.crashes = 0
    st.save(board)
    board.deepsleep(sleep * 1000)
