"""The suppression table: who unsubscribed from which list, by keyed recipient hash.

Items are keyed by `h` (bulk_sender.recipient_hash: no address is stored) and `list`; the
list `all` covers every list. Reads are BatchGetItem of at most 100 keys a call, the
unprocessed keys asked again a bounded number of times; an unsubscribe is a conditional put,
so a second one changes nothing (its first time stays). Each item records the key version of
its hash (`v`; items without one are version 1): `rekey` copies the previous version's items to
the current one after a rotation and drops older ones (bulk_sender.recipient_hash).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from bulk_sender import names
from bulk_sender.recipient_hash import ALL_LISTS, Keys

log = logging.getLogger(__name__)

HASH_KEY, LIST_KEY = names.Table.SUPPRESSION_HASH_KEY, names.Table.SUPPRESSION_LIST_KEY
VERSION_ATTRIBUTE = names.Unsubscribe.VERSION_ATTRIBUTE
MAX_KEYS_PER_READ = 100  # BatchGetItem's limit
READ_ATTEMPTS = 3


class SuppressionUnavailable(Exception):
    """The table could not say, for some keys, whether they are suppressed."""


def keys_for(h: str, list_name: str) -> set[tuple[str, str]]:
    """The items that suppress recipient `h` on `list_name`: that list, and `all`."""
    return {(h, list_name), (h, ALL_LISTS)}


class SuppressionTable:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock
        self._sleep = sleep

    def suppressed(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of the (h, list) keys are in the table. Raises SuppressionUnavailable when
        DynamoDB leaves keys unprocessed after READ_ATTEMPTS (botocore errors propagate)."""
        wanted = sorted(set(keys))
        found: set[tuple[str, str]] = set()
        for start in range(0, len(wanted), MAX_KEYS_PER_READ):
            found |= self._read(wanted[start : start + MAX_KEYS_PER_READ])
        return found

    def _read(self, chunk: list[tuple[str, str]]) -> set[tuple[str, str]]:
        request: dict[str, Any] = {
            self._table: {
                "Keys": [{HASH_KEY: {"S": h}, LIST_KEY: {"S": name}} for h, name in chunk],
                "ProjectionExpression": "#h, #l",
                "ExpressionAttributeNames": {"#h": HASH_KEY, "#l": LIST_KEY},
            }
        }
        found: set[tuple[str, str]] = set()
        for attempt in range(READ_ATTEMPTS):
            response = self._dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table, []):
                found.add((item[HASH_KEY]["S"], item[LIST_KEY]["S"]))
            request = response.get("UnprocessedKeys") or {}
            if not request.get(self._table, {}).get("Keys"):
                return found
            if attempt + 1 < READ_ATTEMPTS:
                self._sleep(0.05 * 2**attempt)
        raise SuppressionUnavailable("suppression keys left unprocessed")

    def add(
        self, h: str, list_name: str, *, source: str, version: int = 1, at: int | None = None
    ) -> bool:
        """Suppress `h` (a hash at key `version`) on `list_name`; False (and nothing changed)
        if it already was."""
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    HASH_KEY: {"S": h},
                    LIST_KEY: {"S": list_name},
                    "at": {"N": str(int(self._clock()) if at is None else at)},
                    "source": {"S": source},
                    VERSION_ATTRIBUTE: {"N": str(version)},
                },
                ConditionExpression="attribute_not_exists(#h)",
                ExpressionAttributeNames={"#h": HASH_KEY},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def remove(self, h: str, list_name: str) -> bool:
        """Lift a suppression; False if there was none."""
        response = self._dynamodb.delete_item(
            TableName=self._table,
            Key={HASH_KEY: {"S": h}, LIST_KEY: {"S": list_name}},
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))

    def items(self) -> Iterator[dict[str, str]]:
        """Every suppression: h, list, at, source (hashes only: no address is stored)."""
        paginator = self._dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table):
            for item in page.get("Items", []):
                yield {name: next(iter(value.values())) for name, value in item.items()}


def rekey(table: SuppressionTable, keys: Keys) -> tuple[int, int]:
    """After a rotation to `keys.version`: every suppression gets an item under its current
    hash (its time and source kept), the previous version's items stay (functions that still
    hold the previous key read them until they refresh), older ones are deleted. Safe to run
    again. Returns (items copied, items deleted)."""
    copied = deleted = 0
    for item in list(table.items()):
        version, h = int(item.get(VERSION_ATTRIBUTE, 1)), item[HASH_KEY]
        if version >= keys.version:
            continue
        current = h
        for step in range(version + 1, keys.version + 1):
            current = keys.rekey(current, step)
        at = int(item.get("at", 0))
        copied += table.add(
            current, item[LIST_KEY], source=item.get("source", ""), version=keys.version, at=at
        )
        if version < keys.version - 1:
            deleted += table.remove(h, item[LIST_KEY])
    return copied, deleted
