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
DLQ_RETENTION = Duration.days(14)


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

        self.dlq = sqs.Queue(
            self,
            "Dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
            max_message_size_bytes=DLQ_MAX_MESSAGE_SIZE_BYTES,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            max_message_size_bytes=MAX_MESSAGE_SIZE_BYTES,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=max_receive_count
            ),
        )
