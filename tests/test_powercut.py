"""Power cuts: the short sweep of `make fuzz-power`, and SIGKILL through the simulator."""

import collections
import random
import re
import time

from tests.nodekit import Kit
from tests.powercut import run


def test_short_power_cut_sweep_loses_nothing():
    verdicts, totals, failures = run.sweep(cuts=220, step=4, jobs=2)
    assert failures == []
    assert verdicts["ok"] >= 220
    assert totals["second cuts"] > 0 and totals["dead"] > 0 and totals["dropped"] > 0


def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    """Cut the power of the whole micropython process mid-wake, again and again
    (RTC memory lost, flash image kept as the OS had it); afterwards every reading a
    wake reported stored is at the server, and re-sends stay within one batch a cut."""
    kit = Kit(tmp_path)
    kit.write_config(upload_interval_s=120)
    rng = random.Random(7)
    try:
        reported, kills = [], 0
        for _ in range(30):
            r = kit.sim.run_cycle(cut_after=rng.uniform(0.02, 0.3))
            assert "Traceback" not in r.output, r.output  # the flash always mounts
            if r.killed:
                kills += 1
                kit.sim.clock += 30
            m = re.search(r"stored (\d+)", r.output)
            if m and not r.killed:
                reported.append((r.started, int(m.group(1))))
        while "backlog 0," not in kit.cycles(1)[0].output:  # the power stays on: drain
            pass
        per_time = collections.defaultdict(set)
        for r in kit.readings():
            per_time[r["timestamp"]].add(r["sensor_slug"])
        for started, n in reported:
            iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
            assert len(per_time[iso]) == n, "readings stored at %s are missing" % iso
        unique = sum(len(s) for s in per_time.values())
        assert len(kit.readings()) - unique <= kills * 50  # api.batch_size per cut, at most
        assert kills >= 5 and len(reported) >= 5
    finally:
        kit.stop()
