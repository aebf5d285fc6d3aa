"""DESIGN.md section 5, Idempotency: the DynamoDB ledger (moto, in-process: no socket) and
the sender's use of it. Interleavings of two invocations are driven deterministically."""

import json
from collections import Counter

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber
from moto import mock_aws

from bulk_sender import ledger as ledger_module
from bulk_sender import metric_names as m
from bulk_sender.core import BulkSender
from bulk_sender.ledger import Claim, DynamoLedger
from bulk_sender.message import Defaults, InvalidMessage, parse_message
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings
from bulkmail.local.stack_facts import LEDGER_TABLE, create_table
from tests.unit.fakes import FakeSes, FakeSqs, all_success, message, record

TABLE = "ledger"


class Clock:
    """Wall time for the ledger, and its sleep: sleeping moves the clock (no real wait)."""

    def __init__(self):
        self.now = 1_800_000_000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(client, TABLE, LEDGER_TABLE)
        yield client


@pytest.fixture
def clock():
    return Clock()


def ledger(dynamodb, clock):
    return DynamoLedger(
        dynamodb, TABLE, ttl_seconds=3600, claim_seconds=60, clock=clock, sleep=clock.sleep
    )


def sender(dynamodb, clock, ses, sqs=None):
    settings = Settings(dlq_url="https://sqs.example/dlq", idempotency_table=TABLE)
    return BulkSender(
        settings, ses=ses, sqs=sqs or FakeSqs(), ledger=ledger(dynamodb, clock), limiter=Unpaced()
    )


def test_a_claim_is_exclusive_until_completed_released_or_expired(dynamodb, clock):
    first, second = ledger(dynamodb, clock), ledger(dynamodb, clock)
    assert first.claim(["a", "b"]) == {"a": Claim.CLAIMED, "b": Claim.CLAIMED}
    # Another invocation sees the claims in flight
    assert second.claim(["a", "b"]) == {"a": Claim.IN_FLIGHT, "b": Claim.IN_FLIGHT}
    first.complete(["a"])
    first.release(["b"])
    assert second.claim(["a", "b"]) == {"a": Claim.COMPLETED, "b": Claim.CLAIMED}
    # A claim whose invocation died expires after claim_seconds (checked in the condition)
    clock.now += 61
    assert first.claim(["b"]) == {"b": Claim.CLAIMED}
    # A completion is remembered for the TTL, then the id may be sent again
    clock.now += 3600
    assert first.claim(["a"]) == {"a": Claim.CLAIMED}


def test_only_the_claims_owner_releases_it(dynamodb, clock):
    first, second = ledger(dynamodb, clock), ledger(dynamodb, clock)
    first.claim(["a"])
    second.release(["a"])
    assert second.claim(["a"]) == {"a": Claim.IN_FLIGHT}


def test_a_redelivered_batch_sends_nothing_more(dynamodb, clock):
    # Given a batch that was sent
    ses = FakeSes()
    records = [record(message(n), f"m{n}") for n in range(5)]
    sender(dynamodb, clock, ses).process(records)
    # When SQS delivers it again (to another container)
    result = sender(dynamodb, clock, ses).process(records)
    # Then nothing more is sent, and every record is acknowledged as a duplicate
    assert len(ses.sent_recipients) == 5
    assert result.failures == []
    assert result.counts[m.DUPLICATES_SKIPPED] == 5


def test_the_same_id_enqueued_twice_is_sent_once(dynamodb, clock):
    ses = FakeSes()
    twice = [record(message(1, id="c:1"), "first"), record(message(1, id="c:1"), "second")]
    first = sender(dynamodb, clock, ses).process(twice)
    # One is sent; the copy in the same call waits for the claim to settle
    assert first.failures == ["second"]
    again = sender(dynamodb, clock, ses).process([twice[1]])
    assert again.counts[m.DUPLICATES_SKIPPED] == 1
    assert len(ses.sent_recipients) == 1


def test_two_concurrent_invocations_with_the_same_ids_send_once(dynamodb, clock):
    # Given invocation A whose call is in flight when invocation B gets the same records
    records = [record(message(n), f"m{n}") for n in range(3)]
    ses_b = FakeSes()
    outcome_b = {}

    def a_answers(request):
        outcome_b["result"] = sender(dynamodb, clock, ses_b).process(records)
        return all_success(request)

    ses_a = FakeSes(a_answers)
    # When A sends (and B runs while A's call is in flight)
    result_a = sender(dynamodb, clock, ses_a).process(records)
    # Then A sent all three and B sent nothing, retrying them instead
    assert len(ses_a.sent_recipients) == 3
    assert ses_b.requests == []
    assert outcome_b["result"].failures == ["m0", "m1", "m2"]
    assert outcome_b["result"].counts[m.EMAILS_RETRIED] == 3
    assert result_a.failures == []
    # And B's retry later finds them sent
    late = sender(dynamodb, clock, ses_b).process(records)
    assert late.counts[m.DUPLICATES_SKIPPED] == 3
    assert ses_b.requests == []


def test_a_retried_entry_releases_its_claim_so_the_retry_sends_it(dynamodb, clock):
    def transient(request):
        return {
            "BulkEmailEntryResults": [{"Status": "TRANSIENT_FAILURE"}]
            * len(request["BulkEmailEntries"])
        }

    records = [record(message(0), "m0")]
    first = sender(dynamodb, clock, FakeSes(transient)).process(records)
    assert first.failures == ["m0"]
    ses = FakeSes()
    sender(dynamodb, clock, ses).process(records)
    assert ses.sent_recipients == ["user0@example.org"]


def test_a_dead_letter_whose_dlq_write_fails_releases_its_claim(dynamodb, clock):
    def rejected(request):
        return {"BulkEmailEntryResults": [{"Status": "MESSAGE_REJECTED"}]}

    records = [record(message(0), "m0")]
    result = sender(dynamodb, clock, FakeSes(rejected), FakeSqs(fail_dlq="raise")).process(records)
    assert result.failures == ["m0"]
    assert ledger(dynamodb, clock).claim(["m0"]) == {"m0": Claim.CLAIMED}


def test_a_claim_that_cannot_be_taken_is_not_sent_blind(dynamodb, clock):
    ses = FakeSes()
    sending = sender(dynamodb, clock, ses)
    dynamodb.delete_table(TableName=TABLE)  # the claim will fail ...
    records = [record(message(0), "m0"), record("not json", "bad")]
    result = sending.process(records)
    # ... so nothing is sent blind: the record is retried, the batch still answered
    assert ses.requests == []
    assert result.failures == ["m0"]
    assert result.counts[m.EMAILS_RETRIED] == 1


def test_a_redelivered_dead_letter_is_not_dead_lettered_twice_but_a_redrive_is_sent(
    dynamodb, clock
):
    # Given an invalid message and a rejected one, dead-lettered by an invocation whose
    # answer was then lost (so SQS delivers the same messages again)
    def rejected(request):
        return {
            "BulkEmailEntryResults": [{"Status": "MESSAGE_REJECTED"}]
            * len(request["BulkEmailEntries"])
        }

    sqs = FakeSqs()
    first = [record("not json", "bad"), record(message(1, id="c:1"), "rej")]
    sender(dynamodb, clock, FakeSes(rejected), sqs).process(first)
    assert sorted(sqs.dlq_codes()) == ["bad", "rej"]
    # When SQS redelivers them
    again = [
        record("not json", "bad", receive_count=2),
        record(message(1, id="c:1"), "rej", receive_count=2),
    ]
    result = sender(dynamodb, clock, FakeSes(rejected), sqs).process(again)
    # Then they are acknowledged, not written to the DLQ a second time
    assert len(sqs.dlq) == 2
    assert result.failures == []
    # (counted as DuplicatesSkipped: a duplicate delivery, acknowledged without action)
    assert result.counts[m.DUPLICATES_SKIPPED] == 2
    assert result.counts[m.EMAILS_DEAD_LETTERED] == 0
    # And a redrive from the DLQ (a new SQS message with the same id) is sent
    ses = FakeSes()
    redriven = sender(dynamodb, clock, ses).process(
        [record(message(1, id="c:1"), "new", receive_count=1)]
    )
    assert ses.sent_recipients == ["user1@example.org"]
    assert redriven.counts[m.EMAILS_SENT] == 1


def test_a_failed_completion_is_retried_until_the_deadline_then_counted_not_resent(
    dynamodb, clock, caplog
):
    # Given SES accepts the call but the ledger cannot record the completion
    calls = []

    def broken(**request):
        calls.append(clock.now)
        raise dynamodb.exceptions.ProvisionedThroughputExceededException(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
            "BatchWriteItem",
        )

    ses = FakeSes()
    sending = sender(dynamodb, clock, ses)
    dynamodb.batch_write_item = broken
    # When the batch is processed
    result = sending.process([record(message(0), "m0")], remaining_ms=lambda: 60_000)
    # Then the write was tried a bounded number of times, with growing waits
    assert len(calls) == ledger_module.WRITE_ATTEMPTS
    assert clock.sleeps == [ledger_module.backoff(n) for n in range(len(calls) - 1)]
    # And the message is acknowledged (no resend), counted and logged
    assert result.failures == []
    assert result.counts[m.EMAILS_SENT] == 1
    assert result.counts[m.LEDGER_WRITE_FAILURES] == 1
    assert "ledger_complete_failed" in [r.message for r in caplog.records]


def test_completion_retries_stop_at_the_time_the_caller_allows(dynamodb, clock):
    # Given a ledger that cannot write, and half a second allowed
    def broken(**request):
        raise dynamodb.exceptions.InternalServerError(
            {"Error": {"Code": "InternalServerError", "Message": "down"}}, "BatchWriteItem"
        )

    dynamodb.batch_write_item = broken
    # When 30 completions are written (two batches)
    failed = ledger(dynamodb, clock).complete([f"id-{n}" for n in range(30)], within_seconds=0.5)
    # Then both batches gave up within the time, and every item not written is counted
    assert failed == 30
    assert 0 < sum(clock.sleeps) <= 0.5


def test_a_completion_that_fails_a_few_times_is_still_recorded(dynamodb, clock):
    # Given a ledger whose completion fails twice, then goes through
    real = dynamodb.batch_write_item
    failures = iter([True, True])

    def flaky(**request):
        if next(failures, False):
            raise dynamodb.exceptions.InternalServerError(
                {"Error": {"Code": "InternalServerError", "Message": "try again"}},
                "BatchWriteItem",
            )
        return real(**request)

    ses = FakeSes()
    first = sender(dynamodb, clock, ses)
    dynamodb.batch_write_item = flaky
    result = first.process([record(message(0, id="c:0"), "m0")])
    # Then nothing is counted as lost, and the id reads as sent: a re-enqueued copy is skipped
    assert result.counts[m.LEDGER_WRITE_FAILURES] == 0
    again = sender(dynamodb, clock, ses).process([record(message(0, id="c:0"), "m0-again")])
    assert again.counts[m.DUPLICATES_SKIPPED] == 1
    assert len(ses.sent_recipients) == 1


class CountingDb:
    """The moto client, counting the requests made through it."""

    def __init__(self, client):
        self._client = client
        self.requests = Counter()

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name == "exceptions" or not callable(attribute):
            return attribute

        def counted(**kwargs):
            self.requests[name] += 1
            return attribute(**kwargs)

        return counted


def test_a_call_of_50_is_claimed_in_one_transaction_and_completed_in_two_batched_writes(
    dynamodb, clock
):
    # Given a counting DynamoDB client and a batch of 50 messages (one call)
    db = CountingDb(dynamodb)
    settings = Settings(dlq_url="https://sqs.example/dlq", idempotency_table=TABLE)
    sending = BulkSender(
        settings,
        ses=FakeSes(),
        sqs=FakeSqs(),
        ledger=DynamoLedger(db, TABLE, ttl_seconds=3600, claim_seconds=60, clock=clock),
        limiter=Unpaced(),
    )
    # When it is sent
    sending.process([record(message(n), f"m{n}") for n in range(50)])
    # Then the ledger claimed the call's ids in one request and completed them in two:
    # 3 requests for 50 messages, not 50 conditional Puts
    assert db.requests == Counter({"transact_write_items": 1, "batch_write_item": 2})


def test_each_refused_claim_says_why_and_the_others_are_claimed(dynamodb, clock):
    first, second = ledger(dynamodb, clock), ledger(dynamodb, clock)
    first.claim(["id-7", "id-120"])
    first.complete(["id-7"])
    claims = second.claim([f"id-{n}" for n in range(130)])
    assert claims["id-7"] is Claim.COMPLETED
    assert claims["id-120"] is Claim.IN_FLIGHT
    assert sum(c is Claim.CLAIMED for c in claims.values()) == 128


def test_unprocessed_completions_are_written_again():
    client = boto3.client("dynamodb", region_name="eu-west-1")
    item = {"PutRequest": {"Item": {"id": {"S": "a"}}}}
    with Stubber(client) as stub:
        stub.add_response("batch_write_item", {"UnprocessedItems": {TABLE: [item]}})
        stub.add_response(
            "batch_write_item",
            {"UnprocessedItems": {}},
            expected_params={"RequestItems": {TABLE: [item]}},
        )
        DynamoLedger(
            client, TABLE, ttl_seconds=60, claim_seconds=60, sleep=lambda _: None
        ).complete(["a", "b"])
        stub.assert_no_pending_responses()


class LostAnswers:
    """The moto client, except that the named operations' answers are lost after DynamoDB
    did the work (a read timeout), or the requests fail before it (`before=True`)."""

    def __init__(self, client, *operations, before=False):
        self._client = client
        self.operations = set(operations)
        self.before = before

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name not in self.operations:
            return attribute

        def lost(**kwargs):
            if not self.before:
                attribute(**kwargs)
            raise ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")

        return lost


def test_a_claim_whose_answer_is_lost_leaves_no_claim_behind(dynamodb, clock):
    # Given the claim transaction commits but its answer never arrives
    ses = FakeSes()
    lossy = LostAnswers(dynamodb, "transact_write_items")
    sending = BulkSender(
        Settings(dlq_url="https://sqs.example/dlq", idempotency_table=TABLE),
        ses=ses,
        sqs=FakeSqs(),
        ledger=DynamoLedger(
            lossy, TABLE, ttl_seconds=3600, claim_seconds=60, clock=clock, sleep=clock.sleep
        ),
        limiter=Unpaced(),
    )
    records = [record(message(n), f"m{n}") for n in range(3)]
    first = sending.process(records)
    # Then nothing was sent and every record is retried
    assert ses.requests == []
    assert first.failures == ["m0", "m1", "m2"]
    # And the claims it may have taken were released: the retry sends them at once
    lossy.operations.clear()
    retry = sending.process(records)
    assert retry.failures == []
    assert len(ses.sent_recipients) == 3


def test_claims_are_all_or_nothing_and_the_undecided_ids_are_claimed_in_a_second_round(
    dynamodb, clock
):
    # Given one id completed, one claimed by another invocation, and two free
    other = ledger(dynamodb, clock)
    other.claim(["sent", "busy"])
    other.complete(["sent"])
    db = CountingDb(dynamodb)
    mine = DynamoLedger(db, TABLE, ttl_seconds=3600, claim_seconds=60, clock=clock)
    # When a call claims all four
    claims = mine.claim(["free-1", "sent", "busy", "free-2"])
    # Then the first transaction is cancelled by the two taken ids, which are decided by
    # their old items, and the second claims the two free ones
    assert claims == {
        "free-1": Claim.CLAIMED,
        "sent": Claim.COMPLETED,
        "busy": Claim.IN_FLIGHT,
        "free-2": Claim.CLAIMED,
    }
    assert db.requests == Counter({"transact_write_items": 2})
    assert other.claim(["free-1", "free-2"]) == dict.fromkeys(["free-1", "free-2"], Claim.IN_FLIGHT)


def cancelled(*codes):
    """A TransactionCanceledException as DynamoDB answers it (API reference:
    CancellationReason: one reason per action, in order; "None" for the uninvolved)."""
    return {
        "service_error_code": "TransactionCanceledException",
        "service_message": "Transaction cancelled",
        "modeled_fields": {"CancellationReasons": [{"Code": code} for code in codes]},
    }


def test_an_id_another_transaction_is_writing_is_in_flight_and_throttling_is_bounded():
    client = boto3.client("dynamodb", region_name="eu-west-1")
    clock = Clock()
    mine = DynamoLedger(
        client, TABLE, ttl_seconds=60, claim_seconds=60, clock=clock, sleep=clock.sleep
    )
    with Stubber(client) as stub:
        # Given a conflict on "b" (another writer), then a free round for "a"
        stub.add_client_error("transact_write_items", **cancelled("None", "TransactionConflict"))
        stub.add_response("transact_write_items", {})
        # Then "b" is left to its retry, "a" is claimed
        assert mine.claim(["a", "b"]) == {"a": Claim.CLAIMED, "b": Claim.IN_FLIGHT}
        # Given throttling on every round
        for _ in range(ledger_module.TRANSACTION_ROUNDS):
            stub.add_client_error("transact_write_items", **cancelled("ThrottlingError"))
        # Release of what may have been taken (nothing: every round was cancelled)
        stub.add_response("transact_write_items", {})
        # Then the claim gives up after its rounds, backing off, and says so
        with pytest.raises(ClientError):
            mine.claim(["c"])
        assert clock.sleeps == [ledger_module.backoff(n) for n in range(3)]
        stub.assert_no_pending_responses()


def test_a_release_that_fails_is_done_on_the_next_claim(dynamodb, clock):
    # Given a claim whose release fails (the ledger is unreachable for a moment)
    lossy = LostAnswers(dynamodb, "transact_write_items", before=True)
    mine = DynamoLedger(
        lossy, TABLE, ttl_seconds=3600, claim_seconds=60, clock=clock, sleep=clock.sleep
    )
    lossy.operations.clear()
    assert mine.claim(["x"]) == {"x": Claim.CLAIMED}
    lossy.operations.add("transact_write_items")
    mine.release(["x"])
    assert ledger(dynamodb, clock).claim(["x"]) == {"x": Claim.IN_FLIGHT}
    # When the ledger is reachable again and this container claims its next call
    lossy.operations.clear()
    mine.claim(["y"])
    # Then the stranded claim was released first: another invocation may take "x" now
    assert ledger(dynamodb, clock).claim(["x"]) == {"x": Claim.CLAIMED}


def test_a_release_never_removes_a_claim_this_container_took_again_later(dynamodb, clock):
    # Given a claim of "x" that expired unreleased, then "x" claimed again by this container
    mine = ledger(dynamodb, clock)
    mine.claim(["x"], hold_seconds=10)
    stale = {"x": mine._held["x"]}
    clock.now += 11
    assert mine.claim(["x"]) == {"x": Claim.CLAIMED}
    # When the stale claim's release is tried (as a stranded release would be)
    mine._release_tokens(stale)
    # Then the live claim stands
    assert ledger(dynamodb, clock).claim(["x"]) == {"x": Claim.IN_FLIGHT}


def test_dead_letter_marks_have_a_key_space_no_message_id_can_enter(dynamodb, clock):
    # Given a dead-letter mark for SQS message "abc", and a message whose id is the old
    # form of that mark's key
    mine = ledger(dynamodb, clock)
    mine.mark_dead_lettered(["abc"])
    # Then the message's claim is its own, and the mark still reads as dead-lettered
    assert mine.claim(["dlq#abc"]) == {"dlq#abc": Claim.CLAIMED}
    mine.complete(["dlq#abc"])
    assert mine.dead_lettered(["abc", "dlq#abc"]) == {"abc"}
    # And no message id can take the new form of the key
    with pytest.raises(InvalidMessage):
        parse_message(
            json.dumps({**message(0), "id": ledger_module.DEAD_LETTER_KEY.format("abc")}),
            message_id="m",
            defaults=Defaults(),
        )


def test_keys_left_unprocessed_are_asked_again_a_bounded_number_of_times():
    client = boto3.client("dynamodb", region_name="eu-west-1")
    clock = Clock()
    mine = DynamoLedger(
        client, TABLE, ttl_seconds=60, claim_seconds=60, clock=clock, sleep=clock.sleep
    )
    key = {"id": {"S": ledger_module.DEAD_LETTER_KEY.format("a")}}
    unprocessed = {TABLE: {"Keys": [key], "ProjectionExpression": "id"}}
    with Stubber(client) as stub:
        for _ in range(ledger_module.READ_ATTEMPTS):
            stub.add_response(
                "batch_get_item", {"Responses": {TABLE: []}, "UnprocessedKeys": unprocessed}
            )
        # When DynamoDB never gets to the key, the lookup stops and takes it as not found
        assert mine.dead_lettered(["a"]) == set()
        stub.assert_no_pending_responses()
    assert clock.sleeps == [
        ledger_module.backoff(n) for n in range(ledger_module.READ_ATTEMPTS - 1)
    ]


class _Body:
    def stream(self, **_):
        yield b"{}"


def test_the_ledgers_client_skips_botocores_validation_and_bounds_its_retries(monkeypatch):
    # Given the client the sender builds for the ledger, answered at the HTTP layer
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = ledger_module.ledger_client(max_pool=6)
    sent = []

    def answer(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _Body())

    client.meta.events.register("before-send.dynamodb", answer)
    # When a request botocore's validation would refuse is made
    client.list_tables(Limit="ten")  # text: validation wants an integer
    # Then it went out unvalidated (the core built every request from checked ids)
    assert len(sent) == 1
    # And the client retries a bounded number of times, gives up on a silent connection,
    # and has a connection per call in flight
    config = client.meta.config
    assert config.retries == {"total_max_attempts": 3, "mode": "standard"}
    assert (config.connect_timeout, config.read_timeout) == (
        ledger_module.CONNECT_TIMEOUT,
        ledger_module.READ_TIMEOUT,
    )
    assert config.max_pool_connections == 6


class Between:
    """The moto client; `step()` runs once, right after the first TransactWriteItems."""

    def __init__(self, client, step):
        self._client, self._step = client, step

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name != "transact_write_items":
            return attribute

        def then(**kwargs):
            try:
                return attribute(**kwargs)
            finally:
                step, self._step = self._step, None
                if step:
                    step()

        return then


def test_an_id_taken_by_another_invocation_between_two_rounds_is_not_claimed_twice(dynamodb, clock):
    # Given invocation A whose call holds a completed id (its first round is cancelled),
    # and invocation B that claims one of A's free ids between A's two rounds
    ledger(dynamodb, clock).claim(["done"])
    ledger(dynamodb, clock).complete(["done"])
    seen_by_b = {}
    a = DynamoLedger(
        Between(dynamodb, lambda: seen_by_b.update(ledger(dynamodb, clock).claim(["x"]))),
        TABLE,
        ttl_seconds=3600,
        claim_seconds=60,
        clock=clock,
    )
    # When A claims
    claims = a.claim(["x", "done", "y"])
    # Then B got "x", and A's second round saw it taken: each id has one claimant
    assert seen_by_b == {"x": Claim.CLAIMED}
    assert claims == {"x": Claim.IN_FLIGHT, "done": Claim.COMPLETED, "y": Claim.CLAIMED}


# -- a batch's ledger work in few requests (prepare / finish): its claims up front, 100 a
# transaction; its completions pooled 25 a request across its calls; whatever a call did not
# use given back.


def test_a_batch_of_200_is_claimed_in_two_requests_and_completed_in_eight(dynamodb, clock):
    # Given a counting DynamoDB and a batch of 200 messages of five campaigns (seven calls)
    db = CountingDb(dynamodb)
    sending = BulkSender(
        Settings(dlq_url="https://sqs.example/dlq", idempotency_table=TABLE),
        ses=FakeSes(),
        sqs=FakeSqs(),
        ledger=ledger(db, clock),
        limiter=Unpaced(),
    )
    records = [record(message(n, template=f"t{n % 5}"), f"m{n}") for n in range(200)]
    # When it is sent
    result = sending.process(records)
    # Then every message went out, claimed in 2 transactions and completed in 8 writes
    assert result.failures == []
    assert db.requests == Counter({"transact_write_items": 2, "batch_write_item": 8})
    # And a second delivery of the batch sends nothing again
    again = sending.process(records)
    assert again.counts["DuplicatesSkipped"] == 200


def test_claims_prepared_and_not_used_are_given_back(dynamodb, clock):
    # Given a ledger that prepared five claims, of which a call used two
    first, other = ledger(dynamodb, clock), ledger(dynamodb, clock)
    first.prepare(["a", "b", "c", "d", "e"])
    assert first.claim(["a", "b"]) == {"a": Claim.CLAIMED, "b": Claim.CLAIMED}
    # While the batch runs, another invocation sees all five in flight
    assert set(other.claim(["c", "d"]).values()) == {Claim.IN_FLIGHT}
    # When the batch ends (the other calls never started: deadline, pause)
    first.complete(["a"])
    assert first.finish() == 0
    # Then the unused claims are free again; "a" is done; "b" is still held by its call
    claims = other.claim(["a", "b", "c", "d", "e"])
    assert claims["a"] is Claim.COMPLETED
    assert claims["b"] is Claim.IN_FLIGHT
    assert [claims[i] for i in "cde"] == [Claim.CLAIMED] * 3


class SlowDb:
    """A DynamoDB whose every request takes `seconds` of the ledger's clock."""

    def __init__(self, dynamodb, clock, seconds):
        self.dynamodb, self.clock, self.seconds = dynamodb, clock, seconds
        self.requests = Counter()

    def __getattr__(self, name):
        call = getattr(self.dynamodb, name)

        def timed(**kwargs):
            self.requests[name] += 1
            self.clock.now += self.seconds
            return call(**kwargs)

        return timed


def test_finish_gives_back_unused_claims_only_with_the_time_the_completions_left(dynamodb, clock):
    # Given a batch whose completions take the whole time finish is given
    db = SlowDb(dynamodb, clock, seconds=5.0)
    first = ledger(db, clock)
    first.prepare(["a", "b", "c"])
    first.claim(["a"])
    first.complete(["a"])
    db.requests.clear()
    # When the batch ends with 4 s left for the ledger
    first.finish(within_seconds=4.0)
    # Then the completion was written, and no release started past the time (the claims
    # expire at the deadline by themselves; the release is kept for the next claim)
    assert db.requests["batch_write_item"] == 1
    assert db.requests["transact_write_items"] == 0
    # And the ledger's next claim gives them back first: another invocation may take them
    first.claim(["z"])
    other = ledger(dynamodb, clock)
    assert other.claim(["b", "c"]) == {"b": Claim.CLAIMED, "c": Claim.CLAIMED}


def test_completions_wait_for_a_full_request_and_finish_writes_the_rest(dynamodb, clock):
    db = CountingDb(dynamodb)
    first, other = ledger(db, clock), ledger(dynamodb, clock)
    ids = [f"id-{n}" for n in range(40)]
    first.prepare(ids)
    first.claim(ids)
    # 15 completions: fewer than a request, they wait
    first.complete(ids[:15])
    assert db.requests["batch_write_item"] == 0
    # 15 more: one full request of 25 goes, 5 wait
    first.complete(ids[15:30])
    assert db.requests["batch_write_item"] == 1
    assert first.finish() == 0
    assert db.requests["batch_write_item"] == 2
    claims = other.claim(ids)
    assert all(claims[i] is Claim.COMPLETED for i in ids[:30])
    assert all(claims[i] is Claim.IN_FLIGHT for i in ids[30:])


def test_outside_a_batch_a_completion_is_written_at_once(dynamodb, clock):
    db = CountingDb(dynamodb)
    first = ledger(db, clock)
    first.claim(["x"])
    first.complete(["x"])
    assert db.requests["batch_write_item"] == 1


class FirstTransactionFails:
    """The moto client, whose first TransactWriteItems fails before DynamoDB sees it."""

    def __init__(self, client):
        self._client = client
        self.failed = False

    def __getattr__(self, name):
        return getattr(self._client, name)

    def transact_write_items(self, **request):
        if not self.failed:
            self.failed = True
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems")
        return self._client.transact_write_items(**request)


def test_when_the_ledger_cannot_prepare_each_call_claims_its_own(dynamodb, clock):
    # Given a ledger whose first transaction fails (DynamoDB unavailable for a moment)
    first = ledger(FirstTransactionFails(dynamodb), clock)
    # When it prepares a batch (nothing prepared), then a call claims its ids
    first.prepare(["a", "b"])
    # Then the call claims them itself
    assert first.claim(["a", "b"]) == {"a": Claim.CLAIMED, "b": Claim.CLAIMED}
    assert first.finish() == 0


def test_completed_says_which_ids_were_sent_without_claiming_any(dynamodb, clock):
    # Given one id sent, one claimed in flight, one never seen
    mine = ledger(dynamodb, clock)
    mine.claim(["sent", "flying"])
    mine.complete(["sent"])
    # When the ledger is asked which were sent
    # Then only the completion counts, and nothing was claimed by asking
    assert mine.completed(["sent", "flying", "new"]) == {"sent"}
    assert mine.claim(["new"]) == {"new": Claim.CLAIMED}
    # and a completion past its TTL no longer does
    clock.now += 3601
    assert mine.completed(["sent"]) == set()
