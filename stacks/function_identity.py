"""A function of the code asset: its own log group, its own role (allowed to write that log
group and nothing else yet: grants are added where the pieces meet), the function itself on
the asset with Powertools' settings in its environment.

The three are created under the caller's construct with the ids ``LogGroup``, ``Role`` and
``Function``: their logical ids are those the stack has always had.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from bulk_sender.names import Env
from stacks.lambda_asset import sender_code

# The newest Python runtime that both aws-cdk-lib offers and Powertools publishes a layer for.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


@dataclass(frozen=True)
class FunctionDefaults:
    """What every function of the stack shares: its logs' retention and Powertools' service
    name, metrics namespace and log level. Built once by the stack from its settings."""

    log_retention: logs.RetentionDays
    service_name: str
    metrics_namespace: str
    log_level: str


def _log_group_and_role(
    scope: Construct, *, log_retention: logs.RetentionDays, description: str
) -> tuple[logs.LogGroup, iam.Role]:
    log_group = logs.LogGroup(
        scope, "LogGroup", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
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


class AssetFunction:
    """`LogGroup`, `Role` and `Function` under `scope` (not a construct of its own: a level
    more in the construct path would change every logical id)."""

    def __init__(
        self,
        scope: Construct,
        *,
        description: str,
        role_description: str,
        handler: str,
        timeout: Duration,
        memory_size: int,
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        service_name: str,
        log_level: str,
        metrics_namespace: str | None = None,
        code: lambda_.Code | None = None,
    ) -> None:
        self.log_group, self.role = _log_group_and_role(
            scope, log_retention=log_retention, description=role_description
        )
        powertools = {Env.POWERTOOLS_SERVICE_NAME: service_name}
        if metrics_namespace is not None:
            powertools[Env.POWERTOOLS_METRICS_NAMESPACE] = metrics_namespace
        powertools[Env.POWERTOOLS_LOG_LEVEL] = log_level
        self.function = lambda_.Function(
            scope,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=code or sender_code(RUNTIME, ARCHITECTURE),
            timeout=timeout,
            memory_size=memory_size,
            role=self.role,
            log_group=self.log_group,
            environment={**environment, **powertools},
        )


def scheduler_role(
    scope: Construct, construct_id: str, *, function: lambda_.IFunction, sid: str, description: str
) -> iam.Role:
    """A role EventBridge Scheduler assumes (for this account's schedules only) that may invoke
    `function` and nothing else (the L2 target would also grant every version, `function:*`)."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}},
        ),
        description=description,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid=sid, actions=["lambda:InvokeFunction"], resources=[function.function_arn]
        )
    )
    return role
