"""What a chaos draw is made of (Hypothesis strategies): a node's settings and, per wake,
the server's behaviours for the next requests (queued: a wake without an upload leaves
them to the next one), a clock step, a power cut, the link, NTP and the ESP32's ticks
wrapping.

Every choice shrinks towards "nothing happens" (the first of each list, a zero, an
empty list), so a failing draw shrinks to the few events that break an invariant. A
draw is plain data (`Scenario`, `Wake`, fault rules as the mock takes them): its repr
is the regression test's input.
"""

from dataclasses import dataclass, field

from hypothesis import strategies as st

DAY = 86400
BACK = "back"  # a clock step that undoes every earlier one: the true time again
STEPS = (-2 * DAY, 400 * DAY, BACK, 2 * DAY)
SIZES = (0, 600, 1500, 4096, 20000, 65536, 300000, 1 << 20)  # reply bodies, bytes
RETRY_AFTER = (None, 0, 1, 30, 61, 600, 3600)
BEYOND_A_DAY = 200000  # a Retry-After the node caps at a day: a day of wakes to play, rare


@dataclass
class Wake:
    """One wake of the node, and the world around it."""

    faults: list = field(default_factory=list)  # mock rules queued for the next requests
    step: int | str = 0  # seconds the world's clock steps before the wake, or BACK
    cut: float | None = None  # the power is cut this many seconds into the wake
    link: bool = True
    ntp: bool = True
    ticks_wrap: int | None = None  # ms into the wake at which the ESP32's ticks wrap


@dataclass
class Scenario:
    config: dict  # config.json settings over tests/nodekit.node_config's
    rate_limit: int = 1000  # the mock's requests a minute
    rtc_unset: bool = False  # the RTC starts at 2000 after every power-on
    esp32_time: bool = False  # time() counts from 2000, as on the chip
    wakes: list = field(default_factory=list)


def sometimes(percent, strategy, otherwise=None):
    """`strategy` in about `percent` % of draws, else `otherwise` (a value or a strategy);
    shrinks to `otherwise`."""
    if not isinstance(otherwise, st.SearchStrategy):
        otherwise = st.just(otherwise)
    return st.integers(0, 99).flatmap(lambda n: strategy if n >= 100 - percent else otherwise)


seeds = st.integers(0, 2**16)
retry_after = sometimes(3, st.just(BEYOND_A_DAY), st.sampled_from(RETRY_AFTER))
sizes = st.sampled_from(SIZES)
statuses = st.sampled_from((503, 500, 502, 504, 400, 413, 401, 404, 301, 409, 418))
not_found = st.sampled_from(("Device not found.", "Sensor not found.", "Not Found"))


def _rule(action, **params):
    return st.fixed_dictionaries({k: v if isinstance(v, st.SearchStrategy) else st.just(v)
                                  for k, v in dict(action=action, **params).items()})


# One request's fate. A reply that says "stored" (2xx) always follows a real store: the
# invariants are the node's, not those of a server that lies about storing.
BEHAVIOURS = (
    _rule("handle"),
    _rule("reply", status=statuses),
    _rule("reply", status=st.just(404), body=not_found.map(lambda m: {"message": m})),
    _rule("close"),
    _rule("drop_after_store"),
    _rule("reset", store=st.booleans()),
    _rule("reply_close"),
    _rule("pad", size=sizes, first=st.booleans()),
    _rule("pad", size=sizes, status=st.sampled_from((503, 422, 429, 400, 500))),
    _rule("reject", fraction=st.sampled_from((0.0, 0.3, 0.7, 1.0)), seed=seeds,
          field=st.sampled_from(("value", "timestamp")), size=sizes,
          extra=st.sampled_from((0, 0, 5, 2000))),
    _rule("reject", kind="batch", field="sensor_slug", fraction=st.sampled_from((0.0, 0.5)),
          seed=seeds),
    _rule("chunked", chunk_min=st.integers(1, 64), chunk_max=st.integers(1, 8192),
          size=sizes, seed=seeds),
    _rule("junk", status=st.sampled_from((201, 200)), size=sizes, store=True, seed=seeds),
    _rule("junk", status=st.sampled_from((422, 500, 429, 404)), size=sizes, seed=seeds),
    _rule("garbage"),
    _rule("truncate", keep=st.integers(0, 400)),
    _rule("bad_length", delta=st.integers(-60, 60)),
    _rule("bad_chunked"),
    _rule("storm", retry_after=retry_after, remaining=st.booleans(), as_date=st.booleans()),
    _rule("handle", headers=st.fixed_dictionaries(
        {"X-RateLimit-Remaining": st.just("0")},
        optional={"Retry-After": retry_after.filter(bool).map(str)})),
    # the ones that cost the test real seconds: rarer
    _rule("trickle", chunk=st.integers(1, 200), interval=st.sampled_from((0.005, 0.05, 1.2))),
    _rule("endless", status=st.sampled_from((None, 503, 422)), chunked=st.booleans()),
    _rule("handle", delay=st.sampled_from((0.3, 1.5))),
)
_SLOW = 3  # the last three


@st.composite
def behaviours(draw):
    """A mock rule for one request: most often one of the quick ones."""
    quick = len(BEHAVIOURS) - _SLOW
    i = draw(st.integers(0, 99))
    pick = i % quick if i < 94 else quick + i % _SLOW
    return draw(BEHAVIOURS[pick])


@st.composite
def wakes(draw):
    return Wake(
        faults=draw(st.lists(behaviours(), max_size=4)),
        step=draw(sometimes(8, st.sampled_from(STEPS), 0)),
        cut=draw(sometimes(15, st.floats(0.005, 0.5).map(lambda s: round(s, 3)))),
        link=draw(sometimes(10, st.just(False), True)),
        ntp=draw(sometimes(5, st.just(False), True)),
        ticks_wrap=draw(sometimes(10, st.integers(0, 400))),
    )


@st.composite
def scenarios(draw, most_wakes=12):
    sample = draw(st.sampled_from((60, 300)))
    base = draw(st.integers(1, 60))
    rate_limit = draw(sometimes(15, st.integers(4, 12), 1000))
    config = {
        "sample_interval_s": sample,
        "upload_interval_s": sample * draw(st.integers(1, 3)),
        "api": {"timeout_s": 1},
        "upload": {
            # a tight rate limit needs room for 3 readings a minute in its requests
            "chunk_max": draw(st.integers(1 if rate_limit == 1000 else 2, 8)),
            "max_requests": draw(st.integers(1, 20)),
            "backoff_base_s": base,
            "backoff_cap_s": draw(st.integers(base, 900)),
            "alert_retry_s": draw(st.integers(60, 600)),
            "deadline_s": 30,
        },
    }
    return Scenario(config=config, rate_limit=rate_limit,
                    rtc_unset=draw(sometimes(20, st.just(True), False)),
                    esp32_time=draw(sometimes(30, st.just(True), False)),
                    wakes=draw(st.lists(wakes(), min_size=min(2, most_wakes),
                                        max_size=most_wakes)))
