"""Idempotency ledger (DESIGN.md section 5, Idempotency): claim before the call, complete
after SUCCESS, release after a retry.

DynamoDB conditional writes rather than Powertools' idempotency utility: that utility
wraps one function call (or one record) and stores its return value, while here one
SendBulkEmail call carries up to 50 records whose claims must all be taken before the call
and settled one by one from its per-entry results.

A call's claims are one `TransactWriteItems` (bench/ measured it against PartiQL
`BatchExecuteStatement`; BENCHMARKS.md says why this one). What the code relies on, from the
DynamoDB API reference (TransactWriteItems, CancellationReason, TransactionCanceledException):
- up to 100 actions, all or nothing: when one condition fails nothing is written;
- the cancellation reasons are ordered as the request's actions; an action that did not
  cause the cancellation has the code "None"; a failed condition is "ConditionalCheckFailed"
  and, with `ReturnValuesOnConditionCheckFailure=ALL_OLD`, carries the item as it was; an
  action on an item another transaction is writing is "TransactionConflict";
- `ClientRequestToken` (botocore fills it in) makes the SDK's own retries of one request
  idempotent for 10 minutes: a retry after a lost answer does not claim twice;
- each action costs two write units (prepare and commit).
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bulk_sender.fast_requests import speed_up
from bulk_sender.names import Table

log = logging.getLogger(__name__)


class Claim(Enum):
    CLAIMED = "claimed"  # ours: send it
    COMPLETED = "completed"  # sent before: acknowledge, do not send
    IN_FLIGHT = "in_flight"  # another invocation holds it: retry later


class NullLedger:
    """Idempotency off (`IDEMPOTENCY_TABLE` unset): every id is claimed."""

    def prepare(self, ids: Iterable[str], *, hold_seconds: float | None = None) -> None:
        pass

    def finish(self, *, within_seconds: float | None = None) -> int:
        return 0

    def claim(self, ids: Iterable[str], *, hold_seconds: float | None = None) -> dict[str, Claim]:
        return dict.fromkeys(ids, Claim.CLAIMED)

    def complete(self, ids: Iterable[str], *, within_seconds: float | None = None) -> int:
        return 0

    def release(self, ids: Iterable[str], *, within_seconds: float | None = None) -> None:
        pass

    def dead_lettered(self, sqs_message_ids: Iterable[str]) -> set[str]:
        return set()

    def completed(self, ids: Iterable[str]) -> set[str]:
        return set()

    def mark_dead_lettered(
        self, sqs_message_ids: Iterable[str], *, within_seconds: float | None = None
    ) -> int:
        return 0


IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
DEAD_LETTERED = "DEAD_LETTERED"
# Dead letters are remembered by SQS message id, not by `id`: a redelivery of the same SQS
# message (its invocation died after the DLQ write) is acknowledged, while a redrive from
# the DLQ (a new SQS message) is sent again. Their keys hold a tab, which no message `id`
# can (ids are printable, message.py), so the two key spaces never meet. Marks written
# before this key (`dlq#...`) are not read: at worst a message dead-lettered just before
# the upgrade and then redelivered is written to the DLQ twice; it is never sent twice.
DEAD_LETTER_KEY = "dlq\t{}"
# The table's partition key and expiry attribute (the stack creates it with them).
KEY = Table.LEDGER_KEY
TTL_ATTRIBUTE = Table.TTL_ATTRIBUTE
MAX_TRANSACTION_ITEMS = 100
MAX_BATCH_WRITE_ITEMS = 25
MAX_BATCH_GET_KEYS = 100
# Every retry loop is bounded and backs off exponentially (BACKOFF_BASE x 2^n, at most
# BACKOFF_CAP seconds); completions also stop at the caller's time limit.
TRANSACTION_ROUNDS = 3
WRITE_ATTEMPTS = 8
READ_ATTEMPTS = 4
BACKOFF_BASE = 0.05
BACKOFF_CAP = 1.0
CONNECT_TIMEOUT = 2
READ_TIMEOUT = 5
LEDGER_ATTEMPTS = 3
# One ledger request ends within this whatever DynamoDB does (the client's bound).
LEDGER_CALL_MS = LEDGER_ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) * 1000 + 1000
# Reasons that say "this id, not the transaction": it is decided (see claim) or not ours.
CONDITION_FAILED = "ConditionalCheckFailed"
CONFLICT = "TransactionConflict"
NO_ERROR = (None, "None")

# A claim's `expires_at` is its end; a completion's is the end of its TTL: one condition
# covers both (items of the previous form carried the same end in `claim_expires_at`).
_CLAIM_CONDITION = f"attribute_not_exists({KEY}) OR {TTL_ATTRIBUTE} < :now"


def ledger_client(max_pool: int = 10) -> Any:
    """DynamoDB for the ledger: the core built every request from validated ids, so botocore's
    parameter validation is off (as on SES: bench/ measured its cost); botocore's standard
    retries (throttling, 5xx, connection errors) stay on, bounded: claims carry an idempotency
    token and completions are plain Puts, so a retried request cannot claim or send twice."""
    return speed_up(
        boto3.client(
            "dynamodb",
            config=Config(
                retries={"total_max_attempts": LEDGER_ATTEMPTS, "mode": "standard"},
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                max_pool_connections=max_pool,
                parameter_validation=False,
            ),
        )
    )


def backoff(attempt: int) -> float:
    return min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)


class DynamoLedger:
    """One item per message id: `status`, `expires_at` (the claim's end, or the TTL of a
    completion: DynamoDB's TTL attribute either way) and, while claimed, `owner`.

    Claims: one conditional Put per id, all of a call's ids in one TransactWriteItems. Ids
    whose condition fails (completed, or claimed by a live claim) cancel the transaction and
    are decided by the reason's old item; the others are claimed again in a second round.
    Releases are conditional Deletes the same way (only the claim this ledger took, by its
    owner token). Completions and dead-letter marks are unconditional, so they go 25 to a
    BatchWriteItem (one write unit each).

    Within one SQS batch (`prepare` .. `finish`) the batch's claims are taken up front, 100 a
    transaction, and completions are pooled 25 a request across its calls: DynamoDB sees
    about 0.05 requests per message instead of 0.09 (bench/). A completion waits at most
    until the batch's last call ends, within the claim's hold, so the exactly-once window is
    unchanged: only an invocation killed in between (as one killed between a send and its
    completion) can leave an id to be sent again after its claim expires.

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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._ttl = ttl_seconds
        self._claim_seconds = claim_seconds
        self._clock = clock
        self._sleep = sleep
        self._container = uuid.uuid4().hex
        self._claims = itertools.count()
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}  # id -> owner token of the claim this ledger holds
        self._stranded: dict[str, str] = {}  # releases that failed, tried again on next use
        # Between prepare() and finish() (one SQS batch): the batch's claims taken up front,
        # not yet handed to a call, and completions not yet written (fewer than a request).
        self._prepared: dict[str, Claim] = {}
        self._batching = False
        self._pending: list[dict[str, Any]] = []

    # -- one batch ------------------------------------------------------------------------

    def prepare(self, ids: Iterable[str], *, hold_seconds: float | None = None) -> None:
        """Claim a whole batch's ids up front, MAX_TRANSACTION_ITEMS to a transaction (a
        batch of 200 in two requests rather than one per call of 50); `claim` then answers
        from them. Completions until `finish` are pooled into full BatchWriteItems. If the
        ledger cannot answer now, nothing is prepared and each call claims its own ids."""
        with self._lock:
            self._batching, self._pending = True, []
        try:
            prepared = self.claim(ids, hold_seconds=hold_seconds)
        except (BotoCoreError, ClientError):
            log.warning("ledger_prepare_failed", exc_info=True)
            return
        with self._lock:
            self._prepared = prepared

    def finish(self, *, within_seconds: float | None = None) -> int:
        """End of the batch's calls: write the completions still pooled, release the claims
        no call used (a call the deadline or a pause held back). Returns how many
        completions could not be written."""
        with self._lock:
            pending, self._pending = self._pending, []
            unused = [i for i, claim in self._prepared.items() if claim is Claim.CLAIMED]
            self._prepared, self._batching = {}, False
        started = self._clock()
        failed = self._put_all(pending, "ledger_complete_failed", within_seconds)
        # The release gets what the completions left of the time (none: kept for the next
        # claim, and the claims expire at this invocation's deadline anyway).
        left = None if within_seconds is None else within_seconds - (self._clock() - started)
        if left is not None and left * 1000 < LEDGER_CALL_MS:
            with self._lock:
                self._stranded.update({i: self._held.pop(i) for i in unused if i in self._held})
            if unused:
                log.info("release_skipped", extra={"claims": len(unused)})
        else:
            self.release(unused, within_seconds=left)
        return failed

    # -- claims ---------------------------------------------------------------------------

    def claim(self, ids: Iterable[str], *, hold_seconds: float | None = None) -> dict[str, Claim]:
        """Claim each id for `hold_seconds` (the invocation's remaining time), by default
        `claim_seconds`. Raises (ClientError, BotoCoreError) when the ledger cannot say; then
        no claim of these ids is left behind (any it may have taken is released)."""
        unique = list(dict.fromkeys(ids))
        with self._lock:
            ready = {i: self._prepared.pop(i) for i in unique if i in self._prepared}
        if ready:
            rest = [i for i in unique if i not in ready]
            return {**ready, **(self.claim(rest, hold_seconds=hold_seconds) if rest else {})}
        self._release_stranded()
        hold = math.ceil(hold_seconds if hold_seconds is not None else self._claim_seconds)
        owner = f"{self._container}:{next(self._claims)}"
        claims: dict[str, Claim] = {}
        try:
            for start in range(0, len(unique), MAX_TRANSACTION_ITEMS):
                chunk = unique[start : start + MAX_TRANSACTION_ITEMS]
                claims.update(self._claim_chunk(chunk, hold, owner))
        except (BotoCoreError, ClientError):
            # A request whose answer was lost may have committed: release what may be ours.
            maybe_ours = [i for i in unique if claims.get(i, Claim.CLAIMED) is Claim.CLAIMED]
            with self._lock:
                for message_id in maybe_ours:
                    self._held.pop(message_id, None)
            self._release_tokens(dict.fromkeys(maybe_ours, owner))
            raise
        return claims

    def _claim_chunk(self, ids: list[str], hold: int, owner: str) -> dict[str, Claim]:
        now = int(self._clock())
        decided: dict[str, Claim] = {}
        pending = ids
        for round_ in range(TRANSACTION_ROUNDS):
            reasons = self._transact([self._claim_action(i, now, hold, owner) for i in pending])
            if reasons is None:
                with self._lock:
                    self._held.update(dict.fromkeys(pending, owner))
                decided.update(dict.fromkeys(pending, Claim.CLAIMED))
                return decided
            again = []
            for message_id, reason in zip(pending, reasons, strict=True):
                code = reason.get("Code")
                if code == CONDITION_FAILED:
                    status = (reason.get("Item") or {}).get("status", {}).get("S")
                    decided[message_id] = (
                        Claim.COMPLETED if status == COMPLETED else Claim.IN_FLIGHT
                    )
                elif code == CONFLICT:  # another invocation is writing it right now
                    decided[message_id] = Claim.IN_FLIGHT
                else:  # "None" (cancelled by another id), or throttled: try again
                    again.append(message_id)
            if not again:
                return decided
            if len(again) == len(pending):  # nothing decided: throttling, back off
                self._sleep(backoff(round_))
            pending = again
        raise ClientError(
            {"Error": {"Code": "LedgerBusy", "Message": f"{len(pending)} claims undecided"}},
            "TransactWriteItems",
        )

    def _claim_action(self, message_id: str, now: int, hold: int, owner: str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    KEY: {"S": message_id},
                    "status": {"S": IN_PROGRESS},
                    "owner": {"S": owner},
                    TTL_ATTRIBUTE: {"N": str(now + hold)},
                },
                "ConditionExpression": _CLAIM_CONDITION,
                "ExpressionAttributeValues": {":now": {"N": str(now)}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _transact(self, actions: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """None when written; the cancellation reasons (one per action) when cancelled."""
        try:
            self._db.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons")
            if not reasons or len(reasons) != len(actions):
                raise
            return reasons
        return None

    # -- releases -------------------------------------------------------------------------

    def release(self, ids: Iterable[str], *, within_seconds: float | None = None) -> None:
        """Give back claims this ledger holds (their entries are retried), retrying for at
        most `within_seconds`. A release that fails or has no time is kept and tried again
        on this ledger's next claim; the claim also expires by itself at its invocation's
        deadline."""
        with self._lock:
            tokens = {i: self._held.pop(i) for i in dict.fromkeys(ids) if i in self._held}
        self._release_tokens(tokens, within_seconds)

    def _release_stranded(self) -> None:
        with self._lock:
            tokens, self._stranded = self._stranded, {}
        if tokens:
            self._release_tokens(tokens)

    def _release_tokens(self, tokens: dict[str, str], within: float | None = None) -> None:
        items = list(tokens.items())
        started = self._clock()
        for start in range(0, len(items), MAX_TRANSACTION_ITEMS):
            chunk = dict(items[start : start + MAX_TRANSACTION_ITEMS])
            out_of_time = within is not None and self._clock() - started > within
            left = chunk if out_of_time else self._release_chunk(chunk, started, within)
            if left:
                log.warning("ledger_release_failed", extra={"claims": len(left)})
                with self._lock:
                    self._stranded.update(left)

    def _release_chunk(
        self, tokens: dict[str, str], started: float = 0.0, within: float | None = None
    ) -> dict[str, str]:
        """Conditional Deletes in one transaction; returns the ones not done."""
        pending = dict(tokens)
        for round_ in range(TRANSACTION_ROUNDS):
            if round_ and within is not None and self._clock() - started > within:
                break
            try:
                reasons = self._transact([self._release_action(*kv) for kv in pending.items()])
            except (BotoCoreError, ClientError):
                self._sleep(backoff(round_))
                continue
            if reasons is None:
                return {}
            for (message_id, _), reason in zip(list(pending.items()), reasons, strict=True):
                if reason.get("Code") == CONDITION_FAILED:  # not our claim any more: done
                    del pending[message_id]
                elif reason.get("Code") not in NO_ERROR:  # conflict, throttling: back off
                    self._sleep(backoff(round_))
            if not pending:
                return {}
        return pending

    def _release_action(self, message_id: str, owner: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": {KEY: {"S": message_id}},
                # Only claims carry an owner (a completion replaces the whole item), and each
                # claim its own token: this deletes that claim and nothing else.
                "ConditionExpression": "#owner = :owner",
                "ExpressionAttributeNames": {"#owner": "owner"},
                "ExpressionAttributeValues": {":owner": {"S": owner}},
            }
        }

    # -- completions and dead letters -----------------------------------------------------

    def complete(self, ids: Iterable[str], *, within_seconds: float | None = None) -> int:
        """Mark ids sent: unconditional Puts (the claims are ours), 25 a BatchWriteItem,
        retried with backoff for at most `within_seconds`. Returns how many could not be
        written (the messages are acknowledged anyway: no resend; the caller counts them)."""
        ids = list(ids)
        with self._lock:
            for message_id in ids:
                self._held.pop(message_id, None)
        expires = {"N": str(int(self._clock()) + self._ttl)}
        items = [{KEY: {"S": i}, "status": {"S": COMPLETED}, TTL_ATTRIBUTE: expires} for i in ids]
        with self._lock:
            if self._batching:
                # Full requests go now; the rest waits for the next call's or for finish().
                self._pending += items
                cut = len(self._pending) - len(self._pending) % MAX_BATCH_WRITE_ITEMS
                items, self._pending = self._pending[:cut], self._pending[cut:]
        return self._put_all(items, "ledger_complete_failed", within_seconds)

    def dead_lettered(self, sqs_message_ids: Iterable[str]) -> set[str]:
        """Which of these SQS messages this ledger saw written to the DLQ already. Keys
        DynamoDB leaves unprocessed are asked again (bounded, with backoff), then taken as
        not dead-lettered: at worst a letter is written twice."""
        keys = [DEAD_LETTER_KEY.format(i) for i in dict.fromkeys(sqs_message_ids)]
        found = {item[KEY]["S"] for item in self._read(keys)}
        return {key.removeprefix(DEAD_LETTER_KEY.format("")) for key in found}

    def completed(self, ids: Iterable[str]) -> set[str]:
        """Which of these ids were sent (a completion stands): read only, so that a
        redelivery of a sent email is known as such before anything else decides its
        outcome. Unprocessed keys are taken as not completed."""
        now = int(self._clock())
        return {
            item[KEY]["S"]
            for item in self._read(list(dict.fromkeys(ids)))
            if item.get("status", {}).get("S") == COMPLETED
            and int(item.get(TTL_ATTRIBUTE, {}).get("N", "0")) >= now
        }

    def _read(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """BatchGetItem of `keys` (id and status), strongly consistent, 100 at a time."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), MAX_BATCH_GET_KEYS):
            request: dict[str, Any] | None = {
                self._table: {
                    "Keys": [{KEY: {"S": key}} for key in keys[start : start + MAX_BATCH_GET_KEYS]],
                    "ProjectionExpression": f"{KEY}, #s, {TTL_ATTRIBUTE}",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ConsistentRead": True,
                }
            }
            for attempt in range(READ_ATTEMPTS):
                if attempt:
                    self._sleep(backoff(attempt - 1))
                response = self._db.batch_get_item(RequestItems=request)
                found += response["Responses"][self._table]
                request = response.get("UnprocessedKeys") or None
                if not request:
                    break
            else:
                log.warning("ledger_lookup_incomplete", extra={"keys": len(keys)})
        return found

    def mark_dead_lettered(
        self, sqs_message_ids: Iterable[str], *, within_seconds: float | None = None
    ) -> int:
        """Remember dead letters by SQS message id; returns how many could not be written (at
        worst a redelivery of such a record is dead-lettered a second time)."""
        expires = {"N": str(int(self._clock()) + self._ttl)}
        items = [
            {
                KEY: {"S": DEAD_LETTER_KEY.format(i)},
                "status": {"S": DEAD_LETTERED},
                TTL_ATTRIBUTE: expires,
            }
            for i in sqs_message_ids
        ]
        return self._put_all(items, "ledger_mark_failed", within_seconds)

    def _put_all(
        self, items: Sequence[dict[str, Any]], failure_event: str, within: float | None
    ) -> int:
        """Unconditional Puts, 25 a BatchWriteItem; unprocessed items and failed requests
        are sent again with backoff, at most WRITE_ATTEMPTS times and within `within`
        seconds. Returns the number of items not written."""
        started = self._clock()
        failed = 0
        for start in range(0, len(items), MAX_BATCH_WRITE_ITEMS):
            requests = [
                {"PutRequest": {"Item": item}}
                for item in items[start : start + MAX_BATCH_WRITE_ITEMS]
            ]
            for attempt in range(WRITE_ATTEMPTS):
                try:
                    response = self._db.batch_write_item(RequestItems={self._table: requests})
                    requests = (response.get("UnprocessedItems") or {}).get(self._table, [])
                except (BotoCoreError, ClientError):
                    log.warning(failure_event, extra={"items": len(requests)}, exc_info=True)
                delay = backoff(attempt)
                if not requests or attempt + 1 == WRITE_ATTEMPTS:
                    break
                if within is not None and self._clock() - started + delay > within:
                    break
                self._sleep(delay)
            if requests:
                failed += len(requests)
                log.error(failure_event, extra={"items": len(requests), "final": True})
        return failed
