"""What every function of the stack starts with: its own log group and its own role, the
role allowed to write that log group and nothing else yet (grants are added where the
pieces meet)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.settings import Settings

LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


def log_group_and_role(
    scope: Construct, *, settings: Settings, description: str
) -> tuple[logs.LogGroup, iam.Role]:
    """`LogGroup` and `Role` under `scope`: retention from the settings, the role assumed by
    Lambda, its first statement `WriteOwnLogs` on that log group only."""
    log_group = logs.LogGroup(
        scope, "LogGroup", retention=settings.log_retention, removal_policy=RemovalPolicy.DESTROY
    )
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteOwnLogs", actions=list(LOG_ACTIONS), resources=[log_group.log_group_arn]
        )
    )
    return log_group, role
