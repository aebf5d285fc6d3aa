"""The idempotency table: one item per message ``id`` claimed or sent (DESIGN section 5)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from bulk_sender.names import Table

PARTITION_KEY = Table.LEDGER_KEY
TTL_ATTRIBUTE = Table.TTL_ATTRIBUTE


class IdempotencyTable(Construct):
    """On-demand, encrypted, point-in-time recovery on; items expire through ``expires_at``."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            # Claims and sent markers live for days (the TTL); nothing to keep after the stack.
            removal_policy=RemovalPolicy.DESTROY,
        )
