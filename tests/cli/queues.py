"""What a test finds on a queue (moto, in process)."""

import json
from typing import Any


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: dict[str, dict[str, Any]] = {}
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
    ).get("Messages"):
        messages.update((m["MessageId"], m) for m in batch)
    return list(messages.values())


def bodies(sqs: Any, url: str) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in received(sqs, url)]
