"""Host side (CPython): what a field update costs a node (docs/updates.md).

A node with 3 sensors uploads every minute to the mock (tools/bench/node_heap.Wake) and
checks for a release served over HTTPS (tools/release_server.py): at its first wake (a
cold boot) there is none yet; the second wake, from the cached config, stages one where
only node.mpy differs from the running set, or one where every file does (each
recompiled with one more global). That wake against the same second wake of a node
without an update section gives the bytes downloaded and the awake and radio time; the
smallest heap at which it works (a bisection, as node_heap does) the peak heap with a
download in it.

    python -m tools.bench.update_cost      (MICROPYTHON32=path: the 32-bit heap too)
"""

import json
import os
import tempfile
import time
from pathlib import Path

from tools import build, release, release_server
from tools.dev import sim, unixport
from tools.dev.bench.node_heap import Wake

SCENARIOS = (("one file (node.mpy)", ("node.mpy",)), ("all files", None))


def make(folder, only):
    """A unix-board release whose files `only` (None: all) differ from the build's."""
    _, doc = release.release("1.0.1", board="unix", out=folder)
    for src, rel in build.sources("unix"):
        path = rel.with_suffix(".mpy").as_posix()
        if any(f["path"] == path for f in doc["files"]) and (only is None or path in only):
            release.recompile(folder, doc, path, src.read_text() + "\n_RELEASE = 1\n")
    return doc


class UpdateWake(Wake):
    """Wake's node and mock, and a release in `folder` served over HTTPS: the first wake
    (a cold boot: the config validated) finds no release yet, the second stages it."""

    def __init__(self, work, folder):
        super().__init__(work, ["wave"] * 3)
        certs = self.work / "certs"
        self.folder = Path(folder)
        self.srv = release_server.ReleaseServer(folder, certs / "server.pem",
                                                certs / "server.key").start()
        self.plain = json.loads(self.config.read_text())
        self.with_update = dict(self.plain, update={
            "manifest_url": self.srv.url(), "ca_cert": str(certs / "ca.der"),
            "check_interval_s": 60})

    def stage(self, heap=None, update=True):
        """(the first wake's figures, the next upload wake's) with the later wakes at
        `heap` (the first at the node's); None when one failed or that one did not
        stage. Without `update`: the config has no update section."""
        self.probes += 1
        state = self.work / ("state-%d" % self.probes)
        state.mkdir()
        sim.prepare_flash(state)
        self.config.write_text(json.dumps(self.with_update if update else self.plain))
        node = sim.Simulator(self.config, state)
        hold = self.folder.with_suffix(".hold")
        self.folder.rename(hold)  # the first check finds nothing (404)
        try:
            first = self._timed(node)
        finally:
            hold.rename(self.folder)
        node.heap = str(heap) if heap else node.heap
        for _ in range(4):  # on to the next upload wake
            second = self._timed(node)
            if not second:
                return None
            if "sent" in second:
                break
        if not first or (update and second.get("update") != 2):
            return None
        return first, second

    @staticmethod
    def _timed(node):
        """A wake's figures and its host time (ms) as "wall_ms"; None when it failed."""
        t = time.monotonic()
        run = node.run_cycle()
        if run.sleep_s is None or "cycle" not in run.figures or "failure" in run.figures:
            return None
        return dict(run.figures, wall_ms=(time.monotonic() - t) * 1000)

    def ok(self, heap, wakes=0):
        return self.stage(heap, self.update) is not None

    def stop(self):
        self.srv.stop()
        super().stop()


def measure():
    """Rows: scenario, files downloaded, their bytes, HTTP bytes received, awake ms (the
    host's time of the whole wake) and radio ms more than a plain upload wake, and the
    smallest heap of the staging wake on this port (KiB). Last, the smallest heap of the
    same wake without an update section."""
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for name, only in SCENARIOS:
            folder = work / ("rel-%d" % len(rows))
            doc = make(folder, only)
            wake = UpdateWake(work / ("w-%d" % len(rows)), folder)
            try:
                _, plain = wake.stage(update=False)
                _, staged = wake.stage()
                wake.update = True
                kib = wake.smallest(lo=32, hi=256)
                if not rows:
                    wake.update = False
                    plain_kib = wake.smallest(lo=32, hi=256)
            finally:
                wake.stop()
            size = sum(f["size"] for f in doc["files"] if only is None or f["path"] in only)
            rows.append((name, staged["update_files"], size, staged["update_bytes"],
                         staged["wall_ms"] - plain["wall_ms"],
                         staged["radio_ms"] - plain["radio_ms"], kib))
    return rows, plain_kib


def report(table, binary32=None, using=None):
    """`make bench`'s table (its table() and _micropython(), `using`): the update's cost
    on this port, and its heap on the 32-bit one when given (an ESP32's stand-in)."""
    rows, plain = measure()
    heaps32 = plain32 = None
    if binary32:
        with using(binary32):
            rows32, plain32 = measure()
            heaps32 = [r[-1] for r in rows32]
    out = []
    for i, (name, files, size, got, awake, radio, kib) in enumerate(rows):
        out.append((name, "%d" % files, "%d" % size, "%d" % got, "%.0f" % awake, "%d" % radio,
                    "%s / %s KiB" % (kib, plain),
                    "%s / %s KiB" % (heaps32[i], plain32) if heaps32 else "not measured"))
    table("A field update, staged at an upload wake (3 sensors; this host's times: compare "
          "the rows, not with a board)",
          ("release", "files downloaded", "their bytes", "HTTP bytes in", "awake ms more",
           "radio ms more", "%d-bit smallest heap (update / plain wake)" % unixport.word_bits(),
           "32-bit smallest heap (update / plain wake)"), out)


if __name__ == "__main__":
    from tools.dev.bench.__main__ import _micropython, table

    report(table, os.environ.get("MICROPYTHON32"), _micropython)
