"""Host side (CPython): the smallest heap a whole wake of the node needs.

The wakes here are what a node does after its first power-on: boot.py validates
config.json and caches it (then the interpreter restarts once), the node samples and
uploads over verified TLS to the mock, every reading stored, a backlog too; then the
usual wakes after deep sleep, from the cached config, sampling and uploading every
minute. The smallest `-X heapsize` at which all of them work is found by bisection, in
1 KiB steps, on the binary $MICROPYTHON names (tools/unixport.py). Fragmentation is in
it, which gc.mem_alloc() figures leave out; the figure moves by about a KiB with the
allocation pattern.

    python -m tools.bench.node_heap [--sensors N] [--backlog N] [--heap BYTES]
"""

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from tools import certs, cli, sim, unixport
from tools.sensocan_mock import MockServer

HERE = Path(__file__).resolve().parent
EPOCH = 1735689600  # lib/clock.py: node seconds are Unix seconds minus this


class Wake:
    """A mock with one device of `sensors` wave sensors, and a config for it."""

    def __init__(self, work, sensors, backlog=0):
        self.work = Path(work)
        self.sensors = sensors
        self.backlog = backlog
        paths = certs.make_ca(self.work / "certs")
        dev, token = str(uuid.uuid4()), "bench-token"
        known = [{"slug": "s%d" % i, "uuid": str(uuid.uuid4())} for i in range(sensors)]
        self.server = MockServer({"devices": [{"uuid": dev, "token": token, "sensors": known}]},
                                 tls=(str(paths["cert"]), str(paths["key"])),
                                 rate_limit=10_000_000).start()
        self.config = self.work / "config.json"
        self.config.write_text(json.dumps({
            "board": "unix",
            "api": {"base_url": "https://localhost:%d/api/v1" % self.server.port,
                    "token": token, "device_uuid": dev, "ca_cert": str(paths["ca_der"])},
            "sample_interval_s": 60, "upload_interval_s": 60, "battery": {"source": "sim"},
            "sensors": [{"slug": s["slug"], "driver": "wave"} for s in known]}))
        self.probes = 0

    def ok(self, heap, wakes=3):
        """True when `wakes` wakes from a cold boot at `heap` bytes sample and upload
        everything."""
        self.probes += 1
        state = self.work / ("state-%d" % self.probes)
        state.mkdir()
        sim.prepare_flash(state)
        now = time.time()
        if self.backlog:  # readings waiting on flash, a minute apart, up to now
            res = unixport.run([str(HERE / "spool_fill.py"), state / "flash.img", self.backlog,
                                self.sensors, int(now) - EPOCH - 60], heap="1M", timeout=600)
            if "FILLED" not in res.stdout:
                raise SystemExit(res.stdout + res.stderr)
        node = sim.Simulator(self.config, state, heap=str(heap))
        before = len(self.server.readings())
        stored = self.backlog
        for n in range(wakes + 5):  # then on until the last readings have gone too
            run = node.run_cycle()
            stored += run.figures.get("stored", 0)
            if run.sleep_s is None or "cycle" not in run.figures or "failure" in run.figures:
                return False  # a crash, safe mode, or an upload that failed
            if n >= wakes - 1 and run.figures.get("backlog") == 0:
                return len(self.server.readings()) - before == stored
        return False

    def smallest(self, lo=16, hi=256):
        """The smallest heap in KiB at which ok() holds (None above `hi`)."""
        if not self.ok(hi * 1024):
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if self.ok(mid * 1024) else (mid, hi)
        return hi

    def stop(self):
        self.server.stop()


def smallest(sensors, backlog=0):
    """The smallest heap (KiB) of a whole wake with `sensors` sensors and a backlog."""
    with tempfile.TemporaryDirectory() as work:
        wake = Wake(work, sensors, backlog)
        try:
            return wake.smallest()
        finally:
            wake.stop()


def main(argv=None):
    ap = cli.Parser(prog="node_heap", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensors", type=cli.positive_int, default=3)
    ap.add_argument("--backlog", type=cli.int_between(0, 50000), default=0)
    ap.add_argument("--heap", type=cli.positive_int,
                    help="only try this heap (bytes): exit 0 when the wake works")
    args = ap.parse_args(argv)
    if args.heap:
        with tempfile.TemporaryDirectory() as work:
            wake = Wake(work, args.sensors, args.backlog)
            try:
                ok = wake.ok(args.heap)
            finally:
                wake.stop()
        print("%d bytes: %s" % (args.heap, "works" if ok else "fails"))
        return 0 if ok else 1
    print("%d KiB (%d-bit port, %d sensors, backlog %d)" % (
        smallest(args.sensors, args.backlog), unixport.word_bits(), args.sensors, args.backlog))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
