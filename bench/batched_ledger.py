"""A what-if for the idempotency ledger: the same claims and completions, batched.

Not used by the Lambda: the benchmark swaps it in to measure the fix it proposes for the
core's `DynamoLedger`, which makes two DynamoDB requests per message (a conditional PutItem
to claim, an UpdateItem to complete). Here one SendBulkEmail call of up to 50 entries
claims its ids with one TransactWriteItems (the same condition on each Put; a cancelled
transaction names the ids at fault, and the rest are claimed again without them), and
completes them with BatchWriteItem (25 Puts a request, no condition needed: the claim is
ours). Releases stay one conditional DeleteItem each (a retry path, rare).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from bulk_sender.ledger import COMPLETED, IN_PROGRESS, Claim, DynamoLedger

MAX_TRANSACTION_ITEMS = 100
MAX_BATCH_WRITE_ITEMS = 25


class BatchedLedger(DynamoLedger):
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        ttl_seconds: int,
        claim_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            dynamodb, table, ttl_seconds=ttl_seconds, claim_seconds=claim_seconds, clock=clock
        )

    def claim(self, ids: Iterable[str], *, hold_seconds: float | None = None) -> dict[str, Claim]:
        hold = math.ceil(hold_seconds if hold_seconds is not None else self._claim_seconds)
        results: dict[str, Claim] = {}
        pending = list(dict.fromkeys(ids))
        while pending:
            chunk, pending = pending[:MAX_TRANSACTION_ITEMS], pending[MAX_TRANSACTION_ITEMS:]
            while chunk:  # each round either claims the chunk or removes its conflicts
                conflicts = self._claim_all(chunk, hold)
                if not conflicts:
                    results.update(dict.fromkeys(chunk, Claim.CLAIMED))
                    break
                results.update(conflicts)
                chunk = [message_id for message_id in chunk if message_id not in conflicts]
        return results

    def _claim_all(self, chunk: list[str], hold: int) -> dict[str, Claim]:
        """Claim every id of `chunk` at once; {} when done, else the ids at fault."""
        now = int(self._clock())
        try:
            puts = [{"Put": self._claim_put(message_id, now, hold)} for message_id in chunk]
            self._db.transact_write_items(TransactItems=puts)
            return {}
        except self._db.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            conflicts = {}
            for message_id, reason in zip(chunk, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed":
                    old = reason.get("Item") or {}
                    done = old.get("status", {}).get("S") == COMPLETED
                    conflicts[message_id] = Claim.COMPLETED if done else Claim.IN_FLIGHT
            if not conflicts:
                raise
            return conflicts

    def _claim_put(self, message_id: str, now: int, hold: int) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": {
                "id": {"S": message_id},
                "status": {"S": IN_PROGRESS},
                "owner": {"S": self._owner},
                "claim_expires_at": {"N": str(now + hold)},
                "expires_at": {"N": str(now + hold)},
            },
            "ConditionExpression": (
                "attribute_not_exists(id) OR expires_at < :now"
                " OR (#status = :in_progress AND claim_expires_at < :now)"
            ),
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":now": {"N": str(now)},
                ":in_progress": {"S": IN_PROGRESS},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def complete(self, ids: Iterable[str]) -> None:
        expires = str(int(self._clock()) + self._ttl)
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_BATCH_WRITE_ITEMS):
            requests = [
                {
                    "PutRequest": {
                        "Item": {
                            "id": {"S": message_id},
                            "status": {"S": COMPLETED},
                            "expires_at": {"N": expires},
                        }
                    }
                }
                for message_id in unique[start : start + MAX_BATCH_WRITE_ITEMS]
            ]
            try:
                response = self._db.batch_write_item(RequestItems={self._table: requests})
                unprocessed = response.get("UnprocessedItems", {}).get(self._table, [])
                if unprocessed:  # the core would retry these with backoff, then log
                    self._db.batch_write_item(RequestItems={self._table: unprocessed})
            except Exception:  # sent, but not recorded: as DynamoLedger, acknowledged
                pass
