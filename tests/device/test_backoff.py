# Device tests (MicroPython): retry timing (backoff.py) and dating readings taken
# before the clock was set (bootsessions.py).
import os

import backoff
import bootsessions
import clock

TMP = os.getenv("TEST_TMP")


def test_full_jitter_stays_within_the_capped_exponential():
    for attempt, top in ((0, 30), (1, 60), (3, 240), (7, 3600), (40, 3600)):
        seen = [backoff.delay(attempt, 30, 3600) for _ in range(300)]
        assert min(seen) >= 1 and max(seen) <= top, (attempt, min(seen), max(seen))
        assert max(seen) > top * 3 // 4 and min(seen) < top // 4  # spread over the range
    assert max(backoff.delay(5, 10, 100) for _ in range(200)) <= 100


def test_server_wait_wins_and_an_exhausted_budget_waits_a_window():
    assert backoff.rate_wait(17, 5) == 17
    assert backoff.rate_wait(0, None) == 1
    assert backoff.rate_wait(None, 0) == backoff.WINDOW_S + 1
    assert backoff.rate_wait(None, 3) is None


def test_phase_is_fixed_per_device_and_spreads_a_fleet():
    a = backoff.phase("a1b2c3d4-e5f6-7890-abcd-ef1234567890", 900)
    assert a == backoff.phase("a1b2c3d4-e5f6-7890-abcd-ef1234567890", 900) and 0 <= a < 900
    fleet = {backoff.phase("a1b2c3d4-e5f6-7890-abcd-%012d" % i, 900) for i in range(50)}
    assert len(fleet) > 40


def test_sessions_date_readings_once_synced_and_survive_a_reload():
    path = TMP + "/clock.json"
    s = bootsessions.Sessions(path)
    first = s.start()
    second = s.start()
    assert (first, second) == (1, 2)
    y2000 = 946684800 - clock.EPOCH  # a cold-booted RTC, in node seconds
    s.synced(second, 60060400 - y2000)
    s = bootsessions.Sessions(path)  # after a reset
    assert s.date(y2000 + 60, second) == 60060460
    assert s.date(y2000 + 60, first) is None  # never synced: cannot be dated
    assert s.date(60060523, 0) == 60060523  # a set clock's time is kept as it is
    assert s.start() == 3


def test_only_the_latest_sessions_are_kept():
    s = bootsessions.Sessions(TMP + "/c2.json")
    for _ in range(12):
        s.synced(s.start(), 100)
    assert sorted(s.offsets) == list(range(5, 13))


def test_a_corrupt_table_starts_afresh():
    path = TMP + "/c3.json"
    with open(path, "w") as f:
        f.write("{not json")
    s = bootsessions.Sessions(path)
    assert s.start() == 1 and s.date(946684800 - clock.EPOCH, 1) is None
