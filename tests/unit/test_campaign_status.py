"""Campaign status: SES's documented events, one per type, recorded per email and per campaign
(moto's DynamoDB in process: no socket); duplicates, late events, poisoned records."""

import json

import boto3
import pytest
from moto import mock_aws

from bulk_sender import campaign_status as cs
from bulk_sender import metric_names as m
from bulk_sender.status_events import EventsProcessor, StatusSettings
from bulk_sender.status_table import COUNTS_SK, PARTITION_KEY, SORT_KEY, StatusTable, message_sk
from bulkmail.local.stack_facts import STATUS_TABLE, create_table
from tests.unit import ses_event_examples as ex

TABLE = "status"
KEY = cs.message_key("spring:3f2a")


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(client, TABLE, STATUS_TABLE)
        yield client


def processor(dynamodb):
    return EventsProcessor(StatusTable(dynamodb, TABLE, ttl_seconds=3600, clock=lambda: 1e9))


def records(*bodies):
    return [{"messageId": f"r{n}", "body": body} for n, body in enumerate(bodies)]


def event(example, key=KEY, campaign="spring"):
    return ex.eventbridge(ex.tagged(example, key, campaign))


def item(dynamodb, key=KEY, campaign="spring"):
    response = dynamodb.get_item(
        TableName=TABLE, Key={PARTITION_KEY: {"S": campaign}, SORT_KEY: {"S": message_sk(key)}}
    )
    return {name: next(iter(value.values())) for name, value in response["Item"].items()}


def counts(dynamodb, campaign="spring"):
    response = dynamodb.get_item(
        TableName=TABLE, Key={PARTITION_KEY: {"S": campaign}, SORT_KEY: {"S": COUNTS_SK}}
    )
    found = response.get("Item", {})
    return {
        name[2:]: int(value["N"])
        for name, value in found.items()
        if name.startswith("n:") and int(value["N"])
    }


# --- the tag -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message_id", ["spring:3f2a", "a_b:c d/é", "x" * 256, ":" * 100, "spring:ann.lee@example.org"]
)
def test_a_message_id_becomes_a_keyed_hash_that_holds_nothing_of_the_id(message_id):
    # Given an id (one of them holding an address)
    # When it becomes the tag value and status key, with the stack's key
    key = cs.message_key(message_id, b"stack-secret")
    # Then it is a valid tag value, the same each time, another under another key, and
    # nothing of the id can be read from it
    assert cs._TAG_VALUE.fullmatch(key)
    assert key == cs.message_key(message_id, b"stack-secret")
    assert key != cs.message_key(message_id, b"another-secret")
    assert cs.decode_key(key) is None
    for part in ("spring", "ann", "lee", "example"):
        assert part not in key


def test_keys_of_emails_sent_before_still_decode():
    # Keys written before ids were hashed (the id escaped byte by byte) are still read back
    assert cs.decode_key(cs.escaped_key("spring:3f2a")) == "spring:3f2a"
    assert cs.decode_key(cs.escaped_key(":" * 100)) is None  # too long: hashed then too


def test_every_entry_is_tagged_with_its_key_and_its_campaign():
    from bulk_sender.bulk_request import build_request
    from bulk_sender.message import Defaults, parse_message

    body = json.dumps({"to": "a@example.com", "from": "s@example.com", "template": "t"})
    email = parse_message(body, message_id="spring:3f2a", defaults=Defaults())
    (entry,) = build_request([email], default_tags={})["BulkEmailEntries"]
    # (the campaign from the id's prefix rides in its own tag: the key hides the id)
    assert entry["ReplacementTags"] == [
        {"Name": cs.CAMPAIGN_TAG, "Value": "spring"},
        {"Name": cs.ID_TAG, "Value": cs.message_key("spring:3f2a")},
    ]


# --- one documented event per type --------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "bucket", "detail"),
    [
        (ex.SEND, cs.SENT, "-"),
        (ex.DELIVERY, cs.DELIVERED, "-"),
        (ex.BOUNCE, cs.BOUNCED_PERMANENT, "Permanent/General"),
        (ex.TRANSIENT_BOUNCE, cs.BOUNCED_TRANSIENT, "Transient/MailboxFull"),
        (ex.COMPLAINT, cs.COMPLAINED, "abuse"),
        (ex.REJECT, cs.REJECTED, "-"),
        (ex.RENDERING_FAILURE, cs.RENDERING_FAILED, "MyTemplate"),
        (ex.DELIVERY_DELAY, cs.DELAYED, "TransientCommunicationFailure"),
    ],
)
def test_each_outcome_event_records_the_emails_outcome(dynamodb, example, bucket, detail):
    # Given SES's documented event of this type, for a tagged email, as EventBridge delivers it
    # When the events function processes it
    result = processor(dynamodb).process(records(event(example)))
    # Then the email's item holds the outcome and the campaign counts it once
    assert result.response() == {"batchItemFailures": []}
    stored = item(dynamodb)
    assert (stored["outcome"], stored["event"], stored["detail"]) == (
        bucket,
        example["eventType"],
        detail,
    )
    assert counts(dynamodb) == {bucket: 1}


@pytest.mark.parametrize(
    ("example", "engagement"),
    [(ex.OPEN, cs.OPENED), (ex.CLICK, cs.CLICKED), (ex.SUBSCRIPTION, cs.UNSUBSCRIBED)],
)
def test_opens_clicks_and_unsubscribes_count_once_per_email(dynamodb, example, engagement):
    # Given the same engagement event twice, in two batches
    events = processor(dynamodb)
    events.process(records(event(example)))
    events.process(records(event(example)))
    # Then it is counted once
    stored = dynamodb.get_item(
        TableName=TABLE, Key={PARTITION_KEY: {"S": "spring"}, SORT_KEY: {"S": COUNTS_SK}}
    )["Item"]
    assert stored[engagement] == {"N": "1"}


def test_a_bounce_of_several_recipients_is_one_bounced_email_and_no_address_is_stored(dynamodb):
    # Given a bounce event naming two of an email's three recipients
    processor(dynamodb).process(records(event(ex.BOUNCE_SEVERAL)))
    # Then the email is bounced once, and nothing stored holds an address
    assert counts(dynamodb) == {cs.BOUNCED_PERMANENT: 1}
    everything = dynamodb.scan(TableName=TABLE)["Items"]
    assert "@" not in json.dumps(everything)


def test_a_complaint_without_feedback_type_is_still_a_complaint(dynamodb):
    processor(dynamodb).process(records(event(ex.COMPLAINT_WITHOUT_FEEDBACK_TYPE)))
    assert (item(dynamodb)["outcome"], item(dynamodb)["detail"]) == (cs.COMPLAINED, "unknown")


def test_an_sns_envelope_is_read_like_eventbridges(dynamodb):
    processor(dynamodb).process(records(ex.sns(ex.tagged(ex.DELIVERY, KEY))))
    assert item(dynamodb)["outcome"] == cs.DELIVERED


# --- duplicates, order, batches -------------------------------------------------------------


def test_a_delivery_after_the_bounce_does_not_undo_it(dynamodb):
    # Given a bounce, then (late) the email's delivery and send events, in later batches
    events = processor(dynamodb)
    events.process(records(event(ex.BOUNCE)))
    events.process(records(event(ex.DELIVERY)))
    events.process(records(event(ex.SEND)))
    # Then the email stays bounced and nothing counts it as delivered
    assert item(dynamodb)["outcome"] == cs.BOUNCED_PERMANENT
    assert counts(dynamodb) == {cs.BOUNCED_PERMANENT: 1}


def test_a_duplicate_event_does_not_count_twice(dynamodb):
    events = processor(dynamodb)
    events.process(records(event(ex.DELIVERY, key=KEY)))
    events.process(records(event(ex.DELIVERY, key=KEY), event(ex.DELIVERY, key=KEY)))
    assert counts(dynamodb) == {cs.DELIVERED: 1}


def test_an_email_moves_between_outcomes_and_the_counts_follow(dynamodb):
    # Given an email sent, delivered, then complained about, each in its own batch
    events = processor(dynamodb)
    for example in (ex.SEND, ex.DELIVERY, ex.COMPLAINT):
        events.process(records(event(example)))
    # Then it is counted once, in its latest outcome
    assert counts(dynamodb) == {cs.COMPLAINED: 1}


def test_one_batch_folds_an_emails_events_into_one_write(dynamodb):
    # Given one batch with three emails' events, the second's out of order
    class CountingClient:
        def __init__(self, client):
            self.client, self.updates = client, 0

        def update_item(self, **request):
            self.updates += 1
            return self.client.update_item(**request)

    client = CountingClient(dynamodb)
    events = EventsProcessor(StatusTable(client, TABLE, ttl_seconds=3600))
    other = cs.message_key("spring:other")
    events.process(
        records(
            event(ex.SEND),
            event(ex.DELIVERY),
            event(ex.BOUNCE, key=other),
            event(ex.SEND, key=other),
            event(ex.DELIVERY, key=other),
        )
    )
    # Then each email was written once, plus one write of the campaign's counts
    assert client.updates == 3
    assert counts(dynamodb) == {cs.DELIVERED: 1, cs.BOUNCED_PERMANENT: 1}


def test_a_poisoned_record_is_reported_alone_and_the_batch_is_recorded(dynamodb):
    # Given a batch with an SES event, a body that is not JSON, JSON that is no SES event, an
    # event whose mail is not an object, and an event of an email the sender did not tag
    bad_mail = json.dumps({"detail": {"eventType": "Delivery", "mail": "x"}})
    result = processor(dynamodb).process(
        records(
            event(ex.DELIVERY),
            "not json {",
            json.dumps({"hello": "world"}),
            bad_mail,
            event(ex.DELIVERY, key=None, campaign=None),
        )
    )
    # Then only the unreadable ones are retried (then rest in the events DLQ); the rest count
    assert result.response() == {
        "batchItemFailures": [{"itemIdentifier": i} for i in ("r1", "r2", "r3")]
    }
    assert result.counts == {
        m.SES_EVENTS_RECORDED: 1,
        m.SES_EVENTS_SKIPPED: 1,
        m.SES_EVENTS_UNREADABLE: 3,
    }
    assert counts(dynamodb) == {cs.DELIVERED: 1}


def test_a_failed_write_retries_only_the_records_that_made_it(dynamodb):
    # Given a table client that fails the writes of one email
    from botocore.exceptions import ClientError

    failing = cs.message_key("spring:failing")

    class Flaky:
        def update_item(self, **request):
            if request["Key"][SORT_KEY]["S"] == message_sk(failing):
                raise ClientError(
                    {"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem"
                )
            return dynamodb.update_item(**request)

    events = EventsProcessor(StatusTable(Flaky(), TABLE, ttl_seconds=3600))
    result = events.process(
        records(event(ex.DELIVERY), event(ex.SEND, key=failing), event(ex.DELIVERY, key=failing))
    )
    # Then the two records of that email are retried, the other is recorded
    assert [f["itemIdentifier"] for f in result.response()["batchItemFailures"]] == ["r1", "r2"]
    assert counts(dynamodb) == {cs.DELIVERED: 1}


def test_items_expire_after_the_retention(dynamodb):
    processor(dynamodb).process(records(event(ex.DELIVERY)))
    assert int(item(dynamodb)["expires_at"]) == 1_000_000_000 + 3600


def test_the_events_function_needs_its_table():
    with pytest.raises(ValueError, match="STATUS_TABLE"):
        StatusSettings.from_env({})
    assert (
        StatusSettings.from_env({"STATUS_TABLE": "t", "STATUS_TTL_SECONDS": "60"}).ttl_seconds == 60
    )


# --- resending rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "resend"),
    [
        (cs.BOUNCED_TRANSIENT, True),
        (cs.dead_lettered("RetriesExhausted"), True),
        (cs.dead_lettered("TEMPLATE_NOT_FOUND"), True),
        (cs.dead_lettered("MissingTemplateData"), True),
        (cs.dead_lettered("MESSAGE_REJECTED"), False),
        (cs.dead_lettered("InvalidMessage"), False),
        (cs.dead_lettered("INVALID_PARAMETER"), False),
        (cs.BOUNCED_PERMANENT, False),
        (cs.COMPLAINED, False),
        (cs.SUPPRESSED, False),
        (cs.DELIVERED, False),
        (cs.SENT, False),
        (None, False),
    ],
)
def test_only_what_a_retry_can_fix_is_resent(bucket, resend):
    assert cs.is_resendable(bucket) is resend


def test_resend_ids_are_deterministic_and_lead_back_to_the_original():
    assert cs.resend_id("spring:3f2a", 2) == "spring:3f2a~2"
    assert cs.original_id("spring:3f2a~2") == "spring:3f2a"
    assert cs.original_id("spring:3f2a") == "spring:3f2a"


# --- the sender's part ----------------------------------------------------------------------


def test_the_sender_records_sent_dead_lettered_and_retries_exhausted_per_campaign(dynamodb):
    # Given a batch of a campaign: one sent, one SES rejects, one invalid, one retried at its
    # last receive (the redrive policy moves it to the DLQ), one already sent before
    from bulk_sender.core import BulkSender
    from bulk_sender.pacing import Unpaced
    from bulk_sender.send_status import SendStatus
    from bulk_sender.settings import Settings
    from tests.unit.fakes import FakeSes, FakeSqs, message, record
    from tests.unit.test_core import answer_with

    class Ledger:
        from bulk_sender.ledger import NullLedger

        def __init__(self):
            self.null = self.NullLedger()

        def claim(self, ids, *, hold_seconds=None):
            from bulk_sender.ledger import Claim

            return {i: Claim.COMPLETED if i == "spring:dup" else Claim.CLAIMED for i in ids}

        def __getattr__(self, name):
            return getattr(self.null, name)

    tags = {"tags": {"campaign": "spring"}}
    table = StatusTable(dynamodb, TABLE, ttl_seconds=3600)
    sender = BulkSender(
        Settings(dlq_url="https://sqs.eu-west-1.amazonaws.com/1/dlq"),
        ses=FakeSes(answer_with({1: "MESSAGE_REJECTED", 3: "TRANSIENT_FAILURE"})),
        sqs=FakeSqs(),
        limiter=Unpaced(),
        ledger=Ledger(),
        status=SendStatus(table, max_receive_count=5),
    )
    batch = [
        record(message(0, id="spring:ok", **tags), "m0"),
        record(message(1, id="spring:rejected", **tags), "m1"),
        record({"to": "nobody", "id": "spring:invalid", **tags}, "m2"),
        record(message(3, id="spring:tired", **tags), "m3", receive_count=5),
        record(message(4, id="spring:dup", **tags), "m4"),
    ]
    # When the sender processes it
    sender.process(batch)
    # Then the campaign's totals and each dead letter's reason are recorded, without addresses
    stored = dynamodb.get_item(
        TableName=TABLE, Key={PARTITION_KEY: {"S": "spring"}, SORT_KEY: {"S": COUNTS_SK}}
    )["Item"]
    assert {
        n: int(stored[n]["N"])
        for n in (cs.SENT_TOTAL, cs.DEAD_LETTERED_TOTAL, cs.DUPLICATES, cs.RECEIVED)
    } == {
        cs.SENT_TOTAL: 1,
        cs.DEAD_LETTERED_TOTAL: 3,
        cs.DUPLICATES: 1,
        cs.RECEIVED: 4,  # the fifth was a redelivery
    }
    assert "first_sent_at" in stored
    assert "last_sent_at" in stored
    assert counts(dynamodb) == {
        "dead_lettered:MESSAGE_REJECTED": 1,
        "dead_lettered:InvalidMessage": 1,
        "dead_lettered:RetriesExhausted": 1,
    }
    assert item(dynamodb, cs.message_key("spring:rejected"))["detail"] == "MESSAGE_REJECTED"
    assert "@" not in json.dumps(dynamodb.scan(TableName=TABLE)["Items"])


def test_status_never_costs_the_sender_its_answer():
    # Given a status table whose writes all raise
    from bulk_sender.send_status import SendStatus

    class Broken:
        def record(self, changes, totals):
            raise RuntimeError("table gone")

    status = SendStatus(Broken())
    from bulk_sender.core import Result
    from bulk_sender.outcomes import Outcome
    from bulk_sender.records import SqsRecord

    rec = SqsRecord("m0", "rh", json.dumps({"id": "spring:x"}))
    # When the hook runs, then it logs and returns
    status.record([rec], {0: Result(Outcome.DEAD, "InvalidMessage")}, [], [])


def test_a_suppressed_recipient_is_recorded_as_suppressed_and_never_resendable():
    # Given a batch whose one message the suppression list held back
    from bulk_sender.core import Result
    from bulk_sender.outcomes import Outcome
    from bulk_sender.records import SqsRecord
    from bulk_sender.send_status import SendStatus

    record = SqsRecord("m0", "rh", json.dumps({"id": "spring:x", "tags": {"campaign": "spring"}}))
    # When the sender's hook plans its writes
    changes, totals = SendStatus(None).plan(
        [record], {0: Result(Outcome.SUPPRESSED, "Suppressed")}, [], set()
    )
    # Then the email is suppressed, counted once, and --only-failed leaves it alone
    (change,) = changes
    assert (change.campaign, change.key, change.bucket) == (
        "spring",
        cs.message_key("spring:x"),
        cs.SUPPRESSED,
    )
    assert totals["spring"][cs.SUPPRESSED_TOTAL] == 1
    assert not cs.is_resendable(change.bucket)


def test_a_suppressed_email_counts_toward_the_campaign_its_default_tags_name(dynamodb):
    # Given a sender whose DEFAULT_TAGS name the campaign, and a suppression list that holds
    # back the batch's one message (its body names no campaign)
    from bulk_sender.core import BulkSender
    from bulk_sender.pacing import Unpaced
    from bulk_sender.send_status import SendStatus
    from bulk_sender.settings import Settings
    from bulk_sender.unsubscribe import Checked
    from tests.unit.fakes import FakeSes, FakeSqs, message, record

    class SuppressEverything:
        def ready(self):
            return True

        def enrich(self, email):
            return email

        def check(self, emails):
            return Checked([], suppressed=[index for index, _ in emails])

        def keys(self):
            return None  # no unsubscribe secret: ids are hashed with the public key

    ses = FakeSes()
    sender = BulkSender(
        Settings(
            dlq_url="https://sqs.eu-west-1.amazonaws.com/1/dlq", default_tags={"campaign": "autumn"}
        ),
        ses=ses,
        sqs=FakeSqs(),
        limiter=Unpaced(),
        unsubscribes=SuppressEverything(),
        status=SendStatus(StatusTable(dynamodb, TABLE, ttl_seconds=3600)),
    )
    # When the sender processes it
    sender.process([record(message(0, id="a1"), "m0")])
    # Then nothing is sent and the suppression is recorded under the default tags' campaign
    assert ses.requests == []
    stored = dynamodb.get_item(
        TableName=TABLE, Key={PARTITION_KEY: {"S": "autumn"}, SORT_KEY: {"S": COUNTS_SK}}
    )["Item"]
    assert int(stored[cs.SUPPRESSED_TOTAL]["N"]) == 1


def test_a_redelivered_email_already_sent_stays_sent_when_its_recipient_unsubscribed_since(
    dynamodb,
):
    # Given an email sent (the ledger completed it), then its recipient unsubscribed, and
    # SQS delivers the email again (its first invocation died before answering)
    from bulk_sender.core import BulkSender
    from bulk_sender.pacing import Unpaced
    from bulk_sender.send_status import SendStatus
    from bulk_sender.settings import Settings
    from bulk_sender.unsubscribe import Checked
    from tests.unit.fakes import FakeSes, FakeSqs, message, record
    from tests.unit.pause_world import MemoryLedger

    class SuppressEverything:
        def ready(self):
            return True

        def enrich(self, email):
            return email

        def check(self, emails):
            return Checked([], suppressed=[index for index, _ in emails])

        def keys(self):
            return None  # no unsubscribe secret: ids are hashed with the public key

    ledger = MemoryLedger()
    ledger.status["spring:a1"] = "completed"
    sender = BulkSender(
        Settings(dlq_url="https://sqs.eu-west-1.amazonaws.com/1/dlq"),
        ses=FakeSes(),
        sqs=FakeSqs(),
        limiter=Unpaced(),
        ledger=ledger,
        unsubscribes=SuppressEverything(),
        status=SendStatus(StatusTable(dynamodb, TABLE, ttl_seconds=3600)),
    )
    tags = {"tags": {"campaign": "spring"}}
    # When the redelivery is processed
    result = sender.process([record(message(0, id="spring:a1", **tags), "m0", receive_count=2)])
    # Then it is a duplicate of a sent email, not a suppression: its status is not downgraded
    assert result.counts[m.DUPLICATES_SKIPPED] == 1
    assert result.counts[m.EMAILS_SUPPRESSED] == 0
    assert result.failures == []
    stored = dynamodb.get_item(
        TableName=TABLE, Key={PARTITION_KEY: {"S": "spring"}, SORT_KEY: {"S": COUNTS_SK}}
    )["Item"]
    assert cs.SUPPRESSED_TOTAL not in stored
    assert int(stored[cs.DUPLICATES]["N"]) == 1
    assert counts(dynamodb) == {}


def test_one_deeply_nested_body_does_not_drop_its_batchs_status():
    # Given a batch of 50 sent emails and one body nested too deeply for the JSON parser
    from bulk_sender.core import Result
    from bulk_sender.outcomes import Outcome
    from bulk_sender.records import SqsRecord
    from bulk_sender.send_status import SendStatus

    tags = {"campaign": "spring"}
    records = [
        SqsRecord(f"m{n}", "rh", json.dumps({"id": f"spring:{n}", "tags": tags})) for n in range(50)
    ]
    records.append(SqsRecord("deep", "rh", "[" * 100_000 + "]" * 100_000))
    results = {n: Result(Outcome.SENT) for n in range(50)}
    results[50] = Result(Outcome.DEAD, "InvalidMessage")
    # When the status is planned
    changes, totals = SendStatus(None).plan(records, results, [], set())
    # Then the 50 sends are counted; the unreadable one is left out, not the batch
    assert totals["spring"][cs.SENT_TOTAL] == 50
    assert changes == []


class SlowStatusTable:
    """The status table's client on a fake clock: every UpdateItem takes `seconds`; with
    `fail_counts`, the first counts write fails (after its retries)."""

    def __init__(self, client, clock, seconds, fail_counts=False):
        self._client = client
        self._clock = clock
        self._seconds = seconds
        self._fail_counts = fail_counts
        self.calls_past_deadline = 0

    def update_item(self, **request):
        self._clock["now"] += self._seconds
        if self._clock["now"] > self._clock["deadline"]:
            self.calls_past_deadline += 1
        if self._fail_counts and request["Key"][SORT_KEY]["S"] == COUNTS_SK:
            self._fail_counts = False
            from tests.unit.fakes import client_error

            raise client_error("ProvisionedThroughputExceededException", 400)
        return self._client.update_item(**request)


def status_sender(table_client, clock):
    from bulk_sender.core import BulkSender
    from bulk_sender.pacing import Unpaced
    from bulk_sender.send_status import SendStatus
    from bulk_sender.settings import Settings
    from tests.unit.fakes import FakeSes, FakeSqs
    from tests.unit.test_core import answer_with

    rejecting = answer_with({n: "MESSAGE_REJECTED" for n in range(0, 100, 2)})

    def answer(request):  # the call ends clock["left"] seconds before the deadline
        if "left" in clock:
            clock["now"] = max(clock["now"], clock["deadline"] - clock["left"])
        return rejecting(request)

    return BulkSender(
        Settings(dlq_url="https://sqs.eu-west-1.amazonaws.com/1/dlq"),
        ses=FakeSes(answer),
        sqs=FakeSqs(),
        limiter=Unpaced(),
        status=SendStatus(StatusTable(table_client, TABLE, ttl_seconds=3600, workers=1)),
    )


def spring_batch(first, count):
    from tests.unit.fakes import message, record

    tags = {"tags": {"campaign": "spring"}}
    return [
        record(message(n, id=f"spring:{n}", **tags), f"m{n}") for n in range(first, first + count)
    ]


def test_status_writes_never_outlast_the_deadline_and_what_did_not_fit_follows_next_batch(
    dynamodb,
):
    # Given a status table whose every write takes 2 s, and an invocation with 12 s left
    # after its calls: not enough for its 10 dead letters' writes and the counts
    clock = {"now": 0.0, "deadline": 100.0, "left": 12.0}
    slow = SlowStatusTable(dynamodb, clock, seconds=2)
    sender = status_sender(slow, clock)

    def remaining_ms():
        return int((clock["deadline"] - clock["now"]) * 1000)

    # When the batch is processed
    result = sender.process(spring_batch(0, 20), remaining_ms=remaining_ms)
    # Then no write ran past the deadline, and the answer is whole
    assert slow.calls_past_deadline == 0
    assert result.counts[m.EMAILS_SENT] == 10
    assert counts(dynamodb) != {"dead_lettered:MESSAGE_REJECTED": 10}
    # When the next batch comes with time to spare
    clock.update(now=100.0, deadline=10_000.0, left=9_000.0)
    sender.process(spring_batch(20, 20), remaining_ms=remaining_ms)
    # Then what did not fit is written with it: both batches counted once, nothing lost
    assert counts(dynamodb) == {"dead_lettered:MESSAGE_REJECTED": 20}
    stored = dynamodb.get_item(
        TableName=TABLE, Key={PARTITION_KEY: {"S": "spring"}, SORT_KEY: {"S": COUNTS_SK}}
    )["Item"]
    assert int(stored[cs.SENT_TOTAL]["N"]) == 20
    assert int(stored[cs.RECEIVED]["N"]) == 40


def test_a_failed_counts_write_is_repaired_by_the_next_batch(dynamodb):
    # Given a counts write that fails once (after its client's retries)
    clock = {"now": 0.0, "deadline": 1e9}
    sender = status_sender(SlowStatusTable(dynamodb, clock, seconds=0, fail_counts=True), clock)
    # When two batches are processed
    sender.process(spring_batch(0, 10))
    sender.process(spring_batch(10, 10))
    # Then the campaign's counts hold both
    stored = dynamodb.get_item(
        TableName=TABLE, Key={PARTITION_KEY: {"S": "spring"}, SORT_KEY: {"S": COUNTS_SK}}
    )["Item"]
    assert int(stored[cs.SENT_TOTAL]["N"]) == 10
    assert int(stored[cs.RECEIVED]["N"]) == 20
    assert counts(dynamodb) == {"dead_lettered:MESSAGE_REJECTED": 10}
