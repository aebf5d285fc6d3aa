"""A simulated world on a fake clock for the pause tests: SQS with its redrive policy and
retention, SES with a rolling 24-hour quota and pauses, the event source mapping, the
pause marker's table and the ledger. Nothing waits: `World.run` advances the clock."""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bulk_sender.core import BulkSender
from bulk_sender.ledger import Claim
from bulk_sender.pacing import Unpaced
from bulk_sender.pause import MarkerStore, Pause
from bulk_sender.probe import probe
from bulk_sender.settings import Settings
from tests.unit.fakes import PRODUCER_ID, SENDER_ID, _validate, client_error, recipients_of

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/queue"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:queue"
DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"
CONFIGURATION_SET = "bulk"
DAY = 24 * 3600
MINUTE = 60


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class QueuedMessage:
    message_id: str
    body: str
    attributes: dict[str, Any]
    sent_at: float
    visible_at: float
    receive_count: int = 0
    sender_id: str = PRODUCER_ID


class SimSqs:
    """One standard queue with maxReceiveCount and retention, and its DLQ."""

    def __init__(self, clock: Clock, *, max_receive_count: int = 5, visibility: int = 725):
        self.clock = clock
        self.max_receive_count = max_receive_count
        self.visibility = visibility
        self.retention = 14 * DAY
        self.messages: dict[str, QueuedMessage] = {}
        self.dlq: list[QueuedMessage] = []
        self.expired: list[QueuedMessage] = []
        self.max_receive_seen = 0
        self._ids = 0

    def enqueue(
        self,
        body: str,
        attributes: dict[str, Any] | None = None,
        delay: int = 0,
        sender_id: str = PRODUCER_ID,
    ) -> str:
        self._ids += 1
        message_id = f"sqs-{self._ids}"
        now = self.clock.now
        self.messages[message_id] = QueuedMessage(
            message_id, body, attributes or {}, now, now + delay, sender_id=sender_id
        )
        return message_id

    # -- the sender's client --

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        _validate("sqs", "SendMessageBatch", request)
        successful = []
        for entry in request["Entries"]:
            if request["QueueUrl"] == DLQ_URL:
                self.dlq.append(
                    QueuedMessage("dlq", entry["MessageBody"], entry["MessageAttributes"], 0, 0)
                )
            else:
                self.enqueue(  # sent by the sender's role
                    entry["MessageBody"],
                    entry.get("MessageAttributes"),
                    entry.get("DelaySeconds", 0),
                    sender_id=SENDER_ID,
                )
            successful.append({"Id": entry["Id"], "MessageId": "x", "MD5OfMessageBody": "x"})
        return {"Successful": successful, "Failed": []}

    def change_message_visibility_batch(self, **request: Any) -> dict[str, Any]:
        _validate("sqs", "ChangeMessageVisibilityBatch", request)
        for entry in request["Entries"]:
            message = self.messages.get(entry["ReceiptHandle"])
            if message:
                message.visible_at = self.clock.now + entry["VisibilityTimeout"]
        return {"Successful": [{"Id": e["Id"]} for e in request["Entries"]], "Failed": []}

    # -- the event source mapping's side --

    def receive(self, count: int) -> list[dict[str, Any]]:
        now = self.clock.now
        records = []
        for message in list(self.messages.values()):
            if message.sent_at + self.retention <= now:
                self.expired.append(self.messages.pop(message.message_id))
                continue
            if message.visible_at > now:
                continue
            if message.receive_count >= self.max_receive_count:  # the redrive policy
                self.dlq.append(self.messages.pop(message.message_id))
                continue
            message.receive_count += 1
            self.max_receive_seen = max(self.max_receive_seen, message.receive_count)
            message.visible_at = now + self.visibility
            records.append(_event_record(message))
            if len(records) == count:
                break
        return records

    def delete(self, message_id: str) -> None:
        self.messages.pop(message_id, None)


def _event_record(message: QueuedMessage) -> dict[str, Any]:
    attributes = {
        name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
        for name, value in message.attributes.items()
    }
    return {
        "messageId": message.message_id,
        "receiptHandle": message.message_id,
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": str(message.receive_count),
            "SenderId": message.sender_id,
        },
        "messageAttributes": attributes,
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
    }


@dataclass
class SimSes:
    """SES v2 with a rolling 24-hour quota, and pauses of the account or the set as
    intervals [start, end) of the fake clock."""

    clock: Clock
    quota: float = -1.0  # Max24HourSend; -1: no daily limit
    account_paused: list[tuple[float, float]] = field(default_factory=list)
    set_paused: list[tuple[float, float]] = field(default_factory=list)
    sends: Counter = field(default_factory=Counter)  # recipient -> times sent
    _window: deque = field(default_factory=deque)

    def _sent_24h(self) -> int:
        while self._window and self._window[0] <= self.clock.now - DAY:
            self._window.popleft()
        return len(self._window)

    def _in(self, intervals: list[tuple[float, float]]) -> bool:
        return any(start <= self.clock.now < end for start, end in intervals)

    def refuses(self) -> bool:
        full = self.quota >= 0 and self._sent_24h() >= self.quota
        return full or self._in(self.account_paused) or self._in(self.set_paused)

    def send_bulk_email(self, **request: Any) -> dict[str, Any]:
        _validate("sesv2", "SendBulkEmail", request)
        if self._in(self.account_paused):
            raise client_error("SendingPausedException", 400, "Sending is paused.")
        left = float("inf") if self.quota < 0 else self.quota - self._sent_24h()
        if left <= 0:
            raise client_error("ThrottlingException", 400, "Daily message quota exceeded.")
        results = []
        for entry in request["BulkEmailEntries"]:
            if self._in(self.set_paused):
                results.append({"Status": "CONFIGURATION_SET_SENDING_PAUSED"})
            elif left <= 0:
                results.append({"Status": "ACCOUNT_DAILY_QUOTA_EXCEEDED"})
            else:
                left -= 1
                self._window.append(self.clock.now)
                for address in recipients_of(entry):
                    self.sends[address] += 1
                results.append({"Status": "SUCCESS", "MessageId": "ses"})
        return {"BulkEmailEntryResults": results}

    def get_account(self) -> dict[str, Any]:
        return {
            "SendingEnabled": not self._in(self.account_paused),
            "SendQuota": {
                "Max24HourSend": self.quota,
                "MaxSendRate": 14.0,
                "SentLast24Hours": float(self._sent_24h()),
            },
        }

    def get_configuration_set(self, ConfigurationSetName: str) -> dict[str, Any]:
        return {
            "ConfigurationSetName": ConfigurationSetName,
            "SendingOptions": {"SendingEnabled": not self._in(self.set_paused)},
        }


class SimMapping:
    """The event source mapping: the sender stops it, the probe reads and starts it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.is_enabled = True
        self.history: list[tuple[float, bool]] = []  # (when, enabled) at each change

    def stop(self, source_arn: str | None) -> None:
        assert source_arn == QUEUE_ARN
        self.set_enabled(False)

    def enabled(self) -> bool:
        return self.is_enabled

    def set_enabled(self, enabled: bool) -> None:
        if enabled != self.is_enabled:
            self.history.append((self.clock.now, enabled))
        self.is_enabled = enabled


class FakeTable:
    """DynamoDB's item calls the marker store makes, on one dict, with the conditions it
    uses (absent; same token; present without a token)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def _check(self, request: dict[str, Any], key: str) -> None:
        condition = request.get("ConditionExpression")
        item = self.items.get(key)
        if condition is None:
            return
        if condition == "attribute_not_exists(id)":
            holds = item is None
        elif condition == "#token = :token":
            token = request["ExpressionAttributeValues"][":token"]
            holds = item is not None and item.get("token") == token
        elif condition == "attribute_exists(id) AND attribute_not_exists(#token)":
            holds = item is not None and "token" not in item
        else:
            raise AssertionError(f"unexpected condition {condition}")
        if not holds:
            error = ClientError(
                {"Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}},
                "PutItem",
            )
            if item is not None and request.get("ReturnValuesOnConditionCheckFailure"):
                error.response["Item"] = dict(item)
            raise error

    def put_item(self, **request: Any) -> dict[str, Any]:
        key = request["Item"]["id"]["S"]
        self._check(request, key)
        self.items[key] = request["Item"]
        return {}

    def get_item(self, **request: Any) -> dict[str, Any]:
        item = self.items.get(request["Key"]["id"]["S"])
        return {"Item": item} if item else {}

    def delete_item(self, **request: Any) -> dict[str, Any]:
        key = request["Key"]["id"]["S"]
        self._check(request, key)
        self.items.pop(key, None)
        return {}


class MemoryLedger:
    """The ledger's contract on a dict: claimed, completed, released."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}

    def claim(self, ids, *, hold_seconds=None):
        claims = {}
        for message_id in ids:
            status = self.status.get(message_id)
            if status == "completed":
                claims[message_id] = Claim.COMPLETED
            elif status == "claimed":
                claims[message_id] = Claim.IN_FLIGHT
            else:
                self.status[message_id] = "claimed"
                claims[message_id] = Claim.CLAIMED
        return claims

    def complete(self, ids, *, within_seconds=None):
        self.status.update(dict.fromkeys(ids, "completed"))
        return 0

    def release(self, ids, *, within_seconds=None):
        for message_id in ids:
            if self.status.get(message_id) == "claimed":
                del self.status[message_id]

    def dead_lettered(self, sqs_message_ids):
        return set()

    def completed(self, ids):
        return {i for i in ids if self.status.get(i) == "completed"}

    def mark_dead_lettered(self, sqs_message_ids, *, within_seconds=None):
        return 0


class World:
    """The sender, its mapping and the probe on one fake clock."""

    def __init__(
        self,
        *,
        quota: float = -1.0,
        batch_size: int = 100,
        batches_per_minute: int = 2,
        probe_every: int = 5 * MINUTE,
    ) -> None:
        self.clock = Clock()
        self.sqs = SimSqs(self.clock)
        self.ses = SimSes(self.clock, quota=quota)
        self.mapping = SimMapping(self.clock)
        self.table = FakeTable()
        self.markers = MarkerStore(self.table, "ledger")
        self.ledger = MemoryLedger()
        self.batch_size = batch_size
        self.batches_per_minute = batches_per_minute
        self.probe_every = probe_every
        settings = Settings(
            dlq_url=DLQ_URL,
            queue_url=QUEUE_URL,
            configuration_set=CONFIGURATION_SET,
            max_calls_in_flight=1,
        )
        self.sender = BulkSender(
            settings,
            ses=self.ses,
            sqs=self.sqs,
            ledger=self.ledger,
            limiter=Unpaced(),
            preflight=lambda email: None,
            sender_id=SENDER_ID,
            pause=Pause(
                self.sqs,
                queue_url=QUEUE_URL,
                delay_seconds=settings.retry_backoff_max_seconds,
                markers=self.markers,
                mapping=self.mapping,
                clock=self.clock,
            ),
        )
        self.paused_invocations = 0
        self.longest_allowed_while_stopped = 0.0
        self._allowed_since: float | None = None

    def enqueue_campaign(self, count: int) -> list[str]:
        """`count` emails; every other one without `id` (its key is its SQS message id)."""
        addresses = []
        for n in range(count):
            address = f"user{n}@example.org"
            body = {"to": address, "from": "news@example.com", "template": "welcome"}
            if n % 2:
                body["id"] = f"campaign:{n}"
            self.sqs.enqueue(json.dumps(body))
            addresses.append(address)
        return addresses

    def run(self, seconds: float, *, step: float = MINUTE) -> None:
        quiet = logging.getLogger("bulk_sender")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # thousands of invocations
        try:
            self._run(seconds, step)
        finally:
            quiet.setLevel(level)

    def _run(self, seconds: float, step: float) -> None:
        end = self.clock.now + seconds
        next_probe = self.clock.now
        while self.clock.now < end:
            if self.mapping.is_enabled:
                for _ in range(self.batches_per_minute):
                    if not self.mapping.is_enabled or not self._invoke():
                        break
            if self.clock.now >= next_probe:
                probe(
                    ses=self.ses,
                    mapping=self.mapping,
                    markers=self.markers,
                    default_configuration_set=CONFIGURATION_SET,
                    clock=self.clock,
                )
                next_probe += self.probe_every
            self._watch()
            self.clock.now += step

    def _invoke(self) -> bool:
        records = self.sqs.receive(self.batch_size)
        if not records:
            return False
        result = self.sender.process(records)
        self.paused_invocations += result.counts["SendingPaused"]
        for record in records:
            if record["messageId"] not in result.failures:
                self.sqs.delete(record["messageId"])
        return True

    def _watch(self) -> None:
        """How long SES has allowed sending while the mapping stayed stopped."""
        if self.mapping.is_enabled or self.ses.refuses() or not self.sqs.messages:
            self._allowed_since = None
            return
        if self._allowed_since is None:
            self._allowed_since = self.clock.now
        self.longest_allowed_while_stopped = max(
            self.longest_allowed_while_stopped, self.clock.now - self._allowed_since
        )
