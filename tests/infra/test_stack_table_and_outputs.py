"""The idempotency table, and the stack outputs the CLI reads."""

from stacks.idempotency import PARTITION_KEY, TTL_ATTRIBUTE
from tests.infra.cfn import text

OUTPUTS = {
    "QueueUrl",
    "QueueArn",
    "DlqUrl",
    "DlqArn",
    "ConfigurationSetName",
    "EventsTopicArn",
    "AlarmsTopicArn",
    "DashboardUrl",
    "IdempotencyTableName",
    "StatusTableName",
    "UnsubscribeUrl",
    "SuppressionTableName",
    "UnsubscribeSecretArn",
    "AttachmentBucketName",
    # Scheduled campaigns (DESIGN section 12): the bucket and group, and what schedules name.
    "CampaignBucketName",
    "ScheduleGroupName",
    "EnqueueFunctionArn",
    "SchedulerRoleArn",
    # The DKIM records of each domain the stack creates (cdk.json's placeholder example.com).
    "DkimRecordsExampleCom",
}


def test_the_idempotency_table_is_on_demand_encrypted_recoverable_and_expiring(synth):
    # Given the synthesized stack
    # Then its idempotency table is keyed by the message id, billed per request, encrypted,
    # recoverable to a point in time, and expires items by expires_at
    _, table = synth.one("AWS::DynamoDB::Table", "Idempotency")
    expected = {
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"SSEEnabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
    }
    assert {key: table["Properties"].get(key) for key in expected} == expected
    assert (PARTITION_KEY, TTL_ATTRIBUTE) == ("id", "expires_at")


def test_the_outputs_are_exactly_the_ones_the_cli_reads(synth):
    # Given the synthesized stack
    # When its outputs are listed
    outputs = synth.template["Outputs"]
    # Then they are exactly DESIGN section 9's, and none is exported (no physical names)
    assert set(outputs) == OUTPUTS
    assert not any("Export" in output for output in outputs.values())


def test_each_output_points_at_its_resource(synth):
    # Given the outputs and the resources they name
    outputs = {name: output["Value"] for name, output in synth.template["Outputs"].items()}
    queue = synth.logical_id("AWS::SQS::Queue", "QueuesQueue")
    dlq = synth.logical_id("AWS::SQS::Queue", "QueuesDlq")
    configuration_set = synth.one("AWS::SES::ConfigurationSet")[0]
    events = synth.logical_id("AWS::SNS::Topic", "SesEvents")
    alarms = synth.logical_id("AWS::SNS::Topic", "MonitoringAlarms")
    dashboard = synth.one("AWS::CloudWatch::Dashboard")[0]
    # Then each value is the right reference
    assert outputs["QueueUrl"] == {"Ref": queue}
    ledger = synth.logical_id("AWS::DynamoDB::Table", "Idempotency")
    assert outputs["IdempotencyTableName"] == {"Ref": ledger}
    assert outputs["QueueArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert outputs["DlqUrl"] == {"Ref": dlq}
    assert outputs["DlqArn"] == {"Fn::GetAtt": [dlq, "Arn"]}
    assert outputs["ConfigurationSetName"] == {"Ref": configuration_set}
    assert outputs["EventsTopicArn"] == {"Ref": events}
    assert outputs["AlarmsTopicArn"] == {"Ref": alarms}
    assert text(outputs["DashboardUrl"]) == (
        "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}"
        f"#dashboards:name=${{{dashboard}}}"
    )
