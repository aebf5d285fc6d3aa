"""The events function's handler: Powertools wiring, the partial batch response, one EMF blob,
and logs without addresses."""

import io
import json
import re

import boto3
import events
import pytest
from moto import mock_aws

from bulk_sender import metric_names as m
from bulk_sender.status_events import EventsProcessor
from bulk_sender.status_table import StatusTable
from bulkmail.local.stack_facts import STATUS_TABLE, create_table
from tests.unit import ses_event_examples as ex
from tests.unit.test_handler import Context

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.fixture
def table(monkeypatch):
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(dynamodb, "status", STATUS_TABLE)
        monkeypatch.setattr(events, "_processor", EventsProcessor(StatusTable(dynamodb, "status")))
        yield dynamodb


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    (log_handler,) = events.logger.handlers
    previous = log_handler.setStream(stream)
    yield stream
    log_handler.setStream(previous)


def test_the_events_handler_answers_partial_failures_and_emits_its_counters(
    capsys, log_stream, table
):
    # Given a batch with a bounce of two recipients, an untagged email's event, and garbage
    records = [
        {"messageId": "e0", "body": ex.eventbridge(ex.tagged(ex.BOUNCE_SEVERAL, "c_3a1"))},
        {"messageId": "e1", "body": ex.eventbridge(ex.DELIVERY)},
        {"messageId": "e2", "body": "\x00 not an event"},
    ]
    # When the events function runs
    response = events.lambda_handler({"Records": records}, Context())
    output = capsys.readouterr().out + log_stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    # Then only the garbage is retried
    assert response == {"batchItemFailures": [{"itemIdentifier": "e2"}]}
    # And one EMF blob carries each of its counters once
    (blob,) = [line for line in lines if "_aws" in line]
    names = {d["Name"] for d in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == set(m.EVENT_COUNTERS)
    assert [blob[name] for name in m.EVENT_COUNTERS] == [[1.0], [1.0], [1.0]]
    # And it logged the unreadable record and the campaign's counts, never an address
    messages = [line.get("message") for line in lines]
    assert "unreadable_event" in messages
    assert "campaign_counts" in messages
    assert not ADDRESS.findall(json.dumps(lines))
