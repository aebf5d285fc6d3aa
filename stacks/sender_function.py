"""The sender function: SQS batches in, SES v2 ``SendBulkEmail`` calls out.

Its role is written out statement by statement (no managed policy): each statement is one
thing the handler does, on the resources it does it to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bulk_sender.names import Env
from stacks.function_identity import ARCHITECTURE, RUNTIME, AssetFunction, FunctionDefaults
from stacks.lambda_asset import sender_code

__all__ = ["MessageDefaults", "SenderFunction", "SenderTuning"]
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


@dataclass(frozen=True)
class SenderTuning:
    """How the sender consumes the queue and paces its sends: the function's size, the
    mapping's batches and concurrency, the rate, the retries and the redrive threshold."""

    function_timeout_seconds: int
    function_memory_mb: int
    batch_size: int
    max_batching_window_seconds: int
    max_concurrency: int
    max_calls_in_flight: int
    max_send_rate: float
    max_receive_count: int
    retry_backoff_base_seconds: int
    retry_backoff_max_seconds: int


@dataclass(frozen=True)
class MessageDefaults:
    """What a message gets when it names none: sender, template, tags; and the prefix of
    the stack's stored templates."""

    default_from: str
    default_template: str
    default_tags: dict[str, str]
    template_prefix: str


class SenderFunction(Construct):
    """The function, its log group and role, and the SQS event source mapping."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        tuning: SenderTuning,
        messages: MessageDefaults,
        idempotency_ttl_seconds: int,
        status_ttl_seconds: int,
        allowed_configuration_sets: tuple[str, ...],
        sigv4a: bool,
        queue: sqs.IQueue,
        dlq: sqs.IQueue,
        table: dynamodb.ITable,
        status_table: dynamodb.ITable,
        configuration_set_name: str,
        identity_arns: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # The stack's own set, and those a message may name besides (allowed_configuration_sets).
        configuration_sets = [configuration_set_name, *dict.fromkeys(allowed_configuration_sets)]
        self.configuration_set_arns = [  # also what the probe may read
            stack.format_arn(service="ses", resource="configuration-set", resource_name=name)
            for name in configuration_sets
        ]
        self.configuration_sets = configuration_sets  # and the names it may find in a marker
        statements = self._statements(
            queue=queue,
            dlq=dlq,
            table=table,
            status_table=status_table,
            identity_arns=identity_arns,
        )
        environment = self._environment(
            tuning=tuning,
            messages=messages,
            idempotency_ttl_seconds=idempotency_ttl_seconds,
            status_ttl_seconds=status_ttl_seconds,
            queue=queue,
            dlq=dlq,
            table=table,
            status_table=status_table,
            configuration_set_name=configuration_set_name,
        )
        asset = self._function(
            defaults=defaults, tuning=tuning, sigv4a=sigv4a, environment=environment
        )
        self.function, self.log_group, self.role = asset.function, asset.log_group, asset.role
        self._add_message_defaults(messages)
        for statement in statements:
            self.role.add_to_policy(statement)
        event_source = self._event_source(queue, tuning)
        self.mapping_arn = event_source.event_source_mapping_arn
        self.mapping_id = event_source.event_source_mapping_id
        self._pause_policy()

    def _add_message_defaults(self, messages: MessageDefaults) -> None:
        """The defaults a message may leave out, in the environment only when set."""
        # Unset means "every message names its own": an empty value would be a wrong default.
        optional = {
            Env.DEFAULT_FROM: messages.default_from,
            Env.DEFAULT_TEMPLATE: messages.default_template,
            Env.TEMPLATE_PREFIX: messages.template_prefix,
        }
        for name, value in optional.items():
            if value:
                self.function.add_environment(name, value)

    def _statements(
        self,
        *,
        queue: sqs.IQueue,
        dlq: sqs.IQueue,
        table: dynamodb.ITable,
        status_table: dynamodb.ITable,
        identity_arns: list[str],
    ) -> list[iam.PolicyStatement]:
        """The role's statements: one per thing the handler does, on what it does it to."""
        template_arns = Stack.of(self).format_arn(
            service="ses", resource="template", resource_name="*"
        )
        configuration_set_arns = self.configuration_set_arns
        return [
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

    def _environment(
        self,
        *,
        tuning: SenderTuning,
        messages: MessageDefaults,
        idempotency_ttl_seconds: int,
        status_ttl_seconds: int,
        queue: sqs.IQueue,
        dlq: sqs.IQueue,
        table: dynamodb.ITable,
        status_table: dynamodb.ITable,
        configuration_set_name: str,
    ) -> dict[str, str]:
        """The handler's settings: where it sends, reads and writes, and how it paces."""
        configuration_sets = self.configuration_sets
        return {
            Env.DLQ_URL: dlq.queue_url,
            Env.QUEUE_URL: queue.queue_url,
            Env.CONFIGURATION_SET_NAME: configuration_set_name,
            Env.ALLOWED_CONFIGURATION_SETS: ",".join(configuration_sets),
            Env.DEFAULT_TAGS: json.dumps(
                messages.default_tags, separators=(",", ":"), sort_keys=True
            ),
            Env.IDEMPOTENCY_TABLE: table.table_name,
            Env.IDEMPOTENCY_TTL_SECONDS: str(idempotency_ttl_seconds),
            Env.STATUS_TABLE: status_table.table_name,
            Env.STATUS_TTL_SECONDS: str(status_ttl_seconds),
            # The queue's redrive threshold: a retry at the last receive is a dead letter.
            Env.MAX_RECEIVE_COUNT: str(tuning.max_receive_count),
            Env.MAX_SEND_RATE: _number(tuning.max_send_rate),
            # The event source mapping's maximum concurrency, from the same context key.
            Env.MAX_CONCURRENCY: str(tuning.max_concurrency),
            Env.MAX_CALLS_IN_FLIGHT: str(tuning.max_calls_in_flight),
            Env.RETRY_BACKOFF_BASE_SECONDS: str(tuning.retry_backoff_base_seconds),
            Env.RETRY_BACKOFF_MAX_SECONDS: str(tuning.retry_backoff_max_seconds),
        }

    def _function(
        self,
        *,
        defaults: FunctionDefaults,
        tuning: SenderTuning,
        sigv4a: bool,
        environment: dict[str, str],
    ) -> AssetFunction:
        """The sender's log group, role and function."""
        return AssetFunction(
            self,
            description="Bulk email sender: SQS batches to SES v2 SendBulkEmail",
            role_description="The bulk email sender function: send with SES, consume the queue",
            handler=HANDLER,
            # A multi-region endpoint needs SigV4a, hence the AWS CRT; no other stack loads it.
            code=sender_code(RUNTIME, ARCHITECTURE, sigv4a=sigv4a),
            timeout=Duration.seconds(tuning.function_timeout_seconds),
            memory_size=tuning.function_memory_mb,
            environment=environment,
            log_retention=defaults.log_retention,
            service_name=defaults.service_name,
            metrics_namespace=defaults.metrics_namespace,
            log_level=defaults.log_level,
        )

    def _event_source(
        self, queue: sqs.IQueue, tuning: SenderTuning
    ) -> event_sources.SqsEventSource:
        """The SQS event source mapping: the queue's batches into the function."""
        # Receive, delete, change visibility (the retry backoff) on the queue, nothing else.
        event_source = event_sources.SqsEventSource(
            queue,
            batch_size=tuning.batch_size,
            max_batching_window=Duration.seconds(tuning.max_batching_window_seconds),
            report_batch_item_failures=True,
            max_concurrency=tuning.max_concurrency,
        )
        self.function.add_event_source(event_source)
        return event_source

    def _pause_policy(self) -> None:
        """The sender may stop its own mapping when SES pauses sending."""
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
