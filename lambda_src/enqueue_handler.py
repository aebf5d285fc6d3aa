"""Lambda entry point of the scheduled enqueue: Powertools wiring, then one call into the core.

EventBridge Scheduler invokes it (asynchronously) with a schedule's input; when the run
stops short of the end for time, it invokes itself asynchronously with the same input, and
the next run continues at the first chunk not yet recorded (bulk_sender/schedule_enqueue.py).
A run that fails raises: Lambda's retries of the asynchronous invocation continue the same way.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from bulk_sender import metric_names
from bulk_sender.names import Env
from bulk_sender.schedule_enqueue import CONTINUE, CampaignEnqueuer

logger = Logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"bulk_sender"})

WORKERS = 8
_enqueuer: CampaignEnqueuer | None = None
_lambda: Any = None


def enqueuer() -> CampaignEnqueuer:
    """Built on first use (settings read once) and kept for the container's life."""
    global _enqueuer
    if _enqueuer is None:
        _enqueuer = CampaignEnqueuer(
            s3=boto3.client("s3"),
            sqs=boto3.client("sqs", config=Config(max_pool_connections=WORKERS + 2)),
            dynamodb=boto3.client("dynamodb"),
            bucket=os.environ[Env.CAMPAIGN_BUCKET],
            queue_url=os.environ[Env.QUEUE_URL],
            status_table=os.environ[Env.STATUS_TABLE],
            workers=WORKERS,
        )
    return _enqueuer


def continue_later(function_arn: str, event: dict[str, Any]) -> None:
    global _lambda
    if _lambda is None:
        _lambda = boto3.client("lambda")
    _lambda.invoke(FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(event))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = enqueuer().run(event, remaining_ms=context.get_remaining_time_in_millis)
    metrics.add_metric(
        name=metric_names.SCHEDULED_ROWS_ENQUEUED, unit=MetricUnit.Count, value=result.enqueued
    )
    if result.state == CONTINUE:
        continue_later(context.invoked_function_arn, event)
    return result.response()
