"""Power cuts: the short sweep of `make fuzz-power`, and SIGKILL through the simulator."""

import collections
import random
import time

import pytest

from tests.nodekit import Kit
from tests.powercut import run


# The short sweep's scenarios: their cut points (fewer in the three long ones), and what
# those reach besides cuts mid-write (the scenarios are seeded: the same every run);
# together, every kind of trouble.
SWEEP = {1: (10, ("dead",)), 2: (20, ()), 3: (10, ("dead", "dropped")),
         4: (20, ("second cuts",)), 5: (20, ("dead",)), 6: (20, ()), 7: (10, ("dead",)),
         8: (20, ()), 9: (20, ("second cuts", "dead")), 10: (20, ()),
         11: (20, ("dead",)), 12: (20, ("second cuts",))}


@pytest.mark.parametrize("seed, cuts, reaches", [(k,) + v for k, v in sorted(SWEEP.items())])
def test_short_power_cut_sweep_loses_nothing(tmp_path, seed, cuts, reaches):
    """`make fuzz-power` in small pieces: cut points spread over each of 12 scenarios, a
    test's time bounded by its count of cuts (15 s or less here, run alone). Every cut:
    nothing lost, the flash mounts, no re-send beyond the request in flight, no crash."""
    verdicts, totals, failures = collections.Counter(), collections.Counter(), []
    for line in run.scenario(seed, None, str(tmp_path), cuts=cuts):
        run._tally(line, verdicts, totals, failures, None)
    assert failures == [] and verdicts["ok"] == cuts
    assert all(totals[k] > 0 for k in reaches), totals


def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    """Cut the power of the whole micropython process mid-wake, again and again
    (RTC memory lost, flash image kept as the OS had it); afterwards every reading a
    wake reported stored is at the server, and re-sends stay within one batch a cut."""
    kit = Kit(tmp_path)
    kit.write_config(upload_interval_s=120)
    rng = random.Random(7)
    try:
        reported, kills, took = [], 0, []
        for _ in range(4):  # how long a wake takes here, now: cuts fall within one or after
            t0 = time.monotonic()
            r = kit.cycles(1)[0]
            took.append(time.monotonic() - t0)
            if r.figures.get("stored"):
                reported.append((r.started, r.figures["stored"]))
        wake = max(took)
        survived = 0
        for n in range(90):  # until enough wakes were cut and enough ran to their end
            if n >= 30 and kills >= 5 and survived >= 5:
                break
            t0 = time.monotonic()
            r = kit.sim.run_cycle(cut_after=rng.uniform(0.02, 1.5 * wake))
            assert "Traceback" not in r.output, r.output  # the flash always mounts
            if r.killed:
                kills += 1
                kit.sim.clock += 30
                wake *= 1.25  # a backlog, a recovery or a busy machine: wakes grow; reach on
                continue
            survived += 1
            wake = time.monotonic() - t0
            if r.figures.get("stored"):
                reported.append((r.started, r.figures["stored"]))
        while kit.cycles(1)[0].figures["backlog"]:  # the power stays on: drain
            pass
        per_time = collections.defaultdict(set)
        for r in kit.readings():
            per_time[r["timestamp"]].add(r["sensor_slug"])
        for started, n in reported:
            iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
            assert len(per_time[iso]) == n, "readings stored at %s are missing" % iso
        unique = sum(len(s) for s in per_time.values())
        assert len(kit.readings()) - unique <= kills * 50  # api.batch_size per cut, at most
        assert kills >= 5 and survived >= 5 and len(reported) >= 5
    finally:
        kit.stop()
