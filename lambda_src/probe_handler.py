"""Lambda entry point of the pause probe: Powertools wiring, then one call into the probe."""

from __future__ import annotations

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
from bulk_sender.pause import MarkerStore
from bulk_sender.probe import RESUMED, MappingById, probe
from bulk_sender.settings import parse_configuration_sets

logger = Logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"bulk_sender"})

# Read once per container: the mapping the stack created, the table holding the marker.
MAPPING_UUID = os.environ.get(Env.MAPPING_UUID, "")
PAUSE_TABLE = os.environ.get(Env.PAUSE_TABLE, "")
CONFIGURATION_SET_NAME = os.environ.get(Env.CONFIGURATION_SET_NAME) or None
ALLOWED_CONFIGURATION_SETS = parse_configuration_sets(
    os.environ.get(Env.ALLOWED_CONFIGURATION_SETS), CONFIGURATION_SET_NAME
)
# Bounded: one run (30 s timeout) makes at most 6 calls, each ending within
# 3 attempts x (2 s connect + 3 s read); never botocore's 60 s timeouts.
CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 3, "mode": "standard"}
)

_clients: dict[str, Any] = {}


def client(name: str) -> Any:
    if name not in _clients:
        _clients[name] = boto3.client(name, config=CLIENT_CONFIG)
    return _clients[name]


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = probe(
        ses=client("sesv2"),
        mapping=MappingById(client("lambda"), MAPPING_UUID),
        markers=MarkerStore(client("dynamodb"), PAUSE_TABLE),
        default_configuration_set=CONFIGURATION_SET_NAME,
        allowed_configuration_sets=ALLOWED_CONFIGURATION_SETS,
    )
    if result.state == RESUMED:  # the alarm "Sending paused" goes back to OK
        metrics.add_metric(name=metric_names.SENDING_PAUSED, unit=MetricUnit.Count, value=0)
    if result.unactionable:  # the alarm "Pause marker unactionable"
        metrics.add_metric(
            name=metric_names.PAUSE_MARKERS_UNACTIONABLE, unit=MetricUnit.Count, value=1
        )
    if result.state == RESUMED or result.unactionable:
        metrics.flush_metrics()  # only then: most runs have nothing to publish
    return {"state": result.state, "reason": result.reason}
