"""The send queue that producers drop one message per email on, and its dead-letter queue."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

SQS_LIMITS_FILE = (
    Path(__file__).resolve().parent.parent / "lambda_src" / "bulk_sender" / "sqs_limits.py"
)


def _load_limits(path: Path = SQS_LIMITS_FILE) -> ModuleType:
    """The handler's queue sizes, loaded by path (the module imports nothing)."""
    spec = importlib.util.spec_from_file_location("bulk_sender_sqs_limits", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the queue sizes from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_LIMITS = _load_limits()
# Set explicitly, from the module the handler sizes its writes by (DESIGN section 5): a
# message on the queue, and on the DLQ that message plus the handler's four attributes
# (SQS counts attributes toward the size), so that every dead letter can be written.
MAX_MESSAGE_SIZE_BYTES: int = _LIMITS.MAX_MESSAGE_BYTES
DLQ_MAX_MESSAGE_SIZE_BYTES: int = _LIMITS.DLQ_MAX_MESSAGE_BYTES
# SQS's longest, for the queue and its DLQ: a campaign waiting out a paused account (the
# sender stops its mapping and the messages rest on the queue, DESIGN section 11) keeps its
# messages that long.
RETENTION = Duration.days(14)


def queue_with_dlq(
    scope: Construct,
    *,
    queue_id: str,
    dlq_id: str,
    retention: Duration,
    max_receive_count: int,
    visibility_timeout: Duration | None = None,
    max_message_size_bytes: int | None = None,
    dlq_max_message_size_bytes: int | None = None,
) -> tuple[sqs.Queue, sqs.Queue]:
    """A queue and its dead-letter queue under ``scope`` (ids as given: they are the logical
    ids' source), both encrypted and TLS-only, the queue redriving after ``max_receive_count``
    receives. Unset sizes and timeout: SQS's defaults."""
    dlq = sqs.Queue(
        scope,
        dlq_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=retention,
        max_message_size_bytes=dlq_max_message_size_bytes,
    )
    queue = sqs.Queue(
        scope,
        queue_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility_timeout,
        retention_period=retention,
        max_message_size_bytes=max_message_size_bytes,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count),
    )
    return queue, dlq


class SendQueues(Construct):
    """The queue, with redrive to the DLQ after ``max_receive_count`` receives."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        visibility_timeout: Duration,
        max_receive_count: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dlq = queue_with_dlq(
            self,
            queue_id="Queue",
            dlq_id="Dlq",
            retention=RETENTION,
            max_receive_count=max_receive_count,
            visibility_timeout=visibility_timeout,
            max_message_size_bytes=MAX_MESSAGE_SIZE_BYTES,
            dlq_max_message_size_bytes=DLQ_MAX_MESSAGE_SIZE_BYTES,
        )
