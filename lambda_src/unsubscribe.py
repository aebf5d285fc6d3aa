"""Lambda entry point of the one-click unsubscribe endpoint: Powertools, then one call."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from bulk_sender import unsubscribe_endpoint
from bulk_sender.unsubscribe_endpoint import UnsubscribeEndpoint

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"bulk_sender"})

_endpoint: UnsubscribeEndpoint | None = None


def endpoint() -> UnsubscribeEndpoint:
    """Built on first use and kept for the container's life (clients, the secret's keys)."""
    global _endpoint
    if _endpoint is None:
        clients = boto3.client("secretsmanager"), boto3.client("dynamodb")
        _endpoint = unsubscribe_endpoint.from_env(*clients)
    return _endpoint


# No event logging: the query string holds the token, a capability to unsubscribe someone.
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return endpoint().handle(event)
