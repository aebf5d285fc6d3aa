"""The dashboard, the alarms and the Alarms topic (issue 4)."""

import re

import pytest

from bulk_sender import metric_names
from stacks.dashboard_diagram import dashboard_body, render
from stacks.monitoring import RUNBOOK
from stacks.ses_events import SES_EVENT_METRICS
from tests.infra.cfn import ref, text
from tests.infra.conftest import DASHBOARD_PAGE

PICTURE = re.compile(
    r"<!-- dashboard-picture:start -->\n```text\n(.*?)```\n<!-- dashboard-picture:end -->",
    re.DOTALL,
)


@pytest.fixture(scope="module")
def widgets(synth):
    return dashboard_body(synth.template)["widgets"]


def _metrics(widgets):
    """Every metric line of every graph: [namespace, name, dim, value, ..., {options}]."""
    return [line for w in widgets if w["type"] == "metric" for line in w["properties"]["metrics"]]


def _options(line):
    return line[-1] if isinstance(line[-1], dict) else {}


def _expressions(widgets):
    return [
        _options(line)["expression"] for line in _metrics(widgets) if "expression" in _options(line)
    ]


def _alarm(synth, name):
    return synth.template["Resources"][
        synth.logical_id("AWS::CloudWatch::Alarm", f"Monitoring{name}")
    ]


def _alarm_metric(alarm):
    """(namespace, metric name, statistic, dimensions) whichever form the alarm is in."""
    properties = alarm["Properties"]
    if "MetricName" in properties:
        dimensions = {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])}
        return (
            properties["Namespace"],
            properties["MetricName"],
            properties["Statistic"],
            dimensions,
        )
    (query,) = properties["Metrics"]
    stat = query["MetricStat"]
    dimensions = {d["Name"]: d["Value"] for d in stat["Metric"].get("Dimensions", [])}
    return stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"], dimensions


def test_every_handler_metric_is_on_the_dashboard_and_no_other(widgets, context):
    # Given the dashboard and the handler's one list of metric names
    namespace = context["metrics_namespace"]
    # When the dashboard's metrics in the handler's namespace are collected
    custom = [line for line in _metrics(widgets) if line[0] == namespace]
    # Then they are exactly the handler's and the events function's, each with its service
    assert {line[1] for line in custom} == set(
        metric_names.ALL + metric_names.EVENT_COUNTERS + metric_names.SCHEDULE_COUNTERS
    )
    for line in custom:
        assert line[2:4] == ["service", context["service_name"]]


def test_counters_are_summed_and_latency_drawn_as_percentiles(widgets, context):
    # Given the handler's metrics on the dashboard
    custom = [line for line in _metrics(widgets) if line[0] == context["metrics_namespace"]]
    # Then every counter is summed (each invocation adds its totals) and latency is p50/p99
    for line in custom:
        statistic = _options(line)["stat"]
        if line[1] in (
            metric_names.COUNTERS + metric_names.EVENT_COUNTERS + metric_names.SCHEDULE_COUNTERS
        ):
            assert statistic == "Sum"
        else:
            assert line[1] in metric_names.LATENCIES
            assert statistic in ("p50", "p99")
    assert {_options(line)["stat"] for line in custom if line[1] in metric_names.LATENCIES} == {
        "p50",
        "p99",
    }


def test_the_dashboard_shows_the_queue_the_dlq_and_the_function(synth, widgets):
    # Given the dashboard's AWS metrics
    lines = _metrics(widgets)
    queue = synth.logical_id("AWS::SQS::Queue", "QueuesQueue")
    dlq = synth.logical_id("AWS::SQS::Queue", "QueuesDlq")
    function = synth.one("AWS::Lambda::Function", "Sender")[0]
    sqs = {(line[1], line[3]) for line in lines if line[0] == "AWS/SQS"}
    lam = {(line[1], _options(line).get("stat")) for line in lines if line[0] == "AWS/Lambda"}
    # Then the queue's depth and age, and the DLQ's depth are drawn
    assert ("ApproximateNumberOfMessagesVisible", f"${{{queue}.QueueName}}") in sqs
    assert ("ApproximateNumberOfMessagesNotVisible", f"${{{queue}.QueueName}}") in sqs
    assert ("ApproximateAgeOfOldestMessage", f"${{{queue}.QueueName}}") in sqs
    assert ("ApproximateNumberOfMessagesVisible", f"${{{dlq}.QueueName}}") in sqs
    # And the function's invocations, errors, throttles, duration p50/p99 and concurrency
    assert {name for name, _ in lam} == {
        "Invocations",
        "Errors",
        "Throttles",
        "Duration",
        "ConcurrentExecutions",
    }
    assert {stat for name, stat in lam if name == "Duration"} == {"p50", "p99"}
    assert all(line[3] == f"${{{function}}}" for line in lines if line[0] == "AWS/Lambda")


def test_the_dashboard_shows_every_ses_event_of_the_configuration_set(synth, widgets):
    # Given the dashboard's expressions
    expressions = _expressions(widgets)
    configuration_set = synth.one("AWS::SES::ConfigurationSet")[0]
    # Then each SES event type is summed over the configuration set's campaigns
    for metric in SES_EVENT_METRICS.values():
        assert any(
            e.startswith("SUM(SEARCH(")
            and f'MetricName="{metric}"' in e
            and f"${{{configuration_set}}}" in e
            for e in expressions
        ), metric
    # And sends, bounces and complaints are also drawn one line per campaign
    per_campaign = [e for e in expressions if e.startswith("SEARCH(")]
    assert {re.search(r'MetricName="(\w+)"', e).group(1) for e in per_campaign} == {
        "Send",
        "Bounce",
        "Complaint",
    }
    assert all("campaign" in e for e in per_campaign)
    assert {
        "Send",
        "Delivery",
        "Bounce",
        "Complaint",
        "Reject",
        "RenderingFailure",
        "Open",
        "Click",
        "DeliveryDelay",
        "Subscription",
    } == set(SES_EVENT_METRICS.values())


def test_the_dashboard_shows_bounce_and_complaint_rates_with_the_alarm_levels(widgets, context):
    # Given the rates graph
    (graph,) = [w for w in widgets if w["properties"].get("title", "").startswith("Bounce and")]
    properties = graph["properties"]
    # Then it draws SES's reputation rates and the alarms' thresholds
    names = {line[1] for line in properties["metrics"]}
    assert names == {"Reputation.BounceRate", "Reputation.ComplaintRate"}
    levels = {a["value"] for a in properties["annotations"]["horizontal"]}
    assert levels == {
        context["bounce_rate_alarm_threshold"],
        context["complaint_rate_alarm_threshold"],
    }


def test_a_log_query_lists_the_latest_dead_lettered_messages(synth, widgets):
    # Given the dashboard's log widget
    (log_widget,) = [
        w for w in widgets if w["type"] == "log" and "dead-lettered" in w["properties"]["title"]
    ]
    query = log_widget["properties"]["query"]
    log_group = synth.logical_id("AWS::Logs::LogGroup", "SenderLogGroup")
    # Then it reads the function's log group for the handler's "dead_lettered" lines
    assert query.startswith(f"SOURCE '${{{log_group}}}'")
    assert 'filter message = "dead_lettered"' in query
    assert "fields @timestamp, id, error_code, reason" in query
    assert "sort @timestamp desc" in query


def test_the_alarm_status_widget_lists_every_alarm(synth, widgets):
    # Given the alarm status widget
    (status,) = [
        w for w in widgets if w["type"] == "alarm" and w["properties"]["title"] == "Alarms"
    ]
    # Then it shows all eleven alarms
    assert (
        len(status["properties"]["alarms"]) == len(synth.resources("AWS::CloudWatch::Alarm")) == 11
    )


@pytest.mark.parametrize(
    ("name", "namespace", "metric", "statistic", "threshold_key", "comparison"),
    [
        ("DlqNotEmpty", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", None, ">="),
        (
            "OldestMessageTooOld",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            "Maximum",
            "oldest_message_age_alarm_seconds",
            ">",
        ),
        ("FunctionErrors", "AWS/Lambda", "Errors", "Sum", None, ">="),
        ("ScheduledEnqueueFailed", "AWS/Lambda", "Errors", "Sum", None, ">="),
        ("LedgerWriteFailures", "BulkEmail", "LedgerWriteFailures", "Sum", None, ">="),
        ("UnsubscribeErrors", "AWS/ApiGateway", "5XXError", "Sum", None, ">="),
        (
            "BounceRate",
            "AWS/SES",
            "Reputation.BounceRate",
            "Maximum",
            "bounce_rate_alarm_threshold",
            ">=",
        ),
        (
            "ComplaintRate",
            "AWS/SES",
            "Reputation.ComplaintRate",
            "Maximum",
            "complaint_rate_alarm_threshold",
            ">=",
        ),
    ],
)
def test_each_metric_alarm_watches_its_metric_and_notifies_the_alarms_topic(
    synth, context, name, namespace, metric, statistic, threshold_key, comparison
):
    # Given the alarm
    alarm = _alarm(synth, name)
    properties = alarm["Properties"]
    # Then it watches its metric with its statistic
    found_namespace, found_metric, found_statistic, dimensions = _alarm_metric(alarm)
    assert (found_namespace, found_metric, found_statistic) == (namespace, metric, statistic)
    # And fires at its threshold (1 where no context key sets one)
    expected = context[threshold_key] if threshold_key else 1
    assert properties["Threshold"] == expected
    operators = {
        ">=": "GreaterThanOrEqualToThreshold",
        ">": "GreaterThanThreshold",
    }
    assert properties["ComparisonOperator"] == operators[comparison]
    # And notifies the Alarms topic, saying what it means and what to do
    alarms_topic = synth.logical_id("AWS::SNS::Topic", "MonitoringAlarms")
    assert properties["AlarmActions"] == [ref(alarms_topic)]
    assert properties["AlarmDescription"] == RUNBOOK[name].description
    assert properties["TreatMissingData"] == "notBreaching"
    # And the queue and function alarms watch this stack's resources
    if namespace == "AWS/SQS":
        fragment = "QueuesDlq" if name == "DlqNotEmpty" else "QueuesQueue"
        queue = synth.logical_id("AWS::SQS::Queue", fragment)
        assert dimensions == {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}}
    if namespace == "AWS/Lambda":  # the sender's, or the scheduled campaigns' enqueue function
        owner = "Scheduling" if name == "ScheduledEnqueueFailed" else "Sender"
        assert dimensions == {"FunctionName": ref(synth.one("AWS::Lambda::Function", owner)[0])}
    if namespace == "AWS/ApiGateway":  # the unsubscribe endpoint's stage, the only REST API
        api = synth.one("AWS::ApiGateway::RestApi", "Unsubscribe")[1]["Properties"]
        stage = synth.one("AWS::ApiGateway::Stage", "Unsubscribe")[0]
        assert dimensions == {"ApiName": api["Name"], "Stage": ref(stage)}


def test_the_reputation_alarms_fire_at_half_of_ses_review_levels(context):
    # Given SES's review levels: 5 % bounces, 0.1 % complaints
    # Then the default thresholds are half of them (DESIGN section 7)
    assert context["bounce_rate_alarm_threshold"] == 0.05 / 2
    assert context["complaint_rate_alarm_threshold"] == 0.001 / 2


def test_the_rendering_failure_alarm_sums_every_campaign_of_the_configuration_set(synth):
    # Given the rendering failure alarm
    properties = _alarm(synth, "RenderingFailures")["Properties"]
    configuration_set = synth.one("AWS::SES::ConfigurationSet")[0]
    # Then it is a Metrics Insights query over the configuration set's campaigns
    (query,) = properties["Metrics"]
    assert text(query["Expression"]) == (
        'SELECT SUM("RenderingFailure") FROM SCHEMA("AWS/SES", "campaign", '
        f'"ses:configuration-set") WHERE "ses:configuration-set" = \'${{{configuration_set}}}\''
    )
    assert query["Period"] == 300
    # And any failure fires it, notifying the Alarms topic
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["AlarmActions"] == [
        ref(synth.logical_id("AWS::SNS::Topic", "MonitoringAlarms"))
    ]


def test_no_email_subscription_without_an_alarm_email(synth):
    # Given the default context (alarm_email empty)
    # Then nobody is subscribed
    assert not synth.resources("AWS::SNS::Subscription")


def test_the_alarm_email_is_subscribed_to_the_alarms_topic(variant):
    # Given an app whose context sets alarm_email
    alarms_topic = variant.logical_id("AWS::SNS::Topic", "MonitoringAlarms")
    # Then that address subscribes to the Alarms topic
    variant.assertions.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": ref(alarms_topic)},
    )


def test_the_docs_picture_is_the_synthesized_dashboard(synth):
    # Given the dashboard page's picture
    found = PICTURE.search(DASHBOARD_PAGE.read_text(encoding="utf-8"))
    assert found, "docs/operations/dashboard.md holds the dashboard picture between its markers"
    # When the picture is drawn again from the synthesized dashboard body
    drawn = render(dashboard_body(synth.template))
    # Then they are the same (regenerate: python -m stacks.dashboard_diagram)
    assert found.group(1) == drawn


def test_the_campaign_funnel_sums_both_functions_counts_per_campaign(synth, widgets):
    # Given the funnel's log widget
    (funnel,) = [w for w in widgets if w["properties"].get("title", "").startswith("Campaign")]
    query = funnel["properties"]["query"]
    sender = synth.logical_id("AWS::Logs::LogGroup", "SenderLogGroup")
    events = synth.logical_id("AWS::Logs::LogGroup", "StatusLogGroup")
    # Then it reads the sender's and the events function's campaign_counts lines, and sums
    # each stage of the funnel, enqueued to delivered with bounces and complaints, by campaign
    assert query.startswith(f"SOURCE '${{{sender}}}' | SOURCE '${{{events}}}'")
    assert 'filter message = "campaign_counts"' in query
    for stage in ("enqueued", "sent", "delivered", "bounced", "complained"):
        assert f" as {stage}" in query
    assert "by campaign" in query
