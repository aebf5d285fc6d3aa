"""What the stack provisions, read from its synthesized template (DESIGN.md section 11).

The local run and the tests create their queues, tables and configuration set from these
facts, so a change to the stack (a key, a TTL attribute, a redrive count, a message size)
reaches them without a second copy. The template is the default app's, synthesized once per
change of its inputs and cached (stacks/synthesized.py).
"""

from __future__ import annotations

from typing import Any

from stacks.synthesized import default_template, resource

# Construct paths under the stack (stacks/bulk_email_stack.py and its constructs' ids).
SEND_QUEUE, DLQ = "Queues/Queue", "Queues/Dlq"
EVENTS_QUEUE, EVENTS_DLQ = "Status/EventsQueue", "Status/EventsDlq"
LEDGER_TABLE, STATUS_TABLE = "Idempotency/Table", "Status/Table"
SUPPRESSION_TABLE = "Unsubscribe/Table"
CONFIGURATION_SET = "Ses/ConfigurationSet"

# Queue attributes taken as the stack sets them. VisibilityTimeout is not: the local run
# shortens it (LocalSettings.visibility_timeout_seconds, DESIGN.md section 12). Encryption
# (SqsManagedSseEnabled) has no meaning on the emulator.
QUEUE_ATTRIBUTES = ("MaximumMessageSize", "MessageRetentionPeriod")
# The configuration set's options: CloudFormation's property names and shapes are SES v2's
# CreateConfigurationSet parameters.
CONFIGURATION_SET_OPTIONS = (
    "DeliveryOptions",
    "ReputationOptions",
    "SendingOptions",
    "SuppressionOptions",
    "TrackingOptions",
    "VdmOptions",
)
_TABLE_KEYS = ("KeySchema", "AttributeDefinitions", "BillingMode")


def _properties(path: str) -> dict[str, Any]:
    return resource(default_template(), path)


def queue_attributes(path: str) -> dict[str, str]:
    """SQS attributes of the queue at that path, as CreateQueue takes them (no redrive)."""
    properties = _properties(path)
    return {name: str(properties[name]) for name in QUEUE_ATTRIBUTES if name in properties}


def max_receive_count(path: str = SEND_QUEUE) -> int:
    """The receives after which the queue at that path moves a message to its DLQ."""
    return int(_properties(path)["RedrivePolicy"]["maxReceiveCount"])


def table_definition(path: str) -> dict[str, Any]:
    """CreateTable's KeySchema, AttributeDefinitions and BillingMode of the table at that path."""
    properties = _properties(path)
    return {name: properties[name] for name in _TABLE_KEYS}


def ttl_attribute(path: str) -> str | None:
    """The table's time-to-live attribute (None: no TTL)."""
    ttl = _properties(path).get("TimeToLiveSpecification", {})
    return str(ttl["AttributeName"]) if ttl.get("Enabled") else None


def create_table(dynamodb: Any, name: str, path: str) -> None:
    """The table at that path of the stack, named ``name``, with its keys and TTL."""
    dynamodb.create_table(TableName=name, **table_definition(path))
    attribute = ttl_attribute(path)
    if attribute is not None:
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )


def configuration_set_options() -> dict[str, Any]:
    """CreateConfigurationSet's options as the stack sets them."""
    properties = _properties(CONFIGURATION_SET)
    return {name: properties[name] for name in CONFIGURATION_SET_OPTIONS if name in properties}
