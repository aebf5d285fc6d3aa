"""DESIGN.md section 5, Idempotency: the DynamoDB ledger (moto, in-process: no socket) and
the sender's use of it. Interleavings of two invocations are driven deterministically."""

from collections import Counter

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from bulk_sender import metric_names as m
from bulk_sender.core import BulkSender
from bulk_sender.ledger import Claim, DynamoLedger
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings
from tests.unit.fakes import FakeSes, FakeSqs, all_success, message, record

TABLE = "ledger"


class Clock:
    now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture
def clock():
    return Clock()


def ledger(dynamodb, clock):
    return DynamoLedger(dynamodb, TABLE, ttl_seconds=3600, claim_seconds=60, clock=clock)


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


def test_a_failed_completion_after_success_is_acknowledged_and_logged(dynamodb, clock, caplog):
    # Given SES accepts the call but the ledger cannot record the completion
    def broken(**request):
        raise dynamodb.exceptions.ProvisionedThroughputExceededException(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
            "BatchWriteItem",
        )

    ses = FakeSes()
    sending = sender(dynamodb, clock, ses)
    dynamodb.batch_write_item = broken
    # When the batch is processed
    result = sending.process([record(message(0), "m0")])
    # Then the message is acknowledged (no resend), and the failure is said
    assert result.failures == []
    assert result.counts[m.EMAILS_SENT] == 1
    assert "ledger_complete_failed" in [r.message for r in caplog.records]


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


def test_a_call_of_50_completes_in_two_batched_writes_not_50_updates(dynamodb, clock):
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
    # Then the ledger made one conditional claim per id and two batched completions
    assert db.requests == Counter({"put_item": 50, "batch_write_item": 2})


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
        DynamoLedger(client, TABLE, ttl_seconds=60, claim_seconds=60).complete(["a", "b"])
        stub.assert_no_pending_responses()
