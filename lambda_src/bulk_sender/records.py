"""SQS records as Lambda delivers them, and the redaction of addresses from free text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# A copy the sender put back on the queue while paused (pause.py) carries the original's
# idempotency key here, so that a message without `id` keeps its key across the copy.
ORIGINAL_MESSAGE_ID = "OriginalMessageId"

_ADDRESS = re.compile(r"[^\s<>\"'(),;:\[\]]+@[^\s<>\"'(),;:\[\]]+")


def redact(text: str) -> str:
    """Replace anything shaped like an email address: logs and DLQ reasons hold none."""
    return _ADDRESS.sub("<address>", text)


@dataclass(frozen=True)
class SqsRecord:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int = 1
    message_attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """The key of a message without `id`: its SQS message id, or its original's."""
        carried = self.message_attributes.get(ORIGINAL_MESSAGE_ID) or {}
        value = carried.get("stringValue") if isinstance(carried, dict) else None
        return value if isinstance(value, str) and value else self.message_id

    @classmethod
    def from_event(cls, raw: dict[str, Any]) -> SqsRecord:
        """One record of a Lambda SQS event."""
        attributes = raw.get("attributes") or {}
        return cls(
            message_id=raw["messageId"],
            receipt_handle=raw.get("receiptHandle", ""),
            body=raw.get("body", ""),
            receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
            message_attributes=raw.get("messageAttributes") or {},
        )
