"""The campaign status table: one item per email's latest outcome, one per campaign's counts.

Keys: `pk` = the campaign; `sk` = `#counts` for the counts item, `m#{message_key}` for an email.

- An email's item holds `outcome` (a campaign_status bucket), `rank`, `event`, `at`, `detail`.
  It is written with one conditional UpdateItem per outcome: the condition lets only a higher
  rank (or the same rank, another outcome) replace it, so a duplicate or late event changes
  nothing, and `ReturnValues=UPDATED_OLD` says which outcome it replaced.
- The counts item holds, per outcome, how many emails are in it now (`n:{bucket}`: +1 for
  the new outcome and -1 for the one it replaced, summed per batch into one UpdateItem with
  ADD), and the sender's and the CLI's totals (`enqueued`, `sent_total`, ...).

Every write sets `expires_at` (the table's TTL attribute) to now + the retention.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bulk_sender.campaign_status import SENT_TOTAL, Change
from bulk_sender.fast_requests import speed_up
from bulk_sender.names import LogEvent, Table

log = logging.getLogger(__name__)

PARTITION_KEY = Table.STATUS_PARTITION_KEY  # the campaign
SORT_KEY = Table.STATUS_SORT_KEY
COUNTS_SK = "#counts"
MESSAGE_PREFIX = "m#"
COUNT_PREFIX = "n:"
TTL_ATTRIBUTE = Table.TTL_ATTRIBUTE
DEFAULT_TTL_SECONDS = 90 * 24 * 3600
# What this module calls on the table, and only that (the stack grants exactly these).
WRITE_ACTIONS = ("dynamodb:UpdateItem",)
# A batch's counts of several campaigns: one TransactWriteItems of their UpdateItems (it
# needs dynamodb:UpdateItem only, on each item it updates).
MAX_TRANSACTION_ITEMS = 100
LOST_ANSWER_ATTEMPTS = 2
# An UpdateItem refused by a transaction on the same item is tried again this many times.
CONFLICT_ATTEMPTS = 4
CONFLICT_BACKOFF = 0.02
# The sender's client for it: a status write is a single-item UpdateItem (milliseconds), so
# tight timeouts and two attempts; one call ends within STATUS_CALL_MS whatever the network
# does, and the sender starts none that could not end before its deadline.
STATUS_CONNECT_TIMEOUT = 1
STATUS_READ_TIMEOUT = 1
STATUS_ATTEMPTS = 2
STATUS_CALL_MS = STATUS_ATTEMPTS * (STATUS_CONNECT_TIMEOUT + STATUS_READ_TIMEOUT) * 1000 + 500


def status_client(max_pool: int = 10) -> Any:
    return speed_up(
        boto3.client(
            "dynamodb",
            config=Config(
                retries={"total_max_attempts": STATUS_ATTEMPTS, "mode": "standard"},
                connect_timeout=STATUS_CONNECT_TIMEOUT,
                read_timeout=STATUS_READ_TIMEOUT,
                max_pool_connections=max_pool,
            ),
        )
    )


def message_sk(key: str) -> str:
    return MESSAGE_PREFIX + key


@dataclass
class Applied:
    """What a set of changes did: the count deltas per campaign, and the changes that failed."""

    deltas: dict[str, Counter[str]]
    failed: list[Change]


class StatusTable:
    """Writes to the status table (its client injected; parallel UpdateItems)."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
        workers: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.workers = workers
        self.sleep = sleep

    def _expires_at(self) -> str:
        return str(int(self.clock()) + self.ttl_seconds)

    def apply(
        self, changes: Iterable[Change], may_start: Callable[[], bool] = lambda: True
    ) -> Applied:
        """Write each change (one UpdateItem each); the count deltas they make. A write
        starts only if `may_start()` says so (the deadline): the others are `failed`."""
        changes = list(changes)
        applied = Applied(deltas={}, failed=[])
        if not changes:
            return applied
        with ThreadPoolExecutor(min(self.workers, len(changes))) as pool:
            outcomes = list(pool.map(lambda c: self._write(c) if may_start() else False, changes))
        for change, outcome in zip(changes, outcomes, strict=True):
            if outcome is False:
                applied.failed.append(change)
                continue
            if outcome is None:  # the condition held it back: a duplicate or a late event
                continue
            delta = applied.deltas.setdefault(change.campaign, Counter())
            if change.engagement:
                delta[change.engagement] += 1
                continue
            delta[COUNT_PREFIX + change.bucket] += 1
            if isinstance(outcome, str) and outcome:
                delta[COUNT_PREFIX + outcome] -= 1
        return applied

    def _write(self, change: Change) -> str | Literal[False] | None:
        """The outcome it replaced ("" if none), None if the condition failed, False on error."""
        key = {PARTITION_KEY: {"S": change.campaign}, SORT_KEY: {"S": message_sk(change.key)}}
        if change.engagement:
            request = {
                "UpdateExpression": "SET #g = :at, #x = :x",
                "ConditionExpression": "attribute_not_exists(#g)",
                "ExpressionAttributeNames": {"#g": change.engagement, "#x": TTL_ATTRIBUTE},
                "ExpressionAttributeValues": {
                    ":at": {"S": change.at or "-"},
                    ":x": {"N": self._expires_at()},
                },
            }
        else:
            request = {
                "UpdateExpression": "SET #o = :o, #r = :r, #e = :e, #a = :a, #d = :d, #x = :x",
                "ConditionExpression": (
                    "attribute_not_exists(#r) OR #r < :r OR (#r = :r AND #o <> :o)"
                ),
                "ExpressionAttributeNames": {
                    "#o": "outcome",
                    "#r": "rank",
                    "#e": "event",
                    "#a": "at",
                    "#d": "detail",
                    "#x": TTL_ATTRIBUTE,
                },
                "ExpressionAttributeValues": {
                    ":o": {"S": change.bucket},
                    ":r": {"N": str(change.rank)},
                    ":e": {"S": change.event},
                    ":a": {"S": change.at or "-"},
                    ":d": {"S": change.detail or "-"},
                    ":x": {"N": self._expires_at()},
                },
                "ReturnValues": "UPDATED_OLD",
            }
        try:
            response = self.dynamodb.update_item(TableName=self.table, Key=key, **request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            log.warning(
                "status_write_failed",
                extra={"campaign": change.campaign, "error_code": _code(error)},
            )
            return False
        except BotoCoreError as error:
            log.warning(
                "status_write_failed",
                extra={"campaign": change.campaign, "error_code": type(error).__name__},
            )
            return False
        old = (response.get("Attributes") or {}).get("outcome", {}).get("S", "")
        return old

    def add_counts(
        self,
        campaign: str,
        counts: Mapping[str, int],
        *,
        sent_at: float | None = None,
        may_start: Callable[[], bool] = lambda: True,
    ) -> bool:
        """ADD each non-zero count to the campaign's counts item (one UpdateItem); with
        `sent_at`, also the first and latest send times (for the rate). False on error. A
        write refused because a transaction holds the item (TransactionConflict: nothing
        was written) is tried again, a bounded number of times."""
        update = self._counts_update(campaign, counts, sent_at)
        if update is None:
            return True
        for attempt in range(CONFLICT_ATTEMPTS):
            if not may_start():
                return False
            try:
                self.dynamodb.update_item(TableName=self.table, **update)
                return True
            except (BotoCoreError, ClientError) as error:
                if _code(error) == "TransactionConflictException" and attempt + 1 < (
                    CONFLICT_ATTEMPTS
                ):
                    self.sleep(CONFLICT_BACKOFF * 2**attempt)
                    continue
                log.error(
                    "status_counts_write_failed",
                    extra={
                        "campaign": campaign,
                        "counts": dict(counts),
                        "error_code": _code(error),
                    },
                )
                return False
        return False  # pragma: no cover - the loop returns

    def _counts_update(
        self, campaign: str, counts: Mapping[str, int], sent_at: float | None
    ) -> dict[str, Any] | None:
        """The UpdateItem (Key and expressions) that adds `counts`; None if nothing to add."""
        counts = {name: value for name, value in counts.items() if value}
        if not counts and sent_at is None:
            return None
        names = {"#x": TTL_ATTRIBUTE}
        values: dict[str, Any] = {":x": {"N": self._expires_at()}}
        sets = ["#x = :x"]
        adds = []
        for index, (name, value) in enumerate(sorted(counts.items())):
            names[f"#c{index}"] = name
            values[f":c{index}"] = {"N": str(value)}
            adds.append(f"#c{index} :c{index}")
        if sent_at is not None:
            names.update({"#f": "first_sent_at", "#l": "last_sent_at"})
            values[":t"] = {"N": f"{sent_at:.3f}"}
            sets += ["#f = if_not_exists(#f, :t)", "#l = :t"]
        expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        return {
            "Key": {PARTITION_KEY: {"S": campaign}, SORT_KEY: {"S": COUNTS_SK}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def add_all_counts(
        self,
        per_campaign: Mapping[str, tuple[Counter[str], float | None]],
        may_start: Callable[[], bool] = lambda: True,
    ) -> set[str]:
        """Every campaign's counts of one batch (campaign -> (counts, sent_at)). Several
        campaigns go in one TransactWriteItems (up to 100 a request) instead of one
        UpdateItem each: one round trip, and botocore's retries of it are idempotent (its
        ClientRequestToken). A transaction refused as a whole (a conflict, throttling:
        nothing was written) falls back to one UpdateItem per campaign; one whose answer
        was lost is asked again with the same token, never added twice. Each request starts
        only if `may_start()` says so. Returns the campaigns whose counts were not written."""
        updates = {
            campaign: update
            for campaign, (counts, sent_at) in sorted(per_campaign.items())
            if (update := self._counts_update(campaign, counts, sent_at)) is not None
        }
        items = list(updates.items())
        failed: set[str] = set()
        for start in range(0, len(items), MAX_TRANSACTION_ITEMS):
            chunk = dict(items[start : start + MAX_TRANSACTION_ITEMS])
            if len(chunk) > 1 and self._transact_counts(chunk, may_start):
                continue
            for campaign in chunk:
                counts, sent_at = per_campaign[campaign]
                if not self.add_counts(campaign, counts, sent_at=sent_at, may_start=may_start):
                    failed.add(campaign)
        return failed

    def _transact_counts(
        self, updates: Mapping[str, dict[str, Any]], may_start: Callable[[], bool]
    ) -> bool:
        """True when written (or the answer lost: never risk a double count); False when
        nothing was written and each campaign's UpdateItem should be sent."""
        actions = [{"Update": {"TableName": self.table, **u}} for u in updates.values()]
        token = uuid.uuid4().hex
        for attempt in range(LOST_ANSWER_ATTEMPTS):
            if not may_start():
                return attempt > 0  # asked once and the answer lost: it may be written
            try:
                self.dynamodb.transact_write_items(TransactItems=actions, ClientRequestToken=token)
                return True
            except ClientError as error:
                log.warning(
                    "status_counts_transaction_refused",
                    extra={"campaigns": len(updates), "error_code": _code(error)},
                )
                return False
            except BotoCoreError as error:  # the answer was lost: it may have been written
                if attempt + 1 == LOST_ANSWER_ATTEMPTS:
                    log.error(
                        "status_counts_write_failed",
                        extra={"campaigns": sorted(updates), "error_code": _code(error)},
                    )
        return True

    def record(self, changes: Iterable[Change], totals: Mapping[str, Counter[str]]) -> list[Change]:
        """Apply the changes, then add their deltas and `totals` per campaign: one UpdateItem
        per email outcome, one per campaign. Returns the changes that could not be written."""
        return self.record_within(changes, totals).changes

    def record_within(
        self,
        changes: Iterable[Change],
        totals: Mapping[str, Counter[str]],
        may_start: Callable[[], bool] = lambda: True,
    ) -> Unwritten:
        """`record`, each write started only if `may_start()` says so. What was not written
        is returned whole: the email changes not written (nothing counted for them) and,
        per campaign, the counts whose write failed or did not start (those of the emails
        written included), so that nothing is half recorded and all of it can be retried."""
        applied = self.apply(changes, may_start)
        unwritten = Unwritten(changes=applied.failed, counts={})
        per_campaign: dict[str, tuple[Counter[str], float | None]] = {}
        for campaign in sorted(set(applied.deltas) | set(totals)):
            counts = Counter(applied.deltas.get(campaign, {}))
            counts.update(totals.get(campaign, {}))
            sent = counts.get(SENT_TOTAL, 0)
            per_campaign[campaign] = (counts, self.clock() if sent else None)
        failed = self.add_all_counts(per_campaign, may_start)
        for campaign, (counts, _) in per_campaign.items():
            if campaign in failed:
                unwritten.counts[campaign] = counts
            else:
                log.info(
                    LogEvent.CAMPAIGN_COUNTS, extra={"campaign": campaign, "counts": dict(counts)}
                )
        return unwritten


@dataclass
class Unwritten:
    """What record_within could not write: email changes, and counts per campaign."""

    changes: list[Change]
    counts: dict[str, Counter[str]]


def _code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "Unknown")
    return type(error).__name__
