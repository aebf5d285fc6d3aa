"""The sender pauses itself while SES refuses for a pause or a spent daily quota.

DESIGN.md section 11: while SES answers `ACCOUNT_DAILY_QUOTA_EXCEEDED`,
`ACCOUNT_SENDING_PAUSED`, `CONFIGURATION_SET_SENDING_PAUSED`, `SendingPausedException` or a
daily-quota throttle (outcomes.is_pause), no message may reach the DLQ because of it, however
long it lasts, and sending resumes by itself once SES allows it. A circuit breaker on the
sender's own SQS event source mapping:

1. The first pause answer of an invocation trips `Pause`: the calls not started yet are not
   sent (their records are answered `SendingPaused`, with no claim taken).
2. The records refused for the pause or not tried are *held*: a copy of each goes back on the
   source queue (SendMessageBatch, `DelaySeconds` = the longest retry backoff, at most
   SQS's 900 s) and the original is acknowledged. So a record received while paused spends
   none of its `maxReceiveCount`. The copy keeps the body byte for byte and the original's
   attributes, and carries the idempotency key in `OriginalMessageId` when the key is the
   SQS message id (a message without `id`; records.SqsRecord.idempotency_key reads it back).
   If the invocation dies after writing a copy and before acknowledging, the ledger keeps
   the two deliveries to one email. A copy that cannot be written leaves its record retried
   as before (batchItemFailures, delayed by the cap).
3. The invocation that starts the pause writes a pause *marker* (one item keyed
   `pause<TAB>sender`, which no message id can take, in the idempotency table, created
   only if absent), then disables its mapping (found by
   ListEventSourceMappings for this function and the event's queue): the queue rests
   untouched, no receive counted, for up to its retention (14 days). It logs
   `sending_paused` once (with the reason) and counts `SendingPaused`.
4. The probe (probe.py, on a 5-minute schedule) reads the marker; when SES allows sending
   again (GetAccount's SendingEnabled and SentLast24Hours < Max24HourSend, and the
   configuration set's SendingOptions), it enables the mapping, then deletes the marker if
   its token is still the one it read, and logs `sending_resumed`. Without a marker it does
   nothing: a mapping an operator disabled stays disabled. The mapping is disabled only
   after the marker exists, and the marker is renewed (new token) after the stop, so every
   stop stays backed by a marker (the state machine: docs/concepts/pause.md).

Why the sender finds its mapping at run time and the probe owns its UUID: the mapping
depends on the function, and the function on its role's default policy, so an environment
variable or a default-policy statement of the sender naming the mapping would close a
CloudFormation cycle. The sender's one write permission on the mapping is a separate
`AWS::IAM::Policy` (the function does not depend on it) scoped to that mapping's ARN;
finding the mapping needs `lambda:ListEventSourceMappings`, which IAM grants only on `*`
(read only). The probe is created after the mapping, so its environment holds the UUID.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bulk_sender.dlq import MAX_ATTRIBUTES, _from_event_attribute, _size, message_batches
from bulk_sender.ledger import LEDGER_CALL_MS
from bulk_sender.names import LogEvent
from bulk_sender.outcomes import NOT_TRIED_PAUSED, Outcome, is_pause
from bulk_sender.records import ORIGINAL_MESSAGE_ID, SqsRecord
from bulk_sender.sqs_limits import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

PAUSED = NOT_TRIED_PAUSED
MARKER_KEY = "pause\tsender"  # a tab: no message id (printable) can take this key
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds
# A held record copied without OriginalMessageId (it has an `id`, and no room for the
# attribute): campaign status counts its copy's receive instead of its own.
UNMARKED_COPY = "HeldUnmarked"
# A record refused for the pause that could not be copied (no `id`, no room for its key):
# it waits in flight as long as SQS allows (core.py), one receive per 12 hours of pause.
WAIT_IN_FLIGHT = "PausedInFlight"
RENEW_ATTEMPTS = 3  # a renewal that keeps meeting another writer gives up (and says so)
# Stopping the mapping runs inside the invocation's deadline: bounded, not botocore's 60 s.
_LAMBDA_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"}
)
# Each step of starting a pause (marker write, mapping stop, renewal) starts only if its
# worst case ends before the deadline: a DynamoDB request of the ledger's client, a Lambda
# request of _LAMBDA_CONFIG.
MARKER_CALL_MS = LEDGER_CALL_MS
MAPPING_CALL_MS = 2 * (2 + 5) * 1000 + 1000
# The marker's table, when no client is given (the probe's and a pausing sender's).
DYNAMODB_CONFIG = Config(
    connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 3, "mode": "standard"}
)


class MappingSwitch(Protocol):
    """The sender's side of its event source mapping: stop it."""

    def stop(self, source_arn: str | None) -> None: ...


@dataclass(frozen=True)
class Marker:
    reason: str
    configuration_set: str | None
    paused_at: float
    # Written afresh by every sender write: the probe clears only the marker it read (same
    # token), so a marker renewed after its read (a stop it did not see) stands.
    token: str = ""


class MarkerStore:
    """The pause marker: one item of the idempotency table (no TTL: it lasts the pause).

    The state machine (docs/concepts/pause.md): the sender `create`s the marker before it
    stops the mapping and `renew`s it after, so every stop is followed by a marker whose
    token no earlier read saw; the probe `clear`s only the token it read."""

    def __init__(self, dynamodb: Any | None, table: str) -> None:
        self._client = dynamodb
        self._table = table

    @property
    def _db(self) -> Any:
        if self._client is None:  # made on first use: most invocations never pause
            self._client = boto3.client("dynamodb", config=DYNAMODB_CONFIG)
        return self._client

    def create(self, marker: Marker) -> bool:
        """Write the marker unless one exists; True if this call created it."""
        try:
            self._put(marker, "attribute_not_exists(id)", {})
        except ClientError as error:
            if _conditional_failure(error):
                return False
            raise
        return True

    def renew(self, marker: Marker) -> None:
        """Give the standing marker a new token (keeping its reason and start), or create it
        again if the probe cleared it meanwhile. After this call a marker stands that no
        probe run read before it."""
        for _ in range(RENEW_ATTEMPTS):
            fresh = replace(marker, token=new_token())
            try:
                self._put(fresh, "attribute_not_exists(id)", {})
                return
            except ClientError as error:
                if not _conditional_failure(error):
                    raise
                standing = _marker(error.response.get("Item"))
            if standing is None:  # no old item returned: read it
                standing = self.get()
                if standing is None:
                    continue  # cleared meanwhile: create it again
            renewed = replace(standing, token=new_token())
            condition, values = _same_token(standing)
            try:
                self._put(renewed, condition, values)
                return
            except ClientError as error:
                if not _conditional_failure(error):
                    raise
        raise ClientError(
            {"Error": {"Code": "MarkerContended", "Message": "the marker kept changing"}},
            "PutItem",
        )

    def get(self) -> Marker | None:
        item = self._db.get_item(
            TableName=self._table, Key={"id": {"S": MARKER_KEY}}, ConsistentRead=True
        ).get("Item")
        return _marker(item)

    def clear(self, marker: Marker) -> bool:
        """Delete the marker if it is still the one read (same token); False if another
        write renewed or replaced it since."""
        condition, values = _same_token(marker)
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"id": {"S": MARKER_KEY}},
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#token": "token"},
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._db.delete_item(**request)
        except ClientError as error:
            if _conditional_failure(error):
                return False
            raise
        return True

    def _put(self, marker: Marker, condition: str, values: dict[str, Any]) -> None:
        item = {
            "id": {"S": MARKER_KEY},
            "reason": {"S": marker.reason},
            "paused_at": {"N": str(int(marker.paused_at))},
            "token": {"S": marker.token or new_token()},
        }
        if marker.configuration_set:
            item["configuration_set"] = {"S": marker.configuration_set}
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if "#token" in condition:
            request["ExpressionAttributeNames"] = {"#token": "token"}
        if values:
            request["ExpressionAttributeValues"] = values
        self._db.put_item(**request)


def new_token() -> str:
    return uuid.uuid4().hex


def _same_token(marker: Marker) -> tuple[str, dict[str, Any]]:
    """The condition "the marker still has this token" (a marker written before tokens
    existed has none)."""
    if marker.token:
        return "#token = :token", {":token": {"S": marker.token}}
    return "attribute_exists(id) AND attribute_not_exists(#token)", {}


def _conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _marker(item: Mapping[str, Any] | None) -> Marker | None:
    if not item:
        return None
    try:
        paused_at = float(item.get("paused_at", {}).get("N", "0"))
    except (TypeError, ValueError):
        paused_at = 0.0
    return Marker(
        reason=item.get("reason", {}).get("S", "unknown"),
        configuration_set=item.get("configuration_set", {}).get("S"),
        paused_at=paused_at,
        token=item.get("token", {}).get("S", ""),
    )


class OwnMapping:
    """The sender's own SQS event source mapping, found by function name and queue ARN."""

    def __init__(self, lambda_client: Any | None, function_name: str) -> None:
        self._client = lambda_client
        self._function = function_name
        self._uuids: dict[str, str] = {}

    @property
    def _lambda(self) -> Any:
        if self._client is None:
            self._client = boto3.client("lambda", config=_LAMBDA_CONFIG)
        return self._client

    def stop(self, source_arn: str | None) -> None:
        if not source_arn:
            raise LookupError("the event names no event source")
        if source_arn not in self._uuids:
            found = self._lambda.list_event_source_mappings(
                FunctionName=self._function, EventSourceArn=source_arn
            ).get("EventSourceMappings", [])
            if not found:
                raise LookupError("no event source mapping of this function for the queue")
            self._uuids[source_arn] = found[0]["UUID"]
        self._lambda.update_event_source_mapping(UUID=self._uuids[source_arn], Enabled=False)


class Pause:
    """The breaker of one sender: tripped by the first pause answer of an invocation."""

    def __init__(
        self,
        sqs: Any,
        *,
        queue_url: str | None,
        delay_seconds: int,
        markers: MarkerStore | None,
        mapping: MappingSwitch | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._delay = max(0, min(MAX_DELAY_SECONDS, delay_seconds))
        self._markers = markers
        self._mapping = mapping
        self._clock = clock
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._configuration_set: str | None = None
        self.unmarked: set[int] = set()
        self.no_room: set[int] = set()

    def reset(self) -> None:
        """At the start of each invocation."""
        self._reason = self._configuration_set = None
        # Records of this invocation copied without the marker (they have an `id`), and
        # records without `id` that could not be copied at all (no room for their key).
        self.unmarked = set()
        self.no_room = set()

    @property
    def tripped(self) -> bool:
        return self._reason is not None

    def observe(self, results: Iterable[Any], configuration_set: str | None = None) -> None:
        """Trip on the first result whose code means paused or out of quota."""
        for result in results:
            if result.outcome is Outcome.RETRY and is_pause(result.code):
                with self._lock:
                    if self._reason is None:
                        self._reason, self._configuration_set = result.code, configuration_set
                return

    def settle(
        self,
        records: Sequence[SqsRecord],
        results: dict[int, Any],
        keys: Mapping[int, str],
        source_arn: str | None,
        *,
        may_start: Callable[[], bool] = lambda: True,
        fits: Callable[[int], bool] = lambda ms: True,
    ) -> int:
        """If tripped: hold the records refused for the pause or not tried (their results
        become HELD), start the pause (marker, mapping) if none is on, and log. Returns the
        number of records held. No call starts once `may_start()` says no (the deadline): the
        records not copied are retried, and the probe stops the mapping on its next run."""
        if self._reason is None:
            return 0
        waiting = [
            i
            for i, result in sorted(results.items())
            if result.outcome is Outcome.RETRY and is_pause(result.code)
        ]
        held = self._requeue(records, waiting, keys, may_start)
        self._mark(results, held)
        for index in self.no_room:
            results[index] = replace(results[index], code=WAIT_IN_FLIGHT)
        started, stopped = self._start_pause(source_arn, fits)
        fields = {
            "reason": self._reason,
            "configuration_set": self._configuration_set,
            "held": len(held),
            "not_held": len(waiting) - len(held),
            "mapping_stopped": stopped,
        }
        if started:
            log.warning(LogEvent.SENDING_PAUSED, extra=fields)
        else:
            log.info("held_while_paused", extra=fields)
        return len(held)

    def _start_pause(
        self, source_arn: str | None, fits: Callable[[int], bool] = lambda ms: True
    ) -> tuple[bool, bool]:
        """(this invocation started the pause, the mapping was stopped). The mapping is
        stopped only once the marker exists, and the marker is renewed after the stop: a
        probe that read the marker before the stop (and enabled the mapping before it) can
        no longer clear it, so the stop stays backed by a marker (docs/concepts/pause.md).
        With a marker already there (another invocation paused first, or a deployment
        enabled the mapping during the pause) it is stopped again: stopping is idempotent."""
        if self._markers is None or self._mapping is None:
            return True, False
        if not fits(MARKER_CALL_MS + MAPPING_CALL_MS + MARKER_CALL_MS):
            # No time for the three steps: none is started (the next refusal pauses).
            log.info("pause_start_skipped")
            return True, False
        marker = Marker(self._reason or "", self._configuration_set, self._clock())
        try:
            created = self._markers.create(marker)
        except (BotoCoreError, ClientError):
            log.warning("pause_marker_failed", exc_info=True)
            return True, False
        try:
            self._mapping.stop(source_arn)
        except (BotoCoreError, ClientError, LookupError):
            # The copies come back after their delay; the probe stops the mapping on its
            # next run (it sees the marker and SES still refusing). A second stop may meet
            # the mapping still disabling: expected, so not a warning.
            log.log(
                logging.WARNING if created else logging.INFO, "mapping_stop_failed", exc_info=True
            )
            return created, False
        try:
            self._markers.renew(marker)
        except (BotoCoreError, ClientError):
            # The marker written before the stop stands unless a probe cleared it in the
            # instant between: reported, so the alarm and the runbook catch that case.
            log.exception("pause_marker_renew_failed")
        return created, True

    def hold(
        self,
        records: Sequence[SqsRecord],
        results: dict[int, Any],
        keys: Mapping[int, str],
        *,
        code: str,
        delay_seconds: int,
        may_start: Callable[[], bool] = lambda: True,
    ) -> int:
        """Hold the records retried for `code` the way a pause does, without pausing: a
        copy back on the queue after `delay_seconds`, the original acknowledged, so the wait
        spends none of their receives (attachments beyond the memory budget). Their results
        become HELD; the records not copied stay retried. Returns how many were held."""
        waiting = [
            i
            for i, result in sorted(results.items())
            if result.outcome is Outcome.RETRY and result.code == code
        ]
        held = self._requeue(records, waiting, keys, may_start, delay_seconds)
        self._mark(results, held)
        return len(held)

    def _mark(self, results: dict[int, Any], held: list[int]) -> None:
        for index in held:
            code = UNMARKED_COPY if index in self.unmarked else results[index].code
            results[index] = replace(results[index], outcome=Outcome.HELD, code=code)

    def _requeue(
        self,
        records: Sequence[SqsRecord],
        indexes: list[int],
        keys: Mapping[int, str],
        may_start: Callable[[], bool],
        delay_seconds: int | None = None,
    ) -> list[int]:
        """Copy the records onto the source queue with a delay; the indexes written."""
        delay = (
            self._delay if delay_seconds is None else max(0, min(MAX_DELAY_SECONDS, delay_seconds))
        )
        if not self._queue_url or not indexes:
            return []
        entries = []
        for index in indexes:
            record = records[index]
            try:
                attributes = {
                    name: _from_event_attribute(value)
                    for name, value in record.message_attributes.items()
                }
            except (AttributeError, TypeError, ValueError):  # not as Lambda delivers them
                continue  # retried the old way instead
            # Every copy says it is one (campaign status counts its first receive once); for
            # a message without `id` the attribute also carries its key. Ours, always: a
            # producer's attribute of that name is replaced (never carried into a copy the
            # sender's role sends, where it would be trusted).
            key = keys.get(index, record.idempotency_key)
            marked = {
                **attributes,
                ORIGINAL_MESSAGE_ID: {"DataType": "String", "StringValue": record.idempotency_key},
            }
            if len(marked) <= MAX_ATTRIBUTES and _size(record.body, marked) <= MAX_MESSAGE_BYTES:
                attributes = marked
            elif key == record.idempotency_key:
                # Without `id` and no room for its key (10 attributes, or a body at the size
                # limit): a copy would be another email. It waits in flight instead (core).
                self.no_room.add(index)
                continue
            else:  # its `id` is its key: the copy needs none; status counts it once
                attributes.pop(ORIGINAL_MESSAGE_ID, None)
                self.unmarked.add(index)
            entries.append(
                {
                    "Id": str(index),
                    "MessageBody": record.body,
                    "DelaySeconds": delay,
                    **({"MessageAttributes": attributes} if attributes else {}),
                }
            )
        written: list[int] = []
        for batch in message_batches(entries):
            if not may_start():
                break
            try:
                response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=batch)
                failed = {failure["Id"] for failure in response.get("Failed", [])}
            except (BotoCoreError, ClientError):
                log.warning("hold_failed", extra={"entries": len(batch)}, exc_info=True)
                continue
            written += [int(entry["Id"]) for entry in batch if entry["Id"] not in failed]
        return written


def pause_for(
    settings: Any, sqs: Any, *, dynamodb: Any = None, mapping: MappingSwitch | None = None
) -> Pause:
    """The sender's breaker from its settings: the marker in the idempotency table, and its
    own mapping found by `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda). Without either, a pause
    still holds records (delayed copies) but cannot stop the mapping."""
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if mapping is None and function_name:
        mapping = OwnMapping(None, function_name)
    table = settings.idempotency_table
    return Pause(
        sqs,
        queue_url=settings.queue_url,
        delay_seconds=settings.retry_backoff_max_seconds,
        markers=MarkerStore(dynamodb, table) if table else None,
        mapping=mapping,
    )
