"""SQS records as Lambda delivers them, and the redaction of addresses from free text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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
    and DLQ reasons hold none."""
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
