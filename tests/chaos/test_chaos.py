"""The chaos test's short run (`make chaos` is the long one), and the draws it found that
once broke an invariant, each kept as a plain regression test.

Host side (CPython) driving the real firmware under the simulator against the mock;
the invariants are in harness.py.
"""

import time

import pytest

from tests.chaos.draws import DAY, Scenario, Wake
from tests.chaos.harness import play
from tests.chaos.run import chaos_test, summary

SHORT_DRAWS = 6  # derandomized: the same draws on every run, well under a minute
CONFIG = {"sample_interval_s": 60, "upload_interval_s": 60, "api": {"timeout_s": 1},
          "upload": {"chunk_max": 4, "max_requests": 10, "backoff_base_s": 5,
                     "backoff_cap_s": 60, "alert_retry_s": 60, "deadline_s": 30}}


def test_chaos_short_run_breaks_no_invariant():
    figures, started = {}, time.monotonic()
    chaos_test(SHORT_DRAWS, most_wakes=8, figures=figures)()
    print(summary(figures, time.monotonic() - started))  # the figures, for pytest -s
    assert figures["draws"] == SHORT_DRAWS and figures["wakes"] >= 2 * SHORT_DRAWS


@pytest.mark.parametrize("rule, broken", [
    ({"action": "reply", "status": 201, "body": {"message": "ok", "count": 3}},
     "neither at the server nor in the dead letters"),  # says stored, stores nothing
    ({"action": "junk", "status": 500, "store": True},
     "duplicates at the server, but the node counted 0 unanswered")])  # stores, says failed
def test_a_server_that_lies_breaks_an_invariant(rule, broken):
    """The harness is no rubber stamp: a server that lies about storing makes the node
    lose or duplicate readings it cannot know of, and the checks say so."""
    out = play(Scenario(config=CONFIG, wakes=[Wake(faults=[rule]), Wake()]))
    assert any(broken in b for b in out.broken), out


def test_a_backoff_stays_short_when_the_clock_steps_back():
    """Found by the chaos run (seed 200): one 503, then the clock stepped back two days.
    The 5 s backoff's due time, now two days ahead, was only capped at the longest wait
    (a day), so nothing was uploaded for a day while the server behaved."""
    out = play(Scenario(config=CONFIG, wakes=[
        Wake(faults=[{"action": "reply", "status": 503}]), Wake(step=-2 * DAY)]))
    assert not out.broken, out.broken
    assert out.figures["drain_s"] <= 2 * CONFIG["sample_interval_s"]


def test_a_resend_that_goes_unanswered_counts_both_copies():
    """Found by the chaos run on the 32-bit port (seed 320): the kept-alive connection
    was reset after the server stored a request, the resend's reply was lost after it
    was stored again, and the next upload stored it a third time: 2 duplicates, but
    its reading was counted unanswered once."""
    config = dict(CONFIG, upload=dict(CONFIG["upload"], chunk_max=1))
    out = play(Scenario(config=config, wakes=[Wake(faults=[
        {"action": "handle"}, {"action": "reset", "store": True},
        {"action": "drop_after_store"}]), Wake()]))
    assert not out.broken, out.broken
    assert out.figures["duplicates"] == 2 == out.figures["unanswered"]
