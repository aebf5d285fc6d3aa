"""What the sender's idempotency ledger says about a campaign's ids (read only).

The sender marks each id it sent `COMPLETED` (lambda_src/bulk_sender/ledger.py); `enqueue`
reads those marks to say how many of a re-run's rows the sender will skip.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bulk_sender.ledger import COMPLETED

MAX_KEYS = 100  # BatchGetItem's limit


def already_sent(dynamodb: Any, table: str, ids: Sequence[str], *, workers: int = 4) -> int:
    """How many of `ids` the ledger holds as sent (BatchGetItem, 100 keys a call)."""
    chunks = [ids[start : start + MAX_KEYS] for start in range(0, len(ids), MAX_KEYS)]

    def count(chunk: Sequence[str]) -> int:
        request: dict[str, Any] | None = {
            table: {
                "Keys": [{"id": {"S": message_id}} for message_id in chunk],
                "ProjectionExpression": "#status",
                "ExpressionAttributeNames": {"#status": "status"},
            }
        }
        found = 0
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            items = response.get("Responses", {}).get(table, [])
            found += sum(item.get("status", {}).get("S") == COMPLETED for item in items)
            request = response.get("UnprocessedKeys") or None
        return found

    with ThreadPoolExecutor(workers, thread_name_prefix="ledger") as pool:
        return sum(pool.map(count, chunks))
