"""The stack: the constructs of each concern, the grants where they meet, and the outputs."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnOutput, Duration, Stack, Validations
from constructs import Construct

from bulk_sender.names import Output
from stacks.campaign_status import CampaignStatus
from stacks.function_identity import FunctionDefaults
from stacks.idempotency import IdempotencyTable
from stacks.monitoring import Monitoring
from stacks.notification_key import NotificationKey
from stacks.pause_probe import PauseProbe
from stacks.queues import SendQueues
from stacks.scheduling import Scheduling
from stacks.send_options import EndpointOptions, SendOptions
from stacks.sender_function import MessageDefaults, SenderFunction, SenderTuning
from stacks.ses_events import SesEvents
from stacks.ses_identities import SendingIdentities, dkim_output_id, identity_arn
from stacks.ses_templates import SesTemplates
from stacks.settings import Settings
from stacks.template_files import by_ses_name, load_templates
from stacks.unsubscribe import Unsubscribe, UnsubscribeLimits

DESCRIPTION = "Serverless bulk email sender: SQS -> Lambda -> SES v2 SendBulkEmail"


class BulkEmailStack(Stack):
    """Everything ``cdk deploy`` provisions (DESIGN section 1)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id, description=DESCRIPTION)

        defaults = FunctionDefaults(
            log_retention=settings.log_retention,
            service_name=settings.service_name,
            metrics_namespace=settings.metrics_namespace,
            log_level=settings.log_level,
        )
        key = NotificationKey(self, "NotificationKey").key
        queues = SendQueues(
            self,
            "Queues",
            visibility_timeout=Duration.seconds(settings.queue_visibility_timeout_seconds),
            max_receive_count=settings.max_receive_count,
        )
        table = IdempotencyTable(self, "Idempotency").table
        ses_events = SesEvents(
            self, "Ses", topic_key=key, archive_retention=settings.event_archive_retention
        )
        status = CampaignStatus(
            self,
            "Status",
            defaults=defaults,
            status_ttl_seconds=settings.status_ttl_seconds,
            configuration_set_name=ses_events.configuration_set_name,
        )
        templates = SesTemplates(
            self, "Templates", templates=load_templates(), prefix=settings.template_prefix
        )
        identities = None
        if settings.create_sending_identities:
            identities = SendingIdentities(
                self,
                "Identities",
                identities=settings.sending_identities,
                configuration_set=ses_events.configuration_set,
            )
        sender = SenderFunction(
            self,
            "Sender",
            defaults=defaults,
            tuning=SenderTuning(
                function_timeout_seconds=settings.function_timeout_seconds,
                function_memory_mb=settings.function_memory_mb,
                batch_size=settings.batch_size,
                max_batching_window_seconds=settings.max_batching_window_seconds,
                max_concurrency=settings.max_concurrency,
                max_calls_in_flight=settings.max_calls_in_flight,
                max_send_rate=settings.max_send_rate,
                max_receive_count=settings.max_receive_count,
                retry_backoff_base_seconds=settings.retry_backoff_base_seconds,
                retry_backoff_max_seconds=settings.retry_backoff_max_seconds,
            ),
            messages=MessageDefaults(
                default_from=settings.default_from,
                default_template=settings.default_template,
                default_tags=settings.default_tags,
                template_prefix=settings.template_prefix,
            ),
            idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
            status_ttl_seconds=settings.status_ttl_seconds,
            allowed_configuration_sets=settings.allowed_configuration_sets,
            # A multi-region endpoint needs SigV4a (the AWS CRT in the asset).
            sigv4a=bool(settings.endpoint_id or settings.create_endpoint),
            queue=queues.queue,
            dlq=queues.dlq,
            table=table,
            status_table=status.table,
            configuration_set_name=ses_events.configuration_set_name,
            # In the sandbox SES also authorizes the send against each recipient's identity.
            identity_arns=[
                identity_arn(self, identity)
                for identity in dict.fromkeys(
                    settings.sending_identities + settings.sandbox_recipients
                )
            ],
        )
        unsubscribe = Unsubscribe(
            self,
            "Unsubscribe",
            defaults=defaults,
            limits=UnsubscribeLimits(
                rate_limit=settings.unsubscribe_rate_limit,
                burst_limit=settings.unsubscribe_burst_limit,
                post_limit_per_client=settings.unsubscribe_post_limit_per_client,
                get_limit_per_client=settings.unsubscribe_get_limit_per_client,
            ),
            mailto=settings.unsubscribe_mailto,
            secret_readers=settings.unsubscribe_secret_readers,
            key=key,
        )
        unsubscribe.grant_sender(sender.role)
        unsubscribe.restrict_secret()
        for name, value in unsubscribe.sender_environment().items():
            sender.function.add_environment(name, value)
        probe = PauseProbe(
            self,
            "PauseProbe",
            defaults=defaults,
            mapping_arn=sender.mapping_arn,
            mapping_id=sender.mapping_id,
            table=table,
            configuration_set_name=ses_events.configuration_set_name,
            configuration_set_arns=sender.configuration_set_arns,
            configuration_sets=sender.configuration_sets,
        )
        # Tenants, multi-region endpoint, sending authorization, tracking and attachments.
        options = SendOptions(
            self,
            "SendOptions",
            sender=sender,
            configuration_set_name=ses_events.configuration_set_name,
            allowed_configuration_sets=settings.allowed_configuration_sets,
            template_names=sorted(by_ses_name(load_templates(), settings.template_prefix)),
            identity_arns=[
                identity_arn(self, identity) for identity in settings.sending_identities
            ],
            authorized_identity_arns=settings.authorized_identity_arns,
            open_tracking=settings.open_tracking,
            click_tracking=settings.click_tracking,
            tenants=settings.tenants,
            create_tenants=settings.create_tenants,
            endpoint=EndpointOptions(
                endpoint_id=settings.endpoint_id,
                create=settings.create_endpoint,
                secondary_region=settings.endpoint_secondary_region,
                second_region_identities=settings.sending_identities + settings.sandbox_recipients,
            ),
            depends_on=[
                c for c in (templates, identities, ses_events.configuration_set) if c is not None
            ],
        )
        Validations.of(sender.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="ses:GetAccount (the send quota the handler paces by) and "
                "lambda:ListEventSourceMappings (read only: how the sender finds its own mapping "
                "to stop it when SES pauses sending) have no resource-level permission: IAM "
                "accepts only '*' for them",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:"
                "<AWS::AccountId>:template/*]",
                reason="Producers name any stored template of the account in their messages "
                "(DESIGN section 3), so sending and pre-flight rendering need every template of "
                "this account and Region, and templates only",
            ),
        )
        Validations.of(probe.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="ses:GetAccount (whether the account may send and how much of its daily "
                "quota is left) has no resource-level permission: IAM accepts only '*' for it",
            ),
        )
        scheduling = Scheduling(
            self,
            "Scheduling",
            defaults=defaults,
            campaign_file_retention_days=settings.campaign_file_retention_days,
            queue=queues.queue,
            status_table=status.table,
        )
        monitoring = Monitoring(
            self,
            "Monitoring",
            queue=queues.queue,
            dlq=queues.dlq,
            function=sender.function,
            function_log_group=sender.log_group,
            probe_log_group=probe.log_group,
            status_log_group=status.log_group,
            enqueue_function=scheduling.function,
            unsubscribe_stage=unsubscribe.stage,
            function_timeout=Duration.seconds(settings.function_timeout_seconds),
            max_concurrency=settings.max_concurrency,
            configuration_set_name=ses_events.configuration_set_name,
            topic_key=key,
            metrics_namespace=settings.metrics_namespace,
            service_name=settings.service_name,
            alarm_email=settings.alarm_email,
            oldest_message_age_alarm_seconds=settings.oldest_message_age_alarm_seconds,
            bounce_rate_alarm_threshold=settings.bounce_rate_alarm_threshold,
            complaint_rate_alarm_threshold=settings.complaint_rate_alarm_threshold,
        )

        monitoring.dashboard.add_widgets(
            *scheduling.widgets(settings.metrics_namespace, settings.service_name)
        )

        # Read by the CLI's --stack (DESIGN section 9): these names are a contract.
        outputs = {
            Output.QUEUE_URL: (queues.queue.queue_url, "Send queue: one message per email"),
            Output.QUEUE_ARN: (queues.queue.queue_arn, "Send queue ARN"),
            Output.DLQ_URL: (queues.dlq.queue_url, "Dead-letter queue"),
            Output.DLQ_ARN: (queues.dlq.queue_arn, "Dead-letter queue ARN"),
            Output.CONFIGURATION_SET_NAME: (
                ses_events.configuration_set_name,
                "SES configuration set every email is sent with",
            ),
            Output.EVENTS_TOPIC_ARN: (
                ses_events.events_topic.topic_arn,
                "SNS topic of bounces, complaints, rejects and rendering failures",
            ),
            Output.ALARMS_TOPIC_ARN: (monitoring.alarms_topic.topic_arn, "SNS topic of the alarms"),
            Output.DASHBOARD_URL: (monitoring.dashboard_url, "CloudWatch dashboard"),
            Output.IDEMPOTENCY_TABLE_NAME: (
                table.table_name,
                "Idempotency ledger: each message id's claim (enqueue counts re-runs from it)",
            ),
            Output.STATUS_TABLE_NAME: (
                status.table.table_name,
                "Campaign status: each email's latest outcome, each campaign's counts",
            ),
            Output.UNSUBSCRIBE_URL: (unsubscribe.url, "One-click unsubscribe endpoint (RFC 8058)"),
            Output.SUPPRESSION_TABLE_NAME: (
                unsubscribe.table.table_name,
                "Suppression list: keyed recipient hashes and lists, no address",
            ),
            Output.UNSUBSCRIBE_SECRET_ARN: (
                unsubscribe.secret.secret_arn,
                "Secret that signs unsubscribe links and keys recipient hashes (and ids)",
            ),
            Output.ATTACHMENT_BUCKET_NAME: (
                options.attachment_bucket.bucket_name,
                "S3 bucket of the files messages attach (attachments[].key)",
            ),
            Output.CAMPAIGN_BUCKET_NAME: (
                scheduling.bucket.bucket_name,
                "S3 bucket of scheduled campaign files (enqueue --at), deleted once enqueued",
            ),
            Output.SCHEDULE_GROUP_NAME: (
                scheduling.group_name,
                "EventBridge Scheduler group of the one-time schedules enqueue --at creates",
            ),
            Output.ENQUEUE_FUNCTION_ARN: (
                scheduling.function.function_arn,
                "The function each schedule starts: puts the campaign's rows on the queue",
            ),
            Output.SCHEDULER_ROLE_ARN: (
                scheduling.scheduler_role.role_arn,
                "The role each schedule runs with: may invoke the enqueue function only",
            ),
        }
        for domain, records in (identities.dkim_records() if identities else {}).items():
            outputs[dkim_output_id(domain)] = (
                records,
                f"DKIM CNAME records of {domain} for its DNS (NAME CNAME VALUE, comma-separated)",
            )
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)


def build(app: App) -> BulkEmailStack:
    """The stack, named and configured from the app's context (cdk.json and -c)."""
    settings = Settings.from_node(app.node)
    return BulkEmailStack(app, settings.stack_name, settings=settings)
