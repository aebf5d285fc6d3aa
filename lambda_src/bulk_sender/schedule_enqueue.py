"""The enqueue function's core: a scheduled campaign file onto the send queue, resumably.

A schedule hands the function `{"campaign", "instant", "rows", "key"}` (schedule.payload).
The file at `key` in the campaign bucket holds one SQS body per line, already checked by the
CLI. It is read as a stream and cut into chunks of CHUNK_ROWS lines; each chunk goes onto the
queue with parallel SendMessageBatch calls, then is checkpointed with one conditional
UpdateItem on the campaign's counts item (status table):

    ADD enqueued :n, scheduled :-n, enqueue_chunks :{chunk}
    IF NOT contains(enqueue_chunks, :chunk)

so a chunk is counted once however often it is offered. A run that times out or fails part way
leaves the chunks it finished recorded; the next run (the self re-invocation, Lambda's retry
of an asynchronous invocation, or the schedule's retry policy) skips them and continues with
the first chunk not recorded. A chunk sent but not recorded (a crash between the two) is sent
again: the ledger's ids make the second offer harmless, and it is counted once, when recorded.
Once every chunk is recorded the file is deleted (the bucket's lifecycle is the backstop).
A run that finds no file (`schedule cancel` deleted it as the schedule fired) stops there:
that is not an error to retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bulk_sender import schedule
from bulk_sender.dlq import message_batches
from bulk_sender.names import Scheduled, Table

log = logging.getLogger(__name__)

COUNTS_KEY_SK = "#counts"  # bulk_sender.status_table.COUNTS_SK
ENQUEUED = "enqueued"  # bulk_sender.campaign_status.ENQUEUED
TTL_ATTRIBUTE = Table.TTL_ATTRIBUTE
DEFAULT_TTL_SECONDS = 90 * 24 * 3600
# A chunk is started only with this much of the invocation left (a chunk of 1,000 rows takes
# a second or two; the margin also covers the checkpoint and the re-invocation).
DEFAULT_MARGIN_MS = 30_000
SEND_ATTEMPTS = 4  # per batch: entries SQS answers Failed are offered again

# What this module calls, and only that (the stack grants exactly these).
BUCKET_ACTIONS = ("s3:GetObject", "s3:DeleteObject")  # HeadObject is authorised as GetObject
# On the bucket itself: without it S3 answers a missing file 403, not 404 (module doc).
BUCKET_LIST_ACTIONS = ("s3:ListBucket",)
QUEUE_ACTIONS = ("sqs:SendMessage",)  # SendMessageBatch is authorised as SendMessage
STATUS_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")

DONE, CONTINUE, REFUSED, GONE = "done", "continue", "refused", "gone"


class PayloadError(ValueError):
    """The schedule's input is not one this function can run (logged, never retried)."""


class ChunkNotEnqueued(RuntimeError):
    """SQS kept refusing part of a chunk: the run stops, the chunk is not recorded."""


@dataclass(frozen=True)
class Job:
    campaign: str
    instant: datetime
    rows: int
    key: str

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Job:
        try:
            campaign, label = str(payload["campaign"]), str(payload["instant"])
            rows, key = int(payload["rows"]), str(payload["key"])
            instant = schedule.parse_instant_label(label)
        except (KeyError, TypeError, ValueError) as error:
            raise PayloadError(f"not a scheduled campaign: {error!r}") from None
        if not campaign or rows < 0 or not key.startswith(schedule.OBJECT_PREFIX):
            raise PayloadError("not a scheduled campaign: campaign, rows or key out of range")
        return cls(campaign=campaign, instant=instant, rows=rows, key=key)

    @property
    def chunks(self) -> int:
        return schedule.chunk_count(self.rows)


@dataclass
class Result:
    # DONE, CONTINUE (time ran short: run again), REFUSED (a bad payload), GONE (no file:
    # the campaign was cancelled)
    state: str
    enqueued: int = 0  # rows put on the queue and recorded by this run
    chunks_recorded: int = 0  # by this run
    chunks_skipped: int = 0  # recorded by an earlier run
    reason: str = ""

    def response(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "enqueued": self.enqueued,
            "chunks_recorded": self.chunks_recorded,
            "chunks_skipped": self.chunks_skipped,
            "reason": self.reason,
        }


class CampaignEnqueuer:
    """Streams one scheduled campaign file onto the queue (clients injected)."""

    def __init__(
        self,
        *,
        s3: Any,
        sqs: Any,
        dynamodb: Any,
        bucket: str,
        queue_url: str,
        status_table: str,
        workers: int = 8,
        chunk_rows: int = schedule.CHUNK_ROWS,
        margin_ms: int = DEFAULT_MARGIN_MS,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.s3, self.sqs, self.dynamodb = s3, sqs, dynamodb
        self.bucket, self.queue_url, self.status_table = bucket, queue_url, status_table
        self.workers = workers
        self.chunk_rows = chunk_rows
        self.margin_ms = margin_ms
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def run(self, payload: Mapping[str, Any], remaining_ms: Callable[[], int]) -> Result:
        try:
            job = Job.from_payload(payload)
        except PayloadError as error:
            log.error("campaign_enqueue_refused", extra={"reason": str(error)})
            return Result(state=REFUSED, reason=str(error))
        chunks = schedule.chunk_count(job.rows, self.chunk_rows)
        done = self.recorded_chunks(job)
        result = Result(state=DONE, chunks_skipped=len(done))
        if len(done) < chunks and not self._exists(job):
            # `schedule cancel` deleted it as the schedule fired: nothing to retry.
            log.warning("campaign_file_gone", extra={"campaign": job.campaign})
            return Result(state=GONE, chunks_skipped=len(done), reason="campaign file not found")
        if len(done) < chunks:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="enqueue") as pool:
                for index, bodies in self._chunks(job):
                    if index in done:
                        continue
                    if result.chunks_recorded and remaining_ms() < self.margin_ms:
                        result.state = CONTINUE
                        log.info(
                            Scheduled.EVENT_CONTINUE,
                            extra={"campaign": job.campaign, "next_chunk": index},
                        )
                        return result
                    self._send(pool, bodies)
                    if self._record(job, index, len(bodies)):
                        result.enqueued += len(bodies)
                    result.chunks_recorded += 1
                    log.info(
                        Scheduled.EVENT_CHUNK,
                        extra={"campaign": job.campaign, "chunk": index, "rows": len(bodies)},
                    )
        self._delete(job)
        log.info(
            Scheduled.EVENT_DONE,
            extra={"campaign": job.campaign, "instant": schedule.instant_label(job.instant)},
        )
        return result

    # --- the checkpoints ----------------------------------------------------------------

    def _key(self, job: Job) -> dict[str, Any]:
        return {
            Table.STATUS_PARTITION_KEY: {"S": job.campaign},
            Table.STATUS_SORT_KEY: {"S": COUNTS_KEY_SK},
        }

    def recorded_chunks(self, job: Job) -> set[int]:
        """The chunk indexes of this instant already recorded (strongly consistent)."""
        item = self.dynamodb.get_item(
            TableName=self.status_table,
            Key=self._key(job),
            ConsistentRead=True,
            ProjectionExpression="#c",
            ExpressionAttributeNames={"#c": Scheduled.CHUNKS},
        ).get("Item", {})
        prefix = schedule.instant_label(job.instant) + "/"
        return {
            int(value[len(prefix) :])
            for value in item.get(Scheduled.CHUNKS, {}).get("SS", [])
            if value.startswith(prefix)
        }

    def _record(self, job: Job, index: int, rows: int) -> bool:
        """Count the chunk once: False if another run recorded it first."""
        try:
            self.dynamodb.update_item(
                TableName=self.status_table,
                Key=self._key(job),
                UpdateExpression="ADD #e :n, #s :minus, #c :chunk SET #x = :x",
                ConditionExpression="NOT contains(#c, :id)",
                ExpressionAttributeNames={
                    "#e": ENQUEUED,
                    "#s": Scheduled.SCHEDULED,
                    "#c": Scheduled.CHUNKS,
                    "#x": TTL_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":n": {"N": str(rows)},
                    ":minus": {"N": str(-rows)},
                    ":chunk": {"SS": [schedule.chunk_id(job.instant, index)]},
                    ":id": {"S": schedule.chunk_id(job.instant, index)},
                    ":x": {"N": str(int(self.clock()) + self.ttl_seconds)},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # --- the file and the queue ---------------------------------------------------------

    def _exists(self, job: Job) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=job.key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _chunks(self, job: Job) -> Iterator[tuple[int, list[str]]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=job.key)["Body"]
        chunk: list[str] = []
        index = 0
        for raw in body.iter_lines():
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if not line.strip():
                continue
            chunk.append(line)
            if len(chunk) == self.chunk_rows:
                yield index, chunk
                chunk, index = [], index + 1
        if chunk:
            yield index, chunk

    def _send(self, pool: ThreadPoolExecutor, bodies: list[str]) -> None:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        failed = [
            code for codes in pool.map(self._send_batch, message_batches(entries)) for code in codes
        ]
        if failed:
            raise ChunkNotEnqueued(f"{len(failed)} rows not enqueued ({failed[0]})")

    def _send_batch(self, entries: list[dict[str, str]]) -> list[str]:
        """Offer the batch, then its Failed entries again; the codes still failing."""
        codes: list[str] = []
        for _ in range(SEND_ATTEMPTS):
            try:
                response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as error:
                codes = [_code(error)] * len(entries)
                continue
            failed_ids = {f["Id"]: f.get("Code", "Unknown") for f in response.get("Failed", [])}
            if not failed_ids:
                return []
            entries = [entry for entry in entries if entry["Id"] in failed_ids]
            codes = list(failed_ids.values())
        return codes

    def _delete(self, job: Job) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=job.key)
        except (ClientError, BotoCoreError) as error:  # the lifecycle deletes it later
            log.warning(
                "campaign_file_not_deleted",
                extra={"campaign": job.campaign, "error_code": _code(error)},
            )


def _code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "Unknown")
    return type(error).__name__


def encode_bodies(bodies: list[str]) -> bytes:
    """The campaign file: one body per line. Bodies come from JSONL lines or json.dumps, so
    none holds a raw newline; one that did would become two rows, hence the check."""
    if any("\n" in body or "\r" in body for body in bodies):
        raise ValueError("a message body holds a raw line break")
    return "".join(body + "\n" for body in bodies).encode("utf-8")
