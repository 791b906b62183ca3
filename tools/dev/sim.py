"""Host tool (CPython): the emulated node's power supply and world.

Runs the firmware under the MicroPython unix port on the emulated board
(boards/unix), one process per wake, exactly as a chip resets after deep sleep:
the flash image and RTC memory live in the state folder, the clock is accelerated
by skipping the sleeps, and the link can be switched off between cycles.

    python -m tools.dev.sim --config CONFIG --state DIR [--cycles N] [--speed X]

prints one line per cycle. Exit status: 0 done, 3 the node stopped in safe mode,
4 the node stopped without asking to sleep (it would sit at the REPL).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tools import build, cli
from tools.dev import unixport

ROOT = Path(__file__).resolve().parents[2]
RESET = ROOT / "boards" / "unix" / "reset.py"
FLASH_BYTES = 512 * 4096
_Y2000 = 946684800  # where a cold-booted ESP32's RTC starts


class Run:
    """What one wake of the node did."""

    def __init__(self, cycle, started, output, returncode, sleep_s, cause, killed=False,
                 figures=None):
        self.cycle = cycle
        self.killed = killed  # the power was cut during this run
        self.started = started  # board time at launch (Unix seconds)
        self.output = output
        self.returncode = returncode
        self.sleep_s = sleep_s  # None: the node did not ask to sleep
        self.cause = cause      # the reset cause this run was started with
        # what the node reported of its wake (node.py: stored, sent, requests, backlog,
        # failure, sleep...), {} when it did not get that far
        self.figures = figures or {}

    @property
    def safe_mode(self):
        """The lines safe mode gave (safemode.announce's report), None when it did not stop."""
        return self.figures.get("safe_mode")


class Simulator:
    def __init__(self, config, state, heap=None, speed=0.0, wdt_s=120.0, echo=None,
                 rtc_unset=False):
        self.config = Path(config).resolve()
        self.state = Path(state)
        self.heap = heap or unixport.node_heap()  # an ESP32's (tools/dev/unixport.py)
        self.speed = speed  # 0: do not wait at all during sleeps
        self.wdt_s = wdt_s
        self.echo = echo    # called with each output line as it arrives
        self.cycle = 0
        self.clock = time.time()  # the true Unix time: runs ahead while the node sleeps
        # A real ESP32's RTC restarts at 2000-01-01 on power-on until the node syncs it;
        # rtc_unset plays that. rtc_offset is the RTC's lead over the true time.
        self.rtc_unset = rtc_unset
        self.rtc_offset = _Y2000 - int(self.clock) if rtc_unset else 0
        self.cause = "power_on"
        self.device_path = build.device_path("unix")
        self.state.mkdir(parents=True, exist_ok=True)
        if not (self.state / "world.json").exists():
            self.set_world(link="up", battery_start=int(time.time()))

    # -- the world ---------------------------------------------------------------

    def world(self):
        try:
            return json.loads((self.state / "world.json").read_text())
        except (OSError, ValueError):
            return {}

    def set_world(self, **changes):
        w = self.world()
        w.update(changes)
        tmp = self.state / "world.json.tmp"
        tmp.write_text(json.dumps(w))
        tmp.replace(self.state / "world.json")

    def set_link(self, up):
        self.set_world(link="up" if up else "down")

    def power_cut(self):
        """Next start is a cold boot: RTC memory is lost, the flash image stays."""
        (self.state / "rtc.bin").unlink(missing_ok=True)
        self.cause = "power_on"
        if self.rtc_unset:
            self.rtc_offset = _Y2000 - int(self.clock)

    # -- running -----------------------------------------------------------------

    def env(self):
        e = dict(os.environ)
        e.update({
            "MICROPYPATH": os.pathsep.join(str(p) for p in self.device_path),
            "SENSOCAN_STATE": str(self.state),
            "SENSOCAN_CONFIG": str(self.config),
            "SENSOCAN_RESET_CAUSE": self.cause,
            "SENSOCAN_CLOCK": str(int(self.clock) + self.rtc_offset),
            "SENSOCAN_TRUE_CLOCK": str(int(self.clock)),
        })
        return e

    def run_cycle(self, typed=None, interactive=False, cut_after=None):
        """Start the node once and wait until it sleeps, stops or overstays the watchdog.

        `typed` is text for the node's console (what a user types at the REPL);
        `interactive` connects this terminal instead. `cut_after` (seconds) cuts the
        power then: SIGKILL, wherever the node is, and RTC memory is lost.
        """
        self.cycle += 1
        sleep_file = self.state / "sleep"
        sleep_file.unlink(missing_ok=True)
        (self.state / "rtc_set").unlink(missing_ok=True)
        report = self.state / "wake.json"
        report.unlink(missing_ok=True)
        started, cause = int(self.clock), self.cause
        launched = time.monotonic()
        proc = subprocess.Popen(
            [unixport.binary(), "-X", "heapsize=" + self.heap, str(RESET)],
            env=self.env(), stdin=None if interactive else subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=not interactive)
        if not interactive:
            proc.stdin.write(typed or "")
            proc.stdin.close()
        out = []

        def pump():
            for line in proc.stdout:
                out.append(line)
                if self.echo:
                    self.echo(line.rstrip("\n"))

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        killed = False
        try:
            rc = proc.wait(timeout=cut_after if cut_after is not None else self.wdt_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            killed = cut_after is not None
            out.append("[sim] power cut\n" if killed else
                       "[sim] watchdog: the node ran longer than %g s; reset\n" % self.wdt_s)
        reader.join(5)
        if killed:
            (self.state / "sleep").unlink(missing_ok=True)
            self.power_cut()
            self.clock += time.monotonic() - launched
            return Run(self.cycle, started, "".join(out), rc, None, cause, killed=True)
        rtc_set = self.state / "rtc_set"
        if rtc_set.exists():  # the node set its RTC (NTP): it keeps that through deep sleep
            self.rtc_offset = int(rtc_set.read_text())
        sleep_s = None
        if sleep_file.exists():
            request = sleep_file.read_text()
            sleep_file.unlink()
            if request == "reset":  # a soft reset: start again at once, RTC memory kept
                self.cause = "soft"
                self.cycle -= 1
                return self.run_cycle(typed, interactive)
            sleep_s = int(request) / 1000.0
        self.clock += time.monotonic() - launched
        self._advance(rc, sleep_s)
        figures = json.loads(report.read_text()) if report.exists() else None
        return Run(self.cycle, started, "".join(out), rc, sleep_s, cause, figures=figures)

    def _advance(self, rc, sleep_s):
        if sleep_s is not None:
            self.cause = "deep_sleep"
            if self.speed:
                time.sleep(sleep_s / self.speed)
            self.clock += sleep_s
        elif rc == -signal.SIGKILL:
            self.cause = "watchdog"
        else:
            self.cause = "power_on"


def prepare_flash(state):
    """Create a blank (erased) flash image so the first boot formats it."""
    img = Path(state) / "flash.img"
    if not img.exists():
        with open(img, "wb") as f:
            f.write(b"\xff" * FLASH_BYTES)


def parse_ranges(spec):
    """'3-5,9' -> {3, 4, 5, 9}"""
    return cli.cycle_ranges(spec or "")


# What a run keeps in its state folder: --fresh removes these, and nothing else there.
STATE_FILES = ("flash.img", "rtc.bin", "world.json", "world.json.tmp", "sleep", "rtc_set")


def main(argv=None):
    ap = cli.Parser(prog="sim", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, type=cli.existing_file,
                    help="the node's config.json")
    ap.add_argument("--state", required=True, type=cli.out_dir,
                    help="state folder (flash image, RTC memory; made if missing)")
    ap.add_argument("--cycles", type=cli.positive_int, default=10,
                    help="wakes to run (default 10)")
    ap.add_argument("--speed", type=cli.non_negative_float, default=0,
                    help="clock acceleration: sleeps last sleep/speed seconds (0: no waiting)")
    ap.add_argument("--heap", type=cli.heap_size,
                    help="MicroPython heap (default: an ESP32's, %s bytes, scaled on a 64-bit "
                    "port: tools/dev/unixport.py)" % unixport.ESP32_HEAP)
    ap.add_argument("--link-down", type=cli.cycle_ranges, default=set(), metavar="CYCLES",
                    help="cycles with the link down, e.g. 5-8,12")
    ap.add_argument("--fresh", action="store_true",
                    help="start from an erased flash and a power cut (removes %s)"
                    % ", ".join(STATE_FILES[:3]))
    ap.add_argument("--rtc-unset", action="store_true",
                    help="the RTC starts at 2000-01-01 on power-on, as on a real ESP32")
    ap.add_argument("--interactive", action="store_true",
                    help="connect the terminal to the node (REPL in safe mode)")
    ap.add_argument("--verbose", action="store_true", help="show all node output")
    args = ap.parse_args(argv)

    state = args.state
    if args.fresh:
        for name in STATE_FILES:
            (state / name).unlink(missing_ok=True)
    prepare_flash(state)
    sim = Simulator(args.config, state, heap=args.heap, speed=args.speed,
                    echo=print if args.verbose else None, rtc_unset=args.rtc_unset)
    down = args.link_down
    for _ in range(args.cycles):
        sim.set_link(sim.cycle + 1 not in down)
        run = sim.run_cycle(interactive=args.interactive)
        if not args.verbose:
            show(run)
        if run.safe_mode:
            if not args.verbose:
                print(run.output, end="")
            return 3
        if run.sleep_s is None and run.cause != "watchdog":
            print(run.output, end="")
            print("[sim] the node stopped without asking to sleep (exit %d)" % run.returncode)
            return 4
    return 0


def show(run):
    """The run's cycle line, and anything unusual it printed (routine INFO lines not)."""
    stamp = "[%3d %s]" % (run.cycle, _iso(run.started))
    for line in run.output.splitlines():
        if " INFO cycle " in line:
            print(stamp, line.split(": ", 1)[-1])
        elif " INFO " not in line:
            print(stamp, line.split(" ", 1)[-1] if line[:1].isdigit() else line)


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


if __name__ == "__main__":
    sys.exit(main())
