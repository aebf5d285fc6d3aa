"""The dashboard and alarms that show the whole flow (DESIGN section 7, issue 4).

The handler's metric names are read from ``lambda_src/bulk_sender/metric_names.py`` (the one
list the handler emits): every counter and latency there is drawn, nothing else is.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bulk_sender.names import LogEvent
from stacks.ses_events import CAMPAIGN_DIMENSION, CONFIGURATION_SET_DIMENSION, SES_EVENT_METRICS
from stacks.topic_policies import allow_alarms_to_publish

METRIC_NAMES_FILE = (
    Path(__file__).resolve().parent.parent / "lambda_src" / "bulk_sender" / "metric_names.py"
)
# Powertools Metrics puts this one dimension, valued POWERTOOLS_SERVICE_NAME, on every metric.
SERVICE_DIMENSION = "service"
SES_NAMESPACE = "AWS/SES"
BOUNCE_RATE_METRIC = "Reputation.BounceRate"
COMPLAINT_RATE_METRIC = "Reputation.ComplaintRate"
RENDERING_FAILURE_METRIC = SES_EVENT_METRICS[ses.EmailSendingEvent.RENDERING_FAILURE]
# The SES events drawn one series per campaign.
BY_CAMPAIGN = tuple(
    SES_EVENT_METRICS[event]
    for event in (
        ses.EmailSendingEvent.SEND,
        ses.EmailSendingEvent.BOUNCE,
        ses.EmailSendingEvent.COMPLAINT,
    )
)
DEAD_LETTERED_LOG_MESSAGE = LogEvent.DEAD_LETTERED
# The log lines of a pause (the sender) and a resume (the probe): bulk_sender/pause.py, probe.py.
PAUSE_LOG_MESSAGES = (
    LogEvent.SENDING_PAUSED,
    LogEvent.SENDING_RESUMED,
    LogEvent.PAUSE_MARKER_UNACTIONABLE,
)
CAMPAIGN_COUNTS_LOG_MESSAGE = LogEvent.CAMPAIGN_COUNTS
# The funnel's columns: (label, field of a campaign_counts line's `counts`). The sender logs
# what it received, sent, dead-lettered; the events function each outcome's net change.
FUNNEL = (
    ("enqueued", "received"),
    ("sent", "sent_total"),
    ("delivered", "n:delivered"),
    ("bounced", "n:bounced_permanent"),
    ("soft_bounced", "n:bounced_transient"),
    ("complained", "n:complained"),
    ("delayed_now", "n:delayed"),
    ("dead_lettered", "dead_lettered_total"),
)

LIVE_PERIOD = Duration.minutes(1)
SES_PERIOD = Duration.minutes(5)
ALARM_PERIOD = Duration.minutes(5)
REPUTATION_PERIOD = Duration.minutes(15)


def load_metric_names(path: Path = METRIC_NAMES_FILE) -> ModuleType:
    """The handler's metric names module, loaded by path (it imports nothing)."""
    spec = importlib.util.spec_from_file_location("bulk_sender_metric_names", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the handler's metric names from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


METRIC_NAMES = load_metric_names()


@dataclass(frozen=True)
class AlarmRunbook:
    """What an alarm means and what to do: the alarm's description and its runbook entry."""

    title: str
    meaning: str
    action: str

    @property
    def description(self) -> str:
        return f"{self.meaning} What to do: {self.action}"


# One entry per alarm, keyed by construct id; docs/operations/alarms.md is generated from it.
RUNBOOK = {
    "DlqNotEmpty": AlarmRunbook(
        title="DLQ not empty",
        meaning="Messages are in the dead-letter queue: rejected by SES, invalid, or retried "
        "maxReceiveCount times.",
        action="Run `python -m bulkmail dlq show --stack <stack>` to see the reasons "
        "(ErrorCode; none means retries exhausted); fix the cause (template, identity, data, "
        "SES account), then `python -m bulkmail dlq redrive --stack <stack>`, or purge the DLQ.",
    ),
    "OldestMessageTooOld": AlarmRunbook(
        title="Oldest message too old",
        meaning="The queue's oldest message has waited longer than the threshold: sending is "
        "slower than enqueuing, paused, or stuck.",
        action="Check the function's errors and throttles and ThrottledCalls on the dashboard, "
        "and the SES account (sending paused, daily quota). A large campaign at a low send rate "
        "also ages messages: raise oldest_message_age_alarm_seconds or max_concurrency.",
    ),
    "SendingPaused": AlarmRunbook(
        title="Sending paused",
        meaning="SES refused to send (the account or the configuration set is paused, or the "
        "24-hour quota is spent) and the sender paused itself: its SQS event source mapping is "
        "stopped and the messages wait on the queue (14 days at most); none is dead-lettered "
        "for it. The probe restarts sending within 5 minutes of SES allowing it, and the alarm "
        "clears with the next sends.",
        action="Read the reason on the dashboard's Sending row. Quota: wait (the 24-hour window "
        "rolls) or ask AWS for a higher quota. Paused account: read the SES console's "
        "reputation page and the AWS message, fix the cause and ask for review. Paused "
        "configuration set: re-enable it (`aws sesv2 put-configuration-set-sending-options "
        "--configuration-set-name <set> --sending-enabled`). Nothing to redrive. If the alarm "
        "stays on after SES allows sending, read the probe's log group.",
    ),
    "PauseMarkerUnactionable": AlarmRunbook(
        title="Pause marker unactionable",
        meaning="The pause probe found a pause marker naming a configuration set it cannot "
        "check (deleted, or no longer in allowed_configuration_sets). It resumed sending by the "
        "account and the stack's set alone, so the other sets are not held back; messages "
        "naming the missing set are refused by the sender and dead-lettered with their reason.",
        action="Read `pause_marker_unactionable` in the probe's log group for the set's name. "
        "Recreate the set or add it back to allowed_configuration_sets if it was removed by "
        "mistake; otherwise fix the producers that name it, then redrive the DLQ.",
    ),
    "FunctionErrors": AlarmRunbook(
        title="Function errors",
        meaning="The sender function failed an invocation: SQS retries the whole batch.",
        action="Read the function's log group around the alarm time (the error and its "
        "traceback); fix the configuration or code, then redeploy.",
    ),
    "ScheduledEnqueueFailed": AlarmRunbook(
        title="Scheduled enqueue failed",
        meaning="The function that puts a scheduled campaign's rows on the queue failed an "
        "invocation (Lambda tries it twice more): an instant's rows may not be on the queue.",
        action="Read the enqueue function's log group around the alarm time; `python -m "
        "bulkmail schedule list` shows which instants are enqueued. Fix the cause, then run "
        "the same `enqueue --at` again: its ids make a second offer harmless, and each chunk "
        "is counted once.",
    ),
    "RenderingFailures": AlarmRunbook(
        title="Rendering failures",
        meaning="SES could not render a template for some messages (a variable missing from "
        "their data, or a template error); those emails were not sent.",
        action="See the Events topic or the event archive for the template and error; fix the "
        "template or the producers' data and enqueue the affected messages again.",
    ),
    "BounceRate": AlarmRunbook(
        title="Bounce rate",
        meaning="The account's bounce rate reached the threshold (half of the 5 % at which SES "
        "puts an account under review).",
        action="Pause campaigns; clean the lists (remove addresses that bounce, confirm "
        "opt-ins); check the campaign dimensions to find the list at fault.",
    ),
    "ComplaintRate": AlarmRunbook(
        title="Complaint rate",
        meaning="The account's complaint rate reached the threshold (half of the 0.1 % at which "
        "SES puts an account under review).",
        action="Pause campaigns; send only to recipients who opted in, and make unsubscribing "
        "easy (List-Unsubscribe headers); check which campaign drew complaints.",
    ),
    "LedgerWriteFailures": AlarmRunbook(
        title="Ledger write failures",
        meaning="The idempotency ledger could not record that some emails were sent (or "
        "dead-lettered), even after retrying until the invocation's deadline: those emails "
        "were sent once, but the same id enqueued again after their claims expire would be "
        "sent again.",
        action="Look for ledger_complete_failed in the function's log and at the idempotency "
        "table's throttles and errors (DynamoDB metrics); until it clears, do not re-enqueue "
        "a campaign that is under way.",
    ),
    "UnsubscribeErrors": AlarmRunbook(
        title="Unsubscribe errors",
        meaning="The one-click unsubscribe endpoint answered 5xx (its function failed, timed "
        "out or was throttled): those recipients asked to stop and were not suppressed.",
        action="Read the unsubscribe function's log group and the endpoint's access logs "
        "around the alarm time (the suppression table or the secret unreachable, a timeout); "
        "fix the cause and redeploy. Hold the campaigns of the lists concerned until then: "
        "the failed requests were not recorded.",
    ),
}


def _ses_search(metric_name: str, configuration_set_name: str) -> str:
    """A SEARCH over one SES event metric of this configuration set, one series per campaign."""
    return (
        f'SEARCH(\'{{{SES_NAMESPACE},"{CONFIGURATION_SET_DIMENSION}",{CAMPAIGN_DIMENSION}}} '
        f'MetricName="{metric_name}" '
        f'"{CONFIGURATION_SET_DIMENSION}"="{configuration_set_name}"\', '
        f"'Sum', {int(SES_PERIOD.to_seconds())})"
    )


class Monitoring(Construct):
    """One dashboard, the alarms, and the ``Alarms`` topic they notify."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue: sqs.IQueue,
        dlq: sqs.IQueue,
        function: lambda_.IFunction,
        function_log_group: logs.ILogGroup,
        probe_log_group: logs.ILogGroup,
        status_log_group: logs.ILogGroup,
        enqueue_function: lambda_.IFunction,
        unsubscribe_stage: apigateway.Stage,
        function_timeout: Duration,
        max_concurrency: int,
        configuration_set_name: str,
        topic_key: kms.IKey,
        metrics_namespace: str,
        service_name: str,
        alarm_email: str,
        oldest_message_age_alarm_seconds: int,
        bounce_rate_alarm_threshold: float,
        complaint_rate_alarm_threshold: float,
    ) -> None:
        super().__init__(scope, construct_id)
        self._namespace = metrics_namespace
        self._service = service_name
        self._configuration_set_name = configuration_set_name

        self.alarms_topic = sns.Topic(
            self, "Alarms", display_name="Bulk email alarms", master_key=topic_key, enforce_ssl=True
        )
        allow_alarms_to_publish(self.alarms_topic)
        if alarm_email:
            self.alarms_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        bounce_rate = _reputation(BOUNCE_RATE_METRIC, "Bounce rate")
        complaint_rate = _reputation(COMPLAINT_RATE_METRIC, "Complaint rate")
        rendering_failures = cloudwatch.MathExpression(
            # Metrics Insights sums the failures over every campaign of this configuration set.
            expression=(
                f'SELECT SUM("{RENDERING_FAILURE_METRIC}") '
                f'FROM SCHEMA("{SES_NAMESPACE}", "{CAMPAIGN_DIMENSION}", '
                f'"{CONFIGURATION_SET_DIMENSION}") '
                f"WHERE \"{CONFIGURATION_SET_DIMENSION}\" = '{configuration_set_name}'"
            ),
            using_metrics={},
            period=ALARM_PERIOD,
            label="Rendering failures",
        )
        age_threshold = oldest_message_age_alarm_seconds
        self.alarms = {
            "DlqNotEmpty": self._alarm(
                "DlqNotEmpty",
                dlq.metric_approximate_number_of_messages_visible(
                    statistic=cloudwatch.Stats.MAXIMUM, period=ALARM_PERIOD
                ),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            "OldestMessageTooOld": self._alarm(
                "OldestMessageTooOld",
                queue.metric_approximate_age_of_oldest_message(
                    statistic=cloudwatch.Stats.MAXIMUM, period=ALARM_PERIOD
                ),
                threshold=age_threshold,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
            # Paused invocations count 1, sending ones 0; while the mapping is stopped there
            # are no data points, and "ignore" keeps the alarm in its state until sends resume.
            "SendingPaused": self._alarm(
                "SendingPaused",
                self._handler_metric(
                    METRIC_NAMES.SENDING_PAUSED, cloudwatch.Stats.MAXIMUM, period=ALARM_PERIOD
                ),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                missing=cloudwatch.TreatMissingData.IGNORE,
            ),
            # The probe's: a marker naming a set it cannot check (probe.py).
            "PauseMarkerUnactionable": self._alarm(
                "PauseMarkerUnactionable",
                self._handler_metric(
                    METRIC_NAMES.PAUSE_MARKERS_UNACTIONABLE,
                    cloudwatch.Stats.MAXIMUM,
                    period=ALARM_PERIOD,
                ),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            "FunctionErrors": self._alarm(
                "FunctionErrors",
                function.metric_errors(statistic=cloudwatch.Stats.SUM, period=ALARM_PERIOD),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            # Scheduled campaigns (stacks/scheduling.py): a failed run of the enqueue
            # function may leave an instant's rows off the queue.
            "ScheduledEnqueueFailed": self._alarm(
                "ScheduledEnqueueFailed",
                enqueue_function.metric_errors(statistic=cloudwatch.Stats.SUM, period=ALARM_PERIOD),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            "RenderingFailures": self._alarm(
                "RenderingFailures",
                rendering_failures,
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            "BounceRate": self._alarm(
                "BounceRate",
                bounce_rate,
                threshold=bounce_rate_alarm_threshold,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            "ComplaintRate": self._alarm(
                "ComplaintRate",
                complaint_rate,
                threshold=complaint_rate_alarm_threshold,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            "LedgerWriteFailures": self._alarm(
                "LedgerWriteFailures",
                self._handler_metric(
                    METRIC_NAMES.LEDGER_WRITE_FAILURES, cloudwatch.Stats.SUM, period=ALARM_PERIOD
                ),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
            # The stage's 5xx counts what the function's Errors would, and also its timeouts,
            # throttles and a handler that caught its error and answered 500.
            "UnsubscribeErrors": self._alarm(
                "UnsubscribeErrors",
                unsubscribe_stage.metric_server_error(
                    statistic=cloudwatch.Stats.SUM, period=ALARM_PERIOD
                ),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            ),
        }

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=Duration.hours(3),
            period_override=cloudwatch.PeriodOverride.AUTO,
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    "# Bulk email sender\n"
                    "SQS queue → Lambda → SES SendBulkEmail. Alarms notify the Alarms topic; "
                    "the alarm runbook (docs/operations/alarms.md) says what each one means."
                ),
                width=24,
                height=2,
            )
        )
        self._queue_row(queue, dlq, age_threshold)
        self._function_row(function, function_timeout, max_concurrency)
        self._handler_rows()
        self._pause_row(function_log_group, probe_log_group)
        self._ses_rows(
            bounce_rate, complaint_rate, bounce_rate_alarm_threshold, complaint_rate_alarm_threshold
        )
        self._campaign_rows(function_log_group, status_log_group)
        self.dashboard.add_widgets(
            cloudwatch.LogQueryWidget(
                title="Latest dead-lettered messages",
                log_group_names=[function_log_group.log_group_name],
                query_lines=[
                    "fields @timestamp, id, error_code, reason",
                    f'filter message = "{DEAD_LETTERED_LOG_MESSAGE}"',
                    "sort @timestamp desc",
                    "limit 50",
                ],
                width=24,
                height=6,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=list(self.alarms.values()),
                width=24,
                height=3,
            )
        )

        stack = Stack.of(self)
        self.dashboard_url = (
            f"https://{stack.region}.console.aws.amazon.com/cloudwatch/home?region={stack.region}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=RUNBOOK[construct_id].description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarms_topic))
        return alarm

    def _handler_metric(
        self,
        name: str,
        statistic: str,
        label: str | None = None,
        period: Duration = LIVE_PERIOD,
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self._namespace,
            metric_name=name,
            dimensions_map={SERVICE_DIMENSION: self._service},
            statistic=statistic,
            period=period,
            label=label or name,
        )

    def _queue_row(self, queue: sqs.IQueue, dlq: sqs.IQueue, age_threshold: int) -> None:
        maximum = cloudwatch.Stats.MAXIMUM
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue: waiting and in flight",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        statistic=maximum, period=LIVE_PERIOD, label="Waiting"
                    ),
                    queue.metric_approximate_number_of_messages_not_visible(
                        statistic=maximum, period=LIVE_PERIOD, label="In flight"
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Queue: oldest message age (s)",
                left=[
                    queue.metric_approximate_age_of_oldest_message(
                        statistic=maximum, period=LIVE_PERIOD, label="Oldest message age"
                    )
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=age_threshold, label="Alarm")
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="DLQ: messages",
                left=[
                    dlq.metric_approximate_number_of_messages_visible(
                        statistic=maximum, period=LIVE_PERIOD, label="Dead-lettered"
                    )
                ],
                width=8,
            ),
        )

    def _function_row(
        self, function: lambda_.IFunction, timeout: Duration, max_concurrency: int
    ) -> None:
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function: invocations/errors",
                left=[
                    function.metric_invocations(period=LIVE_PERIOD, label="Invocations"),
                    function.metric_errors(period=LIVE_PERIOD, label="Errors"),
                    function.metric_throttles(period=LIVE_PERIOD, label="Throttles"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function: duration (ms)",
                left=[
                    function.metric_duration(statistic="p50", period=LIVE_PERIOD, label="p50"),
                    function.metric_duration(statistic="p99", period=LIVE_PERIOD, label="p99"),
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=timeout.to_milliseconds(), label="Timeout"
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function: concurrency",
                left=[
                    function.metric(
                        "ConcurrentExecutions",
                        statistic=cloudwatch.Stats.MAXIMUM,
                        period=LIVE_PERIOD,
                        label="Concurrent executions",
                    )
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=max_concurrency, label="Maximum")
                ],
                width=8,
            ),
        )

    def _handler_rows(self) -> None:
        names = METRIC_NAMES
        call_counters = (names.SEND_BULK_EMAIL_CALLS, names.THROTTLED_CALLS)
        email_counters = tuple(name for name in names.COUNTERS if name not in call_counters)
        total = cloudwatch.Stats.SUM
        self.dashboard.add_widgets(
            cloudwatch.SingleValueWidget(
                title="Handler: totals over the time range",
                metrics=[self._handler_metric(name, total) for name in names.COUNTERS],
                set_period_to_time_range=True,
                width=24,
                height=3,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Handler: emails by outcome",
                left=[self._handler_metric(name, total) for name in email_counters],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Handler: SendBulkEmail calls",
                left=[self._handler_metric(name, total) for name in call_counters],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Handler: call latency (ms)",
                left=[
                    self._handler_metric(name, statistic, f"{name} {statistic}")
                    for name in names.LATENCIES
                    for statistic in ("p50", "p99")
                ],
                width=8,
            ),
        )

    def _pause_row(self, sender_logs: logs.ILogGroup, probe_logs: logs.ILogGroup) -> None:
        """Paused or sending: the alarm's state, and the latest pauses and resumes with why."""
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Sending: paused or sending",
                alarms=[self.alarms["SendingPaused"], self.alarms["PauseMarkerUnactionable"]],
                width=8,
                height=6,
            ),
            cloudwatch.LogQueryWidget(
                title="Sending: latest pauses and resumes, and why",
                log_group_names=[sender_logs.log_group_name, probe_logs.log_group_name],
                query_lines=[
                    "fields @timestamp, message, reason, held, paused_seconds, configuration_set",
                    "filter message in ["
                    + ", ".join(f'"{name}"' for name in PAUSE_LOG_MESSAGES)
                    + "]",
                    "sort @timestamp desc",
                    "limit 20",
                ],
                width=16,
                height=6,
            ),
        )

    def _ses_rows(
        self,
        bounce_rate: cloudwatch.Metric,
        complaint_rate: cloudwatch.Metric,
        bounce_threshold: float,
        complaint_threshold: float,
    ) -> None:
        name = self._configuration_set_name
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="SES events (this configuration set)",
                left=[
                    cloudwatch.MathExpression(
                        expression=f"SUM({_ses_search(metric, name)})",
                        using_metrics={},
                        label=metric,
                        period=SES_PERIOD,
                    )
                    for metric in SES_EVENT_METRICS.values()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Bounce and complaint rates (account)",
                left=[bounce_rate],
                right=[complaint_rate],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=bounce_threshold, label="Bounce alarm")
                ],
                right_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=complaint_threshold, label="Complaint alarm"
                    )
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"By campaign: SES {metric}",
                    left=[
                        cloudwatch.SearchExpression(
                            expression=_ses_search(metric, name),
                            # A dynamic label: each series is named by its campaign.
                            label=f"${{PROP('Dim.{CAMPAIGN_DIMENSION}')}}",
                            period=SES_PERIOD,
                        )
                    ],
                    width=8,
                )
                for metric in BY_CAMPAIGN
            )
        )

    def _campaign_rows(self, sender_logs: logs.ILogGroup, status_logs: logs.ILogGroup) -> None:
        """The funnel of each campaign of the time range, summed from the `campaign_counts`
        lines the sender and the events function log per batch (bulk_sender.status_table),
        and the events function's own counters."""
        stages = ", ".join(f"sum(`counts.{field}`) as {label}" for label, field in FUNNEL)
        self.dashboard.add_widgets(
            cloudwatch.LogQueryWidget(
                title="Campaign funnel (campaigns of the time range)",
                log_group_names=[sender_logs.log_group_name, status_logs.log_group_name],
                query_lines=[
                    f'filter message = "{CAMPAIGN_COUNTS_LOG_MESSAGE}"',
                    f"stats {stages} by campaign",
                    "sort sent desc",
                    "limit 50",
                ],
                width=16,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Events function: SES events",
                left=[
                    self._handler_metric(name, cloudwatch.Stats.SUM)
                    for name in METRIC_NAMES.EVENT_COUNTERS
                ],
                width=8,
                height=6,
            ),
        )


def _reputation(metric_name: str, label: str) -> cloudwatch.Metric:
    """An account-level SES reputation metric (a rate between 0 and 1)."""
    return cloudwatch.Metric(
        namespace=SES_NAMESPACE,
        metric_name=metric_name,
        statistic=cloudwatch.Stats.MAXIMUM,
        period=REPUTATION_PERIOD,
        label=label,
    )
