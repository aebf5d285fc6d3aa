"""DESIGN section 11's pause: the sender's permission on its mapping, the probe, its schedule,
its role, the queue's retention, and the alarm and dashboard row that show a pause."""

import pytest

from bulk_sender import metric_names
from bulk_sender.pause import MARKER_KEY
from stacks import pause_probe
from stacks.dashboard_diagram import dashboard_body
from stacks.monitoring import RUNBOOK
from tests.infra.cfn import arn_of, as_list, by_sid, ref, statements, text


@pytest.fixture(scope="module")
def mapping(synth):
    return synth.one("AWS::Lambda::EventSourceMapping", "SenderFunction")[0]


def mapping_arn(mapping):
    return (
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:event-source-mapping:"
        f"${{{mapping}}}"
    )


def test_the_queue_keeps_messages_the_longest_sqs_allows(synth):
    # Given the send queue: a paused campaign waits on it with the mapping stopped
    _, queue = synth.one("AWS::SQS::Queue", "QueuesQueue")
    # Then it keeps messages 14 days (SQS's maximum), as long as the DLQ
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_sender_may_stop_its_own_mapping_and_no_other(synth, mapping):
    # Given the sender's pause policy
    _, policy = synth.one("AWS::IAM::Policy", "SenderPausePolicy")
    sender_role = synth.logical_id("AWS::IAM::Role", "SenderRole")
    # Then it is attached to the sender's role, with one statement: UpdateEventSourceMapping
    # on the sender's own mapping, by its ARN
    assert policy["Properties"]["Roles"] == [ref(sender_role)]
    (statement,) = statements(policy)
    assert as_list(statement["Action"]) == ["lambda:UpdateEventSourceMapping"]
    assert text(statement["Resource"]) == mapping_arn(mapping)
    # And no other policy of the sender's role touches a mapping but by finding it
    _, default = synth.one("AWS::IAM::Policy", "SenderRoleDefaultPolicy")
    lambda_actions = {
        action
        for s in statements(default)
        for action in as_list(s["Action"])
        if action.startswith("lambda:")
    }
    assert lambda_actions == {"lambda:ListEventSourceMappings"}


def test_the_sender_function_does_not_wait_for_its_pause_policy(synth, mapping):
    # Given the sender function and its mapping: naming the mapping in anything the
    # function depends on would be a cycle
    _, function = synth.one("AWS::Lambda::Function", "SenderFunction")
    pause_policy = synth.logical_id("AWS::IAM::Policy", "SenderPausePolicy")
    # Then the function does not depend on the pause policy, and its environment does not
    # name the mapping
    assert pause_policy not in function.get("DependsOn", [])
    assert mapping not in str(function["Properties"].get("Environment"))


def test_the_probe_shares_the_asset_and_knows_the_mapping_and_the_table(synth, mapping):
    # Given the probe and the sender functions
    _, probe = synth.one("AWS::Lambda::Function", "PauseProbeFunction")
    _, sender = synth.one("AWS::Lambda::Function", "SenderFunction")
    table = synth.one("AWS::DynamoDB::Table", "Idempotency")[0]
    properties = probe["Properties"]
    # Then the probe runs its thin handler from the sender's asset
    assert properties["Handler"] == "probe_handler.lambda_handler"
    assert properties["Code"] == sender["Properties"]["Code"]
    assert properties["Runtime"] == sender["Properties"]["Runtime"]
    # And its environment names the mapping (by UUID), the marker's table and the set
    environment = properties["Environment"]["Variables"]
    assert environment["MAPPING_UUID"] == ref(mapping)
    assert environment["PAUSE_TABLE"] == ref(table)
    assert environment["CONFIGURATION_SET_NAME"] == ref(synth.one("AWS::SES::ConfigurationSet")[0])


def test_the_probe_role_reads_ses_restarts_the_mapping_and_clears_the_marker_only(synth, mapping):
    # Given the probe's role policy
    _, policy = synth.one("AWS::IAM::Policy", "PauseProbeRoleDefaultPolicy")
    log_group = synth.logical_id("AWS::Logs::LogGroup", "PauseProbeLogGroup")
    table = synth.one("AWS::DynamoDB::Table", "Idempotency")[0]
    # Then it has exactly these statements
    assert sorted(s["Sid"] for s in statements(policy)) == [
        "ReadAccountSendingStatus",
        "ReadAndClearThePauseMarker",
        "ReadConfigurationSetSendingStatus",
        "RestartTheSenderMapping",
        "WriteOwnLogs",
    ]
    # its own logs
    assert by_sid(policy, "WriteOwnLogs")["Resource"] == arn_of(log_group)
    # SES's account status (no resource-level permission) and the sets' sending status
    assert by_sid(policy, "ReadAccountSendingStatus")["Action"] == "ses:GetAccount"
    assert by_sid(policy, "ReadAccountSendingStatus")["Resource"] == "*"
    # (the sets a message may name, as in the sender's SendBulkEmail statement)
    sets = by_sid(policy, "ReadConfigurationSetSendingStatus")
    assert sets["Action"] == "ses:GetConfigurationSet"
    _, sender = synth.one("AWS::IAM::Policy", "SenderRoleDefaultPolicy")
    send = by_sid(sender, "SendBulkEmailFromTheSendingIdentities")
    allowed = [text(r) for r in as_list(send["Resource"]) if ":configuration-set/" in text(r)]
    assert [text(r) for r in as_list(sets["Resource"])] == allowed
    # the sender's mapping, by its ARN
    restart = by_sid(policy, "RestartTheSenderMapping")
    assert sorted(as_list(restart["Action"])) == [
        "lambda:GetEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
    ]
    assert text(restart["Resource"]) == mapping_arn(mapping)
    # and the marker's one item of the table (DynamoDB's leading-keys condition)
    marker = by_sid(policy, "ReadAndClearThePauseMarker")
    assert sorted(as_list(marker["Action"])) == ["dynamodb:DeleteItem", "dynamodb:GetItem"]
    assert marker["Resource"] == arn_of(table)
    assert marker["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [MARKER_KEY]}
    }
    assert pause_probe.MARKER_KEY == MARKER_KEY


def test_the_probe_runs_every_five_minutes_with_a_role_that_invokes_it_only(synth):
    # Given the schedule
    _, schedule = synth.one("AWS::Scheduler::Schedule")
    probe = synth.logical_id("AWS::Lambda::Function", "PauseProbeFunction")
    properties = schedule["Properties"]
    # Then it runs the probe every 5 minutes (resuming well within DESIGN's 15), no retries
    assert properties["ScheduleExpression"] == "rate(5 minutes)"
    assert properties["Target"]["Arn"] == arn_of(probe)
    assert properties["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    # And its role is assumed by EventBridge Scheduler of this account and may only invoke
    # the probe
    role_id = properties["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = synth.template["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}
    policies = [
        p
        for p in synth.resources("AWS::IAM::Policy").values()
        if ref(role_id) in p["Properties"]["Roles"]
    ]
    (policy,) = policies
    (statement,) = statements(policy)
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == arn_of(probe)


def test_the_sending_paused_alarm_holds_while_the_mapping_is_stopped(synth, context):
    # Given the "Sending paused" alarm
    _, alarm = synth.one("AWS::CloudWatch::Alarm", "MonitoringSendingPaused")
    properties = alarm["Properties"]
    # Then it watches the handler's SendingPaused (1 per invocation that paused)
    (query,) = properties["Metrics"]
    metric = query["MetricStat"]["Metric"]
    assert metric["Namespace"] == context["metrics_namespace"]
    assert metric["MetricName"] == metric_names.SENDING_PAUSED
    assert query["MetricStat"]["Stat"] == "Maximum"
    assert metric["Dimensions"] == [{"Name": "service", "Value": context["service_name"]}]
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # And keeps its state without data (no invocations while paused): OK again only when
    # invocations send (SendingPaused 0)
    assert properties["TreatMissingData"] == "ignore"
    # And it notifies the Alarms topic with its runbook entry
    alarms_topic = synth.logical_id("AWS::SNS::Topic", "MonitoringAlarms")
    assert properties["AlarmActions"] == [ref(alarms_topic)]
    assert properties["AlarmDescription"] == RUNBOOK["SendingPaused"].description
    assert RUNBOOK["SendingPaused"].title == "Sending paused"


def test_the_dashboard_says_paused_or_sending_and_why(synth):
    # Given the dashboard's Sending row
    widgets = dashboard_body(synth.template)["widgets"]
    alarm = synth.logical_id("AWS::CloudWatch::Alarm", "MonitoringSendingPaused")
    stuck = synth.logical_id("AWS::CloudWatch::Alarm", "MonitoringPauseMarkerUnactionable")
    (status,) = [
        w for w in widgets if w["properties"].get("title", "").startswith("Sending: paused")
    ]
    (why,) = [w for w in widgets if w["properties"].get("title", "").startswith("Sending: latest")]
    # Then one widget shows the alarms' state (paused in alarm, sending OK; and a marker
    # the probe cannot act on)
    assert [text(a) for a in status["properties"]["alarms"]] == [
        f"${{{alarm}.Arn}}",
        f"${{{stuck}.Arn}}",
    ]
    # And one lists the pauses and resumes with their reasons, from the sender's and the
    # probe's log groups
    query = why["properties"]["query"]
    for log_group in ("SenderLogGroup", "PauseProbeLogGroup"):
        assert f"${{{synth.logical_id('AWS::Logs::LogGroup', log_group)}}}" in query
    assert (
        'filter message in ["sending_paused", "sending_resumed", "pause_marker_unactionable"]'
        in query
    )
    assert "reason" in query


def test_a_marker_the_probe_cannot_act_on_raises_an_alarm(synth, context):
    # Given the probe's environment and the "Pause marker unactionable" alarm
    (probe,) = [
        f
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "probe_handler.lambda_handler"
    ]
    _, alarm = synth.one("AWS::CloudWatch::Alarm", "MonitoringPauseMarkerUnactionable")
    # Then the probe knows the sets a marker may name, and the metric it publishes for a
    # marker naming another set raises an alarm to the Alarms topic
    assert "ALLOWED_CONFIGURATION_SETS" in probe["Properties"]["Environment"]["Variables"]
    (query,) = alarm["Properties"]["Metrics"]
    metric = query["MetricStat"]["Metric"]
    assert metric["MetricName"] == metric_names.PAUSE_MARKERS_UNACTIONABLE
    assert metric["Dimensions"] == [{"Name": "service", "Value": context["service_name"]}]
    assert alarm["Properties"]["Threshold"] == 1
    alarms_topic = synth.logical_id("AWS::SNS::Topic", "MonitoringAlarms")
    assert alarm["Properties"]["AlarmActions"] == [ref(alarms_topic)]
