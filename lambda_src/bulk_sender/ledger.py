"""Idempotency ledger (DESIGN.md section 5, Idempotency): claim before the call, complete
after SUCCESS, release after a retry.

DynamoDB conditional writes rather than Powertools' idempotency utility: that utility
wraps one function call (or one record) and stores its return value, while here one
SendBulkEmail call carries up to 50 records whose claims must all be taken before the call
and settled one by one from its per-entry results.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from typing import Any

from bulk_sender.records import redact

log = logging.getLogger(__name__)


class Claim(Enum):
    CLAIMED = "claimed"  # ours: send it
    COMPLETED = "completed"  # sent before: acknowledge, do not send
    IN_FLIGHT = "in_flight"  # another invocation holds it: retry later


class NullLedger:
    """Idempotency off (`IDEMPOTENCY_TABLE` unset): every id is claimed."""

    def claim(self, ids: Iterable[str], *, hold_seconds: float | None = None) -> dict[str, Claim]:
        return dict.fromkeys(ids, Claim.CLAIMED)

    def complete(self, ids: Iterable[str]) -> None:
        pass

    def release(self, ids: Iterable[str]) -> None:
        pass

    def dead_lettered(self, sqs_message_ids: Iterable[str]) -> set[str]:
        return set()

    def mark_dead_lettered(self, sqs_message_ids: Iterable[str]) -> None:
        pass


IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
DEAD_LETTERED = "DEAD_LETTERED"
# Dead letters are remembered by SQS message id, not by `id`: a redelivery of the same SQS
# message (its invocation died after the DLQ write) is acknowledged, while a redrive from
# the DLQ (a new SQS message) is sent again.
DEAD_LETTER_KEY = "dlq#{}"
MAX_BATCH_WRITE_ITEMS = 25
BATCH_WRITE_ATTEMPTS = 3


class DynamoLedger:
    """One item per message id: `status`, `owner`, `claim_expires_at`, `expires_at` (TTL).
    Claims are conditional PutItems (one per id, in parallel: DynamoDB has no conditional
    batch write but transactions, which cost twice and cancel whole); completions and dead
    letters are unconditional, so they go 25 to a BatchWriteItem.

    A claim lasts until its invocation's deadline (`hold_seconds`, else `claim_seconds`): a
    claim whose invocation died expires then and the id can be claimed again. Expiry is
    checked in the condition expression, since DynamoDB's TTL deletion lags by up to days.
    """

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        ttl_seconds: int,
        claim_seconds: int,
        clock: Callable[[], float] = time.time,
        workers: int = 8,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._ttl = ttl_seconds
        self._claim_seconds = claim_seconds
        self._clock = clock
        self._owner = uuid.uuid4().hex  # this container; claims are released only by it
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ledger")

    def claim(self, ids: Iterable[str], *, hold_seconds: float | None = None) -> dict[str, Claim]:
        """Claim each id for `hold_seconds` (the invocation's remaining time), by default
        `claim_seconds`: conditional PutItems, in parallel."""
        hold = math.ceil(hold_seconds if hold_seconds is not None else self._claim_seconds)
        unique = list(dict.fromkeys(ids))
        results = self._pool.map(lambda message_id: self._claim_one(message_id, hold), unique)
        return dict(zip(unique, results, strict=True))

    def complete(self, ids: Iterable[str]) -> None:
        """Mark ids sent: unconditional Puts (the claims are ours), 25 a BatchWriteItem. A
        failure is logged and the messages acknowledged anyway (no resend)."""
        expires = {"N": str(int(self._clock()) + self._ttl)}
        items = [{"id": {"S": i}, "status": {"S": COMPLETED}, "expires_at": expires} for i in ids]
        self._put_all(items, "ledger_complete_failed")

    def release(self, ids: Iterable[str]) -> None:
        for _ in self._pool.map(self._release_one, list(ids)):
            pass

    def dead_lettered(self, sqs_message_ids: Iterable[str]) -> set[str]:
        """Which of these SQS messages this ledger saw written to the DLQ already."""
        keys = [DEAD_LETTER_KEY.format(i) for i in dict.fromkeys(sqs_message_ids)]
        found: set[str] = set()
        for start in range(0, len(keys), 100):
            request = {
                self._table: {
                    "Keys": [{"id": {"S": key}} for key in keys[start : start + 100]],
                    "ProjectionExpression": "id",
                }
            }
            while request:
                response = self._db.batch_get_item(RequestItems=request)
                found.update(item["id"]["S"] for item in response["Responses"][self._table])
                request = response.get("UnprocessedKeys") or None
        return {key.removeprefix(DEAD_LETTER_KEY.format("")) for key in found}

    def mark_dead_lettered(self, sqs_message_ids: Iterable[str]) -> None:
        """Remember dead letters by SQS message id. A failure is logged: at worst a
        redelivery of the record is dead-lettered a second time."""
        expires = {"N": str(int(self._clock()) + self._ttl)}
        items = [
            {
                "id": {"S": DEAD_LETTER_KEY.format(i)},
                "status": {"S": DEAD_LETTERED},
                "expires_at": expires,
            }
            for i in sqs_message_ids
        ]
        self._put_all(items, "ledger_mark_failed")

    def _claim_one(self, message_id: str, hold: int) -> Claim:
        now = int(self._clock())
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": message_id},
                    "status": {"S": IN_PROGRESS},
                    "owner": {"S": self._owner},
                    "claim_expires_at": {"N": str(now + hold)},
                    "expires_at": {"N": str(now + hold)},
                },
                ConditionExpression=(
                    "attribute_not_exists(id) OR expires_at < :now"
                    " OR (#status = :in_progress AND claim_expires_at < :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":now": {"N": str(now)},
                    ":in_progress": {"S": IN_PROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return Claim.CLAIMED
        except self._db.exceptions.ConditionalCheckFailedException as error:
            old = error.response.get("Item") or {}
            if old.get("status", {}).get("S") == COMPLETED:
                return Claim.COMPLETED
            return Claim.IN_FLIGHT

    def _put_all(self, items: list[dict[str, Any]], failure_event: str) -> None:
        """Unconditional Puts, 25 a BatchWriteItem, unprocessed ones sent again (twice)."""
        for start in range(0, len(items), MAX_BATCH_WRITE_ITEMS):
            batch = items[start : start + MAX_BATCH_WRITE_ITEMS]
            requests = [{"PutRequest": {"Item": item}} for item in batch]
            try:
                for attempt in range(BATCH_WRITE_ATTEMPTS):
                    response = self._db.batch_write_item(RequestItems={self._table: requests})
                    requests = (response.get("UnprocessedItems") or {}).get(self._table, [])
                    if not requests:
                        break
                    time.sleep(0.05 * 2**attempt)
                else:
                    log.warning(failure_event, extra={"items": len(requests)})
            except Exception:
                log.exception(failure_event, extra={"items": len(requests)})

    def _release_one(self, message_id: str) -> None:
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"id": {"S": message_id}},
                ConditionExpression="#status = :in_progress AND #owner = :owner",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": IN_PROGRESS},
                    ":owner": {"S": self._owner},
                },
            )
        except Exception:
            # The claim expires by itself at its invocation's deadline; the retry waits.
            log.warning("ledger_release_failed", extra={"id": redact(message_id)}, exc_info=True)
