"""DESIGN.md sections 4 and 5: grouping, calls, outcomes, splitting and the DLQ record."""

import contextlib
import json
import logging
import math
import threading
from collections import Counter
from datetime import datetime

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from bulk_sender import metric_names as m
from bulk_sender.campaign_status import message_key
from bulk_sender.core import BulkSender
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings
from tests.unit.fakes import (
    FakeSes,
    FakeSqs,
    all_success,
    client_error,
    message,
    recipients_of,
    record,
    sqs_message_bytes,
)

DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"
QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/queue"


def make_sender(ses=None, sqs=None, **settings):
    settings = Settings(**{"dlq_url": DLQ, "queue_url": QUEUE, **settings})
    return BulkSender(settings, ses=ses or FakeSes(), sqs=sqs or FakeSqs(), limiter=Unpaced())


def answer_with(statuses):
    """SES answers entry i with statuses[recipient index] (recipient userN -> statuses[N])."""

    def answer(request):
        results = []
        for entry in request["BulkEmailEntries"]:
            n = int(recipients_of(entry)[0].split("@")[0].removeprefix("user"))
            status = statuses.get(n, "SUCCESS")
            results.append(
                {"Status": status, "MessageId": f"ses-{n}"}
                if status == "SUCCESS"
                else {"Status": status, "Error": f"{status} for user{n}@example.org"}
            )
        return {"BulkEmailEntryResults": results}

    return answer


def test_137_messages_in_3_groups_make_4_calls():
    # Given 137 valid messages in 3 groups of 60, 50 and 27
    records = (
        [record(message(n, template="a"), f"m{n}") for n in range(60)]
        + [record(message(n, template="b"), f"m{n}") for n in range(60, 110)]
        + [record(message(n, sender="other@example.com"), f"m{n}") for n in range(110, 137)]
    )
    ses = FakeSes()
    # When the batch is processed
    result = make_sender(ses).process(records)
    # Then exactly 2 + 1 + 1 SendBulkEmail calls went out, each of one group, all sent
    sizes = sorted(len(r["BulkEmailEntries"]) for r in ses.requests)
    assert sizes == [10, 27, 50, 50]
    assert all(
        len({r["DefaultContent"]["Template"].get("TemplateName")}) == 1 for r in ses.requests
    )
    assert sorted(ses.sent_recipients) == sorted(f"user{n}@example.org" for n in range(137))
    assert result.failures == []
    assert result.counts[m.EMAILS_SENT] == 137
    assert result.counts[m.SEND_BULK_EMAIL_CALLS] == 4


def test_messages_differing_in_reply_to_or_configuration_set_are_not_grouped():
    records = [
        record(message(0), "m0"),
        record(message(1, reply_to=["help@example.com"]), "m1"),
        record(message(2, configuration_set="other"), "m2"),
        record(message(3, feedback_to="fb@example.com"), "m3"),
        record(message(4), "m4"),
    ]
    ses = FakeSes()
    make_sender(ses).process(records)
    assert sorted(len(r["BulkEmailEntries"]) for r in ses.requests) == [1, 1, 1, 2]


PAUSE_STATUSES = [
    "ACCOUNT_DAILY_QUOTA_EXCEEDED",
    "ACCOUNT_SENDING_PAUSED",
    "CONFIGURATION_SET_SENDING_PAUSED",
]
RETRY_STATUSES = [
    "ACCOUNT_THROTTLED",
    "TRANSIENT_FAILURE",
    "FAILED",
    "A_STATUS_SES_ADDS_LATER",
]  # the pause statuses hold the record instead (tests/unit/test_pause.py)
DEAD_STATUSES = [
    "MESSAGE_REJECTED",
    "MAIL_FROM_DOMAIN_NOT_VERIFIED",
    "CONFIGURATION_SET_NOT_FOUND",
    "TEMPLATE_NOT_FOUND",
    "INVALID_SENDING_POOL_NAME",
    "ACCOUNT_SUSPENDED",
    "INVALID_PARAMETER",
]


def three_records():
    return [record(message(n), f"m{n}") for n in range(3)]


@pytest.mark.parametrize("status", RETRY_STATUSES)
def test_a_retryable_entry_status_reports_only_that_record_for_retry(status):
    # Given SES answers the middle entry with a retryable status
    ses, sqs = FakeSes(answer_with({1: status})), FakeSqs()
    # When the batch is processed
    result = make_sender(ses, sqs).process(three_records())
    # Then that record alone is retried, nothing reaches the DLQ, the others are sent
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert sqs.dlq == []
    assert (result.counts[m.EMAILS_SENT], result.counts[m.EMAILS_RETRIED]) == (2, 1)
    assert result.counts[m.THROTTLED_CALLS] == (status == "ACCOUNT_THROTTLED")


@pytest.mark.parametrize("status", DEAD_STATUSES)
def test_a_permanent_entry_status_sends_that_record_to_the_dlq_with_its_reason(status):
    ses, sqs = FakeSes(answer_with({2: status})), FakeSqs()
    result = make_sender(ses, sqs).process(three_records())
    assert result.failures == []
    assert sqs.dlq_codes() == {"m2": status}
    reason = sqs.dlq[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert status in reason
    assert "@" not in reason  # SES's own text named the address: redacted
    assert result.counts[m.EMAILS_DEAD_LETTERED] == 1
    assert result.counts[m.INVALID_MESSAGES] == 0


def test_every_ses_status_value_is_covered_by_the_tests():
    import botocore.session

    model = botocore.session.get_session().get_service_model("sesv2")
    statuses = set(model.shape_for("BulkEmailStatus").enum)
    assert statuses == {"SUCCESS"} | set(DEAD_STATUSES) | set(RETRY_STATUSES[:-1]) | set(
        PAUSE_STATUSES
    )


def test_results_map_back_to_records_by_position():
    # Given SES answers positions 0 and 3 with different failures
    ses, sqs = FakeSes(answer_with({0: "TRANSIENT_FAILURE", 3: "MESSAGE_REJECTED"})), FakeSqs()
    records = [record(message(n), f"m{n}") for n in range(5)]
    result = make_sender(ses, sqs).process(records)
    assert result.failures == ["m0"]
    assert sqs.dlq_codes() == {"m3": "MESSAGE_REJECTED"}
    assert result.counts[m.EMAILS_SENT] == 3


def test_a_response_with_fewer_results_than_entries_retries_the_rest():
    ses = FakeSes(
        lambda request: {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "x"}]}
    )
    result = make_sender(ses).process(three_records())
    assert result.failures == ["m1", "m2"]


def raising(error):
    def answer(request):
        raise error

    return answer


# SendingPausedException pauses the sender instead (tests/unit/test_pause.py).
RETRIED_CALL_ERRORS = [
    client_error("TooManyRequestsException", 429),
    client_error("ThrottlingException", 400),
    client_error("InternalFailure", 500),
    client_error("ServiceUnavailable", 503),
    EndpointConnectionError(endpoint_url="https://email.example"),
    ReadTimeoutError(endpoint_url="https://email.example"),
]
DEAD_CALL_ERRORS = [
    client_error("NotFoundException", 404),
    client_error("MailFromDomainNotVerifiedException", 400),
    client_error("AccountSuspendedException", 400),
    client_error("AccessDeniedException", 403),
]


@pytest.mark.parametrize("error", RETRIED_CALL_ERRORS, ids=lambda e: type(e).__name__ + str(e)[:30])
def test_a_whole_call_failing_transiently_retries_every_entry(error):
    ses, sqs = FakeSes(raising(error)), FakeSqs()
    result = make_sender(ses, sqs).process(three_records())
    assert result.failures == ["m0", "m1", "m2"]
    assert sqs.dlq == []
    assert result.counts[m.EMAILS_RETRIED] == 3
    assert len(ses.requests) == 1  # one attempt: the SDK does not retry behind our back
    throttled = "TooManyRequests" in str(error) or "Throttling" in str(error)
    assert result.counts[m.THROTTLED_CALLS] == int(throttled)


@pytest.mark.parametrize("error", DEAD_CALL_ERRORS, ids=str)
def test_a_whole_call_failing_for_good_sends_every_entry_to_the_dlq(error):
    ses, sqs = FakeSes(raising(error)), FakeSqs()
    result = make_sender(ses, sqs).process(three_records())
    assert result.failures == []
    code = error.response["Error"]["Code"]
    assert sqs.dlq_codes() == {"m0": code, "m1": code, "m2": code}
    assert len(ses.requests) == 1


def rejecting(bad_recipients, code="BadRequestException", status=400):
    """SES refuses a whole call that holds any of `bad_recipients`, naming the first."""

    def answer(request):
        for entry in request["BulkEmailEntries"]:
            for address in recipients_of(entry):
                if address in bad_recipients:
                    raise client_error(code, status, f"Illegal address {address}")
        return all_success(request)

    return answer


@pytest.mark.parametrize(
    ("code", "status"),
    [("BadRequestException", 400), ("MessageRejected", 400), ("LimitExceededException", 400)],
)
def test_a_call_refused_as_a_whole_is_split_until_the_entry_at_fault_stands_alone(code, status):
    # Given 8 messages of which one makes SES refuse the whole call
    ses, sqs = FakeSes(rejecting({"user5@example.org"}, code, status)), FakeSqs()
    records = [record(message(n), f"m{n}") for n in range(8)]
    # When the batch is processed
    result = make_sender(ses, sqs).process(records)
    # Then only that one is dead-lettered, and every other one was delivered exactly once
    assert sqs.dlq_codes() == {"m5": code}
    delivered = Counter(
        a
        for r in ses.requests
        if "user5@example.org" not in [x for e in r["BulkEmailEntries"] for x in recipients_of(e)]
        for e in r["BulkEmailEntries"]
        for a in recipients_of(e)
    )
    assert delivered == Counter(f"user{n}@example.org" for n in range(8) if n != 5)
    assert result.failures == []
    assert result.counts[m.EMAILS_SENT] == 7
    # And the splitting took log2(8) rounds, not one call per message
    assert result.counts[m.SEND_BULK_EMAIL_CALLS] == 7


def test_two_entries_at_fault_in_different_halves_are_both_isolated():
    ses, sqs = FakeSes(rejecting({"user1@example.org", "user6@example.org"})), FakeSqs()
    records = [record(message(n), f"m{n}") for n in range(8)]
    result = make_sender(ses, sqs).process(records)
    assert sqs.dlq_codes() == {"m1": "BadRequestException", "m6": "BadRequestException"}
    assert result.counts[m.EMAILS_SENT] == 6


def refusing_positions(bad, text="Illegal address"):
    """SES refusing a whole call, alike, whenever it holds one of the `bad` message numbers."""

    def answer(request):
        numbers = {
            int(recipients_of(e)[0].split("@")[0].removeprefix("user"))
            for e in request["BulkEmailEntries"]
        }
        if numbers & bad:
            raise client_error("BadRequestException", 400, text)
        return all_success(request)

    return answer


@pytest.mark.parametrize(
    "bad",
    [{0}, {49}, {17}, {0, 49}, {24, 25}, {3, 4}, {0, 12, 25, 37, 49}, {0, 1, 2, 3, 4}],
    ids=lambda bad: "bad at " + ",".join(map(str, sorted(bad))),
)
def test_k_entries_at_fault_cost_about_2_k_log2_n_calls_and_only_they_are_dead_lettered(bad):
    # Given a call of 50 where k entries make SES refuse the whole call, with the same text
    n, k = 50, len(bad)
    ses, sqs = FakeSes(refusing_positions(bad)), FakeSqs()
    records = [record(message(i), f"m{i}") for i in range(n)]
    # When the batch is processed
    result = make_sender(ses, sqs).process(records)
    # Then only the k culprits are dead-lettered, and the 50 - k others sent
    assert sqs.dlq_codes() == {f"m{i}": "BadRequestException" for i in bad}
    assert result.counts[m.EMAILS_SENT] == n - k
    assert result.failures == []
    # And the search took at most 2·k·ceil(log2 n) + 1 calls
    assert len(ses.requests) <= 2 * k * math.ceil(math.log2(n)) + 1


def test_a_fault_of_the_call_itself_ends_the_group_in_a_few_calls():
    # Given SES refuses every call of the group alike (e.g. the sender is not verified)
    ses = FakeSes(raising(client_error("MessageRejected", 400, "Email address is not verified.")))
    sqs = FakeSqs()
    records = [record(message(n), f"m{n}") for n in range(50)]
    result = make_sender(ses, sqs).process(records)
    # Then the whole group is dead-lettered after three levels of halving (1+2+4+8 calls),
    # not the 99 calls of one per message and per half
    assert sqs.dlq_codes() == {f"m{n}": "MessageRejected" for n in range(50)}
    assert len(ses.requests) == 15
    assert result.failures == []


def test_a_failing_dlq_write_reports_the_record_for_retry_instead():
    # Given an invalid message and a DLQ that cannot be written
    sqs = FakeSqs(fail_dlq="raise")
    records = [record("not json", "bad"), record(message(1), "m1")]
    result = make_sender(FakeSes(), sqs).process(records)
    # Then the invalid record is retried (not lost), the valid one sent
    assert result.failures == ["bad"]
    assert result.counts[m.EMAILS_DEAD_LETTERED] == 0
    assert result.counts[m.INVALID_MESSAGES] == 0
    assert result.counts[m.EMAILS_SENT] == 1


def test_an_entry_in_send_message_batch_failed_is_retried_and_the_rest_written():
    sqs = FakeSqs(fail_dlq="partial")
    records = [record("not json", "bad1"), record("[]", "bad2")]
    result = make_sender(FakeSes(), sqs).process(records)
    assert result.failures == ["bad1"]
    assert sqs.dlq_codes() == {"bad2": "InvalidMessage"}
    assert result.counts[m.EMAILS_DEAD_LETTERED] == 1


def test_a_maximum_size_message_can_be_dead_lettered_with_its_four_attributes():
    # Given a message as large as the queue takes, its own attributes included (SQS counts
    # them), that SES rejects with a long non-ASCII text, and a DLQ that refuses what exceeds
    # its maximum size as SQS does
    from bulk_sender.sqs_limits import DLQ_MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES

    raw = record(message(0, data={"pad": ""}), "m1", **{f"attr{i}": "v" * 100 for i in range(9)})
    attributes = {
        name: {"DataType": "String", "StringValue": v["stringValue"]}
        for name, v in raw["messageAttributes"].items()
    }
    size = sqs_message_bytes({"MessageBody": raw["body"], "MessageAttributes": attributes})
    raw["body"] = raw["body"].replace(
        '"pad": ""', '"pad": "' + "x" * (MAX_MESSAGE_BYTES - size) + '"'
    )
    assert sqs_message_bytes({"MessageBody": raw["body"], "MessageAttributes": attributes}) == (
        MAX_MESSAGE_BYTES
    )

    def rejected(request):
        return {"BulkEmailEntryResults": [{"Status": "MESSAGE_REJECTED", "Error": "😀" * 5000}]}

    sqs = FakeSqs(max_message_bytes=DLQ_MAX_MESSAGE_BYTES)
    # When it is dead-lettered
    result = make_sender(FakeSes(rejected), sqs).process([raw])
    # Then the letter is written (not retried until RetriesExhausted), body byte for byte
    assert result.failures == []
    assert sqs.dlq_codes() == {"m1": "MESSAGE_REJECTED"}
    assert sqs.dlq[0]["MessageBody"] == raw["body"]


def test_attribute_values_sqs_would_refuse_are_sanitised_so_the_letter_is_written():
    # Given SES refuses an entry with a text holding control characters
    def answer(request):
        return {
            "BulkEmailEntryResults": [{"Status": "MESSAGE_REJECTED", "Error": "bad\x00\x1b[31m"}]
        }

    sqs = FakeSqs()
    result = make_sender(FakeSes(answer), sqs).process([record(message(0), "m0")])
    # Then the letter is written with the characters replaced
    assert result.failures == []
    (written,) = sqs.dlq
    assert written["MessageAttributes"]["ErrorMessage"]["StringValue"] == "bad\ufffd\ufffd[31m"


def test_each_entry_send_message_batch_refuses_is_logged(caplog):
    # Given a DLQ that refuses one entry of the batch
    sqs = FakeSqs(fail_dlq="partial")
    records = [record("not json", "bad1"), record("[]", "bad2")]
    with caplog.at_level(logging.INFO):
        make_sender(FakeSes(), sqs).process(records)
    # Then a structured line names the record and SQS's code
    (line,) = [r for r in caplog.records if r.getMessage() == "dlq_entry_failed"]
    assert line.source_message_id == "bad1"
    assert line.sqs_code == "InternalError"
    assert line.error_code == "InvalidMessage"


def dlq_attributes_of(raw):
    """The attributes a record carries, as SendMessage spells them."""
    return {
        name: {"DataType": v["dataType"], "StringValue": v["stringValue"]}
        for name, v in raw["messageAttributes"].items()
    }


def test_the_dlq_record_keeps_the_body_byte_for_byte_and_says_why():
    # Given an invalid body with odd spacing and non-ASCII text, and 8 attributes of its own
    body = (
        '{ "to": "ann@example.org",   "from": "news@example.com", '
        '"template": "welcome", "colour": "grün" }'
    )
    own = {f"attr{i}": f"v{i}" for i in range(7)} | {"ErrorCode": "stale"}
    sqs = FakeSqs()
    make_sender(FakeSes(), sqs).process([record(body, "m1", **own)])
    (written,) = sqs.dlq
    attributes = written["MessageAttributes"]
    # Then the body is the original, byte for byte
    assert written["MessageBody"] == body
    # And the four attributes say why, replacing a same-named one of the original
    assert attributes["ErrorCode"] == {"DataType": "String", "StringValue": "InvalidMessage"}
    assert attributes["ErrorMessage"]["StringValue"] == "colour: unknown field"
    assert attributes["SourceMessageId"]["StringValue"] == "m1"
    failed_at = attributes["FailedAt"]["StringValue"]
    assert failed_at.endswith("Z")
    assert datetime.fromisoformat(failed_at.replace("Z", "+00:00")).utcoffset().total_seconds() == 0
    # And the original's own attributes are kept up to SQS's limit of 10
    assert len(attributes) == 10
    assert attributes["attr0"] == {"DataType": "String", "StringValue": "v0"}


def test_dlq_writes_are_batched_by_ten_and_by_bytes():
    sqs = FakeSqs()
    calls = []
    original = sqs.send_message_batch

    def spy(**request):
        calls.append(len(request["Entries"]))
        return original(**request)

    sqs.send_message_batch = spy
    big = "x" * 100_000  # three of these exceed the 256 KiB batch limit
    records = [record("bad", f"s{i}") for i in range(12)] + [record(big, f"b{i}") for i in range(3)]
    make_sender(FakeSes(), sqs).process(records)
    assert calls == [10, 4, 1]
    assert len(sqs.dlq) == 15


def test_the_mixed_batch_of_the_issue():
    # Given bad JSON, a 51-recipient message, a header with CR/LF, an unknown field,
    # an entry SES rejects, an entry SES fails transiently, and good messages
    bodies = {
        "json": '{"to": "a@example.org",',
        "r51": message(90, cc=[f"c{i}@example.org" for i in range(50)]),
        "crlf": message(91, headers={"X-Tag": "a\r\nBcc: evil@example.org"}),
        "field": message(92, colour="red"),
        "rejected": message(1),
        "transient": message(2),
    } | {f"ok{n}": message(n) for n in range(3, 10)}
    records = [record(body, name) for name, body in bodies.items()]
    ses = FakeSes(answer_with({1: "MESSAGE_REJECTED", 2: "TRANSIENT_FAILURE"}))
    sqs = FakeSqs()
    # When the batch is processed
    result = make_sender(ses, sqs).process(records)
    # Then exactly the four invalid ones and the rejected one are in the DLQ, with reasons
    assert sqs.dlq_codes() == {
        "json": "InvalidMessage",
        "r51": "InvalidMessage",
        "crlf": "InvalidMessage",
        "field": "InvalidMessage",
        "rejected": "MESSAGE_REJECTED",
    }
    bodies_in_dlq = {
        e["MessageAttributes"]["SourceMessageId"]["StringValue"]: e["MessageBody"] for e in sqs.dlq
    }
    assert all(
        bodies_in_dlq[r["messageId"]] == r["body"]
        for r in records
        if r["messageId"] in bodies_in_dlq
    )
    reasons = {e["MessageAttributes"]["ErrorMessage"]["StringValue"] for e in sqs.dlq}
    assert {
        "body: must be valid JSON",
        "to+cc+bcc: at most 50 recipients",
        "headers.X-Tag: value must not contain CR or LF",
        "colour: unknown field",
    } <= reasons
    # And the retryable one is in batchItemFailures, and all the rest were sent
    assert result.failures == ["transient"]
    assert sorted(ses.sent_recipients) == sorted(f"user{n}@example.org" for n in range(1, 10))
    assert result.counts[m.EMAILS_SENT] == 7
    assert result.counts[m.EMAILS_DEAD_LETTERED] == 5
    assert result.counts[m.INVALID_MESSAGES] == 4


def test_a_batch_whose_every_record_is_retried_is_answered_not_raised():
    ses = FakeSes(raising(client_error("TooManyRequestsException", 429)))
    result = make_sender(ses).process(three_records())
    assert len(result.failures) == 3


@pytest.mark.parametrize(
    ("receive_count", "status", "expected"),
    [
        (1, "TRANSIENT_FAILURE", 30),
        (3, "TRANSIENT_FAILURE", 120),
        (9, "FAILED", 900),
    ],
)
def test_retried_records_are_delayed_by_receive_count_up_to_the_cap(
    receive_count, status, expected
):
    sqs = FakeSqs()
    records = [record(message(0), "m0", receive_count=receive_count)]
    make_sender(FakeSes(answer_with({0: status})), sqs).process(records)
    assert sqs.visibility == [{"Id": "0", "ReceiptHandle": "rh-m0", "VisibilityTimeout": expected}]


def test_backoff_base_zero_turns_the_delay_off():
    sqs = FakeSqs()
    make_sender(FakeSes(answer_with({0: "FAILED"})), sqs, retry_backoff_base_seconds=0).process(
        [record(message(0), "m0")]
    )
    assert sqs.visibility == []


def test_a_failed_visibility_change_never_loses_the_record():
    sqs = FakeSqs()

    def broken(**request):
        raise client_error("ReceiptHandleIsInvalid", 400)

    sqs.change_message_visibility_batch = broken
    result = make_sender(FakeSes(answer_with({0: "FAILED"})), sqs).process(
        [record(message(0), "m0")]
    )
    assert result.failures == ["m0"]


def test_calls_go_out_concurrently_up_to_max_calls_in_flight():
    # Given an SES whose calls return only once 3 are in flight (however slowly the threads
    # start), and 6 groups
    in_flight, peak, lock = 0, 0, threading.Lock()
    three_in_flight = threading.Barrier(3)

    def slow(request):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        with contextlib.suppress(threading.BrokenBarrierError):  # broken: fewer ran at once
            three_in_flight.wait(timeout=30)
        with lock:
            in_flight -= 1
        return all_success(request)

    records = [record(message(n, template=f"t{n}"), f"m{n}") for n in range(6)]
    result = make_sender(FakeSes(slow), max_calls_in_flight=3).process(records)
    assert peak == 3
    assert result.counts[m.EMAILS_SENT] == 6


def test_default_tags_go_on_the_call_and_merged_tags_on_each_entry():
    ses = FakeSes()
    sender = make_sender(ses, default_tags={"campaign": "none", "env": "prod"})
    sender.process([record(message(0, tags={"campaign": "spring"}), "m0")])
    (request,) = ses.requests
    assert request["DefaultEmailTags"] == [
        {"Name": "campaign", "Value": "none"},
        {"Name": "env", "Value": "prod"},
    ]
    assert request["BulkEmailEntries"][0]["ReplacementTags"] == [
        {"Name": "campaign", "Value": "spring"},
        {"Name": "env", "Value": "prod"},
        # ties SES's events back to the message: a keyed hash of its id (campaign_status.py)
        {"Name": "bulkmail-id", "Value": message_key("m0")},
    ]


def test_the_deadline_stops_new_calls_and_retries_what_is_left():
    ses = FakeSes()
    records = [record(message(n, template=f"t{n}"), f"m{n}") for n in range(3)]
    result = make_sender(ses).process(records, remaining_ms=lambda: 5_000)
    assert ses.requests == []
    assert result.failures == ["m0", "m1", "m2"]
    assert result.counts[m.EMAILS_RETRIED] == 3


def test_inline_content_and_template_arns_reach_ses():
    ses = FakeSes()
    arn = "arn:aws:ses:eu-west-1:123456789012:template/welcome"
    content = {"subject": "Hi {{name}}", "html": "<p>{{name}}</p>"}
    body = {
        "to": "a@example.org",
        "from": "n@example.com",
        "content": content,
        "data": {"name": "A"},
    }
    make_sender(ses).process([record(body, "m0"), record(message(1, template=arn), "m1")])
    templates = sorted((r["DefaultContent"]["Template"] for r in ses.requests), key=json.dumps)
    assert {"TemplateArn": arn, "TemplateData": "{}"} in templates
    assert {
        "TemplateContent": {"Subject": "Hi {{name}}", "Html": "<p>{{name}}</p>"},
        "TemplateData": "{}",
    } in templates


def test_a_split_stops_at_the_deadline_and_retries_what_is_left():
    # Given SES refuses the whole call, and the deadline comes after that first attempt
    ses, sqs = FakeSes(rejecting({"user5@example.org"})), FakeSqs()
    records = [record(message(n), f"m{n}") for n in range(8)]
    # When the batch is processed
    result = make_sender(ses, sqs).process(
        records, remaining_ms=lambda: 60_000 if not ses.requests else 5_000
    )
    # Then no half is sent past the deadline: everything is retried, nothing dead-lettered
    assert len(ses.requests) == 1
    assert result.failures == [f"m{n}" for n in range(8)]
    assert sqs.dlq == []


def test_an_exhausted_daily_quota_is_a_pause_not_a_rate():
    # Given SES answers a throttle whose text says the daily quota is used up
    error = client_error("TooManyRequestsException", 429, "Daily message quota exceeded.")
    sqs = FakeSqs()
    sender = make_sender(FakeSes(raising(error)), sqs)
    result = sender.process([record(message(0), "m0")])
    # Then the sender pauses: the record is held (a copy delayed by the longest backoff),
    # and the call does not count as throttled
    assert result.failures == []
    assert sqs.requeued[0]["DelaySeconds"] == 900
    assert result.counts[m.SENDING_PAUSED] == 1
    assert result.counts[m.THROTTLED_CALLS] == 0


def test_an_id_shaped_like_an_address_is_redacted_in_logs(caplog):
    ses = FakeSes(answer_with({1: "MESSAGE_REJECTED"}))
    records = [
        record(message(0, id="ann@example.org"), "m0"),
        record(message(1, id="bob@example.org"), "m1"),
    ]
    with caplog.at_level(logging.INFO):
        make_sender(ses).process(records)
    logged = json.dumps([record.__dict__ for record in caplog.records], default=str)
    assert "ann@example.org" not in logged
    assert "bob@example.org" not in logged
    assert "<address>" in logged


class DeadLetteredBefore:
    """A ledger (idempotency off otherwise) that saw these SQS messages dead-lettered."""

    def __init__(self, sqs_message_ids):
        self.seen = set(sqs_message_ids)

    def claim(self, ids, *, hold_seconds=None):
        from bulk_sender.ledger import Claim

        return dict.fromkeys(ids, Claim.CLAIMED)

    def complete(self, ids, *, within_seconds=None):
        return 0

    def release(self, ids, *, within_seconds=None):
        pass

    def dead_lettered(self, sqs_message_ids):
        return self.seen & set(sqs_message_ids)

    def completed(self, ids):
        return set()

    def mark_dead_lettered(self, sqs_message_ids, *, within_seconds=None):
        self.seen |= set(sqs_message_ids)
        return 0


def test_a_redelivered_record_already_dead_lettered_is_acknowledged_and_counted(caplog):
    # Given a redelivery of a record an earlier invocation already wrote to the DLQ
    sqs = FakeSqs()
    sender = BulkSender(
        Settings(dlq_url=DLQ),
        ses=FakeSes(),
        sqs=sqs,
        ledger=DeadLetteredBefore({"m0"}),
        limiter=Unpaced(),
    )
    records = [record("not json", "m0", receive_count=2), record(message(1), "m1")]
    # When it is processed
    with caplog.at_level(logging.INFO):
        result = sender.process(records)
    # Then it is acknowledged, not written twice, and counted as a duplicate skipped
    assert result.failures == []
    assert sqs.dlq == []
    assert result.counts[m.DUPLICATES_SKIPPED] == 1
    assert result.counts[m.EMAILS_SENT] == 1
    assert "already_dead_lettered" in [r.getMessage() for r in caplog.records]
