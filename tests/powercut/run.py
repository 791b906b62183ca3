"""Host side (CPython): sweep power cuts over the real firmware and count the verdicts.

Runs tests/powercut/harness.py (MicroPython) for one scenario seed per process, in
parallel, until at least --cuts cut points have been tried, and prints the totals:

    python -m tests.powercut.run --cuts 5000 [--step 1] [--jobs 2]

Exit status 1 when any cut lost a reading, left an unmountable image, re-sent more
than the batch in flight, or crashed the firmware.
"""

import argparse
import collections
import concurrent.futures
import os
import sys
import tempfile
import time
from pathlib import Path

from tools.dev import unixport as mpy

HARNESS = Path(__file__).resolve().parent / "harness.py"
HEAP = "1M"  # the harness keeps every reading's fate; the node under test is unchanged


def scenario(seed, step, workdir, cuts=None):
    """Run every `step`-th cut point of one scenario (or `cuts` of them, spread evenly
    over it); returns its output lines."""
    points = ["all:%d" % step] if cuts is None else ["%.6f" % ((k + 0.5) / cuts) for k in range(cuts)]
    res = mpy.run([str(HARNESS), workdir, str(seed)] + points, heap=HEAP, timeout=3600)
    lines = [line for line in res.stdout.splitlines() if line.startswith(("CUT ", "SCENARIO "))]
    if res.returncode or not lines:
        lines.append("CUT %d 0 crash harness exit %d: %s" % (
            seed, res.returncode, (res.stdout + res.stderr)[-500:]))
    return lines


def sweep(cuts, step=1, jobs=2, first_seed=1, echo=None):
    """Cut points over as many seeds as it takes; returns (verdict counts, totals, failures)."""
    verdicts = collections.Counter()
    totals = collections.Counter()
    failures = []
    seed = first_seed
    with tempfile.TemporaryDirectory() as tmp, \
            concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        running = set()
        while sum(verdicts.values()) < cuts or running:
            while len(running) < jobs and sum(verdicts.values()) + 150 * len(running) < cuts:
                running.add(pool.submit(scenario, seed, step, tmp))
                seed += 1
            done, running = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            for fut in done:
                for line in fut.result():
                    _tally(line, verdicts, totals, failures, echo)
    return verdicts, totals, failures


def _tally(line, verdicts, totals, failures, echo):
    parts = line.split()
    if parts[0] == "SCENARIO":
        totals["scenarios"] += 1
        totals["flash ops"] += int(parts[2].split("=")[1])
        return
    verdict = parts[3]
    verdicts[verdict] += 1
    if verdict != "ok":
        failures.append(line)
        if echo:
            echo(line)
        return
    for field in parts[4:]:
        k, v = field.split("=")
        totals[k] += int(v)
        if k == "cuts" and v == "2":
            totals["second cuts"] += 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cuts", type=int, default=5000, help="cut points to try (at least)")
    ap.add_argument("--step", type=int, default=1, help="try every step-th flash operation")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--seed", type=int, default=1, help="first scenario seed")
    args = ap.parse_args(argv)
    started = time.monotonic()
    verdicts, totals, failures = sweep(args.cuts, args.step, args.jobs, args.seed, echo=print)
    n = sum(verdicts.values())
    print("power cuts: %d over %d scenarios (%d flash operations), %.0f s"
          % (n, totals["scenarios"], totals["flash ops"], time.monotonic() - started))
    for name in ("ok", "lost", "unmountable", "extra-dups", "crash"):
        print("  %-12s %6d" % (name, verdicts[name]))
    print("  readings traced: %d; re-sent (reply in flight): %d; dead letters: %d;"
          " dropped by a full spool (counted): %d; second cuts during recovery: %d"
          % (totals["stored"], totals["dups"], totals["dead"], totals["dropped"],
             totals["second cuts"]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
