"""DESIGN.md section 11's message fields: tenant, tracking, from_arn, feedback_to_arn and
attachments. Each is refused when bad (exact reason, before any call), keeps calls apart,
and reaches SES as exactly its request field (botocore's Stubber checks the model)."""

import io
import json

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from bulk_sender import metric_names as m
from bulk_sender.attachments import MAX_BYTES_PER_INVOCATION, MAX_MESSAGE_BYTES, memory_budget
from bulk_sender.campaign_status import message_key
from bulk_sender.core import BulkSender
from bulk_sender.message import Defaults, InvalidMessage, parse_message
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings, SettingsError
from tests.unit.fakes import SENDER_ID, FakeSes, FakeSqs, client_error, message, record

DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"
GOOD = {"to": "ann@example.org", "from": "news@example.com", "template": "welcome"}
ARN = "arn:aws:ses:eu-west-1:111122223333:identity/example.com"
FEEDBACK_ARN = "arn:aws:ses:eu-west-1:111122223333:identity/bounces@example.net"
PDF = {"key": "spring/terms.pdf", "content_type": "application/pdf"}


def parse(body, tenants=frozenset({"brand-a"})):
    return parse_message(json.dumps(body), message_id="sqs-1", defaults=Defaults(tenants=tenants))


def with_(**fields):
    return {**GOOD, **fields}


def attach(**fields):
    return with_(attachments=[{**PDF, **fields}])


BAD = [
    (with_(tenant="brand a"), "tenant: must match ^[A-Za-z0-9_-]{1,64}$"),
    (with_(tenant="x" * 65), "tenant: must match ^[A-Za-z0-9_-]{1,64}$"),
    (with_(tenant=7), "tenant: must match ^[A-Za-z0-9_-]{1,64}$"),
    (with_(tenant="brand-b"), "tenant: not a tenant this sender may use (ALLOWED_TENANTS)"),
    (with_(tracking=True), 'tracking: must be an object with "opens" and/or "clicks"'),
    (with_(tracking={}), 'tracking: must be an object with "opens" and/or "clicks"'),
    (with_(tracking={"views": False}), 'tracking: must be an object with "opens" and/or "clicks"'),
    (with_(tracking={"opens": "no"}), "tracking: opens and clicks must be true or false"),
    (
        with_(from_arn="arn:aws:ses:eu-west-1:111122223333:template/welcome"),
        "from_arn: must be an SES identity ARN (arn:aws:ses:REGION:ACCOUNT:identity/NAME)",
    ),
    (
        with_(from_arn="arn:aws:ses:eu-west-1:1111:identity/example.com"),
        "from_arn: must be an SES identity ARN (arn:aws:ses:REGION:ACCOUNT:identity/NAME)",
    ),
    (
        with_(from_arn="arn:aws:ses:eu-west-1:111122223333:identity/example.org"),
        "from_arn: must name the identity of from (its address or domain)",
    ),
    (
        with_(from_arn="arn:aws:ses:eu-west-1:111122223333:identity/ample.com"),
        "from_arn: must name the identity of from (its address or domain)",
    ),
    (
        with_(feedback_to_arn=FEEDBACK_ARN),
        "feedback_to_arn: needs feedback_to (the address it authorizes)",
    ),
    (
        with_(feedback_to="other@example.net", feedback_to_arn=FEEDBACK_ARN),
        "feedback_to_arn: must name the identity of feedback_to (its address or domain)",
    ),
    (with_(attachments={"key": "a.pdf"}), "attachments: must be a list of at most 10 objects"),
    (
        with_(attachments=[{"key": f"f{i}.pdf"} for i in range(11)]),
        "attachments: must be a list of at most 10 objects",
    ),
    (
        with_(attachments=["a.pdf"]),
        "attachments[0]: must be an object with key, filename, content_type, ...",
    ),
    (attach(size=3), "attachments[0].size: unknown field"),
    (attach(key=""), "attachments[0].key: must be an S3 key: 1 to 1024 bytes, printable"),
    (attach(key="é" * 513), "attachments[0].key: must be an S3 key: 1 to 1024 bytes, printable"),
    (attach(key="a\nb.pdf"), "attachments[0].key: must be an S3 key: 1 to 1024 bytes, printable"),
    (
        attach(filename="../terms.pdf"),
        'attachments[0].filename: must be 1 to 255 printable characters, no / \\ "',
    ),
    (
        attach(filename="x" * 252 + ".pdf"),
        'attachments[0].filename: must be 1 to 255 printable characters, no / \\ "',
    ),
    (attach(filename="README"), "attachments[0].filename: must have an extension (SES needs one)"),
    (attach(filename=".pdf"), "attachments[0].filename: must have an extension (SES needs one)"),
    (
        attach(key="tools/setup.EXE"),
        "attachments[0].filename: extension is one SES refuses to send",
    ),
    (
        attach(filename="invoice.pdf.js"),
        "attachments[0].filename: extension is one SES refuses to send",
    ),
    (
        attach(content_type="pdf"),
        "attachments[0].content_type: must be a MIME type/subtype, at most 78 characters",
    ),
    (
        attach(content_type="application/" + "x" * 70),
        "attachments[0].content_type: must be a MIME type/subtype, at most 78 characters",
    ),
    (
        attach(disposition="ATTACHED"),
        'attachments[0].disposition: must be "attachment" or "inline"',
    ),
    (
        attach(disposition=["inline"]),
        'attachments[0].disposition: must be "attachment" or "inline"',
    ),
    (
        attach(content_id="<logo>"),
        "attachments[0].content_id: must be 1 to 78 printable ASCII characters, no space or <>",
    ),
    (
        attach(content_id="x" * 79),
        "attachments[0].content_id: must be 1 to 78 printable ASCII characters, no space or <>",
    ),
]


@pytest.mark.parametrize(("body", "error"), BAD)
def test_a_bad_option_is_refused_naming_field_and_rule(body, error):
    # Given a message breaking one rule / When it is parsed / Then the error names it
    with pytest.raises(InvalidMessage) as raised:
        parse(body)
    assert str(raised.value) == error


def test_good_options_are_accepted_and_normalised():
    # Given a message using every option, sent from a subdomain of the authorized identity
    email = parse(
        with_(
            **{"from": "News <news@mail.example.com>"},
            tenant="brand-a",
            tracking={"opens": False},
            from_arn=ARN,
            feedback_to="bounces@example.net",
            feedback_to_arn=FEEDBACK_ARN,
            attachments=[PDF, {"key": "logo.png", "disposition": "inline", "content_id": "logo"}],
        )
    )
    # Then each option is kept, the file name defaults to the key's last part
    options = email.options
    assert (options.tenant, options.tracking) == ("brand-a", (False, None))
    assert (options.from_arn, options.feedback_to_arn) == (ARN, FEEDBACK_ARN)
    assert [a.filename for a in options.attachments] == ["terms.pdf", "logo.png"]
    assert options.attachments[1].disposition == "INLINE"


def test_the_cli_which_does_not_know_the_allowed_tenants_checks_only_the_pattern():
    assert parse(with_(tenant="brand-b"), tenants=None).options.tenant == "brand-b"


# -- the request ----------------------------------------------------------------------------


class FakeS3:
    """S3 GetObject over a dict of key -> bytes (or an exception to raise); counts reads."""

    def __init__(self, objects):
        self.objects = objects
        self.reads = []

    def get_object(self, Bucket, Key):
        self.reads.append(Key)
        found = self.objects.get(Key)
        if isinstance(found, Exception):
            raise found
        if found is None:
            raise client_error("NoSuchKey", 404, "The specified key does not exist.")
        return {"ContentLength": len(found), "Body": io.BytesIO(found)}


class LyingS3(FakeS3):
    def get_object(self, Bucket, Key):
        response = super().get_object(Bucket, Key)
        return {**response, "ContentLength": MAX_MESSAGE_BYTES}


def make_sender(ses=None, sqs=None, s3=None, sender_id=SENDER_ID, **settings):
    settings = Settings(
        **{
            "dlq_url": DLQ,
            "queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/queue",
            "allowed_tenants": frozenset({"brand-a", "brand-b"}),
            **settings,
        }
    )
    return BulkSender(
        settings,
        ses=ses or FakeSes(),
        sqs=sqs or FakeSqs(),
        s3=s3,
        limiter=Unpaced(),
        sender_id=sender_id,
    )


def test_a_message_using_every_option_becomes_exactly_these_request_fields():
    # Given a real SES v2 client under Stubber, an endpoint id, and a message with each option
    ses = boto3.client("sesv2", region_name="eu-west-1")
    s3 = FakeS3({"spring/terms.pdf": b"%PDF-1.7 terms"})
    body = {
        **GOOD,
        "tenant": "brand-a",
        "tracking": {"opens": False, "clicks": True},
        "from_arn": ARN,
        "feedback_to": "bounces@example.net",
        "feedback_to_arn": FEEDBACK_ARN,
        "attachments": [{**PDF, "filename": "Terms.pdf", "disposition": "attachment"}],
    }
    expected = {
        "FromEmailAddress": "news@example.com",
        "FromEmailAddressIdentityArn": ARN,
        "FeedbackForwardingEmailAddress": "bounces@example.net",
        "FeedbackForwardingEmailAddressIdentityArn": FEEDBACK_ARN,
        "TenantName": "brand-a",
        "EndpointId": "abcd1234.ef5",
        "ConfigurationOverrides": {
            "Tracking": {"OpenTrackingEnabled": "DISABLED", "ClickTrackingEnabled": "ENABLED"}
        },
        "DefaultContent": {
            "Template": {
                "TemplateName": "welcome",
                "TemplateData": "{}",
                "Attachments": [
                    {
                        "RawContent": b"%PDF-1.7 terms",
                        "FileName": "Terms.pdf",
                        "ContentTransferEncoding": "BASE64",
                        "ContentType": "application/pdf",
                        "ContentDisposition": "ATTACHMENT",
                    }
                ],
            }
        },
        "BulkEmailEntries": [
            {
                "Destination": {"ToAddresses": ["ann@example.org"]},
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {"ReplacementTemplateData": "{}"}
                },
                # The message id, as a tag SES returns in its events (campaign status)
                "ReplacementTags": [{"Name": "bulkmail-id", "Value": message_key("m1")}],
            }
        ],
    }
    sender = make_sender(
        ses, s3=s3, endpoint_id="abcd1234.ef5", attachment_bucket="files", max_calls_in_flight=1
    )
    sender.preflight = lambda email: None
    with Stubber(ses) as stub:
        stub.add_response(
            "send_bulk_email",
            {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "0100-abc"}]},
            expected_params=expected,
        )
        # When it is processed
        result = sender.process([record(body, "m1")])
        # Then SES got exactly that request (valid for the model), and the message is sent
        stub.assert_no_pending_responses()
    assert result.failures == []
    assert result.counts[m.EMAILS_SENT] == 1


def test_messages_differing_in_any_option_are_sent_in_different_calls():
    # Given messages alike but for one option each, and two alike with the same options
    s3 = FakeS3({"a.pdf": b"a", "b.pdf": b"b"})
    records = [
        record(message(0), "m0"),
        record(message(1, tenant="brand-a"), "m1"),
        record(message(2, tenant="brand-b"), "m2"),
        record(message(3, tracking={"opens": False}), "m3"),
        record(message(4, tracking={"clicks": False}), "m4"),
        record(message(5, from_arn=ARN), "m5"),
        record(message(6, feedback_to="bounces@example.net", feedback_to_arn=FEEDBACK_ARN), "m6"),
        record(message(7, attachments=[{"key": "a.pdf"}]), "m7"),
        record(message(8, attachments=[{"key": "b.pdf"}]), "m8"),
        record(message(9, attachments=[{"key": "a.pdf"}]), "m9"),
        record(message(10, tenant="brand-a"), "m10"),
    ]
    ses = FakeSes()
    # When the batch is processed
    result = make_sender(ses, s3=s3, attachment_bucket="files").process(records)
    # Then each distinct set of options had its own call; equal ones shared one
    assert sorted(len(r["BulkEmailEntries"]) for r in ses.requests) == [1] * 7 + [2, 2]
    assert result.counts[m.EMAILS_SENT] == 11
    # And each file was read once although two calls' worth of messages named a.pdf
    assert sorted(s3.reads) == ["a.pdf", "b.pdf"]


def test_bad_options_are_dead_lettered_before_any_call():
    # Given a tenant this sender may not use and a refused attachment type
    ses, sqs = FakeSes(), FakeSqs()
    records = [
        record(message(0, tenant="brand-c"), "m0"),
        record(message(1, attachments=[{"key": "run.bat"}]), "m1"),
    ]
    # When processed / Then both are InvalidMessage in the DLQ and SES was never called
    result = make_sender(ses, sqs).process(records)
    assert ses.requests == []
    assert sqs.dlq_codes() == {"m0": "InvalidMessage", "m1": "InvalidMessage"}
    assert result.counts[m.INVALID_MESSAGES] == 2


def test_a_missing_attachment_dead_letters_its_messages_with_the_reason():
    # Given two messages naming a file that is not in the bucket, and one naming no file
    ses, sqs = FakeSes(), FakeSqs()
    s3 = FakeS3({})
    records = [
        record(message(0, attachments=[{"key": "gone.pdf"}]), "m0"),
        record(message(1, attachments=[{"key": "gone.pdf"}]), "m1"),
        record(message(2), "m2"),
    ]
    # When processed
    result = make_sender(ses, sqs, s3=s3, attachment_bucket="files").process(records)
    # Then the two go to the DLQ with S3's code and a reason naming the attachment, read once
    assert sqs.dlq_codes() == {"m0": "NoSuchKey", "m1": "NoSuchKey"}
    reason = sqs.dlq[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert reason == "attachments[0] (gone.pdf): S3 NoSuchKey: The specified key does not exist."
    assert s3.reads == ["gone.pdf"]
    # And the third is sent
    assert [len(r["BulkEmailEntries"]) for r in ses.requests] == [1]
    assert result.failures == []


@pytest.mark.parametrize(
    "error",
    [
        client_error("SlowDown", 503, "Please reduce your request rate."),
        client_error("InternalError", 500),
        EndpointConnectionError(endpoint_url="https://s3.example"),
    ],
)
def test_an_attachment_s3_cannot_serve_now_is_retried_not_dead_lettered(error):
    ses, sqs = FakeSes(), FakeSqs()
    s3 = FakeS3({"terms.pdf": error})
    result = make_sender(ses, sqs, s3=s3, attachment_bucket="files").process(
        [record(message(0, attachments=[{"key": "terms.pdf"}]), "m0")]
    )
    assert result.failures == ["m0"]
    assert sqs.dlq == []
    assert ses.requests == []


def test_attachments_without_a_bucket_are_invalid():
    sqs = FakeSqs()
    make_sender(sqs=sqs).process([record(message(0, attachments=[{"key": "a.pdf"}]), "m0")])
    assert sqs.dlq_codes() == {"m0": "InvalidMessage"}
    reason = sqs.dlq[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert reason == "attachments: this sender has no attachment bucket"


def test_an_email_over_ses_message_size_is_invalid_and_the_big_file_is_not_read():
    # Given a file S3 says is 40 MB raw (over 40 MB once base64-encoded)
    ses, sqs = FakeSes(), FakeSqs()
    s3 = LyingS3({"huge.pdf": b"small body"})
    # When a message names it
    make_sender(ses, sqs, s3=s3, attachment_bucket="files").process(
        [record(message(0, attachments=[{"key": "huge.pdf"}]), "m0")]
    )
    # Then it is InvalidMessage with SES's limit as the reason, and nothing was sent
    assert sqs.dlq_codes() == {"m0": "InvalidMessage"}
    reason = sqs.dlq[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert reason == "attachments: the email would be over SES's 40000000 bytes once encoded"
    assert ses.requests == []


def test_files_beyond_one_invocations_memory_budget_wait_for_a_later_batch():
    # Given three messages with a different file each, two of which fill the budget
    s3 = FakeS3({"a.pdf": b"a" * 500, "b.pdf": b"b" * 500, "c.pdf": b"c"})
    ses, sqs = FakeSes(), FakeSqs()
    records = [
        record(message(n, attachments=[{"key": key}]), f"m{n}")
        for n, key in enumerate(["a.pdf", "b.pdf", "c.pdf"])
    ]
    # When processed
    sender = make_sender(ses, sqs, s3=s3, attachment_bucket="files")
    sender.attachments.max_bytes = 1000
    result = sender.process(records)
    # Then the first two are sent; the third waits as a copy back on the queue (not read,
    # not dead-lettered, and no receive spent: its original is acknowledged)
    assert result.failures == []
    assert s3.reads == ["a.pdf", "b.pdf"]
    assert sqs.dlq == []
    (copy,) = sqs.requeued
    assert copy["MessageBody"] == records[2]["body"]
    assert copy["DelaySeconds"] == 0


def test_a_campaign_of_one_file_per_email_beyond_the_budget_spends_no_receive_waiting():
    # Given 400 emails with a personal file each (invoices), a budget of 15 files a batch,
    # batches of 100, and a queue that dead-letters after 5 receives
    from tests.unit.pause_world import QUEUE_ARN, Clock, SimSqs

    queue = SimSqs(Clock())
    s3 = FakeS3({f"invoice-{n}.pdf": b"x" * 100 for n in range(400)})
    ses = FakeSes()
    sender = make_sender(ses, queue, s3=s3, attachment_bucket="files")
    sender.attachments.max_bytes = 1500
    for n in range(400):
        queue.enqueue(json.dumps(message(n, attachments=[{"key": f"invoice-{n}.pdf"}])))
    # When the queue is drained, batch after batch
    while queue.messages:
        batch = [{**r, "eventSourceARN": QUEUE_ARN} for r in queue.receive(100)]
        answer = sender.process(batch)
        for raw in batch:
            if raw["messageId"] not in answer.failures:
                queue.delete(raw["messageId"])
    # Then every invoice went out once, none reached the DLQ, and none was received twice
    assert sorted(ses.sent_recipients) == sorted(f"user{n}@example.org" for n in range(400))
    assert queue.dlq == []
    assert queue.max_receive_seen == 1


class SlowS3(FakeS3):
    """Every read takes `seconds` of a fake clock."""

    def __init__(self, objects, clock, seconds):
        super().__init__(objects)
        self.clock = clock
        self.seconds = seconds

    def get_object(self, Bucket, Key):
        self.clock["now"] += self.seconds
        return super().get_object(Bucket, Key)


def test_attachment_reads_stop_in_time_for_the_batch_to_answer():
    # Given a slow S3 (15 s a read), 60 s left, four emails with a file each and a plain one
    clock = {"now": 0.0}
    s3 = SlowS3({f"{n}.pdf": b"x" for n in range(4)}, clock, seconds=15)
    ses, sqs = FakeSes(), FakeSqs()
    records = [record(message(n, attachments=[{"key": f"{n}.pdf"}]), f"m{n}") for n in range(4)]
    records.append(record(message(4), "m4"))
    sender = make_sender(ses, sqs, s3=s3, attachment_bucket="files")
    # When processed
    result = sender.process(records, remaining_ms=lambda: int((60 - clock["now"]) * 1000))
    # Then no read starts that could outlast the invocation: the batch answers in time,
    # its plain email and the emails whose files were read are sent, the rest retried
    assert clock["now"] <= 60 - 9.5
    assert s3.reads == ["0.pdf", "1.pdf"]
    assert sorted(ses.sent_recipients) == [f"user{n}@example.org" for n in (0, 1, 4)]
    assert result.failures == ["m2", "m3"]
    assert sqs.dlq == []


@pytest.mark.parametrize("endpoint_id", ["-bad", "a..b", "a_b", "x" * 64])
def test_an_endpoint_id_that_is_no_dns_name_is_a_settings_error(endpoint_id):
    with pytest.raises(SettingsError, match="ENDPOINT_ID"):
        Settings.from_env({"DLQ_URL": DLQ, "ENDPOINT_ID": endpoint_id})


def test_the_settings_read_endpoint_tenants_and_bucket():
    settings = Settings.from_env(
        {
            "DLQ_URL": DLQ,
            "ENDPOINT_ID": "abcd1234.ef5",
            "ALLOWED_TENANTS": "brand-a, brand-b,",
            "ATTACHMENT_BUCKET": "files",
        }
    )
    assert settings.endpoint_id == "abcd1234.ef5"
    assert settings.allowed_tenants == {"brand-a", "brand-b"}
    assert settings.attachment_bucket == "files"
    # And without ALLOWED_TENANTS no tenant may be named at all
    assert Settings.from_env({"DLQ_URL": DLQ}).allowed_tenants == frozenset()


class TrackedBody(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.was_read = False

    def read(self, *args):
        self.was_read = True
        return super().read(*args)


def test_the_memory_budget_follows_the_function_s_memory_and_calls_in_flight():
    # 512 MB, 4 calls in flight: half the memory over 1 + 4 x 4 copies
    assert memory_budget(512, 4) == 512 * 1024 * 1024 // 2 // 17
    assert memory_budget(3008, 1) > memory_budget(3008, 8)
    assert memory_budget(0, 4) == MAX_BYTES_PER_INVOCATION
    # And the sender reads Lambda's own variable for it
    env = {"DLQ_URL": DLQ, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "MAX_CALLS_IN_FLIGHT": "2"}
    sender = BulkSender(Settings.from_env(env), ses=FakeSes(), sqs=FakeSqs(), limiter=Unpaced())
    assert sender.attachments.max_bytes == memory_budget(1024, 2)


def test_a_file_larger_than_the_memory_budget_is_refused_unread_naming_the_setting():
    # Given a budget of 100 bytes and a 101-byte file
    body = TrackedBody(b"x" * 101)
    s3 = FakeS3({})
    s3.get_object = lambda Bucket, Key: {"ContentLength": 101, "Body": body}
    sqs = FakeSqs()
    sender = make_sender(sqs=sqs, s3=s3, attachment_bucket="files")
    sender.attachments.max_bytes = 100
    # When a message names it
    sender.process([record(message(0, attachments=[{"key": "big.pdf"}]), "m0")])
    # Then it is dead-lettered with the way out, and the file was never downloaded
    assert sqs.dlq_codes() == {"m0": "InvalidMessage"}
    reason = sqs.dlq[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert reason == (
        "attachments[0] (big.pdf): 101 bytes, more than the function's memory holds at once "
        "(100): raise function_memory_mb, then redrive"
    )
    assert not body.was_read
