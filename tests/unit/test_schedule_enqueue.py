"""The scheduled enqueue (bulk_sender.schedule_enqueue): every row once on the queue's
account, counted once, whatever stops a run part way. moto in process (no socket)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bulk_sender import schedule
from bulk_sender.names import Scheduled
from bulk_sender.schedule_enqueue import (
    CONTINUE,
    DONE,
    GONE,
    REFUSED,
    CampaignEnqueuer,
    ChunkNotEnqueued,
    encode_bodies,
)
from bulkmail.local.stack_facts import STATUS_TABLE, create_table

INSTANT = datetime(2026, 12, 24, 8, tzinfo=UTC)
CAMPAIGN = "xmas"
ROWS = 45
CHUNK = 20  # three chunks: 20, 20, 5 (two SendMessageBatch calls for a full one)


class World:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name="eu-west-1")
        self.sqs = boto3.client("sqs", region_name="eu-west-1")
        self.dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        self.s3.create_bucket(
            Bucket="campaigns", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        self.queue_url = self.sqs.create_queue(QueueName="send")["QueueUrl"]
        create_table(self.dynamodb, "status", STATUS_TABLE)
        self.bodies = [json.dumps({"id": f"{CAMPAIGN}:{i:04d}", "to": "x"}) for i in range(ROWS)]
        self.key = schedule.object_key(CAMPAIGN, INSTANT)
        self.s3.put_object(Bucket="campaigns", Key=self.key, Body=encode_bodies(self.bodies))
        # What the CLI records when it creates the schedule.
        self.dynamodb.update_item(
            TableName="status",
            Key={"pk": {"S": CAMPAIGN}, "sk": {"S": "#counts"}},
            UpdateExpression="ADD scheduled :n",
            ExpressionAttributeValues={":n": {"N": str(ROWS)}},
        )
        self.payload = schedule.payload(CAMPAIGN, INSTANT, ROWS, self.key)

    def enqueuer(self, sqs: Any = None, dynamodb: Any = None) -> CampaignEnqueuer:
        return CampaignEnqueuer(
            s3=self.s3,
            sqs=sqs or self.sqs,
            dynamodb=dynamodb or self.dynamodb,
            bucket="campaigns",
            queue_url=self.queue_url,
            status_table="status",
            workers=3,
            chunk_rows=CHUNK,
            clock=lambda: 1_800_000_000.0,
        )

    def queued_ids(self) -> Counter[str]:
        seen: Counter[str] = Counter()
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600
            ).get("Messages", [])
            if not messages:
                return seen
            seen.update(json.loads(m["Body"])["id"] for m in messages)

    def counts(self) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName="status", Key={"pk": {"S": CAMPAIGN}, "sk": {"S": "#counts"}}
        )["Item"]
        return {
            "enqueued": int(item.get("enqueued", {"N": "0"})["N"]),
            "scheduled": int(item["scheduled"]["N"]),
            "chunks": sorted(item.get(Scheduled.CHUNKS, {}).get("SS", [])),
        }

    def file_exists(self) -> bool:
        return "Contents" in self.s3.list_objects_v2(Bucket="campaigns")


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        yield World()


def plenty() -> int:
    return 900_000


class FailingSqs:
    """The queue's client, failing every call after `calls` SendMessageBatch calls."""

    def __init__(self, sqs: Any, calls: int) -> None:
        self.sqs, self.left = sqs, calls

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        if self.left <= 0:
            raise ConnectionError("the function died here")
        self.left -= 1
        return self.sqs.send_message_batch(**request)


def test_a_scheduled_file_goes_onto_the_queue_once_and_is_counted_once(world: World) -> None:
    result = world.enqueuer().run(world.payload, remaining_ms=plenty)

    assert result.state == DONE
    assert result.enqueued == ROWS
    assert world.queued_ids() == Counter({f"{CAMPAIGN}:{i:04d}": 1 for i in range(ROWS)})
    assert world.counts()["enqueued"] == ROWS
    assert world.counts()["scheduled"] == 0
    assert not world.file_exists()  # deleted once every chunk is recorded


def test_a_run_that_fails_part_way_is_resumed_where_it_stopped(world: World) -> None:
    # Given a run that dies after three SendMessageBatch calls (inside the second chunk)
    with pytest.raises(ConnectionError):
        world.enqueuer(sqs=FailingSqs(world.sqs, calls=3)).run(world.payload, plenty)
    assert world.counts()["enqueued"] == CHUNK  # the first chunk is recorded
    assert world.file_exists()

    # When the retry runs
    result = world.enqueuer().run(world.payload, remaining_ms=plenty)

    # Then it skips the recorded chunk, every row reached the queue, each counted once
    assert result.chunks_skipped == 1
    assert result.enqueued == ROWS - CHUNK
    queued = world.queued_ids()
    assert set(queued) == {f"{CAMPAIGN}:{i:04d}" for i in range(ROWS)}
    # Only the chunk cut short was offered again (the ledger's ids make that harmless)
    assert sum(queued.values()) - ROWS <= CHUNK
    assert world.counts()["enqueued"] == ROWS
    assert world.counts()["scheduled"] == 0


def test_a_run_short_of_time_stops_between_chunks_and_the_next_continues(world: World) -> None:
    left = iter([1_000, 900_000, 900_000])  # asked before the second chunk

    first = world.enqueuer().run(world.payload, remaining_ms=lambda: next(left))

    assert first.state == CONTINUE
    assert first.enqueued == CHUNK
    second = world.enqueuer().run(world.payload, remaining_ms=plenty)
    assert second.state == DONE
    assert world.queued_ids().total() == ROWS  # nothing twice: the stop was between chunks
    assert world.counts()["enqueued"] == ROWS


class CrashAfterSend:
    """DynamoDB whose checkpoint write fails once: the chunk went out, the record did not."""

    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb, self.failed = dynamodb, False

    def get_item(self, **request: Any) -> Any:
        return self.dynamodb.get_item(**request)

    def update_item(self, **request: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise ConnectionError("crashed between the send and the checkpoint")
        return self.dynamodb.update_item(**request)


def test_a_chunk_sent_but_not_recorded_is_offered_again_and_counted_once(world: World) -> None:
    with pytest.raises(ConnectionError):
        world.enqueuer(dynamodb=CrashAfterSend(world.dynamodb)).run(world.payload, plenty)

    world.enqueuer().run(world.payload, remaining_ms=plenty)

    queued = world.queued_ids()
    assert queued.total() == ROWS + CHUNK  # the first chunk twice on the queue ...
    assert world.counts()["enqueued"] == ROWS  # ... and once in the count


def test_two_runs_recording_the_same_chunk_count_it_once(world: World) -> None:
    # Given a run that recorded every chunk
    world.enqueuer().run(world.payload, remaining_ms=plenty)
    world.s3.put_object(Bucket="campaigns", Key=world.key, Body=encode_bodies(world.bodies))

    # When a run that read the checkpoints before them records them again
    late = world.enqueuer()
    late.recorded_chunks = lambda job: set()  # type: ignore[method-assign]
    result = late.run(world.payload, remaining_ms=plenty)

    # Then its records are refused by their condition: the count stays right
    assert result.enqueued == 0
    assert world.counts()["enqueued"] == ROWS
    assert len(world.counts()["chunks"]) == 3


class RefusingSqs:
    """SQS answering every entry Failed."""

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        return {
            "Failed": [
                {"Id": e["Id"], "Code": "KMS.ThrottlingException", "SenderFault": False}
                for e in request["Entries"]
            ]
        }


def test_entries_sqs_keeps_refusing_stop_the_run_without_recording(world: World) -> None:
    with pytest.raises(ChunkNotEnqueued, match=r"KMS\.ThrottlingException"):
        world.enqueuer(sqs=RefusingSqs()).run(world.payload, remaining_ms=plenty)

    assert world.counts()["enqueued"] == 0
    assert world.counts()["scheduled"] == ROWS


@pytest.mark.parametrize(
    "payload",
    [{}, {"campaign": "x", "instant": "soon", "rows": 1, "key": "campaigns/x"}, "junk"],
)
def test_a_payload_that_is_not_a_schedule_is_refused_not_raised(world: World, payload: Any) -> None:
    result = world.enqueuer().run(payload if isinstance(payload, dict) else {}, plenty)

    assert result.state == REFUSED
    assert world.queued_ids().total() == 0


def test_a_file_deleted_by_cancel_as_its_schedule_fired_ends_the_run_quietly(
    world: World,
) -> None:
    world.s3.delete_object(Bucket="campaigns", Key=world.key)

    result = world.enqueuer().run(world.payload, remaining_ms=plenty)

    assert result.state == GONE
    assert world.queued_ids().total() == 0
    assert world.counts()["enqueued"] == 0


def test_bodies_with_raw_line_breaks_cannot_make_a_campaign_file() -> None:
    with pytest.raises(ValueError, match="line break"):
        encode_bodies(['{"a": 1}', "two\nrows"])
