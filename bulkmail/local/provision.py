"""The emulator, the environment, and what the stack provisions, on the emulator."""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from bulk_sender.names import Env, Output
from bulkmail import queues
from bulkmail.local import emulator as emu
from bulkmail.local import stack_facts as facts
from bulkmail.local.settings import LocalSettings
from stacks.template_files import by_ses_name, load_templates


@contextmanager
def running_emulator(given: emu.Emulator | None) -> Iterator[emu.Emulator]:
    if given is not None:
        yield given
        return
    with emu.start_server() as started:
        yield started


def reset_moto(endpoint_url: str) -> None:
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


@contextmanager
def local_env(endpoint_url: str, settings: LocalSettings) -> Iterator[None]:
    """Dummy credentials, the region and the emulator's endpoint; restored afterwards."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            del os.environ[name]
    for name in (Env.DEFAULT_FROM, Env.DEFAULT_TEMPLATE, Env.DEFAULT_TAGS):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=settings.region,
        AWS_REGION=settings.region,
        AWS_ENDPOINT_URL=endpoint_url,
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def handler_env(settings: LocalSettings, urls: dict[str, str]) -> dict[str, str]:
    """The Lambda's environment as the stack sets it, with the local differences."""
    return {
        Env.DLQ_URL: urls[Output.DLQ_URL],
        Env.QUEUE_URL: urls[Output.QUEUE_URL],
        Env.CONFIGURATION_SET_NAME: settings.configuration_set,
        Env.ALLOWED_CONFIGURATION_SETS: settings.configuration_set,
        Env.TEMPLATE_PREFIX: settings.template_prefix,
        Env.IDEMPOTENCY_TABLE: settings.table_name,
        Env.STATUS_TABLE: settings.status_table_name,
        Env.MAX_RECEIVE_COUNT: str(facts.max_receive_count()),
        Env.MAX_SEND_RATE: f"{settings.max_send_rate:g}",
        Env.MAX_CONCURRENCY: "1",
        Env.MAX_CALLS_IN_FLIGHT: str(settings.max_calls_in_flight),
        Env.RETRY_BACKOFF_BASE_SECONDS: "0",
        # The delay of the copies held while sending is paused (pause.py; the stack: 900 s).
        Env.RETRY_BACKOFF_MAX_SECONDS: str(settings.held_delay_seconds),
        Env.UNSUBSCRIBE_SECRET_ARN: urls[Output.UNSUBSCRIBE_SECRET_ARN],
        Env.SUPPRESSION_TABLE: urls[Output.SUPPRESSION_TABLE_NAME],
        **(
            {Env.UNSUBSCRIBE_URL: urls[Output.UNSUBSCRIBE_URL]}
            if Output.UNSUBSCRIBE_URL in urls
            else {}
        ),
        Env.POWERTOOLS_SERVICE_NAME: os.environ.get(Env.POWERTOOLS_SERVICE_NAME, "bulk-email"),
        Env.POWERTOOLS_METRICS_NAMESPACE: os.environ.get(
            Env.POWERTOOLS_METRICS_NAMESPACE, "BulkEmail"
        ),
        Env.ATTACHMENT_BUCKET: urls[Output.ATTACHMENT_BUCKET_NAME],
    }


def _queue_with_dlq(
    sqs: Any, settings: LocalSettings, name: str, dlq_name: str, path: str, dlq_path: str
) -> tuple[str, str]:
    """The queue at ``path`` of the stack and its DLQ: their attributes and redrive count as
    the stack sets them. The local difference: the visibility timeout is shortened (DESIGN.md
    section 12; the invocation deadline the poller gives the handler is set against it)."""
    dlq_url: str = sqs.create_queue(
        QueueName=dlq_name, Attributes=facts.queue_attributes(dlq_path)
    )["QueueUrl"]
    redrive = {
        "deadLetterTargetArn": queues.queue_arn(sqs, dlq_url),
        "maxReceiveCount": facts.max_receive_count(path),
    }
    queue_url: str = sqs.create_queue(
        QueueName=name,
        Attributes={
            **facts.queue_attributes(path),
            "VisibilityTimeout": str(settings.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return dlq_url, queue_url


def provision(settings: LocalSettings) -> dict[str, str]:
    """What the stack provisions, on the emulator: queues, identity, templates, set, tables,
    and the events queue SES's events go to (with its DLQ).

    Returns the stack's outputs it emulates: QueueUrl, QueueArn, DlqUrl, DlqArn,
    ConfigurationSetName, EventsTopicArn, AlarmsTopicArn, AttachmentBucketName,
    SuppressionTableName, UnsubscribeSecretArn, StatusTableName (the endpoint's UnsubscribeUrl
    comes with its server: bulkmail.local.http), the events queue's EventsQueueUrl and
    EventsQueueArn, and IdempotencyTableName.
    """
    sqs = boto3.client("sqs")
    dlq_url, queue_url = _queue_with_dlq(
        sqs, settings, settings.queue_name, settings.dlq_name, facts.SEND_QUEUE, facts.DLQ
    )
    dlq_arn = queues.queue_arn(sqs, dlq_url)
    ses = boto3.client("sesv2")
    ses.create_email_identity(EmailIdentity=settings.identity)
    emu.verify_identities(settings.region)
    ses.create_configuration_set(
        ConfigurationSetName=settings.configuration_set, **facts.configuration_set_options()
    )
    # The stack's own function (stacks/template_files.py) over the local run's templates
    # directory, which may be another than the stack's (--templates-dir).
    templates = by_ses_name(load_templates(settings.templates), settings.template_prefix)
    for name, template in templates.items():
        ses.create_email_template(TemplateName=name, TemplateContent=template.ses_content())
    dynamodb = boto3.client("dynamodb")
    facts.create_table(dynamodb, settings.table_name, facts.LEDGER_TABLE)
    facts.create_table(dynamodb, settings.status_table_name, facts.STATUS_TABLE)
    facts.create_table(dynamodb, settings.suppression_table_name, facts.SUPPRESSION_TABLE)
    _, events_url = _queue_with_dlq(
        sqs,
        settings,
        settings.events_queue_name,
        settings.events_dlq_name,
        facts.EVENTS_QUEUE,
        facts.EVENTS_DLQ,
    )
    # Generated here as the stack's is at deploy time: never a fixed value.
    secret = boto3.client("secretsmanager").create_secret(
        Name=settings.unsubscribe_secret_name, SecretString=secrets.token_urlsafe(48)
    )
    location = {} if settings.region == "us-east-1" else {"LocationConstraint": settings.region}
    boto3.client("s3").create_bucket(
        Bucket=settings.attachment_bucket, CreateBucketConfiguration=location
    )
    sns = boto3.client("sns")
    return {
        Output.SUPPRESSION_TABLE_NAME: settings.suppression_table_name,
        Output.UNSUBSCRIBE_SECRET_ARN: secret["ARN"],
        Output.QUEUE_URL: queue_url,
        Output.QUEUE_ARN: queues.queue_arn(sqs, queue_url),
        Output.DLQ_URL: dlq_url,
        Output.DLQ_ARN: dlq_arn,
        Output.CONFIGURATION_SET_NAME: settings.configuration_set,
        Output.EVENTS_TOPIC_ARN: sns.create_topic(Name=f"{settings.queue_name}-events")["TopicArn"],
        Output.ALARMS_TOPIC_ARN: sns.create_topic(Name=f"{settings.queue_name}-alarms")["TopicArn"],
        Output.IDEMPOTENCY_TABLE_NAME: settings.table_name,
        Output.STATUS_TABLE_NAME: settings.status_table_name,
        "EventsQueueUrl": events_url,
        "EventsQueueArn": queues.queue_arn(sqs, events_url),
        Output.ATTACHMENT_BUCKET_NAME: settings.attachment_bucket,
    }
