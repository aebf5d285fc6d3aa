"""The pause probe: a small scheduled function that restarts the sender's mapping.

When SES pauses the account or the configuration set, or the daily quota is spent, the sender
stops its own SQS event source mapping and leaves a marker in the idempotency table
(``lambda_src/bulk_sender/pause.py``). Every five minutes an EventBridge Scheduler schedule runs
this function (``lambda_src/probe_handler.py``, the same asset as the sender): with a marker
present, it asks SES ``GetAccount`` and ``GetConfigurationSet`` whether sending is allowed, and
if so enables the mapping and deletes the marker. Sending resumes within about five minutes of
SES allowing it (the DESIGN's bound is 15).

The probe is created after the mapping, so its environment holds the mapping's UUID and its
role names the mapping's ARN (no cycle: the mapping does not depend on the probe).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from bulk_sender.names import Env
from stacks.function_identity import AssetFunction, FunctionDefaults, scheduler_role

HANDLER = "probe_handler.lambda_handler"
PROBE_RATE = Duration.minutes(5)
ACCOUNT_ACTIONS = ("ses:GetAccount",)
CONFIGURATION_SET_ACTIONS = ("ses:GetConfigurationSet",)
MAPPING_ACTIONS = ("lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping")
MARKER_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:GetItem")
# The one item the probe may read and delete (bulk_sender.pause.MARKER_KEY).
MARKER_KEY = "pause\tsender"  # a tab: no message id (printable) can take this key


class PauseProbe(Construct):
    """The probe function, its log group and role, and its schedule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        mapping_arn: str,
        mapping_id: str,
        table: dynamodb.ITable,
        configuration_set_name: str,
        configuration_set_arns: list[str],
        configuration_sets: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        asset = self._function(
            defaults=defaults,
            mapping_id=mapping_id,
            table=table,
            configuration_set_name=configuration_set_name,
            configuration_sets=configuration_sets,
        )
        self.function, self.log_group, self.role = asset.function, asset.log_group, asset.role
        self._grant_probe(
            mapping_arn=mapping_arn, table=table, configuration_set_arns=configuration_set_arns
        )
        self.schedule = self._schedule()

    def _function(
        self,
        *,
        defaults: FunctionDefaults,
        mapping_id: str,
        table: dynamodb.ITable,
        configuration_set_name: str,
        configuration_sets: list[str],
    ) -> AssetFunction:
        """The probe's log group, role and function: it finds the mapping by its UUID."""
        return AssetFunction(
            self,
            description="Bulk email pause probe: restarts sending once SES allows it",
            role_description=(
                "The pause probe: read SES sending status, restart the sender's mapping"
            ),
            handler=HANDLER,
            timeout=Duration.seconds(30),
            memory_size=256,
            environment={
                Env.MAPPING_UUID: mapping_id,
                Env.PAUSE_TABLE: table.table_name,
                Env.CONFIGURATION_SET_NAME: configuration_set_name,
                # A marker naming a set outside these is reported, not waited for.
                Env.ALLOWED_CONFIGURATION_SETS: ",".join(configuration_sets),
            },
            log_retention=defaults.log_retention,
            service_name=defaults.service_name,
            metrics_namespace=defaults.metrics_namespace,
            log_level=defaults.log_level,
        )

    def _grant_probe(
        self, *, mapping_arn: str, table: dynamodb.ITable, configuration_set_arns: list[str]
    ) -> None:
        """Read SES's sending status, restart the mapping, read and clear the marker."""
        statements = [
            iam.PolicyStatement(
                sid="ReadAccountSendingStatus",
                actions=list(ACCOUNT_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="ReadConfigurationSetSendingStatus",
                actions=list(CONFIGURATION_SET_ACTIONS),
                # The sets a message may name (the stack's and allowed_configuration_sets):
                # a pause may come from any of them.
                resources=configuration_set_arns,
            ),
            iam.PolicyStatement(
                sid="RestartTheSenderMapping",
                actions=list(MAPPING_ACTIONS),
                resources=[mapping_arn],
            ),
            iam.PolicyStatement(
                sid="ReadAndClearThePauseMarker",
                actions=list(MARKER_ACTIONS),
                resources=[table.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [MARKER_KEY]}},
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)

    def _schedule(self) -> scheduler.CfnSchedule:
        """The schedule that runs the probe every five minutes, and its own role."""
        schedule_role = scheduler_role(
            self,
            "ScheduleRole",
            function=self.function,
            sid="InvokeTheProbe",
            description="EventBridge Scheduler: invoke the pause probe",
        )
        return scheduler.CfnSchedule(
            self,
            "Schedule",
            description="Every 5 minutes: restart the bulk email sender if SES allows it again",
            schedule_expression=f"rate({int(PROBE_RATE.to_minutes())} minutes)",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.function.function_arn,
                role_arn=schedule_role.role_arn,
                # A missed run is not retried: the next one comes five minutes later.
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=0, maximum_event_age_in_seconds=300
                ),
            ),
        )
