"""The handler as Lambda runs it: a fresh sender, the SQS event, the context, EMF."""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bulkmail.local import emulator as emu
from bulkmail.local.settings import LocalSettings

# moto's SQS SenderId for every message (moto.sqs.models.DEFAULT_SENDER_ID).
MOTO_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"

# --- the handler ----------------------------------------------------------------------------


class FlakyDlqWrites:
    """The handler's SQS client, whose SendMessageBatch fails a seeded share of entries.

    The handler calls SendMessageBatch only to write the DLQ. A failed entry is answered in
    `Failed`; when every entry of a call fails, the call raises instead (both paths of
    DESIGN.md section 5's "sending it to the DLQ fails").
    """

    def __init__(self, sqs: Any, rate: float, seed: int) -> None:
        self._sqs = sqs
        self._rate = rate
        self._random = random.Random(f"{seed}:dlq-writes")
        self._lock = threading.Lock()
        self.failed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        entries = request["Entries"]
        with self._lock:
            fails = [self._random.random() < self._rate for _ in entries]
            self.failed += sum(fails)
        error = {"Code": "InternalError", "Message": "Injected DLQ write fault."}
        if entries and all(fails):
            raise ClientError(
                {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 500}}, "SendMessageBatch"
            )
        kept = [entry for entry, fail in zip(entries, fails, strict=True) if not fail]
        response = self._sqs.send_message_batch(**{**request, "Entries": kept})
        failed = [
            {"Id": entry["Id"], "SenderFault": False, **error}
            for entry, fail in zip(entries, fails, strict=True)
            if fail
        ]
        return {**response, "Failed": response.get("Failed", []) + failed}


@contextmanager
def fresh_handler(
    settings: LocalSettings, dlq_fail_rate: float, seed: int, mapping: Any = None
) -> Iterator[FlakyDlqWrites]:
    """A fresh sender for the real handler (its cache, handler._sender), logs off the terminal.
    `mapping` is the poller's stand-in for the event source mapping the sender stops."""
    import events  # the events function, reset the same way

    import handler  # after the environment is set: Powertools reads it at import
    from bulk_sender.core import BulkSender
    from bulk_sender.pause import pause_for
    from bulk_sender.settings import Settings

    sqs = FlakyDlqWrites(boto3.client("sqs"), dlq_fail_rate, seed)
    sender_settings = Settings.from_env()
    handler._sender = BulkSender(
        sender_settings,
        sqs=sqs,
        pause=pause_for(sender_settings, sqs, mapping=mapping),
        # moto gives every message the same SenderId: the local producer and the sender are
        # one principal there (in AWS they are two roles: records.py).
        sender_id=MOTO_SENDER_ID,
    )
    events._processor = None
    stream_handler = handler.logger.registered_handler
    log_stream = (
        settings.log_file.open("w", encoding="utf-8")
        if settings.log_file
        else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    )
    previous = swap_stream(stream_handler, log_stream)
    try:
        yield sqs
    finally:
        swap_stream(stream_handler, previous)
        log_stream.close()
        handler._sender = None
        events._processor = None


def swap_stream(stream_handler: Any, stream: Any) -> Any:
    """Point a log handler at `stream`; the previous one. Powertools binds its handler to the
    sys.stdout of the moment the handler module is first imported, which may be a stream
    closed since (a CliRunner's): that one is replaced, not flushed as setStream would."""
    if getattr(stream_handler.stream, "closed", False):
        previous, stream_handler.stream = stream_handler.stream, stream
        return previous
    return stream_handler.setStream(stream)


@dataclass
class LambdaContext:
    """The Lambda context object the handler and Powertools read."""

    timeout_seconds: int
    function_name: str = "bulk-email-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/bulk-email-local"
    log_stream_name: str = "local"
    _deadline: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{emu.DEFAULT_REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """ReceiveMessage's messages as the records of a Lambda SQS event."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    system = message.get("Attributes") or {}
    wanted = (
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    )
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: system[name] for name in wanted if name in system},
        "messageAttributes": {
            name: _event_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _event_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute in the event's camelCase (binary values base64-encoded)."""
    converted: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if value.get("StringValue") is not None:
        converted["stringValue"] = value["StringValue"]
    if value.get("BinaryValue") is not None:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return converted


def emf_counters(output: str) -> Counter[str]:
    """Sum the metrics of the EMF blobs Powertools printed (one JSON document a line)."""
    totals: Counter[str] = Counter()
    for line in output.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"].get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                value = blob.get(metric["Name"], 0)
                total = sum(value) if isinstance(value, list) else value
                totals[metric["Name"]] += int(total) if float(total).is_integer() else total
    return totals
