"""The sender function: SQS batches in, SES v2 ``SendBulkEmail`` calls out.

Its role is written out statement by statement (no managed policy): each statement is one
thing the handler does, on the resources it does it to.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bulk_sender.names import Env
from stacks.function_identity import ARCHITECTURE, RUNTIME, AssetFunction
from stacks.lambda_asset import sender_code
from stacks.settings import Settings

__all__ = ["SenderFunction"]
HANDLER = "handler.lambda_handler"

SEND_ACTIONS = ("ses:SendBulkEmail",)
ACCOUNT_ACTIONS = ("ses:GetAccount",)
TEMPLATE_READ_ACTIONS = ("ses:GetEmailTemplate",)
DLQ_ACTIONS = ("sqs:SendMessage",)
HOLD_ACTIONS = ("sqs:SendMessage",)  # delayed copies of the records held while paused
FIND_MAPPING_ACTIONS = ("lambda:ListEventSourceMappings",)  # IAM: only on "*"
STOP_MAPPING_ACTIONS = ("lambda:UpdateEventSourceMapping",)
# What bulk_sender.ledger calls, and only that (tests/infra/test_stack_iam.py runs the
# ledger and checks the two agree). Claims and releases are Put and Delete actions of a
# TransactWriteItems, which IAM authorises as PutItem and DeleteItem.
TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
)
# What bulk_sender.status_table calls (campaign status: dead letters, counts).
STATUS_TABLE_ACTIONS = ("dynamodb:UpdateItem",)


def _number(value: float) -> str:
    return format(value, "g")


class SenderFunction(Construct):
    """The function, its log group and role, and the SQS event source mapping."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        queue: sqs.IQueue,
        dlq: sqs.IQueue,
        table: dynamodb.ITable,
        status_table: dynamodb.ITable,
        configuration_set_name: str,
        identity_arns: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        template_arns = stack.format_arn(service="ses", resource="template", resource_name="*")
        # The stack's own set, and those a message may name besides (allowed_configuration_sets).
        configuration_sets = [
            configuration_set_name,
            *dict.fromkeys(settings.allowed_configuration_sets),
        ]
        configuration_set_arns = [
            stack.format_arn(service="ses", resource="configuration-set", resource_name=name)
            for name in configuration_sets
        ]
        self.configuration_set_arns = configuration_set_arns  # also what the probe may read
        self.configuration_sets = configuration_sets  # and the names it may find in a marker
        statements = [
            iam.PolicyStatement(
                sid="SendBulkEmailFromTheSendingIdentities",
                actions=list(SEND_ACTIONS),
                resources=[*identity_arns, *configuration_set_arns, template_arns],
            ),
            iam.PolicyStatement(
                sid="ReadSendQuotaForPacing",
                actions=list(ACCOUNT_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="ReadTemplatesForPreflightRendering",
                actions=list(TEMPLATE_READ_ACTIONS),
                resources=[template_arns],
            ),
            iam.PolicyStatement(
                sid="WritePermanentFailuresToTheDlq",
                actions=list(DLQ_ACTIONS),
                resources=[dlq.queue_arn],
            ),
            iam.PolicyStatement(
                sid="HoldRecordsOnTheQueueWhilePaused",
                actions=list(HOLD_ACTIONS),
                resources=[queue.queue_arn],
            ),
            iam.PolicyStatement(
                sid="FindOwnEventSourceMapping",
                actions=list(FIND_MAPPING_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="ClaimAndRecordIdempotencyKeys",
                actions=list(TABLE_ACTIONS),
                resources=[table.table_arn],
            ),
            iam.PolicyStatement(
                sid="RecordCampaignStatus",
                actions=list(STATUS_TABLE_ACTIONS),
                resources=[status_table.table_arn],
            ),
        ]

        environment = {
            Env.DLQ_URL: dlq.queue_url,
            Env.QUEUE_URL: queue.queue_url,
            Env.CONFIGURATION_SET_NAME: configuration_set_name,
            Env.ALLOWED_CONFIGURATION_SETS: ",".join(configuration_sets),
            Env.DEFAULT_TAGS: json.dumps(
                settings.default_tags, separators=(",", ":"), sort_keys=True
            ),
            Env.IDEMPOTENCY_TABLE: table.table_name,
            Env.IDEMPOTENCY_TTL_SECONDS: str(settings.idempotency_ttl_seconds),
            Env.STATUS_TABLE: status_table.table_name,
            Env.STATUS_TTL_SECONDS: str(settings.status_ttl_seconds),
            # The queue's redrive threshold: a retry at the last receive is a dead letter.
            Env.MAX_RECEIVE_COUNT: str(settings.max_receive_count),
            Env.MAX_SEND_RATE: _number(settings.max_send_rate),
            # The event source mapping's maximum concurrency, from the same context key.
            Env.MAX_CONCURRENCY: str(settings.max_concurrency),
            Env.MAX_CALLS_IN_FLIGHT: str(settings.max_calls_in_flight),
            Env.RETRY_BACKOFF_BASE_SECONDS: str(settings.retry_backoff_base_seconds),
            Env.RETRY_BACKOFF_MAX_SECONDS: str(settings.retry_backoff_max_seconds),
        }

        asset = AssetFunction(
            self,
            description="Bulk email sender: SQS batches to SES v2 SendBulkEmail",
            role_description="The bulk email sender function: send with SES, consume the queue",
            handler=HANDLER,
            # A multi-region endpoint needs SigV4a, hence the AWS CRT; no other stack loads it.
            code=sender_code(
                RUNTIME,
                ARCHITECTURE,
                sigv4a=bool(settings.endpoint_id or settings.create_endpoint),
            ),
            timeout=Duration.seconds(settings.function_timeout_seconds),
            memory_size=settings.function_memory_mb,
            environment=environment,
            log_retention=settings.log_retention,
            service_name=settings.service_name,
            metrics_namespace=settings.metrics_namespace,
            log_level=settings.log_level,
        )
        self.function, self.log_group, self.role = asset.function, asset.log_group, asset.role
        # Unset means "every message names its own": an empty value would be a wrong default.
        optional = {
            Env.DEFAULT_FROM: settings.default_from,
            Env.DEFAULT_TEMPLATE: settings.default_template,
            Env.TEMPLATE_PREFIX: settings.template_prefix,
        }
        for name, value in optional.items():
            if value:
                self.function.add_environment(name, value)
        for statement in statements:
            self.role.add_to_policy(statement)
        # Receive, delete, change visibility (the retry backoff) on the queue, nothing else.
        event_source = event_sources.SqsEventSource(
            queue,
            batch_size=settings.batch_size,
            max_batching_window=Duration.seconds(settings.max_batching_window_seconds),
            report_batch_item_failures=True,
            max_concurrency=settings.max_concurrency,
        )
        self.function.add_event_source(event_source)
        self.mapping_arn = event_source.event_source_mapping_arn
        self.mapping_id = event_source.event_source_mapping_id
        # The sender stops its own mapping when SES pauses it (bulk_sender/pause.py). A
        # separate policy, not the role's default one: the function depends on its default
        # policy and the mapping on the function, so naming the mapping there is a cycle.
        iam.Policy(
            self,
            "PausePolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="StopOwnEventSourceMappingWhilePaused",
                    actions=list(STOP_MAPPING_ACTIONS),
                    resources=[self.mapping_arn],
                )
            ],
        )
