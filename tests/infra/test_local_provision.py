"""The local run provisions what the stack provisions (DESIGN.md section 11).

Its queues, tables and configuration set are compared with the session's own synthesis of
the default app (not the local run's cached one), so a stale cache or a local copy of a
stack fact fails here. The one difference allowed is written in the local run's code: the
visibility timeout is shortened (DESIGN.md section 12).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bulk_sender.names import Env, Output
from bulkmail.local import emulator as emu
from bulkmail.local import stack_facts
from bulkmail.local.provision import handler_env, provision
from bulkmail.local.settings import LocalSettings

SETTINGS = LocalSettings()
# (construct path in the stack, the local run's name of the table)
TABLES = [
    (stack_facts.LEDGER_TABLE, SETTINGS.table_name),
    (stack_facts.STATUS_TABLE, SETTINGS.status_table_name),
    (stack_facts.SUPPRESSION_TABLE, SETTINGS.suppression_table_name),
]
# (construct path of the queue, of its DLQ, the local output naming the queue, the DLQ's)
QUEUES = [
    (stack_facts.SEND_QUEUE, stack_facts.DLQ, Output.QUEUE_URL, Output.DLQ_URL),
    (stack_facts.EVENTS_QUEUE, stack_facts.EVENTS_DLQ, "EventsQueueUrl", None),
]


@pytest.fixture(scope="module")
def local(request: pytest.FixtureRequest) -> Any:
    """The local run provisioned on moto: its outputs, its clients."""
    monkeypatch = pytest.MonkeyPatch()
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", emu.DEFAULT_REGION)
    emu.install()
    with mock_aws():
        emu.reset()
        yield provision(SETTINGS)
    monkeypatch.undo()


def _stack(synth: Any, path: str, kind: str) -> dict[str, Any]:
    _, found = synth.one(kind, path)
    properties: dict[str, Any] = found["Properties"]
    return properties


@pytest.mark.parametrize(("path", "name"), TABLES)
def test_each_local_table_has_the_stacks_keys_and_ttl(synth, local, path, name):
    # Given the stack's table at that path, and the local run's
    stack = _stack(synth, path, "AWS::DynamoDB::Table")
    dynamodb = boto3.client("dynamodb")
    table = dynamodb.describe_table(TableName=name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    # Then their keys, attribute types and billing mode are the same
    assert table["KeySchema"] == stack["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        stack["AttributeDefinitions"], key=str
    )
    assert table["BillingModeSummary"]["BillingMode"] == stack["BillingMode"]
    # And items expire by the same attribute (or by none)
    stack_ttl = stack.get("TimeToLiveSpecification", {})
    assert ttl.get("AttributeName") == stack_ttl.get("AttributeName")
    assert (ttl["TimeToLiveStatus"] == "ENABLED") == bool(stack_ttl.get("Enabled"))


@pytest.mark.parametrize(("path", "dlq_path", "output", "dlq_output"), QUEUES)
def test_each_local_queue_has_the_stacks_size_retention_and_redrive(
    synth, local, path, dlq_path, output, dlq_output
):
    # Given the stack's queue and DLQ at those paths, and the local run's
    stack = _stack(synth, path, "AWS::SQS::Queue")
    stack_dlq = _stack(synth, dlq_path, "AWS::SQS::Queue")
    sqs = boto3.client("sqs")
    queue = sqs.get_queue_attributes(QueueUrl=local[output], AttributeNames=["All"])
    attributes = queue["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    dlq_url = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].rsplit(":", 1)[1])
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url["QueueUrl"], AttributeNames=["All"])
    if dlq_output is not None:
        assert dlq_url["QueueUrl"] == local[dlq_output]
    # Then a message moves to the DLQ after as many receives
    assert redrive["maxReceiveCount"] == stack["RedrivePolicy"]["maxReceiveCount"]
    # And the queues take messages as large and keep them as long
    for name in ("MaximumMessageSize", "MessageRetentionPeriod"):
        assert attributes[name] == str(stack.get(name, attributes[name]))
        assert dlq["Attributes"][name] == str(stack_dlq.get(name, dlq["Attributes"][name]))
    # And the one difference is the local one: a visibility timeout shortened (section 12)
    assert attributes["VisibilityTimeout"] == str(SETTINGS.visibility_timeout_seconds)
    assert int(attributes["VisibilityTimeout"]) < stack["VisibilityTimeout"]


def test_the_handler_is_told_the_redrive_count_of_the_local_queue(synth, local):
    # Given the local run's queue and the environment it gives the handler
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=local[Output.QUEUE_URL], AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    env = handler_env(SETTINGS, local)
    # Then MAX_RECEIVE_COUNT is the queue's, which is the stack's sender's
    _, sender = synth.one("AWS::Lambda::Function", "SenderFunction")
    stack_count = sender["Properties"]["Environment"]["Variables"][Env.MAX_RECEIVE_COUNT]
    assert env[Env.MAX_RECEIVE_COUNT] == str(
        json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]
    )
    assert env[Env.MAX_RECEIVE_COUNT] == stack_count


def test_the_local_configuration_set_has_the_stacks_options(synth, local):
    # Given the stack's configuration set and the local run's
    stack = _stack(synth, stack_facts.CONFIGURATION_SET, "AWS::SES::ConfigurationSet")
    found = boto3.client("sesv2").get_configuration_set(
        ConfigurationSetName=local[Output.CONFIGURATION_SET_NAME]
    )
    # Then each option the stack sets is set alike
    options = {name: stack[name] for name in stack_facts.CONFIGURATION_SET_OPTIONS if name in stack}
    assert options
    assert {name: found.get(name) for name in options} == options
