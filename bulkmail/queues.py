"""SQS for the CLI: sending and receiving (where the queues are: `bulkmail.target`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bulk_sender.dlq import MAX_BATCH_ENTRIES, message_batches
from bulkmail import target
from bulkmail.errors import CliError

log = logging.getLogger(__name__)

RETRIES_EXHAUSTED = "RetriesExhausted"  # shown for DLQ messages without ErrorCode
# Stack outputs the CLI reads (DESIGN.md section 9).
QUEUE_URL, DLQ_URL = target.QUEUE_URL, target.DLQ_URL


def sqs_client(max_pool: int = 10) -> Any:
    """An SQS client (endpoint from botocore's own AWS_ENDPOINT_URL, if set)."""
    return boto3.client("sqs", config=Config(max_pool_connections=max_pool))


check_queue_url = target.check_queue_url


def queue_arn(sqs: Any, url: str) -> str:
    """The queue's ARN; also the check that the queue exists."""
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if "NonExistentQueue" in code or code == "QueueDoesNotExist":
            raise CliError(f"no such queue: {url}") from None
        raise
    return attributes["Attributes"]["QueueArn"]


def queue_depth(sqs: Any, url: str) -> dict[str, int]:
    """Approximate counts: visible, in flight (not visible) and delayed messages."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {
        "visible": int(attributes.get(names[0], 0)),
        "in_flight": int(attributes.get(names[1], 0)),
        "delayed": int(attributes.get(names[2], 0)),
    }


# --- sending --------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What `Enqueuer.send` did: how many went on the queue, and which failed (index, why)."""

    enqueued: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


class Enqueuer:
    """SendMessageBatch, 10 messages (and at most 256 KiB) a call, several calls in flight."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        workers: int = 4,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._workers = workers
        self._on_sent = on_sent or (lambda _count: None)

    def send(self, bodies: Sequence[str]) -> SendReport:
        """Send every body (in order of batches); a failed entry is reported, not raised."""
        report = SendReport()
        with ThreadPoolExecutor(self._workers, thread_name_prefix="enqueue") as pool:
            in_flight: set[Future[SendReport]] = set()
            entries = ({"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies))
            for batch in message_batches(entries):
                if len(in_flight) >= 2 * self._workers:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    _merge(report, done)
                in_flight.add(pool.submit(self._send_batch, batch))
            _merge(report, wait(in_flight).done)
        report.failed.sort()
        return report

    def _send_batch(self, entries: list[dict[str, str]]) -> SendReport:
        try:
            response = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
        except (ClientError, BotoCoreError) as error:
            code = _error_code(error)
            log.warning("enqueue_failed", extra={"entries": len(entries), "error_code": code})
            return SendReport(0, [(int(entry["Id"]), code) for entry in entries])
        failed = [(int(f["Id"]), f.get("Code", "Unknown")) for f in response.get("Failed", [])]
        sent = len(entries) - len(failed)
        self._on_sent(sent)
        return SendReport(sent, failed)


def _error_code(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "Unknown")
    return type(error).__name__


def _merge(report: SendReport, done: Iterable[Future[SendReport]]) -> None:
    for future in done:
        part = future.result()
        report.enqueued += part.enqueued
        report.failed += part.failed


# --- receiving ------------------------------------------------------------------------------


def receive(
    sqs: Any, url: str, *, visibility_timeout: int, count: int = 10
) -> list[dict[str, Any]]:
    """One ReceiveMessage (short poll) with every system and message attribute."""
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=min(count, MAX_BATCH_ENTRIES),
        VisibilityTimeout=visibility_timeout,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
        WaitTimeSeconds=0,
    )
    return response.get("Messages", [])


def delete(sqs: Any, url: str, receipt_handles: Sequence[str]) -> int:
    """DeleteMessageBatch in tens; returns how many were deleted."""
    deleted = 0
    for start in range(0, len(receipt_handles), MAX_BATCH_ENTRIES):
        chunk = receipt_handles[start : start + MAX_BATCH_ENTRIES]
        entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)]
        response = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        deleted += len(response.get("Successful", []))
    return deleted


def error_code(message: Mapping[str, Any]) -> str:
    """A DLQ message's ErrorCode; messages the redrive policy moved have none."""
    attribute = (message.get("MessageAttributes") or {}).get("ErrorCode") or {}
    return attribute.get("StringValue") or RETRIES_EXHAUSTED


def reason_name(code: str) -> str:
    """A dead letter's reason as one name: SES's UPPER_SNAKE entry statuses in the CamelCase
    of its API errors (MESSAGE_REJECTED -> MessageRejected)."""
    if code.isupper() or "_" in code:
        return "".join(part.capitalize() for part in code.lower().split("_"))
    return code


def reason(message: Mapping[str, Any]) -> str:
    """A DLQ message's reason: its ErrorCode as one name (reason_name)."""
    return reason_name(error_code(message))


def attribute_text(message: Mapping[str, Any], name: str) -> str:
    return ((message.get("MessageAttributes") or {}).get(name) or {}).get("StringValue", "")


def sendable_attributes(
    attributes: Mapping[str, Mapping[str, Any]], drop: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Received message attributes in SendMessage's form, without the names in `drop`."""
    dropped = set(drop)
    converted: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        if name in dropped:
            continue
        kept = {"DataType": value["DataType"]}
        for part in ("StringValue", "BinaryValue"):
            if value.get(part) is not None:
                kept[part] = value[part]
        converted[name] = kept
    return converted
