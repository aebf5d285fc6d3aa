"""Scheduled campaigns (DESIGN.md section 12, "Scheduling"): the campaign bucket, the schedule
group, the function that puts a campaign's rows on the queue at its instant, and the role
EventBridge Scheduler assumes to start it.

`enqueue FILE --at TIME` (or `--at-local`) checks every row, uploads one file per instant to
the campaign bucket and creates one one-time schedule per instant in the group, naming the
enqueue function as its target and the scheduler role as its role. At the instant, Scheduler
invokes the function (`lambda_src/enqueue_handler.py`, the sender's asset), which streams the
file onto the queue in checkpointed chunks (`bulk_sender/schedule_enqueue.py`), re-invoking
itself when its time runs short, and deletes the file when done.

- The bucket: private, SSE-S3, TLS only, objects owned by the bucket owner; no versioning (a
  campaign file is written once and deleted once enqueued: a kept version would keep the
  addresses); a lifecycle rule deletes whatever is left (a cancelled or failed campaign) after
  `campaign_file_retention_days`.
- The function may read and delete campaign files in that bucket, send to the send queue,
  read and update the campaign status table (its checkpoints and counts), and invoke itself.
- The scheduler role may invoke that function and nothing else, for this account only.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bulk_sender import metric_names
from bulk_sender.names import Env
from bulk_sender.schedule import OBJECT_PREFIX
from bulk_sender.schedule_enqueue import (
    BUCKET_ACTIONS,
    BUCKET_LIST_ACTIONS,
    QUEUE_ACTIONS,
    STATUS_ACTIONS,
)
from stacks.function_identity import AssetFunction, FunctionDefaults, scheduler_role

HANDLER = "enqueue_handler.lambda_handler"
# Long enough for a large chunked file; a run that needs more continues in a new invocation.
TIMEOUT = Duration.minutes(5)
MEMORY_MB = 512
INVOKE_ACTIONS = ("lambda:InvokeFunction",)
ASYNC_RETRIES = 2
MAX_EVENT_AGE_HOURS = 6


class Scheduling(Construct):
    """The campaign bucket, the schedule group, the enqueue function and the scheduler role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        campaign_file_retention_days: int,
        queue: sqs.IQueue,
        status_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = self._bucket(campaign_file_retention_days)
        # No name given: CloudFormation generates it (the output says it to the CLI).
        self.group = scheduler.CfnScheduleGroup(self, "Group")
        self.group_name = self.group.ref

        asset = self._function(defaults=defaults, queue=queue, status_table=status_table)
        self.function, self.log_group, self.role = asset.function, asset.log_group, asset.role
        self._grant_enqueue(queue=queue, status_table=status_table)
        self._continue_runs()
        self.scheduler_role = self._scheduler_role()

    def _bucket(self, retention_days: int) -> s3.Bucket:
        """The campaign bucket: private, TLS only, files deleted after `retention_days`."""
        bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="DeleteCampaignFiles",
                    prefix=OBJECT_PREFIX,
                    expiration=Duration.days(retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="The bucket holds scheduled campaign files that only this stack's "
                "enqueue function reads and deletes, once each; its runs are in the function's "
                "logs, and server access logs would need a second bucket that records nothing "
                "else",
            )
        )
        return bucket

    def _function(
        self, *, defaults: FunctionDefaults, queue: sqs.IQueue, status_table: dynamodb.ITable
    ) -> AssetFunction:
        """The enqueue function's log group, role and function."""
        return AssetFunction(
            self,
            description="Bulk email scheduled enqueue: a campaign file onto the send queue",
            role_description="The scheduled enqueue: a campaign file from S3 onto the send queue",
            handler=HANDLER,
            timeout=TIMEOUT,
            memory_size=MEMORY_MB,
            environment={
                Env.CAMPAIGN_BUCKET: self.bucket.bucket_name,
                Env.QUEUE_URL: queue.queue_url,
                Env.STATUS_TABLE: status_table.table_name,
            },
            log_retention=defaults.log_retention,
            service_name=defaults.service_name,
            metrics_namespace=defaults.metrics_namespace,
            log_level=defaults.log_level,
        )

    def _grant_enqueue(self, *, queue: sqs.IQueue, status_table: dynamodb.ITable) -> None:
        """Read and delete campaign files, send to the queue, checkpoint in the status table."""
        statements = [
            iam.PolicyStatement(
                sid="ReadAndDeleteCampaignFiles",
                actions=list(BUCKET_ACTIONS),
                resources=[self.bucket.arn_for_objects(f"{OBJECT_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="TellAMissingCampaignFile",
                actions=list(BUCKET_LIST_ACTIONS),
                resources=[self.bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="SendToTheQueue", actions=list(QUEUE_ACTIONS), resources=[queue.queue_arn]
            ),
            iam.PolicyStatement(
                sid="CheckpointAndCountEnqueuedRows",
                actions=list(STATUS_ACTIONS),
                resources=[status_table.table_arn],
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        bucket_id = Stack.of(self).get_logical_id(
            cast(s3.CfnBucket, self.bucket.node.default_child)
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{OBJECT_PREFIX}*]",
                reason="Campaign files are named by campaign and instant when scheduled, after "
                "deployment: the function reads and deletes objects under campaigns/ of the "
                "campaign bucket only",
            )
        )

    def _continue_runs(self) -> None:
        """Async retries, and the policy that lets a run short of time invoke itself."""
        # Scheduler invokes it asynchronously: a failed run is retried twice by Lambda, each
        # retry continuing at the first chunk not recorded; a start older than a day is dropped
        # (Scheduler's metric InvocationDroppedCount and `schedule list` show it).
        self.function.configure_async_invoke(
            retry_attempts=ASYNC_RETRIES, max_event_age=Duration.hours(MAX_EVENT_AGE_HOURS)
        )
        # A run short of time invokes itself to continue: a separate policy, since the
        # function depends on its role's default policy (naming the function there: a cycle).
        iam.Policy(
            self,
            "ContinuePolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="ContinueInANewInvocation",
                    actions=list(INVOKE_ACTIONS),
                    resources=[self.function.function_arn],
                )
            ],
        )

    def _scheduler_role(self) -> iam.Role:
        """The role each schedule runs with: may invoke the enqueue function only."""
        return scheduler_role(
            self,
            "SchedulerRole",
            function=self.function,
            sid="InvokeTheEnqueueFunction",
            description="EventBridge Scheduler: start the scheduled enqueue of a campaign",
        )

    def _group_metric(self, name: str, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/Scheduler",
            metric_name=name,
            dimensions_map={"ScheduleGroup": self.group_name},
            statistic=cloudwatch.Stats.SUM,
            label=label,
        )

    def widgets(self, namespace: str, service_name: str) -> list[cloudwatch.IWidget]:
        """The dashboard's row: what the schedules started and what reached the queue."""
        rows = cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_names.SCHEDULED_ROWS_ENQUEUED,
            dimensions_map={"service": service_name},
            statistic=cloudwatch.Stats.SUM,
            label="Scheduled rows put on the queue",
        )
        return [
            cloudwatch.TextWidget(
                markdown=(
                    "## Scheduled campaigns\n"
                    "Schedules still to run and their rows: `python -m bulkmail schedule list`. "
                    "At each instant the enqueue function puts the rows on the queue."
                ),
                width=6,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Schedules run (attempts, target errors, dropped)",
                left=[
                    self._group_metric("InvocationAttemptCount", "Schedules started"),
                    self._group_metric("TargetErrorCount", "Enqueue function refused the start"),
                    self._group_metric("InvocationDroppedCount", "Dropped after retries"),
                ],
                width=9,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Scheduled rows put on the queue", left=[rows], width=9, height=6
            ),
        ]
