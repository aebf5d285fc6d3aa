"""The send queue that producers drop one message per email on, and its dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# SQS's largest message (256 KiB). Set explicitly: the handler batches its DLQ writes by this
# size (DESIGN section 5), so the stack and the handler agree on it.
MAX_MESSAGE_SIZE_BYTES = 262_144
DLQ_RETENTION = Duration.days(14)
# SQS's longest: a campaign waiting out a paused account (the sender stops its mapping and
# the messages rest on the queue, DESIGN section 11) keeps its messages that long.
QUEUE_RETENTION = Duration.days(14)


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
            max_message_size_bytes=MAX_MESSAGE_SIZE_BYTES,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            retention_period=QUEUE_RETENTION,
            max_message_size_bytes=MAX_MESSAGE_SIZE_BYTES,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=max_receive_count
            ),
        )
