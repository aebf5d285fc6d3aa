"""DESIGN.md section 4's pacing, on a fake clock: a token bucket in recipients per second."""

import pytest

from bulk_sender import core
from bulk_sender.core import BulkSender
from bulk_sender.pacing import TokenBucket, account_rate
from bulk_sender.settings import Settings
from tests.unit.fakes import FakeSes, FakeSqs, client_error, message, record


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def bucket(rate, clock):
    return TokenBucket(rate, clock=clock, sleep=clock.sleep)


def test_from_an_empty_bucket_the_achieved_rate_is_the_configured_rate():
    # Given R = 200 recipients per second and calls of 50 recipients, back to back
    clock = FakeClock()
    limiter = bucket(200, clock)
    sent = 0
    # When calls are made for 10 seconds
    while clock.now < 10:
        limiter.acquire(50)
        if clock.now < 10:
            sent += 50
    # Then the rate achieved is between 0.95 R and R
    assert 0.95 * 200 <= sent / 10 <= 200


def test_a_call_larger_than_the_bucket_is_never_refused_its_debt_delays_the_next():
    clock = FakeClock()
    limiter = bucket(10, clock)
    assert limiter.acquire(50) == 0  # five seconds' worth, at once
    assert limiter.wait_time(1) == pytest.approx(5.0)
    assert limiter.acquire(1) == pytest.approx(5.0)
    assert clock.now == pytest.approx(5.0)


def test_idle_time_refills_at_most_one_second_of_burst():
    clock = FakeClock()
    limiter = bucket(100, clock)
    clock.now = 60  # a minute idle
    limiter.acquire(100)
    assert limiter.wait_time(1) == 0  # the burst covered it ...
    limiter.acquire(100)
    assert limiter.wait_time(1) == pytest.approx(1.0)  # ... but only one second of it


def test_throttling_halves_the_rate_once_per_cooldown_and_success_raises_it_back():
    clock = FakeClock()
    limiter = bucket(100, clock)
    limiter.on_throttle()
    limiter.on_throttle()  # same moment: calls in flight saw the same throttle
    assert limiter.rate == 50
    clock.now += 1.5
    limiter.on_throttle()
    assert limiter.rate == 25
    for _ in range(20):
        limiter.on_success()
    assert limiter.rate == 100  # back to the configured rate, never above


def test_the_rate_never_falls_below_a_floor():
    clock = FakeClock()
    limiter = bucket(160, clock)
    for _ in range(20):
        clock.now += 2
        limiter.on_throttle()
    assert limiter.rate == 10


def test_the_account_rate_is_shared_between_concurrent_invocations():
    ses = FakeSes(max_send_rate=14)
    assert account_rate(ses, max_concurrency=2) == pytest.approx(14 * 0.9 / 2)


class CountingSes(FakeSes):
    calls = 0

    def get_account(self):
        self.calls += 1
        return super().get_account()


def sender_with(ses, **settings):
    return BulkSender(
        Settings(dlq_url="https://sqs.example/dlq", **settings), ses=ses, sqs=FakeSqs()
    )


def test_without_max_send_rate_the_rate_comes_from_get_account_once_per_container():
    ses = CountingSes(max_send_rate=100)
    sender = sender_with(ses, max_concurrency=2)
    sender.process([record(message(0), "m0")])
    sender.process([record(message(1), "m1")])
    assert ses.calls == 1
    assert sender.limiter.rate == pytest.approx(45)


def test_max_send_rate_wins_over_the_account():
    ses = CountingSes(max_send_rate=100)
    sender = sender_with(ses, max_send_rate=7)
    sender.process([record(message(0), "m0")])
    assert ses.calls == 0
    assert sender.limiter.rate == 7


def test_a_throttled_call_halves_the_senders_rate():
    def throttled(request):
        raise client_error("TooManyRequestsException", 429)

    sender = sender_with(FakeSes(throttled), max_send_rate=1000)
    sender.process([record(message(0), "m0")])
    assert sender.limiter.rate == 500


class FailingAccountSes(CountingSes):
    def get_account(self):
        self.calls += 1
        raise client_error("AccessDeniedException", 403)


def test_without_a_known_rate_the_sender_paces_at_the_sandbox_rate_and_asks_again():
    # Given GetAccount fails
    ses = FailingAccountSes()
    sender = sender_with(ses)
    # When two invocations run
    sender.process([record(message(0), "m0")])
    assert sender.limiter.rate == 1.0  # SES's sandbox rate, not unpaced
    sender.process([record(message(1), "m1")])
    # Then each invocation asked again, rather than keeping the fallback for good
    assert ses.calls >= 2


class OddQuotaSes(CountingSes):
    def __init__(self, quota):
        super().__init__()
        self.quota = quota

    def get_account(self):
        self.calls += 1
        return {"SendQuota": self.quota}


@pytest.fixture
def paced_by_fake_clock(monkeypatch):
    """The sender's token buckets on a fake clock: waits are counted, never slept."""
    clock = FakeClock()
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock.sleep(seconds)

    monkeypatch.setattr(
        core, "TokenBucket", lambda rate: TokenBucket(rate, clock=clock, sleep=sleep)
    )
    return waits


@pytest.mark.parametrize(
    "ses",
    [
        FailingAccountSes(),
        OddQuotaSes({"MaxSendRate": 0.0}),
        OddQuotaSes({"MaxSendRate": -5.0}),
        OddQuotaSes({"Max24HourSend": 200.0}),
        OddQuotaSes({"MaxSendRate": float("nan")}),
    ],
    ids=["GetAccount fails", "rate 0", "rate negative", "rate missing", "rate NaN"],
)
def test_without_a_usable_rate_one_fallback_bucket_paces_the_whole_invocation(
    ses, paced_by_fake_clock
):
    # Given GetAccount fails or answers a nonsense quota, and 200 single-recipient messages
    # in 10 groups of 20 (10 calls)
    sender = sender_with(ses, max_calls_in_flight=1)
    records = [record(message(n, template=f"t{n % 10}"), f"m{n}") for n in range(200)]
    # When one invocation runs
    result = sender.process(records)
    # Then it is answered, GetAccount was asked once, and one bucket at the sandbox rate
    # paced every call: 200 recipients at 1 per second wait 200 - 20 seconds in all
    assert result.counts["EmailsSent"] == 200
    assert ses.calls == 1
    assert sender.limiter.rate == 1.0
    assert sum(paced_by_fake_clock) == pytest.approx(180)
    # And the next invocation asks again, once
    sender.process([record(message(300), "m300")])
    assert ses.calls == 2
