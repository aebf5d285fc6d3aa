"""Writes permanent failures to the DLQ in DESIGN.md section 5's record format."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bulk_sender.records import SqsRecord, redact

MAX_BATCH_ENTRIES = 10
MAX_ATTRIBUTES = 10
MAX_ERROR_MESSAGE = 1024
DEFAULT_MAX_MESSAGE_BYTES = 262_144
OWN_ATTRIBUTES = ("ErrorCode", "ErrorMessage", "SourceMessageId", "FailedAt")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    record: SqsRecord
    code: str
    reason: str


def dlq_attributes(letter: DeadLetter, failed_at: str) -> dict[str, dict[str, Any]]:
    """Our four attributes, then the original's own ones up to SQS's limit of 10."""
    own = {
        "ErrorCode": letter.code,
        "ErrorMessage": redact(letter.reason)[:MAX_ERROR_MESSAGE] or letter.code,
        "SourceMessageId": letter.record.message_id,
        "FailedAt": failed_at,
    }
    attributes = {name: {"DataType": "String", "StringValue": v} for name, v in own.items()}
    for name, value in letter.record.message_attributes.items():
        if len(attributes) >= MAX_ATTRIBUTES:
            break
        if name not in attributes:
            attributes[name] = _from_event_attribute(value)
    return attributes


def _from_event_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """Lambda's event spells attributes in camelCase; SendMessage wants PascalCase."""
    converted: dict[str, Any] = {"DataType": value.get("dataType", "String")}
    if value.get("stringValue") is not None:
        converted["StringValue"] = value["stringValue"]
    if value.get("binaryValue") is not None:
        converted["BinaryValue"] = base64.b64decode(value["binaryValue"])
    return converted


def message_batches(
    entries: Iterable[dict[str, Any]], *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> Iterator[list[dict[str, Any]]]:
    """SendMessageBatch entries cut into calls: at most 10 entries and `max_bytes` (bodies
    and attributes) each. Used by the handler's DLQ writes and by the CLI."""
    batch: list[dict[str, Any]] = []
    batch_bytes = 0
    for entry in entries:
        size = _size(entry["MessageBody"], entry.get("MessageAttributes") or {})
        if batch and (len(batch) == MAX_BATCH_ENTRIES or batch_bytes + size > max_bytes):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(entry)
        batch_bytes += size
    if batch:
        yield batch


def _size(body: str, attributes: dict[str, dict[str, Any]]) -> int:
    size = len(body.encode("utf-8"))
    for name, value in attributes.items():
        payload = value.get("StringValue", "").encode("utf-8") + value.get("BinaryValue", b"")
        size += len(name.encode()) + len(value["DataType"].encode()) + len(payload)
    return size


class DeadLetterQueue:
    """Sends dead letters with SendMessageBatch, batched by count and by bytes."""

    def __init__(
        self,
        sqs: Any,
        url: str,
        *,
        max_batch_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sqs = sqs
        self._url = url
        self._max_batch_bytes = max_batch_bytes
        self._now = now

    def send(self, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        """Write every letter; return those that could not be written."""
        failed_at = self._now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entries = [
            {
                "Id": str(i),
                "MessageBody": letter.record.body,
                "MessageAttributes": dlq_attributes(letter, failed_at),
            }
            for i, letter in enumerate(letters)
        ]
        failed: list[DeadLetter] = []
        for batch in message_batches(entries, max_bytes=self._max_batch_bytes):
            try:
                response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=batch)
                failed_ids = [f["Id"] for f in response.get("Failed", [])]
            except Exception:
                log.exception("dlq_write_failed", extra={"entries": len(batch)})
                failed_ids = [entry["Id"] for entry in batch]
            failed.extend(letters[int(i)] for i in failed_ids)
        return failed
