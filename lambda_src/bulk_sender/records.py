"""SQS records as Lambda delivers them, and the redaction of addresses from free text."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# A copy the sender put back on the queue while paused (pause.py) carries the original's
# idempotency key here, so that a message without `id` keeps its key across the copy. The
# attribute is the sender's own: it is read only from a message the sender's role sent
# (SQS's SenderId, which no producer can set; `trusted`), so a producer cannot choose a
# message's idempotency key with it (docs/security/stores.md).
ORIGINAL_MESSAGE_ID = "OriginalMessageId"


def principal_of(sender_id: str) -> str:
    """The IAM principal of an SQS SenderId: a role's id without its session name
    (`AROA...:session`), or a user's id."""
    return sender_id.split(":", 1)[0]


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
    # The original's key a copy of the sender's carries (None: not such a copy).
    carried_key: str | None = None

    @property
    def idempotency_key(self) -> str:
        """The key of a message without `id`: its SQS message id, or its original's."""
        return self.carried_key or self.message_id

    @property
    def is_held_copy(self) -> bool:
        """A copy the sender put back on the queue while paused (its original was received)."""
        return self.carried_key is not None

    @classmethod
    def from_event(
        cls, raw: Mapping[str, Any], trusted: Callable[[str], bool] | None = None
    ) -> SqsRecord:
        """One record of a Lambda SQS event. `trusted(sender_id)` says whether the sender's
        own role sent it; only then is its OriginalMessageId read (never without it)."""
        attributes = raw.get("attributes") or {}
        try:
            receive_count = int(attributes.get("ApproximateReceiveCount", 1))
        except (TypeError, ValueError):
            receive_count = 1
        message_attributes = raw.get("messageAttributes") or {}
        carried = _carried_key(message_attributes)
        if carried is not None:
            sender_id = attributes.get("SenderId") if isinstance(attributes, dict) else None
            if not (trusted and isinstance(sender_id, str) and trusted(sender_id)):
                carried = None  # a producer's attribute of that name: not ours, ignored
        return cls(
            message_id=raw["messageId"],  # without it a record cannot be answered for
            receipt_handle=raw.get("receiptHandle") or "",
            body=raw.get("body") or "",
            receive_count=receive_count,
            message_attributes=message_attributes,
            carried_key=carried,
        )


def _carried_key(attributes: Any) -> str | None:
    if not isinstance(attributes, dict):
        return None
    carried = attributes.get(ORIGINAL_MESSAGE_ID) or {}
    value = carried.get("stringValue") if isinstance(carried, dict) else None
    return value if isinstance(value, str) and value else None
