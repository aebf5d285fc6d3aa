"""SQS records as Lambda delivers them, and the redaction of addresses from free text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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

    @classmethod
    def from_event(cls, raw: dict[str, Any]) -> SqsRecord:
        """One record of a Lambda SQS event."""
        attributes = raw.get("attributes") or {}
        try:
            receive_count = int(attributes.get("ApproximateReceiveCount", 1))
        except (TypeError, ValueError):
            receive_count = 1
        return cls(
            message_id=raw["messageId"],  # without it a record cannot be answered for
            receipt_handle=raw.get("receiptHandle") or "",
            body=raw.get("body") or "",
            receive_count=receive_count,
            message_attributes=raw.get("messageAttributes") or {},
        )
