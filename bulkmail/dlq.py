"""The DLQ tools: `dlq show` (a sample, counted by ErrorCode) and `dlq redrive`."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bulk_sender.dlq import MAX_BATCH_ENTRIES, OWN_ATTRIBUTES, message_batches
from bulkmail import queues
from bulkmail.errors import CliError

log = logging.getLogger(__name__)

# Error codes that mean "this endpoint has no message move task" (moto, older emulators).
MOVE_TASK_UNAVAILABLE = frozenset(
    {"InvalidAction", "UnsupportedOperation", "NotImplemented", "InvalidParameterValue"}
)


# --- show -----------------------------------------------------------------------------------


@dataclass
class DlqSample:
    """Messages received (and not deleted) from the DLQ, counted by ErrorCode."""

    approximate_total: int
    visibility_timeout: int
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(queues.reason(message) for message in self.messages)


def sample_dlq(sqs: Any, dlq_url: str, *, limit: int, visibility_timeout: int) -> DlqSample:
    """Receive up to `limit` messages, then make them visible again at once (not deleted).

    `visibility_timeout` hides them only while sampling (so one is not received twice), and
    bounds how long they stay hidden should the sampling be interrupted."""
    queues.queue_arn(sqs, dlq_url)  # it exists (a one-line error if not)
    depth = queues.queue_depth(sqs, dlq_url)
    sample = DlqSample(depth["visible"] + depth["in_flight"], visibility_timeout)
    seen: set[str] = set()
    while len(sample.messages) < limit:
        received = queues.receive(
            sqs,
            dlq_url,
            visibility_timeout=visibility_timeout,
            count=limit - len(sample.messages),
        )
        fresh = [m for m in received if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update(m["MessageId"] for m in fresh)
        sample.messages += fresh
    make_visible(sqs, dlq_url, [message["ReceiptHandle"] for message in sample.messages])
    return sample


def make_visible(sqs: Any, url: str, receipt_handles: list[str]) -> None:
    """ChangeMessageVisibility to 0 in tens: received messages are back on the queue now."""
    for start in range(0, len(receipt_handles), MAX_BATCH_ENTRIES):
        chunk = receipt_handles[start : start + MAX_BATCH_ENTRIES]
        entries = [
            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for i, handle in enumerate(chunk)
        ]
        response = sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
        if response.get("Failed"):
            log.warning("make_visible_failed", extra={"entries": len(response["Failed"])})


def describe_sample(sample: DlqSample, *, per_code: int = 2) -> list[str]:
    """The lines `dlq show` prints: what was sampled, counts by code, a few samples each."""
    timeout = sample.visibility_timeout
    lines = [
        f"DLQ holds about {sample.approximate_total} message(s); sampled "
        f"{len(sample.messages)} (received, NOT deleted, and visible again now; had this "
        f"been interrupted they would be back within {timeout}s).",
    ]
    counts = sample.counts
    if not counts:
        return lines
    width = max(len(code) for code in counts)
    lines.append("")
    lines.append(f"{'ErrorCode':<{width}}  count")
    lines += [f"{code:<{width}}  {count}" for code, count in counts.most_common()]
    lines.append("")
    lines.append("Samples:")
    shown: Counter[str] = Counter()
    for message in sample.messages:
        code = queues.reason(message)
        if shown[code] < per_code:
            shown[code] += 1
            lines.append(_sample_line(message, code))
    return lines


def _sample_line(message: dict[str, Any], code: str) -> str:
    reason = queues.attribute_text(message, "ErrorMessage") or (
        "no ErrorCode: moved by the queue's redrive policy after maxReceiveCount receives"
    )
    failed_at = queues.attribute_text(message, "FailedAt")
    source = queues.attribute_text(message, "SourceMessageId") or message["MessageId"]
    when = f" at {failed_at}" if failed_at else ""
    campaign, email_id = _campaign_and_id(message.get("Body", ""))
    return f"  [{code}] campaign {campaign}, id {email_id}, SQS message {source}{when}: {reason}"


def _campaign_and_id(body: str) -> tuple[str, str]:
    """The body's `campaign` tag and `id`, or `-` where it has none (or is not JSON)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return "-", "-"
    if not isinstance(doc, dict):
        return "-", "-"
    raw_tags = doc.get("tags")
    tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else {}
    campaign, email_id = tags.get("campaign"), doc.get("id")
    return (
        campaign if isinstance(campaign, str) else "-",
        email_id if isinstance(email_id, str) else "-",
    )


# --- redrive --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redrive:
    """From the DLQ to the destination (the source queue): both named, by URL and ARN."""

    dlq_url: str
    dlq_arn: str
    queue_url: str
    queue_arn: str
    approximate: int

    @classmethod
    def plan(cls, sqs: Any, dlq_url: str, queue_url: str) -> Redrive:
        dlq_arn = queues.queue_arn(sqs, dlq_url)
        queue_arn = queues.queue_arn(sqs, queue_url)
        if queue_arn == dlq_arn:
            raise CliError(f"the destination is the DLQ itself ({dlq_url}): give the send queue")
        depth = queues.queue_depth(sqs, dlq_url)
        return cls(dlq_url, dlq_arn, queue_url, queue_arn, depth["visible"] + depth["in_flight"])


def start_move_task(sqs: Any, redrive: Redrive) -> str | None:
    """SQS StartMessageMoveTask to the named destination; None when the endpoint lacks it."""
    try:
        response = sqs.start_message_move_task(
            SourceArn=redrive.dlq_arn, DestinationArn=redrive.queue_arn
        )
    except NotImplementedError:  # moto in process
        return None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in MOVE_TASK_UNAVAILABLE or status in (404, 500, 501):
            log.info("move_task_unavailable", extra={"error_code": code, "status": status})
            return None
        raise
    return response["TaskHandle"]


def copy_messages(
    sqs: Any,
    redrive: Redrive,
    *,
    limit: int | None = None,
    visibility_timeout: int = 30,
    on_moved: Callable[[int], None] | None = None,
    code: str | None = None,
) -> tuple[int, int]:
    """Receive, send to the destination, then delete from the DLQ: the fallback move.

    The body goes unchanged; the handler's four attributes (ErrorCode, ErrorMessage,
    SourceMessageId, FailedAt) are dropped, the message's own attributes kept. A message is
    deleted from the DLQ only after the destination accepted it. With `code`, only messages
    with that ErrorCode move; the others are made visible again at the end. Returns (moved,
    left alone).
    """
    moved = 0
    kept: dict[str, str] = {}  # messages of another code: SQS message id -> receipt handle
    try:
        while limit is None or moved < limit:
            want = MAX_BATCH_ENTRIES if limit is None else min(MAX_BATCH_ENTRIES, limit - moved)
            received = queues.receive(
                sqs, redrive.dlq_url, visibility_timeout=visibility_timeout, count=want
            )
            if not received:
                break
            if code is not None:
                others = [m for m in received if queues.reason(m) != queues.reason_name(code)]
                if others and all(m["MessageId"] in kept for m in received):
                    break  # round the DLQ once: only messages left alone come back
                kept.update((m["MessageId"], m["ReceiptHandle"]) for m in others)
                received = [m for m in received if queues.reason(m) == queues.reason_name(code)]
            count, ok = _move(sqs, redrive, received, on_moved) if received else (0, True)
            moved += count
            if not ok:
                break
    finally:
        make_visible(sqs, redrive.dlq_url, list(kept.values()))
    return moved, len(kept)


def _move(
    sqs: Any,
    redrive: Redrive,
    received: list[dict[str, Any]],
    on_moved: Callable[[int], None] | None,
) -> tuple[int, bool]:
    """Send these to the destination, then delete them from the DLQ: (moved, none failed)."""
    entries = [
        {
            "Id": str(i),
            "MessageBody": message["Body"],
            "MessageAttributes": queues.sendable_attributes(
                message.get("MessageAttributes") or {}, drop=OWN_ATTRIBUTES
            ),
        }
        for i, message in enumerate(received)
    ]
    moved = failed = 0
    for batch in message_batches(entries):  # ten large bodies exceed one call's bytes
        response = sqs.send_message_batch(QueueUrl=redrive.queue_url, Entries=batch)
        sent = [received[int(ok["Id"])]["ReceiptHandle"] for ok in response["Successful"]]
        moved += queues.delete(sqs, redrive.dlq_url, sent)
        if on_moved:
            on_moved(len(sent))
        failed += len(response.get("Failed", []))
    if failed:
        log.warning("redrive_send_failed", extra={"entries": failed})
    return moved, not failed
