"""DESIGN section 12's scheduling: the campaign bucket, the schedule group, the enqueue
function and its role, the role schedules run with, the outputs, the dashboard row."""

from __future__ import annotations

import json
from typing import Any

import boto3
from moto import mock_aws

from bulk_sender import metric_names, schedule
from bulk_sender.names import Env, Output
from bulk_sender.schedule_enqueue import (
    BUCKET_ACTIONS,
    BUCKET_LIST_ACTIONS,
    QUEUE_ACTIONS,
    STATUS_ACTIONS,
    CampaignEnqueuer,
    encode_bodies,
)
from bulkmail.local.stack_facts import STATUS_TABLE, create_table
from stacks.dashboard_diagram import dashboard_body
from tests.infra.cfn import arn_of, as_list, ref, statements, text


def _bucket(synth) -> tuple[str, dict[str, Any]]:
    return synth.one("AWS::S3::Bucket", "SchedulingBucket")


def _function(synth) -> tuple[str, dict[str, Any]]:
    return synth.one("AWS::Lambda::Function", "SchedulingFunction")


def test_the_campaign_bucket_is_private_encrypted_tls_only_and_forgets_files(synth, context):
    _, resource = _bucket(synth)
    properties = resource["Properties"]
    # Then every public access is blocked, objects are the owner's, encrypted at rest
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # And no version outlives a deleted campaign file (they hold addresses)
    assert "VersioningConfiguration" not in properties
    # And whatever is left under campaigns/ is deleted after the context key's days
    (lifecycle,) = properties["LifecycleConfiguration"]["Rules"]
    assert lifecycle["Prefix"] == schedule.OBJECT_PREFIX
    assert lifecycle["ExpirationInDays"] == context["campaign_file_retention_days"]
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert lifecycle["Status"] == "Enabled"
    # And its policy denies any request without TLS
    _, policy = synth.one("AWS::S3::BucketPolicy", "SchedulingBucket")
    (deny,) = statements(policy)
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_outputs_name_the_bucket_group_function_and_role(synth):
    outputs = {name: output["Value"] for name, output in synth.template["Outputs"].items()}
    group = synth.one("AWS::Scheduler::ScheduleGroup")[0]
    function = _function(synth)[0]
    role = synth.logical_id("AWS::IAM::Role", "SchedulingSchedulerRole")
    assert outputs[Output.CAMPAIGN_BUCKET_NAME] == ref(_bucket(synth)[0])
    assert outputs[Output.SCHEDULE_GROUP_NAME] == ref(group)
    assert outputs[Output.ENQUEUE_FUNCTION_ARN] == arn_of(function)
    assert outputs[Output.SCHEDULER_ROLE_ARN] == arn_of(role)


def test_the_enqueue_function_runs_the_handler_of_the_same_asset(synth):
    _, resource = _function(synth)
    sender = synth.one("AWS::Lambda::Function", "SenderFunction")[1]
    properties = resource["Properties"]
    assert properties["Handler"] == "enqueue_handler.lambda_handler"
    assert properties["Code"] == sender["Properties"]["Code"]
    env = properties["Environment"]["Variables"]
    queue = synth.logical_id("AWS::SQS::Queue", "QueuesQueue")
    status = synth.logical_id("AWS::DynamoDB::Table", "Status")
    assert env[Env.CAMPAIGN_BUCKET] == ref(_bucket(synth)[0])
    assert env[Env.QUEUE_URL] == ref(queue)
    assert env[Env.STATUS_TABLE] == ref(status)


def test_a_failed_enqueue_run_is_retried_twice_by_lambda(synth):
    function = _function(synth)[0]
    _, config = synth.one("AWS::Lambda::EventInvokeConfig", "SchedulingFunction")
    properties = config["Properties"]
    assert properties["FunctionName"] == ref(function)
    assert properties["MaximumRetryAttempts"] == 2
    assert properties["MaximumEventAgeInSeconds"] == 6 * 3600


def test_the_enqueue_function_may_read_the_bucket_send_to_the_queue_and_count_only(synth):
    function, resource = _function(synth)
    role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        p
        for p in synth.resources("AWS::IAM::Policy").values()
        if ref(role) in p["Properties"]["Roles"]
    ]
    granted = {
        statement["Sid"]: (sorted(as_list(statement["Action"])), as_list(statement["Resource"]))
        for policy in policies
        for statement in statements(policy)
    }
    bucket = _bucket(synth)[0]
    queue = synth.logical_id("AWS::SQS::Queue", "QueuesQueue")
    status = synth.logical_id("AWS::DynamoDB::Table", "Status")
    log_group = synth.logical_id("AWS::Logs::LogGroup", "SchedulingLogGroup")
    assert set(granted) == {
        "WriteOwnLogs",
        "ReadAndDeleteCampaignFiles",
        "TellAMissingCampaignFile",
        "SendToTheQueue",
        "CheckpointAndCountEnqueuedRows",
        "ContinueInANewInvocation",
    }
    actions, resources = granted["ReadAndDeleteCampaignFiles"]
    assert actions == sorted(BUCKET_ACTIONS)
    assert [text(r) for r in resources] == [f"${{{bucket}.Arn}}/campaigns/*"]
    assert granted["TellAMissingCampaignFile"] == (list(BUCKET_LIST_ACTIONS), [arn_of(bucket)])
    assert granted["SendToTheQueue"] == (["sqs:SendMessage"], [arn_of(queue)])
    assert granted["CheckpointAndCountEnqueuedRows"] == (sorted(STATUS_ACTIONS), [arn_of(status)])
    assert granted["ContinueInANewInvocation"] == (["lambda:InvokeFunction"], [arn_of(function)])
    assert granted["WriteOwnLogs"][1] == [arn_of(log_group)]


def test_the_scheduler_role_may_invoke_the_enqueue_function_only(synth):
    role = synth.logical_id("AWS::IAM::Role", "SchedulingSchedulerRole")
    properties = synth.template["Resources"][role]["Properties"]
    (trust,) = properties["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}
    (policy,) = [
        p
        for p in synth.resources("AWS::IAM::Policy").values()
        if ref(role) in p["Properties"]["Roles"]
    ]
    (statement,) = statements(policy)
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == arn_of(_function(synth)[0])


def test_the_dashboard_shows_the_scheduled_rows_and_the_schedules_runs(synth, context):
    body = json.dumps(dashboard_body(synth.template))
    assert metric_names.SCHEDULED_ROWS_ENQUEUED in body
    assert "InvocationAttemptCount" in body
    assert "schedule list" in body


class Recording:
    """A client that records the IAM action of every call it passes on."""

    def __init__(self, client: Any, service: str, calls: set[str]) -> None:
        self._client, self._service, self._calls = client, service, calls

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            operation = self._client.meta.method_to_api_mapping[name]
            # SQS authorises SendMessageBatch as SendMessage; S3 HeadObject as GetObject.
            operation = {"SendMessageBatch": "SendMessage", "HeadObject": "GetObject"}.get(
                operation, operation
            )
            self._calls.add(f"{self._service}:{operation}")
            return method(**kwargs)

        return call


def test_what_the_enqueue_core_calls_is_exactly_what_its_role_grants() -> None:
    calls: set[str] = set()
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        sqs = boto3.client("sqs", region_name="eu-west-1")
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        s3.create_bucket(
            Bucket="campaign-files", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        create_table(dynamodb, "t", STATUS_TABLE)
        instant = schedule.parse_instant_label("20261224T080000Z")
        key = schedule.object_key("c", instant)
        s3.put_object(Bucket="campaign-files", Key=key, Body=encode_bodies(['{"id": "c:1"}']))
        CampaignEnqueuer(
            s3=Recording(s3, "s3", calls),
            sqs=Recording(sqs, "sqs", calls),
            dynamodb=Recording(dynamodb, "dynamodb", calls),
            bucket="campaign-files",
            queue_url=url,
            status_table="t",
        ).run(schedule.payload("c", instant, 1, key), remaining_ms=lambda: 900_000)
    # ListBucket is granted for no call of its own: with it, HeadObject of a missing file
    # answers 404 (the file of a cancelled campaign) rather than 403
    granted = set(BUCKET_ACTIONS) | set(QUEUE_ACTIONS) | set(STATUS_ACTIONS)
    assert calls == granted
