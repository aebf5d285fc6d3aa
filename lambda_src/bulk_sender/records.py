"""SQS records as Lambda delivers them, and the redaction of addresses from free text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A copy the sender put back on the queue while paused (pause.py) carries the original's
# idempotency key here, so that a message without `id` keeps its key across the copy.
ORIGINAL_MESSAGE_ID = "OriginalMessageId"

# Every address form the schema accepts (message.py): a quoted local part (spaces, escaped
# quotes), a dot-atom one (apostrophes and the rest of RFC 5322's atext), any domain (IDN
# included), and an optional display name before <...>, quoted or not (RFC 2047 words too).
_DOMAIN = r"[^\s<>\"(),;:\[\]@\\]+"
_ADDR_SPEC = rf'(?:"(?:[^"\\\r\n]|\\.)*"|[^\s<>"(),;:\[\]@\\]+)@{_DOMAIN}'
_ADDRESS = re.compile(
    rf'(?:"(?:[^"\\\r\n]|\\.)*"[ \t]*|[^\s<>"(),;:\[\]@][^<>"(),;:\[\]@\r\n]*?[ \t]*)?'
    rf"<[ \t]*{_ADDR_SPEC}[ \t]*>"
    rf"|{_ADDR_SPEC}"
)


def redact(text: str) -> str:
    """Replace anything shaped like an email address, with its display name: logs, errors
    and DLQ reasons hold none. Every form matched holds an "@": text without one (most ids)
    skips the backtracking pattern."""
    if "@" not in text:
        return text
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
        attributes = self.message_attributes if isinstance(self.message_attributes, dict) else {}
        carried = attributes.get(ORIGINAL_MESSAGE_ID) or {}
        value = carried.get("stringValue") if isinstance(carried, dict) else None
        return value if isinstance(value, str) and value else self.message_id

    @property
    def is_held_copy(self) -> bool:
        """A copy the sender put back on the queue while paused (its original was received)."""
        attributes = self.message_attributes if isinstance(self.message_attributes, dict) else {}
        return ORIGINAL_MESSAGE_ID in attributes

    @classmethod
    def from_event(cls, raw: Mapping[str, Any]) -> SqsRecord:
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
