"""The local run's parts that need no server: the sample files, the event, EMF sums, chaos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bulkmail.campaign import read_campaign
from bulkmail.local import DEMO_OPTIONS, EXAMPLES, FlakyDlqWrites, emf_counters, sqs_event
from bulkmail.sample import SAMPLE_ROWS, write_campaign


def test_the_committed_sample_campaign_is_the_generators(tmp_path: Path) -> None:
    # When the sample is generated again, then it is byte for byte the committed one
    generated = write_campaign(tmp_path / "campaign.csv", SAMPLE_ROWS)
    assert generated.read_bytes() == (EXAMPLES / "campaign.csv").read_bytes()


def test_the_sample_campaign_has_a_few_bad_rows_the_cli_refuses() -> None:
    # When the demo reads the sample with its options
    rows = read_campaign(EXAMPLES / "campaign.csv", DEMO_OPTIONS)

    # Then 1,000 rows, four refused by line with the schema's reasons
    assert len(rows) == 1000
    assert [(row.line, row.error) for row in rows if row.refused] == [
        (19, "to[0]: must be an email address (local@domain)"),
        (269, "to[0]: local part must be 7-bit ASCII (RFC 5322)"),
        (519, "to[0]: domain must be a valid DNS name (IDNA 2008)"),
        (769, "id: same as line 2 (same recipient, same campaign)"),
    ]


def test_the_raw_examples_are_what_the_checks_would_refuse_or_the_lambda_rejects() -> None:
    # When the raw examples are read with the checks on
    rows = read_campaign(EXAMPLES / "raw.jsonl", DEMO_OPTIONS)

    # Then the first four break the schema; the last three pass it and fail in the Lambda
    assert [row.error for row in rows] == [
        "body: must be valid JSON",
        "subjcet: unknown field",
        "headers.X-Note: value must not contain CR or LF",
        "to+cc+bcc: at most 50 recipients",
        None,  # no `name` in data: MissingTemplateData
        None,  # an unknown template: NotFoundException
        None,  # an unverified sender: MessageRejected
    ]


def test_received_messages_become_lambda_sqs_records() -> None:
    # Given a message as ReceiveMessage returns it
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "Body": '{"to": "a@example.org"}',
        "MD5OfBody": "md5",
        "Attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": "1", "Other": "x"},
        "MessageAttributes": {
            "Origin": {"DataType": "String", "StringValue": "app"},
            "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }

    # When it is made into an event
    (record,) = sqs_event([message], "arn:aws:sqs:eu-west-1:1:q", "eu-west-1")["Records"]

    # Then it has Lambda's shape: camelCase, binary base64-encoded, the event source
    assert record["messageId"] == "m-1"
    assert record["receiptHandle"] == "rh-1"
    assert record["body"] == '{"to": "a@example.org"}'
    assert record["attributes"] == {"ApproximateReceiveCount": "3", "SentTimestamp": "1"}
    assert record["messageAttributes"]["Origin"] == {
        "stringValue": "app",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["Blob"]["binaryValue"] == "AAE="
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:eu-west-1:1:q"


def test_emf_blobs_are_summed_by_metric() -> None:
    # Given two EMF blobs (one with a list of values) among other output
    def blob(**values: Any) -> str:
        metrics = [{"Name": name, "Unit": "Count"} for name in values]
        directive = {"Namespace": "N", "Dimensions": [["service"]], "Metrics": metrics}
        return json.dumps({"_aws": {"CloudWatchMetrics": [directive]}, **values})

    output = "\n".join(
        [blob(EmailsSent=3.0, EmailsRetried=1.0), "not json", blob(EmailsSent=[2.0, 4.0])]
    )

    # When they are summed, then each metric is the total of its values
    assert emf_counters(output) == {"EmailsSent": 9, "EmailsRetried": 1}


class RecordingSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        self.sent += request["Entries"]
        return {"Successful": [{"Id": e["Id"]} for e in request["Entries"]]}

    def change_message_visibility_batch(self, **request: Any) -> dict[str, Any]:
        return {"Successful": []}


def entries(count: int) -> list[dict[str, str]]:
    return [{"Id": str(n), "MessageBody": f"b{n}"} for n in range(count)]


def test_flaky_dlq_writes_fail_a_seeded_share_of_entries() -> None:
    # Given DLQ writes that fail 30 % of the time
    inner = RecordingSqs()
    flaky = FlakyDlqWrites(inner, 0.3, seed=1)

    # When 100 batches of 10 are written
    failed = 0
    for _ in range(100):
        try:
            response = flaky.send_message_batch(QueueUrl="q", Entries=entries(10))
        except ClientError:  # pragma: no cover - all ten failing is rare at 30 %
            failed += 10
            continue
        failed += len(response["Failed"])
        assert len(response["Successful"]) + len(response["Failed"]) == 10

    # Then about 30 % failed, were reported as Failed and not written; other calls pass through
    assert failed == flaky.failed
    assert 240 <= failed <= 360
    assert len(inner.sent) == 1000 - failed
    assert flaky.change_message_visibility_batch(QueueUrl="q", Entries=[]) == {"Successful": []}


def test_flaky_dlq_writes_raise_when_every_entry_fails() -> None:
    # Given DLQ writes that always fail
    flaky = FlakyDlqWrites(RecordingSqs(), 1.0, seed=0)

    # When a batch is written, then the call raises (the other path of a failed DLQ write)
    with pytest.raises(ClientError):
        flaky.send_message_batch(QueueUrl="q", Entries=entries(3))
    assert flaky.failed == 3


def test_the_demo_summary_and_status_agree_to_the_unit():
    from bulkmail.local.summary import Summary

    # Given a run: 3 enqueued, 1 sent, 2 dead-lettered of which one is not even JSON (no
    # campaign can claim it), and campaign demo's status (2 enqueued, 1 dead-lettered)
    email = {"to": ["a@example.org"], "cc": [], "bcc": []}
    claimed = json.dumps({"id": "demo:x", "to": "b@example.org", "tags": {"campaign": "demo"}})
    summary = Summary(
        rows=3,
        enqueued=3,
        sent=[email],
        dead_letters=[{"Body": "{not json"}, {"Body": claimed}],
        campaigns={
            "demo": {
                "enqueued": 2,
                "sent_total": 1,
                "n:delivered": 1,
                "n:dead_lettered:InvalidMessage": 1,
            }
        },
        drained=True,
    )
    # Then the summary says how its numbers are the status's plus what no campaign claims
    assert summary.of_no_campaign == 1
    assert summary.agrees_with_status
    assert (
        "summary = status (demo) + of no campaign: enqueued 3 = 2 + 1, dead-lettered 2 = 1 + 1"
        "  holds"
    ) in summary.lines()
    # And a status that counted one more than the run is caught
    summary.campaigns["demo"]["enqueued"] = 3
    assert not summary.agrees_with_status
