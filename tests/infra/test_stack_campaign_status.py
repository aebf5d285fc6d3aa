"""The events loop: SES events -> rule -> encrypted, TLS-only queue with a DLQ -> the events
function (partial batch failures) -> the campaign status table (issue 17)."""

import json

import pytest
from aws_cdk.assertions import Match

from bulk_sender import campaign_status as campaign_status_rules
from bulk_sender.status_table import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, WRITE_ACTIONS
from stacks import campaign_status
from stacks.ses_event_redaction import SES_EVENT_KEYS
from tests.infra.cfn import arn_of, as_list, ref
from tests.unit import ses_event_examples as examples


def _table(synth):
    return synth.one("AWS::DynamoDB::Table", "Status")


def _policy_statements(synth):
    _, policy = synth.one("AWS::IAM::Policy", "Status")
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_the_status_table_is_keyed_by_campaign_and_message_and_expires(synth, context):
    # Given the status table
    _, table = _table(synth)
    properties = table["Properties"]
    # Then it is keyed (campaign, item), on demand, encrypted, recoverable, and expires items
    assert properties["KeySchema"] == [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]
    assert (campaign_status.PARTITION_KEY, campaign_status.SORT_KEY) == (PARTITION_KEY, SORT_KEY)
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["TimeToLiveSpecification"] == {
        "AttributeName": TTL_ATTRIBUTE,
        "Enabled": True,
    }
    # And the output the CLI reads names it
    assert synth.template["Outputs"]["StatusTableName"]["Value"] == ref(_table(synth)[0])


def test_the_events_queue_and_its_dlq_are_encrypted_and_refuse_requests_without_tls(synth):
    queue = synth.logical_id("AWS::SQS::Queue", "StatusEventsQueue")
    dlq = synth.logical_id("AWS::SQS::Queue", "StatusEventsDlq")
    resources = synth.template["Resources"]
    for queue_id in (queue, dlq):
        assert resources[queue_id]["Properties"]["SqsManagedSseEnabled"] is True
        synth.assertions.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [ref(queue_id)],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )
    # And an event retried maxReceiveCount times rests in the DLQ
    redrive = resources[queue]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == arn_of(dlq)
    assert redrive["maxReceiveCount"] == campaign_status.MAX_RECEIVE_COUNT


def test_a_rule_per_event_type_sends_tagged_events_to_the_queue_without_their_headers(synth):
    # Given the status rules, one per SES event type
    rules = synth.resources("AWS::Events::Rule")
    status_rules = {k: v for k, v in rules.items() if k.startswith("StatusRule")}
    configuration_set = synth.one("AWS::SES::ConfigurationSet")[0]
    types = []
    for rule in status_rules.values():
        # Then each matches this configuration set's tagged events of one type
        pattern = rule["Properties"]["EventPattern"]
        assert pattern["source"] == ["aws.ses"]
        assert pattern["detail"]["mail"]["tags"] == {
            "ses:configuration-set": [ref(configuration_set)],
            "bulkmail-id": [{"exists": True}],
        }
        (event_type,) = pattern["detail"]["eventType"]
        types.append(event_type)
        # And sends it to the events queue (failures to its DLQ)
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == arn_of(synth.logical_id("AWS::SQS::Queue", "StatusEventsQueue"))
        assert target["DeadLetterConfig"]["Arn"] == arn_of(
            synth.logical_id("AWS::SQS::Queue", "StatusEventsDlq")
        )
        # ... reshaped: the tags, ids and the type's own object, never the headers (which hold
        # the List-Unsubscribe link) nor the whole event
        transformer = target["InputTransformer"]
        paths = set(transformer["InputPathsMap"].values())
        key = SES_EVENT_KEYS[event_type]
        assert paths == {
            "$.detail-type",
            "$.source",
            "$.time",
            "$.detail.mail.timestamp",
            "$.detail.mail.messageId",
            "$.detail.mail.destination",
            "$.detail.mail.tags",
            f"$.detail.{key}",
        }
        assert "aws.events.event" not in transformer["InputTemplate"]
    assert sorted(types) == sorted(SES_EVENT_KEYS)


@pytest.mark.parametrize(
    "example",
    [
        examples.SEND,
        examples.DELIVERY,
        examples.BOUNCE,
        examples.COMPLAINT,
        examples.REJECT,
        examples.RENDERING_FAILURE,
        examples.OPEN,
        examples.CLICK,
        examples.DELIVERY_DELAY,
        examples.SUBSCRIPTION,
    ],
    ids=lambda example: example["eventType"],
)
def test_the_events_function_reads_the_reshaped_events_as_the_whole_ones(synth, example):
    # Given an event as SES publishes it, with a List-Unsubscribe header, reshaped by its rule
    event = json.loads(examples.eventbridge(examples.tagged(example, "spring.abc")))
    link = "<https://u.example/unsubscribe?t=1.all." + "a" * 32 + "." + "b" * 32 + ">"
    event["detail"]["mail"]["headers"].append({"name": "List-Unsubscribe", "value": link})
    (rule,) = [
        r
        for k, r in synth.resources("AWS::Events::Rule").items()
        if k.startswith("StatusRule")
        and r["Properties"]["EventPattern"]["detail"]["eventType"] == [example["eventType"]]
    ]
    (target,) = rule["Properties"]["Targets"]
    body = transform(target["InputTransformer"], event)
    # Then the body holds no header, and the events function reads the same change from it
    assert "List-Unsubscribe" not in body
    assert "a" * 32 not in body
    whole = campaign_status_rules.change_for(campaign_status_rules.ses_event(json.dumps(event)))
    reshaped = campaign_status_rules.change_for(campaign_status_rules.ses_event(body))
    assert reshaped == whole


def transform(transformer, event):
    """EventBridge's input transformer for paths that exist, as the rules use it."""
    body = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value = event
        for part in path.removeprefix("$.").split("."):
            value = value[part]
        body = body.replace(f"<{name}>", json.dumps(value))
    return body


def test_the_events_function_reads_the_queue_in_batches_with_partial_failures(synth, context):
    function_id, function = synth.one("AWS::Lambda::Function", "Status")
    _, sender = synth.one("AWS::Lambda::Function", "Sender")
    properties = function["Properties"]
    # Then it runs the events handler from the sender's own asset
    assert properties["Handler"] == "events.lambda_handler"
    assert properties["Code"] == sender["Properties"]["Code"]
    assert properties["Runtime"] == sender["Properties"]["Runtime"]
    assert properties["Environment"]["Variables"] == {
        "STATUS_TABLE": ref(_table(synth)[0]),
        "STATUS_TTL_SECONDS": str(context["status_ttl_days"] * 86400),
        "POWERTOOLS_SERVICE_NAME": context["service_name"],
        "POWERTOOLS_METRICS_NAMESPACE": context["metrics_namespace"],
        "POWERTOOLS_LOG_LEVEL": context["log_level"],
    }
    _, mapping = synth.one("AWS::Lambda::EventSourceMapping", "Status")
    assert mapping["Properties"]["FunctionName"] == ref(function_id)
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["BatchSize"] == campaign_status.BATCH_SIZE
    assert mapping["Properties"]["EventSourceArn"] == arn_of(
        synth.logical_id("AWS::SQS::Queue", "StatusEventsQueue")
    )


def test_the_events_function_may_only_consume_its_queue_update_the_table_and_log(synth):
    statements = _policy_statements(synth)
    by_action = {action: s for s in statements for action in as_list(s["Action"])}
    # Then UpdateItem (what bulk_sender.status_table calls) on the status table, nothing else
    dynamodb = [a for a in by_action if a.startswith("dynamodb:")]
    assert dynamodb == list(WRITE_ACTIONS) == list(campaign_status.TABLE_WRITE_ACTIONS)
    assert by_action["dynamodb:UpdateItem"]["Resource"] == arn_of(_table(synth)[0])
    # And the SQS consumption actions on the events queue only
    queue = arn_of(synth.logical_id("AWS::SQS::Queue", "StatusEventsQueue"))
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in as_list(s["Action"]))]
    assert all(s["Resource"] == queue for s in sqs)
    assert not any(a.startswith("sqs:Send") for s in sqs for a in as_list(s["Action"]))
    # And its own log group
    logs = by_action["logs:PutLogEvents"]
    assert logs["Resource"] == arn_of(synth.logical_id("AWS::Logs::LogGroup", "StatusLogGroup"))
    assert all("*" not in a for s in statements for a in as_list(s["Action"]))
