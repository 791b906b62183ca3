"""Plays a chaos draw (draws.Scenario) on the whole node and checks what must hold.

The node runs wake after wake under the simulator (the real firmware on the unix port,
at an ESP32's heap) against the mock, each wake's requests meeting the behaviours the
draw gave them, with its clock steps, power cuts, link and NTP. Then the server behaves
and the node drains. Checked, from the node's own figures, its flash and what reached
the server:

- nothing stored is lost: every reading a wake reported stored is at the server, or in
  the node's dead letters, or counted dropped or lost by the node;
- nothing reaches the server the node did not sample;
- duplicates at the server are at most the readings the node counted unanswered, plus
  those stored from a request of a wake whose power was cut;
- the backlog (parked readings and the alert LED too) drains within a bounded time;
- no MemoryError, traceback, crash, safe mode or watchdog reset in any wake.
"""

import bisect
import collections
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.chaos.draws import BACK, DAY, Wake
from tests.nodekit import SENSORS, Kit, epoch
from tools import spool_dump
from tools.dev import sim

CUT_OFF_S = 30  # how long the power stays off after a cut
IDLE_S = 15.0  # the most a fault action may still be running after its wake
MOST_DRAIN_WAKES = 4000
RADIO_SLACK_S = 5  # past upload.deadline_s: closing the connection, a busy machine
SLUGS = {s["slug"] for s in SENSORS}
_SLUG_OF = {s["uuid"]: s["slug"] for s in SENSORS}
_BAD_OUTPUT = ("Traceback", "MemoryError", "[sim] watchdog", "crash guard")


class ChaosSim(sim.Simulator):
    """The simulator, with the ESP32's time module when the draw asks for it."""

    extra_env = {}

    def env(self):
        e = super().env()
        e.update(self.extra_env)
        return e


@dataclass
class Woken:
    """One wake as played: the Run, and what the test knows around it."""

    run: object
    awake: range  # the true time's whole seconds while the node was awake
    rtc_started: int  # the board's RTC at launch (the true time unless rtc_unset)
    requests: range  # ids in the mock's request log of this wake's requests
    bytes_out: int  # reply bytes the mock sent during the wake

    def took(self, t, rtc=False):
        """Whether a reading stamped `t` (by the true time, or by the RTC) was taken in
        this wake: its stamp is the clock at the moment it was sampled."""
        return t - (self.rtc_started - self.awake.start if rtc else 0) in self.awake


@dataclass
class Outcome:
    """A played draw: its figures, and the invariants it broke (none, one hopes)."""

    figures: dict = field(default_factory=dict)
    broken: list = field(default_factory=list)


class Player:
    def __init__(self, scenario, tmp):
        self.sc = scenario
        self.offset = 0  # seconds the world's clock was stepped, in all
        self.logged = 0  # requests in the mock's log: its ids run from 1
        self.kit = Kit(tmp, rtc_unset=scenario.rtc_unset, rate_limit=scenario.rate_limit,
                       clock=self.server_time, log=self.count_request)
        old = self.kit.sim
        self.sim = self.kit.sim = ChaosSim(old.config, old.state, rtc_unset=scenario.rtc_unset)
        self.server = self.kit.server
        self.kit.write_config(**scenario.config)
        self.woken = []

    def count_request(self, entry):
        self.logged += 1

    def server_time(self):
        """The server's clock: the true time, which the node's clock steps leave alone."""
        return self.sim.clock - self.offset

    def wake(self, w):
        sim, server = self.sim, self.server
        step = -self.offset if w.step == BACK else w.step
        sim.clock += step
        self.offset += step
        sim.set_world(link="up" if w.link else "down", ntp="ok" if w.ntp else "fail")
        sim.extra_env = {}
        if self.sc.esp32_time:
            sim.extra_env["SENSOCAN_EPOCH"] = "2000"
        if w.ticks_wrap is not None:
            sim.extra_env["SENSOCAN_TICKS_WRAP"] = str(w.ticks_wrap)
        for rule in w.faults:  # queued: the next requests meet them in order
            server.faults.add(dict(rule, times=1, method="POST"))
        server.wire.reset()
        rtc, launched, first = int(sim.clock) + sim.rtc_offset, sim.clock, self.logged + 1
        run = sim.run_cycle(cut_after=w.cut)
        awake = range(int(launched), int(sim.clock - (run.sleep_s or 0)) + 1)
        if run.killed:
            sim.clock += CUT_OFF_S
        # a killed node's last bytes may reach the server after it died, and a slow
        # action stores after its client left: this wake's requests are all in by now
        if not server.wait_idle(IDLE_S):
            raise AssertionError("the mock is still busy %g s after the wake" % IDLE_S)
        woken = Woken(run, awake, rtc, range(first, self.logged + 1),
                      server.wire.to_dict()["bytes_out"])
        self.woken.append(woken)
        return woken

    def drain_bound(self, start_wakes):
        """Node seconds within which a node that meets a behaving server must have sent
        its backlog: its longest wait, then one request after another at the server's
        rate limit."""
        cfg, up = self.sc.config, self.sc.config["upload"]
        retry = [int(r.get("retry_after") or r.get("headers", {}).get("Retry-After") or 0)
                 for w in self.sc.wakes for r in w.faults]
        wait = max([up["backoff_cap_s"], up["alert_retry_s"], 61] + [min(r, DAY) for r in retry])
        readings = 3 * start_wakes + 3 * math.ceil(wait / cfg["sample_interval_s"]) + 3
        requests = math.ceil(readings / up["chunk_max"]) + 3
        return (wait + up["alert_retry_s"] + 2 * cfg["upload_interval_s"]
                + 2 * cfg["sample_interval_s"] + 61 * math.ceil(requests / self.sc.rate_limit)
                + 300)

    def play(self):
        out = Outcome()
        broken = out.broken
        for w in self.sc.wakes:
            self.wake(w)
        # the server behaves from now on: no faults, the link up, no cuts, no steps
        self.server.faults.clear()
        chaos_wakes = len(self.woken)
        bound = self.drain_bound(chaos_wakes)
        start = self.sim.clock
        drained = False
        while len(self.woken) - chaos_wakes < MOST_DRAIN_WAKES:
            f = self.wake(Wake()).run.figures
            if f.get("backlog") == 0 and f.get("parked") == 0 and f.get("alert") == 0:
                drained = True
                break
            if self.sim.clock - start > bound:
                break
        drain_s = int(self.sim.clock - start)
        if not drained:
            broken.append("not drained %d s (%d wakes) after the server behaved (bound %d s): "
                          "%s" % (drain_s, len(self.woken) - chaos_wakes, bound,
                                  self.woken[-1].run.figures))
        self.check_wakes(broken)
        self.check_readings(out, drained)
        out.figures.update(
            wakes=len(self.woken), chaos_wakes=chaos_wakes,
            drain_wakes=len(self.woken) - chaos_wakes, drain_s=drain_s,
            cuts=sum(wk.run.killed for wk in self.woken),
            steps=sum(w.step != 0 for w in self.sc.wakes),
            link_down=sum(not w.link for w in self.sc.wakes),
            rules=sum(len(w.faults) for w in self.sc.wakes),
            largest_wake_reply=max(wk.bytes_out for wk in self.woken),
            min_free_heap=min((wk.run.figures["min_free_heap"] for wk in self.woken
                               if "min_free_heap" in wk.run.figures), default=0))
        return out

    def check_wakes(self, broken):
        radio_ms = (self.sc.config["upload"]["deadline_s"] + RADIO_SLACK_S) * 1000
        for wk in self.woken:
            run = wk.run
            bad = [b for b in _BAD_OUTPUT if b in run.output]
            if run.safe_mode:
                bad.append("safe mode")
            if bad:
                broken.append("wake %d printed %s:\n%s" % (run.cycle, bad, run.output))
            elif not run.killed and (run.sleep_s is None or not run.figures):
                broken.append("wake %d ended without sleeping or reporting (exit %s):\n%s"
                              % (run.cycle, run.returncode, run.output))
            elif run.figures.get("radio_ms", 0) > radio_ms:
                broken.append("wake %d kept the radio on %d ms, past upload.deadline_s"
                              % (run.cycle, run.figures["radio_ms"]))

    def check_readings(self, out, drained):
        broken, figures = out.broken, out.figures
        stored = self.server.readings()
        at_server = collections.Counter((r["sensor_slug"], epoch(r["timestamp"])) for r in stored)
        sampling = sorted((wk for wk in self.woken if wk.run.killed or wk.run.figures.get("stored")),
                          key=lambda wk: wk.awake.start)
        for a, b in zip(sampling, sampling[1:]):
            if a.awake.stop > b.awake.start:  # the clock stepped into an earlier wake's time
                raise AssertionError("wakes %d and %d overlap in time: the draw cannot tell "
                                     "their readings apart" % (a.run.cycle, b.run.cycle))
        starts = [wk.awake.start for wk in sampling]
        here = collections.defaultdict(set)  # wake -> slugs of its readings at the server
        invented = []
        for slug, t in at_server:
            i = bisect.bisect_right(starts, t) - 1
            if slug in SLUGS and i >= 0 and sampling[i].took(t):
                here[sampling[i].run.cycle].add(slug)
            else:
                invented.append((slug, t))
        if invented:
            broken.append("readings at the server the node never sampled: %s" % invented[:5])
        final = self.woken[-1].run.figures
        dead = self.dead_letters()
        missing = []
        for wk in sampling:
            n = wk.run.figures.get("stored", 0)
            got = here[wk.run.cycle]
            if wk.run.killed or len(got) == n:
                continue
            if n != len(SLUGS):  # a sensor failed to read: which ones is not known
                missing += [("?", wk.awake.start)] * max(0, n - len(got))
                continue
            missing += [(s, wk.awake.start) for s in SLUGS - got
                        if not any(d == s and (wk.took(t) or wk.took(t, rtc=True))
                                   for d, t in dead)]
        excused = final.get("dropped", 0) + final.get("lost", 0)
        if drained and len(missing) > excused:  # else they may still be in the backlog
            broken.append("%d readings reported stored are neither at the server nor in the "
                          "dead letters (dropped + lost: %d): %s"
                          % (len(missing), excused, missing[:8]))
        duplicates = sum(c - 1 for c in at_server.values())
        unanswered = sum(wk.run.figures.get("unanswered", 0) for wk in self.woken)
        cut_ids = {i for wk in self.woken if wk.run.killed for i in wk.requests}
        in_cut_wakes = sum(1 for r in stored if r["request_id"] in cut_ids)
        if duplicates > unanswered + in_cut_wakes:
            broken.append("%d duplicates at the server, but the node counted %d unanswered "
                          "(and %d readings arrived from wakes cut short)"
                          % (duplicates, unanswered, in_cut_wakes))
        figures.update(
            readings=len(at_server),
            sampled=sum(wk.run.figures.get("stored", 0) for wk in self.woken),
            duplicates=duplicates, unanswered=unanswered, dead_letters=final.get("dead_letters", 0),
            dropped=final.get("dropped", 0), lost=final.get("lost", 0), requests=self.logged,
            node_requests=sum(wk.run.figures.get("requests", 0) for wk in self.woken),
            faults=sum(1 for r in self.server.requests()
                       if (r["reply_class"] or "").startswith("fault:")))

    def dead_letters(self):
        """(slug, Unix time) of each dead letter the flash keeps."""
        with tempfile.TemporaryDirectory() as tmp:
            data = spool_dump.extract(self.sim.state / "flash.img", tmp)
            names = json.loads((data / "sensors.json").read_text())
            dead = set()
            for name in ("dead.1", "dead"):
                path = data / "spool" / name
                if path.exists():
                    for sensor, _, t, _, _ in spool_dump.records(path.read_bytes()):
                        if sensor < len(names):
                            slug, uuid = names[sensor][:2]
                            dead.add((slug or _SLUG_OF.get(uuid), t))
        return dead

    def stop(self):
        self.kit.stop()


def play(scenario):
    """Play `scenario` in a scratch folder; returns its Outcome."""
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        player = Player(scenario, Path(tmp))
        try:
            return player.play()
        finally:
            player.stop()
