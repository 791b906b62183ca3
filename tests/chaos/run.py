"""`make chaos`: thousands of chaos draws (Hypothesis) over the whole node, in parallel jobs.

    python -m tests.chaos.run [--draws N] [--jobs J] [--seed S] [--most-wakes W]

Each job explores its own share of the draws from its own seed (S, S+1, ...), so a run
is reproduced by its seed; a failing draw is shrunk to a minimal one, printed as a
Scenario to paste into a regression test. The figures of the whole run come last.
Exit status: 0 every invariant held, 1 some draw broke one, 2 a wrong argument.
"""

import multiprocessing
import random
import sys
import time

from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.chaos.draws import scenarios
from tests.chaos.harness import play
from tools import cli
from tools.dev import unixport

SUMMED = ("wakes", "chaos_wakes", "cuts", "steps", "link_down", "rules", "requests",
          "node_requests", "faults", "readings", "sampled", "duplicates", "unanswered",
          "dead_letters")
LARGEST = ("largest_wake_reply", "drain_s", "drain_wakes")


def chaos_test(draws, most_wakes=12, seed_value=None, figures=None, progress=None):
    """The property as a Hypothesis test of `draws` examples: play a draw, assert that
    it broke nothing. `seed_value` None: derandomized (the same draws every time);
    `figures` (a dict) collects the run's figures; `progress(figures, broken)` is called
    after each draw."""
    options = dict(max_examples=draws, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck), print_blob=False)
    if seed_value is None:
        options["derandomize"] = True
    else:
        options["phases"] = (Phase.generate, Phase.shrink)

    @settings(**options)
    @given(scenarios(most_wakes=most_wakes))
    def test(scenario):
        out = play(scenario)
        if figures is not None:
            add(figures, out.figures)
            if progress:
                progress(figures, out.broken)
        assert not out.broken, "\n".join(out.broken) + "\nfigures: %s" % out.figures

    return test if seed_value is None else seed(seed_value)(test)


def add(total, figures):
    """Fold one draw's figures into the run's."""
    total["draws"] = total.get("draws", 0) + 1
    total["drain_wakes_total"] = total.get("drain_wakes_total", 0) + figures["drain_wakes"]
    for k in SUMMED:
        total[k] = total.get(k, 0) + figures[k]
    for k in LARGEST:
        total[k] = max(total.get(k, 0), figures[k])
    heap = figures["min_free_heap"]
    if heap:
        total["min_free_heap"] = min(total.get("min_free_heap", heap), heap)


def merge(totals):
    whole = {}
    for t in totals:
        for k, v in t.items():
            if k in LARGEST:
                whole[k] = max(whole.get(k, 0), v)
            elif k == "min_free_heap":
                whole[k] = min(whole.get(k, v), v)
            else:
                whole[k] = whole.get(k, 0) + v
    return whole


def job(args):
    """One job: its share of the draws from its seed; (figures, failure text or None)."""
    draws, seed_value, most_wakes = args
    figures = {}
    started = time.monotonic()
    failed = []

    def progress(f, broken):
        if broken and not failed:  # the first one, before Hypothesis shrinks it
            failed.append(broken)
            print("seed %d, draw %d broke an invariant; shrinking it:\n  %s"
                  % (seed_value, f["draws"], "\n  ".join(broken)), flush=True)
        if f["draws"] % 50 == 0:
            print("seed %d: %d draws, %.0f s" % (seed_value, f["draws"],
                                                 time.monotonic() - started), flush=True)

    try:
        chaos_test(draws, most_wakes, seed_value, figures, progress)()
    except Exception as e:  # noqa: BLE001 - a broken invariant, shrunk: report it
        notes = "\n".join(getattr(e, "__notes__", ()))  # Hypothesis's minimal example
        return figures, "seed %d: %s: %s\n%s" % (seed_value, type(e).__name__, e, notes)
    return figures, None


def summary(f, seconds):
    return "\n".join((
        "chaos: %d draws (%d wakes: %d under chaos, %d draining), %.0f s on %s" % (
            f.get("draws", 0), f.get("wakes", 0), f.get("chaos_wakes", 0),
            f.get("drain_wakes_total", 0), seconds, unixport.binary()),
        "  power cuts %d, clock steps %d, link-down wakes %d, fault rules drawn %d, taken %d"
        % tuple(f.get(k, 0) for k in ("cuts", "steps", "link_down", "rules", "faults")),
        "  requests at the server %d (the node counted %d)"
        % (f.get("requests", 0), f.get("node_requests", 0)),
        "  readings sampled %d, at the server %d distinct, duplicates %d, unanswered %d, "
        "dead letters %d" % tuple(f.get(k, 0) for k in (
            "sampled", "readings", "duplicates", "unanswered", "dead_letters")),
        "  largest reply traffic in one wake %d bytes, longest drain %d s (%d wakes), "
        "smallest free heap %d bytes" % tuple(f.get(k, 0) for k in (
            "largest_wake_reply", "drain_s", "drain_wakes", "min_free_heap")),
    ))


def main(argv=None):
    ap = cli.Parser(prog="chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=cli.positive_int, default=2000, help="draws in all (2000)")
    ap.add_argument("--jobs", type=cli.positive_int, default=2,
                    help="parallel jobs (2: this machine's cores)")
    ap.add_argument("--seed", type=cli.int_between(0, 2**31),
                    help="the first job's seed (default: a random one, printed)")
    ap.add_argument("--most-wakes", type=cli.positive_int, default=12,
                    help="wakes of chaos per draw at most (12), before the drain")
    args = ap.parse_args(argv)
    first = random.randrange(1 << 30) if args.seed is None else args.seed
    jobs = min(args.jobs, args.draws)
    shares = [args.draws // jobs + (j < args.draws % jobs) for j in range(jobs)]
    print("chaos: %d draws in %d job%s, seeds %d..%d (--seed %d replays this run)"
          % (args.draws, jobs, "s" if jobs > 1 else "", first, first + jobs - 1, first),
          flush=True)
    started = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        results = pool.map(job, [(n, first + j, args.most_wakes) for j, n in enumerate(shares)])
    failures = [text for _, text in results if text]
    print(summary(merge([f for f, _ in results]), time.monotonic() - started))
    for text in failures:
        print("FAILED " + text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
