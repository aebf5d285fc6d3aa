"""The SES configuration set and where its sending events go.

- CloudWatch: every event type, as metrics in ``AWS/SES`` with two dimensions, the
  configuration set (SES's auto-tag) and the ``campaign`` message tag (``none`` when a message
  has no such tag). The dashboard and the rendering-failure alarm read these.
- EventBridge (the default bus, every event type), with a rule that archives this
  configuration set's events to a CloudWatch Logs group that masks email addresses.
- SNS: the ``Events`` topic gets bounces, complaints, rejects and rendering failures.
"""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

# The CloudWatch destination's dimensions. Producers tag messages with ``campaign``.
CONFIGURATION_SET_DIMENSION = "ses:configuration-set"
CAMPAIGN_DIMENSION = "campaign"
CAMPAIGN_DEFAULT = "none"

# The metric each SES event type is published as in AWS/SES, in the order of the mail's life.
SES_EVENT_METRICS = {
    ses.EmailSendingEvent.SEND: "Send",
    ses.EmailSendingEvent.DELIVERY: "Delivery",
    ses.EmailSendingEvent.BOUNCE: "Bounce",
    ses.EmailSendingEvent.COMPLAINT: "Complaint",
    ses.EmailSendingEvent.REJECT: "Reject",
    ses.EmailSendingEvent.RENDERING_FAILURE: "RenderingFailure",
    ses.EmailSendingEvent.OPEN: "Open",
    ses.EmailSendingEvent.CLICK: "Click",
    ses.EmailSendingEvent.DELIVERY_DELAY: "DeliveryDelay",
    ses.EmailSendingEvent.SUBSCRIPTION: "Subscription",
}
# What the Events topic carries: what someone may have to act on.
TOPIC_EVENTS = (
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.RENDERING_FAILURE,
)
EVENT_SOURCE = "aws.ses"
# What makes an unsubscribe token a capability: its recipient hash and MAC
# (bulk_sender.recipient_hash), wherever it appears (a header, a tracked link).
TOKEN_IDENTIFIER = "UnsubscribeToken"
TOKEN_REGEX = r"[0-9a-f]{32}\.[0-9a-f]{32}"


@jsii.implements(events.IRuleTarget)
class _LogGroupTarget:
    """An EventBridge target writing to a log group through the group's resource policy.

    CDK's ``CloudWatchLogGroup`` target sets that policy with a custom resource (a Lambda
    function); a plain ``AWS::Logs::ResourcePolicy`` does the same declaratively.
    """

    def __init__(self, log_group: logs.LogGroup) -> None:
        self._log_group = log_group

    def bind(self, rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        self._log_group.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[
                    iam.ServicePrincipal("events.amazonaws.com"),
                    iam.ServicePrincipal("delivery.logs.amazonaws.com"),
                ],
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self._log_group.log_group_arn],
            )
        )
        stack = Stack.of(self._log_group)
        return events.RuleTargetConfig(
            arn=stack.format_arn(
                service="logs",
                resource="log-group",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
                resource_name=self._log_group.log_group_name,
            ),
            target_resource=self._log_group,
        )


class SesEvents(Construct):
    """The configuration set with its CloudWatch, EventBridge and SNS event destinations."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic_key: kms.IKey,
        archive_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)

        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            reputation_metrics=True,
            sending_enabled=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
        )
        self.configuration_set_name = self.configuration_set.configuration_set_name

        self.events_topic = sns.Topic(
            self, "Events", display_name="Bulk email events", master_key=topic_key, enforce_ssl=True
        )

        self.configuration_set.add_event_destination(
            "CloudWatch",
            destination=ses.EventDestination.cloud_watch_dimensions(
                [
                    ses.CloudWatchDimension(
                        # SES always sets this auto-tag; the default is never used.
                        name=CONFIGURATION_SET_DIMENSION,
                        source=ses.CloudWatchDimensionSource.MESSAGE_TAG,
                        default_value=CAMPAIGN_DEFAULT,
                    ),
                    ses.CloudWatchDimension(
                        name=CAMPAIGN_DIMENSION,
                        source=ses.CloudWatchDimensionSource.MESSAGE_TAG,
                        default_value=CAMPAIGN_DEFAULT,
                    ),
                ]
            ),
        )
        self.configuration_set.add_event_destination(
            "EventBridge",
            destination=ses.EventDestination.event_bus(
                events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
            ),
        )
        self.configuration_set.add_event_destination(
            "Sns",
            destination=ses.EventDestination.sns_topic(self.events_topic),
            events=list(TOPIC_EVENTS),
        )

        # SES events carry recipient addresses and every header, the List-Unsubscribe link among
        # them: the archive masks both and keeps them a while. (A log group target takes only a
        # string message, so the events cannot be reshaped on the way as the status rules do.)
        self.archive = logs.LogGroup(
            self,
            "Archive",
            retention=archive_retention,
            removal_policy=RemovalPolicy.DESTROY,
            data_protection_policy=logs.DataProtectionPolicy(
                name="mask-email-addresses-and-unsubscribe-tokens",
                description="Masks the recipient addresses and unsubscribe tokens SES events carry",
                identifiers=[
                    logs.DataIdentifier.EMAILADDRESS,
                    logs.CustomDataIdentifier(TOKEN_IDENTIFIER, TOKEN_REGEX),
                ],
            ),
        )
        self.archive_rule = events.Rule(
            self,
            "ArchiveRule",
            description="Archives this configuration set's SES events to CloudWatch Logs",
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE],
                detail={
                    "mail": {"tags": {CONFIGURATION_SET_DIMENSION: [self.configuration_set_name]}}
                },
            ),
            targets=[_LogGroupTarget(self.archive)],
        )
