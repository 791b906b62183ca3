"""The node's wake: restore -> sample -> store -> upload -> record health -> schedule -> sleep.

The only module that knows all the parts. Readings reach the flash spool before the
radio is even considered, and the radio is on only while there is something to upload.
Each phase returns its result; the cycle line and the wake's figures come from them.
"""

import sys
import time

from micropython import const

import clock
import heap
import log
import schedule
from rtcstate import RtcState
from spool import Spool

_WDT_MS = const(120000)  # covers DNS, NTP, a TLS handshake and a request at its deadline
_RESET_CODES = {"power_on": 1, "deep_sleep": 2, "watchdog": 3, "soft": 4}
_T0 = time.ticks_ms()  # awake_ms counts from here: main.py imports this just before run()
_OTA = sys.modules.get("otaboot")  # field updates' pointer: loaded only on a node that updated
_COUNTS = ("parked", "dead_letters", "dropped", "lost", "sensor_faults")  # shown when not 0


class Node:
    def __init__(self, board, cfg, st):
        """Keeps of `cfg` only what its phases need: the sensors go with the sampling."""
        self.board = board
        self.st = st
        self.plan = schedule.Plan(cfg)
        self.net = (cfg["api"], cfg["upload"], cfg["wifi"], cfg["clock"], cfg.get("update"))
        self.sampling = (cfg["sensors"], cfg["battery"], cfg.get("i2c"))
        sp = cfg["spool"]
        # by default 3/4 of the flash, counting a segment at its smallest (3 KiB a block)
        capacity = sp["capacity"] or board.FLASH_BYTES * 3 // 4 // 4096 * 192
        self.spool = Spool(board.DATA_DIR + "/spool", capacity,
                           sp["when_full"] == "drop_newest", log)
        # every sensor the spool may hold readings of: the config's, then the health
        # figures', each with its number in that table
        health, n = cfg["health"], len(cfg["sensors"])
        idents = [(s["slug"], s["uuid"]) for s in cfg["sensors"]]
        idents += [(health[k], None) for k in health]
        with heap.Borrowed():  # once a wake: 1-3 KiB off its smallest heap (docs/internals.md)
            self.ids, numbers = __import__("sensortable").load(board.DATA_DIR + "/sensors.json",
                                                               idents)
        self.numbers = numbers[:n]
        self.health = dict(zip(health, numbers[n:]))
        self._sessions = None
        self.wdt = None
        self.figures = {"reset_cause": _RESET_CODES.get(board.reset_cause(), 0)}

    def cycle(self):
        """One wake: sample and/or upload when due; returns seconds until the next wake."""
        board, st, plan, spool, fig = self.board, self.st, self.plan, self.spool, self.figures
        self.wdt = board.watchdog(_WDT_MS)
        now = board.now()
        schedule.settle(st, plan, now)
        st.cycle += 1
        if st.alert:
            board.alert(st.alert)
        due = schedule.upload_due(st, now)
        # the battery is read before the radio is on: transmit bursts sag the supply
        stored, battery = self.sample(now, due)
        parts = [] if stored is None else ["stored %d" % stored]
        self.wdt.feed()
        fig["free_sample"] = fig["min_free_heap"] = heap.free()
        up = self.upload(now, battery) if due and spool.pending() else None
        if up is not None:
            parts.append("upload: " + up.text)
            fig["free_upload"] = heap.free()
            if self.health:
                self.record_health()
            now += up.jump
        if due and not (up is not None and (st.failures or up.more)):
            interval = schedule.next_upload(st, plan, now)
            if interval != plan.upload_s:
                parts.append("battery %d mV: upload every %d s" % (st.battery_mv, interval))
                fig["upload_every"] = interval
        fig["free_end"] = heap.free()
        fig["sleep"] = schedule.sleep_s(st, board.now())
        self.report(parts)
        return fig["sleep"]

    def sample(self, now, battery_too):
        """The sampling phase (sampler.py, its modules borrowed): (stored or None, volts
        or None). The sensors' specs are let go once used (docs/internals.md, "Memory")."""
        st = self.st
        due = now >= st.next_sample
        if not (due or battery_too):
            return None, None
        aux = self._session(now) if due else 0
        sensors, battery, i2c = self.sampling
        self.sampling = None
        with heap.Borrowed():  # no name bound to the module: it goes when the block ends
            got = __import__("sampler").run(self.board, sensors, battery, i2c, st, self.spool,
                                            self.numbers, now, aux, due, battery_too)
        if got[0] is not None:
            self.figures["stored"] = got[0]
            schedule.sampled(st, self.plan, now)
        if got[1] is not None:  # kept for the power bands: a wake that fails to read
            st.battery_mv = int(got[1] * 1000)  # it goes by the last reading
        return got

    def upload(self, now, battery):
        """The upload phase (upload.py), then its retry or pause planned."""
        import upload

        up = upload.Upload(self.board, self.net, self.st, self.spool, self.ids, self.sessions,
                           self.wdt.feed, _WDT_MS - 10000).run(self.plan, now, battery)
        fig = self.figures
        fig.update(up.figures)
        if _OTA and up.figures.get("sent"):  # the first upload stored with a new set confirms it
            _OTA.confirm(self.board)
        if "free_drain" in up.figures:  # TLS still open: the wake's low point
            fig["min_free_heap"] = min(fig["min_free_heap"], up.figures["free_drain"])
        wait = schedule.uploaded(self.st, self.plan, now, up)
        if wait is not None:
            fig["retry_in"] = wait
            up.text += ", retry in %d s" % wait
        if up.jump:  # the clock was set: the schedule keeps its place in real time
            schedule.shift(self.st, up.jump)
        return up

    def record_health(self):
        """Store the health figures as readings under their slugs: they travel (batch)
        with the next upload. The energy ones are this wake's so far: awake_ms from
        node.py's import, radio_ms from link_up to link_down, bytes_sent in HTTP bytes,
        flash_writes the spool's files written (this commit not counted)."""
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

    def report(self, parts):
        """The cycle line on the console and the wake's figures to the board."""
        st, sp, fig = self.st, self.spool, self.figures
        fig.update(cycle=st.cycle, backlog=sp.pending(), parked=sp.parked(), dead_letters=sp.dead,
                   dropped=sp.dropped, lost=sp.lost, sensor_faults=st.sensor_faults,
                   alert=st.alert)
        parts.append("backlog %d" % fig["backlog"])
        for name in _COUNTS:
            if fig[name]:
                parts.append("%s %d" % (name.replace("_", " "), fig[name]))
        if st.alert:
            parts.append("ALERT %d" % st.alert)
        parts.append("sleep %d s" % fig["sleep"])
        if _OTA:
            _OTA.figures(fig, parts)
        log.info("cycle %d: %s" % (st.cycle, ", ".join(parts)))
        self.board.report(fig)

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


def run(board, take_config):
    """One cycle, then deep sleep until the next thing is due. `take_config()` hands the
    checked config over (safemode.take)."""
    log.setup(board.now, board.DATA_DIR + "/log.txt")
    node = _start(board, take_config)
    sleep = node.cycle()
    node.st.crashes = 0
    node.st.save(board)
    if _OTA:
        _OTA.woke(board)
    board.deepsleep(sleep * 1000)


def _start(board, take_config):
    """The Node, built in a frame of its own: once it returns, only the Node's parts of
    the config are held (the GC scans live frames), so the sensors' specs go with the
    sampling (Node.sample)."""
    cfg = take_config()
    board.configure(cfg)  # pins, LED and power mode, before anything uses them
    st = RtcState.load(board)
    if board.reset_cause() == "power_on":
        log.info("power on: %s, sample every %d s, upload every %d s"
                 % (log.count(len(cfg["sensors"]), "sensor"), cfg["sample_interval_s"],
                    cfg["upload_interval_s"]))
        for line in cfg["warnings"]:  # allowed but risky (a strapping pin...): once a power-on
            log.warn("config: " + line)
    return Node(board, cfg, st)
