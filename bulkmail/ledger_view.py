"""What the sender's idempotency ledger says about a campaign's ids (read only).

The sender marks each id it sent `COMPLETED` (lambda_src/bulk_sender/ledger.py); `enqueue`
reads those marks and does not put a re-run's already-sent rows on the queue again (so an
email is enqueued, and counted, once however often its row is offered).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bulk_sender.ledger import COMPLETED

MAX_KEYS = 100  # BatchGetItem's limit


def already_sent(dynamodb: Any, table: str, ids: Sequence[str], *, workers: int = 4) -> int:
    """How many of `ids` the ledger holds as sent (BatchGetItem, 100 keys a call)."""
    return len(sent_ids(dynamodb, table, ids, workers=workers))


def sent_ids(dynamodb: Any, table: str, ids: Sequence[str], *, workers: int = 4) -> set[str]:
    """Those of `ids` the ledger holds as sent (BatchGetItem, 100 keys a call)."""
    ids = list(dict.fromkeys(ids))
    chunks = [ids[start : start + MAX_KEYS] for start in range(0, len(ids), MAX_KEYS)]

    def found_in(chunk: Sequence[str]) -> set[str]:
        request: dict[str, Any] | None = {
            table: {
                "Keys": [{"id": {"S": message_id}} for message_id in chunk],
                "ProjectionExpression": "#id, #status",
                "ExpressionAttributeNames": {"#id": "id", "#status": "status"},
            }
        }
        found: set[str] = set()
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            items = response.get("Responses", {}).get(table, [])
            found |= {
                item["id"]["S"] for item in items if item.get("status", {}).get("S") == COMPLETED
            }
            request = response.get("UnprocessedKeys") or None
        return found

    with ThreadPoolExecutor(workers, thread_name_prefix="ledger") as pool:
        return set().union(*pool.map(found_in, chunks))
