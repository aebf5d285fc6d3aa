"""Writes permanent failures to the DLQ in DESIGN.md section 5's record format."""

from __future__ import annotations

import base64
import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bulk_sender.records import SqsRecord, redact
from bulk_sender.sqs_limits import DLQ_MAX_MESSAGE_BYTES

MAX_BATCH_ENTRIES = 10
MAX_ATTRIBUTES = 10
MAX_ERROR_MESSAGE = 1024
MAX_ERROR_CODE = 256
MAX_SOURCE_MESSAGE_ID = 128
# Each value at most this many characters (4 UTF-8 bytes each): with the names and types,
# the four fit sqs_limits.DEAD_LETTER_ATTRIBUTES_BYTES.
DEFAULT_MAX_MESSAGE_BYTES = DLQ_MAX_MESSAGE_BYTES
OWN_ATTRIBUTES = ("ErrorCode", "ErrorMessage", "SourceMessageId", "FailedAt")
# What SQS refuses in a message or attribute value (outside #x9 #xA #xD #x20-#xD7FF
# #xE000-#xFFFD #x10000-#x10FFFF): replaced, or the letter could never be written. Written
# as the set it refuses, and compiled on the first dead letter: the complement's class of
# every allowed code point took 27 ms of each cold start (bench/cold_start.py, issue 23).
NOT_ALLOWED_IN_SQS = "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"


@functools.cache
def _not_allowed_in_sqs() -> re.Pattern[str]:
    return re.compile(NOT_ALLOWED_IN_SQS)


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    record: SqsRecord
    code: str
    reason: str


def dlq_attributes(letter: DeadLetter, failed_at: str) -> dict[str, dict[str, Any]]:
    """Our four attributes, then the original's own ones up to SQS's limit of 10."""
    code = _attribute_text(letter.code)[:MAX_ERROR_CODE] or "Unknown"
    own = {
        "ErrorCode": code,
        "ErrorMessage": _attribute_text(redact(letter.reason))[:MAX_ERROR_MESSAGE] or code,
        "SourceMessageId": _attribute_text(letter.record.message_id)[:MAX_SOURCE_MESSAGE_ID],
        "FailedAt": failed_at,
    }
    attributes = {name: {"DataType": "String", "StringValue": v} for name, v in own.items()}
    for name, value in letter.record.message_attributes.items():
        if len(attributes) >= MAX_ATTRIBUTES:
            break
        if name not in attributes:
            attributes[name] = _from_event_attribute(value)
    return attributes


def _attribute_text(text: str) -> str:
    """A value SQS takes: characters it refuses become U+FFFD."""
    return _not_allowed_in_sqs().sub("\ufffd", text)


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

    def send(
        self, letters: Sequence[DeadLetter], *, may_start: Callable[[], bool] = lambda: True
    ) -> list[DeadLetter]:
        """Write every letter; return those that could not be written. No SendMessageBatch
        starts once `may_start()` says no (the deadline): the rest are returned unwritten."""
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
        batches = list(message_batches(entries, max_bytes=self._max_batch_bytes))
        for number, batch in enumerate(batches):
            if not may_start():
                left = [entry for rest in batches[number:] for entry in rest]
                log.warning("dlq_write_skipped", extra={"entries": len(left)})
                failed.extend(letters[int(entry["Id"])] for entry in left)
                break
            try:
                response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=batch)
            except Exception:
                log.exception("dlq_write_failed", extra={"entries": len(batch)})
                failed.extend(letters[int(entry["Id"])] for entry in batch)
                continue
            for entry in response.get("Failed", []):
                letter = letters[int(entry["Id"])]
                log.error(
                    "dlq_entry_failed",
                    extra={
                        "source_message_id": letter.record.message_id,
                        "error_code": letter.code,
                        "sqs_code": entry.get("Code", ""),
                        "sender_fault": entry.get("SenderFault"),
                        "reason": redact(entry.get("Message", "")),
                    },
                )
                failed.append(letter)
        return failed
