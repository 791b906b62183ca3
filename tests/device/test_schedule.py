# Device tests (MicroPython): the schedule (firmware/schedule.py) alone, on plain numbers:
# due times on their grid, clock steps settled, retries, rate-limit pauses, power bands,
# the device's upload phase and the wake time.
import backoff
import schedule
from rtcstate import UNSET, RtcState

UUID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"


def plan(**over):
    cfg = {"sample_interval_s": 60, "upload_interval_s": 300,
           "power_bands": [[3.7, 3600], [3.5, 7200]],
           "upload": {"backoff_base_s": 30, "backoff_cap_s": 3600, "alert_retry_s": 3600},
           "api": {"device_uuid": UUID}}
    cfg.update(over)
    return schedule.Plan(cfg)


class Up:
    """upload.Uploaded's fields the schedule reads."""

    def __init__(self, failed=False, wait=None, answered=0, parked=0):
        self.failed, self.wait, self.answered, self.parked = failed, wait, answered, parked


def test_next_due_keeps_the_grid_and_restarts_it_when_the_clock_went_back():
    assert schedule.next_due(1000, 60, 1000) == 1060
    assert schedule.next_due(1000, 60, 1001) == 1060
    assert schedule.next_due(1000, 60, 1185) == 1240  # missed slots are skipped, not run
    assert schedule.next_due(1030, 60, 1000) == 1030  # still ahead: kept
    assert schedule.next_due(5000, 60, 1000) == 1060  # beyond an interval: a step back


def test_sampling_follows_its_grid_from_the_first_round():
    st, p = RtcState(), plan()
    schedule.sampled(st, p, 1000)
    assert st.next_sample == 1060
    schedule.sampled(st, p, 1063)  # woke 3 s late: the grid stays
    assert st.next_sample == 1120


def test_a_clock_step_back_moves_every_due_time_back_as_far():
    st, p = RtcState(), plan()
    st.next_sample, st.next_upload, st.retry_at, st.unpark_at = 10060, 10300, 10045, 12000
    schedule.settle(st, p, 1000)  # the clock went back 9000 s at least
    assert (st.next_sample, st.next_upload, st.retry_at, st.unpark_at) == (1060, 1300, 1045, 3000)


def test_settling_caps_each_due_time_at_its_longest_wait_and_keeps_unset():
    st, p = RtcState(), plan()
    st.next_upload, st.retry_at, st.unpark_at = 10 ** 6, 10 ** 6, 10 ** 6
    schedule.settle(st, p, 1000)
    assert st.next_sample == UNSET  # never set: due at once, whatever the clock
    assert st.next_upload == 1000 + 7200  # the longest power band
    assert st.retry_at == 1000 + backoff.RATE_MAX_S
    assert st.unpark_at == 1000 + 3600
    before = (st.next_upload, st.retry_at)
    schedule.settle(st, p, 1000)
    assert (st.next_upload, st.retry_at) == before


def test_an_upload_is_due_when_its_slot_and_any_retry_have_come():
    st = RtcState()
    assert schedule.upload_due(st, 0)
    st.next_upload, st.retry_at = 100, 200
    assert not schedule.upload_due(st, 150) and schedule.upload_due(st, 200)


def test_a_failure_backs_off_with_jitter_and_the_server_word_wins():
    st, p = RtcState(), plan()
    waits = set()
    for _ in range(40):
        st.failures = 0
        w = schedule.uploaded(st, p, 1000, Up(failed=True))
        assert st.failures == 1 and st.retry_at == 1000 + w
        waits.add(w)
    assert min(waits) >= 1 and max(waits) <= 30 and len(waits) > 5
    st.failures = 3
    assert schedule.uploaded(st, p, 1000, Up(failed=True, wait=150)) == 150
    assert (st.failures, st.retry_at) == (4, 1150)


def test_an_answered_request_ends_a_failure_streak():
    st, p = RtcState(), plan()
    st.failures = 7
    assert schedule.uploaded(st, p, 1000, Up(answered=2)) is None
    assert st.failures == 0
    st.failures = 7
    wait = schedule.uploaded(st, p, 1000, Up(failed=True, answered=1))
    assert st.failures == 1 and 1 <= wait <= 30  # the streak starts afresh


def test_a_rate_limit_pause_after_success_is_no_failure():
    st, p = RtcState(), plan()
    assert schedule.uploaded(st, p, 1000, Up(wait=61)) is None
    assert (st.failures, st.retry_at) == (0, 1061)


def test_parked_readings_go_again_every_alert_interval():
    st, p = RtcState(), plan()
    schedule.uploaded(st, p, 1000, Up(parked=3))
    assert st.unpark_at == 4600
    schedule.uploaded(st, p, 2000, Up(parked=1))  # not the first since the last try
    assert st.unpark_at == 4600
    assert not schedule.unpark_due(st, p, 4599)
    assert schedule.unpark_due(st, p, 4600) and st.unpark_at == 8200


def test_a_clock_set_forward_shifts_due_times_but_not_unset_ones():
    st = RtcState()
    st.next_sample, st.retry_at = 100, 200
    schedule.shift(st, 5000)
    assert (st.next_sample, st.next_upload, st.retry_at) == (5100, UNSET, 5200)


def test_power_bands_stretch_the_upload_interval():
    p = plan()
    assert [schedule.upload_interval(p, mv) for mv in (0, 4100, 3690, 3400)] == [
        300, 300, 3600, 7200]


def test_scheduled_uploads_sit_on_the_device_phase_of_their_interval():
    st, p = RtcState(), plan()
    phase = backoff.phase(UUID, 300)
    assert schedule.next_upload(st, p, 100000) == 300
    assert st.next_upload % 300 == phase and 100000 < st.next_upload <= 100300
    st.battery_mv = 3600
    assert schedule.next_upload(st, p, st.next_upload) == 3600


def test_the_wake_is_the_next_sample_or_the_later_of_upload_and_retry():
    st = RtcState()
    st.next_sample, st.next_upload, st.retry_at = 1060, 1300, 1500
    assert schedule.sleep_s(st, 1000) == 60
    st.next_sample = 2000
    assert schedule.sleep_s(st, 1000) == 500
    assert schedule.sleep_s(st, 5000) == 1  # overdue: at once, never 0 or less
