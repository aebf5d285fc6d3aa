"""Lambda entry point of the events function: Powertools wiring, then one call into the core
that records SES events (from the events queue) in the campaign status table."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bulk_sender.status_events import EventsProcessor, StatusSettings
from bulk_sender.status_table import StatusTable

logger = Logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"bulk_sender"})

_processor: EventsProcessor | None = None


def processor() -> EventsProcessor:
    """Built on first use and kept for the container's life."""
    global _processor
    if _processor is None:
        settings = StatusSettings.from_env()
        table = StatusTable(
            boto3.client("dynamodb"), settings.table, ttl_seconds=settings.ttl_seconds
        )
        _processor = EventsProcessor(table)
    return _processor


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = processor().process(event.get("Records", []))
    for name, total in result.counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=total)
    return result.response()
