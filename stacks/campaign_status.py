"""The events loop: SES's events for the configuration set, through a queue, to the events
function that records each email's latest outcome and each campaign's counts in the status
table (lambda_src/events.py, bulk_sender/status_events.py).

EventBridge (the configuration set's destination on the default bus) -> a rule per event type
matching this configuration set's events of tagged emails, forwarding them without their headers
(stacks/ses_event_redaction.py: they hold the unsubscribe link) -> an encrypted, TLS-only
queue with a DLQ -> the events function in batches (partial failures reported) -> the status
table. Events are read in batches because one invocation per SES event would cost as much as the
sending itself.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from bulk_sender.names import Env, Table
from stacks.function_identity import AssetFunction, FunctionDefaults
from stacks.queues import queue_with_dlq
from stacks.ses_event_redaction import SES_EVENT_KEYS, redacted, type_pattern
from stacks.ses_events import CONFIGURATION_SET_DIMENSION, EVENT_SOURCE

HANDLER = "events.lambda_handler"
PARTITION_KEY = Table.STATUS_PARTITION_KEY  # the campaign
SORT_KEY = Table.STATUS_SORT_KEY
TTL_ATTRIBUTE = Table.TTL_ATTRIBUTE
ID_TAG = "bulkmail-id"  # bulk_sender.campaign_status.ID_TAG: only tagged emails are ours
# What bulk_sender.status_table calls, and only that (tests/infra checks the two agree).
TABLE_WRITE_ACTIONS = ("dynamodb:UpdateItem",)
FUNCTION_TIMEOUT = Duration.seconds(60)
BATCH_SIZE = 100
BATCHING_WINDOW = Duration.seconds(5)
MAX_RECEIVE_COUNT = 3
RETENTION = Duration.days(14)


class CampaignStatus(Construct):
    """The status table, the events queue and its DLQ, the rule, and the events function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        status_ttl_seconds: int,
        configuration_set_name: str,
    ) -> None:
        super().__init__(scope, construct_id)

        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            # Outcomes expire (status_ttl_days); nothing to keep after the stack.
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.queue, self.dlq = queue_with_dlq(
            self,
            queue_id="EventsQueue",
            dlq_id="EventsDlq",
            retention=RETENTION,
            max_receive_count=MAX_RECEIVE_COUNT,
            # Lambda's guidance: six times the function timeout, plus the batching window.
            visibility_timeout=Duration.seconds(
                6 * FUNCTION_TIMEOUT.to_seconds() + BATCHING_WINDOW.to_seconds()
            ),
        )
        # One rule per event type, each forwarding the event without its headers (they hold
        # the unsubscribe link): stacks/ses_event_redaction.py.
        tagged = {
            "mail": {
                "tags": {
                    CONFIGURATION_SET_DIMENSION: [configuration_set_name],
                    ID_TAG: events.Match.exists(),
                }
            }
        }
        self.rules = [
            events.Rule(
                self,
                f"Rule{event_type.replace(' ', '')}",
                description=f"This configuration set's {event_type} events of tagged emails, "
                "without their headers",
                event_pattern=events.EventPattern(
                    source=[EVENT_SOURCE], detail=type_pattern(tagged, event_type)
                ),
                # EventBridge's own failures to deliver end in the same DLQ.
                targets=[
                    targets.SqsQueue(
                        self.queue, dead_letter_queue=self.dlq, message=redacted(event_type)
                    )
                ],
            )
            for event_type in SES_EVENT_KEYS
        ]

        asset = AssetFunction(
            self,
            description="Campaign status: SES events from the events queue to the status table",
            role_description="The events function: record SES events in the campaign status table",
            handler=HANDLER,
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            environment={
                Env.STATUS_TABLE: self.table.table_name,
                Env.STATUS_TTL_SECONDS: str(status_ttl_seconds),
            },
            log_retention=defaults.log_retention,
            service_name=defaults.service_name,
            metrics_namespace=defaults.metrics_namespace,
            log_level=defaults.log_level,
        )
        self.function, self.log_group, self.role = asset.function, asset.log_group, asset.role
        for statement in (
            iam.PolicyStatement(
                sid="RecordOutcomesAndCounts",
                actions=list(TABLE_WRITE_ACTIONS),
                resources=[self.table.table_arn],
            ),
        ):
            self.role.add_to_policy(statement)

        self.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=BATCH_SIZE,
                max_batching_window=BATCHING_WINDOW,
                report_batch_item_failures=True,
            )
        )
