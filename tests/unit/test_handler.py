"""The Lambda handler: Powertools wiring around the core, its EMF metrics and its logs."""

import io
import json
import re
from dataclasses import dataclass

import pytest

import handler
from bulk_sender import metric_names as m
from bulk_sender.core import BulkSender
from bulk_sender.pacing import Unpaced
from bulk_sender.settings import Settings
from tests.unit.fakes import FakeSes, FakeSqs, message, record

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@dataclass
class Context:
    function_name: str = "sender"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:sender"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def sqs(monkeypatch):
    sqs = FakeSqs()
    sender = BulkSender(
        Settings(dlq_url="https://sqs.example/dlq"),
        ses=FakeSes(
            lambda r: {
                "BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "x"}]
                + [{"Status": "MESSAGE_REJECTED", "Error": "Rejected: user9@example.org"}]
                * (len(r["BulkEmailEntries"]) - 1)
            }
        ),
        sqs=sqs,
        limiter=Unpaced(),
    )
    monkeypatch.setattr(handler, "_sender", sender)
    return sqs


@pytest.fixture
def log_stream():
    """Powertools' log handler (shared with the core's loggers), pointed at a buffer."""
    stream = io.StringIO()
    (log_handler,) = handler.logger.handlers
    previous = log_handler.setStream(stream)
    yield stream
    log_handler.setStream(previous)


def invoke(capsys, log_stream, records):
    response = handler.lambda_handler({"Records": records}, Context())
    output = capsys.readouterr().out + log_stream.getvalue()
    return response, [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_the_handler_answers_the_partial_batch_response_and_emits_one_metrics_blob(
    capsys, log_stream, sqs
):
    # Given a batch with a valid message, a rejected one and an invalid one
    records = [record(message(0), "m0"), record(message(1), "m1"), record("nope", "m2")]
    # When the handler runs
    response, lines = invoke(capsys, log_stream, records)
    # Then nothing is retried: one sent, two dead-lettered
    assert response == {"batchItemFailures": []}
    assert sorted(sqs.dlq_codes().values()) == ["InvalidMessage", "MESSAGE_REJECTED"]
    # And one EMF blob carries every counter once, with its total, and the call latency
    blobs = [line for line in lines if "_aws" in line]
    assert len(blobs) == 1
    (blob,) = blobs
    names = {d["Name"] for d in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == set(m.ALL)
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "BulkEmail"
    assert blob["service"] == "bulk-email"
    totals = {name: blob[name] for name in m.COUNTERS}
    assert totals == {
        m.EMAILS_SENT: [1.0],
        m.EMAILS_RETRIED: [0.0],
        m.EMAILS_DEAD_LETTERED: [2.0],
        m.INVALID_MESSAGES: [1.0],
        m.DUPLICATES_SKIPPED: [0.0],
        m.EMAILS_SUPPRESSED: [0.0],
        m.SEND_BULK_EMAIL_CALLS: [1.0],
        m.THROTTLED_CALLS: [0.0],
        m.LEDGER_WRITE_FAILURES: [0.0],
    }


def test_logs_never_hold_a_recipient_address_in_clear(capsys, log_stream, sqs):
    # Given messages whose addresses appear in SES's error text and in an invalid body
    records = [record(message(n), f"m{n}") for n in range(3)]
    records.append(record({"to": "leak@example.org", "from": "x@example.com", "oops": 1}, "m9"))
    # When the handler runs
    _, lines = invoke(capsys, log_stream, records)
    # Then the call and dead-letter lines are there, in Powertools JSON with the context
    messages = [line.get("message") for line in lines]
    assert "send_bulk_email" in messages
    assert messages.count("dead_lettered") == 3
    assert all(line["function_request_id"] == "req-1" for line in lines if "message" in line)
    # And no line holds an address
    assert not ADDRESS.findall(json.dumps(lines))
