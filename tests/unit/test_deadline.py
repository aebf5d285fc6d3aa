"""The deadline covers the whole invocation (DESIGN.md section 4): SendBulkEmail calls, DLQ
writes and visibility changes, on a fake clock that every fake AWS call advances."""

from bulk_sender import metric_names as m
from bulk_sender.core import RETURN_MARGIN_MS, BulkSender
from bulk_sender.pacing import TokenBucket
from bulk_sender.settings import Settings
from tests.unit.fakes import FakeSes, FakeSqs, all_success, message, record

DEADLINE_S = 900.0  # Lambda's longest timeout
SES_LATENCY_S = 0.1
SQS_LATENCY_S = 0.05


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class SlowSqs(FakeSqs):
    """Each SQS call takes SQS_LATENCY_S of the fake clock."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.calls = 0

    def send_message_batch(self, **request):
        self.clock.sleep(SQS_LATENCY_S)
        self.calls += 1
        return super().send_message_batch(**request)

    def change_message_visibility_batch(self, **request):
        self.clock.sleep(SQS_LATENCY_S)
        self.calls += 1
        return super().change_message_visibility_batch(**request)


def test_10000_records_at_6_3_recipients_per_second_return_before_the_deadline():
    # Given 10,000 records (100 of them invalid) at 6.3 recipients per second: sending them
    # all would take 26 minutes, the invocation has 15
    clock = FakeClock()

    def answer(request):
        clock.sleep(SES_LATENCY_S)
        return all_success(request)

    ses, sqs = FakeSes(answer), SlowSqs(clock)
    sender = BulkSender(
        Settings(dlq_url="https://sqs/dlq", queue_url="https://sqs/queue", max_calls_in_flight=1),
        ses=ses,
        sqs=sqs,
        limiter=TokenBucket(6.3, clock=clock, sleep=clock.sleep),
    )
    records = [record("not json" if n % 100 == 0 else message(n), f"m{n}") for n in range(10_000)]

    # When one invocation runs against the deadline
    result = sender.process(records, remaining_ms=lambda: int((DEADLINE_S - clock.now) * 1000))

    # Then it answered before the deadline, with time for the answer itself
    assert clock.now * 1000 <= DEADLINE_S * 1000 - RETURN_MARGIN_MS
    # And every record is accounted for: sent, dead-lettered or retried, once
    sent = {e["Destination"]["ToAddresses"][0] for r in ses.requests for e in r["BulkEmailEntries"]}
    retried = set(result.failures)
    assert result.counts[m.EMAILS_SENT] == len(sent) > 0
    assert result.counts[m.EMAILS_DEAD_LETTERED] == len(sqs.dlq) == 100
    assert len(sent) + len(retried) + 100 == 10_000
    # And what was sent is not retried: the retried ones are those whose call never started
    assert not {f"user{r.removeprefix('m')}@example.org" for r in retried} & sent
    # And the work after the calls (DLQ writes, visibility changes) ran within the deadline
    assert sqs.calls == 10 + len(sqs.visibility) // 10 + (len(sqs.visibility) % 10 > 0)
    assert {e["ReceiptHandle"] for e in sqs.visibility} == {f"rh-{r}" for r in retried}


def test_with_no_time_left_for_an_sqs_call_the_dead_letters_are_retried_not_written():
    # Given invalid records and less time left than one SQS call may take at worst
    clock = FakeClock()
    sqs = SlowSqs(clock)
    sender = BulkSender(
        Settings(dlq_url="https://sqs/dlq", queue_url="https://sqs/queue"),
        ses=FakeSes(),
        sqs=sqs,
        limiter=TokenBucket(6.3, clock=clock, sleep=clock.sleep),
    )
    records = [record("not json", f"m{n}") for n in range(3)]
    # When the invocation runs with 2 seconds left
    result = sender.process(records, remaining_ms=lambda: 2_000)
    # Then no SQS call started (none could end in time); the records are retried, not lost
    assert sqs.calls == 0
    assert result.failures == ["m0", "m1", "m2"]
    assert result.counts[m.EMAILS_DEAD_LETTERED] == 0


class ReleasingLedger:
    """A ledger whose every request takes `seconds` of the fake clock; records releases."""

    def __init__(self, clock, seconds):
        from tests.unit.pause_world import MemoryLedger

        self.memory = MemoryLedger()
        self.clock = clock
        self.seconds = seconds
        self.released = []

    def claim(self, ids, *, hold_seconds=None):
        self.clock.sleep(self.seconds)
        return self.memory.claim(ids)

    def complete(self, ids, *, within_seconds=None):
        return 0

    def release(self, ids, *, within_seconds=None):
        self.clock.sleep(self.seconds)
        self.released += list(ids)

    def dead_lettered(self, sqs_message_ids):
        return set()

    def completed(self, ids):
        return set()

    def mark_dead_lettered(self, sqs_message_ids, *, within_seconds=None):
        return 0


def test_a_claim_is_given_back_only_if_the_ledger_can_answer_before_the_deadline():
    # Given SES answering TRANSIENT_FAILURE (the claims are given back) and a call that
    # ends 15 s before the deadline, less than a ledger request's worst case and the answer
    from bulk_sender.ledger import LEDGER_CALL_MS

    clock = FakeClock()
    deadline = 120.0

    def answer(request):
        clock.now = deadline - 15
        return {"BulkEmailEntryResults": [{"Status": "TRANSIENT_FAILURE"}]}

    ledger = ReleasingLedger(clock, seconds=LEDGER_CALL_MS / 1000)
    sender = BulkSender(
        Settings(dlq_url="https://sqs/dlq"),
        ses=FakeSes(answer),
        sqs=SlowSqs(clock),
        ledger=ledger,
        limiter=TokenBucket(100, clock=clock, sleep=clock.sleep),
    )
    # When the record is processed
    result = sender.process(
        [record(message(0, id="a"), "m0")], remaining_ms=lambda: int((deadline - clock.now) * 1000)
    )
    # Then it is retried and its claim left to expire at the deadline: no release started
    # that could have outlasted the invocation
    assert result.failures == ["m0"]
    assert ledger.released == []
    assert clock.now <= deadline - RETURN_MARGIN_MS / 1000
    # And with time to spare the claim is given back at once
    clock.now = 0.0
    deadline = 10_000.0
    answer_early = FakeSes(lambda r: {"BulkEmailEntryResults": [{"Status": "TRANSIENT_FAILURE"}]})
    sender.ses = answer_early
    sender.process(
        [record(message(1, id="b"), "m1")], remaining_ms=lambda: int((deadline - clock.now) * 1000)
    )
    assert ledger.released == ["b"]
