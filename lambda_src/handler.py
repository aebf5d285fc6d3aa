"""Lambda entry point: Powertools wiring, then one call into the sending core."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:  # an annotation only: not imported on a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

from bulk_sender import metric_names
from bulk_sender.core import BulkSender
from bulk_sender.settings import Settings

logger = Logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"bulk_sender"})

_sender: BulkSender | None = None


def sender() -> BulkSender:
    """Built on first use and kept for the container's life (clients, pacing, caches)."""
    global _sender
    if _sender is None:
        _sender = BulkSender(Settings.from_env())
    return _sender


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = sender().process(
        event.get("Records", []), remaining_ms=context.get_remaining_time_in_millis
    )
    for name, total in result.counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=total)
    for latency in result.latencies_ms:
        metrics.add_metric(
            name=metric_names.SEND_BULK_EMAIL_LATENCY, unit=MetricUnit.Milliseconds, value=latency
        )
    return result.response()
