"""Host side (CPython): the smallest heap a whole wake of the node needs.

The wakes here are what a node does after its first power-on: boot.py validates
config.json and caches it (then the interpreter restarts once), the node samples and
uploads over verified TLS to the mock, every reading stored, a backlog too; then the
usual wakes after deep sleep, from the cached config, sampling and uploading every
minute. The smallest `-X heapsize` at which all of them work is found by bisection, in
1 KiB steps, on the binary $MICROPYTHON names (tools/dev/unixport.py). Fragmentation is in
it, which gc.mem_alloc() figures leave out; the figure moves by about a KiB with the
allocation pattern.

    python -m tools.dev.bench.node_heap [--sensors KIND:N,...] [--backlog N] [--heap BYTES]
"""

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from tools import certs, cli
from tools.dev import sim, unixport
from tools.dev.sensocan_mock import MockServer

HERE = Path(__file__).resolve().parent
EPOCH = 1735689600  # lib/clock.py: node seconds are Unix seconds minus this


# What a config sensor can be, lightest to heaviest in the node's RAM: a simulated
# signal, and an analog input converted through a table of the most points allowed.
KINDS = {
    "wave": {"driver": "wave"},
    "long": {"driver": "wave", "uuid": True},  # a 64-character slug and a UUID: its names
    "table": {"driver": "analog", "pin": 34,
              "table": [[0.1 * i + 0.05, 100.0 - 6.25 * i] for i in range(16)]},
    "table2": {"driver": "analog", "pin": 34, "table": [[0.1, 100.0], [2.0, 0.0]]},
}


def kinds(spec):
    """'table:4,wave:20' -> ["table"] * 4 + ["wave"] * 20: a config's sensors, in order."""
    out = []
    for part in spec.split(","):
        kind, _, n = part.partition(":")
        if kind not in KINDS or not n.isdigit():
            raise ValueError("expected KIND:N[,KIND:N...] with KIND one of %s, got %r"
                             % (", ".join(sorted(KINDS)), part))
        out += [kind] * int(n)
    return out


class Wake:
    """A mock with one device and its sensors, `mix` a list of their KINDS, and a config."""

    def __init__(self, work, mix, backlog=0):
        self.work = Path(work)
        self.sensors = sensors = len(mix)
        self.backlog = backlog
        paths = certs.make_ca(self.work / "certs")
        dev, token = str(uuid.uuid4()), "bench-token"
        known = [{"slug": ("s%d" % i).ljust(64, "x") if KINDS[k].get("uuid") else "s%d" % i,
                  "uuid": str(uuid.uuid4())} for i, k in enumerate(mix)]
        self.server = MockServer({"devices": [{"uuid": dev, "token": token, "sensors": known}]},
                                 tls=(str(paths["cert"]), str(paths["key"])),
                                 rate_limit=10_000_000).start()
        self.config = self.work / "config.json"
        self.config.write_text(json.dumps({
            "board": "unix",
            "api": {"base_url": "https://localhost:%d/api/v1" % self.server.port,
                    "token": token, "device_uuid": dev, "ca_cert": str(paths["ca_der"])},
            "sample_interval_s": 60, "upload_interval_s": 60, "battery": {"source": "sim"},
            "sensors": [dict(KINDS[k], slug=s["slug"], uuid=s["uuid"] if KINDS[k].get("uuid") else None)
                        for k, s in zip(mix, known)]}))
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
            run = self.last = node.run_cycle()
            stored += run.figures.get("stored", 0)
            if run.sleep_s is None or "cycle" not in run.figures or "failure" in run.figures:
                return False  # a crash, safe mode, or an upload that failed
            if n >= wakes - 1 and run.figures.get("backlog") == 0:
                return len(self.server.readings()) - before == stored
        return False

    def floor(self, top, step=2048):
        """Where, going down from `top` bytes in `step`s, the wakes first fail: every heap
        from there up to `top` works (bisection cannot tell: a heap can fail between two
        that work, as fragmentation falls). None when `top` itself fails."""
        h = top
        while h > 0 and self.ok(h):
            h -= step
        return h + step if h < top else None

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


def smallest(mix, backlog=0):
    """The smallest heap (KiB) of a whole wake with these sensors (KINDS) and a backlog."""
    with tempfile.TemporaryDirectory() as work:
        wake = Wake(work, mix, backlog)
        try:
            return wake.smallest()
        finally:
            wake.stop()


def floor(mix, backlog=0):
    """Wake.floor() from the node's heap (tools/dev/unixport.node_heap), in bytes."""
    with tempfile.TemporaryDirectory() as work:
        wake = Wake(work, mix, backlog)
        try:
            return wake.floor(int(unixport.node_heap()))
        finally:
            wake.stop()


def main(argv=None):
    ap = cli.Parser(prog="node_heap", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensors", type=_mix, default="wave:3",
                    help="KIND:N[,KIND:N...], kinds: %s (default wave:3)" % ", ".join(KINDS))
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
    kib = smallest(args.sensors, args.backlog)
    print("%s KiB (%d-bit port, %d sensors, backlog %d)" % (
        kib, unixport.word_bits(), len(args.sensors), args.backlog))
    return 0 if kib else 1


def _mix(text):
    try:
        return kinds(text)
    except ValueError as e:
        raise cli.argparse.ArgumentTypeError(str(e))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
